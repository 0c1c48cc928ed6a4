//! Sprig's encoding functions: `b64enc`, `b64dec`, `b32enc`, `b32dec` (Go's
//! `encoding/base64` and `encoding/base32` standard encodings). The decoders return Go's
//! error text as their value when the input is invalid, as Sprig does.

use ferry_gotmpl::{Funcs, Signature, Type, Value, bytes_value, go_bytes};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base64, standard alphabet, padded.
fn b64_encode(data: &[u8]) -> String {
    crate::helm::b64(data)
}

fn decode_map(alphabet: &[u8], c: u8) -> Option<u8> {
    alphabet.iter().position(|&a| a == c).map(|p| p as u8)
}

/// Go's `base64.StdEncoding.DecodeString`: the bytes, or the offset Go reports in
/// `illegal base64 data at input byte N`.
fn b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut trailing_err = None;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                // Padding is required: a short final quantum is an error.
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = decode_map(B64, c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding: the end of the data.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(si);
            }
            dlen = j;
            break;
        }
        let val = u32::from(dbuf[0]) << 18
            | u32::from(dbuf[1]) << 12
            | u32::from(dbuf[2]) << 6
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(e) = trailing_err {
            return Err(e);
        }
    }
    Ok(out)
}

/// Base32, standard alphabet, padded.
fn b32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut b = [0u8; 5];
        b[..chunk.len()].copy_from_slice(chunk);
        let n = b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(B32[(n >> (35 - 5 * i)) as usize & 31] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString` (newlines are stripped first): the bytes, or
/// the offset Go reports in `illegal base32 data at input byte N`.
fn b32_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = src
        .iter()
        .copied()
        .filter(|&c| c != b'\n' && c != b'\r')
        .collect();
    let olen = src.len();
    let mut rest: &[u8] = &src;
    let mut out = Vec::with_capacity(olen / 8 * 5);
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(olen);
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match decode_map(B32, c) {
                Some(v) => dbuf[j] = v,
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let d = &dbuf;
        let bytes = [
            d[0] << 3 | d[1] >> 2,
            d[1] << 6 | d[2] << 1 | d[3] >> 4,
            d[3] << 4 | d[4] >> 1,
            d[4] << 7 | d[5] << 2 | d[6] >> 3,
            d[6] << 5 | d[7],
        ];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

fn arg(a: &[Value]) -> &str {
    a.first().and_then(Value::as_str).unwrap_or_default()
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    use Type::String as S;
    funcs.add("b64enc", Signature::new([S], S), |_, a| {
        Ok(Value::string(b64_encode(&go_bytes(arg(&a)))))
    });
    funcs.add("b64dec", Signature::new([S], S), |_, a| {
        Ok(match b64_decode(arg(&a).as_bytes()) {
            Ok(b) => bytes_value(&b),
            Err(at) => Value::string(format!("illegal base64 data at input byte {at}")),
        })
    });
    funcs.add("b32enc", Signature::new([S], S), |_, a| {
        Ok(Value::string(b32_encode(&go_bytes(arg(&a)))))
    });
    funcs.add("b32dec", Signature::new([S], S), |_, a| {
        Ok(match b32_decode(arg(&a).as_bytes()) {
            Ok(b) => bytes_value(&b),
            Err(at) => Value::string(format!("illegal base32 data at input byte {at}")),
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_like_go() {
        assert_eq!(b64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(b64_encode(b"hi"), "aGk=");
        assert_eq!(b64_encode(b""), "");
        assert_eq!(b64_decode(b"aGVs\nbG8=").unwrap(), b"hello");
        assert_eq!(b64_decode(b"aGk"), Err(0));
        assert_eq!(b64_decode(b"aGk=x"), Err(4));
        assert_eq!(b64_decode(b"aG=="), Ok(b"h".to_vec()));
        assert_eq!(b64_decode(b"aG="), Err(3));
        assert_eq!(b64_decode(b"a==="), Err(1));
        assert_eq!(b64_decode(b"aGVsbG8=aGk="), Err(8));
    }

    #[test]
    fn base32_like_go() {
        assert_eq!(b32_encode(b"hello"), "NBSWY3DP");
        assert_eq!(b32_encode(b"hi"), "NBUQ====");
        assert_eq!(b32_decode(b"NBUQ====").unwrap(), b"hi");
        assert_eq!(b32_decode(b"NBSWY3DP").unwrap(), b"hello");
        assert_eq!(b32_decode(b"1"), Err(0));
        assert_eq!(b32_decode(b"NBUQ"), Err(0));
    }
}
