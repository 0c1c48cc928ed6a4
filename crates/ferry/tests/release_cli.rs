//! The release commands through the `ferry` binary against the API simulator, and with real
//! Helm (the oracle) on the same simulator: interop both ways, hooks, ownership.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_testsupport::{helm_oracle, history_rows, oracle_field_manager, run};
use serde_json::Value;

/// No command of these tests takes this long unless something hangs.
const LIMIT: Duration = Duration::from_secs(300);

struct Env {
    sim: kubesim::Sim,
    _dir: tempfile::TempDir,
    kc: String,
    root: PathBuf,
}

async fn env() -> Env {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    Env {
        sim,
        kc: kc.to_string_lossy().into_owned(),
        root: dir.path().to_path_buf(),
        _dir: dir,
    }
}

impl Env {
    /// Runs ferry in a blocking thread (the simulator serves on this runtime).
    async fn ferry(&self, args: &[&str]) -> (bool, String, String) {
        let mut all = args.to_vec();
        all.extend(["--kubeconfig", &self.kc]);
        let o = run(Path::new(env!("CARGO_BIN_EXE_ferry")), &all, &[], LIMIT).await;
        (o.ok, o.stdout, o.stderr)
    }

    async fn helm(&self, oracle: &Path, ns: &str, args: &[&str]) -> (bool, Value, String) {
        let mut all = vec!["release", "--kubeconfig", &self.kc, "-n", ns];
        all.extend_from_slice(args);
        let o = run(oracle, &all, &[], Duration::from_secs(120)).await;
        (
            o.ok,
            serde_json::from_str(&o.stdout).unwrap_or(Value::Null),
            o.stderr,
        )
    }

    fn chart(&self, name: &str, files: &[(&str, &str)]) -> String {
        let d = self.root.join(name);
        for (f, text) in files {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d.to_string_lossy().into_owned()
    }
}

fn order_service() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/charts/order-service")
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_continues_a_ferry_release_and_ferry_continues_a_helm_release() {
    let Some(oracle) = helm_oracle() else { return };
    let e = env().await;
    let chart = order_service();
    // Helm's CLI applies as field manager `helm`, ferry's default. The oracle is Helm's Go SDK
    // inside Python, which applies under its interpreter's name: ferry takes the name the
    // oracle is seen to apply with, as it would `helm` next to the helm CLI.
    let manager = oracle_field_manager(&oracle, &e.sim.kubeconfig()).await;
    let fm = ["--field-manager", manager.as_str()];

    // ferry installs; Helm lists, reads and upgrades it.
    let (ok, out, err) = e
        .ferry(
            &[
                &[
                    "install",
                    "shop",
                    &chart,
                    "-n",
                    "default",
                    "--set",
                    "image.tag=v1",
                    "--wait",
                ],
                &fm[..],
            ]
            .concat(),
        )
        .await;
    assert!(ok, "{err}");
    assert!(out.contains("STATUS: deployed"), "{out}");
    let (ok, list, err) = e.helm(&oracle, "default", &["list"]).await;
    assert!(ok, "{err}");
    assert_eq!(list[0]["name"], "shop");
    let (_, vals, _) = e.helm(&oracle, "default", &["get-values", "shop"]).await;
    assert_eq!(vals, serde_json::json!({"image": {"tag": "v1"}}));
    let (_, got, _) = e.helm(&oracle, "default", &["get", "shop"]).await;
    let (_, manifest, _) = e.ferry(&["get", "manifest", "shop", "-n", "default"]).await;
    assert_eq!(
        got["summary"]["manifest"].as_str().unwrap().trim(),
        manifest.trim()
    );
    let (ok, _, err) = e
        .helm(
            &oracle,
            "default",
            &["upgrade", "shop", &chart, "--set", "image.tag=v2", "--wait"],
        )
        .await;
    assert!(ok, "helm upgrades ferry's release: {err}");
    let d = e
        .sim
        .get("apps", "deployments", "default", "shop-order-service")
        .unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":v2")
    );

    // Helm installs; ferry upgrades and rolls back.
    let (ok, _, err) = e
        .helm(
            &oracle,
            "default",
            &["install", "cart", &chart, "--set", "image.tag=h1", "--wait"],
        )
        .await;
    assert!(ok, "{err}");
    let (ok, _, err) = e
        .ferry(
            &[
                &[
                    "upgrade",
                    "cart",
                    &chart,
                    "-n",
                    "default",
                    "--set",
                    "image.tag=f2",
                    "--wait",
                ],
                &fm[..],
            ]
            .concat(),
        )
        .await;
    assert!(ok, "ferry upgrades Helm's release: {err}");
    let (ok, _, err) = e
        .ferry(
            &[
                &["rollback", "cart", "1", "-n", "default", "--wait"],
                &fm[..],
            ]
            .concat(),
        )
        .await;
    assert!(ok, "{err}");
    let d = e
        .sim
        .get("apps", "deployments", "default", "cart-order-service")
        .unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":h1")
    );

    // Both tools agree on both histories.
    for name in ["shop", "cart"] {
        let (_, h, _) = e.helm(&oracle, "default", &["history", name]).await;
        let helm_hist: Vec<(i64, String)> = h
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["revision"].as_i64().unwrap(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let (ok, out, err) = e
            .ferry(&["history", name, "-n", "default", "-o", "json"])
            .await;
        assert!(ok, "{err}");
        assert_eq!(history_rows(&out), helm_hist, "{name}");
    }
    let (_, out, _) = e
        .ferry(&["history", "cart", "-n", "default", "-o", "json"])
        .await;
    assert_eq!(
        history_rows(&out),
        [
            (1, "superseded".into()),
            (2, "superseded".into()),
            (3, "deployed".into())
        ]
    );
    e.sim.shutdown().await;
}

