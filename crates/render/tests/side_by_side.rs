//! Templates run on more than one thread render exactly as Helm's one-by-one order renders
//! them: where templates write shared maps (`.Values`, their chart's context) the later ones
//! see the writes of the earlier ones, in Helm's order, and the first error in that order is
//! the one reported. (Helm's order: deepest paths first, then reverse lexical order.)

mod common;
use common::{chart, release};

use std::collections::BTreeMap;

use ferry_chart::Map;
use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_render::{Capabilities, Engine};

const CHART_YAML: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\n";
/// How often each render runs: the threads interleave differently from run to run.
const RUNS: usize = 25;

/// Renders the chart on one thread, then `RUNS` times on three; every run must give the
/// same result, which it returns.
fn render(files: &[(&str, &str)]) -> Result<BTreeMap<String, String>, String> {
    let (_dir, c) = chart(files);
    let (processed, values) =
        computed_values(&c, &Map::new(), &mut Warnings::default()).expect("values");
    let once = |threads: usize| {
        let mut seen = BTreeMap::new();
        let engine = Engine {
            exec_threads: Some(threads),
            ..Engine::default()
        };
        let out = engine
            .render_observed(
                &processed,
                &values,
                &release(),
                &Capabilities::default(),
                &mut |path, text, _late| {
                    seen.insert(path.to_string(), text.to_string());
                },
            )
            .map_err(|e| e.to_string());
        if let Ok(out) = &out {
            assert_eq!(&seen, out, "the last text seen of each file is the map's");
        }
        out
    };
    let first = once(1);
    for _ in 0..RUNS {
        assert_eq!(once(3), first);
    }
    first
}

/// `t0.yaml` … `t{n-1}.yaml` of `text(i)`, with Chart.yaml and values.yaml.
fn numbered(values: &str, n: usize, text: impl Fn(usize) -> String) -> Vec<(String, String)> {
    let mut files = vec![
        ("Chart.yaml".to_string(), CHART_YAML.to_string()),
        ("values.yaml".to_string(), values.to_string()),
    ];
    files.extend((0..n).map(|i| (format!("templates/t{i}.yaml"), text(i))));
    files
}

/// The output of `templates/t{i}.yaml`.
fn file(out: &BTreeMap<String, String>, i: usize) -> &str {
    &out[&format!("demo/templates/t{i}.yaml")]
}

fn borrowed(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect()
}

#[test]
fn every_template_sees_the_writes_of_those_before_it_in_helms_order() {
    let mut files = numbered("seen: []\nsub:\n  log: {}\n", 10, |i| {
        format!(
            "{{{{- $_ := set .Values \"seen\" (append .Values.seen \"t{i}\") -}}}}\n\
             {{{{- $_ := set $ \"last\" \"t{i}\" -}}}}\n\
             t{i}: {{{{ join \" \" .Values.seen }}}} last={{{{ $.last }}}} sub={{{{ toJson .Values.sub.log }}}}\n"
        )
    });
    // the subchart, deeper, runs first; its values' maps are the parent's
    files.push((
        "charts/sub/Chart.yaml".into(),
        "apiVersion: v2\nname: sub\nversion: 0.1.0\n".into(),
    ));
    files.push(("charts/sub/values.yaml".into(), "log: {}\n".into()));
    files.push((
        "charts/sub/templates/s.yaml".into(),
        "{{- $_ := set .Values.log \"sub\" \"wrote\" -}}\nsub: {{ toJson .Values.log }}\n".into(),
    ));
    let out = render(&borrowed(&files)).expect("renders");
    assert_eq!(
        out["demo/charts/sub/templates/s.yaml"],
        "sub: {\"sub\":\"wrote\"}\n"
    );
    for i in 0..10 {
        let seen: Vec<String> = (i..10).rev().map(|j| format!("t{j}")).collect();
        assert_eq!(
            file(&out, i),
            format!(
                "t{i}: {} last=t{i} sub={{\"sub\":\"wrote\"}}\n",
                seen.join(" ")
            )
        );
    }
}

#[test]
fn writes_late_in_the_order_are_seen_by_the_templates_after_them() {
    // only the last two templates of Helm's order (… t2, t11, t10, t1, t0) write; t0 sees
    // t1's write
    let files = numbered("late: none\n", 12, |i| match i {
        1 => "{{- $_ := set .Values \"late\" \"t1\" -}}t1 {{ .Values.late }}\n".into(),
        0 => {
            "{{- $_ := set .Values \"late\" (print .Values.late \"+t0\") -}}t0 {{ .Values.late }}\n"
                .into()
        }
        i => format!("t{i} {{{{ .Values.late }}}}\n"),
    });
    let out = render(&borrowed(&files)).expect("renders");
    assert_eq!(out["demo/templates/t0.yaml"], "t0 t1+t0\n");
    assert_eq!(out["demo/templates/t1.yaml"], "t1 t1\n");
    for i in 2..12 {
        assert_eq!(file(&out, i), format!("t{i} none\n"));
    }
}

#[test]
fn a_write_early_in_the_order_is_seen_by_every_template_after_it() {
    // t9 runs first and writes; the others only read (on another thread, they would not
    // see the write)
    let files = numbered("early: none\n", 10, |i| match i {
        9 => "{{- $_ := set .Values \"early\" \"t9\" -}}t9\n".into(),
        // busy enough that the other threads take some of them
        i => format!("{{{{ range until 20000 }}}}{{{{ end }}}}t{i} {{{{ .Values.early }}}}\n"),
    });
    let out = render(&borrowed(&files)).expect("renders");
    for i in 0..9 {
        assert_eq!(file(&out, i), format!("t{i} t9\n"));
    }
}

#[test]
fn templates_that_write_only_maps_of_their_own_render_as_in_order() {
    // `dict`, `merge` into a new dict and `fromYaml` make maps of the template's own
    let files = numbered("base:\n  a: 1\n", 16, |i| {
        format!(
            "{{{{- range until 20000 }}}}{{{{ end -}}}}\n\
             {{{{- $d := dict \"i\" {i} -}}}}\n\
             {{{{- $_ := set $d \"sq\" (mul {i} {i}) -}}}}\n\
             {{{{- $m := merge (dict) $d (dict \"b\" 2) -}}}}\n\
             {{{{- $y := fromYaml \"k: v\" -}}}}{{{{- $_ := set $y \"k\" \"w{i}\" -}}}}\n\
             t{i}: {{{{ toJson $m }}}} {{{{ $y.k }}}} {{{{ toJson .Values.base }}}}\n"
        )
    });
    let out = render(&borrowed(&files)).expect("renders");
    for i in 0..16 {
        assert_eq!(
            file(&out, i),
            format!(
                "t{i}: {{\"b\":2,\"i\":{i},\"sq\":{}}} w{i} {{\"a\":1}}\n",
                i * i
            )
        );
    }
}

#[test]
fn the_first_error_in_helms_order_is_the_one_reported() {
    // t7 runs before t2 in Helm's order (… t3, t2, t11, t10, t1, t0); both fail, and so
    // does t0
    let files = numbered("{}\n", 12, |i| match i {
        7 | 2 | 0 => format!("{{{{ fail \"t{i} failed\" }}}}"),
        i => format!("{{{{ range until 20000 }}}}{{{{ end }}}}t{i}\n"),
    });
    let err = render(&borrowed(&files)).expect_err("fails");
    assert!(err.contains("demo/templates/t7.yaml"), "{err}");
    assert!(err.contains("t7 failed"), "{err}");
}
