//! The parts of Go's `strconv` the parser needs: number literals with base
//! prefixes and `_` separators, and quoted string and rune literals.

fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let b = if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        &b[1..]
    } else {
        b
    };
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
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

/// `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint(s0: &str) -> Option<u64> {
    if s0.is_empty() {
        return None;
    }
    let b = s0.as_bytes();
    let (base, digits) = if b[0] == b'0' {
        if b.len() >= 3 && b[1] | 0x20 == b'b' {
            (2, &s0[2..])
        } else if b.len() >= 3 && b[1] | 0x20 == b'o' {
            (8, &s0[2..])
        } else if b.len() >= 3 && b[1] | 0x20 == b'x' {
            (16, &s0[2..])
        } else {
            (8, &s0[1..])
        }
    } else {
        (10, s0)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.bytes() {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => (c - b'0') as u64,
            b'a'..=b'z' => (c - b'a' + 10) as u64,
            b'A'..=b'Z' => (c - b'A' + 10) as u64,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(d)?;
    }
    if underscores && !underscore_ok(s0) {
        return None;
    }
    Some(n)
}

/// `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let un = parse_uint(rest)?;
    if !neg && un >= 1 << 63 {
        return None;
    }
    if neg && un > 1 << 63 {
        return None;
    }
    Some(if neg {
        (un as i64).wrapping_neg()
    } else {
        un as i64
    })
}

/// `strconv.ParseFloat(s, 64)`, failing on out-of-range values as Go does.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity") {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    if body.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let v = if clean.len() > 2 && clean.as_bytes()[0] == b'0' && clean.as_bytes()[1] | 0x20 == b'x'
    {
        parse_hex_float(&clean[2..])?
    } else {
        if !clean
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return None;
        }
        clean.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => return None,
    };
    let exp: i64 = exp.parse().ok()?;
    let mut m: u64 = 0;
    let mut e: i64 = 0;
    let mut seen_dot = false;
    let mut any = false;
    for c in mant.chars() {
        if c == '.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
            continue;
        }
        let d = c.to_digit(16)? as u64;
        any = true;
        if m >> 58 == 0 {
            m = m * 16 + d;
            if seen_dot {
                e -= 4;
            }
        } else if !seen_dot {
            e += 4;
        }
    }
    if !any {
        return None;
    }
    let v = (m as f64) * 2f64.powi((e + exp).clamp(-2000, 2000) as i32);
    Some(v)
}

/// Decodes one character of a Go literal (`strconv.UnquoteChar`). Returns
/// the value (a byte for `\x` and octal escapes in strings is reported as
/// `Byte`), and the rest of the input.
pub(crate) enum Unit {
    Char(char),
    Byte(u8),
}

pub(crate) fn unquote_char(s: &str, quote: char) -> Option<(Unit, &str)> {
    let mut it = s.chars();
    let c = it.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        return Some((Unit::Char(c), it.as_str()));
    }
    let c = it.next()?;
    let rest = it.as_str();
    let simple = |ch: char| Some((Unit::Char(ch), rest));
    match c {
        'a' => simple('\u{7}'),
        'b' => simple('\u{8}'),
        'f' => simple('\u{c}'),
        'n' => simple('\n'),
        'r' => simple('\r'),
        't' => simple('\t'),
        'v' => simple('\u{b}'),
        'x' | 'u' | 'U' => {
            let n = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            if rest.len() < n || !rest.is_char_boundary(n) {
                return None;
            }
            let v = u32::from_str_radix(&rest[..n], 16).ok()?;
            if !rest[..n].bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let rest = &rest[n..];
            if c == 'x' {
                return Some((Unit::Byte(v as u8), rest));
            }
            Some((Unit::Char(char::from_u32(v)?), rest))
        }
        '0'..='7' => {
            let b = rest.as_bytes();
            if b.len() < 2 {
                return None;
            }
            let mut v = c as u32 - '0' as u32;
            for d in &b[..2] {
                if !(b'0'..=b'7').contains(d) {
                    return None;
                }
                v = v * 8 + (d - b'0') as u32;
            }
            if v > 255 {
                return None;
            }
            Some((Unit::Byte(v as u8), &rest[2..]))
        }
        '\\' => simple('\\'),
        '\'' | '"' => {
            if c != quote {
                return None;
            }
            simple(c)
        }
        _ => None,
    }
}

/// `strconv.Unquote` for a `"…"` or `` `…` `` literal.
pub(crate) fn unquote(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return None;
    }
    let q = b[0];
    if q != b[b.len() - 1] {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return None;
            }
            Some(inner.replace('\r', ""))
        }
        b'"' => {
            if inner.contains('\n') {
                return None;
            }
            if !inner.contains('\\') && !inner.contains('"') {
                return Some(inner.to_string());
            }
            let mut out: Vec<u8> = Vec::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                let (u, r) = unquote_char(rest, '"')?;
                match u {
                    Unit::Char(c) => {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    Unit::Byte(b) => out.push(b),
                }
                rest = r;
            }
            Some(String::from_utf8_lossy(&out).into_owned())
        }
        _ => None,
    }
}

/// Parses a `'x'` rune literal (text includes the quotes).
pub(crate) fn unquote_rune(text: &str) -> Result<char, String> {
    let inner = text.strip_prefix('\'').ok_or("invalid syntax")?;
    let (u, tail) = unquote_char(inner, '\'').ok_or("invalid syntax")?;
    if tail != "'" {
        return Err(format!("malformed character constant: {text}"));
    }
    Ok(match u {
        Unit::Char(c) => c,
        Unit::Byte(b) => b as char,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_uint("0x1F"), Some(31));
        assert_eq!(parse_uint("0o17"), Some(15));
        assert_eq!(parse_uint("017"), Some(15));
        assert_eq!(parse_uint("0b101"), Some(5));
        assert_eq!(parse_uint("1_000_000"), Some(1_000_000));
        assert_eq!(parse_uint("1__0"), None);
        assert_eq!(parse_uint("0009"), None);
        assert_eq!(parse_int("-0"), Some(0));
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_uint("18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float("0x1p4"), Some(16.0));
        assert_eq!(parse_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float("0009"), Some(9.0));
    }
}
