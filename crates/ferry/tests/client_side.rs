//! Releases applied client-side, as Helm 3 made them (`apply_method: csa`): ferry keeps
//! updating them with Helm 3's three-way strategic merge until told `--server-side=true`,
//! then converts the field managers and continues server-side; real Helm continues a
//! client-side release ferry made.

use std::path::Path;
use std::time::Duration;

use ferry::action::{Client, RollbackRequest, ServerSide, UpgradeRequest};
use ferry::chart::Map;
use ferry::release::storage::Driver;
use ferry_testsupport::{helm_oracle, oracle_field_manager, run};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app: web
    {{- if .Values.tier }}
    tier: {{ .Values.tier }}
    {{- end }}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:{{ .Values.tag }}
        {{- if .Values.sidecar }}
        - name: sidecar
          image: busybox:1
        {{- end }}
"#;

fn chart(dir: &Path) -> ferry::chart::Chart {
    let c = dir.join("web");
    std::fs::create_dir_all(c.join("templates")).unwrap();
    std::fs::write(
        c.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        c.join("values.yaml"),
        "tag: v1\ntier: front\nsidecar: true\n",
    )
    .unwrap();
    std::fs::write(c.join("templates/deployment.yaml"), DEPLOYMENT).unwrap();
    ferry::chart::load(&c).unwrap()
}

/// A simulator (Pods ready after 100ms), a kube client for it and a ferry client on it.
async fn cluster() -> (kubesim::Sim, kube::Client, Client) {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let kube = ferry_testsupport::kube_client(&sim.kubeconfig()).await;
    let client = Client::from_kube(kube.clone(), "default", Driver::Secret)
        .await
        .unwrap();
    (sim, kube, client)
}

fn values(yaml: &str) -> Map {
    ferry::chart::yaml::parse_values(yaml).unwrap()
}

