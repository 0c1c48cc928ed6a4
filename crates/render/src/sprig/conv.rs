//! Sprig's type conversion functions: `atoi`, `int`, `int64`, `float64`, `toString`,
//! `toStrings` and `toDecimal` (`numeric.go`, `strings.go`, spf13/cast).

use ferry_gotmpl::{Funcs, Signature, Type, Value};

use super::strings::string_list;
use super::util::{strslice, strval, to_float64, to_int, to_int64};

/// Go's `strconv.Atoi` as Sprig wraps it: the value, 0 on syntax errors, clamped to the
/// `int` range on overflow.
fn atoi(s: &str) -> i64 {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let mut n: i128 = 0;
    for b in digits.bytes() {
        n = n * 10 + i128::from(b - b'0');
        if n > 1 << 64 {
            break;
        }
    }
    let n = if neg { -n } else { n };
    n.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Go's `strconv.ParseInt(s, 8, 64)`; `None` on syntax or range errors.
fn parse_octal(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(8)? as u64;
        n = n.checked_mul(8)?.checked_add(d)?;
    }
    if neg {
        if n > 1 << 63 {
            return None;
        }
        Some((n as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(n).ok()
    }
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    use Type::{Interface as I, String as S};
    funcs.add("atoi", Signature::new([S], Type::Int), |_, a| {
        Ok(Value::Int(atoi(a[0].as_str().unwrap_or_default())))
    });
    funcs.add("int64", Signature::new([I], Type::Int64), |_, a| {
        Ok(Value::Int64(to_int64(&a[0])))
    });
    funcs.add("int", Signature::new([I], Type::Int), |_, a| {
        Ok(Value::Int(to_int(&a[0])))
    });
    funcs.add("float64", Signature::new([I], Type::Float64), |_, a| {
        Ok(Value::Float(to_float64(&a[0])))
    });
    funcs.add("toString", Signature::new([I], S), |_, a| {
        Ok(Value::string(strval(&a[0])))
    });
    funcs.add(
        "toStrings",
        Signature::new([I], Type::Slice(Box::new(S))),
        |_, a| Ok(string_list(strslice(&a[0]))),
    );
    funcs.add("toDecimal", Signature::new([I], Type::Int64), |_, a| {
        Ok(Value::Int64(parse_octal(&a[0].to_go_string()).unwrap_or(0)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_integer_parsing() {
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("1_0"), 0);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        assert_eq!(atoi("-99999999999999999999"), i64::MIN);
        assert_eq!(parse_octal("-10"), Some(-8));
        assert_eq!(parse_octal("0o7"), None);
        assert_eq!(parse_octal("1000000000000000000000"), None);
        assert_eq!(parse_octal("-1000000000000000000000"), Some(i64::MIN));
    }
}
