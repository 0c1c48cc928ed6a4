//! ferry's one YAML module: Helm-typed parsing and go-yaml-style emitting.
//!
//! Helm reads YAML with `sigs.k8s.io/yaml`: go-yaml v2 (YAML 1.1 scalar resolution) decodes the
//! document, the result is turned into JSON, and the JSON is decoded into Go values. So numbers
//! become float64, `yes`/`on`/`y` are booleans (as values and as keys), `077` is octal, `0x1F` is
//! hex, dates stay strings, non-string keys become strings, `.inf`/`.nan` are errors, and the
//! last of duplicate keys wins. The scanner is `yaml-rust2` (events with positions); resolution
//! and the JSON step are ours, so the parser can change without changing typing.
//!
//! The emitter reproduces `sigs.k8s.io/yaml.Marshal` (JSON → go-yaml v2 emitter): block style,
//! keys in go-yaml's natural order, go-yaml's quoting, literal blocks and folding at 80 columns.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::value::{Map, Value, go_format_g, go_json_float};

mod head;
pub use head::{head_is_fast, parse_head};

/// A YAML error with its position (1-based line and column) when known.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.line, self.col, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for YamlError {}

impl YamlError {
    /// The message as sigs.k8s.io/yaml words it (`error converting YAML to JSON: yaml: line
    /// N: problem`): libyaml reports parser problems on the 0-based line of the problem,
    /// scanner problems on the 1-based line, and never the "while parsing" context.
    pub fn go_message(&self) -> String {
        const PREFIX: &str = "error converting YAML to JSON: yaml: ";
        let Some(info) = self.message.strip_prefix(PREFIX) else {
            return self.message.clone();
        };
        let (line, problem) = match info.split_once(", ") {
            Some((ctx, problem)) if ctx.starts_with("while ") => {
                (self.line.saturating_sub(1), problem)
            }
            _ => (self.line, info),
        };
        if line == 0 {
            format!("{PREFIX}{problem}")
        } else {
            format!("{PREFIX}line {line}: {problem}")
        }
    }
}

fn err_at(m: &Marker, message: impl Into<String>) -> YamlError {
    YamlError {
        line: m.line(),
        col: m.col() + 1,
        message: message.into(),
    }
}

#[derive(Debug)]
enum Node {
    Scalar {
        value: String,
        style: TScalarStyle,
        tag: Option<Tag>,
        mark: Marker,
    },
    Seq(Vec<Rc<Node>>),
    Map(Vec<(Rc<Node>, Rc<Node>)>, Marker),
    Alias(Rc<Node>),
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: HashMap<usize, Rc<Node>>,
    depth: usize,
}

const MAX_DEPTH: usize = 10_000;

impl Builder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), YamlError> {
        self.parser.next_token().map_err(|e| {
            err_at(
                e.marker(),
                format!("error converting YAML to JSON: yaml: {}", e.info()),
            )
        })
    }

    fn node(&mut self, ev: Event, mark: Marker) -> Result<Rc<Node>, YamlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err_at(&mark, "exceeded max depth of 10000"));
        }
        let (node, anchor) = match ev {
            Event::Alias(id) => {
                let target = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| err_at(&mark, "unknown anchor"))?;
                (Rc::new(Node::Alias(target)), 0)
            }
            Event::Scalar(value, style, anchor, tag) => (
                Rc::new(Node::Scalar {
                    value,
                    style,
                    tag,
                    mark,
                }),
                anchor,
            ),
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, m)?);
                }
                (Rc::new(Node::Seq(items)), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut pairs = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let k = self.node(ev, m)?;
                    let (ev, m) = self.next()?;
                    let v = self.node(ev, m)?;
                    pairs.push((k, v));
                }
                (Rc::new(Node::Map(pairs, mark)), anchor)
            }
            other => return Err(err_at(&mark, format!("unexpected YAML event {other:?}"))),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.depth -= 1;
        Ok(node)
    }
}

