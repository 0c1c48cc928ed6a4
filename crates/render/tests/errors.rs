//! Template errors beyond Helm: the message stays Helm's (byte for byte: `Display`, what the
//! corpus compares), and `TemplateError::snippet` / `{:#}` add the source line of each
//! template the error passes through, with a caret under Go's column.

use ferry_chart::{Chart, File, Map, load_files};
use ferry_render::{
    Capabilities, Engine, ReleaseOptions, RenderError, RenderRequest, TemplateError, render_release,
};

fn chart(files: &[(&str, &str)]) -> Chart {
    let mut all = vec![File::new(
        "Chart.yaml",
        b"apiVersion: v2\nname: mychart\nversion: 0.1.0\n".to_vec(),
    )];
    all.extend(
        files
            .iter()
            .map(|(n, t)| File::new(*n, t.as_bytes().to_vec())),
    );
    load_files(all, "mychart").unwrap()
}

fn error(files: &[(&str, &str)]) -> TemplateError {
    let c = chart(files);
    let r = render_release(&RenderRequest {
        chart: &c,
        user_values: &Map::new(),
        release: ReleaseOptions::default(),
        caps: Capabilities::default(),
        engine: Engine::default(),
        include_crds: false,
        sub_notes: false,
        skip_schema_validation: false,
    });
    match r {
        Err(RenderError::Template(e)) => e,
        Err(e) => panic!("not a template error: {e}"),
        Ok(_) => panic!("rendered"),
    }
}

#[test]
fn exec_error_gets_line_and_caret() {
    let e = error(&[
        ("values.yaml", "foo: {}\n"),
        (
            "templates/deploy.yaml",
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          image: {{ .Values.foo.bar.baz }}\n",
        ),
    ]);
    // Helm's message, untouched (Go reports a field chain at its second field)
    assert_eq!(
        e.to_string(),
        "mychart/templates/deploy.yaml:7:27\n  executing \"mychart/templates/deploy.yaml\" at <.Values.foo.bar.baz>:\n    nil pointer evaluating interface {}.baz"
    );
    assert_eq!(
        e.snippet.as_deref(),
        Some(
            "  7 |           image: {{ .Values.foo.bar.baz }}\n    |                            ^"
        )
    );
    assert_eq!(
        format!("{e:#}"),
        format!("{}\n{}", e.message, e.snippet.unwrap())
    );
}

#[test]
fn parse_error_shows_the_line_without_a_caret() {
    let e = error(&[(
        "templates/cm.yaml",
        "kind: ConfigMap\ndata:\n  a: {{ .Values.x | nosuchfunc }}\n",
    )]);
    assert_eq!(
        e.to_string(),
        "parse error at (mychart/templates/cm.yaml:3): function \"nosuchfunc\" not defined"
    );
    assert_eq!(
        e.snippet.as_deref(),
        Some("  3 |   a: {{ .Values.x | nosuchfunc }}")
    );
}

#[test]
fn fail_and_required_point_at_the_call() {
    let e = error(&[(
        "templates/cm.yaml",
        "kind: ConfigMap\ndata:\n  a: {{ required \"a is required\" .Values.a }}\n",
    )]);
    assert_eq!(
        e.to_string(),
        "execution error at (mychart/templates/cm.yaml:3:8): a is required"
    );
    assert_eq!(
        e.snippet.as_deref(),
        Some("  3 |   a: {{ required \"a is required\" .Values.a }}\n    |         ^")
    );
}

#[test]
fn include_chains_show_every_template() {
    let e = error(&[
        (
            "templates/_helpers.tpl",
            "{{/* helpers */}}\n{{- define \"mychart.name\" -}}\n{{ .Values.name.first }}\n{{- end }}\n",
        ),
        (
            "templates/svc.yaml",
            "kind: Service\nmetadata:\n  name: {{ include \"mychart.name\" . }}\n",
        ),
        ("values.yaml", "name: plain\n"),
    ]);
    let s = e.snippet.clone().unwrap();
    assert_eq!(
        s,
        "  --> mychart/templates/svc.yaml:3:11\n  3 |   name: {{ include \"mychart.name\" . }}\n    |            ^\n  --> mychart/templates/_helpers.tpl:3:10\n  3 | {{ .Values.name.first }}\n    |           ^"
    );
    // the first line is still Helm's
    assert!(
        e.message.starts_with(
            "mychart/templates/svc.yaml:3:11\n  executing \"mychart/templates/svc.yaml\""
        ),
        "{}",
        e.message
    );
}

#[test]
fn subchart_templates_have_snippets_too() {
    let e = error(&[
        (
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
        ),
        (
            "charts/sub/templates/x.yaml",
            "a: 1\n\tb: {{ fail \"sub fails\" }}\n",
        ),
    ]);
    assert_eq!(
        e.to_string(),
        "execution error at (mychart/charts/sub/templates/x.yaml:2:7): sub fails"
    );
    // tabs are kept so the caret lines up
    assert_eq!(
        e.snippet.as_deref(),
        Some("  2 | \tb: {{ fail \"sub fails\" }}\n    | \t      ^")
    );
}

#[test]
fn tpl_errors_point_at_the_tpl_call_not_into_the_string() {
    let e = error(&[
        ("values.yaml", "greeting: \"{{ .Values.nope.deeper }}\"\n"),
        (
            "templates/cm.yaml",
            "kind: ConfigMap\ndata:\n  g: {{ tpl .Values.greeting . }}\n",
        ),
    ]);
    assert!(
        e.message
            .contains("error during tpl function execution for"),
        "{}",
        e.message
    );
    assert_eq!(
        e.snippet.as_deref(),
        Some("  3 |   g: {{ tpl .Values.greeting . }}\n    |         ^")
    );
}

#[test]
fn long_lines_are_cut_around_the_caret() {
    let long = format!(
        "a: \"{}\" {{{{ fail \"x\" }}}} \"{}\"\n",
        "y".repeat(300),
        "z".repeat(300)
    );
    let e = error(&[("templates/l.yaml", &long)]);
    let s = e.snippet.unwrap();
    let first = s.lines().next().unwrap();
    assert!(first.len() < 180, "{first}");
    assert!(first.contains("...") && first.contains("fail"), "{first}");
    // the caret sits under `fail`
    let caret = s.lines().nth(1).unwrap().find('^').unwrap();
    assert_eq!(&first[caret..caret + 4], "fail", "{s}");
}