const HOOK_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-{{ .Values.NAME }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: \"{{ .Values.WEIGHT }}\"
    helm.sh/hook-delete-policy: {{ .Values.POLICY }}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: run
          image: busybox:{{ .Values.TAG }}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_in_weight_order_with_delete_policies_and_a_failing_hook_rolls_back() {
    let e = env().await;
    let job = |name: &str, weight: &str, policy: &str, tag: &str| {
        HOOK_JOB
            .replace("{{ .Values.NAME }}", name)
            .replace("{{ .Values.WEIGHT }}", weight)
            .replace("{{ .Values.POLICY }}", policy)
            .replace("{{ .Values.TAG }}", tag)
    };
    let late = job("migrate", "5", "before-hook-creation", "{{ .Values.tag }}");
    let early = job("backup", "-5", "hook-succeeded", "1");
    let chart = e.chart(
        "hooked",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: hooked\nversion: 1.0.0\n"),
            ("values.yaml", "tag: \"1\"\n"),
            ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  tag: {{ .Values.tag | quote }}\n"),
            ("templates/migrate.yaml", &late),
            ("templates/backup.yaml", &early),
        ],
    );
    let (ok, out, err) = e
        .ferry(&["install", "app", &chart, "-n", "default", "-o", "json"])
        .await;
    assert!(ok, "{err}");
    let rel: Value = serde_json::from_str(&out).unwrap();
    let hooks = rel["hooks"].as_array().unwrap();
    // RFC 3339 times with trimmed fractions (`...:05.1Z`, `...:05.12Z`): compare as numbers.
    let started = |n: &str| {
        let t = hooks.iter().find(|h| h["name"] == n).unwrap()["last_run"]["started_at"]
            .as_str()
            .unwrap()
            .trim_end_matches('Z')
            .to_string();
        let (whole, frac) = t.split_once('.').unwrap_or((&t, "0"));
        (whole.to_string(), format!("{frac:0<9}"))
    };
    assert!(
        started("app-backup") < started("app-migrate"),
        "weight -5 runs before weight 5"
    );
    assert!(hooks.iter().all(|h| h["last_run"]["phase"] == "Succeeded"));
    assert!(
        e.sim
            .get("batch", "jobs", "default", "app-backup")
            .is_none(),
        "hook-succeeded deletes the hook after success"
    );
    assert!(
        e.sim
            .get("batch", "jobs", "default", "app-migrate")
            .is_some(),
        "before-hook-creation keeps it until the next run"
    );

    // A failing pre-upgrade hook fails the upgrade; --atomic rolls back.
    let (ok, _, err) = e
        .ferry(&[
            "upgrade",
            "app",
            &chart,
            "-n",
            "default",
            "--set",
            "tag=fail",
            "--atomic",
            "--timeout",
            "60s",
        ])
        .await;
    assert!(!ok);
    assert!(err.contains("pre-upgrade hooks failed"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    let (_, out, _) = e
        .ferry(&["history", "app", "-n", "default", "-o", "json"])
        .await;
    assert_eq!(
        history_rows(&out),
        [
            (1, "superseded".into()),
            (2, "failed".into()),
            (3, "deployed".into())
        ]
    );
    let cm = e.sim.get("", "configmaps", "default", "app-cfg").unwrap();
    assert_eq!(cm["data"]["tag"], "1", "revision 1's objects are live");
    e.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_another_owner_are_refused_unless_taken_over() {
    let e = env().await;
    let chart = e.chart(
        "owned",
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: owned\nversion: 1.0.0\n",
            ),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  k: v\n",
            ),
        ],
    );
    let (ok, _, err) = e
        .ferry(&["install", "first", &chart, "-n", "default"])
        .await;
    assert!(ok, "{err}");
    let (ok, _, err) = e
        .ferry(&["install", "second", &chart, "-n", "default"])
        .await;
    assert!(!ok);
    assert!(
        err.contains("ConfigMap \"shared\" in namespace \"default\" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: key \"meta.helm.sh/release-name\" must equal \"second\": current value is \"first\""),
        "{err}"
    );
    let (_, out, _) = e
        .ferry(&["history", "second", "-n", "default", "-o", "json"])
        .await;
    assert!(
        out.is_empty()
            || history_rows(&out)
                .iter()
                .all(|(_, s)| s != "pending-install"),
        "{out}"
    );
    let (ok, _, err) = e
        .ferry(&[
            "install",
            "third",
            &chart,
            "-n",
            "default",
            "--take-ownership",
        ])
        .await;
    assert!(ok, "{err}");
    let cm = e.sim.get("", "configmaps", "default", "shared").unwrap();
    assert_eq!(
        cm["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "third"
    );
    e.sim.shutdown().await;
}

/// A test Pod hook running `image`, with a weight and optional delete policy.
fn test_pod(name: &str, image: &str, weight: &str, policy: Option<&str>) -> String {
    let policy = policy
        .map(|p| format!("\n    \"helm.sh/hook-delete-policy\": {p}"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{{{ .Release.Name }}}}-{name}\n  annotations:\n    \"helm.sh/hook\": test\n    \"helm.sh/hook-weight\": \"{weight}\"{policy}\nspec:\n  restartPolicy: Never\n  containers:\n    - name: check\n      image: {image}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_runs_the_release_tests_records_each_phase_and_fails_when_one_fails() {
    let e = env().await;
    let ok_pod = test_pod("ok", "busybox:1.36", "0", None);
    let bad_pod = test_pod("bad", "{{ .Values.image }}", "1", Some("hook-succeeded"));
    let chart = e.chart(
        "tested",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: tested\nversion: 0.1.0\n"),
            ("values.yaml", "image: busybox:1.36\n"),
            ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  a: b\n"),
            ("templates/NOTES.txt", "notes of {{ .Release.Name }}\n"),
            ("templates/tests/ok.yaml", &ok_pod),
            ("templates/tests/bad.yaml", &bad_pod),
        ],
    );
    let (ok, _, err) = e.ferry(&["install", "t", &chart, "-n", "default"]).await;
    assert!(ok, "{err}");
    assert!(
        e.sim.get("", "pods", "default", "t-ok").is_none(),
        "install does not run tests"
    );

    // Both pass: the status without notes, then the logs of both pods, weight order.
    let (ok, out, err) = e
        .ferry(&["test", "t", "-n", "default", "--logs", "--progress=none"])
        .await;
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME: t\n"), "{out}");
    assert!(!out.contains("NOTES"), "helm test hides the notes: {out}");
    for name in ["t-ok", "t-bad"] {
        assert!(
            out.contains(&format!("TEST SUITE:     {name}\n")),
            "{name} listed: {out}"
        );
    }
    assert_eq!(
        out.matches("Phase:          Succeeded\n").count(),
        2,
        "{out}"
    );
    let (ok_logs, bad_logs) = (
        out.find("POD LOGS: t-ok\n").expect("ok's logs"),
        out.find("POD LOGS: t-bad\n")
            .expect("bad's logs (read before cleanup)"),
    );
    assert!(ok_logs < bad_logs, "weight 0 before weight 1");
    assert!(
        e.sim.get("", "pods", "default", "t-bad").is_none(),
        "hook-succeeded removes the pod after its logs were read"
    );
    assert!(
        e.sim.get("", "pods", "default", "t-ok").is_some(),
        "before-hook-creation keeps it until the next run"
    );

    // A failing test: the status is printed with its phase, and the command fails.
    let (ok, _, err) = e
        .ferry(&[
            "upgrade",
            "t",
            &chart,
            "-n",
            "default",
            "--set",
            "image=busybox:fail",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = e
        .ferry(&[
            "test",
            "t",
            "-n",
            "default",
            "--timeout",
            "60s",
            "--progress=none",
        ])
        .await;
    assert!(!ok, "a failed test fails the command: {out}");
    assert!(err.contains("t-bad"), "the error names the pod: {err}");
    assert!(out.contains("REVISION: 2\n"), "{out}");
    let phase_of = |out: &str, name: &str| {
        let at = out
            .find(&format!("TEST SUITE:     {name}\n"))
            .unwrap_or_else(|| panic!("{name} in {out}"));
        out[at..]
            .lines()
            .find_map(|l| l.strip_prefix("Phase:          "))
            .unwrap()
            .to_string()
    };
    assert_eq!(phase_of(&out, "t-ok"), "Succeeded");
    assert_eq!(phase_of(&out, "t-bad"), "Failed");
    assert!(
        e.sim.get("", "pods", "default", "t-bad").is_some(),
        "no hook-failed policy: the failed pod stays for inspection"
    );

    // --filter runs only the named test; the other keeps its recorded phase.
    let (ok, out, err) = e
        .ferry(&[
            "test",
            "t",
            "-n",
            "default",
            "--filter",
            "name=t-ok",
            "--progress=none",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(phase_of(&out, "t-ok"), "Succeeded");
    assert_eq!(phase_of(&out, "t-bad"), "Failed");
    let (ok, out, err) = e.ferry(&["status", "t", "-n", "default"]).await;
    assert!(ok, "{err}");
    assert_eq!(phase_of(&out, "t-bad"), "Failed", "recorded in the release");

    // Helm reads the phases ferry recorded.
    if let Some(oracle) = helm_oracle() {
        let (ok, rel, err) = e.helm(&oracle, "default", &["get", "t"]).await;
        assert!(ok, "{err}");
        let hooks = rel["hooks"].as_array().expect("hooks");
        let phase = |n: &str| {
            hooks.iter().find(|h| h["name"] == n).unwrap()["last_run"]["phase"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(phase("t-ok"), "Succeeded");
        assert_eq!(phase("t-bad"), "Failed");
    }

    let (ok, _, err) = e.ferry(&["test", "missing", "-n", "default"]).await;
    assert!(!ok);
    assert!(err.contains("release: not found"), "{err}");
    e.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_renderer_rewrites_what_install_and_upgrade_apply_and_record() {
    use std::os::unix::fs::PermissionsExt as _;
    let e = env().await;
    let chart = e.chart(
        "posted",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: posted\nversion: 0.1.0\n"),
            ("values.yaml", "mode: plain\n"),
            ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  mode: {{ .Values.mode }}\n"),
        ],
    );
    let script = e.root.join("post.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nsed 's/mode: \\(.*\\)/mode: \\1-post/'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = script.to_string_lossy().into_owned();

    let (ok, _, err) = e
        .ferry(&[
            "install",
            "p",
            &chart,
            "-n",
            "default",
            "--post-renderer",
            &script,
        ])
        .await;
    assert!(ok, "{err}");
    let cm = e.sim.get("", "configmaps", "default", "p-cfg").unwrap();
    assert_eq!(cm["data"]["mode"], "plain-post", "applied as post-rendered");
    let (_, manifest, _) = e.ferry(&["get", "manifest", "p", "-n", "default"]).await;
    assert!(
        manifest.contains("mode: plain-post"),
        "recorded: {manifest}"
    );

    let (ok, _, err) = e
        .ferry(&[
            "upgrade",
            "p",
            &chart,
            "-n",
            "default",
            "--set",
            "mode=fancy",
            "--post-renderer",
            &script,
        ])
        .await;
    assert!(ok, "{err}");
    let cm = e.sim.get("", "configmaps", "default", "p-cfg").unwrap();
    assert_eq!(cm["data"]["mode"], "fancy-post");

    // A post-renderer that fails stops the upgrade before anything is applied.
    let (ok, _, err) = e
        .ferry(&[
            "upgrade",
            "p",
            &chart,
            "-n",
            "default",
            "--set",
            "mode=broken",
            "--post-renderer",
            "/bin/false",
        ])
        .await;
    assert!(!ok);
    assert!(err.contains("post-render"), "{err}");
    let cm = e.sim.get("", "configmaps", "default", "p-cfg").unwrap();
    assert_eq!(cm["data"]["mode"], "fancy-post", "nothing applied");
    let (_, out, _) = e
        .ferry(&["history", "p", "-n", "default", "-o", "json"])
        .await;
    assert_eq!(
        history_rows(&out),
        [(1, "superseded".into()), (2, "deployed".into())],
        "a render failure leaves no revision behind"
    );
    e.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_replace_replaces_client_side_objects_whole_and_is_refused_server_side() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, Patch, PatchParams};
    let e = env().await;
    let chart = e.chart(
        "replaced",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: replaced\nversion: 0.1.0\n"),
            ("values.yaml", "v: one\n"),
            ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  v: {{ .Values.v }}\n"),
        ],
    );
    let (ok, _, err) = e
        .ferry(&[
            "install",
            "fr",
            &chart,
            "-n",
            "default",
            "--server-side=false",
        ])
        .await;
    assert!(ok, "{err}");
    // another writer annotates the live object
    let kc = std::fs::read_to_string(&e.kc).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(ferry_testsupport::kube_client(&kc).await, "default");
    let drift = serde_json::json!({"metadata": {"annotations": {"team/owner": "ops"}}});
    cms.patch("fr-cfg", &PatchParams::default(), &Patch::Merge(&drift))
        .await
        .unwrap();
    let owner = |cm: &Value| cm["metadata"]["annotations"]["team/owner"].clone();

    // the three-way merge keeps what it did not write
    let (ok, _, err) = e
        .ferry(&["upgrade", "fr", &chart, "-n", "default", "--set", "v=two"])
        .await;
    assert!(ok, "{err}");
    let cm = e.sim.get("", "configmaps", "default", "fr-cfg").unwrap();
    assert_eq!(cm["data"]["v"], "two");
    assert_eq!(owner(&cm), "ops", "a patch keeps the foreign annotation");

    // --force-replace (and its deprecated name --force) puts the manifest in its place
    let (ok, _, err) = e
        .ferry(&[
            "upgrade", "fr", &chart, "-n", "default", "--set", "v=three", "--force",
        ])
        .await;
    assert!(ok, "{err}");
    let cm = e.sim.get("", "configmaps", "default", "fr-cfg").unwrap();
    assert_eq!(cm["data"]["v"], "three");
    assert_eq!(owner(&cm), Value::Null, "replaced whole: {cm}");
    assert_eq!(
        cm["metadata"]["annotations"]["meta.helm.sh/release-name"], "fr",
        "ownership metadata is part of what replaces it"
    );

    // with server-side apply, Helm 4 refuses the combination, and the revision fails
    let (ok, _, err) = e.ferry(&["install", "ss", &chart, "-n", "default"]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = e
        .ferry(&["upgrade", "ss", &chart, "-n", "default", "--force-replace"])
        .await;
    assert!(!ok);
    assert!(
        err.contains("cannot use server-side apply and force replace together"),
        "{err}"
    );
    let (_, out, _) = e
        .ferry(&["history", "ss", "-n", "default", "-o", "json"])
        .await;
    assert_eq!(
        history_rows(&out),
        [(1, "deployed".into()), (2, "failed".into())]
    );
    let (ok, _, err) = e
        .ferry(&[
            "upgrade",
            "ss",
            &chart,
            "-n",
            "default",
            "--force-replace",
            "--force-conflicts",
        ])
        .await;
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
    e.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_reads_the_cluster_during_install_and_upgrade_as_helm_does() {
    use serde_json::json;
    let e = env().await;
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lookups"}}))
        .unwrap();
    for n in ["one", "two"] {
        e.sim
            .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "lookups"}, "data": {"k": n}}))
            .unwrap();
    }
    let secret = |pw: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keep-me", "namespace": "default"},
               "data": {"password": ferry::render::base64_encode(pw.as_bytes())}})
    };
    e.sim.create(secret("s3cret")).unwrap();
    let chart = e.chart(
        "looking",
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: looking\nversion: 0.1.0\n",
            ),
            (
                "templates/seen.yaml",
                r#"{{- $s := lookup "v1" "Secret" .Release.Namespace "keep-me" }}
{{- $cms := lookup "v1" "ConfigMap" "lookups" "" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-seen
data:
  password: {{ if $s }}{{ index $s.data "password" | b64dec | quote }}{{ else }}"none"{{ end }}
  count: {{ len $cms.items | quote }}
  names: "{{ range $cms.items }}{{ .metadata.name }},{{ end }}"
  kinds: "{{ range $cms.items }}{{ .kind }}/{{ .apiVersion }},{{ end }}"
  listKind: {{ $cms.kind | quote }}
  missing: {{ lookup "v1" "ConfigMap" "lookups" "nope" | len | quote }}
  nodes: {{ (lookup "v1" "Node" "" "").items | len | quote }}
  data: {{ (lookup "v1" "ConfigMap" "lookups" "one").data.k | quote }}
"#,
            ),
        ],
    );
    let (ok, _, err) = e.ferry(&["install", "a", &chart, "-n", "default"]).await;
    assert!(ok, "{err}");
    let seen = |name: &str| e.sim.get("", "configmaps", "default", name).unwrap()["data"].clone();
    let a = seen("a-seen");
    assert_eq!(a["password"], "s3cret", "{a}");
    assert_eq!(a["names"], "kube-root-ca.crt,one,two,", "{a}");
    assert_eq!(a["listKind"], "ConfigMapList");
    assert_eq!(a["missing"], "0");
    assert_eq!(a["nodes"], "3", "cluster-scoped list");
    assert_eq!(a["data"], "one");

    // the same chart through real Helm on the same cluster reads the same
    if let Some(oracle) = helm_oracle() {
        let (ok, _, err) = e.helm(&oracle, "default", &["install", "b", &chart]).await;
        assert!(ok, "{err}");
        assert_eq!(seen("b-seen"), a, "ferry and Helm saw the same cluster");
    }

    // an upgrade renders against the cluster as it is then
    let kc = std::fs::read_to_string(&e.kc).unwrap();
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(ferry_testsupport::kube_client(&kc).await, "default");
    secrets
        .delete("keep-me", &Default::default())
        .await
        .unwrap();
    let (ok, _, err) = e.ferry(&["upgrade", "a", &chart, "-n", "default"]).await;
    assert!(ok, "{err}");
    assert_eq!(seen("a-seen")["password"], "none", "the secret is gone now");
    e.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_server_renders_against_the_cluster_checks_and_writes_nothing() {
    use serde_json::json;
    let e = env().await;
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keep-me", "namespace": "default"},
                       "data": {"password": ferry::render::base64_encode(b"s3cret")}}))
        .unwrap();
    let chart = e.chart(
        "dry",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: dry\nversion: 0.1.0\n"),
            ("values.yaml", "v: one\n"),
            (
                "templates/cm.yaml",
                "{{- $s := lookup \"v1\" \"Secret\" \"default\" \"keep-me\" }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  v: {{ .Values.v }}\n  kube: {{ .Capabilities.KubeVersion.Version }}\n  found: {{ if $s }}\"yes\"{{ else }}\"no\"{{ end }}\n",
            ),
            (
                "templates/hook.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n  annotations:\n    \"helm.sh/hook\": pre-install\n",
            ),
        ],
    );
    let json_of = |out: &str| -> Value { serde_json::from_str(out).unwrap() };

    // offline (client) and against the cluster (server) differ where the cluster matters
    let (ok, client, err) = e
        .ferry(&[
            "install",
            "d",
            &chart,
            "-n",
            "fresh",
            "--dry-run=client",
            "-o",
            "json",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, server, err) = e
        .ferry(&[
            "install",
            "d",
            &chart,
            "-n",
            "fresh",
            "--create-namespace",
            "--dry-run=server",
            "-o",
            "json",
        ])
        .await;
    assert!(ok, "{err}");
    let (client, server) = (json_of(&client), json_of(&server));
    assert_eq!(server["info"]["description"], "Dry run complete");
    assert_eq!(server["info"]["status"], "pending-install");
    let manifest = server["manifest"].as_str().unwrap();
    assert!(
        manifest.contains("found: \"yes\""),
        "lookup ran: {manifest}"
    );
    assert!(
        client["manifest"]
            .as_str()
            .unwrap()
            .contains("found: \"no\""),
        "offline, lookup is empty"
    );
    let kube_of = |m: &str| {
        m.lines()
            .find_map(|l| l.trim().strip_prefix("kube: "))
            .unwrap()
            .to_string()
    };
    let server_version = kube_of(manifest);
    assert_ne!(
        server_version,
        kube_of(client["manifest"].as_str().unwrap()),
        "the cluster's version, not Helm's default"
    );
    assert_eq!(server["hooks"][0]["name"], "d-hook");

    // nothing was written: no namespace, no record, no objects
    assert!(e.sim.get("", "namespaces", "", "fresh").is_none());
    assert!(e.sim.list("", "secrets", Some("fresh")).is_empty());
    assert!(e.sim.get("", "configmaps", "fresh", "d-hook").is_none());

    // the table form prints hooks and manifest, as helm does for a dry run
    let (ok, table, err) = e
        .ferry(&["install", "d", &chart, "-n", "default", "--dry-run=server"])
        .await;
    assert!(ok, "{err}");
    assert!(table.contains("DESCRIPTION: Dry run complete\n"), "{table}");
    assert!(
        table.contains("HOOKS:\n---\n# Source: dry/templates/hook.yaml\n"),
        "{table}"
    );
    assert!(table.contains("MANIFEST:\n"), "{table}");

    // the cluster's checks run: an object of nobody's blocks the install, as it would for real
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d-cfg", "namespace": "default"}}))
        .unwrap();
    let (ok, _, err) = e
        .ferry(&["install", "d", &chart, "-n", "default", "--dry-run=server"])
        .await;
    assert!(!ok);
    assert!(err.contains("Unable to continue with install"), "{err}");

    // an upgrade dry run: the next revision, described, not recorded, not applied
    let (ok, _, err) = e.ferry(&["install", "u", &chart, "-n", "default"]).await;
    assert!(ok, "{err}");
    let (ok, out, err) = e
        .ferry(&[
            "upgrade",
            "u",
            &chart,
            "-n",
            "default",
            "--set",
            "v=two",
            "--dry-run=server",
            "-o",
            "json",
        ])
        .await;
    assert!(ok, "{err}");
    let rel = json_of(&out);
    assert_eq!(rel["version"], 2);
    assert_eq!(rel["info"]["description"], "Dry run complete");
    assert!(rel["manifest"].as_str().unwrap().contains("v: two"));
    let (_, out, _) = e
        .ferry(&["history", "u", "-n", "default", "-o", "json"])
        .await;
    assert_eq!(history_rows(&out), [(1, "deployed".into())]);
    assert_eq!(
        e.sim.get("", "configmaps", "default", "u-cfg").unwrap()["data"]["v"],
        "one"
    );
    // a client dry run of an upgrade reads the history but renders offline
    let (ok, out, err) = e
        .ferry(&[
            "upgrade",
            "u",
            &chart,
            "-n",
            "default",
            "--set",
            "v=three",
            "--dry-run",
            "-o",
            "json",
        ])
        .await;
    assert!(ok, "{err}");
    let rel = json_of(&out);
    assert_eq!(rel["version"], 2);
    assert_eq!(rel["info"]["description"], "Dry run complete");
    let m = rel["manifest"].as_str().unwrap();
    assert!(m.contains("v: three") && m.contains("found: \"no\""), "{m}");
    assert_eq!(kube_of(m), kube_of(client["manifest"].as_str().unwrap()));
    let (_, out, _) = e
        .ferry(&["history", "u", "-n", "default", "-o", "json"])
        .await;
    assert_eq!(history_rows(&out), [(1, "deployed".into())]);
    let (ok, _, err) = e
        .ferry(&["upgrade", "u", &chart, "-n", "default", "--dry-run=maybe"])
        .await;
    assert!(!ok);
    assert!(err.contains("invalid dry-run value"), "{err}");
    e.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_deletes_in_helms_uninstall_order() {
    let e = env().await;
    let doc = |kind: &str, api: &str, name: &str, extra: &str| {
        format!("---\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n{extra}")
    };
    let deploy = "spec:\n  selector:\n    matchLabels: {app: w}\n  template:\n    metadata:\n      labels: {app: w}\n    spec:\n      containers:\n        - {name: w, image: nginx}\n";
    let all = [
        doc("Deployment", "apps/v1", "w", deploy),
        doc("ConfigMap", "v1", "c", ""),
        doc("Service", "v1", "s", "spec:\n  ports:\n    - port: 80\n"),
        doc("Secret", "v1", "p", ""),
    ]
    .concat();
    let chart = e.chart(
        "order",
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: order\nversion: 0.1.0\n",
            ),
            ("templates/all.yaml", all.as_str()),
        ],
    );
    let (ok, _, err) = e
        .ferry(&["install", "o", &chart, "-n", "default", "--wait=sometimes"])
        .await;
    assert!(!ok && err.contains("invalid wait strategy"), "{err}");
    let (ok, _, err) = e
        .ferry(&["install", "o", &chart, "-n", "default", "--wait=legacy"])
        .await;
    assert!(ok, "{err}");
    assert!(err.contains("Deployment default/w: ready"), "waited: {err}");
    let (ok, _, err) = e
        .ferry(&["uninstall", "o", "-n", "default", "--progress=plain"])
        .await;
    assert!(ok, "{err}");
    let order: Vec<&str> = err
        .lines()
        .filter(|l| l.trim_end().ends_with(" deleted"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // not the reverse of the install order (Deployment, Service, ConfigMap, Secret): Helm
    // deletes Services before the workloads behind them
    assert_eq!(
        order,
        ["Service", "Deployment", "ConfigMap", "Secret"],
        "{err}"
    );
    assert!(e.sim.get("", "services", "default", "s").is_none());
    e.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_adoption_patches_from_the_chart_and_merges_custom_resources_three_way() {
    use serde_json::json;
    let e = env().await;
    e.sim
        .create(
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                              "x-kubernetes-preserve-unknown-fields": true}}}]}}),
        )
        .unwrap();
    // objects made by hand: a foreign label and value on each
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "adopt", "namespace": "default", "labels": {"team": "ops"}},
            "data": {"k": "old", "theirs": "1"}}))
        .unwrap();
    e.sim
        .create(json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {"size": 5, "color": "red"}}))
        .unwrap();
    let chart = e.chart(
        "adopt",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: adopt\nversion: 0.1.0\n"),
            (
                "templates/objs.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: adopt\ndata:\n  k: new\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n",
            ),
        ],
    );
    let (ok, _, err) = e
        .ferry(&[
            "install",
            "a",
            &chart,
            "-n",
            "default",
            "--server-side=false",
            "--take-ownership",
        ])
        .await;
    assert!(ok, "{err}");
    let cm = e.sim.get("", "configmaps", "default", "adopt").unwrap();
    assert_eq!(cm["data"], json!({"k": "new", "theirs": "1"}), "{cm}");
    assert_eq!(cm["metadata"]["labels"]["team"], "ops", "not deleted: {cm}");
    assert_eq!(
        cm["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "a"
    );
    // the custom resource: the chart's fields and Helm's ownership set (Helm 3's two-way
    // patch from the chart's object to itself would send nothing), the rest left alone
    let w = e.sim.get("example.com", "widgets", "default", "w").unwrap();
    assert_eq!(w["spec"], json!({"size": 1, "color": "red"}), "{w}");
    assert_eq!(
        w["metadata"]["annotations"]["meta.helm.sh/release-name"], "a",
        "{w}"
    );
    e.sim.shutdown().await;
}