/// Parses every document of a YAML stream into its node trees (`None` for an empty document).
fn parse_nodes(src: &str) -> Result<Vec<Option<Rc<Node>>>, YamlError> {
    let mut b = Builder {
        parser: Parser::new_from_str(src),
        anchors: HashMap::new(),
        depth: 0,
    };
    let mut docs = Vec::new();
    loop {
        let (ev, m) = b.next()?;
        match ev {
            Event::StreamStart => {}
            Event::StreamEnd => break,
            Event::DocumentStart => {
                let (ev, m) = b.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(None);
                    continue;
                }
                let n = b.node(ev, m)?;
                let (end, m) = b.next()?;
                if !matches!(end, Event::DocumentEnd) {
                    return Err(err_at(&m, "expected the end of the document"));
                }
                docs.push(Some(n));
            }
            other => return Err(err_at(&m, format!("unexpected YAML event {other:?}"))),
        }
    }
    Ok(docs)
}

/// Replaces a tab that follows a `:` outside quotes with a space, line by line.
fn tabs_after_colons(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.split_inclusive('\n') {
        let (mut single, mut double, mut prev) = (false, false, '\0');
        for c in line.chars() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single && prev != '\\' => double = !double,
                _ => {}
            }
            if c == '\t' && prev == ':' && !single && !double {
                out.push(' ');
            } else {
                out.push(c);
            }
            prev = c;
        }
    }
    out
}

/// A scalar as go-yaml v2 resolves it, before the JSON step.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Merge,
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = parse_go_uint_body(body)?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((mag as i64).wrapping_neg())
        } else {
            None
        }
    } else if mag <= i64::MAX as u64 {
        Some(mag as i64)
    } else {
        None
    }
}

fn parse_go_uint(s: &str) -> Option<u64> {
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.starts_with('-') {
        return None;
    }
    parse_go_uint_body(body)
}

/// `strconv.ParseUint(s, 0, 64)` without the sign: base prefixes 0x, 0o, 0b and a leading 0.
fn parse_go_uint_body(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with('+') || digits.starts_with('-') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn is_yaml_style_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml v2's `resolve` for an untagged plain scalar.
fn resolve_plain(s: &str) -> Scalar {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        "<<" => return Scalar::Merge,
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => {
            if let Some(f) = go_parse_float(s) {
                return Scalar::Float(f);
            }
        }
        b'0'..=b'9' | b'+' | b'-' => {
            let plain = s.replace('_', "");
            if let Some(i) = parse_go_int(&plain) {
                return Scalar::Int(i);
            }
            if let Some(u) = parse_go_uint(&plain) {
                return Scalar::Uint(u);
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Scalar::Float(f);
            }
            if let Some(rest) = plain.strip_prefix("-0b")
                && let Ok(u) = u64::from_str_radix(rest, 2)
                && u <= i64::MAX as u64 + 1
            {
                return Scalar::Int((u as i64).wrapping_neg());
            }
        }
        _ => {}
    }
    Scalar::Str(s.to_string())
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms YAML can reach.
fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty() || t.contains(['i', 'I', 'n', 'N', 'x', 'X', '_']) {
        return None;
    }
    t.parse::<f64>().ok()
}

fn tag_name(tag: &Tag) -> String {
    match tag.handle.as_str() {
        "!!" | "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        h => format!("{h}{}", tag.suffix),
    }
}

