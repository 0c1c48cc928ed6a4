//! Install, upgrade and rollback while the API server misbehaves (kubesim's seeded fault
//! injection: random 503s and 429s with Retry-After, added latency, dropped watches, 409
//! conflicts forced on writes): each
//! operation either succeeds through retries or fails cleanly; never a pending release, never
//! lost history, and live objects match the deployed revision.

use std::path::Path;
use std::time::Duration;

use ferry::action::{Client, RollbackRequest, UpgradeRequest};
use ferry::release::Status;
use ferry::release::storage::Driver;
use kubesim::FaultRule;

fn rules(seed: u64) -> Vec<FaultRule> {
    let p = 0.05 + (seed % 4) as f64 * 0.04; // 5%..17% of requests fail
    vec![
        FaultRule {
            path_contains: String::new(),
            method: None,
            status: Some(if seed.is_multiple_of(2) { 503 } else { 429 }),
            retry_after: Some(1).filter(|_| seed.is_multiple_of(3)),
            latency: Duration::from_millis(seed % 5),
            probability: Some(p),
            remaining: None,
            reset: false,
            drop_watch_after: None,
        },
        FaultRule {
            path_contains: "watch=".into(),
            method: Some("GET".into()),
            status: None,
            retry_after: None,
            latency: Duration::ZERO,
            probability: Some(0.5),
            remaining: None,
            reset: false,
            drop_watch_after: Some(Duration::from_millis(300 + 100 * (seed % 5))),
        },
        // "the object has been modified": writes (release records, applies) conflict
        FaultRule {
            path_contains: String::new(),
            method: Some(
                if seed.is_multiple_of(2) {
                    "PUT"
                } else {
                    "PATCH"
                }
                .into(),
            ),
            status: Some(409),
            retry_after: None,
            latency: Duration::ZERO,
            probability: Some(0.1),
            remaining: None,
            reset: false,
            drop_watch_after: None,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_seeded_fault_scenarios_never_leave_a_stuck_release() {
    let chart = ferry::chart::load(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/charts/order-service"),
    )
    .unwrap();
    let mut outcomes = Vec::new();
    let mut injected = std::collections::BTreeMap::new();
    for seed in 1..=20u64 {
        let sim = kubesim::Sim::start(kubesim::Config {
            ready_after: Duration::from_millis(100),
            fault_seed: seed,
            ..Default::default()
        })
        .await
        .unwrap();
        let kube = ferry_testsupport::kube_client(&sim.kubeconfig()).await;
        let client = Client::from_kube(kube, "default", Driver::Secret)
            .await
            .unwrap();
        sim.set_faults(rules(seed));
        let req = |tag: &str| UpgradeRequest {
            install: true,
            atomic: true,
            wait: true,
            timeout: Duration::from_secs(30),
            values: ferry::chart::yaml::parse_values(&format!("image: {{tag: {tag}}}")).unwrap(),
            ..UpgradeRequest::new("web", chart.clone(), "default")
        };
        let mut results = Vec::new();
        results.push(client.upgrade(req("v1")).await.map(|r| r.version));
        results.push(client.upgrade(req("v2")).await.map(|r| r.version));
        results.push(
            client
                .rollback(RollbackRequest {
                    name: "web".into(),
                    namespace: "default".into(),
                    revision: 0,
                    wait: true,
                    legacy_wait: false,
                    wait_for_jobs: false,
                    timeout: Duration::from_secs(30),
                    no_hooks: false,
                    history_max: 10,
                    server_side: Default::default(),
                    force_replace: false,
                })
                .await
                .map(|r| r.version),
        );
        sim.set_faults(Vec::new());
        for (code, n) in sim.faults_injected() {
            *injected.entry(code).or_insert(0u64) += n;
        }
        let hist = client
            .storage(Some("default"))
            .history("web")
            .await
            .unwrap();
        assert!(
            hist.iter().all(|r| !r.info.status.is_pending()),
            "seed {seed}: a release left pending: {:?}",
            hist.iter()
                .map(|r| (r.version, r.info.status.to_string()))
                .collect::<Vec<_>>()
        );
        let versions: Vec<i64> = hist.iter().map(|r| r.version).collect();
        assert_eq!(
            versions,
            (1..=versions.len() as i64).collect::<Vec<_>>(),
            "seed {seed}: no revision lost"
        );
        if let Some(deployed) = hist
            .iter()
            .rev()
            .find(|r| r.info.status == Status::Deployed)
        {
            let tag = deployed.config["image"]["tag"]
                .as_str()
                .unwrap_or("latest")
                .to_string();
            let d = sim
                .get("apps", "deployments", "default", "web-order-service")
                .unwrap();
            let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap();
            assert!(
                image.ends_with(&format!(":{tag}")),
                "seed {seed}: live {image}, recorded {tag}"
            );
        }
        let ok = results.iter().filter(|r| r.is_ok()).count();
        outcomes.push(format!(
            "seed {seed}: {ok}/3 operations succeeded, {} revisions",
            hist.len()
        ));
        sim.shutdown().await;
    }
    for o in &outcomes {
        println!("{o}");
    }
    println!(
        "fault scenarios: {} run, none left a release pending; errors injected: {injected:?}",
        outcomes.len()
    );
    assert!(
        injected.get(&409).is_some_and(|n| *n > 0),
        "the scenarios forced conflicts: {injected:?}"
    );
    assert_eq!(outcomes.len(), 20);
}
