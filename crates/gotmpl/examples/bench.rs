//! Parses and executes a large synthetic template set and prints timings.
//!
//! `cargo run --release -p ferry-gotmpl --example bench [TEMPLATES] [RUNS]`
//!
//! Uses builtins only (no Sprig), so it measures this crate alone: lexing,
//! parsing, and execution of field chains, pipelines, `range`, `if`,
//! `with`, `template` calls and `printf`.

use std::time::Instant;

use ferry_gotmpl::{Funcs, Map, MissingKey, Templates, Value};

const HELPERS: &str = r#"
{{- define "name" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "labels" -}}
app: {{ template "name" . }}
chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- range $k, $v := .Values.labels }}
{{ $k }}: {{ $v | printf "%q" }}
{{- end }}
{{- end -}}
"#;

fn template(i: usize) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{{{ template "name" . }}}}-{i}
  labels:
{{{{- template "labels" . }}}}
data:
{{{{- range $i, $e := .Values.items }}}}
  {{{{- if and $e.enabled (gt (len $e.name) 0) }}}}
  item-{{{{ $i }}}}: {{{{ printf "%s=%v" $e.name $e.value | printf "%q" }}}}
  {{{{- else }}}}
  {{{{- with $e.fallback }}}}
  fb-{{{{ $i }}}}: {{{{ . }}}}
  {{{{- end }}}}
  {{{{- end }}}}
{{{{- end }}}}
  replicas: {{{{ .Values.replicas }}}}
  ratio: {{{{ .Values.ratio }}}}
  missing: "{{{{ .Values.missing }}}}"
"#
    )
}

fn data() -> Value {
    let items: Vec<Value> = (0..50)
        .map(|i| {
            Value::map([
                (
                    "name",
                    Value::from(if i % 7 == 0 {
                        String::new()
                    } else {
                        format!("n{i}")
                    }),
                ),
                ("value", Value::Float(i as f64 * 1.5)),
                ("enabled", Value::Bool(i % 3 != 0)),
                ("fallback", Value::from(format!("f{i}"))),
            ])
        })
        .collect();
    let labels = Value::map((0..10).map(|i| (format!("l{i}"), Value::from(format!("v{i}")))));
    let values = Value::map([
        ("items", Value::list(items)),
        ("labels", labels),
        ("replicas", Value::Float(3.0)),
        ("ratio", Value::Float(1e6)),
    ]);
    Value::Map(Map::from_entries([
        ("Values", values),
        (
            "Release",
            Value::map([
                ("Name", Value::from("rel")),
                ("Namespace", Value::from("ns")),
            ]),
        ),
        (
            "Chart",
            Value::map([
                ("Name", Value::from("t")),
                ("Version", Value::from("0.1.0")),
            ]),
        ),
    ]))
}

fn main() -> Result<(), ferry_gotmpl::Error> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let texts: Vec<String> = (0..n).map(template).collect();

    let t0 = Instant::now();
    let mut set = Templates::new(Funcs::new()).with_missing_key(MissingKey::Zero);
    set.parse("_helpers.tpl", HELPERS)?;
    for (i, t) in texts.iter().enumerate() {
        set.parse(&format!("t{i}.yaml"), t)?;
    }
    let parse = t0.elapsed();

    let data = data();
    let t1 = Instant::now();
    let mut bytes = 0;
    for _ in 0..runs {
        for i in 0..n {
            bytes += set.execute(&format!("t{i}.yaml"), &data)?.len();
        }
    }
    let exec = t1.elapsed();
    let src: usize = texts.iter().map(String::len).sum();
    println!(
        "parse: {n} templates ({src} bytes) in {parse:?}; execute: {} runs, {bytes} bytes out in {exec:?} ({:?}/template)",
        runs * n,
        exec / (runs * n) as u32
    );
    Ok(())
}
