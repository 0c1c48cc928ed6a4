//! The manifest stage reading documents while the render still runs
//! (`Engine::render_observed` + `ReadAhead`) gives what reading them after the render gives.

use std::collections::BTreeMap;

use ferry_chart::Map;
use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_render::manifest::{INSTALL_ORDER, ReadAhead, sort_manifests_ahead, sort_manifests_of};
use ferry_render::{Capabilities, Engine};

mod common;
use common::{chart, release};

type Observed = Vec<(String, String)>;

fn render_observed(files: &[(&str, &str)]) -> (Observed, Result<BTreeMap<String, String>, String>) {
    let (_dir, chart) = chart(files);
    let (processed, values) =
        computed_values(&chart, &Map::new(), &mut Warnings::default()).expect("values");
    let mut seen = Vec::new();
    let out = Engine::default()
        .render_observed(
            &processed,
            &values,
            &release(),
            &Capabilities::default(),
            &mut |path, text, _late| seen.push((path.to_string(), text.to_string())),
        )
        .map_err(|e| e.to_string());
    (seen, out)
}

const CHART_YAML: &str = "apiVersion: v2\nname: demo\nversion: 1.0.0\n";

#[test]
fn the_observer_sees_every_go_template_output_as_the_render_map_holds_it() {
    let (seen, out) = render_observed(&[
        ("Chart.yaml", CHART_YAML),
        ("values.yaml", "n: 3\n"),
        (
            "templates/_helpers.tpl",
            "{{ define \"x\" }}x-{{ .Values.n }}{{ end }}",
        ),
        (
            "templates/a.yaml",
            "kind: ConfigMap\nmetadata:\n  name: {{ include \"x\" . }}\n  missing: {{ .Values.nope }}\n",
        ),
        (
            "templates/b.yaml",
            "{{ range until (int .Values.n) }}---\nkind: Secret\n{{ end }}",
        ),
        ("templates/NOTES.txt", "notes {{ .Release.Name }}"),
    ]);
    let out = out.expect("renders");
    let map: Vec<(String, String)> = out.into_iter().collect();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, map, "one call per template, with the map's text");
    // `<no value>` is already gone from what the observer sees
    let a = &seen
        .iter()
        .find(|(p, _)| p == "demo/templates/a.yaml")
        .expect("a seen")
        .1;
    assert!(a.contains("missing: \n"), "{a}");
}

#[test]
fn a_failing_render_shows_what_rendered_before_the_failure_and_fails_as_render() {
    let files = [
        ("Chart.yaml", CHART_YAML),
        ("templates/a.yaml", "kind: A\n"),
        ("templates/b.yaml", "{{ fail \"no\" }}"),
        ("templates/c.yaml", "kind: C\n"),
    ];
    let (seen, out) = render_observed(&files);
    let err = out.expect_err("fail stops the render");
    assert!(err.contains("demo/templates/b.yaml"), "{err}");
    assert!(
        seen.iter().all(|(p, _)| p != "demo/templates/b.yaml"),
        "{seen:?}"
    );
    let (_dir, c) = chart(&files);
    let (processed, values) =
        computed_values(&c, &Map::new(), &mut Warnings::default()).expect("values");
    let plain = Engine::default()
        .render(&processed, &values, &release(), &Capabilities::default())
        .map_err(|e| e.to_string());
    assert_eq!(plain, Err(err));
}

fn rendered(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

/// The given files of a render, read ahead.
fn read_ahead(files: &BTreeMap<String, String>, read: &[&str]) -> ReadAhead {
    let mut ahead = ReadAhead::default();
    for p in read {
        ahead.read(p, &files[*p]);
    }
    ahead
}

#[test]
fn sorting_with_files_read_ahead_equals_sorting_them_afterwards() {
    let files = rendered(&[
        (
            "c/templates/a.yaml",
            "kind: Deployment\nmetadata:\n  name: d\n---\n\n---\nkind: Service\nmetadata:\n  name: s\n",
        ),
        (
            "c/templates/hook.yaml",
            "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install,post-upgrade\n    helm.sh/hook-weight: \"-2\"\n",
        ),
        ("c/templates/_p.tpl", "not: [yaml"),
        ("c/templates/blank.yaml", "  \n"),
        (
            "c/templates/ns.yaml",
            "kind: Namespace\nmetadata:\n  name: n\n",
        ),
    ]);
    let plain = sort_manifests_of(&files, INSTALL_ORDER);
    assert!(plain.is_ok(), "{plain:?}");
    // all read ahead, none, some, and one read from another text (read again)
    let all: Vec<&str> = files.keys().map(String::as_str).collect();
    for read in [
        all.clone(),
        vec![],
        vec!["c/templates/hook.yaml"],
        vec!["c/templates/a.yaml"],
    ] {
        assert_eq!(
            sort_manifests_ahead(&files, INSTALL_ORDER, read_ahead(&files, &read)),
            plain,
            "{read:?}"
        );
    }
    let mut stale = ReadAhead::default();
    stale.read(
        "c/templates/ns.yaml",
        "kind: Secret\nmetadata:\n  name: other-length\n",
    );
    assert_eq!(sort_manifests_ahead(&files, INSTALL_ORDER, stale), plain);
}

#[test]
fn the_first_bad_document_in_path_order_is_the_error_whichever_was_read_first() {
    let files = rendered(&[
        ("c/templates/a.yaml", "kind: A\n"),
        ("c/templates/b.yaml", "kind: B\nmetadata: [\n"),
        ("c/templates/z.yaml", "kind: Z\n  bad: indentation\n"),
    ]);
    let plain = sort_manifests_of(&files, INSTALL_ORDER);
    let err = plain.clone().expect_err("b is not YAML");
    assert_eq!(err.path, "c/templates/b.yaml");
    for read in [
        vec!["c/templates/z.yaml"],
        vec!["c/templates/b.yaml", "c/templates/z.yaml"],
    ] {
        assert_eq!(
            sort_manifests_ahead(&files, INSTALL_ORDER, read_ahead(&files, &read)),
            plain,
            "{read:?}"
        );
    }
}
