//! Real kubectl against the simulator: every command a user runs on a real cluster.

use ferry_testsupport as common;

use common::{kubectl, run};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_get_ssa_diff_rollout_wait_label_scale_delete() {
    let Some(k) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let cache = dir.path().join("cache");
    let env = [
        ("KUBECACHEDIR", cache.to_str().unwrap()),
        ("HOME", dir.path().to_str().unwrap()),
    ];
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/app.yaml");
    let manifest = manifest.to_str().unwrap();
    let kc = kc.to_str().unwrap();
    let kubectl = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kc];
        all.extend_from_slice(args);
        let all: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        let k = k.clone();
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            run(&k, &refs, &env, LIMIT).await
        }
    };

    let v = kubectl(&["version"]).await;
    assert!(
        v.ok && v.stdout.contains("Server Version: v1.37.0"),
        "{}",
        v.stderr
    );

    // kubectl explain reads the real schemas from /openapi/v3
    let o = kubectl(&["explain", "deployment.spec.replicas"]).await;
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains("KIND:       Deployment"), "{}", o.stdout);
    assert!(
        o.stdout.contains("FIELD: replicas <integer>"),
        "{}",
        o.stdout
    );
    let o = kubectl(&["explain", "pods.spec.containers.ports"]).await;
    assert!(o.ok, "{}", o.stderr);
    assert!(
        o.stdout.contains("containerPort\t<integer> -required-"),
        "{}",
        o.stdout
    );

    // the CRD must exist before kubectl can map its kind (as on a real cluster)
    let crd = dir.path().join("crd.yaml");
    let text = std::fs::read_to_string(manifest).unwrap();
    std::fs::write(&crd, text.split("\n---\n").next().unwrap()).unwrap();
    let o = kubectl(&["apply", "-f", crd.to_str().unwrap()]).await;
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(
        o.stdout.trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
    );
    let o = kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=20s",
    ])
    .await;
    assert!(o.ok, "{}", o.stderr);

    let o = kubectl(&["apply", "-f", manifest]).await;
    assert!(o.ok, "{}", o.stderr);
    for line in [
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com unchanged",
        "configmap/web-config created",
        "secret/web-secret created",
        "deployment.apps/web created",
        "service/web created",
        "widget.example.com/w1 created",
    ] {
        assert!(o.stdout.contains(line), "missing {line:?} in {}", o.stdout);
    }

    let o = kubectl(&["get", "deploy", "web", "-o", "json"]).await;
    assert!(o.ok, "{}", o.stderr);
    let d: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(d["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert_eq!(d["spec"]["replicas"], 2);

    let o = kubectl(&["get", "widget", "w1", "-o", "jsonpath={.spec.size}"]).await;
    assert_eq!(o.stdout, "3", "{}", o.stderr);

    let o = kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"]).await;
    assert!(o.ok, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("deployment \"web\" successfully rolled out"),
        "{}",
        o.stdout
    );

    let o = kubectl(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=30s",
    ])
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "deployment.apps/web condition met");

    let o = kubectl(&["get", "pods", "-l", "app=web"]).await;
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(
        o.stdout
            .lines()
            .filter(|l| l.contains("1/1") && l.contains("Running"))
            .count(),
        2,
        "{}",
        o.stdout
    );

    let o = kubectl(&["apply", "--server-side", "-f", manifest]).await;
    assert!(o.ok, "{}", o.stderr);
    assert!(
        o.stdout.contains("deployment.apps/web serverside-applied"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("widget.example.com/w1 serverside-applied"),
        "{}",
        o.stdout
    );

    let changed = dir.path().join("changed.yaml");
    std::fs::write(&changed, text.replace("nginx:1.27", "nginx:1.28")).unwrap();
    let o = kubectl(&["diff", "-f", changed.to_str().unwrap()]).await;
    assert!(!o.ok, "kubectl diff exits 1 when there are differences");
    assert!(
        o.stdout.contains("-      - image: nginx:1.27")
            && o.stdout.contains("+      - image: nginx:1.28"),
        "{}",
        o.stdout
    );
    let o = kubectl(&["diff", "-f", manifest]).await;
    assert!(
        o.ok && o.stdout.is_empty(),
        "no diff expected: {}{}",
        o.stdout,
        o.stderr
    );

    let o = kubectl(&["label", "deployment", "web", "tier=frontend"]).await;
    assert_eq!(
        o.stdout.trim(),
        "deployment.apps/web labeled",
        "{}",
        o.stderr
    );
    let o = kubectl(&["scale", "deployment", "web", "--replicas=3"]).await;
    assert_eq!(
        o.stdout.trim(),
        "deployment.apps/web scaled",
        "{}",
        o.stderr
    );
    let o = kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"]).await;
    assert!(o.ok, "{}", o.stderr);
    let o = kubectl(&[
        "get",
        "deployment",
        "-l",
        "tier=frontend",
        "-o",
        "jsonpath={.items[0].status.readyReplicas}",
    ])
    .await;
    assert_eq!(o.stdout, "3", "{}", o.stderr);

    // typed clients (kubectl create/run/expose) send protobuf bodies
    let o = kubectl(&["create", "namespace", "extra"]).await;
    assert_eq!(o.stdout.trim(), "namespace/extra created", "{}", o.stderr);
    let o = kubectl(&[
        "-n",
        "extra",
        "create",
        "deployment",
        "api",
        "--image=nginx:1.27",
        "--replicas=2",
        "--port=80",
    ])
    .await;
    assert_eq!(
        o.stdout.trim(),
        "deployment.apps/api created",
        "{}",
        o.stderr
    );
    let o = kubectl(&[
        "-n",
        "extra",
        "expose",
        "deployment",
        "api",
        "--port=80",
        "--target-port=8080",
    ])
    .await;
    assert_eq!(o.stdout.trim(), "service/api exposed", "{}", o.stderr);
    let o = kubectl(&[
        "-n",
        "extra",
        "rollout",
        "status",
        "deployment/api",
        "--timeout=30s",
    ])
    .await;
    assert!(o.ok, "{}", o.stderr);
    let svc = sim.get("", "services", "extra", "api").unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    let o = kubectl(&["delete", "namespace", "extra"]).await;
    assert_eq!(
        o.stdout.trim(),
        "namespace \"extra\" deleted",
        "{}",
        o.stderr
    );
    assert!(
        sim.get("", "namespaces", "", "extra").is_none(),
        "kubectl delete waits until the namespace is gone"
    );
    assert!(sim.list("apps", "deployments", Some("extra")).is_empty());

    let o = kubectl(&["delete", "widget", "w1"]).await;
    assert!(o.ok, "{}", o.stderr);
    let o = kubectl(&["delete", "-f", manifest]).await;
    assert!(
        o.stdout.contains("deployment.apps \"web\" deleted"),
        "{}",
        o.stdout
    );
    // pods and replica sets go with their owner
    let mut gone = false;
    for _ in 0..50 {
        if sim.list("", "pods", Some("default")).is_empty()
            && sim.list("apps", "replicasets", Some("default")).is_empty()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "garbage collection removed the ReplicaSet and Pods");
    sim.shutdown().await;
}
