//! `yaml::parse_head` against the full parser: wherever the fast head reader decides a
//! document by itself, the full parser must accept it and give the same head. Checked on
//! every document Helm rendered in the shared corpus and on generated documents that mix
//! plain block YAML with what the fast reader must leave alone.

use std::path::Path;

use ferry_chart::{Map, Value, yaml};

/// What the manifest stage reads of a document.
fn head(v: &Value) -> Value {
    let Value::Map(m) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(x) = m.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    match m.get("metadata") {
        Some(Value::Map(md)) => {
            let mut o = Map::new();
            for k in ["name", "annotations"] {
                if let Some(x) = md.get(k) {
                    o.insert(k.into(), x.clone());
                }
            }
            out.insert("metadata".into(), Value::Map(o));
        }
        Some(other) => {
            out.insert("metadata".into(), other.clone());
        }
        None => {}
    }
    Value::Map(out)
}

/// Checks one document; returns whether the fast reader decided it.
fn check(doc: &str, origin: &str) -> bool {
    let fast = yaml::head_is_fast(doc);
    let full = yaml::parse(doc);
    let quick = yaml::parse_head(doc);
    match (&full, &quick) {
        (Ok(f), Ok(q)) => assert_eq!(
            head(f),
            head(q),
            "{origin}: heads differ (fast: {fast}) for\n{doc}"
        ),
        (Err(f), Err(q)) => assert_eq!(f, q, "{origin}: errors differ for\n{doc}"),
        _ => panic!(
            "{origin}: full parser {full:?}, head reader {quick:?} (fast: {fast}) for\n{doc}"
        ),
    }
    fast
}

/// Documents of a rendered file, split as Helm's `SplitManifests` splits them.
fn documents(text: &str) -> Vec<String> {
    let sep = regex::Regex::new(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*").expect("regex");
    sep.split(text.trim_start())
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim_start().to_string())
        .collect()
}

#[test]
fn head_reader_agrees_with_the_parser_on_the_corpus() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/cases");
    let Ok(dirs) = std::fs::read_dir(&cases) else {
        eprintln!("SKIPPED: ../shared/corpus not found, no rendered documents to compare");
        return;
    };
    let (mut docs, mut fast) = (0, 0);
    for dir in dirs.flatten() {
        let Ok(text) = std::fs::read_to_string(dir.path().join("expected/render.json")) else {
            continue;
        };
        let files: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).expect("render.json is a map");
        for (path, rendered) in files {
            let Some(rendered) = rendered.as_str() else {
                continue;
            };
            if path.ends_with("NOTES.txt") {
                continue;
            }
            for doc in documents(rendered) {
                docs += 1;
                fast += usize::from(check(&doc, &path));
            }
        }
    }
    println!("head reader: {fast} of {docs} corpus documents read by the fast path");
    assert!(docs > 500, "the corpus has more documents than {docs}");
    // the point of the fast path: it decides nearly all real documents
    assert!(fast * 10 >= docs * 9, "only {fast} of {docs} read fast");
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const FRAGMENTS: &[&str] = &[
    "apiVersion: v1",
    "apiVersion: apps/v1",
    "kind: ConfigMap",
    "kind: Job",
    "kind: 5",
    "kind: yes",
    "kind: \"Quoted\"",
    "kind: 'single''s'",
    "kind:",
    "kind: ~",
    "kind: [a]",
    "kind: {}",
    "\"kind\": Deployment",
    "metadata:",
    "metadata: {}",
    "metadata: null",
    "metadata: text",
    "name: web",
    "name: 0x1F",
    "name: 1.50",
    "name: \"a\\\"b\"",
    "name: 'x' # note",
    "name: a: b",
    "name: a:b",
    "name: |",
    "annotations:",
    "annotations: {}",
    "annotations: ~",
    "annotations: [x]",
    "helm.sh/hook: pre-install,post-upgrade",
    "helm.sh/hook-weight: \"-5\"",
    "helm.sh/hook-weight: -5",
    "helm.sh/hook-delete-policy: before-hook-creation",
    "on: true",
    "1: one",
    "\"quoted key\": v",
    "'q': v",
    "spec:",
    "data:",
    "labels:",
    "- a",
    "- -1",
    "-",
    "- key: v",
    "- - nested",
    "- \"k\": v",
    "- |",
    "key: |",
    "key: |-",
    "key: >+",
    "key: |2",
    "key: | # c",
    "text line",
    "  indented text",
    "{\"json\": true}",
    "# a comment",
    "#",
    "",
    "   ",
    "key: {}",
    "key: []",
    "key: {a: 1}",
    "key: [1, 2]",
    "key: 'multi",
    "line'",
    "key: \"\\x41\"",
    "key: \"\\q\"",
    "key: a # c",
    "key: a#b",
    "key: .inf",
    "key: -.Inf",
    "key: .nan",
    "key: 1e999",
    "key: 1_000",
    "key: &anchor x",
    "key: *anchor",
    "key: !!str 5",
    "<<: {a: 1}",
    "~: x",
    "null: x",
    "? complex",
    ": value",
    "key:\tv",
    "\tkey: v",
    "key: v\t",
    "---",
    "...",
    "%YAML 1.1",
    "key: caf\u{e9}",
    "key: a\u{85}b",
    "key: @at",
    "key: `tick`",
    "key : spaced",
    "a[0]: x",
    "key: value:",
    "port: 8080",
    "|",
    "|-",
    ">",
    "{}",
    "[]",
    "[a, b]",
    "[ \"x\" ]",
    "{a: 1, b: [c, 'd']}",
    "{a: 1,}",
    "[a, , b]",
    "[a: b]",
    "{a}",
    "[http://x]",
    "[a#b]",
    "{~: x}",
    "- {key: app, operator: In, values: [web]}",
    "'quoted value'",
    "\"dq value\"",
    "plain value",
    "'starts here",
    "and ends'",
    "\"goes on \\",
    "more\"",
    "record: :node_memory:sum",
    "- :8080",
    "key: ?x",
    ":x: y",
    "'a': b",
    "replicas: 007",
];

