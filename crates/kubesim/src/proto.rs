//! Decoding of the Kubernetes protobuf envelope (`k8s\0` + `runtime.Unknown`): typed clients
//! (Helm's release storage, `kubectl create`) send built-in objects and DeleteOptions this way.
//! Generic over the field tables in `data/proto.json` (see `cargo xtask gen-kubesim`).

use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The protobuf content type.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// A protobuf decoding failure.
#[derive(Debug)]
pub(crate) struct DecodeError(pub String);

type R<T> = Result<T, DecodeError>;

fn err<T>(m: &str) -> R<T> {
    Err(DecodeError(m.to_string()))
}

/// A protobuf field: number and value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed64(u64),
    Fixed32(u32),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> R<u64> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return err("truncated varint");
            };
            self.pos += 1;
            out |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        err("varint too long")
    }

    fn next(&mut self) -> R<Option<(u64, Wire<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let field = tag >> 3;
        let wire = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let b = self
                    .buf
                    .get(self.pos..self.pos + 8)
                    .ok_or(DecodeError("truncated fixed64".into()))?;
                self.pos += 8;
                Wire::Fixed64(u64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            2 => {
                let len = self.varint()? as usize;
                let end = self.pos.checked_add(len).filter(|e| *e <= self.buf.len());
                let Some(end) = end else {
                    return err("truncated bytes");
                };
                let b = &self.buf[self.pos..end];
                self.pos = end;
                Wire::Bytes(b)
            }
            5 => {
                let b = self
                    .buf
                    .get(self.pos..self.pos + 4)
                    .ok_or(DecodeError("truncated fixed32".into()))?;
                self.pos += 4;
                Wire::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            }
            _ => return err("unsupported wire type"),
        };
        if self.pos > self.buf.len() {
            return err("truncated field");
        }
        Ok(Some((field, wire)))
    }
}

fn string(b: &[u8]) -> R<String> {
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError("invalid UTF-8".into()))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// One field of a message: JSON name, type, cardinality (`o`, `r`, `m`).
type FieldDef = (String, String, char);

static MESSAGES: OnceLock<HashMap<String, HashMap<u64, FieldDef>>> = OnceLock::new();

/// The field tables generated from the Kubernetes `.proto` files (`data/proto.json`).
fn messages() -> &'static HashMap<String, HashMap<u64, FieldDef>> {
    MESSAGES.get_or_init(|| {
        let raw: Value = serde_json::from_str(include_str!("../data/proto.json"))
            .expect("data/proto.json is valid JSON");
        let mut out = HashMap::new();
        for (name, fields) in raw["messages"].as_object().into_iter().flatten() {
            let mut m = HashMap::new();
            for (num, def) in fields.as_object().into_iter().flatten() {
                let (Ok(n), Some(a)) = (num.parse::<u64>(), def.as_array()) else {
                    continue;
                };
                let s = |i: usize| a.get(i).and_then(Value::as_str).unwrap_or("").to_string();
                m.insert(n, (s(0), s(1), s(2).chars().next().unwrap_or('o')));
            }
            out.insert(name.clone(), m);
        }
        out
    })
}

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.";

fn scalar(ty: &str, w: &Wire<'_>) -> R<Value> {
    Ok(match (ty, w) {
        ("string", Wire::Bytes(b)) => json!(string(b)?),
        ("bytes", Wire::Bytes(b)) => json!(b64(b)),
        ("bool", Wire::Varint(x)) => json!(*x != 0),
        ("int32", Wire::Varint(x)) => json!(*x as i64 as i32),
        ("int64", Wire::Varint(x)) => json!(*x as i64),
        ("uint32" | "uint64", Wire::Varint(x)) => json!(*x),
        ("double", Wire::Fixed64(x)) => json!(f64::from_bits(*x)),
        ("float", Wire::Fixed32(x)) => json!(f32::from_bits(*x) as f64),
        _ => return err(&format!("unexpected wire type for {ty}")),
    })
}

fn is_scalar(ty: &str) -> bool {
    matches!(
        ty,
        "string" | "bytes" | "bool" | "int32" | "int64" | "uint32" | "uint64" | "double" | "float"
    )
}

