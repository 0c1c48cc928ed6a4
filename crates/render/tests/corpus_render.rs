//! Real charts against Helm: for every case of `../shared/corpus/cases`, ferry's render map,
//! stored manifest and notes must equal Helm's (`expected/`), and cases Helm refuses must fail
//! with Helm's message. Generated secrets, certificates and random names differ between any two
//! runs (Helm's own included), so lines may differ only inside long base64-like runs or in
//! same-length runs of random characters.

use std::collections::BTreeMap;
use std::path::Path;

use ferry_chart::load;
use ferry_chart::strvals::ValueOptions;
use ferry_render::{Capabilities, Engine, ReleaseOptions, RenderRequest, render_release};

fn mask(l: &str) -> String {
    let re = regex::Regex::new(r"[A-Za-z0-9+/=]{16,}").unwrap();
    re.replace_all(l, "<random>").into_owned()
}

/// Two lines that differ only where random characters were generated: same length, and every
/// differing character is a letter, digit, `+`, `/` or `=` (random names such as
/// `randAlphaNum 5`, generated passwords and certificates).
fn random_only(x: &str, y: &str) -> bool {
    let (xs, ys): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
    let is_rand = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    xs.len() == ys.len()
        && xs
            .iter()
            .zip(&ys)
            .all(|(a, b)| a == b || (is_rand(*a) && is_rand(*b)))
}

fn same(a: &str, b: &str) -> Result<(), String> {
    if a == b {
        return Ok(());
    }
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for (i, (x, y)) in al.iter().zip(&bl).enumerate() {
        if x != y && mask(x) != mask(y) && !random_only(x, y) {
            return Err(format!("line {}: ferry {x:?} vs helm {y:?}", i + 1));
        }
    }
    if al.len() != bl.len() || a.ends_with('\n') != b.ends_with('\n') {
        return Err(format!("{} lines vs helm's {}", al.len(), bl.len()));
    }
    Ok(())
}

fn threads_label(t: Option<usize>) -> String {
    t.map_or("default".into(), |n| n.to_string())
}

#[test]
fn corpus_renders_as_helm() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if !shared.is_dir() {
        eprintln!("skipped: ../shared not found, no corpus to compare with");
        return;
    }
    let mut dirs: Vec<_> = std::fs::read_dir(shared.join("corpus/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let (mut passed, mut failures) = ([0, 0], Vec::new());
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
        let chart = load(shared.join("corpus").join(case["chart"].as_str().unwrap())).unwrap();
        let opts = ValueOptions {
            value_files: case["values_files"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|f| dir.join(f.as_str().unwrap()).display().to_string())
                        .collect()
                })
                .unwrap_or_default(),
            ..Default::default()
        };
        let user = opts.merge(&mut |p| std::fs::read(p)).unwrap();
        let is_install = case["is_install"].as_bool().unwrap_or(true);
        // the default (one executing thread on 2 cores), then three threads side by side
        for (run, exec_threads) in [None, Some(3)].into_iter().enumerate() {
            let req = RenderRequest {
                chart: &chart,
                user_values: &user,
                release: ReleaseOptions {
                    name: case["release"].as_str().unwrap_or("release").into(),
                    namespace: case["namespace"].as_str().unwrap_or("default").into(),
                    revision: case["revision"].as_i64().unwrap_or(1),
                    is_install,
                    is_upgrade: !is_install,
                },
                caps: Capabilities::default(),
                engine: Engine {
                    exec_threads,
                    ..Engine::default()
                },
                include_crds: false,
                sub_notes: false,
                skip_schema_validation: false,
            };
            let result = render_release(&req);
            let expected = |f: &str| std::fs::read_to_string(dir.join("expected").join(f)).ok();
            let verdict: Result<(), String> = match (result, expected("error.txt")) {
                (Err(e), Some(want)) => {
                    let got = e.to_string();
                    if got.trim_end() == want.trim_end() {
                        Ok(())
                    } else {
                        Err(format!("error {got:?} vs helm {want:?}"))
                    }
                }
                (Ok(_), Some(want)) => Err(format!("rendered, but helm failed: {want}")),
                (Err(e), None) => Err(format!("failed: {e}")),
                (Ok(r), None) => (|| {
                    let want: BTreeMap<String, String> =
                        serde_json::from_str(&expected("render.json").unwrap()).unwrap();
                    let keys_ours: Vec<&String> = r.files.keys().collect();
                    let keys_helm: Vec<&String> = want.keys().collect();
                    if keys_ours != keys_helm {
                        return Err(format!("templates differ: {keys_ours:?} vs {keys_helm:?}"));
                    }
                    for (k, v) in &want {
                        same(&r.files[k], v).map_err(|e| format!("{k}: {e}"))?;
                    }
                    if let Some(m) = expected("manifest.yaml") {
                        same(&r.manifest, &m).map_err(|e| format!("manifest: {e}"))?;
                    }
                    if let Some(n) = expected("notes.txt") {
                        same(&r.notes, &n).map_err(|e| format!("notes: {e}"))?;
                    }
                    Ok(())
                })(),
            };
            match verdict {
                Ok(()) => passed[run] += 1,
                Err(e) => failures.push(format!(
                    "{name} ({} threads): {e}",
                    threads_label(exec_threads)
                )),
            }
        }
    }
    println!(
        "corpus render: {} of {} cases identical to helm (default threads); {} of {} with \
         3 threads executing templates",
        passed[0],
        dirs.len(),
        passed[1],
        dirs.len()
    );
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-failures.txt"),
        failures.join("\n"),
    )
    .unwrap();
    let min: usize = std::env::var("FERRY_MIN_CORPUS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for passed in passed {
        assert!(
            passed >= min,
            "only {passed} corpus cases pass, expected at least {min}"
        );
    }
}
