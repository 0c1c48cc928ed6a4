//! Coercions Sprig shares between its groups: `spf13/cast` (v1.7, as Helm links it) for
//! `toInt64`/`toInt`/`toFloat64`, Sprig's `strval`/`strslice`/`empty`, and Go's `strconv`
//! number parsing and float-to-int conversion.

use ferry_gotmpl::{FuncError, Value};

/// Go's `int64(f)` on amd64: truncation toward zero; NaN and out-of-range values give
/// `math.MinInt64` (the CPU's "integer indefinite").
pub(crate) fn go_f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// Go's `strconv.underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    let mut hex = false;
    if b.len() - i >= 2
        && b[i] == b'0'
        && matches!(b[i + 1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        hex = b[i + 1].eq_ignore_ascii_case(&b'x');
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-`0` prefixes and
/// underscores; `None` on syntax or range errors.
pub(crate) fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint_base0(body)?;
    if neg {
        if u > 1u64 << 63 {
            return None;
        }
        Some((u as i128).wrapping_neg() as i64)
    } else if u > i64::MAX as u64 {
        None
    } else {
        Some(u as i64)
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint_base0(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (base, digits) = if b[0] == b'0' && b.len() >= 2 {
        match b[1].to_ascii_lowercase() {
            b'x' => (16, &s[2..]),
            b'o' => (8, &s[2..]),
            b'b' => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    let has_prefix = base != 10 && (base != 8 || s[1..].starts_with(['o', 'O']));
    if has_prefix && digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(base)? as u64;
        n = n.checked_mul(base as u64)?.checked_add(d)?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// Go's `strconv.ParseFloat(s, 64)`; `None` on syntax or range errors.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let mut t = s.to_string();
    if t.contains('_') {
        if !underscore_ok(s) {
            return None;
        }
        t.retain(|c| c != '_');
    }
    let body = t.trim_start_matches(['+', '-']);
    if body.len() + 1 < t.len() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let v = if lower == "nan" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if t.starts_with('-') { -v } else { v });
    }
    if lower.starts_with("0x") {
        return parse_hex_float(&t);
    }
    if !body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    if v.is_infinite() {
        return None; // Go reports ErrRange
    }
    Some(v)
}

/// Hexadecimal floats (`0x1.8p3`): Go requires the `p` exponent.
fn parse_hex_float(t: &str) -> Option<f64> {
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body = &body[2..];
    let (mant, exp) = body.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in ip.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// `cast`'s `trimZeroDecimal`: `"1.00"` → `"1"`, other strings unchanged.
fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// `cast.ToInt64E`: `Some` when the value converts.
pub(crate) fn to_int64_e(v: &Value) -> Option<i64> {
    Some(match v {
        Value::Nil => 0,
        Value::Bool(b) => *b as i64,
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint64(u) => *u as i64,
        Value::Float(f) => go_f64_to_i64(*f),
        Value::String(s) => parse_int_base0(trim_zero_decimal(s))?,
        _ => return None,
    })
}

/// Sprig's `toInt64` (`cast.ToInt64`): numbers, numeric strings, bools; 0 otherwise.
pub(crate) fn to_int64(v: &Value) -> i64 {
    to_int64_e(v).unwrap_or(0)
}

/// Sprig's `toInt` (`cast.ToInt`), Go `int` being 64 bits.
pub(crate) fn to_int(v: &Value) -> i64 {
    to_int64(v)
}

/// `cast.ToFloat64E`: `Some` when the value converts.
pub(crate) fn to_float64_e(v: &Value) -> Option<f64> {
    Some(match v {
        Value::Nil => 0.0,
        Value::Bool(b) => *b as i64 as f64,
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Uint64(u) => *u as f64,
        Value::Float(f) => *f,
        Value::String(s) => parse_float(s)?,
        _ => return None,
    })
}

/// Sprig's `toFloat64` (`cast.ToFloat64`).
pub(crate) fn to_float64(v: &Value) -> f64 {
    to_float64_e(v).unwrap_or(0.0)
}

/// Sprig's `strval`: strings as they are, everything else as `fmt.Sprintf("%v")` (which
/// uses `String()` methods).
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        // `case []byte: return string(v)`
        Value::List(l) if l.as_bytes().is_some() => {
            String::from_utf8_lossy(&l.as_bytes().unwrap_or_default()).into_owned()
        }
        v => v.to_go_string(),
    }
}

/// Sprig's `strslice` (`toStrings`): list elements through [`strval`] (nils dropped), a
/// non-list as a one-element list, nil as an empty list.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .items()
            .iter()
            .filter(|x| !x.is_nil())
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        v => vec![strval(v)],
    }
}

