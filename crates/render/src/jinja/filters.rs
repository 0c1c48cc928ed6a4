//! The filters and functions Jinja templates get: the Helm helpers charts use most, with Helm's
//! (Sprig's) semantics rather than Jinja's where the two differ (`indent`, `default`).

use ferry_chart::Value as CValue;
use ferry_gotmpl::{MissingKey, Templates, Value};
use minijinja::value::Rest;
use minijinja::{Environment, Error, ErrorKind, State, Value as JValue};

use super::value::{go_string, to_chart, to_go, to_jinja};
use super::{GoFailure, HelmMessage};
use crate::helm::{ROOT_NAME, RenderState, b64, helm_error, to_yaml_string};

/// An error whose message is shown as is (`required`, `fail`), as Helm shows them.
fn helm_message(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.clone()).with_source(HelmMessage(msg))
}

/// Sprig's `empty`: nil, false, 0, "" and empty collections.
fn is_empty(v: &JValue) -> bool {
    use minijinja::value::ValueKind as K;
    match v.kind() {
        K::Undefined | K::None => true,
        K::Bool => !v.is_true(),
        K::Number => f64::try_from(v.clone()).map(|f| f == 0.0).unwrap_or(false),
        K::String => v.as_str().is_some_and(str::is_empty),
        K::Bytes => v.as_bytes().is_some_and(<[u8]>::is_empty),
        K::Seq | K::Map => v.len() == Some(0),
        _ => false,
    }
}

/// Sprig's `indent`: every line, the first included, gets `n` spaces.
fn indent(n: usize, s: &str) -> String {
    let pad = " ".repeat(n);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Sprig's `trunc` (byte counts, kept on character boundaries).
fn trunc(s: &str, n: i64) -> String {
    let len = s.len() as i64;
    if n < 0 && len + n > 0 {
        let mut at = (len + n) as usize;
        while !s.is_char_boundary(at) {
            at += 1;
        }
        return s[at..].to_string();
    }
    if n >= 0 && len > n {
        let mut at = n as usize;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        return s[..at].to_string();
    }
    s.to_string()
}

/// Go's `base64.StdEncoding.DecodeString` (newlines ignored); Sprig returns the error text.
fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b != b'\n' && *b != b'\r')
        .collect();
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let illegal = |i: usize| format!("illegal base64 data at input byte {i}");
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let pads = chunk.iter().rev().take_while(|(_, b)| *b == b'=').count();
        if chunk.len() < 4 {
            return Err(illegal(chunk.last().map(|(i, _)| *i).unwrap_or(0)));
        }
        let mut n = 0u32;
        for (k, (i, b)) in chunk.iter().enumerate() {
            let d = if k >= 4 - pads {
                0
            } else {
                val(*b).ok_or_else(|| illegal(*i))?
            };
            n = n << 6 | d;
        }
        if pads > 2 {
            return Err(illegal(chunk[1].0));
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pads]);
        if pads > 0 && chunk.as_ptr() != bytes[bytes.len() - chunk.len()..].as_ptr() {
            return Err(illegal(chunk[4 - pads].0));
        }
    }
    Ok(out)
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The data for `include`/`tpl`: the given value, else the template's whole context (`ctx`).
fn dot_of(state: &State<'_, '_>, data: Option<JValue>) -> Value {
    match data {
        Some(d) => to_go(&d),
        None => state.lookup("ctx").map(|c| to_go(&c)).unwrap_or(Value::Nil),
    }
}

fn go_failure(what: &str, name: &str, e: &ferry_gotmpl::Error) -> Error {
    let message = helm_error(name, e);
    Error::new(
        ErrorKind::InvalidOperation,
        format!("error calling {what}: {message}"),
    )
    .with_source(GoFailure {
        message: format!("error calling {what}: {message}"),
        frames: crate::engine::go_frames(e),
    })
}

