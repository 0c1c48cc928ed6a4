//! The head of a rendered manifest document (`apiVersion`, `kind`, `metadata.name`,
//! `metadata.annotations`), read without building the document.
//!
//! Helm's manifest stage YAML-decodes every document for its head, so reading the whole
//! output as YAML is a large share of a render. Most documents are plain block YAML: block
//! mappings and sequences, one-line scalars, block scalars (`|`, `>`). [`parse_head`] reads
//! those line by line, checking their structure as it goes and looking into no scalar that
//! is not part of the head, and hands every document that steps outside that subset (flow
//! collections, anchors, tags, tabs in the structure, multi-line flow scalars, anything
//! suspicious) to the full parser, which also words every error. So for any document both
//! give the same answer; the tests compare them on the corpus and on generated documents.

use super::{Scalar, YamlError, parse, resolve_plain, scalar_to_json};
use crate::value::{Map, Value};

/// What [`super::parse`] gives for `src`, as far as a manifest's head goes: the same
/// `apiVersion`, `kind` and `metadata` (with `name` and `annotations`) and the same error or
/// success; other fields may be left out.
pub fn parse_head(src: &str) -> Result<Value, YamlError> {
    match read(src) {
        Some(v) => Ok(v),
        None => parse(src),
    }
}

/// Whether the fast reader decides `src` by itself (for tests and benchmarks).
pub fn head_is_fast(src: &str) -> bool {
    read(src).is_some()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Map,
    Seq,
}

/// Where a collection sits, as far as the head goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Root,
    Metadata,
    Annotations,
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Level {
    /// The column of its keys or dashes.
    indent: usize,
    kind: Kind,
    role: Role,
}

/// Which head field a value is for.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    None,
    ApiVersion,
    Kind,
    Metadata,
    Name,
    Annotations,
    Annotation(String),
}

/// A key whose value starts on a later line (`key:` or `-` alone on its line).
#[derive(Clone, Debug)]
struct Pending {
    /// The column of the collection holding it.
    indent: usize,
    in_map: bool,
    slot: Slot,
}

/// A block scalar being skipped.
#[derive(Clone, Copy, Debug)]
struct Block {
    /// The column of the collection holding it: content is indented further.
    parent: usize,
    /// The content's indentation, once its first non-blank line is seen.
    indent: Option<usize>,
    /// The most spaces on the blank lines before that.
    blank_max: usize,
}

/// A head field's value: `None` absent, else the value (`Null`, a map being filled, ...).
#[derive(Default)]
struct Head {
    api_version: Option<Value>,
    kind: Option<Value>,
    /// `Some(None)`: `metadata` is null; `Some(Some(_))`: a map (its `name` and annotations).
    metadata: Option<Option<Meta>>,
}

#[derive(Default)]
struct Meta {
    name: Option<Value>,
    /// `Some(None)`: null.
    annotations: Option<Option<Map>>,
}

/// A quoted scalar going on over lines (outside the head).
#[derive(Clone, Copy, Debug)]
struct Quote {
    /// The column of the collection holding it: its lines go on further right.
    parent: usize,
    single: bool,
}

#[derive(Default)]
struct Reader {
    stack: Vec<Level>,
    pending: Option<Pending>,
    block: Option<Block>,
    quote: Option<Quote>,
    head: Head,
    seen_root: bool,
}

