//! The value model of chart values, as Helm holds them after its YAML → JSON step.
//!
//! Helm reads values through `sigs.k8s.io/yaml`, which converts YAML to JSON and decodes the
//! JSON into Go's `interface{}`: every number becomes a `float64`. Only `--set` produces
//! `int64` (see [`crate::strvals`]). Maps print and serialise with sorted keys, as Go's do.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A map of values, keys sorted (Go's printers and encoders sort map keys).
pub type Map = BTreeMap<String, Value>;

/// One value as Helm's templates receive it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// YAML `null`, `~`, JSON `null`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An `int64` (only from `--set` and from code, never from YAML files).
    Int(i64),
    /// A `float64`: every number read from YAML or JSON.
    Float(f64),
    /// A string.
    String(String),
    /// A list (`[]interface{}`).
    List(Vec<Value>),
    /// A map (`map[string]interface{}`).
    Map(Map),
}

impl Value {
    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mutable map inside, if this is a map.
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// True for [`Value::Map`].
    pub fn is_map(&self) -> bool {
        matches!(self, Value::Map(_))
    }

    /// Looks up a dotted path (`a.b.c`) through nested maps, as Helm's `Values.PathValue`.
    pub fn path(&self, path: &str) -> Option<&Value> {
        let mut cur = self;
        for part in path.split('.') {
            cur = cur.as_map()?.get(part)?;
        }
        Some(cur)
    }

    /// The JSON type name Go's decoder uses in its errors (`cannot unmarshal array into ...`).
    pub fn json_type(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "array",
            Value::Map(_) => "object",
        }
    }

    /// Go's type name for the value, as `%T` prints it for decoded JSON.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Null => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    /// Serialises as Go's `encoding/json` does (`json.Marshal`): sorted keys, no spaces,
    /// `<`, `>` and `&` escaped, floats in Go's format.
    pub fn to_go_json(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }

    /// Serialises as pretty JSON with the given indent (`json.MarshalIndent(v, "", indent)`).
    pub fn to_go_json_pretty(&self, indent: &str) -> String {
        let mut out = String::new();
        write_json_pretty(self, &mut out, indent, 0);
        out
    }

    /// Converts from `serde_json` (numbers become floats, as Go's `json.Unmarshal` does).
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to `serde_json` (for schema validation and typed decoding).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    serde_json::Value::from(*f as i64)
                } else {
                    serde_json::Number::from_f64(*f)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null)
                }
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&go_json_float(*f)),
        Value::String(s) => write_json_string(s, out),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
    }
}

fn write_json_pretty(v: &Value, out: &mut String, indent: &str, depth: usize) {
    let pad = |out: &mut String, d: usize| {
        out.push('\n');
        for _ in 0..d {
            out.push_str(indent);
        }
    };
    match v {
        Value::List(l) if !l.is_empty() => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                write_json_pretty(x, out, indent, depth + 1);
            }
            pad(out, depth);
            out.push(']');
        }
        Value::Map(m) if !m.is_empty() => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                write_json_string(k, out);
                out.push_str(": ");
                write_json_pretty(x, out, indent, depth + 1);
            }
            pad(out, depth);
            out.push('}');
        }
        other => write_json(other, out),
    }
}

/// Writes a JSON string as Go's encoder does (HTML-safe escaping).
pub fn write_json_string(s: &str, out: &mut String) {
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
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Shortest decimal digits and decimal point position of `f` (`0.d1d2... × 10^dp`),
/// for a float of 64 or 32 bits.
fn shortest_digits(f: f64, bits32: bool) -> (String, i32) {
    let s = if bits32 {
        format!("{:e}", f.abs() as f32)
    } else {
        format!("{:e}", f.abs())
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = digits.trim_end_matches('0').to_string();
    if digits.is_empty() {
        return ("0".to_string(), 1);
    }
    (digits, exp + 1)
}

fn fmt_e(neg: bool, digits: &str, dp: i32, exp_min_digits: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs().to_string();
    for _ in e.len()..exp_min_digits {
        out.push('0');
    }
    out.push_str(&e);
    out
}

fn fmt_f(neg: bool, digits: &str, dp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..(-dp) {
            out.push('0');
        }
        out.push_str(digits);
    } else if dp as usize >= digits.len() {
        out.push_str(digits);
        for _ in digits.len()..dp as usize {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` (or 32 bits with `bits32`), as `%v` prints floats.
pub fn go_format_g(f: f64, bits32: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = f.is_sign_negative();
    let (digits, dp) = shortest_digits(f, bits32);
    if digits == "0" {
        return if neg { "-0".into() } else { "0".into() };
    }
    let exp = dp - 1;
    // Go uses precision 6 for the %e/%f decision when formatting the shortest digits.
    if !(-4..6).contains(&exp) {
        fmt_e(neg, &digits, dp, 2)
    } else {
        fmt_f(neg, &digits, dp)
    }
}

/// Go's `encoding/json` float encoding.
pub fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let neg = f < 0.0;
    let (digits, dp) = shortest_digits(f, false);
    if digits == "0" {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let abs = f.abs();
    if !(1e-6..1e21).contains(&abs) {
        // Go: 'e' format, then "e-07" → "e-7"
        fmt_e(neg, &digits, dp, 1)
    } else {
        fmt_f(neg, &digits, dp)
    }
}
