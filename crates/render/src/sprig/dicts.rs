//! Sprig's dictionary functions (`dict.go`): `dict`, `get`, `set`, `unset`, `hasKey`, `pluck`,
//! `keys`, `values`, `pick`, `omit`, `merge`/`mergeOverwrite` (mergo's semantics), `dig`,
//! `deepCopy`.
//!
//! Maps are references as in Go: `set`, `unset` and `merge` change the map they are given.

use std::collections::BTreeMap;

use ferry_gotmpl::{FuncError, Funcs, List, Map, Signature, Type, Value};

use super::util::{empty, strval};

type R = Result<Value, FuncError>;

/// Nesting beyond which merging or copying gives up (Go would overflow its stack on a
/// self-referencing map).
const MAX_DEPTH: usize = 1_000;

fn map_arg(v: &Value) -> Option<&Map> {
    match v {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

fn str_arg(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn new_map(entries: BTreeMap<String, Value>) -> Value {
    Value::Map(Map::with_type(entries, Type::Interface, None))
}

fn dict(a: Vec<Value>) -> R {
    let mut m = BTreeMap::new();
    let mut i = 0;
    while i < a.len() {
        let key = strval(&a[i]);
        m.insert(
            key,
            a.get(i + 1).cloned().unwrap_or_else(|| Value::from("")),
        );
        i += 2;
    }
    Ok(new_map(m))
}

fn get(a: Vec<Value>) -> R {
    let key = str_arg(&a[1]);
    Ok(map_arg(&a[0])
        .and_then(|m| m.get(&key))
        .unwrap_or_else(|| Value::from("")))
}

fn set(a: Vec<Value>) -> R {
    let Some(m) = map_arg(&a[0]) else {
        return Err(FuncError::new("assignment to entry in nil map"));
    };
    m.insert(str_arg(&a[1]), a[2].clone());
    Ok(a[0].clone())
}

fn unset(a: Vec<Value>) -> R {
    if let Some(m) = map_arg(&a[0]) {
        m.write().remove(&str_arg(&a[1]));
    }
    Ok(match &a[0] {
        Value::Nil => new_map(BTreeMap::new()),
        v => v.clone(),
    })
}

fn has_key(a: Vec<Value>) -> R {
    let key = str_arg(&a[1]);
    Ok(Value::Bool(
        map_arg(&a[0]).is_some_and(|m| m.read().contains_key(&key)),
    ))
}

fn pluck(a: Vec<Value>) -> R {
    let key = str_arg(&a[0]);
    Ok(Value::list(
        a[1..]
            .iter()
            .filter_map(|d| map_arg(d).and_then(|m| m.get(&key))),
    ))
}

fn keys(a: Vec<Value>) -> R {
    let mut out = Vec::new();
    for d in &a {
        if let Some(m) = map_arg(d) {
            out.extend(m.read().keys().map(|k| Value::from(k.as_str())));
        }
    }
    Ok(Value::List(List::typed(out, Type::String)))
}

fn values(a: Vec<Value>) -> R {
    Ok(Value::list(
        map_arg(&a[0])
            .map(|m| m.entries().into_iter().map(|(_, v)| v).collect::<Vec<_>>())
            .unwrap_or_default(),
    ))
}

fn pick(a: Vec<Value>) -> R {
    let mut out = BTreeMap::new();
    if let Some(m) = map_arg(&a[0]) {
        let r = m.read();
        for k in &a[1..] {
            let k = str_arg(k);
            if let Some(v) = r.get(&k) {
                out.insert(k, v.clone());
            }
        }
    }
    Ok(new_map(out))
}

fn omit(a: Vec<Value>) -> R {
    let drop: Vec<String> = a[1..].iter().map(str_arg).collect();
    let out = map_arg(&a[0])
        .map(|m| {
            m.read()
                .iter()
                .filter(|(k, _)| !drop.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(new_map(out))
}

/// mergo's `deepMerge` of one map into another, as `mergo.Merge` (fill empty destination
/// values) or `mergo.MergeWithOverwrite` (source wins, even with empty values).
fn merge_into(dst: &Map, src: &Map, overwrite: bool, depth: usize) -> Result<(), FuncError> {
    if depth > MAX_DEPTH {
        return Err(FuncError::new("runtime: goroutine stack exceeds limit"));
    }
    if dst.ptr_eq(src) && !overwrite {
        return Ok(());
    }
    for (k, sv) in src.entries() {
        let dv = dst.get(&k);
        if sv.is_nil() {
            if overwrite {
                dst.insert(k, Value::Nil);
            }
            continue;
        }
        let dst_full = dv.as_ref().is_some_and(|d| !empty(d));
        match (&sv, &dv) {
            (Value::Map(sm), Some(Value::Map(dm))) => {
                if !dm.ptr_eq(sm) {
                    merge_into(dm, sm, overwrite, depth + 1)?;
                }
                if !dm.is_empty() {
                    continue;
                }
            }
            (Value::List(_), _) if dst_full => {
                if overwrite {
                    dst.insert(k, sv);
                }
                continue;
            }
            _ => {}
        }
        if overwrite || !dst_full {
            dst.insert(k, sv);
        }
    }
    Ok(())
}

fn merge(a: Vec<Value>, overwrite: bool) -> R {
    let dst = match &a[0] {
        Value::Map(m) => m.clone(),
        _ => Map::new(),
    };
    for src in &a[1..] {
        if let Value::Map(s) = src {
            merge_into(&dst, s, overwrite, 0)?;
        }
    }
    Ok(match &a[0] {
        Value::Map(_) => a[0].clone(),
        _ => Value::Map(dst),
    })
}

/// copystructure's deep copy: maps and lists are copied, other values shared.
fn deep_copy(v: &Value, depth: usize) -> R {
    if depth > MAX_DEPTH {
        return Err(FuncError::new("runtime: goroutine stack exceeds limit"));
    }
    Ok(match v {
        Value::Map(m) => {
            let mut out = BTreeMap::new();
            for (k, x) in m.entries() {
                out.insert(k, deep_copy(&x, depth + 1)?);
            }
            Value::Map(Map::with_type(
                out,
                m.elem().clone(),
                m.type_info().cloned(),
            ))
        }
        Value::List(l) => {
            let items = l
                .items()
                .iter()
                .map(|x| deep_copy(x, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Value::List(match l.type_info() {
                Some(t) => List::named(items, l.elem().clone(), t.clone()),
                None => List::typed(items, l.elem().clone()),
            })
        }
        v => v.clone(),
    })
}

/// Go's message for a failed `x.(T)` on an `interface {}`.
fn conversion_error(v: &Value, want: &str) -> FuncError {
    let got = match v {
        Value::Nil => "nil".to_string(),
        v => v.type_name(),
    };
    FuncError::new(format!(
        "interface conversion: interface {{}} is {got}, not {want}"
    ))
}

fn plain_map(v: &Value) -> Option<&Map> {
    match v {
        Value::Map(m) if m.type_info().is_none() && *m.elem() == Type::Interface => Some(m),
        _ => None,
    }
}

fn dig(a: Vec<Value>) -> R {
    if a.len() < 3 {
        return Err(FuncError::new("dig needs at least three arguments"));
    }
    let last = &a[a.len() - 1];
    let mut dict = plain_map(last)
        .ok_or_else(|| conversion_error(last, "map[string]interface {}"))?
        .clone();
    let def = a[a.len() - 2].clone();
    let mut keys = Vec::with_capacity(a.len() - 2);
    for k in &a[..a.len() - 2] {
        match k {
            Value::String(s) => keys.push(s.to_string()),
            v => return Err(conversion_error(v, "string")),
        }
    }
    for (i, k) in keys.iter().enumerate() {
        let Some(step) = dict.get(k) else {
            return Ok(def);
        };
        if i == keys.len() - 1 {
            return Ok(step);
        }
        dict = plain_map(&step)
            .ok_or_else(|| conversion_error(&step, "map[string]interface {}"))?
            .clone();
    }
    Ok(def)
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    let i = || Type::Interface;
    let m = Type::map;
    let s = || Type::String;
    funcs.add("dict", Signature::variadic([], i(), m()), |_, a| dict(a));
    funcs.add("get", Signature::new([m(), s()], i()), |_, a| get(a));
    funcs.add("set", Signature::new([m(), s(), i()], m()), |_, a| set(a));
    funcs.add("unset", Signature::new([m(), s()], m()), |_, a| unset(a));
    funcs.add("hasKey", Signature::new([m(), s()], Type::Bool), |_, a| {
        has_key(a)
    });
    funcs.add(
        "pluck",
        Signature::variadic([s()], m(), Type::list()),
        |_, a| pluck(a),
    );
    funcs.add(
        "keys",
        Signature::variadic([], m(), Type::Slice(Box::new(s()))),
        |_, a| keys(a),
    );
    funcs.add("values", Signature::new([m()], Type::list()), |_, a| {
        values(a)
    });
    funcs.add("pick", Signature::variadic([m()], s(), m()), |_, a| pick(a));
    funcs.add("omit", Signature::variadic([m()], s(), m()), |_, a| omit(a));
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        funcs.add(name, Signature::variadic([m()], m(), i()), move |_, a| {
            merge(a, overwrite)
        });
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        funcs.add(name, Signature::new([i()], i()), |_, a| {
            if a[0].is_nil() {
                return Err(FuncError::new(
                    "reflect: call of reflect.Value.Type on zero Value",
                ));
            }
            deep_copy(&a[0], 0)
        });
    }
    funcs.add("dig", Signature::variadic([], i(), i()), |_, a| dig(a));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_of_a_map_into_itself_terminates() {
        let m = Map::new();
        m.insert("a", Value::Int(1));
        let v = Value::Map(m.clone());
        m.insert("self", v.clone());
        assert!(merge(vec![v.clone(), v.clone()], true).is_ok());
        assert!(merge(vec![v.clone(), v.clone()], false).is_ok());
        assert!(deep_copy(&v, 0).is_err());
    }
}
