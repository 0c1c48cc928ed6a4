//! The seed's deploy flow through the library API, against the API simulator: install with
//! --atomic --wait --create-namespace, an upgrade with changed values, a failing upgrade that
//! fails fast and rolls back by itself, a manual rollback, history with Helm's statuses.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferry::action::{Client, RollbackRequest, UninstallRequest, UpgradeRequest};
use ferry::chart::{Map, Value, deps};
use ferry::release::Status;
use ferry::release::storage::Driver;

fn umbrella(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/charts");
    for name in ["umbrella-chart", "order-service", "user-service"] {
        copy_dir(&src.join(name), &dir.join(name));
    }
    let chart = dir.join("umbrella-chart");
    let _ = std::fs::remove_dir_all(chart.join("charts"));
    let mut log = Vec::new();
    deps::build(&chart, &[&deps::FileSource], &mut log).expect("dependency build");
    chart
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn values(yaml: &str) -> Map {
    ferry::chart::yaml::parse_values(yaml).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_install_upgrade_failed_upgrade_rolls_back_rollback_history() {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(300),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let chart_dir = umbrella(dir.path());
    let chart = ferry::chart::load(&chart_dir).unwrap();
    let kube = ferry_testsupport::kube_client(&sim.kubeconfig()).await;
    let client = Client::from_kube(kube, "production", Driver::Secret)
        .await
        .unwrap();
    let base = |vals: &str| UpgradeRequest {
        install: true,
        atomic: true,
        wait: true,
        create_namespace: true,
        timeout: Duration::from_secs(120),
        values: values(vals),
        ..UpgradeRequest::new("production", chart.clone(), "production")
    };

    let order_service = || {
        sim.get(
            "apps",
            "deployments",
            "production",
            "production-order-service",
        )
        .expect("order-service deployed")
    };

    // 1. upgrade --install --atomic --create-namespace --wait
    let r1 = client.upgrade(base("{}")).await.unwrap();
    assert_eq!((r1.version, r1.info.status.clone()), (1, Status::Deployed));
    assert_eq!(r1.info.description, "Install complete");
    let d = order_service();
    assert_eq!(
        d["status"]["readyReplicas"], 3,
        "--wait returned once ready"
    );
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
    assert_eq!(
        d["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "production"
    );
    assert!(sim.get("", "namespaces", "", "production").is_some());

    // 2. an upgrade with changed values
    let r2 = client
        .upgrade(base("order-service:\n  replicaCount: 2\n"))
        .await
        .unwrap();
    assert_eq!((r2.version, r2.info.status.clone()), (2, Status::Deployed));
    let d = order_service();
    assert_eq!(d["spec"]["replicas"], 2);

    // 3. an upgrade to an image tagged `fail`: fails fast and rolls back by itself
    let started = Instant::now();
    let err = client
        .upgrade(base(
            "order-service:\n  replicaCount: 2\n  image:\n    tag: fail\n",
        ))
        .await
        .expect_err("the failing upgrade fails")
        .to_string();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(40),
        "failed fast, not at the 120s timeout: {took:?}"
    );
    assert!(
        err.contains("has been rolled back due to rollback-on-failure"),
        "{err}"
    );
    assert!(
        err.contains("CrashLoopBackOff"),
        "the reason is named: {err}"
    );
    let d = order_service();
    let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert!(
        image.ends_with(":2.4.1"),
        "the previous revision's image is live again: {image}"
    );

    // 4. rollback production 1
    let r5 = client
        .rollback(RollbackRequest {
            name: "production".into(),
            namespace: "production".into(),
            revision: 1,
            wait: true,
            legacy_wait: false,
            wait_for_jobs: false,
            timeout: Duration::from_secs(60),
            no_hooks: false,
            history_max: 10,
            server_side: Default::default(),
            force_replace: false,
        })
        .await
        .unwrap();
    assert_eq!(r5.version, 5);
    let d = order_service();
    assert_eq!(d["spec"]["replicas"], 3, "revision 1's values are live");

    // 5. history, with Helm's statuses and descriptions
    let h = client
        .storage(Some("production"))
        .history("production")
        .await
        .unwrap();
    let got: Vec<(i64, String, String)> = h
        .iter()
        .map(|r| {
            (
                r.version,
                r.info.status.to_string(),
                r.info.description.clone(),
            )
        })
        .collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0].1, "superseded");
    assert_eq!(got[1].1, "superseded");
    assert_eq!(got[2].1, "failed");
    assert!(
        got[2].2.starts_with("Upgrade \"production\" failed: "),
        "{got:?}"
    );
    assert_eq!(
        (got[3].1.as_str(), got[3].2.as_str()),
        ("superseded", "Rollback to 2")
    );
    assert_eq!(
        (got[4].1.as_str(), got[4].2.as_str()),
        ("deployed", "Rollback to 1")
    );
    assert!(
        h.iter().all(|r| !r.info.status.is_pending()),
        "no release left pending"
    );

    // uninstall removes objects and history
    client
        .uninstall(UninstallRequest {
            name: "production".into(),
            namespace: "production".into(),
            keep_history: false,
            wait: true,
            timeout: Duration::from_secs(30),
            no_hooks: false,
        })
        .await
        .unwrap();
    assert!(
        sim.get(
            "apps",
            "deployments",
            "production",
            "production-order-service"
        )
        .is_none()
    );
    assert!(
        client
            .storage(Some("production"))
            .history("production")
            .await
            .unwrap()
            .is_empty()
    );
    let _ = Value::Null;
    sim.shutdown().await;
}