/// `None`: not decided here (the full parser must read it).
fn read(src: &str) -> Option<Value> {
    let b = src.as_bytes();
    if !plain_text(b) {
        return None;
    }
    let mut r = Reader::default();
    let mut pos = 0;
    while pos < b.len() {
        let end = memchr::memchr(b'\n', &b[pos..]).map_or(b.len(), |i| pos + i);
        let line = &b[pos..end];
        pos = end + 1;
        let indent = line.iter().take_while(|&&c| c == b' ').count();
        let rest = &line[indent..];
        if let Some(block) = &mut r.block {
            match block.indent {
                Some(m) if indent >= m => continue,
                None if rest.is_empty() => {
                    block.blank_max = block.blank_max.max(indent);
                    continue;
                }
                None if indent > block.parent && rest[0] != b'\t' => {
                    if block.blank_max > indent {
                        return None;
                    }
                    block.indent = Some(indent);
                    continue;
                }
                _ if rest.is_empty() => continue,
                _ if rest[0] == b'\t' => return None,
                // a line indented less than the content ends the scalar
                _ => r.block = None,
            }
        }
        if let Some(q) = r.quote {
            if rest.is_empty() {
                continue;
            }
            if indent <= q.parent || memchr::memchr(b'\t', rest).is_some() {
                return None;
            }
            match scan_quoted(rest, 0, q.single)? {
                Some(end) if line_end(&rest[end..]) && rest.get(end).is_none_or(|&c| c == b' ') => {
                    r.quote = None;
                }
                Some(_) => return None,
                None => {}
            }
            continue;
        }
        if rest.is_empty() || rest[0] == b'#' {
            continue;
        }
        if memchr::memchr(b'\t', rest).is_some() {
            return None;
        }
        if indent == 0 && (rest.starts_with(b"---") || rest.starts_with(b"...") || rest[0] == b'%')
        {
            return None;
        }
        r.line(indent, rest)?;
    }
    if r.quote.is_some() {
        return None;
    }
    r.finish()
}

/// Text without what YAML reads specially: carriage returns, control characters, a byte
/// order mark, and the Unicode line breaks (NEL, LS, PS).
fn plain_text(b: &[u8]) -> bool {
    let mut ascii = true;
    for chunk in b.chunks(64) {
        let mut bad = false;
        let mut high = false;
        for &c in chunk {
            bad |= (c < 0x20 && c != b'\t' && c != b'\n') | (c == 0x7f);
            high |= c >= 0x80;
        }
        if bad {
            return false;
        }
        ascii &= !high;
    }
    if ascii {
        return true;
    }
    // C1 controls and NEL are U+0080..U+009F (0xC2 0x80..0x9F); LS and PS are E2 80 A8/A9;
    // the BOM is EF BB BF; U+FFFE and U+FFFF are EF BF BE/BF.
    memchr::memchr3_iter(0xC2, 0xE2, 0xEF, b).all(|i| {
        let next = |k: usize| b.get(i + k).copied().unwrap_or(0);
        match b[i] {
            0xC2 => !(0x80..=0x9F).contains(&next(1)),
            0xE2 => !(next(1) == 0x80 && matches!(next(2), 0xA8 | 0xA9)),
            _ => !((next(1) == 0xBB && next(2) == 0xBF) || (next(1) == 0xBF && next(2) >= 0xBE)),
        }
    })
}

/// A sequence entry: `-` alone or followed by a space.
fn is_dash(rest: &[u8]) -> bool {
    rest[0] == b'-' && (rest.len() == 1 || rest[1] == b' ')
}

fn skip_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b' ').count();
    &s[n..]
}

/// Nothing more on the line but spaces and a comment (after a space).
fn line_end(after: &[u8]) -> bool {
    let rest = skip_spaces(after);
    rest.is_empty() || (rest[0] == b'#' && rest.len() < after.len())
}

/// Where a plain scalar may not start (YAML's indicators), `-` handled by the caller.
fn plain_start_ok(s: &[u8]) -> bool {
    match s[0] {
        b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
        | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' => false,
        b'-' => s.len() > 1 && s[1] != b' ',
        _ => true,
    }
}

/// A key at the start of `s` (`key:` followed by a space or the end of the line): its text
/// (quotes included) and what follows the colon. `None` when `s` is not a key this reader
/// takes.
fn split_key(s: &[u8]) -> Option<(&[u8], &[u8])> {
    match s[0] {
        b'"' | b'\'' => {
            let close = quoted_end(s)?;
            let after = &s[close..];
            match after {
                [b':'] => Some((&s[..close], &after[1..])),
                [b':', b' ', ..] => Some((&s[..close], &after[1..])),
                _ => None,
            }
        }
        _ => {
            if !plain_start_ok(s) {
                return None;
            }
            let mut from = 0;
            loop {
                let i = from + memchr::memchr2(b':', b'#', &s[from..])?;
                if s[i] == b'#' {
                    if s[i - 1] == b' ' {
                        // a comment before any `: `: not a key
                        return None;
                    }
                } else if i + 1 == s.len() || s[i + 1] == b' ' {
                    let key = &s[..i];
                    if key.len() > 1000
                        || key.last() == Some(&b' ')
                        || key.iter().any(|c| b"[]{},".contains(c))
                    {
                        return None;
                    }
                    return Some((key, &s[i + 1..]));
                }
                from = i + 1;
            }
        }
    }
}

