//! `--set`, `--set-string`, `--set-file`, `--set-json`, `--set-literal` with Helm's parser
//! rules (`pkg/strvals`), and the user-values pipeline of `pkg/cli/values` (`MergeValues`).

use crate::error::{Error, Result};
use crate::value::{Map, Value};

/// Largest list index `a[i]=` may use.
pub const MAX_INDEX: usize = 65536;
/// Deepest `a.b.c` nesting.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Typed,
    String,
    Json,
    File,
    Literal,
}

/// Turns a `--set-file` path into the file's content.
type FileReader<'r> = &'r mut dyn FnMut(&str) -> std::result::Result<String, String>;

struct P<'r> {
    s: Vec<char>,
    pos: usize,
    mode: Mode,
    reader: Option<FileReader<'r>>,
}

/// Errors inside the parser; `Eof` ends the input normally.
enum PErr {
    Eof,
    Msg(String),
}

impl From<String> for PErr {
    fn from(s: String) -> Self {
        PErr::Msg(s)
    }
}

type R<T> = std::result::Result<T, PErr>;

fn conversion_panic(got: &Value, want: &str) -> String {
    if matches!(got, Value::Null) {
        format!("unable to parse key: interface conversion: interface {{}} is nil, not {want}")
    } else {
        format!(
            "unable to parse key: interface conversion: interface {{}} is {}, not {want}",
            got.go_type()
        )
    }
}

fn typed_val(v: &str, string_mode: bool) -> Value {
    if string_mode {
        return Value::String(v.to_string());
    }
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if v == "0" {
        return Value::Int(0);
    }
    if !v.is_empty()
        && !v.starts_with('0')
        && let Ok(i) = go_parse_int10(v)
    {
        return Value::Int(i);
    }
    Value::String(v.to_string())
}

/// `strconv.ParseInt(v, 10, 64)`: optional sign, decimal digits, no underscores.
fn go_parse_int10(v: &str) -> std::result::Result<i64, ()> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    v.parse::<i64>().map_err(|_| ())
}

fn set(data: &mut Map, key: &str, val: Value) {
    if key.is_empty() {
        return;
    }
    data.insert(key.to_string(), val);
}

fn set_index(list: &mut Vec<Value>, index: i64, val: Value) -> std::result::Result<(), String> {
    if index < 0 {
        return Err(format!("negative {index} index not allowed"));
    }
    let index = index as usize;
    if index > MAX_INDEX {
        return Err(format!(
            "index of {index} is greater than maximum supported index of {MAX_INDEX}"
        ));
    }
    if list.len() <= index {
        list.resize(index + 1, Value::Null);
    }
    list[index] = val;
    Ok(())
}

