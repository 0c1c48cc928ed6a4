//! The manifest stage against Helm: from Helm's own render map (`expected/render.json` of each
//! corpus case), splitting, hook separation and install-order sorting must give exactly the
//! manifest Helm stored (`expected/manifest.yaml`) and the notes it kept (`expected/notes.txt`).

use std::collections::BTreeMap;
use std::path::Path;

use ferry_render::manifest::{INSTALL_ORDER, manifest_text, sort_manifests};

/// `render.json` and `manifest.yaml` come from two Helm runs, so generated passwords and
/// certificates differ between them: lines may differ only inside long base64-like runs.
fn same_modulo_random(a: &str, b: &str) -> bool {
    let mask = |l: &str| {
        let re = regex::Regex::new(r"[A-Za-z0-9+/=]{10,}").unwrap();
        re.replace_all(l, "<random>").into_owned()
    };
    a.lines().count() == b.lines().count()
        && a.lines()
            .zip(b.lines())
            .all(|(x, y)| x == y || mask(x) == mask(y))
        && a.ends_with('\n') == b.ends_with('\n')
}

#[test]
fn manifest_stage_matches_helm_on_the_corpus() {
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
    let (mut compared, mut failures) = (0, Vec::new());
    for dir in dirs {
        let (render, manifest) = (
            dir.join("expected/render.json"),
            dir.join("expected/manifest.yaml"),
        );
        if !render.exists() || !manifest.exists() {
            continue;
        }
        let map: BTreeMap<String, String> =
            serde_json::from_str(&std::fs::read_to_string(&render).unwrap()).unwrap();
        let root = map
            .keys()
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let mut notes = String::new();
        let files: BTreeMap<String, String> = map
            .into_iter()
            .filter(|(k, v)| {
                if k.ends_with("NOTES.txt") {
                    if *k == format!("{root}/templates/NOTES.txt") {
                        notes = v.clone();
                    }
                    return false;
                }
                true
            })
            .collect();
        compared += 1;
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        match sort_manifests(&files, INSTALL_ORDER) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok((_, manifests)) => {
                let want = std::fs::read_to_string(&manifest).unwrap();
                let got = manifest_text(&manifests);
                if !same_modulo_random(&got, &want) {
                    let line = got
                        .lines()
                        .zip(want.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(got.lines().count().min(want.lines().count()));
                    failures.push(format!(
                        "{name}: manifest differs at line {}: ferry {:?} vs helm {:?}",
                        line + 1,
                        got.lines().nth(line),
                        want.lines().nth(line)
                    ));
                }
                let want_notes =
                    std::fs::read_to_string(dir.join("expected/notes.txt")).unwrap_or_default();
                if notes != want_notes {
                    failures.push(format!("{name}: notes differ"));
                }
            }
        }
    }
    println!(
        "corpus manifest stage: {compared} compared, {} differ",
        failures.len()
    );
    assert!(compared > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