/// The index just past the closing quote of the quoted scalar `s` starts with, when it closes
/// on this line and holds only escapes this reader knows.
fn quoted_end(s: &[u8]) -> Option<usize> {
    scan_quoted(s, 1, s[0] == b'\'')?
}

/// Scans the inside of a quoted scalar from `i`: `Some(Some(end))` just past its closing
/// quote, `Some(None)` when it goes on past this line, `None` on an escape this reader does
/// not take. A backslash at the end of a double-quoted line escapes the line break.
fn scan_quoted(s: &[u8], mut i: usize, single: bool) -> Option<Option<usize>> {
    let q = if single { b'\'' } else { b'"' };
    while let Some(k) = if single {
        memchr::memchr(q, &s[i..])
    } else {
        memchr::memchr2(q, b'\\', &s[i..])
    } {
        i += k;
        if s[i] == q {
            if single && s.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(Some(i + 1));
        }
        match s.get(i + 1) {
            Some(
                b'0' | b'a' | b'b' | b't' | b'n' | b'v' | b'f' | b'r' | b'e' | b' ' | b'"' | b'/'
                | b'\\' | b'N' | b'_' | b'L' | b'P',
            ) => i += 2,
            None => return Some(None),
            _ => return None,
        }
    }
    Some(None)
}

/// The text of a quoted scalar (quotes included) when it is simple to decode.
fn unquote(s: &[u8]) -> Option<String> {
    let inner = std::str::from_utf8(&s[1..s.len() - 1]).ok()?;
    if s[0] == b'\'' {
        Some(inner.replace("''", "'"))
    } else if inner.contains('\\') {
        None
    } else {
        Some(inner.to_string())
    }
}

/// A key's text as sigs.k8s.io/yaml turns it into a JSON key, when that is plain.
fn key_text(key: &[u8]) -> Option<String> {
    if matches!(key[0], b'"' | b'\'') {
        return unquote(key);
    }
    let s = std::str::from_utf8(key).ok()?;
    match resolve_plain(s) {
        Scalar::Str(s) => Some(s),
        _ => None,
    }
}

/// Whether a key of a collection outside the head converts to a JSON key as the full parser
/// converts it (null and merge keys are its business).
fn other_key_ok(key: &[u8]) -> bool {
    !matches!(key, b"~" | b"null" | b"Null" | b"NULL" | b"<<")
}

/// A plain scalar outside the head: whether converting it to JSON succeeds (only `.inf`,
/// `.nan` and their kin fail).
fn other_plain_ok(s: &[u8]) -> bool {
    match s[0] {
        b'.' | b'+' | b'-' | b'0'..=b'9' => {
            if s.len() < 16 && s.iter().all(u8::is_ascii_digit) {
                return true;
            }
            match std::str::from_utf8(s).map(resolve_plain) {
                Ok(Scalar::Float(f)) => f.is_finite(),
                Ok(_) => true,
                Err(_) => false,
            }
        }
        _ => true,
    }
}

