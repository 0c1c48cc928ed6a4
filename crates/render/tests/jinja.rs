//! The Jinja flavour (`*.j2` templates, beyond Helm): `testdata/charts/jinja-example` mixes a
//! Jinja Deployment and ConfigMap with Go templates; small charts pin the filters, partials,
//! output names and error locations.

use std::collections::BTreeMap;
use std::path::Path;

use ferry_chart::strvals::ValueOptions;
use ferry_chart::{Chart, File, load, load_files};
use ferry_render::{
    Capabilities, Engine, ReleaseOptions, RenderError, RenderRequest, Rendered, render_release,
};

fn example() -> Chart {
    load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/charts/jinja-example")).unwrap()
}

fn render_with(chart: &Chart, set: &[&str], strict: bool) -> Result<Rendered, RenderError> {
    let opts = ValueOptions {
        values: set.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let user = opts.merge(&mut |p| std::fs::read(p)).unwrap();
    render_release(&RenderRequest {
        chart,
        user_values: &user,
        release: ReleaseOptions {
            name: "demo".into(),
            namespace: "apps".into(),
            ..ReleaseOptions::default()
        },
        caps: Capabilities::default(),
        engine: Engine {
            strict,
            ..Engine::default()
        },
        include_crds: false,
        sub_notes: false,
        skip_schema_validation: false,
    })
}

fn render(chart: &Chart, set: &[&str]) -> Rendered {
    render_with(chart, set, false).unwrap()
}

/// A chart `c` of the given templates (and values.yaml, when given as `values.yaml`).
fn chart(files: &[(&str, &str)]) -> Chart {
    let mut all = vec![File::new(
        "Chart.yaml",
        b"apiVersion: v2\nname: c\nversion: 0.1.0\nappVersion: \"1.0\"\n".to_vec(),
    )];
    all.extend(
        files
            .iter()
            .map(|(n, t)| File::new(*n, t.as_bytes().to_vec())),
    );
    load_files(all, "c").unwrap()
}

/// The example's Deployment written as a Go template, as a Helm chart would have it.
const GO_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "jinja-example.fullname" . }}
  labels:
    {{- include "jinja-example.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      annotations:
        checksum/config: {{ .Files.Get "files/app.conf" | sha256sum }}
        {{- range $key, $value := .Values.podAnnotations }}
        {{ $key }}: {{ $value | quote }}
        {{- end }}
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: {{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: 8080
          env:
          {{- range $name, $value := .Values.env }}
            - name: {{ $name }}
              value: {{ $value | quote }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
"#;

const DEPLOYMENT: &str = "jinja-example/templates/deployment.yaml";

#[test]
fn jinja_deployment_equals_the_go_template_one() {
    let jinja = example();
    let mut go = example();
    go.templates
        .retain(|t| t.name != "templates/deployment.yaml.j2");
    go.templates.push(File::new(
        "templates/deployment.yaml",
        GO_DEPLOYMENT.as_bytes().to_vec(),
    ));
    for set in [
        &[][..],
        &[
            "replicaCount=5",
            "image.tag=1.27",
            "podAnnotations.team=web",
            "podAnnotations.tier=front",
            "env.EXTRA=yes",
            "resources.requests.cpu=50m",
        ][..],
    ] {
        let (j, g) = (render(&jinja, set), render(&go, set));
        // the Jinja one renders to the same output (the example's output is YAML that
        // needs no `.j2`-specific handling)
        let jd = &j.files[DEPLOYMENT];
        let gd = &g.files[DEPLOYMENT];
        assert_eq!(
            ferry_chart::yaml::parse(jd).unwrap(),
            ferry_chart::yaml::parse(gd).unwrap(),
            "values {set:?}:\n--- jinja\n{jd}\n--- go\n{gd}"
        );
        assert_eq!(jd.trim_end(), gd.trim_end(), "values {set:?}");
        assert_eq!(j.manifest, g.manifest, "values {set:?}");
    }
}

#[test]
fn values_overrides_reach_jinja_templates() {
    let r = render(
        &example(),
        &["replicaCount=7", "image.tag=9.9", "env.NEW=1"],
    );
    let d = &r.files[DEPLOYMENT];
    assert!(d.contains("  replicas: 7\n"), "{d}");
    assert!(d.contains("image: \"nginx:9.9\"\n"), "{d}");
    assert!(
        d.contains("- name: NEW\n              value: \"1\"\n"),
        "{d}"
    );
    // values.yaml numbers are floats in Helm and print as Go prints them
    let r = render(&example(), &[]);
    assert!(r.files[DEPLOYMENT].contains("  replicas: 2\n"));
    assert!(
        r.files[DEPLOYMENT].contains("image: \"nginx:2.4.1\"\n"),
        "default(Chart.AppVersion)"
    );
}

#[test]
fn output_names_drop_j2_and_partials_render_nothing() {
    let r = render(&example(), &[]);
    let keys: Vec<&str> = r.files.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "jinja-example/templates/NOTES.txt",
            "jinja-example/templates/configmap.yaml",
            "jinja-example/templates/deployment.yaml",
            "jinja-example/templates/service.yaml",
        ]
    );
    assert!(
        r.manifest
            .contains("# Source: jinja-example/templates/deployment.yaml\napiVersion: apps/v1\n")
    );
    let cm = &r.files["jinja-example/templates/configmap.yaml"];
    assert!(cm.contains("name: demo-jinja-example-config\n"), "{cm}");
    assert!(cm.contains("greeting: \"hello from demo\"\n"), "tpl: {cm}");
    assert!(cm.contains("kube: \"v1.36.0\"\n"), "{cm}");
    assert!(cm.contains("hasApps: \"true\"\n"), "{cm}");
    assert!(
        cm.contains("app.conf: |\n    listen 8080;\n    worker_processes 2;\n"),
        "{cm}"
    );
}

#[test]
fn filters_mirror_helm_helpers() {
    let c = chart(&[
        (
            "values.yaml",
            "s: hello\nnum: 3\nf: 1.5\nbig: 1000000\nempty: \"\"\nzero: 0\nlist: [a, b]\nm: {b: 2, a: {x: [1, 2]}}\nname: my-release-name-\nt: true\n",
        ),
        (
            // NOTES.txt: the output need not be YAML
            "templates/NOTES.txt.j2",
            r#"q: {{ Values.s | quote }} {{ Values.num | quote }} {{ none | quote }}|
sq: {{ Values.s | squote }}
b64: {{ Values.s | b64enc }} {{ Values.s | b64enc | b64dec }}
trunc: {{ Values.s | trunc(3) }} {{ Values.s | trunc(-2) }}
suffix: {{ Values.name | trimSuffix("-") }} {{ Values.name | trimPrefix("my-") }}
case: {{ Values.s | upper }} {{ "ABC" | lower }}
default: {{ Values.empty | default("d1") }} {{ Values.zero | default(5) }} {{ Values.missing | default("d3") }} {{ Values.s | default("no") }}
nums: {{ Values.num }} {{ Values.f }} {{ Values.big }} {{ Values.num + 1 }} {{ Values.t }}
json: {{ Values.m | tojson }} {{ Values.list | toJson }} {{ {"k": [1, 2.5, none]} | tojson }}
yaml: {{ Values.m | toyaml | nindent(2) }}
ind: [{{ "a\nb" | indent(2) }}]
from: {{ ("a: [1]" | fromyaml).a[0] }} {{ ('{"b": 2}' | fromjson).b }}
sha: {{ "abc" | sha256sum }}
items: {% for k, v in Values.m.items() %}{{ k }}{% endfor %} {{ Values.m.keys() | join(",") }} {{ Values.m.get("zz", "dflt") }}
"#,
        ),
    ]);
    let r = render(&c, &[]);
    let out = &r.notes;
    let want = r#"q: "hello" "3" |
sq: 'hello'
b64: aGVsbG8= hello
trunc: hel lo
suffix: my-release-name release-name-
case: HELLO abc
default: d1 5 d3 hello
nums: 3 1.5 1e+06 4 true
json: {"a":{"x":[1,2]},"b":2} ["a","b"] {"k":[1,2.5,null]}
yaml: 
  a:
    x:
    - 1
    - 2
  b: 2
ind: [  a
  b]
from: 1 2
sha: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
items: ab a,b dflt
"#;
    assert_eq!(out, want);
}

#[test]
fn macros_from_partials_in_subcharts_see_their_own_values() {
    let c = load_files(
        vec![
            File::new(
                "Chart.yaml",
                b"apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n- name: sub\n  version: 0.1.0\n".to_vec(),
            ),
            File::new("values.yaml", b"who: top\nsub:\n  who: sub-value\n".to_vec()),
            File::new(
                "templates/_lib.j2",
                b"{% macro hello(x) %}hello {{ x }} from {{ Chart.Name }}{% endmacro %}".to_vec(),
            ),
            File::new(
                "templates/a.yaml.j2",
                b"{% from \"_lib.j2\" import hello %}\nv: {{ hello(Values.who) }}\nsub: {{ Values.sub.who }}\nname: {{ Template.Name }} {{ Template.BasePath }}\n".to_vec(),
            ),
            File::new("charts/sub/Chart.yaml", b"apiVersion: v2\nname: sub\nversion: 0.1.0\n".to_vec()),
            File::new(
                "charts/sub/templates/_lib.j2",
                b"{% macro who() %}{{ Values.who }}/{{ Chart.Name }}{% endmacro %}".to_vec(),
            ),
            File::new(
                "charts/sub/templates/b.yaml.j2",
                b"{% import \"_lib.j2\" as lib %}\nv: {{ lib.who() }}\ntop: {{ include(\"top.name\") }}\n".to_vec(),
            ),
            File::new(
                "templates/_names.tpl",
                b"{{ define \"top.name\" }}{{ .Chart.Name }}:{{ .Values.who }}{{ end }}".to_vec(),
            ),
        ],
        "top",
    )
    .unwrap();
    let r = render(&c, &[]);
    assert_eq!(
        r.files["top/templates/a.yaml"],
        "v: hello top from top\nsub: sub-value\nname: top/templates/a.yaml.j2 top/templates\n"
    );
    assert_eq!(
        r.files["top/charts/sub/templates/b.yaml"],
        "v: sub-value/sub\ntop: sub:sub-value\n"
    );
    assert!(!r.files.keys().any(|k| k.contains("_lib")));
}

#[test]
fn a_template_and_its_j2_twin_collide() {
    let c = chart(&[
        ("templates/cm.yaml", "a: 1\n"),
        ("templates/cm.yaml.j2", "a: 2\n"),
    ]);
    let e = render_with(&c, &[], false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template c/templates/cm.yaml is rendered twice: from c/templates/cm.yaml and from c/templates/cm.yaml.j2"
    );
}

#[test]
fn errors_name_file_line_and_column() {
    // required, like Helm's
    let c = chart(&[(
        "templates/cm.yaml.j2",
        "kind: ConfigMap\ndata:\n  tag: {{ Values.image | required(\"image is required\") }}\n",
    )]);
    let RenderError::Template(e) = render_with(&c, &[], false).unwrap_err() else {
        panic!("not a template error");
    };
    assert_eq!(
        e.message,
        "execution error at (c/templates/cm.yaml.j2:3:25): image is required"
    );
    assert_eq!(
        e.snippet.as_deref(),
        Some(
            "  3 |   tag: {{ Values.image | required(\"image is required\") }}\n    |                          ^"
        )
    );
    assert_eq!(
        format!("{e:#}"),
        format!("{}\n{}", e.message, e.snippet.as_deref().unwrap())
    );

    // syntax errors
    let c = chart(&[("templates/x.yaml.j2", "a: 1\nb: {{ Values.x + }}\n")]);
    let e = render_with(&c, &[], false).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("parse error at (c/templates/x.yaml.j2:2:"),
        "{e}"
    );

    // undefined in strict mode; attribute of undefined always
    let c = chart(&[("templates/x.yaml.j2", "a: {{ Values.nope }}\n")]);
    assert_eq!(render(&c, &[]).files["c/templates/x.yaml"], "a: \n");
    let e = render_with(&c, &[], true).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("execution error at (c/templates/x.yaml.j2:1:"),
        "{e}"
    );
    let c = chart(&[("templates/x.yaml.j2", "\n\na: {{ Values.no.deeper }}\n")]);
    let e = render_with(&c, &[], false).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("execution error at (c/templates/x.yaml.j2:3:"),
        "{e}"
    );

    // errors in an imported macro point at the partial
    let c = chart(&[
        (
            "templates/_h.j2",
            "{% macro m() %}\n{{ fail(\"from macro\") }}\n{% endmacro %}",
        ),
        (
            "templates/x.yaml.j2",
            "{% import \"_h.j2\" as h %}\na: {{ h.m() }}\n",
        ),
    ]);
    let e = render_with(&c, &[], false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "execution error at (c/templates/_h.j2:2:3): from macro"
    );

    // include of a define that does not exist, tpl that does not parse: Helm's wording
    let c = chart(&[(
        "templates/x.yaml.j2",
        "a: {{ include(\"nope\") }}\nb: {{ tpl(\"{{ x\") }}\n",
    )]);
    let e = render_with(&c, &[], false).unwrap_err().to_string();
    assert!(
        e.starts_with("execution error at (c/templates/x.yaml.j2:1:")
            && e.ends_with("): error calling include: template: no template \"nope\" associated with template \"gotpl\""),
        "{e}"
    );
    let c = chart(&[("templates/x.yaml.j2", "b: {{ tpl(\"{{ x\") }}\n")]);
    let e = render_with(&c, &[], false).unwrap_err().to_string();
    assert!(
        e.starts_with("execution error at (c/templates/x.yaml.j2:1:")
            && e.contains(
                "): error calling tpl: cannot parse template \"{{ x\": template: gotpl:1:"
            ),
        "{e}"
    );

    // a failing Go define under include: both places are shown
    let c = chart(&[
        (
            "templates/_h.tpl",
            "{{ define \"c.bad\" }}\n{{ fail \"go says no\" }}\n{{ end }}",
        ),
        (
            "templates/x.yaml.j2",
            "a: 1\nb: {{ include(\"c.bad\", ctx) }}\n",
        ),
    ]);
    let RenderError::Template(e) = render_with(&c, &[], false).unwrap_err() else {
        panic!("not a template error");
    };
    assert_eq!(
        e.message,
        "execution error at (c/templates/x.yaml.j2:2:6): error calling include: execution error at (c/templates/_h.tpl:2:3): go says no"
    );
    let s = e.snippet.unwrap();
    assert!(
        s.contains("  --> c/templates/x.yaml.j2:2:6\n  2 | b: {{ include(\"c.bad\", ctx) }}\n")
            && s.contains(
                "  --> c/templates/_h.tpl:2:3\n  2 | {{ fail \"go says no\" }}\n    |    ^"
            ),
        "{s}"
    );
}

#[test]
fn charts_without_j2_render_as_before() {
    // a `.j2`-free chart goes through the Go engine alone (the corpus and conformance tests
    // check it byte for byte against Helm); here: a `.j2` file elsewhere than templates/ is
    // just a file
    let c = chart(&[
        ("templates/a.yaml", "a: {{ .Files.Get \"x.j2\" | quote }}\n"),
        ("x.j2", "{{ not jinja }}"),
    ]);
    let r = render(&c, &[]);
    let want: BTreeMap<String, String> = [(
        "c/templates/a.yaml".to_string(),
        "a: \"{{ not jinja }}\"\n".to_string(),
    )]
    .into_iter()
    .collect();
    assert_eq!(r.files, want);
}
