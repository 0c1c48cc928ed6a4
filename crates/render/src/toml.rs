//! Helm's TOML functions: `toToml`, `mustToToml` (BurntSushi/toml's encoder layout) and
//! `fromToml` (a map, or `{Error: …}` when the text does not parse).

use std::collections::BTreeMap;

use ferry_gotmpl::{FuncError, Funcs, List, Map, Signature, Type, Value};

/// BurntSushi's encoder: keys directly under a table first, then sub-tables, each group
/// sorted; tables as `[a.b]` headers indented by depth; arrays of tables as `[[k]]`.
struct Encoder {
    out: String,
    written: bool,
}

/// What kind of TOML value a template value encodes as (`tomlTypeOfGo`).
#[derive(PartialEq, Eq)]
enum Kind {
    Nil,
    Table,
    ArrayOfTables,
    Other,
}

fn kind(v: &Value) -> Result<Kind, String> {
    Ok(match v {
        Value::Nil => Kind::Nil,
        Value::Map(_) => Kind::Table,
        Value::Struct(s) if s.type_info().stringify(v).is_none() => Kind::Table,
        Value::List(l) => {
            if l.is_empty() {
                return Ok(Kind::Other);
            }
            let mut all = true;
            for x in l.items() {
                match kind(x)? {
                    Kind::Nil => return Err("toml: cannot encode array with nil element".into()),
                    Kind::Table => {}
                    _ => all = false,
                }
            }
            if all {
                Kind::ArrayOfTables
            } else {
                Kind::Other
            }
        }
        _ => Kind::Other,
    })
}