impl Reader {
    fn line(&mut self, indent: usize, rest: &[u8]) -> Option<()> {
        if let Some(p) = self.pending.take() {
            let dash = is_dash(rest);
            if indent > p.indent || (indent == p.indent && p.in_map && dash) {
                let kind = if dash { Kind::Seq } else { Kind::Map };
                if kind == Kind::Map && split_key(rest).is_none() {
                    // the value on a line of its own (a later line more indented than this
                    // one is a continuation the full parser reads)
                    return self.value(rest, p.indent, p.slot);
                }
                let role = self.open(p.slot, kind)?;
                self.stack.push(Level { indent, kind, role });
                return self.content(indent, rest);
            }
            self.set(p.slot, Value::Null)?;
        }
        if self.stack.is_empty() {
            if self.seen_root || is_dash(rest) {
                return None;
            }
            self.seen_root = true;
            self.stack.push(Level {
                indent,
                kind: Kind::Map,
                role: Role::Root,
            });
            return self.content(indent, rest);
        }
        while let Some(top) = self.stack.last() {
            let n = self.stack.len();
            let compact_seq_ends = top.indent == indent
                && top.kind == Kind::Seq
                && !is_dash(rest)
                && n >= 2
                && self.stack[n - 2].indent == indent
                && self.stack[n - 2].kind == Kind::Map;
            if top.indent > indent || compact_seq_ends {
                self.stack.pop();
            } else {
                break;
            }
        }
        if self.stack.last()?.indent != indent {
            return None;
        }
        self.content(indent, rest)
    }

    /// The content of a line at `col`, where the collection on top of the stack sits.
    fn content(&mut self, col: usize, rest: &[u8]) -> Option<()> {
        let top = *self.stack.last()?;
        if is_dash(rest) {
            if top.kind != Kind::Seq {
                return None;
            }
            let after = &rest[1..];
            let r = skip_spaces(after);
            if line_end(after) {
                self.pending = Some(Pending {
                    indent: col,
                    in_map: false,
                    slot: Slot::None,
                });
                return Some(());
            }
            let c2 = col + 1 + (after.len() - r.len());
            if is_dash(r) {
                self.stack.push(Level {
                    indent: c2,
                    kind: Kind::Seq,
                    role: Role::Other,
                });
                return self.content(c2, r);
            }
            if split_key(r).is_some() {
                self.stack.push(Level {
                    indent: c2,
                    kind: Kind::Map,
                    role: Role::Other,
                });
                return self.content(c2, r);
            }
            return self.value(r, col, Slot::None);
        }
        if top.kind != Kind::Map {
            return None;
        }
        let (key, after) = split_key(rest)?;
        let slot = self.slot(top.role, key)?;
        if line_end(after) {
            self.pending = Some(Pending {
                indent: col,
                in_map: true,
                slot,
            });
            return Some(());
        }
        self.value(skip_spaces(after), col, slot)
    }

    /// The head field a key of a collection in `role` is.
    fn slot(&self, role: Role, key: &[u8]) -> Option<Slot> {
        let text = |k: &[u8]| -> Option<String> {
            if matches!(k[0], b'"' | b'\'') {
                unquote(k)
            } else {
                // plain keys that are not one of these are other keys either way
                Some(String::from_utf8_lossy(k).into_owned())
            }
        };
        Some(match role {
            Role::Other => {
                if !other_key_ok(key) {
                    return None;
                }
                Slot::None
            }
            Role::Root => match text(key)?.as_str() {
                "apiVersion" => Slot::ApiVersion,
                "kind" => Slot::Kind,
                "metadata" => Slot::Metadata,
                _ if other_key_ok(key) => Slot::None,
                _ => return None,
            },
            Role::Metadata => match text(key)?.as_str() {
                "name" => Slot::Name,
                "annotations" => Slot::Annotations,
                _ if other_key_ok(key) => Slot::None,
                _ => return None,
            },
            Role::Annotations => Slot::Annotation(key_text(key)?),
        })
    }

    /// A nested collection becomes the value of `slot`: its role.
    fn open(&mut self, slot: Slot, kind: Kind) -> Option<Role> {
        match (slot, kind) {
            (Slot::None, _) => Some(Role::Other),
            (Slot::Metadata, Kind::Map) => {
                self.set_metadata(Some(Meta::default()))?;
                Some(Role::Metadata)
            }
            (Slot::Annotations, Kind::Map) => {
                self.set_annotations(Some(Map::new()))?;
                Some(Role::Annotations)
            }
            _ => None,
        }
    }

    fn meta(&mut self) -> Option<&mut Meta> {
        self.head.metadata.as_mut()?.as_mut()
    }

