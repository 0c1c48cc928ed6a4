//! The render context as minijinja values: Go template values ([`ferry_gotmpl::Value`]) are
//! wrapped lazily ([`GoValue`]), so `Values.image.tag`, `Chart.Name`,
//! `Files.Get("x")` and `Capabilities.APIVersions.Has("apps/v1")` read the very data the Go
//! templates see, with Helm's typing intact for `toyaml`/`tojson`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ferry_chart::{Map as CMap, Value as CValue};
use ferry_gotmpl::{List, Map, Type, Value};
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, State, Value as JValue};

use crate::convert::from_tmpl;

/// A Go map, list or struct seen from Jinja.
#[derive(Debug)]
pub(crate) struct GoValue(pub(crate) Value);

/// A Go value with a `String()` method (`.Capabilities.KubeVersion`): renders as Go prints it.
#[derive(Debug)]
pub(crate) struct GoStringer {
    inner: Arc<GoValue>,
    text: String,
}

/// The template context: the Go dot plus `ctx`, the dot itself (what `.` is in a Go
/// template), for `include("name", ctx)`.
#[derive(Debug)]
pub(crate) struct Root(pub(crate) Map);

/// A Go template value as a Jinja value: scalars become Jinja scalars, collections are wrapped.
pub(crate) fn to_jinja(v: &Value) -> JValue {
    match v {
        Value::Nil => JValue::from(()),
        Value::Bool(b) => JValue::from(*b),
        Value::Int(i) | Value::Int64(i) => JValue::from(*i),
        Value::Uint64(u) => JValue::from(*u),
        Value::Float(f) => JValue::from(*f),
        Value::Complex(re, _) => JValue::from(*re),
        Value::String(s) => JValue::from(s.as_ref()),
        Value::Struct(s) => match s.type_info().stringify(v) {
            Some(text) => JValue::from_object(GoStringer {
                inner: Arc::new(GoValue(v.clone())),
                text,
            }),
            None => JValue::from_object(GoValue(v.clone())),
        },
        Value::List(_) | Value::Map(_) => JValue::from_object(GoValue(v.clone())),
        _ => JValue::from(()),
    }
}

/// A Jinja value as data (what `toyaml`/`tojson` serialise). Wrapped Go values keep their Go
/// typing (YAML numbers stay floats); numbers made in Jinja are ints or floats as written.
pub(crate) fn to_chart(v: &JValue) -> CValue {
    from_tmpl(&to_go(v))
}

fn key_string(k: &JValue) -> String {
    match k.as_str() {
        Some(s) => s.to_string(),
        None => go_string(k),
    }
}

/// A Jinja value as a Go template value (the data `include` and `tpl` hand to Go templates).
/// Wrapped Go values pass through unchanged, so `include("x", ctx)` is `include "x" .`.
pub(crate) fn to_go(v: &JValue) -> Value {
    if let Some(g) = v.downcast_object_ref::<GoValue>() {
        return g.0.clone();
    }
    if let Some(g) = v.downcast_object_ref::<GoStringer>() {
        return g.inner.0.clone();
    }
    if let Some(r) = v.downcast_object_ref::<Root>() {
        return Value::Map(r.0.clone());
    }
    use minijinja::value::ValueKind as K;
    match v.kind() {
        K::Undefined | K::None => Value::Nil,
        K::Bool => Value::Bool(v.is_true()),
        K::Number => {
            if let Some(i) = v.as_i64().filter(|_| v.is_integer()) {
                Value::Int(i)
            } else {
                Value::Float(f64::try_from(v.clone()).unwrap_or(0.0))
            }
        }
        K::String => Value::string(v.as_str().unwrap_or_default()),
        K::Map => {
            let mut m = BTreeMap::new();
            if let Ok(keys) = v.try_iter() {
                for k in keys {
                    let item = v.get_item(&k).unwrap_or_default();
                    m.insert(key_string(&k), to_go(&item));
                }
            }
            Value::Map(Map::with_type(m, Type::Interface, None))
        }
        K::Seq | K::Iterable => Value::List(List::new(
            v.try_iter()
                .map(|it| it.map(|x| to_go(&x)).collect())
                .unwrap_or_default(),
        )),
        K::Bytes => Value::string(String::from_utf8_lossy(v.as_bytes().unwrap_or_default())),
        _ => Value::string(v.to_string()),
    }
}