impl P<'_> {
    fn read(&mut self) -> Option<char> {
        let c = self.s.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    /// runesUntil: reads up to a stop rune; `\` escapes (not in literal mode).
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        loop {
            match self.read() {
                None => return (v, None),
                Some(c) if stop.contains(&c) => return (v, Some(c)),
                Some('\\') if self.mode != Mode::Literal => match self.read() {
                    None => return (v, None),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    fn reader(&mut self, rs: &str) -> R<Value> {
        match self.mode {
            Mode::Typed => Ok(typed_val(rs, false)),
            Mode::String | Mode::Literal => Ok(Value::String(rs.to_string())),
            Mode::File => {
                let r = self.reader.as_mut().expect("file mode has a reader");
                r(rs).map(Value::String).map_err(PErr::Msg)
            }
            Mode::Json => unreachable!("json values are decoded elsewhere"),
        }
    }

    fn parse(&mut self, data: &mut Map) -> std::result::Result<(), String> {
        loop {
            match self.key(data, 0) {
                Ok(()) => {}
                Err(PErr::Eof) => return Ok(()),
                Err(PErr::Msg(m)) => return Err(m),
            }
        }
    }

    fn key(&mut self, data: &mut Map, mut level: usize) -> R<()> {
        let stop: &[char] = if self.mode == Mode::Literal {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let (k, last) = self.until(stop);
        match last {
            None => {
                if k.is_empty() {
                    Err(PErr::Eof)
                } else {
                    Err(format!("key {k:?} has no value").into())
                }
            }
            Some('[') => {
                let i = self.key_index()?;
                let mut list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::List(l)) => l.clone(),
                    Some(other) => return Err(conversion_panic(other, "[]interface {}").into()),
                };
                let r = self.list_item(&mut list, i, level);
                set(data, &k, Value::List(list));
                r
            }
            Some('=') => {
                if self.mode == Mode::Literal {
                    let (v, _) = self.until(&[]);
                    set(data, &k, Value::String(v));
                    return Ok(());
                }
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        set(data, &k, Value::Null);
                        return Ok(());
                    }
                    let v = self.json_value()?;
                    set(data, &k, v);
                    self.empty_val();
                    return Ok(());
                }
                match self.val_list() {
                    Ok(vl) => {
                        set(data, &k, Value::List(vl));
                        Ok(())
                    }
                    Err(ListErr::Eof) => {
                        set(data, &k, Value::String(String::new()));
                        Err(PErr::Eof)
                    }
                    Err(ListErr::NotList) => {
                        let (rs, _) = self.until(&[',']);
                        let v = self.reader(&rs)?;
                        set(data, &k, v);
                        Ok(())
                    }
                    Err(ListErr::Msg(m)) => Err(m.into()),
                }
            }
            Some(',') => {
                set(data, &k, Value::String(String::new()));
                Err(format!("key {k:?} has no value (cannot end with ,)").into())
            }
            Some('.') => {
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )
                    .into());
                }
                let mut inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Value::Map(m)) => m.clone(),
                    Some(other) => {
                        return Err(conversion_panic(other, "map[string]interface {}").into());
                    }
                };
                let e = self.key(&mut inner, level);
                if e.is_ok() && inner.is_empty() {
                    return Err(format!("key map {k:?} has no value").into());
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Map(inner));
                }
                e
            }
            Some(c) => Err(format!("parse error: unexpected token {c}").into()),
        }
    }

    fn key_index(&mut self) -> R<i64> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return Err(PErr::Msg("error parsing index: EOF".into()));
        }
        v.parse::<i64>().map_err(|_| {
            PErr::Msg(format!(
                "error parsing index: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        })
    }

    fn list_item(&mut self, list: &mut Vec<Value>, i: i64, level: usize) -> R<()> {
        if i < 0 {
            return Err(format!("negative {i} index not allowed").into());
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return Err(format!("unexpected data at end of array index: {k:?}").into());
        }
        match last {
            None => Err(PErr::Eof),
            Some('=') => {
                if self.mode == Mode::Literal {
                    let (v, _) = self.until(&[]);
                    return set_index(list, i, Value::String(v)).map_err(PErr::Msg);
                }
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        return set_index(list, i, Value::Null).map_err(PErr::Msg);
                    }
                    let v = self.json_value()?;
                    set_index(list, i, v)?;
                    self.empty_val();
                    return Ok(());
                }
                match self.val_list() {
                    Ok(vl) => set_index(list, i, Value::List(vl)).map_err(PErr::Msg),
                    Err(ListErr::Eof) => {
                        set_index(list, i, Value::String(String::new())).map_err(PErr::Msg)
                    }
                    Err(ListErr::NotList) => {
                        let (rs, _) = self.until(&[',']);
                        let v = self.reader(&rs)?;
                        set_index(list, i, v).map_err(PErr::Msg)
                    }
                    Err(ListErr::Msg(m)) => Err(m.into()),
                }
            }
            Some('[') => {
                let next = self.key_index()?;
                let mut crt = match list.get(i as usize) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::List(l)) => l.clone(),
                    Some(other) => return Err(conversion_panic(other, "[]interface {}").into()),
                };
                self.list_item(&mut crt, next, level)?;
                set_index(list, i, Value::List(crt)).map_err(PErr::Msg)
            }
            Some('.') => {
                let mut inner = match list.get(i as usize) {
                    Some(Value::Map(m)) => m.clone(),
                    _ => Map::new(),
                };
                self.key(&mut inner, level)?;
                set_index(list, i, Value::Map(inner)).map_err(PErr::Msg)
            }
            Some(c) => Err(format!("parse error: unexpected token {c}").into()),
        }
    }

    /// Skips spaces; true at the end of input or a `,`.
    fn empty_val(&mut self) -> bool {
        loop {
            match self.read() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(_) => {
                    self.unread();
                    return false;
                }
            }
        }
    }

    fn json_value(&mut self) -> R<Value> {
        let rest: String = self.s[self.pos..].iter().collect();
        let mut de = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        match de.next() {
            Some(Ok(v)) => {
                let consumed = rest[..de.byte_offset()].chars().count();
                self.pos += consumed;
                Ok(Value::from_json(&v))
            }
            Some(Err(e)) => Err(PErr::Msg(e.to_string())),
            None => Err(PErr::Msg("unexpected end of JSON input".into())),
        }
    }

    fn val_list(&mut self) -> std::result::Result<Vec<Value>, ListErr> {
        match self.read() {
            None => return Err(ListErr::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(ListErr::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                None => return Err(ListErr::Msg("list must terminate with '}'".into())),
                Some('}') => {
                    match self.read() {
                        Some(',') | None => {}
                        Some(_) => self.unread(),
                    }
                    let v = self.reader(&rs).map_err(|e| match e {
                        PErr::Msg(m) => ListErr::Msg(m),
                        PErr::Eof => ListErr::Eof,
                    })?;
                    list.push(v);
                    return Ok(list);
                }
                _ => {
                    let v = self.reader(&rs).map_err(|e| match e {
                        PErr::Msg(m) => ListErr::Msg(m),
                        PErr::Eof => ListErr::Eof,
                    })?;
                    list.push(v);
                }
            }
        }
    }
}