    fn set_metadata(&mut self, m: Option<Meta>) -> Option<()> {
        if self.head.metadata.is_some() {
            return None;
        }
        self.head.metadata = Some(m);
        Some(())
    }

    fn set_annotations(&mut self, a: Option<Map>) -> Option<()> {
        let meta = self.meta()?;
        if meta.annotations.is_some() {
            return None;
        }
        meta.annotations = Some(a);
        Some(())
    }

    /// A scalar (or null) value for `slot`.
    fn set(&mut self, slot: Slot, v: Value) -> Option<()> {
        let once = |field: &mut Option<Value>| {
            if field.is_some() {
                return None;
            }
            *field = Some(v.clone());
            Some(())
        };
        match slot {
            Slot::None => Some(()),
            Slot::ApiVersion => once(&mut self.head.api_version),
            Slot::Kind => once(&mut self.head.kind),
            Slot::Name => once(&mut self.meta()?.name),
            Slot::Metadata => match v {
                Value::Null => self.set_metadata(None),
                _ => None,
            },
            Slot::Annotations => match v {
                Value::Null => self.set_annotations(None),
                _ => None,
            },
            Slot::Annotation(k) => {
                let a = self.meta()?.annotations.as_mut()?.as_mut()?;
                match a.insert(k, v.clone()) {
                    None => Some(()),
                    Some(_) => None,
                }
            }
        }
    }

    /// A value starting on its key's (or dash's) line; `col` is the column of the
    /// collection holding it.
    fn value(&mut self, r: &[u8], col: usize, slot: Slot) -> Option<()> {
        match r[0] {
            b'|' | b'>' => {
                let mut i = 1;
                if matches!(r.get(i), Some(b'-' | b'+')) {
                    i += 1;
                }
                if slot != Slot::None || !line_end(&r[i..]) || (i < r.len() && r[i] != b' ') {
                    return None;
                }
                self.block = Some(Block {
                    parent: col,
                    indent: None,
                    blank_max: 0,
                });
                Some(())
            }
            b'"' | b'\'' => {
                let single = r[0] == b'\'';
                let Some(end) = scan_quoted(r, 1, single)? else {
                    // goes on over lines: fine outside the head
                    if slot != Slot::None {
                        return None;
                    }
                    self.quote = Some(Quote {
                        parent: col,
                        single,
                    });
                    return Some(());
                };
                if !line_end(&r[end..]) || (end < r.len() && r[end] != b' ') {
                    return None;
                }
                if slot == Slot::None {
                    return Some(());
                }
                let s = unquote(&r[..end])?;
                if matches!(slot, Slot::Metadata | Slot::Annotations) {
                    return None;
                }
                self.set(slot, Value::String(s))
            }
            b'{' | b'[' => {
                let end = flow(r, 0)?;
                if !line_end(&r[end..]) || (end < r.len() && r[end] != b' ') {
                    return None;
                }
                let empty = r[1..end - 1].iter().all(|&c| c == b' ');
                match (&slot, r[0]) {
                    (Slot::None, _) => Some(()),
                    (Slot::Metadata, b'{') if empty => self.set_metadata(Some(Meta::default())),
                    (Slot::Annotations, b'{') if empty => self.set_annotations(Some(Map::new())),
                    _ => None,
                }
            }
            _ => {
                if !plain_start_ok(r) && !colon_or_question(r) {
                    return None;
                }
                let s = plain_scalar(r)?;
                if slot == Slot::None {
                    return other_plain_ok(s).then_some(());
                }
                let text = std::str::from_utf8(s).ok()?;
                let v = scalar_to_json(resolve_plain(text)).ok()?;
                if matches!(slot, Slot::Metadata | Slot::Annotations) && v != Value::Null {
                    return None;
                }
                self.set(slot, v)
            }
        }
    }

