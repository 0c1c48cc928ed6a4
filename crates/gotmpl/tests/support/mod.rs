//! Test support: Helm's render context, Helm's YAML typing of values files
//! (go-yaml v2 + sigs.k8s.io/yaml), and the few Sprig/Helm functions the
//! `gotmpl/...` conformance vectors call. None of this belongs in the crate:
//! YAML and Sprig live in other crates.

#![allow(dead_code)] // each test binary uses part of the support code

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ferry_gotmpl::{
    Funcs, List, Map, MissingKey, Signature, Struct, Templates, Type, TypeInfo, Value,
};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

// ---------------------------------------------------------------- YAML ---

#[derive(Clone, Debug)]
enum Y {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Merge,
    Seq(Vec<Y>),
    Map(Vec<(Y, Y)>),
}

enum Frame {
    Seq(usize, Vec<Y>),
    Map(usize, Vec<(Y, Y)>, Option<Y>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Y>,
    docs: Vec<Y>,
}

impl Builder {
    fn push(&mut self, y: Y) {
        match self.stack.last_mut() {
            None => self.docs.push(y),
            Some(Frame::Seq(_, v)) => v.push(y),
            Some(Frame::Map(_, v, k)) => match k.take() {
                None => *k = Some(y),
                Some(key) => v.push((key, y)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _m: Marker) {
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let y = if style != TScalarStyle::Plain
                    || tag.as_ref().is_some_and(|t| t.suffix == "str")
                {
                    Y::Str(s)
                } else {
                    resolve_plain(&s)
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, y.clone());
                }
                self.push(y);
            }
            Event::Alias(id) => {
                let y = self.anchors.get(&id).cloned().unwrap_or(Y::Null);
                self.push(y);
            }
            Event::SequenceStart(a, _) => self.stack.push(Frame::Seq(a, Vec::new())),
            Event::MappingStart(a, _) => self.stack.push(Frame::Map(a, Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let (a, y) = match self.stack.pop() {
                    Some(Frame::Seq(a, v)) => (a, Y::Seq(v)),
                    Some(Frame::Map(a, v, _)) => (a, Y::Map(v)),
                    None => return,
                };
                if a != 0 {
                    self.anchors.insert(a, y.clone());
                }
                self.push(y);
            }
            _ => {}
        }
    }
}

/// go-yaml v2's `resolve` for plain scalars (YAML 1.1 booleans and the
/// rest).
fn resolve_plain(s: &str) -> Y {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Y::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Y::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Y::Null,
        ".nan" | ".NaN" | ".NAN" => return Y::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Y::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Y::Float(f64::NEG_INFINITY),
        "<<" => return Y::Merge,
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Y::Str(s.to_string());
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Y::Int(i);
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Y::Float(f);
    }
    for (pre, neg) in [("0b", false), ("-0b", true)] {
        if let Some(b) = plain.strip_prefix(pre)
            && let Ok(v) = i128::from_str_radix(b, 2)
        {
            return Y::Int(if neg { -v } else { v });
        }
    }
    Y::Str(s.to_string())
}

/// `strconv.ParseInt(s, 0, 64)` then `ParseUint`, as go-yaml tries them.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let b = body.as_bytes();
    let (radix, digits) = if b[0] == b'0' && b.len() >= 3 && matches!(b[1] | 0x20, b'x') {
        (16, &body[2..])
    } else if b[0] == b'0' && b.len() >= 3 && matches!(b[1] | 0x20, b'o') {
        (8, &body[2..])
    } else if b[0] == b'0' && b.len() >= 3 && matches!(b[1] | 0x20, b'b') {
        (2, &body[2..])
    } else if b[0] == b'0' && b.len() > 1 {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(digits, radix).ok()?;
    if v > u64::MAX as u128 {
        return None;
    }
    let v = v as i128;
    if neg {
        if v > 1 << 63 {
            return None;
        }
        Some(-v)
    } else {
        Some(v)
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && matches!(b[i], b'-' | b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    } else {
        if !digits(&mut i) {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'-' | b'+') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

fn key_string(y: &Y) -> String {
    match y {
        Y::Null => "null".into(),
        Y::Bool(b) => b.to_string(),
        Y::Int(i) => i.to_string(),
        Y::Float(f) => ferry_gotmpl::gofmt::format_float(*f, 'g', None),
        Y::Str(s) => s.clone(),
        Y::Merge => "<<".into(),
        Y::Seq(_) | Y::Map(_) => "?".into(),
    }
}

fn to_value(y: Y) -> Result<Value, String> {
    Ok(match y {
        Y::Null => Value::Nil,
        Y::Bool(b) => Value::Bool(b),
        Y::Int(i) => Value::Float(i as f64),
        Y::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    ferry_gotmpl::gofmt::format_float(f, 'g', None)
                ));
            }
            Value::Float(f)
        }
        Y::Str(s) => Value::String(s.into()),
        Y::Merge => Value::String("<<".into()),
        Y::Seq(v) => Value::List(List::new(
            v.into_iter().map(to_value).collect::<Result<_, _>>()?,
        )),
        Y::Map(entries) => Value::Map(Map::with_type(map_entries(entries)?, Type::Interface, None)),
    })
}

