//! Sprig's string functions (`strings.go` and the `genericMap` entries that wrap Go's
//! `strings` package, `goutils` and `xstrings`): `trim`, `upper`, `title`, `substr`,
//! `abbrev`, `wrap`, `quote`, `indent`, `snakecase`, `split`, `join`, …
//!
//! Go strings are bytes; several of these functions (`trunc`, `substr`, `abbrev`, `wrap`,
//! `initials`, `nospace`) work on bytes exactly as Go does. Where Go would produce invalid
//! UTF-8 (slicing inside a character), the result is made valid with U+FFFD.

use std::sync::LazyLock;

use ferry_gotmpl::{FuncError, Funcs, List, Map, Signature, Type, Value};
use regex::Regex;

use super::util::{strslice, strval};

type R = Result<Value, FuncError>;

/// The string argument at `i` (the engine has already checked its type).
fn s(a: &[Value], i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// The Go `int` argument at `i`.
fn n(a: &[Value], i: usize) -> i64 {
    match a.get(i) {
        Some(Value::Int(v) | Value::Int64(v)) => *v,
        _ => 0,
    }
}

fn string(v: impl Into<String>) -> R {
    Ok(Value::string(v.into()))
}

/// Bytes back to a string, as Go would print them (invalid UTF-8 becomes U+FFFD).
fn from_bytes(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---- Unicode helpers (Go's `unicode` package) ----

fn in_class(c: char, re: &Regex) -> bool {
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

macro_rules! category {
    ($name:ident, $re:literal) => {
        fn $name(c: char) -> bool {
            static RE: LazyLock<Regex> =
                LazyLock::new(|| Regex::new($re).expect("valid Unicode class"));
            in_class(c, &RE)
        }
    };
}

category!(is_upper, r"^\p{Lu}$");
category!(is_lower, r"^\p{Ll}$");
category!(is_title, r"^\p{Lt}$");
category!(is_letter, r"^\p{L}$");
category!(is_number, r"^\p{N}$");
category!(is_punct, r"^\p{P}$");

/// Go's `unicode.IsSpace`.
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.ToLower`: the simple (one rune) mapping.
fn to_lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    // Full mappings longer than one rune only exist for U+0130, whose simple mapping is
    // the first rune of the full one.
    c.to_lowercase().next().unwrap_or(c)
}

/// Go's `unicode.ToUpper`: the simple (one rune) mapping.
fn to_upper(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        // Multi-rune full mappings: only the Greek letters with ypogegrammeni have a simple
        // uppercase (their titlecase form); the others (ß, ŉ, ǰ, …) have none.
        _ => match c as u32 {
            0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => {
                char::from_u32(c as u32 + 8).unwrap_or(c)
            }
            0x1FB3 => '\u{1FBC}',
            0x1FC3 => '\u{1FCC}',
            0x1FF3 => '\u{1FFC}',
            _ => c,
        },
    }
}

/// Go's `unicode.ToTitle`.
fn to_title(c: char) -> char {
    match c as u32 {
        0x01C4..=0x01C6 => '\u{01C5}',
        0x01C7..=0x01C9 => '\u{01C8}',
        0x01CA..=0x01CC => '\u{01CB}',
        0x01F1..=0x01F3 => '\u{01F2}',
        _ => to_upper(c),
    }
}

/// Go's `unicode.IsSpace` on a byte taken as a rune (goutils iterates over bytes).
fn byte_is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | 0x85 | 0xA0)
}

// ---- Go's strings package ----

/// Go's `strings.Title`.
fn title(s: &str) -> String {
    let is_sep = |r: char| {
        if r.is_ascii() {
            !(r.is_ascii_alphanumeric() || r == '_')
        } else {
            // Letters and digits are not separators; of the rest only spaces are.
            is_space(r)
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|r| {
            let out = if is_sep(prev) { to_title(r) } else { r };
            prev = r;
            out
        })
        .collect()
}

/// Go's `strings.Repeat`, which panics on a negative count or an overflowing length.
fn repeat(s: &str, count: i64) -> Result<String, FuncError> {
    match count {
        0 => return Ok(String::new()),
        1 => return Ok(s.to_string()),
        c if c < 0 => return Err(FuncError::new("strings: negative Repeat count")),
        _ => {}
    }
    let total = (s.len() as u128) * (count as u128);
    if total > i64::MAX as u128 {
        return Err(FuncError::new("strings: Repeat output length overflow"));
    }
    if total > MAX_STRING {
        return Err(FuncError::new(format!(
            "strings: Repeat output length {total} exceeds ferry's limit of {MAX_STRING} bytes"
        )));
    }
    Ok(s.repeat(count as usize))
}

/// The largest string ferry builds in one function call (Go would try to allocate it).
const MAX_STRING: u128 = 1 << 30;

/// Go's `strings.SplitN` (`n < 0`: all parts; `n == 0`: none).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        // explode: one part per rune, the last one holding the rest.
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        let count = if n < 0 || n as usize > chars.len() {
            chars.len()
        } else {
            n as usize
        };
        let mut out = Vec::with_capacity(count);
        for (i, &(at, c)) in chars.iter().take(count).enumerate() {
            if i == count - 1 {
                out.push(s[at..].to_string());
            } else {
                out.push(c.to_string());
            }
        }
        return out;
    }
    if n < 0 {
        s.split(sep).map(str::to_string).collect()
    } else {
        s.splitn(n as usize, sep).map(str::to_string).collect()
    }
}

/// A Go `[]string`.
pub(crate) fn string_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::List(List::typed(
        items.into_iter().map(Value::string).collect(),
        Type::String,
    ))
}

/// Sprig's `split`/`splitn` result: `map[string]string` with keys `_0`, `_1`, ….
fn index_map(parts: Vec<String>) -> Value {
    let entries = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::string(p)))
        .collect();
    Value::Map(Map::with_type(entries, Type::String, None))
}

/// The runtime error of a Go slice expression `s[lo:hi]` out of range, or the slice.
fn slice_bytes(s: &[u8], lo: Option<i64>, hi: Option<i64>) -> Result<&[u8], FuncError> {
    let len = s.len() as i64;
    let err = |m: String| {
        Err(FuncError::new(format!(
            "runtime error: slice bounds out of range {m}"
        )))
    };
    let h = hi.unwrap_or(len);
    if let Some(h) = hi {
        if h < 0 {
            return err(format!("[:{h}]"));
        }
        if h > len {
            return err(format!("[:{h}] with length {len}"));
        }
    }
    let l = lo.unwrap_or(0);
    if l < 0 {
        return err(format!("[{l}:]"));
    }
    if l > h {
        return err(format!("[{l}:{h}]"));
    }
    Ok(&s[l as usize..h as usize])
}

// ---- Sprig's own helpers ----

fn substr(a: Vec<Value>) -> R {
    let (start, end, st) = (n(&a, 0), n(&a, 1), s(&a, 2).as_bytes());
    let out = if start < 0 {
        slice_bytes(st, None, Some(end))?
    } else if end < 0 || end > st.len() as i64 {
        slice_bytes(st, Some(start), None)?
    } else {
        slice_bytes(st, Some(start), Some(end))?
    };
    string(from_bytes(out))
}

fn trunc(a: Vec<Value>) -> R {
    let (c, st) = (n(&a, 0), s(&a, 1));
    let b = st.as_bytes();
    let len = b.len() as i64;
    if c < 0 && len + c > 0 {
        return string(from_bytes(&b[(len + c) as usize..]));
    }
    if c >= 0 && len > c {
        return string(from_bytes(&b[..c as usize]));
    }
    string(st)
}

/// goutils' `AbbreviateFull` (its errors make Sprig return `""`).
fn abbreviate_full(s: &[u8], offset: i64, max_width: i64) -> Option<Vec<u8>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    if max_width < 4 {
        return None;
    }
    let len = s.len() as i64;
    if len <= max_width {
        return Some(s.to_vec());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    let marker = b"...";
    if offset <= 4 {
        let mut out = s[..(max_width - 3) as usize].to_vec();
        out.extend_from_slice(marker);
        return Some(out);
    }
    if max_width < 7 {
        return None;
    }
    let mut out = marker.to_vec();
    if offset + max_width - 3 < len {
        out.extend(abbreviate_full(&s[offset as usize..], 0, max_width - 3).unwrap_or_default());
    } else {
        out.extend_from_slice(&s[(len - (max_width - 3)) as usize..]);
    }
    Some(out)
}

fn abbrev(a: Vec<Value>) -> R {
    let (width, st) = (n(&a, 0), s(&a, 1));
    if width < 4 {
        return string(st);
    }
    string(from_bytes(
        &abbreviate_full(st.as_bytes(), 0, width).unwrap_or_default(),
    ))
}

fn abbrevboth(a: Vec<Value>) -> R {
    let (left, right, st) = (n(&a, 0), n(&a, 1), s(&a, 2));
    if right < 4 || left > 0 && right < 7 {
        return string(st);
    }
    string(from_bytes(
        &abbreviate_full(st.as_bytes(), left, right).unwrap_or_default(),
    ))
}

/// goutils' `Initials`: the first byte of every whitespace-separated word.
fn initials(st: &str) -> String {
    let mut out = String::new();
    let mut last_was_gap = true;
    for &b in st.as_bytes() {
        if byte_is_space(b) {
            last_was_gap = true;
        } else if last_was_gap {
            out.push(b as char);
            last_was_gap = false;
        }
    }
    out
}

/// goutils' `DeleteWhiteSpace` (byte-wise: other bytes are written back as runes).
fn nospace(st: &str) -> String {
    if !st.bytes().any(byte_is_space) {
        return st.to_string();
    }
    st.bytes()
        .filter(|b| !byte_is_space(*b))
        .map(|b| b as char)
        .collect()
}

/// goutils' `Uncapitalize`: lower-cases the first rune of every whitespace-separated word.
fn untitle(st: &str) -> String {
    let mut next = true;
    st.chars()
        .map(|c| {
            if is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                to_lower(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils' `SwapCase`.
fn swapcase(st: &str) -> String {
    let mut whitespace = true;
    st.chars()
        .map(|c| {
            if is_upper(c) || is_title(c) {
                whitespace = false;
                to_lower(c)
            } else if is_lower(c) {
                if whitespace {
                    whitespace = false;
                    to_title(c)
                } else {
                    to_upper(c)
                }
            } else {
                whitespace = is_space(c);
                c
            }
        })
        .collect()
}

/// goutils' `WrapCustom` (byte offsets, words separated by ASCII spaces).
fn wrap_custom(st: &str, wrap_length: i64, new_line: &str, wrap_long_words: bool) -> String {
    if st.is_empty() {
        return String::new();
    }
    let new_line = if new_line.is_empty() { "\n" } else { new_line };
    let wrap = wrap_length.max(1) as u64;
    let b = st.as_bytes();
    let len = b.len() as u64;
    let mut offset: u64 = 0;
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    while len - offset > wrap {
        let o = offset as usize;
        if b[o] == b' ' {
            offset += 1;
            continue;
        }
        let end = (wrap + offset + 1) as usize;
        let space = b[o..end].iter().rposition(|&c| c == b' ');
        if let Some(sp) = space {
            out.extend_from_slice(&b[o..o + sp]);
            out.extend_from_slice(new_line.as_bytes());
            offset += sp as u64 + 1;
        } else if wrap_long_words {
            let end = (wrap + offset) as usize;
            out.extend_from_slice(&b[o..end]);
            out.extend_from_slice(new_line.as_bytes());
            offset += wrap;
        } else {
            let end = (wrap + offset) as usize;
            match b[end..].iter().position(|&c| c == b' ') {
                None => {
                    out.extend_from_slice(&b[o..]);
                    offset = len;
                }
                Some(i) => {
                    let sp = i + end;
                    out.extend_from_slice(&b[o..sp]);
                    out.extend_from_slice(new_line.as_bytes());
                    offset = sp as u64 + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[offset as usize..]);
    from_bytes(&out)
}

/// Sprig's `indent` (`nindent`: after a newline, `lead`): `pad + strings.Replace(v, "\n",
/// "\n" + pad)`, written once into a buffer of the final size.
fn indent(lead: &str, spaces: i64, v: &str) -> Result<String, FuncError> {
    let pad = repeat(" ", spaces)?;
    let lines = 1 + v.bytes().filter(|&b| b == b'\n').count();
    let mut out = String::with_capacity(lead.len() + v.len() + pad.len() * lines);
    out.push_str(lead);
    for (i, line) in v.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    Ok(out)
}

// ---- xstrings ----

fn is_connector(r: char) -> bool {
    r == '-' || r == '_' || is_space(r)
}

/// xstrings' `isAlphabet`: a letter but not a CJK ideograph.
fn is_alphabet(r: char) -> bool {
    if !is_letter(r) {
        return false;
    }
    !matches!(r as u32, 0x4E00..=0x9FCC | 0x3400..=0x4D85 | 0x20000..=0x2B81D)
}

/// xstrings' `ToPascalCase` (Sprig's `camelcase`).
fn pascal_case(st: &str) -> String {
    let mut out = String::with_capacity(st.len());
    let mut chars = st.chars().peekable();
    let mut r0 = '\0';
    let mut have = false;
    let mut first_upper = false;
    // Leading connectors are kept.
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = is_upper(c);
            r0 = to_upper(c);
            have = true;
            break;
        }
        out.push(c);
    }
    if !have {
        // Go writes the last rune once more (a quirk of its loop).
        if let Some(last) = st.chars().next_back() {
            out.push(last);
        }
        return out;
    }
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = to_lower(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextWord`: the type and text of the next word, and the rest.
fn next_word(st: &str) -> (Word, &str, &str) {
    let mut it = st.char_indices();
    let Some((_, r)) = it.next() else {
        return (Word::Invalid, "", "");
    };
    let take_while = |from: usize, f: &dyn Fn(char) -> bool| -> usize {
        st[from..]
            .char_indices()
            .find(|&(_, c)| !f(c))
            .map_or(st.len(), |(i, _)| from + i)
    };
    let first = r.len_utf8();
    let (wt, end) = if is_connector(r) {
        (Word::Connector, take_while(first, &is_connector))
    } else if is_punct(r) {
        (Word::Punct, take_while(first, &is_punct))
    } else if is_upper(r) {
        match st[first..].chars().next() {
            None => (Word::Upper, first),
            Some(r2) if is_upper(r2) => {
                let end = take_while(first, &is_upper);
                // "HTTPStatus" splits into "HTTP" and "Status".
                match st[end..].chars().next() {
                    Some(next) if is_alphabet(next) => {
                        let last = st[..end].chars().next_back().map_or(0, char::len_utf8);
                        (Word::Upper, end - last)
                    }
                    _ => (Word::Upper, end),
                }
            }
            Some(r2) if is_alphabet(r2) => (
                Word::Upper,
                take_while(first, &|c| is_alphabet(c) && !is_upper(c)),
            ),
            Some(_) => (Word::Upper, first),
        }
    } else if is_alphabet(r) {
        (
            Word::Alphabet,
            take_while(first, &|c| is_alphabet(c) && !is_upper(c)),
        )
    } else if is_number(r) {
        (Word::Number, take_while(first, &is_number))
    } else {
        (
            Word::Other,
            take_while(first, &|c| {
                !(is_connector(c) || is_alphabet(c) || is_number(c) || is_punct(c))
            }),
        )
    };
    (wt, &st[..end], &st[end..])
}

/// xstrings' `toLower`: upper-case and connector words are lowered (connectors replaced).
fn lower_word(out: &mut String, wt: Word, word: &str, connector: char) {
    if wt != Word::Upper && wt != Word::Connector {
        out.push_str(word);
        return;
    }
    for r in word.chars() {
        if is_connector(r) {
            out.push(connector);
        } else if is_upper(r) {
            out.push(to_lower(r));
        } else {
            out.push(r);
        }
    }
}

/// xstrings' `camelCaseToLowerCase` (`snakecase`, `kebabcase`).
fn camel_to_lower(st: &str, connector: char) -> String {
    if st.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(st.len() + 4);
    let (mut wt, mut word, mut remaining) = next_word(st);
    while !remaining.is_empty() {
        if wt != Word::Connector {
            lower_word(&mut out, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, remaining) = next_word(remaining);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    lower_word(&mut out, wt, word, connector);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    out.push(connector);
                }
            }
            Word::Connector => lower_word(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if remaining.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, remaining) = next_word(remaining);
                // A number followed by a non-letter belongs to the previous word.
                if wt != Word::Alphabet {
                    lower_word(&mut out, Word::Number, last, connector);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                // Letters after a number: the number starts a new word.
                out.push(connector);
                lower_word(&mut out, Word::Number, last, connector);
                while wt == Word::Alphabet || wt == Word::Number {
                    lower_word(&mut out, wt, word, connector);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    out.push(connector);
                }
            }
        }
    }
    lower_word(&mut out, wt, word, connector);
    out
}

/// xstrings' `Shuffle`: the runes in random order.
fn shuffle(st: &str) -> String {
    use rand_core::{OsRng, RngCore};
    let mut runes: Vec<char> = st.chars().collect();
    for i in (1..runes.len()).rev() {
        let j = (OsRng.next_u64() % (i as u64 + 1)) as usize;
        runes.swap(i, j);
    }
    runes.into_iter().collect()
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    use Type::{Bool, Int, Interface as I, String as S};
    let str1 = |f: fn(&str) -> String| {
        move |_: &mut ferry_gotmpl::Ctx<'_, '_>, a: Vec<Value>| string(f(s(&a, 0)))
    };

    funcs.add("hello", Signature::new([], S), |_, _| string("Hello!"));
    funcs.add(
        "trim",
        Signature::new([S], S),
        str1(|x| x.trim().to_string()),
    );
    funcs.add(
        "upper",
        Signature::new([S], S),
        str1(|x| x.chars().map(to_upper).collect()),
    );
    funcs.add(
        "lower",
        Signature::new([S], S),
        str1(|x| x.chars().map(to_lower).collect()),
    );
    funcs.add("title", Signature::new([S], S), str1(title));
    funcs.add("untitle", Signature::new([S], S), str1(untitle));
    funcs.add("substr", Signature::new([Int, Int, S], S), |_, a| substr(a));
    funcs.add("repeat", Signature::new([Int, S], S), |_, a| {
        Ok(Value::string(repeat(s(&a, 1), n(&a, 0))?))
    });
    for name in ["trimall", "trimAll"] {
        funcs.add(name, Signature::new([S, S], S), |_, a| {
            let set = s(&a, 0);
            string(s(&a, 1).trim_matches(|c| set.contains(c)))
        });
    }
    funcs.add("trimSuffix", Signature::new([S, S], S), |_, a| {
        let (suf, st) = (s(&a, 0), s(&a, 1));
        string(st.strip_suffix(suf).unwrap_or(st))
    });
    funcs.add("trimPrefix", Signature::new([S, S], S), |_, a| {
        let (pre, st) = (s(&a, 0), s(&a, 1));
        string(st.strip_prefix(pre).unwrap_or(st))
    });
    funcs.add("nospace", Signature::new([S], S), str1(nospace));
    funcs.add("initials", Signature::new([S], S), str1(initials));
    funcs.add("swapcase", Signature::new([S], S), str1(swapcase));
    funcs.add("shuffle", Signature::new([S], S), str1(shuffle));
    funcs.add(
        "snakecase",
        Signature::new([S], S),
        str1(|x| camel_to_lower(x, '_')),
    );
    funcs.add("camelcase", Signature::new([S], S), str1(pascal_case));
    funcs.add(
        "kebabcase",
        Signature::new([S], S),
        str1(|x| camel_to_lower(x, '-')),
    );
    funcs.add("wrap", Signature::new([Int, S], S), |_, a| {
        string(wrap_custom(s(&a, 1), n(&a, 0), "", false))
    });
    funcs.add("wrapWith", Signature::new([Int, S, S], S), |_, a| {
        string(wrap_custom(s(&a, 2), n(&a, 0), s(&a, 1), true))
    });
    funcs.add("contains", Signature::new([S, S], Bool), |_, a| {
        Ok(Value::Bool(s(&a, 1).contains(s(&a, 0))))
    });
    funcs.add("hasPrefix", Signature::new([S, S], Bool), |_, a| {
        Ok(Value::Bool(s(&a, 1).starts_with(s(&a, 0))))
    });
    funcs.add("hasSuffix", Signature::new([S, S], Bool), |_, a| {
        Ok(Value::Bool(s(&a, 1).ends_with(s(&a, 0))))
    });
    funcs.add("quote", Signature::variadic([], I, S), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| ferry_gotmpl::gofmt::quote(&strval(v)))
            .collect();
        string(parts.join(" "))
    });
    funcs.add("squote", Signature::variadic([], I, S), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", v.to_go_string()))
            .collect();
        string(parts.join(" "))
    });
    funcs.add("cat", Signature::variadic([], I, S), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(Value::to_go_string)
            .collect();
        string(parts.join(" "))
    });
    funcs.add("indent", Signature::new([Int, S], S), |_, a| {
        string(indent("", n(&a, 0), s(&a, 1))?)
    });
    funcs.add("nindent", Signature::new([Int, S], S), |_, a| {
        string(indent("\n", n(&a, 0), s(&a, 1))?)
    });
    funcs.add("replace", Signature::new([S, S, S], S), |_, a| {
        string(s(&a, 2).replace(s(&a, 0), s(&a, 1)))
    });
    funcs.add("plural", Signature::new([S, S, Int], S), |_, a| {
        string(if n(&a, 2) == 1 { s(&a, 0) } else { s(&a, 1) })
    });
    funcs.add("trunc", Signature::new([Int, S], S), |_, a| trunc(a));
    funcs.add("abbrev", Signature::new([Int, S], S), |_, a| abbrev(a));
    funcs.add("abbrevboth", Signature::new([Int, Int, S], S), |_, a| {
        abbrevboth(a)
    });

    // String lists.
    funcs.add(
        "split",
        Signature::new([S, S], Type::Map(Box::new(S))),
        |_, a| Ok(index_map(go_split(s(&a, 1), s(&a, 0), -1))),
    );
    funcs.add(
        "splitn",
        Signature::new([S, Int, S], Type::Map(Box::new(S))),
        |_, a| Ok(index_map(go_split(s(&a, 2), s(&a, 0), n(&a, 1)))),
    );
    funcs.add(
        "splitList",
        Signature::new([S, S], Type::Slice(Box::new(S))),
        |_, a| Ok(string_list(go_split(s(&a, 1), s(&a, 0), -1))),
    );
    funcs.add("join", Signature::new([S, I], S), |_, a| {
        string(strslice(&a[1]).join(s(&a, 0)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indent_is_sprigs_replace() {
        // Sprig: pad + strings.Replace(v, "\n", "\n"+pad, -1); nindent puts "\n" first
        for v in [
            "",
            "a",
            "a\nb",
            "\n",
            "a\n\nb\n",
            "\r\n x \n",
            "é\n\u{2028}\n",
        ] {
            for spaces in [0, 1, 4] {
                let pad = " ".repeat(spaces as usize);
                let want = format!("{pad}{}", v.replace('\n', &format!("\n{pad}")));
                assert_eq!(indent("", spaces, v).unwrap(), want, "{v:?} {spaces}");
                assert_eq!(indent("\n", spaces, v).unwrap(), format!("\n{want}"));
            }
        }
        assert!(indent("", -1, "a").is_err());
    }

    #[test]
    fn case_conversions_follow_xstrings() {
        assert_eq!(camel_to_lower("HTTPServer", '_'), "http_server");
        assert_eq!(camel_to_lower("NoHTTPS", '_'), "no_https");
        assert_eq!(camel_to_lower("GO_PATH", '_'), "go_path");
        assert_eq!(camel_to_lower("http2xx", '_'), "http_2xx");
        assert_eq!(camel_to_lower("HTTP20xOK", '_'), "http_20x_ok");
        assert_eq!(camel_to_lower("Duration2m3s", '_'), "duration_2m3s");
        assert_eq!(camel_to_lower("Bld4Floor3rd", '_'), "bld4_floor_3rd");
        assert_eq!(pascal_case("_complex__case_"), "_Complex_Case_");
        assert_eq!(pascal_case("GOLANG_IS_GREAT"), "GolangIsGreat");
        assert_eq!(pascal_case("no_https"), "NoHttps");
        assert_eq!(pascal_case("x"), "X");
        assert_eq!(pascal_case("__"), "___");
        assert_eq!(pascal_case(""), "");
    }

    #[test]
    fn go_string_helpers() {
        assert_eq!(go_split("a,b,c", ",", 2), vec!["a", "b,c"]);
        assert_eq!(go_split("abc", "", -1), vec!["a", "b", "c"]);
        assert_eq!(go_split("abc", "", 2), vec!["a", "bc"]);
        assert!(go_split("", "", -1).is_empty());
        assert_eq!(title("ǆa b"), "ǅa B");
        assert_eq!(wrap_custom("abcdefgh ij", 3, "", false), "abcdefgh\nij");
        assert_eq!(wrap_custom("abcdefgh", 3, "-", true), "abc-def-gh");
        assert_eq!(nospace("é x"), "Ã©x");
        assert_eq!(initials("é x"), "Ãx");
        assert_eq!(to_upper('ß'), 'ß');
        assert_eq!(to_upper('\u{1F80}'), '\u{1F88}');
        assert_eq!(to_lower('İ'), 'i');
    }
}