    fn finish(mut self) -> Option<Value> {
        if let Some(p) = self.pending.take() {
            self.set(p.slot, Value::Null)?;
        }
        if !self.seen_root {
            return Some(Value::Null);
        }
        let mut root = Map::new();
        if let Some(v) = self.head.api_version {
            root.insert("apiVersion".into(), v);
        }
        if let Some(v) = self.head.kind {
            root.insert("kind".into(), v);
        }
        match self.head.metadata {
            None => {}
            Some(None) => {
                root.insert("metadata".into(), Value::Null);
            }
            Some(Some(meta)) => {
                let mut md = Map::new();
                if let Some(n) = meta.name {
                    md.insert("name".into(), n);
                }
                match meta.annotations {
                    None => {}
                    Some(None) => {
                        md.insert("annotations".into(), Value::Null);
                    }
                    Some(Some(a)) => {
                        md.insert("annotations".into(), Value::Map(a));
                    }
                }
                root.insert("metadata".into(), Value::Map(md));
            }
        }
        Some(Value::Map(root))
    }
}

/// `:` or `?` and then not a space: a plain scalar in a block value (`record: :x_bytes:sum`).
fn colon_or_question(r: &[u8]) -> bool {
    matches!(r[0], b':' | b'?') && r.len() > 1 && r[1] != b' '
}

/// A flow collection on one line, `s[i]` its `[` or `{`: the index just past its end, when
/// it holds only scalars this reader takes (quoted on one line, or plain without `:` or `#`),
/// `key: value` pairs in mappings, and collections like itself.
fn flow(s: &[u8], mut i: usize) -> Option<usize> {
    let map = s[i] == b'{';
    let close = if map { b'}' } else { b']' };
    i = skip(s, i + 1);
    if s.get(i) == Some(&close) {
        return Some(i + 1);
    }
    loop {
        if map {
            let key_start = i;
            i = flow_node(s, i)?;
            if !other_key_ok(&s[key_start..i]) || s.get(i) != Some(&b':') {
                return None;
            }
            if !matches!(s.get(i + 1), Some(b' ')) {
                return None;
            }
            i = skip(s, i + 1);
        }
        i = skip(s, flow_node(s, i)?);
        match s.get(i) {
            Some(b',') => {
                i = skip(s, i + 1);
                if matches!(s.get(i), Some(b']' | b'}' | b',')) {
                    return None;
                }
            }
            Some(&c) if c == close => return Some(i + 1),
            _ => return None,
        }
    }
}

fn skip(s: &[u8], i: usize) -> usize {
    i + s[i.min(s.len())..]
        .iter()
        .take_while(|&&c| c == b' ')
        .count()
}

/// One node inside a flow collection starting at `i`: the index just past it.
fn flow_node(s: &[u8], i: usize) -> Option<usize> {
    match *s.get(i)? {
        b'[' | b'{' => flow(s, i),
        b'"' | b'\'' => Some(i + quoted_end(&s[i..])?),
        _ => {
            if !plain_start_ok(&s[i..]) {
                return None;
            }
            let len = s[i..]
                .iter()
                .position(|c| b",[]{}:#".contains(c))
                .unwrap_or(s.len() - i);
            let end = i + len;
            if matches!(s.get(end), Some(b':' | b'#') | None) {
                return None;
            }
            let text = &s[i..end];
            let trimmed =
                &text[..text.len() - text.iter().rev().take_while(|&&c| c == b' ').count()];
            other_plain_ok(trimmed).then_some(i + trimmed.len())
        }
    }
}

/// A one-line plain scalar in a value position: its text without a trailing comment or
/// spaces. `None` when the line goes on in a way this reader does not take (`: ` inside a
/// value is an error; the full parser words it).
fn plain_scalar(r: &[u8]) -> Option<&[u8]> {
    let mut end = r.len();
    let mut from = 0;
    while let Some(i) = memchr::memchr2(b':', b'#', &r[from..]).map(|i| from + i) {
        if r[i] == b'#' {
            if r[i - 1] == b' ' {
                end = i;
                break;
            }
        } else if i + 1 == r.len() || r[i + 1] == b' ' {
            return None;
        }
        from = i + 1;
    }
    let s = &r[..end];
    let trimmed = s.len() - s.iter().rev().take_while(|&&c| c == b' ').count();
    Some(&s[..trimmed])
}
