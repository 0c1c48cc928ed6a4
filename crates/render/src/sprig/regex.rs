//! Sprig's regex functions (`regex.go`) with Go's `regexp` semantics: RE2 syntax as Go
//! parses it (Go's error messages, ASCII `\d`/`\w`/`\s`/`\b`, Go's Unicode class names,
//! `$name` expansion) and Go's rules for successive and empty matches.
//!
//! A Go pattern is checked and translated to an equivalent pattern for the `regex` crate
//! by a port of Go's `regexp/syntax` parser loop. Every translated piece carries its own
//! flags, so Go's flag scoping never depends on the other engine's.

use std::sync::{Arc, Mutex};

use ferry_gotmpl::{FuncError, Funcs, Signature, Type, Value};
use regex::Regex;

use super::strings::string_list;

/// A compiled Go regular expression.
pub(crate) struct GoRegex {
    re: Regex,
    /// Capture group names by group index (index 0 is the whole match).
    names: Vec<Option<String>>,
    /// Whether the source pattern was empty (Go's `Split` looks at it).
    empty_expr: bool,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    fold: bool,
    multi_line: bool,
    dot_nl: bool,
    non_greedy: bool,
}

/// Counted repetitions nested in an expression, for Go's repeat-size check: the count Go
/// checks (`max`, or `min` when unbounded) and whether `max` is 0 (nothing inside counts).
#[derive(Clone, Debug)]
struct Rep {
    m: i64,
    zero_max: bool,
    subs: Vec<Rep>,
}

/// Go's `repeatIsValid`.
fn reps_valid(reps: &[Rep], n: i64) -> bool {
    reps.iter().all(|r| {
        if r.zero_max {
            return true;
        }
        if r.m > n {
            return false;
        }
        let n = if r.m > 0 { n / r.m } else { n };
        reps_valid(&r.subs, n)
    })
}

struct Atom {
    text: String,
    reps: Vec<Rep>,
}

struct Frame {
    cap: Option<usize>,
    saved: Flags,
    alts: Vec<String>,
    alt_reps: Vec<Rep>,
    cur: Vec<Atom>,
}

impl Frame {
    fn new(cap: Option<usize>, saved: Flags) -> Frame {
        Frame {
            cap,
            saved,
            alts: Vec::new(),
            alt_reps: Vec::new(),
            cur: Vec::new(),
        }
    }

    fn end_alt(&mut self) {
        let mut text = String::new();
        for a in self.cur.drain(..) {
            text.push_str(&a.text);
            self.alt_reps.extend(a.reps);
        }
        self.alts.push(text);
    }
}

