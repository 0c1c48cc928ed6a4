//! HTTPS with the generated CA: real kubectl trusts the kubeconfig the simulator writes.
#![cfg(feature = "tls")]

use ferry_testsupport as common;

use common::{kubectl, run};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_over_https_with_generated_ca() {
    let sim = kubesim::Sim::start(kubesim::Config {
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    assert!(
        sim.ca_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let Some(k) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let cache = dir.path().join("cache");
    let o = run(
        &k,
        &[
            "--kubeconfig",
            kc.to_str().unwrap(),
            "get",
            "namespaces",
            "-o",
            "name",
        ],
        &[("KUBECACHEDIR", cache.to_str().unwrap())],
        Duration::from_secs(60),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains("namespace/default"), "{}", o.stdout);
    sim.shutdown().await;
}