/// Go's `%v` of a value (Sprig's `strval`): floats as Go prints them (`3`, `1e+06`), wrapped
/// Go values as Go prints them, none and undefined as the empty string.
pub(crate) fn go_string(v: &JValue) -> String {
    if let Some(g) = v.downcast_object_ref::<GoValue>() {
        return g.0.to_go_string();
    }
    if let Some(g) = v.downcast_object_ref::<GoStringer>() {
        return g.text.clone();
    }
    use minijinja::value::ValueKind as K;
    match v.kind() {
        K::Undefined | K::None => String::new(),
        K::Bool => v.is_true().to_string(),
        K::String => v.as_str().unwrap_or_default().to_string(),
        K::Number if !v.is_integer() => match f64::try_from(v.clone()) {
            Ok(f) => go_float(f),
            Err(_) => v.to_string(),
        },
        _ => v.to_string(),
    }
}

/// A float as Go's `%v` prints it.
pub(crate) fn go_float(f: f64) -> String {
    Value::Float(f).to_go_string()
}

fn exported(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_uppercase())
}

fn type_name(v: &Value) -> Option<String> {
    match v {
        Value::Map(m) => m.type_info().map(|t| t.name().to_string()),
        Value::List(l) => l.type_info().map(|t| t.name().to_string()),
        Value::Struct(s) => Some(s.type_info().name().to_string()),
        _ => None,
    }
}

fn arg_str(args: &[JValue], i: usize) -> String {
    args.get(i).map(go_string).unwrap_or_default()
}

fn arity(method: &str, args: &[JValue], n: usize) -> Result<(), Error> {
    if args.len() == n {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "wrong number of args for {method}: want {n} got {}",
                args.len()
            ),
        ))
    }
}