fn perr(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

const MISSING_BRACKET: &str = "missing closing ]";
const INVALID_RANGE: &str = "invalid character class range";
const INVALID_ESCAPE: &str = "invalid escape sequence";

/// Go's canonicalName for Unicode class names.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut first = true;
    for c in name.chars() {
        match c {
            '_' | '-' | ' ' => {}
            c if first => {
                out.push(c.to_ascii_uppercase());
                first = false;
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Cn", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm",
    "So", "Z", "Zl", "Zp", "Zs",
];

/// Unicode scripts whose names are a single word (Go looks scripts up by their canonical
/// name, so only these are found).
const SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Carian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dogra",
    "Duployan",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Inherited",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kharoshthi",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Medefaidrin",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nandinagari",
    "Newa",
    "Nko",
    "Nushu",
    "Ogham",
    "Oriya",
    "Osage",
    "Osmanya",
    "Palmyrene",
    "Phoenician",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "Sinhala",
    "Sogdian",
    "Soyombo",
    "Sundanese",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Yezidi",
    "Yi",
];

/// Unicode's long names (and short aliases) of general categories, canonicalized.
const CATEGORY_ALIASES: &[(&str, &str)] = &[
    ("Casedletter", "LC"),
    ("Closepunctuation", "Pe"),
    ("Combiningmark", "M"),
    ("Connectorpunctuation", "Pc"),
    ("Control", "Cc"),
    ("Cntrl", "Cc"),
    ("Currencysymbol", "Sc"),
    ("Dashpunctuation", "Pd"),
    ("Decimalnumber", "Nd"),
    ("Digit", "Nd"),
    ("Enclosingmark", "Me"),
    ("Finalpunctuation", "Pf"),
    ("Format", "Cf"),
    ("Initialpunctuation", "Pi"),
    ("Letter", "L"),
    ("Letternumber", "Nl"),
    ("Lineseparator", "Zl"),
    ("Lowercaseletter", "Ll"),
    ("Mark", "M"),
    ("Mathsymbol", "Sm"),
    ("Modifierletter", "Lm"),
    ("Modifiersymbol", "Sk"),
    ("Nonspacingmark", "Mn"),
    ("Number", "N"),
    ("Openpunctuation", "Ps"),
    ("Other", "C"),
    ("Otherletter", "Lo"),
    ("Othernumber", "No"),
    ("Otherpunctuation", "Po"),
    ("Othersymbol", "So"),
    ("Paragraphseparator", "Zp"),
    ("Privateuse", "Co"),
    ("Punctuation", "P"),
    ("Punct", "P"),
    ("Separator", "Z"),
    ("Spaceseparator", "Zs"),
    ("Spacingmark", "Mc"),
    ("Surrogate", "Cs"),
    ("Symbol", "S"),
    ("Titlecaseletter", "Lt"),
    ("Unassigned", "Cn"),
    ("Uppercaseletter", "Lu"),
];

/// Go's `unicodeTable`: the `regex` crate's name for a Go class name.
fn unicode_table(name: &str) -> Option<String> {
    let c = canonical_name(name);
    match c.as_str() {
        "Any" => return Some("Any".into()),
        "Assigned" => return Some("Assigned".into()),
        "Ascii" => return Some("ASCII".into()),
        "Lc" => return Some("LC".into()),
        _ => {}
    }
    if CATEGORIES.contains(&c.as_str()) || SCRIPTS.contains(&c.as_str()) {
        return Some(c);
    }
    CATEGORY_ALIASES
        .iter()
        .find(|(a, _)| *a == c)
        .map(|(_, t)| t.to_string())
}

/// Go's Perl classes (ASCII).
fn perl_class(c: char) -> Option<(&'static str, bool)> {
    Some(match c {
        'd' => ("0-9", false),
        'D' => ("0-9", true),
        's' => (r"\t\n\x0C\r ", false),
        'S' => (r"\t\n\x0C\r ", true),
        'w' => ("0-9A-Za-z_", false),
        'W' => ("0-9A-Za-z_", true),
        _ => return None,
    })
}

const POSIX: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

fn hex_char(c: char) -> String {
    format!("\\x{{{:X}}}", c as u32)
}

struct Parser<'a> {
    whole: &'a str,
    flags: Flags,
    stack: Vec<Frame>,
    names: Vec<Option<String>>,
}

/// Wraps a piece in the case-folding flag when it is on.
fn fold(text: String, f: Flags) -> String {
    if f.fold { format!("(?i:{text})") } else { text }
}

impl<'a> Parser<'a> {
    fn frame(&mut self) -> &mut Frame {
        self.stack
            .last_mut()
            .expect("the top frame is never popped")
    }

    fn push(&mut self, text: String) {
        self.frame().cur.push(Atom {
            text,
            reps: Vec::new(),
        });
    }

    fn literal(&mut self, c: char) {
        let text = fold(regex::escape(c.encode_utf8(&mut [0u8; 4])), self.flags);
        self.push(text);
    }

    /// Go's `parseEscape`: one escaped rune.
    fn parse_escape(&self, s: &'a str) -> Result<(char, &'a str), String> {
        let t = &s[1..];
        let mut it = t.chars();
        let Some(c) = it.next() else {
            return Err(perr("trailing backslash at end of expression", ""));
        };
        let mut t = it.as_str();
        let bad = |t: &str| Err(perr(INVALID_ESCAPE, &s[..s.len() - t.len()]));
        match c {
            '1'..='7' if !t.starts_with(|d: char| ('0'..='7').contains(&d)) => return bad(t),
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    match t.chars().next() {
                        Some(d @ '0'..='7') => {
                            r = r * 8 + (d as u32 - '0' as u32);
                            t = &t[1..];
                        }
                        _ => break,
                    }
                }
                return Ok((char::from_u32(r).unwrap_or('\u{FFFD}'), t));
            }
            'x' => {
                let mut it = t.chars();
                let Some(c) = it.next() else {
                    return bad(t);
                };
                t = it.as_str();
                if c == '{' {
                    let mut r: u32 = 0;
                    let mut nhex = 0;
                    loop {
                        let mut it = t.chars();
                        let Some(c) = it.next() else {
                            return bad(t);
                        };
                        t = it.as_str();
                        if c == '}' {
                            break;
                        }
                        let Some(v) = c.to_digit(16) else {
                            return bad(t);
                        };
                        r = r * 16 + v;
                        if r > 0x10FFFF {
                            return bad(t);
                        }
                        nhex += 1;
                    }
                    if nhex == 0 {
                        return bad(t);
                    }
                    return Ok((char::from_u32(r).unwrap_or('\u{FFFD}'), t));
                }
                let x = c.to_digit(16);
                let mut it = t.chars();
                let y = it.next().and_then(|c| c.to_digit(16));
                t = it.as_str();
                return match (x, y) {
                    (Some(x), Some(y)) => Ok((char::from_u32(x * 16 + y).unwrap_or('\0'), t)),
                    _ => bad(t),
                };
            }
            'a' => return Ok(('\u{7}', t)),
            'f' => return Ok(('\u{C}', t)),
            'n' => return Ok(('\n', t)),
            'r' => return Ok(('\r', t)),
            't' => return Ok(('\t', t)),
            'v' => return Ok(('\u{B}', t)),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => return Ok((c, t)),
            _ => {}
        }
        bad(t)
    }

    /// Go's `parseUnicodeClass`: `\pX`, `\p{Name}`, `\PX`, `\p{^Name}`.
    fn parse_unicode_class(&self, s: &'a str) -> Result<Option<(String, &'a str)>, String> {
        if !(s.starts_with("\\p") || s.starts_with("\\P")) {
            return Ok(None);
        }
        let mut negate = s.as_bytes()[1] == b'P';
        let t = &s[2..];
        let (seq, name, rest) = match t.chars().next() {
            Some('{') => {
                let Some(end) = s.find('}') else {
                    return Err(perr(INVALID_RANGE, s));
                };
                (&s[..end + 1], &s[3..end], &s[end + 1..])
            }
            Some(c) => {
                let n = 2 + c.len_utf8();
                (&s[..n], &s[2..n], &s[n..])
            }
            None => (&s[..2], "", ""),
        };
        let name = match name.strip_prefix('^') {
            Some(n) => {
                negate = !negate;
                n
            }
            None => name,
        };
        let Some(table) = unicode_table(name) else {
            return Err(perr(INVALID_RANGE, seq));
        };
        let p = if negate { 'P' } else { 'p' };
        Ok(Some((format!("\\{p}{{{table}}}"), rest)))
    }

    /// Go's `parseClass`: `[...]`.
    fn parse_class(&mut self, s: &'a str) -> Result<&'a str, String> {
        let mut t = &s[1..];
        let mut out = String::from("[");
        if let Some(rest) = t.strip_prefix('^') {
            out.push('^');
            t = rest;
        }
        let mut first = true;
        while t.is_empty() || !t.starts_with(']') || first {
            first = false;
            if t.is_empty() {
                return Err(perr(MISSING_BRACKET, s));
            }
            // POSIX classes: [:alpha:], [:^alpha:].
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(i) = t[2..].find(":]")
            {
                let name = &t[..i + 4];
                let inner = &name[2..name.len() - 2];
                let base = inner.strip_prefix('^').unwrap_or(inner);
                if !POSIX.contains(&base) {
                    return Err(perr(INVALID_RANGE, name));
                }
                out.push_str(name);
                t = &t[i + 4..];
                continue;
            }
            if let Some((cls, rest)) = self.parse_unicode_class(t)? {
                out.push_str(&cls);
                t = rest;
                continue;
            }
            if t.len() >= 2
                && t.starts_with('\\')
                && let Some((set, neg)) = perl_class(t[1..].chars().next().unwrap_or('\0'))
            {
                out.push_str(&format!("[{}{set}]", if neg { "^" } else { "" }));
                t = &t[2..];
                continue;
            }
            let rng = t;
            let (lo, rest) = self.class_char(t, s)?;
            t = rest;
            let mut hi = lo;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (h, rest) = self.class_char(&t[1..], s)?;
                t = rest;
                hi = h;
                if hi < lo {
                    return Err(perr(INVALID_RANGE, &rng[..rng.len() - t.len()]));
                }
            }
            out.push_str(&hex_char(lo));
            if hi != lo {
                out.push('-');
                out.push_str(&hex_char(hi));
            }
        }
        out.push(']');
        let text = fold(out, self.flags);
        self.push(text);
        Ok(&t[1..])
    }

    fn class_char(&self, t: &'a str, whole_class: &str) -> Result<(char, &'a str), String> {
        if t.is_empty() {
            return Err(perr(MISSING_BRACKET, whole_class));
        }
        if t.starts_with('\\') {
            return self.parse_escape(t);
        }
        let c = t.chars().next().unwrap_or('\0');
        Ok((c, &t[c.len_utf8()..]))
    }

    /// Go's `parsePerlFlags`: `(?flags)`, `(?flags:`, `(?P<name>`, `(?<name>`.
    fn parse_perl_flags(&mut self, s: &'a str) -> Result<&'a str, String> {
        let starts_p = s.len() > 4 && s.as_bytes()[2] == b'P' && s.as_bytes()[3] == b'<';
        let starts_name = s.len() > 3 && s.as_bytes()[2] == b'<';
        if starts_p || starts_name {
            let start = if starts_name { 3 } else { 4 };
            let Some(end) = s.find('>') else {
                return Err(perr("invalid named capture", s));
            };
            let capture = &s[..end + 1];
            let name = &s[start..end];
            if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
                return Err(perr("invalid named capture", capture));
            }
            self.names.push(Some(name.to_string()));
            let cap = self.names.len() - 1;
            let saved = self.flags;
            self.stack.push(Frame::new(Some(cap), saved));
            return Ok(&s[end + 1..]);
        }
        let mut t = &s[2..];
        let mut flags = self.flags;
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = t.chars().next() {
            t = &t[c.len_utf8()..];
            let on = !negated;
            match c {
                'i' => {
                    flags.fold = on;
                    saw_flag = true;
                }
                'm' => {
                    flags.multi_line = on;
                    saw_flag = true;
                }
                's' => {
                    flags.dot_nl = on;
                    saw_flag = true;
                }
                'U' => {
                    flags.non_greedy = on;
                    saw_flag = true;
                }
                '-' => {
                    if negated {
                        break;
                    }
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    if c == ':' {
                        let saved = self.flags;
                        self.stack.push(Frame::new(None, saved));
                    }
                    self.flags = flags;
                    return Ok(t);
                }
                _ => break,
            }
        }
        Err(perr(
            "invalid or unsupported Perl syntax",
            &s[..s.len() - t.len()],
        ))
    }

    /// Go's `parseRepeat`: `{n}`, `{n,}`, `{n,m}`; `None` when not of that form (a literal
    /// `{`); a min of -1 when a number is too big.
    fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
        fn int(s: &str) -> Option<(i64, &str)> {
            let digits = s.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || (digits >= 2 && s.starts_with('0')) {
                return None;
            }
            let mut n: i64 = 0;
            for b in s[..digits].bytes() {
                if n >= 100_000_000 {
                    n = -1;
                    break;
                }
                n = n * 10 + i64::from(b - b'0');
            }
            Some((n, &s[digits..]))
        }
        let s = s.strip_prefix('{')?;
        let (mut min, s) = int(s)?;
        let (max, s) = if let Some(s) = s.strip_prefix(',') {
            if s.starts_with('}') {
                (-1, s)
            } else {
                let (max, s) = int(s)?;
                if max < 0 {
                    min = -1;
                }
                (max, s)
            }
        } else {
            (min, s)
        };
        let rest = s.strip_prefix('}')?;
        Some((min, max, rest))
    }

    /// Go's `repeat`: applies an operator to the last atom.
    fn repeat(
        &mut self,
        op: String,
        counted: Option<(i64, i64)>,
        before: &'a str,
        mut after: &'a str,
        last_repeat: &'a str,
    ) -> Result<&'a str, String> {
        let mut lazy = self.flags.non_greedy;
        if let Some(rest) = after.strip_prefix('?') {
            after = rest;
            lazy = !lazy;
        }
        if !last_repeat.is_empty() {
            return Err(perr(
                "invalid nested repetition operator",
                &last_repeat[..last_repeat.len() - after.len()],
            ));
        }
        let text = &before[..before.len() - after.len()];
        let Some(atom) = self.frame().cur.pop() else {
            return Err(perr("missing argument to repetition operator", text));
        };
        let reps = match counted {
            Some((min, max)) => vec![Rep {
                m: if max < 0 { min } else { max },
                zero_max: max == 0,
                subs: atom.reps,
            }],
            None => atom.reps,
        };
        // Go checks nested sizes when min or max is at least 2.
        let check = counted.is_some_and(|(min, max)| min >= 2 || max >= 2);
        if check && !reps_valid(&reps, 1000) {
            return Err(perr("invalid repeat count", text));
        }
        let lazy = if lazy { "?" } else { "" };
        self.frame().cur.push(Atom {
            text: format!("(?:{}){op}{lazy}", atom.text),
            reps,
        });
        Ok(after)
    }

    fn close_group(&mut self) -> Result<(), String> {
        if self.stack.len() < 2 {
            return Err(perr("unexpected )", self.whole));
        }
        let mut f = self.stack.pop().expect("checked above");
        f.end_alt();
        self.flags = f.saved;
        let body = f.alts.join("|");
        let text = match f.cap {
            Some(_) => format!("({body})"),
            None => format!("(?:{body})"),
        };
        self.frame().cur.push(Atom {
            text,
            reps: f.alt_reps,
        });
        Ok(())
    }

    fn parse(mut self) -> Result<GoRegex, String> {
        let mut t: &'a str = self.whole;
        let mut last_repeat: &'a str = "";
        while let Some(c) = t.chars().next() {
            let mut repeat: &'a str = "";
            match c {
                '(' => {
                    if t.starts_with("(?") {
                        t = self.parse_perl_flags(t)?;
                    } else {
                        self.names.push(None);
                        let cap = self.names.len() - 1;
                        let saved = self.flags;
                        self.stack.push(Frame::new(Some(cap), saved));
                        t = &t[1..];
                    }
                }
                '|' => {
                    self.frame().end_alt();
                    t = &t[1..];
                }
                ')' => {
                    self.close_group()?;
                    t = &t[1..];
                }
                '^' => {
                    let text = if self.flags.multi_line {
                        "(?m:^)"
                    } else {
                        r"\A"
                    };
                    self.push(text.into());
                    t = &t[1..];
                }
                '$' => {
                    let text = if self.flags.multi_line {
                        "(?m:$)"
                    } else {
                        r"\z"
                    };
                    self.push(text.into());
                    t = &t[1..];
                }
                '.' => {
                    let text = if self.flags.dot_nl { "(?s:.)" } else { "." };
                    self.push(text.into());
                    t = &t[1..];
                }
                '[' => t = self.parse_class(t)?,
                '*' | '+' | '?' => {
                    let before = t;
                    t = self.repeat(c.to_string(), None, before, &t[1..], last_repeat)?;
                    repeat = before;
                }
                '{' => match Self::parse_repeat(t) {
                    None => {
                        self.literal('{');
                        t = &t[1..];
                    }
                    Some((min, max, after)) => {
                        let before = t;
                        if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                            return Err(perr(
                                "invalid repeat count",
                                &before[..before.len() - after.len()],
                            ));
                        }
                        let op = if max < 0 {
                            format!("{{{min},}}")
                        } else {
                            format!("{{{min},{max}}}")
                        };
                        t = self.repeat(op, Some((min, max)), before, after, last_repeat)?;
                        repeat = before;
                    }
                },
                '\\' => t = self.parse_backslash(t)?,
                c => {
                    self.literal(c);
                    t = &t[c.len_utf8()..];
                }
            }
            last_repeat = repeat;
        }
        if self.stack.len() != 1 {
            return Err(perr("missing closing )", self.whole));
        }
        let mut top = self.stack.pop().expect("one frame left");
        top.end_alt();
        let pattern = top.alts.join("|");
        let re = regex::RegexBuilder::new(&pattern)
            .size_limit(1 << 28)
            .dfa_size_limit(1 << 26)
            .nest_limit(2000)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => perr("expression too large", self.whole),
                _ => perr("expression nests too deeply", self.whole),
            })?;
        Ok(GoRegex {
            re,
            names: self.names,
            empty_expr: self.whole.is_empty(),
        })
    }

    fn parse_backslash(&mut self, t: &'a str) -> Result<&'a str, String> {
        match t[1..].chars().next() {
            Some('A') => {
                self.push(r"\A".into());
                return Ok(&t[2..]);
            }
            Some('z') => {
                self.push(r"\z".into());
                return Ok(&t[2..]);
            }
            Some('b') => {
                self.push(r"(?-u:\b)".into());
                return Ok(&t[2..]);
            }
            Some('B') => {
                self.push(r"(?-u:\B)".into());
                return Ok(&t[2..]);
            }
            Some('C') => return Err(perr(INVALID_ESCAPE, &t[..2])),
            Some('Q') => {
                let body = &t[2..];
                let (lit, rest) = match body.find("\\E") {
                    Some(i) => (&body[..i], &body[i + 2..]),
                    None => (body, ""),
                };
                for c in lit.chars() {
                    self.literal(c);
                }
                return Ok(rest);
            }
            _ => {}
        }
        if let Some((cls, rest)) = self.parse_unicode_class(t)? {
            let text = fold(cls, self.flags);
            self.push(text);
            return Ok(rest);
        }
        if let Some((set, neg)) = t[1..].chars().next().and_then(perl_class) {
            let text = fold(format!("[{}{set}]", if neg { "^" } else { "" }), self.flags);
            self.push(text);
            return Ok(&t[2..]);
        }
        let (c, rest) = self.parse_escape(t)?;
        self.literal(c);
        Ok(rest)
    }
}

