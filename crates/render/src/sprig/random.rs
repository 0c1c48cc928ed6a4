//! Sprig's random functions: `randAlphaNum`, `randAlpha`, `randAscii`, `randNumeric`
//! (Masterminds/goutils' crypto-random strings), `randInt`, `randBytes`, `uuidv4`.

use ferry_gotmpl::{FuncError, Funcs, Signature, Type, Value};
use rand_core::{OsRng, RngCore};

use super::crypto::b64_encode;

/// Longest random string or byte count produced (Go would exhaust memory instead).
const MAX_LEN: i64 = 10_000_000;

/// A uniform integer in `0..n` (`n > 0`).
fn below(n: u64) -> u64 {
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let v = OsRng.next_u64();
        if v < zone {
            return v % n;
        }
    }
}

/// goutils' `CryptoRandom` over an alphabet; non-positive counts give `""`.
fn random_string(count: i64, alphabet: &[u8]) -> Result<String, FuncError> {
    if count > MAX_LEN {
        return Err(FuncError::new(format!(
            "random string longer than {MAX_LEN} characters"
        )));
    }
    Ok((0..count.max(0))
        .map(|_| alphabet[below(alphabet.len() as u64) as usize] as char)
        .collect())
}

const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";

fn ascii() -> Vec<u8> {
    (32u8..127).collect()
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

/// A random (version 4, RFC 4122 variant) UUID in canonical form.
fn uuidv4() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    let sig = || Signature::new([Type::Int], Type::String);
    funcs.add("randAlphaNum", sig(), |_, a| {
        random_string(int(&a[0]), ALNUM).map(Value::from)
    });
    funcs.add("randAlpha", sig(), |_, a| {
        random_string(int(&a[0]), ALPHA).map(Value::from)
    });
    funcs.add("randNumeric", sig(), |_, a| {
        random_string(int(&a[0]), DIGITS).map(Value::from)
    });
    funcs.add("randAscii", sig(), |_, a| {
        random_string(int(&a[0]), &ascii()).map(Value::from)
    });
    funcs.add(
        "randInt",
        Signature::new([Type::Int, Type::Int], Type::Int),
        |_, a| {
            let (min, max) = (int(&a[0]), int(&a[1]));
            let n = max.wrapping_sub(min);
            if n <= 0 {
                return Err(FuncError::new("invalid argument to Intn"));
            }
            Ok(Value::Int(min.wrapping_add(below(n as u64) as i64)))
        },
    );
    funcs.add(
        "randBytes",
        Signature::new([Type::Int], Type::String),
        |_, a| {
            let n = int(&a[0]);
            if n < 0 {
                return Err(FuncError::new("runtime error: makeslice: len out of range"));
            }
            if n > MAX_LEN {
                return Err(FuncError::new(format!("more than {MAX_LEN} random bytes")));
            }
            let mut buf = vec![0u8; n as usize];
            OsRng.fill_bytes(&mut buf);
            Ok(Value::from(b64_encode(&buf)))
        },
    );
    funcs.add("uuidv4", Signature::new([], Type::String), |_, _| {
        Ok(Value::from(uuidv4()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let s = random_string(50, ALNUM).unwrap();
        assert_eq!(s.len(), 50);
        assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert!(
            random_string(20, ALPHA)
                .unwrap()
                .bytes()
                .all(|c| c.is_ascii_alphabetic())
        );
        assert!(
            random_string(20, DIGITS)
                .unwrap()
                .bytes()
                .all(|c| c.is_ascii_digit())
        );
        assert!(
            random_string(20, &ascii())
                .unwrap()
                .bytes()
                .all(|c| (32..127).contains(&c))
        );
        assert_eq!(random_string(-3, ALPHA).unwrap(), "");
        let u = uuidv4();
        let re = regex::Regex::new(
            "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        )
        .unwrap();
        assert!(re.is_match(&u), "{u}");
        assert_ne!(uuidv4(), u);
    }
}