enum ListErr {
    Eof,
    NotList,
    Msg(String),
}

fn run(
    s: &str,
    dest: &mut Map,
    mode: Mode,
    reader: Option<FileReader<'_>>,
) -> std::result::Result<(), String> {
    let mut p = P {
        s: s.chars().collect(),
        pos: 0,
        mode,
        reader,
    };
    p.parse(dest)
}

/// `strvals.ParseInto`: `--set` (typed values).
pub fn parse_into(s: &str, dest: &mut Map) -> std::result::Result<(), String> {
    run(s, dest, Mode::Typed, None)
}

/// `strvals.ParseIntoString`: `--set-string`.
pub fn parse_into_string(s: &str, dest: &mut Map) -> std::result::Result<(), String> {
    run(s, dest, Mode::String, None)
}

/// `strvals.ParseJSON`: `--set-json key=<json>`.
pub fn parse_json(s: &str, dest: &mut Map) -> std::result::Result<(), String> {
    run(s, dest, Mode::Json, None)
}

/// `strvals.ParseLiteralInto`: `--set-literal`.
pub fn parse_literal_into(s: &str, dest: &mut Map) -> std::result::Result<(), String> {
    run(s, dest, Mode::Literal, None)
}

/// `strvals.ParseIntoFile`: `--set-file key=path`, the reader turning a path into content.
pub fn parse_into_file(
    s: &str,
    dest: &mut Map,
    reader: &mut dyn FnMut(&str) -> std::result::Result<String, String>,
) -> std::result::Result<(), String> {
    run(s, dest, Mode::File, Some(reader))
}

/// The user-value flags of one command.
#[derive(Debug, Clone, Default)]
pub struct ValueOptions {
    /// `-f/--values`, in order (`-` is standard input).
    pub value_files: Vec<String>,
    /// `--set-json`.
    pub json_values: Vec<String>,
    /// `--set`.
    pub values: Vec<String>,
    /// `--set-string`.
    pub string_values: Vec<String>,
    /// `--set-file`.
    pub file_values: Vec<String>,
    /// `--set-literal`.
    pub literal_values: Vec<String>,
}