/// Registers the filters and functions on `env`; `set` is the chart's Go template set (for
/// `include` and `tpl`).
pub(crate) fn register(env: &mut Environment<'static>, set: Templates, strict: bool) {
    for name in ["toyaml", "toYaml"] {
        env.add_filter(name, |v: JValue| to_yaml_string(&to_chart(&v)));
    }
    for name in ["tojson", "toJson"] {
        env.add_filter(name, |v: JValue| to_chart(&v).to_go_json());
    }
    for name in ["fromyaml", "fromYaml"] {
        env.add_filter(name, |s: String| {
            let v = match ferry_chart::yaml::parse(&s) {
                Ok(CValue::Map(m)) => CValue::Map(m),
                Ok(CValue::Null) => CValue::Map(Default::default()),
                Ok(other) => error_map(format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    other.json_type()
                )),
                Err(e) => error_map(e.go_message()),
            };
            to_jinja(&crate::convert::to_tmpl(&v))
        });
    }
    for name in ["fromjson", "fromJson"] {
        env.add_filter(name, |s: String| {
            let v = match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(serde_json::Value::Null) => CValue::Map(Default::default()),
                Ok(j) => CValue::from_json(&j),
                Err(_) => error_map(crate::helm::go_json_syntax_error(&s)),
            };
            to_jinja(&crate::convert::to_tmpl(&v))
        });
    }
    env.add_filter("string", |v: JValue| go_string(&v));
    env.add_filter("indent", |v: JValue, n: usize| indent(n, &go_string(&v)));
    env.add_filter("nindent", |v: JValue, n: usize| {
        format!("\n{}", indent(n, &go_string(&v)))
    });
    env.add_filter("quote", |v: JValue, rest: Rest<JValue>| {
        std::iter::once(&v)
            .chain(rest.iter())
            .filter(|x| !x.is_none() && !x.is_undefined())
            .map(|x| ferry_gotmpl::gofmt::quote(&go_string(x)))
            .collect::<Vec<_>>()
            .join(" ")
    });
    env.add_filter("squote", |v: JValue, rest: Rest<JValue>| {
        std::iter::once(&v)
            .chain(rest.iter())
            .filter(|x| !x.is_none() && !x.is_undefined())
            .map(|x| format!("'{}'", go_string(x)))
            .collect::<Vec<_>>()
            .join(" ")
    });
    env.add_filter("b64enc", |v: JValue| b64(go_string(&v).as_bytes()));
    env.add_filter("b64dec", |v: JValue| match b64_decode(&go_string(&v)) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => e,
    });
    env.add_filter("sha256sum", |v: JValue| sha256_hex(&go_string(&v)));
    env.add_filter("trunc", |v: JValue, n: i64| trunc(&go_string(&v), n));
    for name in ["trimSuffix", "trimsuffix"] {
        env.add_filter(name, |v: JValue, suffix: String| {
            let s = go_string(&v);
            s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_string()
        });
    }
    for name in ["trimPrefix", "trimprefix"] {
        env.add_filter(name, |v: JValue, prefix: String| {
            let s = go_string(&v);
            s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_string()
        });
    }
    env.add_filter("default", |v: JValue, d: Option<JValue>| {
        if is_empty(&v) {
            d.unwrap_or_default()
        } else {
            v
        }
    });
    env.add_filter(
        "required",
        |v: JValue, msg: String| -> Result<JValue, Error> {
            if v.is_undefined() || v.is_none() || v.as_str() == Some("") {
                Err(helm_message(msg))
            } else {
                Ok(v)
            }
        },
    );
    env.add_function("fail", |msg: String| -> Result<JValue, Error> {
        Err(helm_message(msg))
    });
    let inc = set.clone();
    env.add_function(
        "include",
        move |state: &State<'_, '_>, name: String, data: Option<JValue>| -> Result<String, Error> {
            if !inc.contains(&name) {
                return Err(helm_message(format!(
                    "error calling include: template: no template {} associated with template {}",
                    ferry_gotmpl::gofmt::quote(&name),
                    ferry_gotmpl::gofmt::quote(ROOT_NAME)
                )));
            }
            let dot = dot_of(state, data);
            let mut st = RenderState {
                strict,
                ..Default::default()
            };
            inc.execute_with(&name, &dot, &mut st)
                .map(|s| s.replace("<no value>", ""))
                .map_err(|e| go_failure("include", &name, &e))
        },
    );
    env.add_function(
        "tpl",
        move |state: &State<'_, '_>, text: String, data: Option<JValue>| -> Result<String, Error> {
            let dot = dot_of(state, data);
            let mut s = set.clone();
            s.set_missing_key(if strict {
                MissingKey::Error
            } else {
                MissingKey::Zero
            });
            let quoted = ferry_gotmpl::gofmt::quote(&text);
            s.parse(ROOT_NAME, &text).map_err(|e| {
                helm_message(format!(
                    "error calling tpl: cannot parse template {quoted}: {e}"
                ))
            })?;
            let mut st = RenderState {
                strict,
                ..Default::default()
            };
            s.execute_with(ROOT_NAME, &dot, &mut st)
                .map(|s| s.replace("<no value>", ""))
                .map_err(|e| {
                    helm_message(format!(
                        "error calling tpl: error during tpl function execution for {quoted}: {e}"
                    ))
                })
        },
    );
}

fn error_map(msg: String) -> CValue {
    CValue::Map(
        [("Error".to_string(), CValue::String(msg))]
            .into_iter()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_errors() {
        for s in ["", "a", "ab", "abc", "abcd", "héllo wörld"] {
            assert_eq!(b64_decode(&b64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(
            b64_decode("a$==").unwrap_err(),
            "illegal base64 data at input byte 1"
        );
        assert!(b64_decode("abc").is_err());
    }

    #[test]
    fn sprig_string_helpers() {
        assert_eq!(indent(2, "a\nb"), "  a\n  b");
        assert_eq!(trunc("hello", 3), "hel");
        assert_eq!(trunc("hello", -3), "llo");
        assert_eq!(trunc("hello", 9), "hello");
        assert_eq!(trunc("héllo", 2), "h");
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