impl GoRegex {
    /// Go's `regexp.Compile`; the error is Go's text.
    pub(crate) fn new(expr: &str) -> Result<GoRegex, String> {
        Parser {
            whole: expr,
            flags: Flags::default(),
            stack: vec![Frame::new(None, Flags::default())],
            names: vec![None],
        }
        .parse()
    }

    /// Go's `allMatches`: successive matches (start, end of each group), at most `n` when
    /// `n >= 0`, skipping an empty match right after a previous match.
    fn all_matches(&self, s: &str, n: i64) -> Vec<Vec<Option<(usize, usize)>>> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut prev_end: Option<usize> = None;
        let mut locs = self.re.capture_locations();
        while (n < 0 || (out.len() as i64) < n) && pos <= s.len() {
            let Some(m) = self.re.captures_read_at(&mut locs, s, pos) else {
                break;
            };
            let (start, end) = (m.start(), m.end());
            let mut accept = true;
            if end == pos {
                if Some(start) == prev_end {
                    accept = false;
                }
                pos += s[pos..].chars().next().map_or(1, char::len_utf8);
            } else {
                pos = end;
            }
            prev_end = Some(end);
            if accept {
                out.push((0..locs.len()).map(|i| locs.get(i)).collect());
            }
        }
        out
    }

    /// Go's `FindString`.
    pub(crate) fn find<'s>(&self, s: &'s str) -> &'s str {
        self.re.find(s).map_or("", |m| m.as_str())
    }

    /// Go's `FindAllString`.
    pub(crate) fn find_all(&self, s: &str, n: i64) -> Vec<String> {
        if n == 0 {
            return Vec::new();
        }
        self.all_matches(s, n)
            .into_iter()
            .filter_map(|m| m[0].map(|(a, b)| s[a..b].to_string()))
            .collect()
    }

    /// Go's `Split`.
    pub(crate) fn split(&self, s: &str, n: i64) -> Vec<String> {
        if n == 0 {
            return Vec::new();
        }
        if !self.empty_expr && s.is_empty() {
            return vec![String::new()];
        }
        let mut out = Vec::new();
        let (mut beg, mut end) = (0, 0);
        for m in self.all_matches(s, n) {
            if n > 0 && out.len() as i64 == n - 1 {
                break;
            }
            let Some((a, b)) = m[0] else { continue };
            end = a;
            if b != 0 {
                out.push(s[beg..end].to_string());
            }
            beg = b;
        }
        if end != s.len() {
            out.push(s[beg..].to_string());
        }
        out
    }

    /// Go's `ReplaceAllString` (`literal`: `ReplaceAllLiteralString`).
    pub(crate) fn replace_all(&self, src: &str, repl: &str, literal: bool) -> String {
        let mut out = String::with_capacity(src.len());
        let mut last_end = 0;
        let mut search = 0;
        let mut locs = self.re.capture_locations();
        while search <= src.len() {
            let Some(m) = self.re.captures_read_at(&mut locs, src, search) else {
                break;
            };
            let (a0, a1) = (m.start(), m.end());
            out.push_str(&src[last_end..a0]);
            if a1 > last_end || a0 == 0 {
                if literal {
                    out.push_str(repl);
                } else {
                    self.expand(&mut out, repl, src, &locs);
                }
            }
            last_end = a1;
            let width = src[search..].chars().next().map_or(0, char::len_utf8);
            if search + width > a1 {
                search += width;
            } else if search + 1 > a1 {
                search += 1;
            } else {
                search = a1;
            }
        }
        out.push_str(&src[last_end..]);
        out
    }

    /// Go's `Regexp.expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`.
    fn expand(&self, out: &mut String, template: &str, src: &str, locs: &regex::CaptureLocations) {
        let group = |i: usize| locs.get(i).map_or("", |(a, b)| &src[a..b]);
        let mut t = template;
        while let Some(i) = t.find('$') {
            out.push_str(&t[..i]);
            t = &t[i..];
            if t.len() > 1 && t.as_bytes()[1] == b'$' {
                out.push('$');
                t = &t[2..];
                continue;
            }
            let Some((name, num, rest)) = extract(t) else {
                out.push('$');
                t = &t[1..];
                continue;
            };
            t = rest;
            match num {
                Some(n) => {
                    if n < locs.len() {
                        out.push_str(group(n));
                    }
                }
                None => {
                    let hit = self
                        .names
                        .iter()
                        .enumerate()
                        .find(|(i, x)| x.as_deref() == Some(name) && locs.get(*i).is_some());
                    if let Some((i, _)) = hit {
                        out.push_str(group(i));
                    }
                }
            }
        }
        out.push_str(t);
    }
}

