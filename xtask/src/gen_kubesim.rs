//! `cargo xtask gen-kubesim`: regenerates kubesim's data files from Kubernetes' own definitions.
//!
//! - `crates/kubesim/data/schema.json` from the OpenAPI `_definitions.json` that PyPI's
//!   `kubernetes-validate` ships (`kubernetes_validate/kubernetes-json-schema/v1.XX.0-local/`):
//!   `{"kinds": {"group/version/Kind": "type"}, "types": {"type": {"p": {field: spec}} | {"x": 1}}}`
//!   where a field spec has optional keys `t` (referenced type), `a` (array), `o` (map), `l`
//!   (list type), `k` (list map keys), `s` (patch strategy), `m` (patch merge key), `ma`
//!   (atomic struct). Only types reachable from a kind are kept; descriptions are dropped.
//! - `crates/kubesim/data/proto.json` from the `generated.proto` files of k8s.io/api and
//!   k8s.io/apimachinery (found recursively under a directory):
//!   `{"messages": {"pkg.Message": {"N": [jsonName, type, card]}}}`, card `o`, `r` or `m`.
//!
//! Usage: `cargo xtask gen-kubesim --definitions PATH [--proto-root DIR]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

pub fn run(args: &[String]) -> Result<()> {
    let mut definitions = None;
    let mut proto_root = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--definitions" => definitions = it.next().map(PathBuf::from),
            "--proto-root" => proto_root = it.next().map(PathBuf::from),
            other => bail!("gen-kubesim: unknown argument {other:?}"),
        }
    }
    let data = crate::root().join("crates/kubesim/data");
    if let Some(defs) = definitions {
        let text = std::fs::read_to_string(&defs)
            .with_context(|| format!("reading {}", defs.display()))?;
        let doc: Value = serde_json::from_str(&text).context("parsing the definitions")?;
        let out = schema(&doc)?;
        let reachable: Vec<String> = out["types"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        write(&data.join("schema.json"), &out)?;
        write(&data.join("openapi.json"), &openapi(&doc, &reachable)?)?;
    }
    if let Some(root) = proto_root {
        let out = proto(&root)?;
        write(&data.join("proto.json"), &out)?;
    }
    Ok(())
}

fn write(path: &Path, v: &Value) -> Result<()> {
    let mut text = serde_json::to_string(v)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn ref_name(node: &Value) -> Option<String> {
    node.get("$ref")
        .and_then(Value::as_str)
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
}

fn field_spec(node: &Value) -> Map<String, Value> {
    let mut spec = Map::new();
    let types: Vec<&str> = match node.get("type") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => vec![],
    };
    if let Some(r) = ref_name(node) {
        spec.insert("t".into(), json!(r));
    }
    if types.contains(&"array") {
        spec.insert("a".into(), json!(1));
        if let Some(r) = node.get("items").and_then(ref_name) {
            spec.insert("t".into(), json!(r));
        }
    } else if types.contains(&"object")
        && let Some(ap) = node.get("additionalProperties").filter(|v| v.is_object())
    {
        spec.insert("o".into(), json!(1));
        if let Some(r) = ref_name(ap) {
            spec.insert("t".into(), json!(r));
        }
    }
    for (key, short) in [
        ("x-kubernetes-list-type", "l"),
        ("x-kubernetes-list-map-keys", "k"),
        ("x-kubernetes-patch-strategy", "s"),
        ("x-kubernetes-patch-merge-key", "m"),
    ] {
        if let Some(v) = node.get(key) {
            spec.insert(short.into(), v.clone());
        }
    }
    if node.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
        spec.insert("ma".into(), json!(1));
    }
    spec
}

fn schema(doc: &Value) -> Result<Value> {
    let defs = doc
        .get("$defs")
        .or_else(|| doc.get("definitions"))
        .and_then(Value::as_object)
        .context("no $defs in the definitions file")?;
    let mut kinds = BTreeMap::new();
    let mut todo = Vec::new();
    for (name, d) in defs {
        let Some(gvks) = d
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
        else {
            continue;
        };
        let props = d.get("properties");
        let has_meta = props.is_some_and(|p| p.get("metadata").is_some());
        let is_list = props
            .and_then(|p| p.get("items"))
            .is_some_and(|i| !i.is_null() && i != &json!(false));
        if !has_meta || is_list {
            continue;
        }
        for g in gvks {
            let s = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            kinds.insert(
                format!("{}/{}/{}", s("group"), s("version"), s("kind")),
                name.clone(),
            );
            todo.push(name.clone());
        }
    }
    let mut types = BTreeMap::new();
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(d) = defs.get(&name) else { continue };
        let Some(props) = d.get("properties").and_then(Value::as_object) else {
            types.insert(name, json!({"x": 1}));
            continue;
        };
        let mut p = Map::new();
        for (f, node) in props {
            let s = field_spec(node);
            if let Some(t) = s.get("t").and_then(Value::as_str) {
                todo.push(t.to_string());
            }
            p.insert(f.clone(), Value::Object(s));
        }
        let mut entry = Map::new();
        entry.insert("p".into(), Value::Object(p));
        if d.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
            entry.insert("ma".into(), json!(1));
        }
        types.insert(name, Value::Object(entry));
    }
    Ok(json!({
        "kinds": kinds.into_iter().map(|(k, v)| (k, json!(v))).collect::<Map<_, _>>(),
        "types": types.into_iter().collect::<Map<_, _>>(),
    }))
}