/// Decodes a message into its JSON form, with the special JSON encodings of
/// Time, Duration, Quantity, IntOrString, RawExtension and FieldsV1.
fn message(b: &[u8], ty: &str) -> R<Value> {
    match ty {
        t if t == format!("{META}Time") || t == format!("{META}MicroTime") => {
            let mut r = Reader::new(b);
            let mut secs = 0i64;
            while let Some((f, w)) = r.next()? {
                if let (1, Wire::Varint(x)) = (f, w) {
                    secs = x as i64;
                }
            }
            return Ok(json!(crate::util::rfc3339(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64)
            )));
        }
        t if t == format!("{META}Duration") => {
            let mut r = Reader::new(b);
            let mut ns = 0i64;
            while let Some((f, w)) = r.next()? {
                if let (1, Wire::Varint(x)) = (f, w) {
                    ns = x as i64;
                }
            }
            return Ok(json!(format!("{}s", ns as f64 / 1e9)));
        }
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => {
            let mut r = Reader::new(b);
            let mut q = String::new();
            while let Some((f, w)) = r.next()? {
                if let (1, Wire::Bytes(x)) = (f, w) {
                    q = string(x)?;
                }
            }
            return Ok(json!(q));
        }
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => {
            let mut r = Reader::new(b);
            let (mut kind, mut i, mut s) = (0u64, 0i64, String::new());
            while let Some((f, w)) = r.next()? {
                match (f, w) {
                    (1, Wire::Varint(x)) => kind = x,
                    (2, Wire::Varint(x)) => i = x as i64 as i32 as i64,
                    (3, Wire::Bytes(x)) => s = string(x)?,
                    _ => {}
                }
            }
            return Ok(if kind == 1 { json!(s) } else { json!(i) });
        }
        "k8s.io.apimachinery.pkg.runtime.RawExtension" => {
            let mut r = Reader::new(b);
            while let Some((f, w)) = r.next()? {
                if let (1, Wire::Bytes(x)) = (f, w) {
                    return serde_json::from_slice(x)
                        .map_err(|e| DecodeError(format!("RawExtension: {e}")));
                }
            }
            return Ok(Value::Null);
        }
        t if t == format!("{META}FieldsV1") => {
            let mut r = Reader::new(b);
            while let Some((f, w)) = r.next()? {
                if let (1, Wire::Bytes(x)) = (f, w) {
                    return serde_json::from_slice(x)
                        .map_err(|e| DecodeError(format!("FieldsV1: {e}")));
                }
            }
            return Ok(json!({}));
        }
        _ => {}
    }
    let Some(fields) = messages().get(ty) else {
        return err(&format!("unknown protobuf message {ty}"));
    };
    // list wrappers (Verbs, ExtraValue): a message whose only field is `repeated items`
    let wrapper = fields.len() == 1
        && fields.get(&1).is_some_and(|f| f.0 == "items" && f.2 == 'r')
        && !ty.ends_with("List");
    let mut out = Map::new();
    let mut r = Reader::new(b);
    while let Some((num, w)) = r.next()? {
        let Some((name, fty, card)) = fields.get(&num) else {
            continue;
        };
        match card {
            'm' => {
                let Wire::Bytes(entry) = w else { continue };
                let mut er = Reader::new(entry);
                let (mut k, mut v) = (String::new(), Value::Null);
                while let Some((ef, ew)) = er.next()? {
                    match (ef, ew) {
                        (1, Wire::Bytes(x)) => k = string(x)?,
                        (2, ew) => {
                            v = match (is_scalar(fty), ew) {
                                (true, ew) => scalar(fty, &ew)?,
                                (false, Wire::Bytes(x)) => message(x, fty)?,
                                _ => Value::Null,
                            }
                        }
                        _ => {}
                    }
                }
                if v.is_null() {
                    v = match fty.as_str() {
                        "string" | "bytes" => json!(""),
                        _ => json!({}),
                    };
                }
                let m = out.entry(name.clone()).or_insert_with(|| json!({}));
                if let Some(m) = m.as_object_mut() {
                    m.insert(k, v);
                }
            }
            'r' => {
                let arr = out.entry(name.clone()).or_insert_with(|| json!([]));
                let Some(arr) = arr.as_array_mut() else {
                    continue;
                };
                match (is_scalar(fty), w) {
                    (false, Wire::Bytes(x)) => arr.push(message(x, fty)?),
                    (true, Wire::Bytes(x)) if !matches!(fty.as_str(), "string" | "bytes") => {
                        // packed scalars
                        let mut pr = Reader::new(x);
                        while pr.pos < x.len() {
                            let v = pr.varint()?;
                            arr.push(scalar(fty, &Wire::Varint(v))?);
                        }
                    }
                    (true, w) => arr.push(scalar(fty, &w)?),
                    _ => {}
                }
            }
            _ => {
                let v = match (is_scalar(fty), w) {
                    (true, w) => scalar(fty, &w)?,
                    (false, Wire::Bytes(x)) => message(x, fty)?,
                    _ => continue,
                };
                // go-to-protobuf writes every non-pointer field; JSON omits the empty ones
                let empty = v.as_str() == Some("") || v.as_object().is_some_and(|m| m.is_empty());
                if !empty {
                    out.insert(name.clone(), v);
                }
            }
        }
    }
    if wrapper {
        return Ok(out.remove("items").unwrap_or(json!([])));
    }
    Ok(Value::Object(out))
}

