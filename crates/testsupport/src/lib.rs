//! Helpers shared by the integration tests of the workspace: the oracle's tools (real Helm and
//! real kubectl from `../shared/tools/setup-oracle`), running them with a time limit, and kube
//! clients for a kubeconfig.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `<repo>/../shared`.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn venv() -> PathBuf {
    match std::env::var_os("HELM_ORACLE_VENV") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/helm-oracle/venv"),
    }
}

fn required() -> bool {
    std::env::var("FERRY_REQUIRE_ORACLE").is_ok_and(|v| v == "1")
}

/// The real kubectl from the oracle's venv, or None (after printing why) when absent.
pub fn kubectl() -> Option<PathBuf> {
    let k = venv().join("bin/kubectl");
    if k.exists() {
        return Some(k);
    }
    assert!(
        !required(),
        "FERRY_REQUIRE_ORACLE=1 but kubectl is missing at {}; run shared/tools/setup-oracle",
        k.display()
    );
    eprintln!(
        "SKIPPED: kubectl not found at {} (run shared/tools/setup-oracle)",
        k.display()
    );
    None
}

/// The helm-oracle script, or None (after printing why) when the venv is absent.
pub fn helm_oracle() -> Option<PathBuf> {
    let script = shared_dir().join("tools/helm-oracle");
    if script.exists() && venv().join("bin/python").exists() {
        return Some(script);
    }
    assert!(
        !required(),
        "FERRY_REQUIRE_ORACLE=1 but the helm oracle is missing (run shared/tools/setup-oracle)"
    );
    eprintln!("SKIPPED: helm oracle not available (run shared/tools/setup-oracle)");
    None
}

/// The field manager Helm inside the oracle `script` writes as. Helm names itself after its
/// program (`filepath.Base(os.Args[0])`: `helm` for its CLI); the oracle's program is the
/// interpreter its `#!` line starts, under the name that line gives it (`python3` for
/// `#!/usr/bin/env python3`, `python` for `#!/path/to/python`).
pub fn oracle_field_manager(script: &Path) -> String {
    let text = std::fs::read_to_string(script).unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    let mut words = line
        .strip_prefix("#!")
        .unwrap_or_default()
        .split_whitespace();
    let first = words.next().unwrap_or_default();
    let program = if first.rsplit('/').next() == Some("env") {
        // `env` runs the first word that is not an option or an assignment
        words
            .find(|w| !w.starts_with('-') && !w.contains('='))
            .unwrap_or_default()
    } else {
        first
    };
    let name = program.rsplit('/').next().unwrap_or_default();
    assert!(
        !name.is_empty(),
        "no interpreter in the first line of {}",
        script.display()
    );
    name.to_string()
}

/// Output of one command.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command with a hard time limit, in a thread so the async runtime keeps serving.
pub async fn run(program: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Out {
    let program = program.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&program)
            .args(&args)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let start = Instant::now();
        loop {
            if let Some(_status) = child.try_wait().expect("wait") {
                break;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("output");
        let o = Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "$ {} {}\n{}{}",
            program.file_name().unwrap_or_default().to_string_lossy(),
            args.join(" "),
            o.stdout,
            o.stderr
        );
        o
    })
    .await
    .expect("join")
}

/// `(revision, status)` of each row of `history -o json` (ferry's or helm's).
pub fn history_rows(json: &str) -> Vec<(i64, String)> {
    let v: serde_json::Value = serde_json::from_str(json).expect("history is JSON");
    v.as_array()
        .expect("history is a list")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().expect("revision"),
                r["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

/// A kube client for a kubeconfig (YAML text), e.g. a simulator's.
pub async fn kube_client(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kubeconfig is usable");
    kube::Client::try_from(cfg).expect("client")
}
