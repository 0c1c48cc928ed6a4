//! Release records shared with real Helm (the oracle) through the API simulator: what Helm
//! writes, ferry reads; what ferry writes, Helm reads and continues.

use std::path::Path;
use std::time::Duration;

use ferry_release::model::{Release, Status, chart_json};
use ferry_release::storage::{Driver, Storage};
use ferry_testsupport::{helm_oracle, kube_client, run};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(120);

fn chart_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/charts/order-service")
        .to_string_lossy()
        .into_owned()
}

async fn helm(oracle: &Path, kc: &str, driver: &str, args: &[&str]) -> Value {
    let mut all = vec![
        "release",
        "--kubeconfig",
        kc,
        "-n",
        "default",
        "--driver",
        driver,
    ];
    all.extend_from_slice(args);
    let o = run(oracle, &all, &[], LIMIT).await;
    assert!(o.ok, "helm {args:?} failed: {}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_reads_what_helm_writes_with_both_drivers() {
    let Some(oracle) = helm_oracle() else { return };
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let kc = kc.to_str().unwrap();
    let client = kube_client(&sim.kubeconfig()).await;
    for (driver, name) in [("secret", "sec"), ("configmap", "cfg")] {
        helm(
            &oracle,
            kc,
            driver,
            &["install", name, &chart_dir(), "--set", "image.tag=v1"],
        )
        .await;
        helm(
            &oracle,
            kc,
            driver,
            &["upgrade", name, &chart_dir(), "--set", "image.tag=v2"],
        )
        .await;
        let store = Storage::new(
            Driver::parse(driver).unwrap(),
            client.clone(),
            Some("default"),
        );
        let h = store.history(name).await.unwrap();
        let got: Vec<(i64, Status)> = h
            .iter()
            .map(|r| (r.version, r.info.status.clone()))
            .collect();
        assert_eq!(
            got,
            [(1, Status::Superseded), (2, Status::Deployed)],
            "{driver}"
        );
        let helm_get = helm(&oracle, kc, driver, &["get", name]).await;
        let v2 = &h[1];
        assert_eq!(
            Value::Object(v2.config.clone()),
            helm_get["config"],
            "{driver}"
        );
        assert_eq!(
            json!(v2.manifest),
            helm_get["summary"]["manifest"],
            "{driver}"
        );
        assert_eq!(v2.info.description, "Upgrade complete");
        assert_eq!(v2.chart_label(), "order-service-0.1.3");
        assert_eq!(
            v2.apply_method, "ssa",
            "Helm 4 installs with server-side apply"
        );
        assert!(v2.manifest.contains("order-service:v2"));
        // The stored chart rebuilds into a chart ferry can load.
        let c = v2.to_chart().unwrap();
        assert_eq!(c.name(), "order-service");
        assert!(
            c.templates
                .iter()
                .any(|t| t.name == "templates/deployment.yaml")
        );
        assert_eq!(store.deployed(name).await.unwrap().unwrap().version, 2);
    }
    // Helm's Secrets carry Helm's type and labels.
    let s = sim
        .get("", "secrets", "default", "sh.helm.release.v1.sec.v2")
        .unwrap();
    assert_eq!(s["type"], "helm.sh/release.v1");
    assert_eq!(s["metadata"]["labels"]["owner"], "helm");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_reads_and_continues_what_ferry_writes() {
    let Some(oracle) = helm_oracle() else { return };
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let kc = kc.to_str().unwrap();
    let client = kube_client(&sim.kubeconfig()).await;
    let chart = ferry_chart::load(chart_dir()).unwrap();
    // A release ferry deployed: one ConfigMap, owned as Helm owns objects.
    sim.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-legacy", "namespace": "default",
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "default"}},
        "data": {"k": "v"}}))
    .unwrap();
    let now = "2026-11-24T02:00:00.5Z".to_string();
    let mut rel = Release {
        name: "web".into(),
        chart: chart_json(&chart),
        manifest: "---\n# Source: order-service/templates/legacy.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-legacy\ndata:\n  k: v\n".into(),
        version: 1,
        namespace: "default".into(),
        apply_method: "ssa".into(),
        ..Release::default()
    };
    rel.config.insert("image".into(), json!({"tag": "v1"}));
    rel.info.first_deployed = now.clone();
    rel.info.last_deployed = now;
    rel.info.status = Status::Deployed;
    rel.info.description = "Install complete".into();
    rel.info.notes = "ferry wrote this".into();
    rel.labels.insert("team".into(), "payments".into());
    let store = Storage::secrets(client.clone(), Some("default"));
    store.create(&rel).await.unwrap();

    let hist = helm(&oracle, kc, "secret", &["history", "web"]).await;
    assert_eq!(hist[0]["revision"], 1);
    assert_eq!(hist[0]["status"], "deployed");
    assert_eq!(hist[0]["chart_name"], "order-service");
    assert_eq!(hist[0]["labels"]["team"], "payments");
    let vals = helm(&oracle, kc, "secret", &["get-values", "web"]).await;
    assert_eq!(vals, json!({"image": {"tag": "v1"}}));
    let got = helm(&oracle, kc, "secret", &["get", "web"]).await;
    assert_eq!(got["info"]["notes"], "ferry wrote this");
    assert_eq!(got["summary"]["manifest"], json!(rel.manifest));

    // Helm upgrades it: revision 2, and the ConfigMap the chart no longer has is deleted.
    helm(
        &oracle,
        kc,
        "secret",
        &["upgrade", "web", &chart_dir(), "--set", "image.tag=v2"],
    )
    .await;
    let h = store.history("web").await.unwrap();
    let got: Vec<(i64, Status)> = h
        .iter()
        .map(|r| (r.version, r.info.status.clone()))
        .collect();
    assert_eq!(got, [(1, Status::Superseded), (2, Status::Deployed)]);
    assert!(h[1].manifest.contains("order-service:v2"));
    assert!(sim.get("", "configmaps", "default", "web-legacy").is_none());
    assert!(
        sim.get("apps", "deployments", "default", "web-order-service")
            .is_some()
    );
    sim.shutdown().await;
}
