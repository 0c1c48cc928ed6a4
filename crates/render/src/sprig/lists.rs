//! Sprig's list functions (`list.go`): `list`, `first`, `rest`, `append`, `uniq`, `slice`,
//! `chunk`, `sortAlpha`, … and their `must*` twins.
//!
//! In Sprig the plain functions panic where the `must*` ones return an error; Go's
//! `text/template` turns both into the same `error calling NAME: …`, so each pair shares
//! one body here.

use ferry_gotmpl::{FuncError, Funcs, List, Signature, Type, Value};

use super::util::{deep_equal, empty, kind_of, strslice, strval, to_int};

type R = Result<Value, FuncError>;

/// The items of a slice argument, or Sprig's error `"{what} on type {kind}"`.
fn items(v: &Value, what: impl FnOnce(&str) -> String) -> Result<&[Value], FuncError> {
    let kind = kind_of(v)?;
    match v {
        Value::List(l) => Ok(l.items()),
        _ => Err(FuncError::new(what(kind))),
    }
}

fn list_of(items: Vec<Value>) -> Value {
    Value::list(items)
}

fn push(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot push on type {k}"))?;
    let mut out = l.to_vec();
    out.push(a[1].clone());
    Ok(list_of(out))
}

fn prepend(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot prepend on type {k}"))?;
    let mut out = Vec::with_capacity(l.len() + 1);
    out.push(a[1].clone());
    out.extend_from_slice(l);
    Ok(list_of(out))
}

fn chunk(a: Vec<Value>) -> R {
    let size = match a[0] {
        Value::Int(i) => i,
        _ => 0,
    };
    let l = items(&a[1], |k| format!("Cannot chunk type {k}"))?;
    if size <= 0 {
        // Go computes a negative or infinite chunk count and `make` panics.
        return Err(FuncError::new("runtime error: makeslice: len out of range"));
    }
    let chunks: Vec<Value> = l
        .chunks(size as usize)
        .map(|c| list_of(c.to_vec()))
        .collect();
    Ok(Value::List(List::typed(chunks, Type::list())))
}

fn first(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot find first on type {k}"))?;
    Ok(l.first().cloned().unwrap_or(Value::Nil))
}

fn last(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot find last on type {k}"))?;
    Ok(l.last().cloned().unwrap_or(Value::Nil))
}

fn rest(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot find rest on type {k}"))?;
    Ok(list_of(l.get(1..).unwrap_or_default().to_vec()))
}

fn initial(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot find initial on type {k}"))?;
    Ok(list_of(
        l.get(..l.len().saturating_sub(1))
            .unwrap_or_default()
            .to_vec(),
    ))
}

fn reverse(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot find reverse on type {k}"))?;
    Ok(list_of(l.iter().rev().cloned().collect()))
}

fn compact(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot compact on type {k}"))?;
    Ok(list_of(l.iter().filter(|v| !empty(v)).cloned().collect()))
}

fn uniq(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot find uniq on type {k}"))?;
    let mut out: Vec<Value> = Vec::new();
    for v in l {
        if !out.iter().any(|o| deep_equal(v, o)) {
            out.push(v.clone());
        }
    }
    Ok(list_of(out))
}

fn without(a: Vec<Value>) -> R {
    let l = items(&a[0], |k| format!("Cannot find without on type {k}"))?;
    let omit = &a[1..];
    Ok(list_of(
        l.iter()
            .filter(|v| !omit.iter().any(|o| deep_equal(v, o)))
            .cloned()
            .collect(),
    ))
}

fn has(a: Vec<Value>) -> R {
    let (needle, haystack) = (&a[0], &a[1]);
    if haystack.is_nil() {
        return Ok(Value::Bool(false));
    }
    let l = items(haystack, |k| format!("Cannot find has on type {k}"))?;
    Ok(Value::Bool(l.iter().any(|v| deep_equal(needle, v))))
}