fn base(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

impl GoValue {
    fn lookup(&self, key: &JValue) -> Option<JValue> {
        match &self.0 {
            Value::Map(m) => m.get(key.as_str()?).map(|v| to_jinja(&v)),
            Value::Struct(s) => {
                let name = key.as_str()?;
                if !exported(name) {
                    return None;
                }
                s.field(name).map(to_jinja)
            }
            Value::List(l) => {
                let i = key.as_i64()?;
                let len = l.len() as i64;
                let i = if i < 0 { len + i } else { i };
                if (0..len).contains(&i) {
                    Some(to_jinja(&l.items()[i as usize]))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn keys(&self) -> Enumerator {
        match &self.0 {
            Value::Map(m) => {
                Enumerator::Values(m.read().keys().map(|k| JValue::from(k.as_str())).collect())
            }
            Value::Struct(s) => Enumerator::Values(
                s.fields()
                    .iter()
                    .filter(|(k, _)| exported(k))
                    .map(|(k, _)| JValue::from(k.as_str()))
                    .collect(),
            ),
            Value::List(l) => Enumerator::Seq(l.len()),
            _ => Enumerator::NonEnumerable,
        }
    }

    fn method(&self, method: &str, args: &[JValue]) -> Result<JValue, Error> {
        match (type_name(&self.0).as_deref(), &self.0) {
            (Some("engine.files"), Value::Map(m)) => files_method(m, method, args),
            (Some("common.VersionSet"), Value::List(l)) if method == "Has" => {
                arity(method, args, 1)?;
                let want = arg_str(args, 0);
                Ok(JValue::from(
                    l.items().iter().any(|v| v.as_str() == Some(want.as_str())),
                ))
            }
            (Some("common.KubeVersion"), v @ Value::Struct(s)) => match method {
                "String" => Ok(JValue::from(s.type_info().stringify(v).unwrap_or_default())),
                "GitVersion" => Ok(s.field("Version").map(to_jinja).unwrap_or_default()),
                _ => Err(Error::from(ErrorKind::UnknownMethod)),
            },
            (_, Value::Map(m)) => match method {
                "items" => Ok(JValue::from(
                    m.read()
                        .iter()
                        .map(|(k, v)| JValue::from(vec![JValue::from(k.as_str()), to_jinja(v)]))
                        .collect::<Vec<_>>(),
                )),
                "keys" => Ok(JValue::from(
                    m.read()
                        .keys()
                        .map(|k| JValue::from(k.as_str()))
                        .collect::<Vec<_>>(),
                )),
                "values" => Ok(JValue::from(
                    m.read().values().map(to_jinja).collect::<Vec<_>>(),
                )),
                "get" => {
                    let key = arg_str(args, 0);
                    Ok(m.get(&key)
                        .map(|v| to_jinja(&v))
                        .or_else(|| args.get(1).cloned())
                        .unwrap_or_default())
                }
                _ => Err(Error::from(ErrorKind::UnknownMethod)),
            },
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Helm's `.Files` accessors (`pkg/engine/files.go`).
fn files_method(m: &Map, method: &str, args: &[JValue]) -> Result<JValue, Error> {
    let entries: BTreeMap<String, String> = m
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let yaml_of = |f: &dyn Fn(&str) -> String| {
        let out: CMap = entries
            .iter()
            .map(|(k, v)| (base(k), CValue::String(f(v))))
            .collect();
        JValue::from(crate::helm::to_yaml_string(&CValue::Map(out)))
    };
    match method {
        "Get" => {
            arity(method, args, 1)?;
            Ok(JValue::from(
                entries.get(&arg_str(args, 0)).cloned().unwrap_or_default(),
            ))
        }
        "GetBytes" => {
            arity(method, args, 1)?;
            let data = entries.get(&arg_str(args, 0)).cloned().unwrap_or_default();
            Ok(JValue::from_bytes(data.into_bytes()))
        }
        "Glob" => {
            arity(method, args, 1)?;
            let pattern = arg_str(args, 0);
            let picked: BTreeMap<String, Value> = entries
                .into_iter()
                .filter(|(k, _)| crate::context::glob_match(&pattern, k))
                .map(|(k, v)| (k, Value::string(v)))
                .collect();
            Ok(JValue::from_object(GoValue(Value::Map(Map::with_type(
                picked,
                Type::Interface,
                m.type_info().cloned(),
            )))))
        }
        "Lines" => {
            arity(method, args, 1)?;
            let Some(s) = entries.get(&arg_str(args, 0)) else {
                return Ok(JValue::from(Vec::<JValue>::new()));
            };
            let s = s.strip_suffix('\n').unwrap_or(s);
            Ok(JValue::from(
                s.split('\n').map(JValue::from).collect::<Vec<_>>(),
            ))
        }
        "AsConfig" => {
            arity(method, args, 0)?;
            Ok(yaml_of(&|v| v.to_string()))
        }
        "AsSecrets" => {
            arity(method, args, 0)?;
            Ok(yaml_of(&|v| crate::helm::b64(v.as_bytes())))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

impl Object for GoValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match &self.0 {
            Value::List(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        self.lookup(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.keys()
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match &self.0 {
            Value::Map(m) => Some(m.len()),
            Value::List(l) => Some(l.len()),
            Value::Struct(s) => Some(s.fields().iter().filter(|(k, _)| exported(k)).count()),
            _ => None,
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        match &self.0 {
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
            _ => true,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, Error> {
        self.method(method, args)
    }
}

impl Object for GoStringer {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        self.inner.lookup(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.inner.keys()
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, Error> {
        self.inner.method(method, args)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Object for Root {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let key = key.as_str()?;
        if key == "ctx" {
            return Some(JValue::from_object(GoValue(Value::Map(self.0.clone()))));
        }
        self.0.get(key).map(|v| to_jinja(&v))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<JValue> = self
            .0
            .read()
            .keys()
            .map(|k| JValue::from(k.as_str()))
            .collect();
        keys.push(JValue::from("ctx"));
        Enumerator::Values(keys)
    }
}
