//! Between chart values ([`ferry_chart::Value`], what Helm decodes from YAML/JSON) and
//! template values ([`ferry_gotmpl::Value`], what Go templates see).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use ferry_chart::{Map as CMap, Value as CValue};
use ferry_gotmpl::{List, Map, Type, TypeInfo, Value};

/// Helm's `common.Values` named map type (`.Values`, `.Template`, subchart values).
pub fn values_type() -> Arc<TypeInfo> {
    static T: OnceLock<Arc<TypeInfo>> = OnceLock::new();
    T.get_or_init(|| Arc::new(TypeInfo::new("common.Values")))
        .clone()
}

/// A chart value as a template value: maps are `map[string]interface {}`, lists
/// `[]interface {}`, numbers `float64` (YAML) or `int64` (`--set`).
pub fn to_tmpl(v: &CValue) -> Value {
    match v {
        CValue::Null => Value::Nil,
        CValue::Bool(b) => Value::Bool(*b),
        CValue::Int(i) => Value::Int64(*i),
        CValue::Float(f) => Value::Float(*f),
        CValue::String(s) => Value::string(s.as_str()),
        CValue::List(l) => Value::List(List::new(l.iter().map(to_tmpl).collect())),
        CValue::Map(m) => Value::Map(map_to_tmpl(m, None)),
    }
}

/// A chart map as a template map, optionally of a named type.
pub fn map_to_tmpl(m: &CMap, ty: Option<Arc<TypeInfo>>) -> Map {
    let entries: BTreeMap<String, Value> = m.iter().map(|(k, v)| (k.clone(), to_tmpl(v))).collect();
    Map::with_type(entries, Type::Interface, ty)
}

/// A template value as data (what `toYaml`/`toJson` serialise). Structs become maps of their
/// fields, functions become null.
pub fn from_tmpl(v: &Value) -> CValue {
    match v {
        Value::Nil => CValue::Null,
        Value::Bool(b) => CValue::Bool(*b),
        Value::Int(i) | Value::Int64(i) => CValue::Int(*i),
        Value::Uint64(u) => {
            if *u <= i64::MAX as u64 {
                CValue::Int(*u as i64)
            } else {
                CValue::Float(*u as f64)
            }
        }
        Value::Float(f) => CValue::Float(*f),
        Value::Complex(re, _) => CValue::Float(*re),
        Value::String(s) => CValue::String(s.to_string()),
        // encoding/json writes a []byte as base64
        Value::List(l) => match l.as_bytes() {
            Some(b) => CValue::String(crate::helm::b64(&b)),
            None => CValue::List(l.items().iter().map(from_tmpl).collect()),
        },
        Value::Map(m) => CValue::Map(
            m.read()
                .iter()
                .map(|(k, v)| (k.clone(), from_tmpl(v)))
                .collect(),
        ),
        Value::Struct(_) if crate::sprig::marshal_json(v).is_some() => {
            CValue::String(crate::sprig::marshal_json(v).unwrap_or_default())
        }
        Value::Struct(s) => CValue::Map(
            s.fields()
                .iter()
                .filter(|(k, _)| k.chars().next().is_some_and(|c| c.is_uppercase()))
                .map(|(k, v)| (k.clone(), from_tmpl(v)))
                .collect(),
        ),
        Value::Func(_) => CValue::Null,
        #[allow(unreachable_patterns)] // Value is non-exhaustive across crate versions
        _ => CValue::Null,
    }
}