/// Go's `extract`: the name after `$` (braced or not), its number when it is a plain
/// decimal without leading zeros, and the rest.
fn extract(s: &str) -> Option<(&str, Option<usize>, &str)> {
    let s = s.strip_prefix('$')?;
    let (brace, s) = match s.strip_prefix('{') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c == '_' || c.is_alphanumeric()))
        .map_or(s.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &s[..end];
    let mut rest = &s[end..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    let mut num: Option<usize> = Some(0);
    for b in name.bytes() {
        num = match num {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => {
                Some(n * 10 + usize::from(b - b'0'))
            }
            _ => None,
        };
    }
    if name.len() > 1 && name.starts_with('0') {
        num = None;
    }
    Some((name, num, rest))
}

/// A small cache of compiled patterns (templates call the same patterns repeatedly).
fn compile(expr: &str) -> Result<Arc<GoRegex>, String> {
    type Cache = Mutex<Vec<(String, Arc<GoRegex>)>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Ok(c) = cache.lock()
        && let Some((_, re)) = c.iter().find(|(e, _)| e == expr)
    {
        return Ok(re.clone());
    }
    let re = Arc::new(GoRegex::new(expr)?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 64 {
            c.remove(0);
        }
        c.push((expr.to_string(), re.clone()));
    }
    Ok(re)
}

/// Sprig's plain functions use `regexp.MustCompile`, whose panic Helm reports.
fn must_compile(expr: &str) -> Result<Arc<GoRegex>, FuncError> {
    compile(expr)
        .map_err(|e| FuncError::new(format!("regexp: Compile({}): {e}", go_backquote(expr))))
}

/// Go's `strconv.Quote` unless a raw string works (`regexp.quote`).
fn go_backquote(s: &str) -> String {
    let plain = |c: char| c == '\t' || !(c < ' ' || matches!(c, '\u{7f}' | '`' | '\u{FEFF}'));
    if s.chars().all(plain) {
        format!("`{s}`")
    } else {
        ferry_gotmpl::gofmt::quote(s)
    }
}

fn try_compile(expr: &str) -> Result<Arc<GoRegex>, FuncError> {
    compile(expr).map_err(FuncError::new)
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn sarg(a: &[Value], i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or_default()
}

fn iarg(a: &[Value], i: usize) -> i64 {
    match a.get(i) {
        Some(Value::Int(n) | Value::Int64(n)) => *n,
        _ => 0,
    }
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    use Type::{Bool, Int, String as S};
    let strs = || Type::Slice(Box::new(S));

    funcs.add("regexMatch", Signature::new([S, S], Bool), |_, a| {
        Ok(Value::Bool(
            compile(sarg(&a, 0)).is_ok_and(|re| re.re.is_match(sarg(&a, 1))),
        ))
    });
    funcs.add("mustRegexMatch", Signature::new([S, S], Bool), |_, a| {
        Ok(Value::Bool(
            try_compile(sarg(&a, 0))?.re.is_match(sarg(&a, 1)),
        ))
    });
    type Getter = fn(&str) -> Result<Arc<GoRegex>, FuncError>;
    for (name, get) in [
        ("regexFindAll", must_compile as Getter),
        ("mustRegexFindAll", try_compile as Getter),
    ] {
        funcs.add(name, Signature::new([S, S, Int], strs()), move |_, a| {
            Ok(string_list(
                get(sarg(&a, 0))?.find_all(sarg(&a, 1), iarg(&a, 2)),
            ))
        });
    }
    for (name, get) in [
        ("regexFind", must_compile as Getter),
        ("mustRegexFind", try_compile as Getter),
    ] {
        funcs.add(name, Signature::new([S, S], S), move |_, a| {
            Ok(Value::string(get(sarg(&a, 0))?.find(sarg(&a, 1))))
        });
    }
    for (name, get, literal) in [
        ("regexReplaceAll", must_compile as Getter, false),
        ("mustRegexReplaceAll", try_compile as Getter, false),
        ("regexReplaceAllLiteral", must_compile as Getter, true),
        ("mustRegexReplaceAllLiteral", try_compile as Getter, true),
    ] {
        funcs.add(name, Signature::new([S, S, S], S), move |_, a| {
            let re = get(sarg(&a, 0))?;
            Ok(Value::string(re.replace_all(
                sarg(&a, 1),
                sarg(&a, 2),
                literal,
            )))
        });
    }
    for (name, get) in [
        ("regexSplit", must_compile as Getter),
        ("mustRegexSplit", try_compile as Getter),
    ] {
        funcs.add(name, Signature::new([S, S, Int], strs()), move |_, a| {
            Ok(string_list(
                get(sarg(&a, 0))?.split(sarg(&a, 1), iarg(&a, 2)),
            ))
        });
    }
    funcs.add("regexQuoteMeta", Signature::new([S], S), |_, a| {
        Ok(Value::string(quote_meta(sarg(&a, 0))))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(p: &str) -> String {
        GoRegex::new(p).err().unwrap_or_default()
    }

    #[test]
    fn go_syntax_errors() {
        assert_eq!(
            err("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(
            err("*"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
        assert_eq!(
            err("(?i)*?"),
            "error parsing regexp: missing argument to repetition operator: `*?`"
        );
        assert_eq!(
            err("a{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(
            err("(a{100}){100}"),
            "error parsing regexp: invalid repeat count: `{100}`"
        );
        assert_eq!(err(")"), "error parsing regexp: unexpected ): `)`");
        assert_eq!(err("a(b"), "error parsing regexp: missing closing ): `a(b`");
        assert_eq!(err("x[b"), "error parsing regexp: missing closing ]: `[b`");
        assert_eq!(
            err("[z-a]"),
            "error parsing regexp: invalid character class range: `z-a`"
        );
        assert_eq!(
            err(r"\8"),
            "error parsing regexp: invalid escape sequence: `\\8`"
        );
        assert_eq!(
            err(r"a\"),
            "error parsing regexp: trailing backslash at end of expression: ``"
        );
        assert_eq!(
            err("(?P<1>a)(?P<x"),
            "error parsing regexp: invalid named capture: `(?P<x`"
        );
        assert_eq!(
            err(r"\p{Grek}"),
            "error parsing regexp: invalid character class range: `\\p{Grek}`"
        );
        assert_eq!(
            err("[[:foo:]]"),
            "error parsing regexp: invalid character class range: `[:foo:]`"
        );
        assert_eq!(
            err("(?x)a"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?x`"
        );
    }

    #[test]
    fn go_matching() {
        let re = GoRegex::new("a*").unwrap();
        assert_eq!(re.replace_all("baaac", "X", false), "XbXcX");
        assert_eq!(re.find_all("baaac", -1), vec!["", "aaa", ""]);
        assert_eq!(re.split("baaac", -1), vec!["b", "c"]);
        let re = GoRegex::new(r"(?P<1a>\w)(\d)").unwrap();
        assert_eq!(
            re.replace_all("x1 é2", "[$1a|$2|${1a}|$$|$]", false),
            "[x|1|x|$|$] é2"
        );
        assert!(GoRegex::new("a{,5}").unwrap().re.is_match("a{,5}"));
        assert!(GoRegex::new("a(?i)*").unwrap().re.is_match("aaa"));
        assert!(!GoRegex::new(r"\bé").unwrap().re.is_match("é"));
        assert!(!GoRegex::new(r"\d").unwrap().re.is_match("٣"));
        assert!(GoRegex::new(r"(?i)\p{Lu}").unwrap().re.is_match("a"));
        assert!(GoRegex::new(r"\Qa.b\E+").unwrap().re.is_match("a.bb"));
        assert!(GoRegex::new(r"(?U)a+").unwrap().find("aaa") == "a");
        assert!(GoRegex::new(r"(?U)a+?").unwrap().find("aaa") == "aaa");
        assert_eq!(quote_meta("1.5-2.0?[x]"), r"1\.5-2\.0\?\[x\]");
    }
}