fn resolve_scalar(value: &str, style: TScalarStyle, tag: &Option<Tag>) -> Result<Scalar, String> {
    let tag = tag.as_ref().map(tag_name);
    match tag.as_deref() {
        None => {
            if style == TScalarStyle::Plain {
                Ok(resolve_plain(value))
            } else {
                Ok(Scalar::Str(value.to_string()))
            }
        }
        Some("!!str") => Ok(Scalar::Str(value.to_string())),
        Some("!!binary") => Ok(Scalar::Str(decode_base64(value).map_err(|_| {
            format!("!!binary value contains invalid base64 data: {value:?}")
        })?)),
        Some(t @ ("!!int" | "!!float" | "!!bool" | "!!null")) => {
            let r = resolve_plain(value);
            let ok = matches!(
                (t, &r),
                ("!!int", Scalar::Int(_) | Scalar::Uint(_))
                    | (
                        "!!float",
                        Scalar::Float(_) | Scalar::Int(_) | Scalar::Uint(_)
                    )
                    | ("!!bool", Scalar::Bool(_))
                    | ("!!null", Scalar::Null)
            );
            if ok {
                Ok(r)
            } else {
                Err(format!("cannot decode !!str `{value}` as a {t}"))
            }
        }
        Some("!!timestamp") => Ok(Scalar::Str(value.to_string())),
        Some(_) => Ok(Scalar::Str(value.to_string())),
    }
}

fn decode_base64(s: &str) -> Result<String, ()> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return Err(()),
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Counts decoded nodes as go-yaml does, to refuse alias bombs.
struct Limits {
    decode: u64,
    alias: u64,
}

impl Limits {
    fn check(&self, mark: &Marker) -> Result<(), YamlError> {
        // go-yaml v2: allowedAliasRatio, from 0.99 below 400k decoded nodes to 0.10 above 4M.
        let ratio = if self.decode <= 400_000 {
            0.99
        } else if self.decode >= 4_000_000 {
            0.10
        } else {
            0.99 - 0.89 * ((self.decode - 400_000) as f64 / 3_600_000.0)
        };
        if (self.alias > 100
            && self.decode > 1000
            && self.alias as f64 / self.decode as f64 > ratio)
            || self.decode > 20_000_000
        {
            return Err(err_at(mark, "document contains excessive aliasing"));
        }
        Ok(())
    }
}

fn node_mark(n: &Node) -> Option<Marker> {
    match n {
        Node::Scalar { mark, .. } => Some(*mark),
        Node::Map(_, m) => Some(*m),
        Node::Alias(t) => node_mark(t),
        Node::Seq(items) => items.first().and_then(|i| node_mark(i)),
    }
}

fn to_value(n: &Node, lim: &mut Limits) -> Result<Value, YamlError> {
    lim.decode += 1;
    match n {
        Node::Alias(target) => {
            lim.alias += 1;
            if let Some(m) = node_mark(target) {
                lim.check(&m)?;
            }
            to_value(target, lim)
        }
        Node::Scalar {
            value,
            style,
            tag,
            mark,
        } => {
            let s = resolve_scalar(value, *style, tag).map_err(|m| err_at(mark, m))?;
            scalar_to_json(s).map_err(|m| err_at(mark, m))
        }
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(to_value(i, lim)?);
            }
            Ok(Value::List(out))
        }
        Node::Map(pairs, mark) => {
            let mut out = Map::new();
            // merge keys first, explicit keys override them
            for (k, v) in pairs {
                if is_merge_key(k) {
                    merge_into(&mut out, v, lim, mark)?;
                }
            }
            for (k, v) in pairs {
                if is_merge_key(k) {
                    continue;
                }
                let key = key_string(k)?;
                let val = to_value(v, lim)?;
                out.insert(key, val);
            }
            Ok(Value::Map(out))
        }
    }
}

fn is_merge_key(k: &Node) -> bool {
    matches!(k, Node::Scalar { value, style: TScalarStyle::Plain, tag: None, .. } if value == "<<")
}

