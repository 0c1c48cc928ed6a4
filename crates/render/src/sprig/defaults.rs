//! Sprig's default and flow functions (`defaults.go`): `default`, `empty`, `coalesce`,
//! `all`, `any`, `ternary`, and the JSON encoders Helm does not replace (`toPrettyJson`,
//! `toRawJson`, `mustFromJson` and their `must*` twins). Helm supplies its own `toJson`,
//! `mustToJson` and `fromJson`.

use std::fmt::Write as _;

use ferry_chart::Value as CValue;
use ferry_chart::value::go_json_float;
use ferry_gotmpl::{FuncError, Funcs, Signature, Type, Value};

use super::util::empty;
use crate::convert::{from_tmpl, to_tmpl};

/// Go's `json.Marshal` errors for values it cannot encode (NaN and infinite floats,
/// complex numbers, functions, cyclic maps), found before encoding. `path` holds the maps
/// being visited.
fn check_json(v: &Value, path: &mut Vec<ferry_gotmpl::Map>) -> Result<(), FuncError> {
    match v {
        Value::Float(f) if !f.is_finite() => Err(FuncError::new(format!(
            "json: unsupported value: {}",
            ferry_gotmpl::gofmt::format_float(*f, 'g', None)
        ))),
        Value::Complex(..) | Value::Func(_) => Err(FuncError::new(format!(
            "json: unsupported type: {}",
            v.type_name()
        ))),
        Value::List(l) => l.items().iter().try_for_each(|x| check_json(x, path)),
        Value::Map(m) => {
            if path.iter().any(|p| p.ptr_eq(m)) {
                return Err(FuncError::new(format!(
                    "json: unsupported value: encountered a cycle via {}",
                    v.type_name()
                )));
            }
            path.push(m.clone());
            let r = m
                .entries()
                .iter()
                .try_for_each(|(_, x)| check_json(x, path));
            path.pop();
            r
        }
        Value::Struct(s) => s.fields().iter().try_for_each(|(_, x)| check_json(x, path)),
        _ => Ok(()),
    }
}

/// A JSON string as Go's encoder writes it (`escape_html`: `<`, `>`, `&` as `\u00XX`).
fn write_string(s: &str, escape_html: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Marshal` (`indent: None`) or `json.MarshalIndent(v, "", indent)`.
fn write_json(v: &CValue, indent: Option<&str>, escape_html: bool, depth: usize, out: &mut String) {
    let newline = |out: &mut String, d: usize| {
        if let Some(ind) = indent {
            out.push('\n');
            for _ in 0..d {
                out.push_str(ind);
            }
        }
    };
    match v {
        CValue::Null => out.push_str("null"),
        CValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        CValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        CValue::Float(f) => out.push_str(&go_json_float(*f)),
        CValue::String(s) => write_string(s, escape_html, out),
        CValue::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(x, indent, escape_html, depth + 1, out);
            }
            if !l.is_empty() {
                newline(out, depth);
            }
            out.push(']');
        }
        CValue::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_string(k, escape_html, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(x, indent, escape_html, depth + 1, out);
            }
            if !m.is_empty() {
                newline(out, depth);
            }
            out.push('}');
        }
    }
}

/// Encodes a template value as Go's `encoding/json` would.
fn encode(v: &Value, indent: Option<&str>, escape_html: bool) -> Result<String, FuncError> {
    check_json(v, &mut Vec::new())?;
    let mut out = String::new();
    write_json(&from_tmpl(v), indent, escape_html, 0, &mut out);
    Ok(out)
}

/// Go's `json.Unmarshal` into an `interface{}`.
fn decode(text: &str) -> Result<Value, FuncError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => Ok(to_tmpl(&CValue::from_json(&v))),
        Err(_) => Err(FuncError::new(crate::helm::go_json_syntax_error(text))),
    }
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    use Type::{Bool, Interface as I, String as S};
    funcs.add("default", Signature::variadic([I], I, I), |_, a| {
        let given = a.get(1).filter(|g| !empty(g));
        Ok(given.unwrap_or(&a[0]).clone())
    });
    funcs.add("empty", Signature::new([I], Bool), |_, a| {
        Ok(Value::Bool(empty(&a[0])))
    });
    funcs.add("coalesce", Signature::variadic([], I, I), |_, a| {
        Ok(a.into_iter().find(|v| !empty(v)).unwrap_or(Value::Nil))
    });
    funcs.add("all", Signature::variadic([], I, Bool), |_, a| {
        Ok(Value::Bool(a.iter().all(|v| !empty(v))))
    });
    funcs.add("any", Signature::variadic([], I, Bool), |_, a| {
        Ok(Value::Bool(a.iter().any(|v| !empty(v))))
    });
    funcs.add("ternary", Signature::new([I, I, Bool], I), |_, a| {
        let pick = matches!(a[2], Value::Bool(true));
        Ok(if pick { a[0].clone() } else { a[1].clone() })
    });

    funcs.add("toPrettyJson", Signature::new([I], S), |_, a| {
        Ok(Value::string(
            encode(&a[0], Some("  "), true).unwrap_or_default(),
        ))
    });
    funcs.add("mustToPrettyJson", Signature::new([I], S), |_, a| {
        Ok(Value::string(encode(&a[0], Some("  "), true)?))
    });
    // Sprig's toRawJson panics where mustToRawJson returns the error: the same message.
    for name in ["toRawJson", "mustToRawJson"] {
        funcs.add(name, Signature::new([I], S), |_, a| {
            Ok(Value::string(encode(&a[0], None, false)?))
        });
    }
    funcs.add("mustFromJson", Signature::new([S], I), |_, a| {
        decode(a[0].as_str().unwrap_or_default())
    });
}
