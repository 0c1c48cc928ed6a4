//! Runs every `gotmpl/...` vector of the shared conformance file
//! (`../shared/conformance/template-vectors.jsonl`, rendered by real Helm).
//!
//! Vectors that need functions this crate does not own (Sprig/Helm
//! functions beyond the small subset in `support`) or that fail while Helm
//! loads the values file are counted separately and left to the crates that
//! own them.

mod support;

use std::path::PathBuf;

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/template-vectors.jsonl")
}

enum Outcome {
    Pass,
    NeedsFunction(String),
    ValuesLoad,
    Fail(String),
}

fn run_vector(funcs: &ferry_gotmpl::Funcs, v: &serde_json::Value) -> Outcome {
    let template = v["template"].as_str().unwrap_or_default();
    let helpers = v["helpers"].as_str();
    let values = match v["values_yaml"].as_str() {
        None => Default::default(),
        Some(y) => match support::load_values(y) {
            Ok(m) => m,
            Err(_) => return Outcome::ValuesLoad,
        },
    };
    let result = support::helm_render(funcs, template, helpers, values);
    match (result, v["expect"].as_str(), v["error"].as_str()) {
        (Ok(out), Some(want), _) => {
            if out == want {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("output {out:?}, want {want:?}"))
            }
        }
        (Ok(out), None, Some(want)) => Outcome::Fail(format!(
            "no error (output {out:?}), want error containing {want:?}"
        )),
        (Err(e), want_out, want_err) => {
            let msg = e.to_string();
            if let Some(name) = msg
                .split("function \"")
                .nth(1)
                .filter(|_| msg.contains("\" not defined"))
                .and_then(|r| r.split('"').next())
                && !want_err.is_some_and(|w| msg.contains(w))
                && !funcs.has(name)
            {
                return Outcome::NeedsFunction(name.to_string());
            }
            if std::env::var_os("GOTMPL_VERBOSE").is_some() {
                eprintln!(
                    "{}\n  ours: {msg}\n  helm: {}",
                    v["id"].as_str().unwrap_or_default(),
                    v["error_full"].as_str().unwrap_or("-")
                );
            }
            match want_err {
                Some(w) if msg.contains(w) => Outcome::Pass,
                Some(w) => Outcome::Fail(format!("error {msg:?}, want containing {w:?}")),
                None => Outcome::Fail(format!("error {msg:?}, want output {want_out:?}")),
            }
        }
        (Ok(_), None, None) => Outcome::Fail("vector has neither expect nor error".into()),
    }
}

#[test]
fn gotmpl_vectors() {
    let path = vectors_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: ../shared not found ({})", path.display());
        return;
    };
    let funcs = support::sprig_subset();
    let (mut total, mut pass, mut values_load) = (0, 0, 0);
    let mut needs: Vec<(String, String)> = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("vector is JSON");
        let id = v["id"].as_str().unwrap_or_default().to_string();
        if !id.starts_with("gotmpl/") {
            continue;
        }
        total += 1;
        match run_vector(&funcs, &v) {
            Outcome::Pass => pass += 1,
            Outcome::NeedsFunction(f) => needs.push((id, f)),
            Outcome::ValuesLoad => values_load += 1,
            Outcome::Fail(why) => failures.push((id, why)),
        }
    }
    eprintln!(
        "gotmpl conformance: {pass}/{total} passed; {} need Sprig/Helm functions not in this crate; \
         {values_load} fail in Helm's values loading (chart crate); {} failed",
        needs.len(),
        failures.len()
    );
    for (id, f) in &needs {
        eprintln!("  needs {f}: {id}");
    }
    for (id, why) in &failures {
        eprintln!("  FAIL {id}: {why}");
    }
    assert!(failures.is_empty(), "{} vectors failed", failures.len());
}