fn bare(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(k: &str) -> String {
    if bare(k) { k.to_string() } else { quoted(k) }
}

fn key_string(key: &[String]) -> String {
    key.iter()
        .map(|k| key_part(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn entries(v: &Value) -> Vec<(String, Value)> {
    match v {
        Value::Map(m) => m.entries(),
        Value::Struct(s) => s
            .fields()
            .iter()
            .filter(|(k, _)| k.starts_with(|c: char| c.is_uppercase()))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

impl Encoder {
    fn w(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.out.push('\n');
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        match kind(v)? {
            Kind::Nil => {
                if key.is_empty() {
                    return Err("reflect: call of reflect.Value.Type on zero Value".into());
                }
                Ok(())
            }
            Kind::Table => self.table(key, v),
            Kind::ArrayOfTables => {
                let Value::List(l) = v else { return Ok(()) };
                if key.is_empty() {
                    return Err("toml: top-level values must be Go maps or structs".into());
                }
                for t in l.items() {
                    self.newline();
                    self.w(&format!("{}[[{}]]", Self::indent(key), key_string(key)));
                    self.newline();
                    self.map_body(key, t)?;
                }
                Ok(())
            }
            Kind::Other => self.key_value(key, v),
        }
    }

    fn table(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            self.w(&format!("{}[{}]", Self::indent(key), key_string(key)));
            self.newline();
        }
        self.map_body(key, v)
    }

    fn map_body(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, x) in entries(v) {
            match kind(&x)? {
                Kind::Table | Kind::ArrayOfTables => sub.push((k, x)),
                _ => direct.push((k, x)),
            }
        }
        for (k, x) in direct.into_iter().chain(sub) {
            if x.is_nil() {
                continue;
            }
            let mut child = key.to_vec();
            child.push(k);
            self.encode(&child, &x)?;
        }
        Ok(())
    }

    fn key_value(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.is_empty() {
            return self.element(v);
        }
        let last = key_part(&key[key.len() - 1]);
        self.w(&format!("{}{last} = ", Self::indent(key)));
        self.element(v)?;
        self.newline();
        Ok(())
    }

    fn element(&mut self, v: &Value) -> Result<(), String> {
        match v {
            Value::String(s) => self.w(&quoted(s)),
            Value::Bool(b) => self.w(if *b { "true" } else { "false" }),
            Value::Int(i) | Value::Int64(i) => self.w(&i.to_string()),
            Value::Uint64(u) => self.w(&u.to_string()),
            Value::Float(f) => {
                let s = if f.is_nan() {
                    if f.is_sign_negative() { "-nan" } else { "nan" }.to_string()
                } else if f.is_infinite() {
                    if *f < 0.0 { "-inf" } else { "+inf" }.to_string()
                } else {
                    let s = ferry_gotmpl::gofmt::format_float(*f, 'g', None);
                    if s.contains(['.', 'e']) {
                        s
                    } else {
                        format!("{s}.0")
                    }
                };
                self.w(&s);
            }
            Value::List(l) => {
                self.w("[");
                for (i, x) in l.items().iter().enumerate() {
                    if x.is_nil() {
                        return Err("toml: cannot encode array with nil element".into());
                    }
                    self.element(x)?;
                    if i + 1 != l.len() {
                        self.w(", ");
                    }
                }
                self.w("]");
            }
            Value::Map(_) => self.inline_table(v)?,
            Value::Struct(s) => match s.type_info().stringify(v) {
                Some(text) => self.w(&quoted(&text)),
                None => self.inline_table(v)?,
            },
            other => {
                return Err(format!("toml: unexpected type: {}", other.type_name()));
            }
        }
        Ok(())
    }

    fn inline_table(&mut self, v: &Value) -> Result<(), String> {
        self.w("{");
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, x) in entries(v) {
            match kind(&x)? {
                Kind::Table | Kind::ArrayOfTables => sub.push((k, x)),
                _ => direct.push((k, x)),
            }
        }
        let has_sub = !sub.is_empty();
        for (group, trail) in [(direct, has_sub), (sub, false)] {
            let n = group.len();
            for (i, (k, x)) in group.into_iter().enumerate() {
                if x.is_nil() {
                    continue;
                }
                self.w(&format!("{} = ", key_part(&k)));
                self.element(&x)?;
                if trail || i + 1 != n {
                    self.w(", ");
                }
            }
        }
        self.w("}");
        Ok(())
    }
}

/// Helm's `toTOML` (the encoder's error text on failure).
pub(crate) fn to_toml(v: &Value) -> Result<String, String> {
    let mut e = Encoder {
        out: String::new(),
        written: false,
    };
    e.encode(&[], v)?;
    Ok(e.out)
}

fn from_item(item: &toml_edit::Item) -> Value {
    match item {
        toml_edit::Item::None => Value::Nil,
        toml_edit::Item::Value(v) => from_value(v),
        toml_edit::Item::Table(t) => {
            let m: BTreeMap<String, Value> = t
                .iter()
                .map(|(k, v)| (k.to_string(), from_item(v)))
                .collect();
            Value::Map(Map::with_type(m, Type::Interface, None))
        }
        toml_edit::Item::ArrayOfTables(a) => Value::List(List::new(
            a.iter()
                .map(|t| from_item(&toml_edit::Item::Table(t.clone())))
                .collect(),
        )),
    }
}

fn from_value(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as V;
    match v {
        V::String(s) => Value::from(s.value().as_str()),
        V::Integer(i) => Value::Int64(*i.value()),
        V::Float(f) => Value::Float(*f.value()),
        V::Boolean(b) => Value::Bool(*b.value()),
        V::Datetime(d) => Value::from(d.value().to_string()),
        V::Array(a) => Value::List(List::new(a.iter().map(from_value).collect())),
        V::InlineTable(t) => {
            let m: BTreeMap<String, Value> = t
                .iter()
                .map(|(k, v)| (k.to_string(), from_value(v)))
                .collect();
            Value::Map(Map::with_type(m, Type::Interface, None))
        }
    }
}

/// BurntSushi-style error text: `toml: line N (last key "k"): message`.
fn toml_error(src: &str, e: &toml_edit::TomlError) -> String {
    let pos = e
        .span()
        .map(|s| s.start)
        .unwrap_or(src.len())
        .min(src.len());
    let line = src[..pos].matches('\n').count() + 1;
    let last_key = src[..pos]
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .rfind(|k| !k.is_empty() && !k.starts_with('#'))
        .map(|k| k.trim_matches('"').to_string());
    let msg = if pos >= src.trim_end().len() {
        "unexpected EOF; expected value".to_string()
    } else {
        e.message().lines().next().unwrap_or_default().to_string()
    };
    match last_key {
        Some(k) => format!("toml: line {line} (last key {k:?}): {msg}"),
        None => format!("toml: line {line}: {msg}"),
    }
}

/// Helm's `fromTOML`.
pub(crate) fn from_toml(s: &str) -> Value {
    match s.parse::<toml_edit::DocumentMut>() {
        Ok(doc) => from_item(doc.as_item()),
        Err(e) => Value::map([("Error", Value::from(toml_error(s, &e)))]),
    }
}

/// Registers `toToml`, `mustToToml`, `fromToml`.
pub(crate) fn register(funcs: &mut Funcs) {
    funcs.add(
        "toToml",
        Signature::new([Type::Interface], Type::String),
        |_, a| {
            Ok(Value::from(match to_toml(&a[0]) {
                Ok(s) | Err(s) => s,
            }))
        },
    );
    funcs.add(
        "mustToToml",
        Signature::new([Type::Interface], Type::String),
        |_, a| to_toml(&a[0]).map(Value::from).map_err(FuncError::new),
    );
    funcs.add(
        "fromToml",
        Signature::new([Type::String], Type::map()),
        |_, a| Ok(from_toml(a[0].as_str().unwrap_or_default())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let v = Value::map([
            (
                "a",
                Value::map([
                    ("b", Value::map([("c", Value::Int(1))])),
                    ("d", Value::Int(2)),
                ]),
            ),
            ("z", Value::Float(1e20)),
        ]);
        assert_eq!(
            to_toml(&v).unwrap(),
            "z = 1e+20\n\n[a]\n  d = 2\n  [a.b]\n    c = 1\n"
        );
        assert!(to_toml(&Value::map([("a", Value::list([Value::Nil]))])).is_err());
        assert!(to_toml(&Value::Nil).is_err());
        let back = from_toml("i = 1\n[t]\nx = [1.5, \"s\"]\n");
        assert_eq!(back.to_go_string(), "map[i:1 t:map[x:[1.5 s]]]");
    }
}