fn slice(a: Vec<Value>) -> R {
    let kind = kind_of(&a[0])?;
    let Value::List(l) = &a[0] else {
        return Err(FuncError::new(format!(
            "list should be type of slice or array but {kind}"
        )));
    };
    if l.is_empty() {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map(to_int).unwrap_or(0);
    let end = match a.get(2) {
        Some(v) => to_int(v),
        None => l.len() as i64,
    };
    if start < 0 || end < start || end > l.len() as i64 {
        return Err(FuncError::new(
            "reflect.Value.Slice: slice index out of bounds",
        ));
    }
    l.slice(start as usize, end as usize)
        .map(Value::List)
        .ok_or_else(|| FuncError::new("reflect.Value.Slice: slice index out of bounds"))
}

fn concat(a: Vec<Value>) -> R {
    let mut out = Vec::new();
    for v in &a {
        let kind = kind_of(v)?;
        match v {
            Value::List(l) => out.extend_from_slice(l.items()),
            _ => return Err(FuncError::new(format!("Cannot concat type {kind} as list"))),
        }
    }
    Ok(list_of(out))
}

fn sort_alpha(a: Vec<Value>) -> R {
    let mut s = match &a[0] {
        Value::List(_) => strslice(&a[0]),
        v => vec![strval(v)],
    };
    s.sort();
    Ok(Value::List(List::typed(
        s.into_iter().map(Value::from).collect(),
        Type::String,
    )))
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    let i = || Type::Interface;
    let l = Type::list;
    funcs.add("list", Signature::variadic([], i(), l()), |_, a| {
        Ok(list_of(a))
    });
    funcs.add("tuple", Signature::variadic([], i(), l()), |_, a| {
        Ok(list_of(a))
    });
    type F = fn(Vec<Value>) -> R;
    let unary: [(&str, &str, F, Type); 9] = [
        ("first", "mustFirst", first, i()),
        ("last", "mustLast", last, i()),
        ("rest", "mustRest", rest, l()),
        ("initial", "mustInitial", initial, l()),
        ("reverse", "mustReverse", reverse, l()),
        ("compact", "mustCompact", compact, l()),
        ("uniq", "mustUniq", uniq, l()),
        (
            "sortAlpha",
            "",
            sort_alpha,
            Type::Slice(Box::new(Type::String)),
        ),
        ("concat", "", concat, i()),
    ];
    for (name, must, f, ret) in unary {
        let sig = if name == "concat" {
            Signature::variadic([], i(), ret)
        } else {
            Signature::new([i()], ret)
        };
        funcs.add(name, sig.clone(), move |_, a| f(a));
        if !must.is_empty() {
            funcs.add(must, sig, move |_, a| f(a));
        }
    }
    for name in ["append", "push", "mustAppend", "mustPush"] {
        funcs.add(name, Signature::new([i(), i()], l()), |_, a| push(a));
    }
    for name in ["prepend", "mustPrepend"] {
        funcs.add(name, Signature::new([i(), i()], l()), |_, a| prepend(a));
    }
    for name in ["chunk", "mustChunk"] {
        funcs.add(
            name,
            Signature::new([Type::Int, i()], Type::Slice(Box::new(l()))),
            |_, a| chunk(a),
        );
    }
    for name in ["without", "mustWithout"] {
        funcs.add(name, Signature::variadic([i()], i(), l()), |_, a| {
            without(a)
        });
    }
    for name in ["has", "mustHas"] {
        funcs.add(name, Signature::new([i(), i()], Type::Bool), |_, a| has(a));
    }
    for name in ["slice", "mustSlice"] {
        funcs.add(name, Signature::variadic([i()], i(), i()), |_, a| slice(a));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_kinds_are_errors_not_panics() {
        assert!(first(vec![Value::Nil]).is_err());
        assert!(chunk(vec![Value::Int(0), Value::list([])]).is_err());
        assert!(slice(vec![Value::list([Value::Int(1)]), Value::Int(-1)]).is_err());
        assert_eq!(
            chunk(vec![Value::Int(2), Value::list((0..5).map(Value::Int))])
                .unwrap()
                .to_go_string(),
            "[[0 1] [2 3] [4]]"
        );
    }
}