impl ValueOptions {
    /// Helm's `MergeValues`: the flags applied by type in a fixed order, each overriding the
    /// ones before. `read` fetches a file's bytes (`-` = stdin), so the caller decides I/O.
    pub fn merge(&self, read: &mut dyn FnMut(&str) -> std::io::Result<Vec<u8>>) -> Result<Map> {
        let mut base = Map::new();
        for f in &self.value_files {
            let raw = read(f).map_err(|e| Error::io(f, e))?;
            let text = String::from_utf8_lossy(&raw);
            let m = crate::yaml::parse_values(&text).map_err(|source| Error::Yaml {
                file: f.clone(),
                source,
            })?;
            base = crate::yaml::merge_maps(base, m);
        }
        for v in &self.json_values {
            let t = v.trim();
            if t.starts_with('{') {
                let j: serde_json::Value =
                    serde_json::from_str(t).map_err(|_| Error::SetValue {
                        flag: "--set-json",
                        message: v.clone(),
                    })?;
                match Value::from_json(&j) {
                    Value::Map(m) => base = crate::yaml::merge_maps(base, m),
                    _ => {
                        return Err(Error::SetValue {
                            flag: "--set-json",
                            message: v.clone(),
                        });
                    }
                }
            } else {
                parse_json(v, &mut base).map_err(|_| Error::SetValue {
                    flag: "--set-json",
                    message: v.clone(),
                })?;
            }
        }
        for v in &self.values {
            parse_into(v, &mut base).map_err(|message| Error::SetValue {
                flag: "--set",
                message,
            })?;
        }
        for v in &self.string_values {
            parse_into_string(v, &mut base).map_err(|message| Error::SetValue {
                flag: "--set-string",
                message,
            })?;
        }
        for v in &self.file_values {
            let mut reader = |p: &str| -> std::result::Result<String, String> {
                read(p)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .map_err(|e| format!("open {p}: {e}"))
            };
            parse_into_file(v, &mut base, &mut reader).map_err(|message| Error::SetValue {
                flag: "--set-file",
                message,
            })?;
        }
        for v in &self.literal_values {
            parse_literal_into(v, &mut base).map_err(|message| Error::SetValue {
                flag: "--set-literal",
                message,
            })?;
        }
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> String {
        let mut m = Map::new();
        match parse_into(s, &mut m) {
            Ok(()) => Value::Map(m).to_go_json(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn typed_values_follow_strvals() {
        assert_eq!(
            set("a=1,b=true,c=null,d=007,e=0,f=1e5,g=TRUE"),
            r#"{"a":1,"b":true,"c":null,"d":"007","e":0,"f":"1e5","g":true}"#
        );
    }

    #[test]
    fn paths_lists_and_escapes() {
        assert_eq!(set("a.b[1].c=x"), r#"{"a":{"b":[null,{"c":"x"}]}}"#);
        assert_eq!(set("a={x,y},b=z"), r#"{"a":["x","y"],"b":"z"}"#);
        assert_eq!(set(r"a\.b=c\,d"), r#"{"a.b":"c,d"}"#);
        assert_eq!(set("a="), r#"{"a":""}"#);
    }

    #[test]
    fn errors_read_as_helm() {
        assert_eq!(set("a"), r#"ERR key "a" has no value"#);
        assert_eq!(
            set("a,b=1"),
            r#"ERR key "a" has no value (cannot end with ,)"#
        );
        assert!(set("a[70000]=1").contains("greater than maximum supported index"));
        assert!(set("a=1,a.b=2").contains("interface conversion"));
    }

    #[test]
    fn literal_and_json() {
        let mut m = Map::new();
        parse_literal_into("a.b=x,y=z", &mut m).unwrap();
        assert_eq!(Value::Map(m).to_go_json(), r#"{"a":{"b":"x,y=z"}}"#);
        let mut m = Map::new();
        parse_json(r#"a={"b":[1,2]},c=3"#, &mut m).unwrap();
        assert_eq!(Value::Map(m).to_go_json(), r#"{"a":{"b":[1,2]},"c":3}"#);
    }
}