fn merge_into(out: &mut Map, v: &Node, lim: &mut Limits, mark: &Marker) -> Result<(), YamlError> {
    let mut target = v;
    while let Node::Alias(t) = target {
        target = t;
    }
    match target {
        Node::Map(..) => {
            if let Value::Map(m) = to_value(v, lim)? {
                for (k, x) in m {
                    out.insert(k, x);
                }
            }
            Ok(())
        }
        Node::Seq(items) => {
            // earlier maps in the list win
            for item in items.iter().rev() {
                let mut t = &**item;
                while let Node::Alias(x) = t {
                    t = x;
                }
                if !matches!(t, Node::Map(..)) {
                    return Err(err_at(
                        mark,
                        "map merge requires map or sequence of maps as the value",
                    ));
                }
                if let Value::Map(m) = to_value(item, lim)? {
                    for (k, x) in m {
                        out.insert(k, x);
                    }
                }
            }
            Ok(())
        }
        _ => Err(err_at(
            mark,
            "map merge requires map or sequence of maps as the value",
        )),
    }
}

fn scalar_to_json(s: Scalar) -> Result<Value, String> {
    Ok(match s {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::Float(i as f64),
        Scalar::Uint(u) => Value::Float(u as f64),
        Scalar::Float(f) => {
            if f.is_nan() {
                return Err("error converting YAML to JSON: json: unsupported value: NaN".into());
            }
            if f.is_infinite() {
                return Err(format!(
                    "error converting YAML to JSON: json: unsupported value: {}",
                    if f > 0.0 { "+Inf" } else { "-Inf" }
                ));
            }
            Value::Float(f)
        }
        Scalar::Str(s) => Value::String(s),
        Scalar::Merge => Value::String("<<".into()),
    })
}

/// sigs.k8s.io/yaml's conversion of a map key to a JSON object key.
fn key_string(k: &Node) -> Result<String, YamlError> {
    let mut n = k;
    while let Node::Alias(t) = n {
        n = t;
    }
    match n {
        Node::Scalar {
            value,
            style,
            tag,
            mark,
        } => {
            let s = resolve_scalar(value, *style, tag).map_err(|m| err_at(mark, m))?;
            Ok(match s {
                Scalar::Str(s) => s,
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(i) => i.to_string(),
                Scalar::Uint(u) => u.to_string(),
                Scalar::Float(f) => {
                    let s = go_format_g(f, true);
                    match s.as_str() {
                        "+Inf" => ".inf".into(),
                        "-Inf" => "-.inf".into(),
                        "NaN" => ".nan".into(),
                        _ => s,
                    }
                }
                Scalar::Merge => "<<".into(),
                Scalar::Null => {
                    return Err(err_at(
                        mark,
                        "error converting YAML to JSON: unsupported map key of type: %!s(<nil>), key: <nil>",
                    ));
                }
            })
        }
        Node::Seq(_) | Node::Map(..) => Err(YamlError {
            line: node_mark(n).map(|m| m.line()).unwrap_or(0),
            col: node_mark(n).map(|m| m.col() + 1).unwrap_or(0),
            message:
                "error converting YAML to JSON: unsupported map key: a collection cannot be a key"
                    .into(),
        }),
        Node::Alias(_) => unreachable!("aliases are followed above"),
    }
}

/// Parses every document of `src` into Helm-typed values (`Null` for empty documents).
pub fn parse_all(src: &str) -> Result<Vec<Value>, YamlError> {
    let docs = match parse_nodes(src) {
        Ok(d) => d,
        // go-yaml accepts a tab as the separator after a mapping `:` (`a:\t1`); our scanner
        // does not. Only when it refuses exactly that, retry with those tabs made spaces.
        Err(e)
            if e.message
                .contains("':' must be followed by a valid YAML whitespace") =>
        {
            parse_nodes(&tabs_after_colons(src)).map_err(|_| e)?
        }
        Err(e) => return Err(e),
    };
    let mut lim = Limits {
        decode: 0,
        alias: 0,
    };
    docs.into_iter()
        .map(|d| match d {
            None => Ok(Value::Null),
            Some(n) => to_value(&n, &mut lim),
        })
        .collect()
}

/// Parses the first document of `src` (what `yaml.Unmarshal` reads), `Null` when empty.
pub fn parse(src: &str) -> Result<Value, YamlError> {
    Ok(parse_all(src)?.into_iter().next().unwrap_or(Value::Null))
}