/// The OpenAPI v3 component schemas of the types reachable from a kind: descriptions dropped,
/// `$ref`s pointing at `#/components/schemas/`, JSON-schema nullable types (`["integer",
/// "null"]`) written as OpenAPI's single type.
fn openapi(doc: &Value, reachable: &[String]) -> Result<Value> {
    let defs = doc
        .get("$defs")
        .or_else(|| doc.get("definitions"))
        .and_then(Value::as_object)
        .context("no $defs in the definitions file")?;
    fn clean(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("description", _) => {}
                        // kubernetes-validate pins apiVersion/kind with an enum; the
                        // apiserver's documents don't.
                        ("enum", _) if m.get("type").is_some_and(|t| !t.is_object()) => {}
                        ("$ref", Value::String(r)) => {
                            let name = r.rsplit('/').next().unwrap_or(r);
                            out.insert(k.clone(), json!(format!("#/components/schemas/{name}")));
                        }
                        ("type", Value::Array(ts)) => {
                            let t: Vec<&Value> =
                                ts.iter().filter(|t| t.as_str() != Some("null")).collect();
                            if let [one] = t.as_slice() {
                                out.insert(k.clone(), (*one).clone());
                            }
                        }
                        _ => {
                            out.insert(k.clone(), clean(x));
                        }
                    }
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
            other => other.clone(),
        }
    }
    let mut out = Map::new();
    for name in reachable {
        if let Some(d) = defs.get(name) {
            out.insert(name.clone(), clean(d));
        }
    }
    Ok(Value::Object(out))
}

const SCALARS: &[&str] = &[
    "string", "bool", "int32", "int64", "bytes", "double", "float", "uint32", "uint64",
];

fn proto(root: &Path) -> Result<Value> {
    let mut files = Vec::new();
    find_protos(root, &mut files)?;
    if files.is_empty() {
        bail!("no generated.proto under {}", root.display());
    }
    let mut messages: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let pkg = text
            .lines()
            .find_map(|l| l.strip_prefix("package "))
            .and_then(|l| l.trim().strip_suffix(';'))
            .with_context(|| format!("no package line in {}", f.display()))?
            .to_string();
        let qualify = |t: &str| -> String {
            if SCALARS.contains(&t) {
                t.to_string()
            } else if let Some(t) = t.strip_prefix('.') {
                t.to_string()
            } else {
                format!("{pkg}.{t}")
            }
        };
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("message ") {
                let name = rest.trim_end_matches(['{', ' ']).trim();
                let key = format!("{pkg}.{name}");
                messages.insert(key.clone(), Map::new());
                current = Some(key);
                continue;
            }
            if line.starts_with('}') {
                current = None;
                continue;
            }
            let Some(cur) = &current else { continue };
            let Some((lhs, num)) = line.trim().split_once('=') else {
                continue;
            };
            let num = num.trim().trim_end_matches(';').trim();
            let num = num.split_whitespace().next().unwrap_or("");
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let lhs = lhs.trim();
            let entry = if let Some(m) = lhs.strip_prefix("map") {
                let m = m.trim_start();
                let Some(inner) = m.strip_prefix('<') else {
                    continue;
                };
                let Some((types, field)) = inner.split_once('>') else {
                    continue;
                };
                let Some((_, value_type)) = types.split_once(',') else {
                    continue;
                };
                json!([field.trim(), qualify(value_type.trim()), "m"])
            } else {
                let parts: Vec<&str> = lhs.split_whitespace().collect();
                let [label, ty, field] = parts[..] else {
                    continue;
                };
                let card = match label {
                    "repeated" => "r",
                    "optional" => "o",
                    _ => continue,
                };
                json!([field, qualify(ty), card])
            };
            messages
                .get_mut(cur)
                .expect("current message exists")
                .insert(num.to_string(), entry);
        }
    }
    Ok(
        json!({ "messages": messages.into_iter().map(|(k, v)| (k, Value::Object(v))).collect::<Map<_, _>>() }),
    )
}

fn find_protos(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            find_protos(&p, out)?;
        } else if p.file_name().is_some_and(|n| n == "generated.proto") {
            out.push(p);
        }
    }
    Ok(())
}