/// Sprig's `empty`: nil, false, zero numbers and empty strings, lists and maps.
pub(crate) fn empty(v: &Value) -> bool {
    !v.is_true()
}

/// Go's `reflect.TypeOf(v).Kind()` for the Sprig functions that switch on it; nil panics
/// in Go with a nil pointer dereference, which templates surface as this error.
pub(crate) fn kind_of(v: &Value) -> Result<&'static str, FuncError> {
    if v.is_nil() {
        return Err(nil_deref());
    }
    Ok(v.kind_name())
}

/// The runtime error Go reports for a nil pointer dereference.
pub(crate) fn nil_deref() -> FuncError {
    FuncError::new("runtime error: invalid memory address or nil pointer dereference")
}

/// Go's `reflect.DeepEqual` on template values: same dynamic types, equal contents (NaN
/// never equals itself, but a map or list is equal to itself).
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    deep_equal_at(a, b, 0)
}

fn deep_equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > 10_000 {
        return false;
    }
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            a.type_of() == b.type_of()
                && x.len() == y.len()
                && x.items()
                    .iter()
                    .zip(y.items())
                    .all(|(p, q)| deep_equal_at(p, q, depth + 1))
        }
        (Value::Map(x), Value::Map(y)) => {
            if a.type_of() != b.type_of() {
                return false;
            }
            if x.ptr_eq(y) {
                return true;
            }
            let (ex, ey) = (x.entries(), y.entries());
            ex.len() == ey.len()
                && ex
                    .iter()
                    .zip(&ey)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && deep_equal_at(v1, v2, depth + 1))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.type_info().name() == y.type_info().name()
                && x.is_pointer() == y.is_pointer()
                && x.fields().len() == y.fields().len()
                && x.fields()
                    .iter()
                    .zip(y.fields())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && deep_equal_at(v1, v2, depth + 1))
        }
        (Value::Func(_), Value::Func(_)) => false,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_number_parsing() {
        assert_eq!(parse_int_base0("0x1F"), Some(31));
        assert_eq!(parse_int_base0("077"), Some(63));
        assert_eq!(parse_int_base0("0o17"), Some(15));
        assert_eq!(parse_int_base0("-0b101"), Some(-5));
        assert_eq!(parse_int_base0("1_000"), Some(1000));
        assert_eq!(parse_int_base0("1__0"), None);
        assert_eq!(parse_int_base0("_1"), None);
        assert_eq!(parse_int_base0(""), None);
        assert_eq!(parse_int_base0("0x"), None);
        assert_eq!(parse_int_base0("0"), Some(0));
        assert_eq!(parse_int_base0("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int_base0("9223372036854775808"), None);
        assert_eq!(parse_float("1_0"), Some(10.0));
        assert_eq!(parse_float("0x10"), None);
        assert_eq!(parse_float("0x1p4"), Some(16.0));
        assert_eq!(parse_float("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float(" 1"), None);
        assert_eq!(to_int64(&Value::from("1.0")), 1);
        assert_eq!(to_int64(&Value::from("1.5")), 0);
        assert_eq!(to_int64(&Value::from(1.2345e19)), i64::MIN);
    }
}
