//! Differential test: `.Values` as computed by ferry against Helm's `expected/values.json`
//! for every case of the shared corpus (`../shared/corpus/cases`).

use std::path::{Path, PathBuf};

use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_chart::strvals::ValueOptions;
use ferry_chart::{Value, load};

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    p.is_dir().then_some(p)
}

/// JSON equality with Helm's number semantics (1 and 1.0 are the same float64).
fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The first differing path, for a readable failure.
fn diff(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => {
                        if let Some(d) = diff(v, w, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    (v, w) => return Some(format!("{path}.{k}: ferry {v:?} vs helm {w:?}")),
                }
            }
            None
        }
        _ if json_eq(a, b) => None,
        _ => Some(format!("{path}: ferry {a} vs helm {b}")),
    }
}

#[test]
fn computed_values_match_helm_on_the_corpus() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared not found, no corpus to compare with");
        return;
    };
    let cases = shared.join("corpus/cases");
    let mut dirs: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let (mut compared, mut failures) = (0, Vec::new());
    for dir in dirs {
        let expected = dir.join("expected/values.json");
        let error = dir.join("expected/error.txt");
        let schema_error = std::fs::read_to_string(&error)
            .ok()
            .filter(|e| e.starts_with("values don't meet"));
        if !expected.exists() && schema_error.is_none() {
            continue;
        }
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
        let (processed, vals) = computed_values(&chart, &user, &mut Warnings::default()).unwrap();
        if let Some(want) = schema_error {
            compared += 1;
            let got = ferry_chart::schema::validate(&processed, &vals)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            if got.trim_end() != want.trim_end() {
                failures.push(format!(
                    "{}: schema error\nferry: {got}\nhelm:  {want}",
                    dir.display()
                ));
            }
            continue;
        }
        assert!(
            ferry_chart::schema::validate(&processed, &vals).is_ok(),
            "{}: ferry's schema check refused values helm accepted",
            dir.display()
        );
        let ours = Value::Map(vals).to_json();
        let helm: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
        compared += 1;
        if let Some(d) = diff(&ours, &helm, "") {
            failures.push(format!(
                "{}: {d}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    println!(
        "corpus values: {compared} compared, {} differ",
        failures.len()
    );
    assert!(compared > 0, "no corpus case was compared");
    assert!(
        failures.is_empty(),
        "values differ from Helm:\n{}",
        failures.join("\n")
    );
}
