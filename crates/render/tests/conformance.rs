//! Every vector of `../shared/conformance/template-vectors.jsonl` (rendered by real Helm)
//! through ferry's full render path: a throwaway chart `t` with the vector's template,
//! helpers and values.yaml, release `rel` in namespace `ns`, install, revision 1.

use std::collections::BTreeMap;
use std::path::Path;

use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_chart::{File, Map, load_files};
use ferry_render::{Capabilities, Engine, ReleaseOptions};

struct Outcome {
    id: String,
    ok: bool,
    detail: String,
}

fn run(v: &serde_json::Value) -> Outcome {
    let id = v["id"].as_str().unwrap().to_string();
    let mut files = vec![
        File::new(
            "Chart.yaml",
            b"apiVersion: v2\nname: t\nversion: 0.1.0\n".to_vec(),
        ),
        File::new(
            "templates/t.yaml",
            v["template"].as_str().unwrap().as_bytes().to_vec(),
        ),
    ];
    if let Some(h) = v["helpers"].as_str() {
        files.push(File::new("templates/_helpers.tpl", h.as_bytes().to_vec()));
    }
    if let Some(y) = v["values_yaml"].as_str() {
        files.push(File::new("values.yaml", y.as_bytes().to_vec()));
    }
    let result = load_files(files, "t")
        .map_err(|e| e.to_string())
        .and_then(|chart| {
            let (c, vals) = computed_values(&chart, &Map::new(), &mut Warnings::default())
                .map_err(|e| e.to_string())?;
            let rel = ReleaseOptions {
                name: "rel".into(),
                namespace: "ns".into(),
                ..Default::default()
            };
            Engine::default()
                .render(&c, &vals, &rel, &Capabilities::default())
                .map_err(|e| e.message)
        });
    let (ok, detail) = match (result, v["expect"].as_str(), v["error"].as_str()) {
        (Ok(out), Some(want), _) => {
            let got = out.get("t/templates/t.yaml").cloned().unwrap_or_default();
            (got == want, format!("got {got:?}, want {want:?}"))
        }
        (Err(e), _, Some(want)) => (e.contains(want), format!("error {e:?} lacks {want:?}")),
        (Ok(out), None, Some(want)) => (
            false,
            format!(
                "rendered {:?}, helm failed with {want:?}",
                out.get("t/templates/t.yaml")
            ),
        ),
        (Err(e), Some(want), _) => (false, format!("failed with {e:?}, helm rendered {want:?}")),
        (_, None, None) => (false, "vector has neither expect nor error".into()),
    };
    Outcome { id, ok, detail }
}

#[test]
fn template_vectors_render_as_helm() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/template-vectors.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: ../shared/conformance not found");
        return;
    };
    let vectors: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut by_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for v in &vectors {
        let o = run(v);
        let group =
            o.id.rsplit_once('/')
                .map(|(g, _)| g)
                .unwrap_or("")
                .to_string();
        let e = by_group.entry(group).or_default();
        e.1 += 1;
        if o.ok {
            e.0 += 1;
        } else {
            failures.push(format!("{}: {}", o.id, o.detail));
        }
    }
    let passed: usize = by_group.values().map(|x| x.0).sum();
    for (g, (p, t)) in &by_group {
        println!("{g:24} {p:4}/{t}");
    }
    println!(
        "template vectors: {passed} passed, {} failed",
        vectors.len() - passed
    );
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("vector-failures.txt"),
        failures.join("\n"),
    )
    .unwrap();
    let min: usize = std::env::var("FERRY_MIN_VECTORS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= min,
        "only {passed} vectors pass, expected at least {min}"
    );
}
