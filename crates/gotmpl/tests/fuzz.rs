//! Property tests: the lexer, parser, executor and `printf` never panic,
//! never overflow the stack and finish in bounded time, whatever the input.
//!
//! CI runs a fixed number of cases; set `GOTMPL_FUZZ_CASES` to run longer
//! (e.g. `GOTMPL_FUZZ_CASES=200000 cargo test -p ferry-gotmpl --test fuzz`).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_gotmpl::{Limits, MissingKey, Templates, Value, gofmt};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases(default: u32) -> u32 {
    std::env::var("GOTMPL_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "{{-",
    "-}}",
    "(",
    ")",
    "|",
    " | ",
    "$",
    "$x",
    "$y",
    " := ",
    " = ",
    ", ",
    ".",
    ".a",
    ".b",
    ".Values",
    ".Values.m",
    ".Release.Name",
    "$.Values",
    " if ",
    " else ",
    " else if ",
    " else with ",
    " end ",
    " range ",
    " with ",
    " define ",
    " template ",
    " block ",
    " break ",
    " continue ",
    "\"s\"",
    "\"x\"",
    "`r`",
    "'c'",
    "'\\n'",
    "1",
    "0",
    "-3",
    "0x1F",
    "1e3",
    "1.5",
    "2i",
    "1+2i",
    "nil",
    "true",
    "false",
    " print ",
    " printf ",
    "\"%v %d %s %5.2f %x %q\"",
    " println ",
    " len ",
    " index ",
    " slice ",
    " eq ",
    " ne ",
    " lt ",
    " le ",
    " gt ",
    " ge ",
    " and ",
    " or ",
    " not ",
    " html ",
    " js ",
    " urlquery ",
    " call ",
    " list ",
    " dict ",
    " include ",
    " default ",
    " upper ",
    " until ",
    "\"r\"",
    "/*",
    "*/",
    "{{/* c */}}",
    " ",
    "\n",
    "\t",
    "x",
    "é",
    "}",
    "{",
    "-",
    ":",
    "=",
    ",",
    "%",
    "\\",
    "\"",
    "`",
    "'",
    "0o17",
    "1_000",
    "9999999999999999999999",
    ".5",
    "+",
    "@",
    "#",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|v| v.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => token_soup(),
        1 => ".{0,60}",
        1 => "[{}\\-()|$. a-z0-9\"'`/*:=\n]{0,60}",
    ]
}

fn data() -> Value {
    let mut values = BTreeMap::new();
    values.insert("a".to_string(), Value::Float(1.5));
    values.insert("s".to_string(), Value::from("str"));
    values.insert(
        "m".to_string(),
        Value::map([("k", Value::from("v")), ("n", Value::Nil)]),
    );
    values.insert(
        "l".to_string(),
        Value::list([Value::Int(1), Value::from("two"), Value::Nil]),
    );
    support::helm_context(values)
}

fn limited(funcs: &ferry_gotmpl::Funcs, mk: MissingKey) -> Templates {
    Templates::new(funcs.clone())
        .with_missing_key(mk)
        .with_limits(Limits {
            max_steps: 20_000,
            max_output_bytes: 1 << 20,
            ..Limits::default()
        })
}

fn run_one(funcs: &ferry_gotmpl::Funcs, data: &Value, text: &str) {
    for mk in [MissingKey::Zero, MissingKey::Invalid, MissingKey::Error] {
        let mut set = limited(funcs, mk);
        if set.parse("t", text).is_err() {
            return;
        }
        let start = Instant::now();
        let _ = set.execute("t", data);
        let took = start.elapsed();
        assert!(took < Duration::from_secs(5), "execution took {took:?}");
    }
}

#[test]
fn lexer_parser_executor_never_panic() {
    let funcs = support::sprig_subset();
    let data = data();
    let mut runner = TestRunner::new(Config {
        cases: cases(15_000),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&any_text(), |text| {
            run_one(&funcs, &data, &text);
            Ok(())
        })
        .unwrap();
}

/// Well-formed templates built from a small grammar, to reach deep into
/// the executor rather than stopping at parse errors.
fn operand(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop::sample::select(vec![
        ".",
        ".Values",
        ".Values.a",
        ".Values.s",
        ".Values.m",
        ".Values.m.k",
        ".Values.m.n",
        ".Values.l",
        ".Values.missing",
        "$",
        "$.Values.l",
        "1",
        "-2",
        "0",
        "1.5",
        "\"s\"",
        "\"\"",
        "true",
        "false",
        "nil",
        "'c'",
        "2i",
        ".Release",
        ".Capabilities",
        ".Capabilities.KubeVersion",
        "(list)",
        "(dict)",
    ])
    .prop_map(String::from);
    leaf.prop_recursive(depth, 64, 4, |inner| {
        let f = prop::sample::select(vec![
            "print",
            "printf \"%v|%d|%s|%q|%x|%5.1f|%T\"",
            "len",
            "index",
            "slice",
            "eq",
            "ne",
            "lt",
            "le",
            "gt",
            "ge",
            "and",
            "or",
            "not",
            "html",
            "js",
            "urlquery",
            "list",
            "dict",
            "default",
            "upper",
            "quote",
            "toString",
            "typeOf",
            "int",
            "add",
            "call",
        ]);
        (f, prop::collection::vec(inner, 0..4))
            .prop_map(|(f, args)| format!("({f} {})", args.join(" ")))
    })
    .boxed()
}

fn action() -> impl Strategy<Value = String> {
    let op = operand(3);
    prop_oneof![
        op.clone().prop_map(|o| format!("{{{{ {o} }}}}")),
        op.clone()
            .prop_map(|o| format!("{{{{ if {o} }}}}a{{{{ else }}}}b{{{{ end }}}}")),
        op.clone()
            .prop_map(|o| format!("{{{{ with {o} }}}}{{{{ . }}}}{{{{ end }}}}")),
        op.clone().prop_map(|o| format!(
            "{{{{ range $i, $v := {o} }}}}{{{{ $i }}}}={{{{ $v }}}};{{{{ end }}}}"
        )),
        op.clone()
            .prop_map(|o| format!("{{{{ $x := {o} }}}}{{{{ $x.a }}}}{{{{ $x }}}}")),
        (op.clone(), op).prop_map(|(a, b)| format!("{{{{ {a} | {b} }}}}")),
    ]
}

#[test]
fn generated_templates_never_panic() {
    let funcs = support::sprig_subset();
    let data = data();
    let strategy = prop::collection::vec(action(), 1..6).prop_map(|v| v.concat());
    let mut runner = TestRunner::new(Config {
        cases: cases(7_500),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |text| {
            run_one(&funcs, &data, &text);
            Ok(())
        })
        .unwrap();
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i64>().prop_map(Value::Int64),
        any::<u64>().prop_map(Value::Uint64),
        any::<f64>().prop_map(Value::Float),
        (any::<f64>(), any::<f64>()).prop_map(|(a, b)| Value::Complex(a, b)),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::list),
            prop::collection::vec(("[a-c]{0,2}", inner), 0..4).prop_map(Value::map),
        ]
    })
}

#[test]
fn printf_never_panics() {
    let fmt = prop::collection::vec(
        prop_oneof![
            3 => "%[-+# 0]{0,3}([0-9]{0,3}|\\*)(\\.([0-9]{0,3}|\\*))?(\\[[0-9]\\])?[vdsqxXobeEfFgGtcUTpz%]",
            1 => ".{0,4}",
        ],
        0..6,
    )
    .prop_map(|v| v.concat());
    let mut runner = TestRunner::new(Config {
        cases: cases(25_000),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(fmt, prop::collection::vec(value(), 0..5)), |(f, args)| {
            let _ = gofmt::sprintf(&f, &args);
            let _ = gofmt::sprint(&args);
            let _ = gofmt::sprintln(&args);
            Ok(())
        })
        .unwrap();
}