const INDENTS: &[&str] = &["", "", "", " ", "  ", "  ", "    ", "      ", "        "];

const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "annotations",
    "labels",
    "spec",
    "data",
    "helm.sh/hook",
    "helm.sh/hook-weight",
    "\"kind\"",
    "'name'",
    "on",
    "1",
    "a b",
    "x.y/z",
];

const SCALARS: &[&str] = &[
    "v1",
    "Pod",
    "web",
    "\"quoted\"",
    "'single''s'",
    "8080",
    "-1",
    "1.5",
    "yes",
    "~",
    "null",
    "{}",
    "[]",
    "[a, b]",
    "{a: 1}",
    "|",
    "|-",
    ">",
    "a # comment",
    ":x",
    "\"-5\"",
    "0x1F",
];

/// A block value at `indent` (the column its collection's lines start at).
fn block(rng: &mut Rng, out: &mut String, indent: usize, depth: u32) {
    let pad = " ".repeat(indent);
    let seq = rng.next().is_multiple_of(3);
    for _ in 0..1 + rng.next() % 4 {
        out.push_str(&pad);
        if seq {
            out.push_str("- ");
        } else {
            out.push_str(rng.pick(KEYS));
            out.push(':');
        }
        match rng.next() % 5 {
            0 | 1 if depth < 4 => {
                out.push('\n');
                // nested: further in, or (a sequence under a key) at the same column
                let inner = if !seq && rng.next().is_multiple_of(4) {
                    indent
                } else {
                    indent + 2
                };
                if inner == indent {
                    let pad = " ".repeat(indent);
                    for _ in 0..1 + rng.next() % 3 {
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(rng.pick(SCALARS));
                        out.push('\n');
                    }
                } else {
                    block(rng, out, inner, depth + 1);
                }
            }
            _ => {
                if !seq {
                    out.push(' ');
                }
                let v = rng.pick(SCALARS);
                out.push_str(v);
                out.push('\n');
                if v.starts_with(['|', '>']) {
                    for _ in 0..rng.next() % 3 {
                        out.push_str(&pad);
                        out.push_str(rng.pick(&[
                            "  text",
                            "    more: text",
                            "",
                            "  # not a comment",
                        ]));
                        out.push('\n');
                    }
                }
            }
        }
    }
}

fn generated(rng: &mut Rng) -> String {
    let mut doc = String::new();
    if rng.next().is_multiple_of(2) {
        // most real documents start with a head
        doc.push_str("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n");
        for _ in 0..rng.next() % 3 {
            doc.push_str("    ");
            doc.push_str(rng.pick(FRAGMENTS));
            doc.push('\n');
        }
    }
    if rng.next().is_multiple_of(2) {
        block(rng, &mut doc, 0, 0);
    }
    // then lines of anything, valid or not
    for _ in 0..rng.next() % 6 {
        doc.push_str(rng.pick(INDENTS));
        doc.push_str(rng.pick(FRAGMENTS));
        if !rng.next().is_multiple_of(8) {
            doc.push('\n');
        }
    }
    doc.trim_start().to_string()
}

#[test]
fn head_reader_agrees_with_the_parser_on_generated_documents() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut fast, total) = (0, 200_000);
    for i in 0..total {
        let doc = generated(&mut rng);
        fast += usize::from(check(&doc, &format!("generated #{i}")));
    }
    println!("head reader: {fast} of {total} generated documents read by the fast path");
    // both paths must be exercised for the comparison to mean anything
    assert!(
        fast > total / 20 && fast < total * 19 / 20,
        "{fast} of {total}"
    );
}
