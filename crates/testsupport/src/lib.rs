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

/// The field manager Helm inside the oracle `script` writes as, observed on the cluster of
/// `kubeconfig` (YAML text): Helm installs a one-ConfigMap chart there and the manager of its
/// apply is read back; the probe release is uninstalled again. Helm names itself after its
/// program (`filepath.Base(os.Args[0])`: `helm` for its CLI). The oracle is Helm's SDK inside
/// Python, and which name Python's `argv[0]` carries depends on how the script was started
/// (`python3` from its `#!` line, `python` when it re-executes itself with its venv's
/// interpreter), so the name is observed rather than guessed.
pub async fn oracle_field_manager(script: &Path, kubeconfig: &str) -> String {
    use k8s_openapi::api::core::v1::ConfigMap;
    static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ferry-fm-probe-{}-{n}", std::process::id()));
    std::fs::create_dir_all(dir.join("chart/templates")).expect("probe dir");
    std::fs::write(
        dir.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: fm-probe\nversion: 0.1.0\n",
    )
    .expect("probe chart");
    std::fs::write(
        dir.join("chart/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fm-probe\ndata:\n  a: b\n",
    )
    .expect("probe template");
    let kc = dir.join("kubeconfig");
    std::fs::write(&kc, kubeconfig).expect("probe kubeconfig");
    let kc = kc.to_string_lossy().into_owned();
    let chart = dir.join("chart").to_string_lossy().into_owned();
    let base = ["release", "--kubeconfig", kc.as_str(), "-n", "default"];
    let limit = Duration::from_secs(120);
    let o = run(
        script,
        &[&base[..], &["install", "fm-probe", &chart]].concat(),
        &[],
        limit,
    )
    .await;
    assert!(
        o.ok,
        "the oracle installs the field-manager probe: {}",
        o.stderr
    );
    let cms: kube::Api<ConfigMap> = kube::Api::namespaced(kube_client(kubeconfig).await, "default");
    let cm = cms
        .get("fm-probe")
        .await
        .expect("the probe's ConfigMap exists");
    let manager = cm
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .find_map(|f| f.manager)
        .expect("Helm's apply records a field manager");
    let o = run(
        script,
        &[&base[..], &["uninstall", "fm-probe"]].concat(),
        &[],
        limit,
    )
    .await;
    assert!(
        o.ok,
        "the oracle uninstalls the field-manager probe: {}",
        o.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
    manager
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
