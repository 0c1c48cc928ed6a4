//! Real Helm (the oracle) against the simulator: install --wait, upgrade, atomic upgrade to a
//! failing image that rolls back, rollback, uninstall; release Secrets visible through kubectl.

use ferry_testsupport as common;

use common::{helm_oracle, kubectl, run};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_upgrade_atomic_rollback_uninstall() {
    let Some(helm) = helm_oracle() else { return };
    let Some(k) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/chart");
    let chart = chart.to_str().unwrap().to_string();
    let cache = dir.path().join("cache");
    let env = [("KUBECACHEDIR", cache.to_str().unwrap())];
    let release = |args: &[&str]| {
        let mut all: Vec<String> = ["release", "--kubeconfig", &kc, "-n", "default"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        all.extend(args.iter().map(|s| s.to_string()));
        let helm = helm.clone();
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            run(&helm, &refs, &[], LIMIT).await
        }
    };
    let json = |s: &str| -> Value { serde_json::from_str(s).unwrap_or(Value::Null) };

    let o = release(&["install", "demo", &chart, "--wait", "--timeout", "30"]).await;
    assert!(o.ok, "{}", o.stderr);
    let r = json(&o.stdout);
    assert_eq!(
        (r["revision"].as_i64(), r["status"].as_str()),
        (Some(1), Some("deployed"))
    );
    let d = sim
        .get("apps", "deployments", "default", "demo-web")
        .expect("deployment exists");
    assert_eq!(
        d["status"]["readyReplicas"], 1,
        "install --wait returned only once ready"
    );
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
    assert_eq!(
        d["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "demo"
    );

    let o = release(&[
        "upgrade",
        "demo",
        &chart,
        "--set",
        "replicas=2",
        "--set",
        "message=bye",
        "--wait",
        "--timeout",
        "30",
    ])
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(json(&o.stdout)["revision"], 2);
    assert_eq!(
        sim.get("apps", "deployments", "default", "demo-web")
            .unwrap()["status"]["readyReplicas"],
        2
    );
    assert_eq!(
        sim.get("", "configmaps", "default", "demo-config").unwrap()["data"]["message"],
        "bye"
    );

    // an image tagged `fail` never becomes ready: the atomic upgrade times out and rolls back
    let o = release(&[
        "upgrade",
        "demo",
        &chart,
        "--set",
        "replicas=2",
        "--set",
        "image=nginx:fail",
        "--wait",
        "--atomic",
        "--timeout",
        "4",
    ])
    .await;
    assert!(!o.ok);
    assert!(o.stderr.contains("has been rolled back"), "{}", o.stderr);
    let o = release(&["history", "demo"]).await;
    let h = json(&o.stdout);
    let statuses: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["superseded", "superseded", "failed", "deployed"],
        "{}",
        o.stdout
    );
    let d = sim
        .get("apps", "deployments", "default", "demo-web")
        .unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let crashing = sim
        .list("", "pods", Some("default"))
        .into_iter()
        .any(|p| p.to_string().contains("CrashLoopBackOff"));
    let events = sim.list("", "events", Some("default"));
    assert!(
        crashing || events.iter().any(|e| e["reason"] == "BackOff"),
        "the failing pods crash-looped"
    );

    let o = release(&["rollback", "demo", "1", "--wait", "--timeout", "30"]).await;
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(
        sim.get("", "configmaps", "default", "demo-config").unwrap()["data"]["message"],
        "hello"
    );

    // release Secrets (written by Helm with protobuf bodies) are visible through kubectl
    let o = run(
        &k,
        &[
            "--kubeconfig",
            &kc,
            "get",
            "secrets",
            "-l",
            "owner=helm,name=demo",
            "-o",
            "json",
        ],
        &env,
        LIMIT,
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    let list = json(&o.stdout);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sh.helm.release.v1.demo.v1",
            "sh.helm.release.v1.demo.v2",
            "sh.helm.release.v1.demo.v3",
            "sh.helm.release.v1.demo.v4",
            "sh.helm.release.v1.demo.v5"
        ]
    );
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["type"] == "helm.sh/release.v1")
    );

    let o = release(&["uninstall", "demo", "--wait", "--timeout", "30"]).await;
    assert!(o.ok, "{}", o.stderr);
    assert!(
        sim.get("apps", "deployments", "default", "demo-web")
            .is_none()
    );
    assert!(
        sim.list("", "secrets", Some("default"))
            .iter()
            .all(|s| s["metadata"]["labels"]["owner"] != "helm")
    );
    sim.shutdown().await;
}
