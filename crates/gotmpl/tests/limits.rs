//! Hostile templates fail with an error instead of overflowing the stack
//! or running forever. These run on the test harness's threads (2 MiB
//! stacks), so a missing guard shows up as a crash.

mod support;

use ferry_gotmpl::{Limits, Templates, Value};

fn run(text: &str) -> Result<String, ferry_gotmpl::Error> {
    let mut set = Templates::new(support::sprig_subset());
    set.parse("t", text)?;
    set.execute("t", &Value::Nil)
}

fn exec_err(set: &Templates) -> String {
    match set.execute("t", &Value::Nil) {
        Ok(out) => panic!("expected an error, got output of {} bytes", out.len()),
        Err(e) => e.to_string(),
    }
}

fn err(text: &str) -> String {
    match run(text) {
        Ok(out) => panic!("expected an error, got output of {} bytes", out.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn deep_parens_parse_and_run() {
    let n = 150;
    let text = format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n));
    assert_eq!(run(&text).map_err(|e| e.to_string()), Ok("1".to_string()));
}

#[test]
fn too_deep_parens_are_a_parse_error() {
    let n = 5000;
    let text = format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n));
    assert!(err(&text).contains("max expression depth exceeded"));
}

#[test]
fn deep_control_nesting_runs() {
    let n = 150;
    let text = format!("{}x{}", "{{ if true }}".repeat(n), "{{ end }}".repeat(n));
    assert_eq!(run(&text).map_err(|e| e.to_string()), Ok("x".to_string()));
}

#[test]
fn too_deep_control_nesting_is_a_parse_error() {
    let n = 5000;
    let text = format!("{}x{}", "{{ with 1 }}".repeat(n), "{{ end }}".repeat(n));
    assert!(err(&text).contains("max expression depth exceeded"));
}

#[test]
fn infinite_template_recursion_stops() {
    let e = err(r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#);
    assert!(e.contains("exceeded maximum template depth"), "{e}");
}

#[test]
fn infinite_include_recursion_stops() {
    let e = err(r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#);
    assert!(e.contains("exceeded maximum template depth"), "{e}");
}

#[test]
fn recursion_within_configured_depth_limit() {
    let mut set = Templates::new(support::sprig_subset()).with_limits(Limits {
        max_template_depth: 10,
        ..Limits::default()
    });
    set.parse(
        "t",
        r#"{{ define "r" }}{{ if gt . 0 }}{{ template "r" (sub . 1) }}{{ end }}{{ end }}{{ template "r" 20 }}"#,
    )
    .unwrap();
    let e = exec_err(&set);
    assert!(e.contains("exceeded maximum template depth (10)"), "{e}");
}

#[test]
fn exponential_fanout_hits_the_step_limit() {
    let mut set = Templates::new(support::sprig_subset()).with_limits(Limits {
        max_steps: 100_000,
        ..Limits::default()
    });
    set.parse(
        "t",
        r#"{{ define "f" }}{{ if gt . 0 }}{{ template "f" (sub . 1) }}{{ template "f" (sub . 1) }}{{ end }}{{ end }}{{ template "f" 60 }}"#,
    )
    .unwrap();
    let e = exec_err(&set);
    assert!(e.contains("exceeded maximum execution steps"), "{e}");
}

#[test]
fn huge_range_hits_the_step_limit() {
    let mut set = Templates::new(support::sprig_subset()).with_limits(Limits {
        max_steps: 10_000,
        ..Limits::default()
    });
    set.parse("t", "{{ range 1000000000 }}x{{ end }}").unwrap();
    let e = exec_err(&set);
    assert!(e.contains("exceeded maximum execution steps"), "{e}");
}

#[test]
fn output_size_is_bounded() {
    let mut set = Templates::new(support::sprig_subset()).with_limits(Limits {
        max_output_bytes: 1000,
        ..Limits::default()
    });
    set.parse("t", r#"{{ range 100000 }}{{ "0123456789" }}{{ end }}"#)
        .unwrap();
    let e = exec_err(&set);
    assert!(e.contains("exceeded maximum output size"), "{e}");
}

#[test]
fn legitimate_deep_recursion_works() {
    // Deeper than any real chart nests `template`/`include`.
    for (kind, depth) in [("template", 300), ("include", 100)] {
        let text = format!(
            r#"{{{{ define "r" }}}}{{{{ if gt . 0 }}}}{{{{ {kind} "r" (sub . 1) }}}}{{{{ end }}}}.{{{{ end }}}}{{{{ {kind} "r" {depth} }}}}"#
        );
        let out = run(&text).map_err(|e| e.to_string());
        assert_eq!(out.map(|s| s.len()), Ok(depth + 1), "{kind}");
    }
}
