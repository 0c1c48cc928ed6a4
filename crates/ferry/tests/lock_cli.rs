//! The release lock through the CLI: two concurrent upgrades of one release (exactly one
//! applies, the other fails naming the holder), and an upgrade killed with SIGKILL mid-apply,
//! recovered by the next command with history intact.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_testsupport::{history_rows, run};
use serde_json::Value;

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/charts/order-service")
        .to_string_lossy()
        .into_owned()
}

/// A short release lock lease, so a killed holder is taken over quickly.
const LEASE: (&str, &str) = ("FERRY_LOCK_LEASE_SECONDS", "2");

fn ferry(kc: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.args(args)
        .args(["--kubeconfig", kc, "-n", "default"])
        .env(LEASE.0, LEASE.1);
    c
}

/// Runs ferry to completion in a blocking thread (the simulator serves on this runtime).
async fn run_ferry(kc: &str, args: &[&str]) -> (bool, String, String) {
    let mut all = args.to_vec();
    all.extend(["--kubeconfig", kc, "-n", "default"]);
    let o = run(
        Path::new(env!("CARGO_BIN_EXE_ferry")),
        &all,
        &[LEASE],
        Duration::from_secs(300),
    )
    .await;
    (o.ok, o.stdout, o.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_upgrades_one_applies_the_other_fails_clearly() {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(1500),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    sim.write_kubeconfig(&kc).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let (ok, _, err) = run_ferry(&kc, &["install", "web", &chart()]).await;
    assert!(ok, "{err}");
    let up = |tag: &'static str, extra: &'static [&'static str]| {
        let kc = kc.clone();
        async move {
            let (chart, set) = (chart(), format!("image.tag={tag}"));
            let mut args = vec!["upgrade", "web", &chart, "--wait", "--set", &set];
            args.extend(extra);
            run_ferry(&kc, &args).await
        }
    };
    let (a, b) = tokio::join!(up("a", &[]), up("b", &[]));
    let oks = [a.0, b.0].iter().filter(|x| **x).count();
    assert_eq!(oks, 1, "exactly one applies:\n{}\n{}", a.2, b.2);
    let loser = if a.0 { &b.2 } else { &a.2 };
    assert!(
        loser.contains("another operation (upgrade) is in progress on release \"web\"")
            && loser.contains("is held by ferry/"),
        "{loser}"
    );
    let (_, h, _) = run_ferry(&kc, &["history", "web", "-o", "json"]).await;
    assert_eq!(
        history_rows(&h),
        [(1, "superseded".into()), (2, "deployed".into())]
    );

    // With --wait-for-lock the second one waits and then applies.
    let (c, d) = tokio::join!(up("c", &[]), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        up("d", &["--wait-for-lock=60s"]).await
    });
    assert!(c.0 && d.0, "{}\n{}", c.2, d.2);
    let (_, h, _) = run_ferry(&kc, &["history", "web", "-o", "json"]).await;
    assert_eq!(
        history_rows(&h).last().unwrap(),
        &(4, "deployed".to_string())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_killed_mid_apply_is_recovered_by_the_next_command() {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_secs(20),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    sim.write_kubeconfig(&kc).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let (ok, _, err) = run_ferry(&kc, &["install", "web", &chart(), "--set", "image.tag=v1"]).await;
    assert!(ok, "{err}");
    // An upgrade that waits (Pods take 20s here) ... killed with SIGKILL while waiting.
    let mut child = ferry(
        &kc,
        &[
            "upgrade",
            "web",
            &chart(),
            "--wait",
            "--set",
            "image.tag=v2",
        ],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut pending = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(s) = sim.get("", "secrets", "default", "sh.helm.release.v1.web.v2")
            && s["metadata"]["labels"]["status"] == "pending-upgrade"
        {
            pending = true;
            break;
        }
    }
    assert!(pending, "the upgrade got as far as its pending record");
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Helm would now say "another operation is in progress" forever. ferry waits out the
    // dead holder's lease (2s here), marks the interrupted revision failed, and goes on.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (ok, _, err) = run_ferry(&kc, &["upgrade", "web", &chart(), "--set", "image.tag=v3"]).await;
    assert!(ok, "{err}");
    let (_, h, _) = run_ferry(&kc, &["history", "web", "-o", "json"]).await;
    assert_eq!(
        history_rows(&h),
        [
            (1, "superseded".into()),
            (2, "failed".into()),
            (3, "deployed".into())
        ]
    );
    let v: Value = serde_json::from_str(&h).unwrap();
    assert!(
        v[1]["description"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "history says what happened: {}",
        v[1]["description"]
    );
    let d = sim
        .get("apps", "deployments", "default", "web-order-service")
        .unwrap();
    let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert!(
        image.ends_with(":v3"),
        "live objects match the recorded revision: {image}"
    );
    sim.shutdown().await;
}