fn map_entries(entries: Vec<(Y, Y)>) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    let mut merges = Vec::new();
    for (k, v) in entries {
        if let Y::Merge = k {
            merges.push(v);
            continue;
        }
        out.insert(key_string(&k), to_value(v)?);
    }
    for m in merges {
        let sources = match m {
            Y::Seq(v) => v,
            other => vec![other],
        };
        for s in sources {
            if let Y::Map(e) = s {
                for (k, v) in map_entries(e)? {
                    out.entry(k).or_insert(v);
                }
            }
        }
    }
    Ok(out)
}

/// Loads a values file the way Helm does: a map (empty file → empty map),
/// numbers as float64, YAML 1.1 booleans, stringified keys.
pub fn load_values(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let mut b = Builder::default();
    let mut p = Parser::new_from_str(text);
    p.load(&mut b, false).map_err(|e| e.to_string())?;
    match b.docs.into_iter().next() {
        None | Some(Y::Null) => Ok(BTreeMap::new()),
        Some(Y::Map(e)) => map_entries(e),
        Some(_) => {
            Err("cannot unmarshal array into Go value of type map[string]interface {}".into())
        }
    }
}

// ------------------------------------------------------------- context ---

/// Helm's render context for the vectors' chart `t`, release `rel` in `ns`.
pub fn helm_context(values: BTreeMap<String, Value>) -> Value {
    let values_ty = Arc::new(TypeInfo::new("common.Values"));
    let values = Value::Map(Map::with_type(
        values,
        Type::Interface,
        Some(values_ty.clone()),
    ));
    let release = Value::map([
        ("Name", Value::from("rel")),
        ("Namespace", Value::from("ns")),
        ("IsUpgrade", Value::Bool(false)),
        ("IsInstall", Value::Bool(true)),
        ("Revision", Value::Int(1)),
        ("Service", Value::from("Helm")),
    ]);
    let chart = Value::map([
        ("APIVersion", Value::from("v2")),
        ("Annotations", Value::map(Vec::<(String, Value)>::new())),
        ("AppVersion", Value::from("")),
        ("Condition", Value::from("")),
        ("Dependencies", Value::list([])),
        ("Deprecated", Value::Bool(false)),
        ("Description", Value::from("")),
        ("Home", Value::from("")),
        ("Icon", Value::from("")),
        ("IsRoot", Value::Bool(true)),
        ("Keywords", Value::list([])),
        ("KubeVersion", Value::from("")),
        ("Maintainers", Value::list([])),
        ("Name", Value::from("t")),
        ("Sources", Value::list([])),
        ("Tags", Value::from("")),
        ("Type", Value::from("")),
        ("Version", Value::from("0.1.0")),
    ]);
    let template = Value::map([
        ("Name", Value::from("t/templates/t.yaml")),
        ("BasePath", Value::from("t/templates")),
    ]);
    let has = ferry_gotmpl::Function::new(Signature::new([Type::String], Type::Bool), |_, args| {
        let Value::List(l) = &args[0] else {
            return Ok(Value::Bool(false));
        };
        let want = args[1].as_str().unwrap_or_default();
        Ok(Value::Bool(
            l.items().iter().any(|v| v.as_str() == Some(want)),
        ))
    });
    let version_set = Arc::new(TypeInfo::new("common.VersionSet").with_method("Has", has));
    let api_versions = Value::List(List::named(
        ["v1", "apps/v1", "batch/v1"]
            .iter()
            .map(|s| Value::from(*s))
            .collect(),
        Type::String,
        version_set,
    ));
    let kube = Value::Struct(Arc::new(Struct::new(
        Arc::new(TypeInfo::new("common.KubeVersion")),
        vec![
            ("Version".into(), Value::from("v1.36.0")),
            ("GitVersion".into(), Value::from("v1.36.0")),
            ("Major".into(), Value::from("1")),
            ("Minor".into(), Value::from("36")),
        ],
        false,
    )));
    let caps = Value::Struct(Arc::new(Struct::new(
        Arc::new(TypeInfo::new("*common.Capabilities")),
        vec![
            ("APIVersions".into(), api_versions),
            ("KubeVersion".into(), kube),
        ],
        true,
    )));
    let files = Value::Map(Map::with_type(
        BTreeMap::new(),
        Type::Slice(Box::new(Type::Int)),
        Some(Arc::new(TypeInfo::new("engine.files"))),
    ));
    let top: BTreeMap<String, Value> = [
        ("Values", values),
        ("Release", release),
        ("Chart", chart),
        ("Template", template),
        ("Capabilities", caps),
        ("Files", files),
        ("Subcharts", Value::map(Vec::<(String, Value)>::new())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Value::Map(Map::with_type(top, Type::Interface, Some(values_ty)))
}

// ------------------------------------------------ Sprig / Helm (subset) ---

fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint64(u) => *u as i64,
        Value::Float(f) => {
            if f.is_nan() || *f >= 9.223_372_036_854_776e18 || *f < -9.223_372_036_854_776e18 {
                i64::MIN
            } else {
                *f as i64
            }
        }
        Value::Bool(b) => *b as i64,
        Value::String(s) => s.parse::<i64>().unwrap_or(0),
        _ => 0,
    }
}

fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Uint64(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => *b as i64 as f64,
        Value::String(s) => s.parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        v => ferry_gotmpl::gofmt::sprintf("%v", std::slice::from_ref(v)),
    }
}

fn empty(v: &Value) -> bool {
    !v.is_true()
}

/// The Sprig and Helm functions the `gotmpl/...` vectors use, with their Go
/// signatures, so that argument errors come out as Go's.
pub fn sprig_subset() -> Funcs {
    use Type::{Interface as I, String as S};
    let mut f = Funcs::new();
    f.add("list", Signature::variadic([], I, Type::list()), |_, a| {
        Ok(Value::list(a))
    });
    f.add("tuple", Signature::variadic([], I, Type::list()), |_, a| {
        Ok(Value::list(a))
    });
    f.add("dict", Signature::variadic([], I, Type::map()), |_, a| {
        let m = Map::new();
        let mut it = a.into_iter();
        while let Some(k) = it.next() {
            let v = it.next().unwrap_or(Value::Nil);
            m.insert(strval(&k), v);
        }
        Ok(Value::Map(m))
    });
    f.add("typeOf", Signature::new([I], S), |_, a| {
        Ok(Value::from(a[0].type_name()))
    });
    f.add("kindOf", Signature::new([I], S), |_, a| {
        Ok(Value::from(a[0].kind_name()))
    });
    f.add("kindIs", Signature::new([S, I], Type::Bool), |_, a| {
        Ok(Value::Bool(a[0].as_str() == Some(a[1].kind_name())))
    });
    f.add("upper", Signature::new([S], S), |_, a| {
        Ok(Value::from(
            a[0].as_str().unwrap_or_default().to_uppercase(),
        ))
    });
    f.add("toString", Signature::new([I], S), |_, a| {
        Ok(Value::from(strval(&a[0])))
    });
    f.add("quote", Signature::variadic([], I, S), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| ferry_gotmpl::gofmt::quote(&strval(v)))
            .collect();
        Ok(Value::from(parts.join(" ")))
    });
    f.add("int", Signature::new([I], Type::Int), |_, a| {
        Ok(Value::Int(to_i64(&a[0])))
    });
    f.add("int64", Signature::new([I], Type::Int64), |_, a| {
        Ok(Value::Int64(to_i64(&a[0])))
    });
    f.add("add", Signature::variadic([], I, Type::Int64), |_, a| {
        Ok(Value::Int64(
            a.iter().map(to_i64).fold(0i64, i64::wrapping_add),
        ))
    });
    f.add("mul", Signature::variadic([I], I, Type::Int64), |_, a| {
        Ok(Value::Int64(
            a.iter().map(to_i64).fold(1i64, i64::wrapping_mul),
        ))
    });
    f.add("sub", Signature::new([I, I], Type::Int64), |_, a| {
        Ok(Value::Int64(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    f.add("add1", Signature::new([I], Type::Int64), |_, a| {
        Ok(Value::Int64(to_i64(&a[0]).wrapping_add(1)))
    });
    f.add("addf", Signature::variadic([], I, Type::Float64), |_, a| {
        Ok(Value::Float(a.iter().map(to_f64).sum()))
    });
    f.add(
        "divf",
        Signature::variadic([I], I, Type::Float64),
        |_, a| {
            let mut r = to_f64(&a[0]);
            for v in &a[1..] {
                r /= to_f64(v);
            }
            Ok(Value::Float(r))
        },
    );
    f.add("default", Signature::variadic([I], I, I), |_, a| {
        if a.len() < 2 || empty(&a[1]) {
            Ok(a[0].clone())
        } else {
            Ok(a[1].clone())
        }
    });
    f.add("fail", Signature::new([S], S), |_, a| {
        Err(a[0].as_str().unwrap_or_default().into())
    });
    f.add("repeat", Signature::new([Type::Int, S], S), |_, a| {
        let n = to_i64(&a[0]).max(0) as usize;
        Ok(Value::from(a[1].as_str().unwrap_or_default().repeat(n)))
    });
    f.add(
        "until",
        Signature::new([Type::Int], Type::Slice(Box::new(Type::Int))),
        |_, a| {
            let n = to_i64(&a[0]);
            let items: Vec<Value> = (0..n.max(0)).map(Value::Int).collect();
            Ok(Value::List(List::typed(items, Type::Int)))
        },
    );
    f.add("seq", Signature::variadic([], Type::Int, S), |_, a| {
        let n = a.first().map(to_i64).unwrap_or(0);
        let parts: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        Ok(Value::from(parts.join(" ")))
    });
    f.add(
        "keys",
        Signature::variadic([], Type::map(), Type::Slice(Box::new(S))),
        |_, a| {
            let mut out = Vec::new();
            for m in &a {
                if let Value::Map(m) = m {
                    out.extend(m.entries().into_iter().map(|(k, _)| Value::from(k)));
                }
            }
            Ok(Value::List(List::typed(out, S)))
        },
    );
    f.add(
        "sortAlpha",
        Signature::new([I], Type::Slice(Box::new(S))),
        |_, a| {
            let mut v: Vec<String> = match &a[0] {
                Value::List(l) => l.items().iter().map(strval).collect(),
                v => vec![strval(v)],
            };
            v.sort();
            Ok(Value::List(List::typed(
                v.into_iter().map(Value::from).collect(),
                S,
            )))
        },
    );
    f.add("slice", Signature::variadic([I], I, I), |_, a| {
        let list = &a[0];
        match list {
            Value::Nil => {
                Err("runtime error: invalid memory address or nil pointer dereference".into())
            }
            Value::List(l) => {
                if l.is_empty() {
                    return Ok(Value::Nil);
                }
                let start = a.get(1).map(to_i64).unwrap_or(0);
                let end = if a.len() < 3 {
                    l.len() as i64
                } else {
                    to_i64(&a[2])
                };
                if start < 0 || start > end || end > l.len() as i64 {
                    return Err("reflect.Value.Slice: slice index out of bounds".into());
                }
                Ok(l.slice(start as usize, end as usize)
                    .map(Value::List)
                    .unwrap_or_default())
            }
            v => Err(format!(
                "list should be type of slice or array but {}",
                v.kind_name()
            )
            .into()),
        }
    });
    f.add("b64dec", Signature::new([S], S), |_, a| {
        let s = a[0].as_str().unwrap_or_default();
        Ok(Value::from(b64decode(s).unwrap_or_default()))
    });
    f.add("include", Signature::new([S, I], S), |ctx, a| {
        let name = a[0].as_str().unwrap_or_default().to_string();
        Ok(Value::from(ctx.execute_template(&name, a[1].clone())?))
    });
    f
}

fn b64decode(s: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        } as u32;
        buf = buf << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    String::from_utf8(out).ok()
}

/// Renders a template the way Helm does for the vectors: a set holding
/// `t/templates/t.yaml` (parsed first) and `t/templates/_helpers.tpl`,
/// `missingkey=zero`, then every `<no value>` removed.
pub fn helm_render(
    funcs: &Funcs,
    template: &str,
    helpers: Option<&str>,
    values: BTreeMap<String, Value>,
) -> Result<String, ferry_gotmpl::Error> {
    let mut set = Templates::new(funcs.clone()).with_missing_key(MissingKey::Zero);
    set.parse("t/templates/t.yaml", template)?;
    if let Some(h) = helpers {
        set.parse("t/templates/_helpers.tpl", h)?;
    }
    let out = set.execute("t/templates/t.yaml", &helm_context(values))?;
    Ok(out.replace("<no value>", ""))
}