fn managers(d: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = d["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_releases_stay_client_side_until_switched() {
    let (sim, kube, client) = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let chart = chart(dir.path());
    let req = |vals: &str, ss: ServerSide| UpgradeRequest {
        install: true,
        server_side: ss,
        values: values(vals),
        ..UpgradeRequest::new("shop", chart.clone(), "default")
    };
    let live = || {
        sim.get("apps", "deployments", "default", "shop-web")
            .expect("deployment exists")
    };

    // 1. a Helm 3 style install: created with POST, recorded as `csa`
    let r1 = client.upgrade(req("{}", ServerSide::False)).await.unwrap();
    assert_eq!(r1.apply_method, "csa");
    assert_eq!(
        managers(&live()),
        vec![("helm".to_string(), "Update".to_string())]
    );

    // someone scales it and annotates it with kubectl
    let api: Api<DynamicObject> = Api::namespaced_with(
        kube.clone(),
        "default",
        &kube::discovery::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    let drift = |mgr: &str, p: Value| {
        let api = api.clone();
        let pp = PatchParams {
            field_manager: Some(mgr.to_string()),
            ..PatchParams::default()
        };
        async move {
            api.patch("shop-web", &pp, &Patch::Merge(&p)).await.unwrap();
        }
    };
    drift("kubectl-scale", json!({"spec": {"replicas": 5}})).await;
    drift(
        "kubectl-annotate",
        json!({"metadata": {"annotations": {"team": "payments"}}}),
    )
    .await;

    // 2. upgrade, --server-side=auto: still client-side (a three-way merge)
    let r2 = client
        .upgrade(req("tag: v2\ntier: null\nsidecar: false", ServerSide::Auto))
        .await
        .unwrap();
    assert_eq!(r2.apply_method, "csa");
    let d = live();
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(
        containers.len(),
        1,
        "the container the chart dropped is gone"
    );
    assert_eq!(containers[0]["image"], "nginx:v2");
    assert!(
        d["metadata"]["labels"].get("tier").is_none(),
        "the label the chart dropped is gone: {}",
        d["metadata"]["labels"]
    );
    assert_eq!(
        d["spec"]["replicas"], 2,
        "a field the chart sets is reverted"
    );
    assert_eq!(
        d["metadata"]["annotations"]["team"], "payments",
        "a field the chart never set is kept"
    );
    assert!(
        !managers(&d).contains(&("helm".into(), "Apply".into())),
        "no server-side apply happened"
    );

    // 3. rollback to 1 (auto: revision 1 is client-side): the sidecar and label come back
    client
        .rollback(RollbackRequest {
            name: "shop".into(),
            namespace: "default".into(),
            revision: 1,
            wait: false,
            legacy_wait: false,
            wait_for_jobs: false,
            timeout: Duration::from_secs(60),
            no_hooks: false,
            history_max: 10,
            server_side: ServerSide::Auto,
            force_replace: false,
        })
        .await
        .unwrap();
    let d = live();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(d["metadata"]["labels"]["tier"], "front");
    let last = client
        .storage(Some("default"))
        .last("shop")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((last.version, last.apply_method.as_str()), (3, "csa"));

    // 4. --server-side=true: helm's client-side fields move to its Apply entry first, so
    // server-side apply takes over without conflicting with its own old writes
    drift("kubectl-scale", json!({"spec": {"replicas": 4}})).await;
    let err = client
        .upgrade(req("tag: v3", ServerSide::True))
        .await
        .expect_err("kubectl-scale owns replicas now: a server-side conflict");
    assert!(err.to_string().contains("conflict"), "{err}");
    let r5 = client
        .upgrade(UpgradeRequest {
            force_conflicts: true,
            ..req("tag: v3", ServerSide::True)
        })
        .await
        .unwrap();
    assert_eq!(r5.apply_method, "ssa");
    let d = live();
    let m = managers(&d);
    assert!(m.contains(&("helm".into(), "Apply".into())), "{m:?}");
    assert!(!m.contains(&("helm".into(), "Update".into())), "{m:?}");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:v3"
    );

    // 5. and auto now stays server-side
    let r6 = client
        .upgrade(req("tag: v4", ServerSide::Auto))
        .await
        .unwrap();
    assert_eq!(r6.apply_method, "ssa");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_continues_a_client_side_release_made_by_ferry() {
    let Some(oracle) = helm_oracle() else { return };
    let (sim, _, mut client) = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let chart = chart(dir.path());
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, sim.kubeconfig()).unwrap();
    let kc = kc.to_string_lossy().into_owned();
    // the oracle (Helm's SDK inside Python) writes under its interpreter's name
    client.field_manager = oracle_field_manager(&oracle, &sim.kubeconfig()).await;
    let r1 = client
        .upgrade(UpgradeRequest {
            install: true,
            server_side: ServerSide::False,
            ..UpgradeRequest::new("shop", chart.clone(), "default")
        })
        .await
        .unwrap();
    assert_eq!(r1.apply_method, "csa");

    // Helm upgrades it (auto): it reads the record as client-side and stays so
    let path = dir.path().join("web").to_string_lossy().into_owned();
    let o = run(
        &oracle,
        &[
            "release",
            "--kubeconfig",
            &kc,
            "-n",
            "default",
            "upgrade",
            "shop",
            &path,
            "--set",
            "tag=v2",
        ],
        &[],
        Duration::from_secs(120),
    )
    .await;
    assert!(o.ok, "helm upgrade failed: {}", o.stderr);
    let d = sim
        .get("apps", "deployments", "default", "shop-web")
        .unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:v2"
    );
    let last = client
        .storage(Some("default"))
        .last("shop")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.version, 2);
    assert_eq!(
        last.apply_method, "csa",
        "Helm kept the release client-side"
    );

    // and ferry continues after Helm, still client-side
    let r3 = client
        .upgrade(UpgradeRequest {
            values: values("tag: v3\nsidecar: false"),
            ..UpgradeRequest::new("shop", chart, "default")
        })
        .await
        .unwrap();
    assert_eq!(r3.apply_method, "csa");
    let d = sim
        .get("apps", "deployments", "default", "shop-web")
        .unwrap();
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], "nginx:v3");
}