/// The message type of an apiVersion and kind.
fn message_type(api_version: &str, kind: &str) -> Option<String> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let dir = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    let candidates = [
        format!("k8s.io.api.{dir}.{version}.{kind}"),
        format!("{META}{kind}"),
    ];
    candidates.into_iter().find(|c| messages().contains_key(c))
}

/// Decodes a protobuf request body into the JSON object the client meant.
pub(crate) fn decode(body: &[u8]) -> R<Value> {
    let Some(rest) = body.strip_prefix(b"k8s\0") else {
        return err("missing k8s protobuf magic");
    };
    let mut r = Reader::new(rest);
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((f, w)) = r.next()? {
        match (f, w) {
            (1, Wire::Bytes(tm)) => {
                let mut t = Reader::new(tm);
                while let Some((tf, tw)) = t.next()? {
                    match (tf, tw) {
                        (1, Wire::Bytes(x)) => api_version = string(x)?,
                        (2, Wire::Bytes(x)) => kind = string(x)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let Some(ty) = message_type(&api_version, &kind) else {
        return Err(DecodeError(format!(
            "no protobuf message for {api_version} {kind}"
        )));
    };
    let Value::Object(mut obj) = message(raw, &ty)? else {
        return err("the body is not an object");
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!(kind));
    out.insert("apiVersion".into(), json!(api_version));
    out.append(&mut obj);
    Ok(Value::Object(out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8];
        out.push(payload.len() as u8);
        out.extend_from_slice(payload);
        out
    }

    fn entry(k: &str, v: &[u8]) -> Vec<u8> {
        [field(1, k.as_bytes()), field(2, v)].concat()
    }

    /// A protobuf Secret as Helm's typed client sends it.
    pub(crate) fn helm_secret(name: &str, ns: &str) -> Vec<u8> {
        let meta = [
            field(1, name.as_bytes()),
            field(3, ns.as_bytes()),
            field(11, &entry("owner", b"helm")),
            field(11, &entry("name", b"demo")),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(2, &entry("release", b"H4sI")),
            field(3, b"helm.sh/release.v1"),
        ]
        .concat();
        let tm = [field(1, b"v1"), field(2, b"Secret")].concat();
        [b"k8s\0".to_vec(), field(1, &tm), field(2, &secret)].concat()
    }

    #[test]
    fn decodes_helm_secret() {
        let v = decode(&helm_secret("sh.helm.release.v1.demo.v1", "default")).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.demo.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["release"], b64(b"H4sI"));
        assert_eq!(v["type"], "helm.sh/release.v1");
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode(b"nope").is_err());
        assert!(decode(b"k8s\0\x0a\xff").is_err());
    }
}
