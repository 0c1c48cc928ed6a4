//! Golden cases in `testdata/gotmpl/`: `NAME.txt` holds the values as JSON
//! on the first line, a `---` line, then the template. `NAME.out` is the
//! output real Helm produced (`helm-oracle eval`), or `NAME.err` a part of
//! Helm's error message that ours must contain. Adding a case means adding
//! files.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry_gotmpl::Value;

fn json_to_value(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::list(a.iter().map(json_to_value)),
        serde_json::Value::Object(o) => {
            Value::map(o.iter().map(|(k, v)| (k.clone(), json_to_value(v))))
        }
    }
}

fn check(name: &str, text: &str, dir: &Path) -> Result<(), String> {
    let (values, template) = text
        .split_once("\n---\n")
        .ok_or_else(|| format!("{name}: no --- line"))?;
    let values: serde_json::Value =
        serde_json::from_str(values).map_err(|e| format!("{name}: values: {e}"))?;
    let values: BTreeMap<String, Value> = match json_to_value(&values) {
        Value::Map(m) => m.entries().into_iter().collect(),
        _ => BTreeMap::new(),
    };
    let got = support::helm_render(&support::sprig_subset(), template, None, values);
    let out = std::fs::read_to_string(dir.join(format!("{name}.out")));
    let err = std::fs::read_to_string(dir.join(format!("{name}.err")));
    match (got, out, err) {
        (Ok(got), Ok(want), _) if got == want => Ok(()),
        (Err(e), _, Ok(want)) if e.to_string().contains(want.trim_end_matches('\n')) => Ok(()),
        (got, out, err) => Err(format!(
            "{name}: got {:?}, want {:?}",
            got.map_err(|e| e.to_string()),
            out.ok()
                .or(err.ok().map(|e| format!("error containing {e:?}")))
        )),
    }
}

#[test]
fn golden_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/gotmpl");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata/gotmpl exists")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".txt"))
                .map(String::from)
        })
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for name in &names {
        let text = std::fs::read_to_string(dir.join(format!("{name}.txt"))).unwrap_or_default();
        if let Err(e) = check(name, &text, &dir) {
            failures.push(e);
        }
    }
    eprintln!(
        "golden cases: {}/{} passed",
        names.len() - failures.len(),
        names.len()
    );
    for f in &failures {
        eprintln!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} golden cases failed",
        failures.len()
    );
}
