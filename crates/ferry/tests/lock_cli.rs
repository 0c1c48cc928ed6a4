//! The release lock through the CLI: two concurrent upgrades of one release (exactly one
//! applies, the other fails naming the holder), and an upgrade killed with SIGKILL mid-apply,
//! recovered by the next command with history intact.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/charts/order-service")
        .to_string_lossy()
        .into_owned()
}

fn ferry(kc: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.args(args)
        .args(["--kubeconfig", kc, "-n", "default"])
        .env("FERRY_LOCK_LEASE_SECONDS", "2");
    c
}

async fn output(mut c: Command) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let o = c.output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn statuses(json: &str) -> Vec<(i64, String)> {
    let v: Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
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
    let (ok, _, err) = output(ferry(&kc, &["install", "web", &chart()])).await;
    assert!(ok, "{err}");
    let up = |tag: &str| {
        ferry(
            &kc,
            &[
                "upgrade",
                "web",
                &chart(),
                "--wait",
                "--set",
                &format!("image.tag={tag}"),
            ],
        )
    };
    let (a, b) = tokio::join!(output(up("a")), output(up("b")));
    let oks = [a.0, b.0].iter().filter(|x| **x).count();
    assert_eq!(oks, 1, "exactly one applies:\n{}\n{}", a.2, b.2);
    let loser = if a.0 { &b.2 } else { &a.2 };
    assert!(
        loser.contains("another operation (upgrade) is in progress on release \"web\"")
            && loser.contains("is held by ferry/"),
        "{loser}"
    );
    let (_, h, _) = output(ferry(&kc, &["history", "web", "-o", "json"])).await;
    assert_eq!(
        statuses(&h),
        [(1, "superseded".into()), (2, "deployed".into())]
    );

    // With --wait-for-lock the second one waits and then applies.
    let mut waiting = up("d");
    waiting.arg("--wait-for-lock=60s");
    let (c, d) = tokio::join!(output(up("c")), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        output(waiting).await
    });
    assert!(c.0 && d.0, "{}\n{}", c.2, d.2);
    let (_, h, _) = output(ferry(&kc, &["history", "web", "-o", "json"])).await;
    assert_eq!(statuses(&h).last().unwrap(), &(4, "deployed".to_string()));
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
    let (ok, _, err) = output(ferry(
        &kc,
        &["install", "web", &chart(), "--set", "image.tag=v1"],
    ))
    .await;
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
    let (ok, _, err) = output(ferry(
        &kc,
        &["upgrade", "web", &chart(), "--set", "image.tag=v3"],
    ))
    .await;
    assert!(ok, "{err}");
    let (_, h, _) = output(ferry(&kc, &["history", "web", "-o", "json"])).await;
    assert_eq!(
        statuses(&h),
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