/// Parses a values file as Helm's `LoadValues`: every document must be a map (or empty); the
/// documents are merged in order.
pub fn parse_values(src: &str) -> Result<Map, YamlError> {
    let mut out = Map::new();
    for doc in parse_all(src)? {
        match doc {
            Value::Null => {}
            Value::Map(m) => out = merge_maps(out, m),
            other => {
                return Err(YamlError {
                    line: 0,
                    col: 0,
                    message: format!(
                        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                        other.json_type()
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Helm's `loader.MergeMaps`: maps merge key by key, anything else is replaced.
pub fn merge_maps(mut a: Map, b: Map) -> Map {
    for (k, v) in b {
        match (a.remove(&k), v) {
            (Some(Value::Map(av)), Value::Map(bv)) => {
                a.insert(k, Value::Map(merge_maps(av, bv)));
            }
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
    a
}

// ---------------------------------------------------------------------------------------------
// Emitting
// ---------------------------------------------------------------------------------------------

const BEST_WIDTH: usize = 80;

/// Serialises a value as `sigs.k8s.io/yaml.Marshal` does (and so Helm's `toYaml`, before it
/// trims the final newline). An empty map is `{}\n`, `null` is `null\n`.
pub fn to_yaml(v: &Value) -> String {
    emit(v, false)
}

/// Serialises as go-yaml v3's encoder with indent 2 (Helm's `toYamlPretty`): sequences are
/// indented under their key, long strings are not folded, and floats keep Go's `%g` form
/// (`1e+06`), since no JSON step is involved.
pub fn to_yaml_v3(v: &Value) -> String {
    emit(v, true)
}

fn emit(v: &Value, v3: bool) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        v3,
    };
    e.node(v, -1, Ctx::Top);
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    e.out
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Top,
    MapValue,
    SeqItem,
}

struct Emitter {
    out: String,
    column: usize,
    /// go-yaml v3 layout instead of v2's.
    v3: bool,
}

/// go-yaml v2's key order (`keyList.Less`): runs of digits compare as numbers, letters sort
/// after non-letters.
pub fn go_yaml_key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i as isize - 1;
            while j >= 0 && ar[j as usize].is_ascii_digit() {
                if ar[j as usize] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
                j -= 1;
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Keys of a map in go-yaml's emitting order.
pub fn go_yaml_sorted_keys(m: &Map) -> Vec<&String> {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by(|a, b| {
        if go_yaml_key_less(a, b) {
            std::cmp::Ordering::Less
        } else if go_yaml_key_less(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    keys
}

impl Emitter {
    fn write(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.out.push_str(s);
    }

    fn newline_indent(&mut self, indent: usize) {
        self.out.push('\n');
        self.column = 0;
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.column = indent;
    }

    /// Emits `v` whose parent block has indentation `parent` (-1 at the top).
    fn node(&mut self, v: &Value, parent: isize, ctx: Ctx) {
        match v {
            Value::Map(m) if !m.is_empty() => {
                let indent = (parent + 2).max(0) as usize;
                let indent = if ctx == Ctx::Top { 0 } else { indent };
                let mut first = true;
                for k in go_yaml_sorted_keys(m) {
                    let inline = first && ctx == Ctx::SeqItem;
                    if !(inline || first && ctx == Ctx::Top) {
                        self.newline_indent(indent);
                    }
                    first = false;
                    let child = &m[k];
                    if k.len() > 128
                        && !matches!(child, Value::Map(c) if !c.is_empty())
                        && !matches!(child, Value::List(c) if !c.is_empty())
                    {
                        // libyaml writes keys longer than 128 bytes as complex keys
                        self.write("? ");
                        self.scalar_string(k, indent + 2, false);
                        self.newline_indent(indent);
                        self.write(": ");
                        self.scalar(child, indent + 2);
                        continue;
                    }
                    self.scalar_string(k, indent, true);
                    self.write(":");
                    match child {
                        Value::Map(cm) if !cm.is_empty() => {
                            self.node(child, indent as isize, Ctx::MapValue);
                        }
                        Value::List(l) if !l.is_empty() => {
                            // go-yaml v2 writes sequences inside mappings indentless
                            let shift = if self.v3 { 0 } else { 2 };
                            self.node(child, indent as isize - shift, Ctx::MapValue);
                        }
                        _ => {
                            self.write(" ");
                            self.scalar(child, indent + 2);
                        }
                    }
                }
            }
            Value::List(l) if !l.is_empty() => {
                let indent = match ctx {
                    Ctx::Top => 0,
                    _ => (parent + 2).max(0) as usize,
                };
                let mut first = true;
                for item in l {
                    let inline = first && ctx == Ctx::SeqItem;
                    if !(inline || first && ctx == Ctx::Top) {
                        self.newline_indent(indent);
                    }
                    first = false;
                    self.write("-");
                    match item {
                        Value::Map(cm) if !cm.is_empty() => {
                            self.write(" ");
                            self.node(item, indent as isize, Ctx::SeqItem);
                        }
                        Value::List(cl) if !cl.is_empty() => {
                            self.write(" ");
                            self.node(item, indent as isize, Ctx::SeqItem);
                        }
                        _ => {
                            self.write(" ");
                            self.scalar(item, indent + 2);
                        }
                    }
                }
            }
            _ => {
                let indent = if parent < 0 { 2 } else { parent as usize + 2 };
                self.scalar(v, indent);
            }
        }
    }

    fn scalar(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Null => self.write("null"),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Int(i) => self.write(&i.to_string()),
            Value::Float(f) => {
                let s = if self.v3 {
                    match go_format_g(*f, false).as_str() {
                        "+Inf" => ".inf".to_string(),
                        "-Inf" => "-.inf".to_string(),
                        "NaN" => ".nan".to_string(),
                        s => s.to_string(),
                    }
                } else {
                    yaml_number(*f)
                };
                self.write(&s)
            }
            Value::String(s) => self.scalar_string(s, indent, false),
            Value::Map(_) => self.write("{}"),
            Value::List(_) => self.write("[]"),
        }
    }

    fn scalar_string(&mut self, s: &str, indent: usize, simple_key: bool) {
        let style = select_style(s, simple_key);
        match style {
            Style::Plain => self.write_plain(s, indent, !simple_key),
            Style::Single => self.write_single(s, indent, !simple_key),
            Style::Double => self.write_double(s, indent, !simple_key),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn width(&self) -> usize {
        if self.v3 { usize::MAX } else { BEST_WIDTH }
    }

    fn write_plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > self.width() && !next_space {
                    self.newline_indent(indent);
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                let mut b = [0u8; 4];
                self.write(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
    }

    fn write_single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write("'");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > self.width()
                    && i != 0
                    && i != chars.len() - 1
                    && !next_space
                {
                    self.newline_indent(indent);
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.write("'");
                }
                let mut b = [0u8; 4];
                self.write(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
        self.write("'");
    }

    fn write_double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write("\"");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                let esc = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".into(),
                    '\u{8}' => "\\b".into(),
                    '\t' => "\\t".into(),
                    '\n' => "\\n".into(),
                    '\u{b}' => "\\v".into(),
                    '\u{c}' => "\\f".into(),
                    '\r' => "\\r".into(),
                    '\u{1b}' => "\\e".into(),
                    '"' => "\\\"".into(),
                    '\\' => "\\\\".into(),
                    '\u{85}' => "\\N".into(),
                    '\u{a0}' => "\\_".into(),
                    '\u{2028}' => "\\L".into(),
                    '\u{2029}' => "\\P".into(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.write(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.width()
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.newline_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                let mut b = [0u8; 4];
                self.write(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
        self.write("\"");
    }

    fn write_literal(&mut self, s: &str, indent: usize) {
        self.write("|");
        let first = s.chars().next();
        if matches!(first, Some(' ') | Some('\n')) {
            self.write("2");
        }
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s == "\n" || s[..s.len() - 1].ends_with('\n') {
            "+"
        } else {
            ""
        };
        self.write(chomp);
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if line.is_empty() {
                self.out.push('\n');
                self.column = 0;
            } else {
                self.newline_indent(indent);
                self.write(line);
            }
        }
    }
}

/// The YAML text of a number that went through JSON (`1.0` → `1`, huge → plain integer).
fn yaml_number(f: f64) -> String {
    let json = go_json_float(f);
    // JSON → YAML resolution: integers stay integers, other numbers are float64 'g' formatted.
    if json == "-0" {
        // JSON keeps the sign; YAML reads "-0" back as the integer 0
        return "0".into();
    }
    if json.contains(['.', 'e', 'E']) {
        match json.parse::<f64>() {
            Ok(x) => {
                let s = go_format_g(x, false);
                match s.as_str() {
                    "+Inf" => ".inf".into(),
                    "-Inf" => "-.inf".into(),
                    "NaN" => ".nan".into(),
                    _ if !s.contains(['.', 'e', 'n', 'N', 'I']) => {
                        // go-yaml writes whole floats with 'g' too, e.g. -0 → -0
                        s
                    }
                    _ => s,
                }
            }
            Err(_) => json,
        }
    } else {
        json
    }
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || u == 0x85
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&u)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        if i < b.len() && (b'0'..=b'5').contains(&b[i]) {
            i += 1;
        }
        if i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        } else if i - st == 1 {
            // the optional [0-5] digit was the only digit
        } else {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

fn select_style(s: &str, simple_key: bool) -> Style {
    let can_plain = matches!(resolve_plain_for_emit(s), Scalar::Str(_))
        && !is_base60_float(s)
        && !is_timestamp(s);
    let requested = if s.contains('\n') {
        Style::Literal
    } else if can_plain {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze(s);
    let mut style = requested;
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::Double;
    }
    if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    style
}

/// go-yaml v2's `parseTimestamp`: the forms a plain scalar resolves to `!!timestamp`
/// (such strings are quoted when emitted).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - st < max {
            *i += 1;
        }
        if *i - st < min {
            return None;
        }
        s[st..*i].parse().ok()
    };
    let mut i = 0;
    let Some(_y) = num(&mut i, 4, 4) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let Some(mo) = num(&mut i, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let Some(d) = num(&mut i, 1, 2) else {
        return false;
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let zoned = match b[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    i += 1;
    let (Some(h), true, _) = (num(&mut i, 1, 2), b.get(i) == Some(&b':'), 0) else {
        return false;
    };
    i += 1;
    let (Some(mi), true, _) = (num(&mut i, 1, 2), b.get(i) == Some(&b':'), 0) else {
        return false;
    };
    i += 1;
    let Some(sec) = num(&mut i, 1, 2) else {
        return false;
    };
    if h > 23 || mi > 59 || sec > 59 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if num(&mut i, 1, 9).is_none() {
            return false;
        }
    }
    if !zoned {
        return i == b.len();
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+') | Some(b'-') => {
            i += 1;
            num(&mut i, 2, 2).is_some()
                && b.get(i) == Some(&b':')
                && {
                    i += 1;
                    num(&mut i, 2, 2).is_some()
                }
                && i == b.len()
        }
        _ => false,
    }
}

fn resolve_plain_for_emit(s: &str) -> Scalar {
    if s.is_empty() {
        return Scalar::Null;
    }
    resolve_plain(s)
}

struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut special, mut line_breaks) =
        (false, false, false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_indicators = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = is_blankz(chars.get(1).copied());
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':') && followed_by_ws {
                block_indicators = true;
            }
            if c == '-' && followed_by_ws {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_ws {
                block_indicators = true;
            }
            if c == '#' && preceded_by_ws {
                block_indicators = true;
            }
        }
        if !is_printable(c) || c == '\u{feff}' {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_blankz(Some(c)) || c == '\t';
        followed_by_ws = is_blankz(chars.get(i + 2).copied());
    }
    let mut block_plain_allowed = true;
    let mut single_quoted_allowed = true;
    let mut block_allowed = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain_allowed = false;
    }
    if trailing_space {
        block_allowed = false;
    }
    if break_space {
        block_plain_allowed = false;
        single_quoted_allowed = false;
    }
    if space_break || special {
        block_plain_allowed = false;
        single_quoted_allowed = false;
        block_allowed = false;
    }
    if line_breaks {
        block_plain_allowed = false;
    }
    if block_indicators {
        block_plain_allowed = false;
    }
    Analysis {
        block_plain_allowed,
        single_quoted_allowed,
        block_allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(src: &str) -> Value {
        parse(src).unwrap()
    }

    #[test]
    fn yaml11_scalars_are_typed_as_helm() {
        let m = v(
            "a: 1\nb: yes\nc: 077\nd: 0x1F\ne: 2001-12-14\nf: ~\ng: 1_000\nh: '1'\ni: 0b101\nj: -0b101\nk: +12\nl: .5\nm: 1e3\n",
        );
        let m = m.as_map().unwrap();
        assert_eq!(m["a"], Value::Float(1.0));
        assert_eq!(m["b"], Value::Bool(true));
        assert_eq!(m["c"], Value::Float(63.0));
        assert_eq!(m["d"], Value::Float(31.0));
        assert_eq!(m["e"], Value::String("2001-12-14".into()));
        assert_eq!(m["f"], Value::Null);
        assert_eq!(m["g"], Value::Float(1000.0));
        assert_eq!(m["h"], Value::String("1".into()));
        assert_eq!(m["i"], Value::Float(5.0));
        assert_eq!(m["j"], Value::Float(-5.0));
        assert_eq!(m["k"], Value::Float(12.0));
        assert_eq!(m["l"], Value::Float(0.5));
        assert_eq!(m["m"], Value::Float(1000.0));
    }

    #[test]
    fn non_string_keys_become_strings() {
        let m = v("y: 1\nn: 2\n1: a\n1.5: b\non: c\n");
        let keys: Vec<_> = m.as_map().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["1", "1.5", "false", "true"]);
    }

    #[test]
    fn infinity_and_null_keys_are_errors() {
        assert!(parse("a: .inf\n").unwrap_err().message.contains("+Inf"));
        assert!(
            parse("~: 1\n")
                .unwrap_err()
                .message
                .contains("unsupported map key")
        );
    }

    #[test]
    fn merge_keys_and_aliases() {
        let m = v("r: &x {s: 1, t: 2}\nu:\n  <<: *x\n  t: 3\n");
        assert_eq!(
            m.path("u").unwrap().to_go_json(),
            r#"{"s":1,"t":3}"#.to_string()
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains("excessive aliasing"), "{e}");
    }

    #[test]
    fn errors_carry_positions() {
        let e = parse("a:\n  b: 1\n c: 2\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn emits_like_go_yaml() {
        let val = v(
            "b: [1, two, {c: d}]\na: {x: 'yes', 'y': '', z: '1.0', w: '- a', v: \"l1\\nl2\\n\"}\ne: []\nf: {}\n",
        );
        assert_eq!(
            to_yaml(&val),
            "a:\n  v: |\n    l1\n    l2\n  w: '- a'\n  x: \"yes\"\n  \"y\": \"\"\n  z: \"1.0\"\nb:\n- 1\n- two\n- c: d\ne: []\nf: {}\n"
        );
    }

    #[test]
    fn key_order_is_natural() {
        assert!(go_yaml_key_less("a9", "a10"));
        assert!(go_yaml_key_less("_x", "a"));
        assert!(go_yaml_key_less("B", "a"));
    }
}
