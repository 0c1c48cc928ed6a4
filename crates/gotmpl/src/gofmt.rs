//! Go's `fmt` printing for [`Value`]s: `Sprint`, `Sprintln`, `Sprintf` with
//! the verbs, flags, width and precision Go supports, and the exact error
//! forms (`%!d(string=a)`, `%!s(MISSING)`, `%!(EXTRA int=1)`).

use crate::value::{Type, Value};

const LDIGITS: &[u8] = b"0123456789abcdefx";
const UDIGITS: &[u8] = b"0123456789ABCDEFX";

/// Maximum nesting printed before giving up (guards self-referencing maps).
const MAX_PRINT_DEPTH: usize = 100;

/// `fmt.Sprint`: operands formatted with `%v`, a space between two operands
/// when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln`: operands formatted with `%v`, always space-separated,
/// with a trailing newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.buf
}

/// What the template engine prints for an action's value: like `%v`, but a
/// pointer to a struct is printed without its `&`.
pub(crate) fn print_action_value(v: &Value) -> String {
    let mut p = Printer::default();
    match v {
        Value::Struct(s) if s.is_pointer() => {
            p.print_value(v, 'v', 1, false);
        }
        _ => p.print_arg(v, 'v'),
    }
    p.buf
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    append_quoted(&mut out, s, '"', false);
    out
}

/// Go's `strconv.QuoteToASCII`.
pub fn quote_to_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    append_quoted(&mut out, s, '"', true);
    out
}

/// Go's `strconv.QuoteRune`.
pub fn quote_rune(r: char) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 4];
    append_quoted(&mut out, r.encode_utf8(&mut buf), '\'', false);
    out
}

fn append_quoted(out: &mut String, s: &str, q: char, ascii_only: bool) {
    out.push(q);
    for r in s.chars() {
        append_escaped_rune(out, r, q, ascii_only);
    }
    out.push(q);
}

fn append_escaped_rune(out: &mut String, r: char, q: char, ascii_only: bool) {
    use std::fmt::Write as _;
    if r == q || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && is_print(r) {
            out.push(r);
            return;
        }
    } else if is_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ => {
            let c = r as u32;
            if c < 0x20 || c == 0x7f {
                let _ = write!(out, "\\x{c:02x}");
            } else if c < 0x10000 {
                let _ = write!(out, "\\u{c:04x}");
            } else {
                let _ = write!(out, "\\U{c:08x}");
            }
        }
    }
}

/// An approximation of Go's `unicode.IsPrint` (and `strconv.IsPrint`):
/// letters, marks, numbers, punctuation, symbols and the ASCII space.
pub fn is_print(r: char) -> bool {
    let c = r as u32;
    if c < 0x80 {
        return (0x20..0x7f).contains(&c);
    }
    if r.is_control() {
        return false;
    }
    !matches!(c,
        0xA0 | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 |
        0x1680 | 0x180E | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x206F |
        0x3000 | 0xD800..=0xDFFF | 0xE000..=0xF8FF | 0xFEFF | 0xFFF0..=0xFFFB |
        0xFFFE | 0xFFFF | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 |
        0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F | 0xF0000..=0x10FFFF)
}

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: usize,
    wid_present: bool,
    prec: usize,
    prec_present: bool,
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
    erroring: bool,
    good_arg_num: bool,
    reordered: bool,
}

fn rune_count(s: &str) -> usize {
    s.chars().count()
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let pad = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        for _ in 0..n {
            self.buf.push(pad);
        }
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(rune_count(s));
        if !self.f.minus {
            self.write_padding(width);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(width);
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.f.prec)
        {
            return &s[..i];
        }
        s
    }

    // ---- basic formatters (Go's fmt type) ----

    fn fmt_bool(&mut self, b: bool) {
        self.pad(if b { "true" } else { "false" });
    }

    fn fmt_integer(&mut self, mut u: u64, base: u32, is_signed: bool, verb: char, digits: &[u8]) {
        let negative = is_signed && (u as i64) < 0;
        if negative {
            u = u.wrapping_neg();
        }
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                let w = self.f.wid;
                self.write_padding(w);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut rev: Vec<u8> = Vec::with_capacity(24);
        let b = base as u64;
        loop {
            rev.push(digits[(u % b) as usize]);
            u /= b;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => {
                    rev.push(b'b');
                    rev.push(b'0');
                }
                8 if *rev.last().unwrap_or(&b'0') != b'0' => {
                    rev.push(b'0');
                }
                16 => {
                    rev.push(digits[16]);
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.push(b'o');
            rev.push(b'0');
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8(rev).unwrap_or_default();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4usize;
        if self.f.prec_present && self.f.prec > 4 {
            prec = self.f.prec;
        }
        let mut s = format!("{u:X}");
        while s.len() < prec {
            s.insert(0, '0');
        }
        let mut out = format!("U+{s}");
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            out.push_str(" '");
            out.push(c);
            out.push('\'');
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&out);
        self.f.zero = old;
    }

    fn rune_of(u: u64) -> char {
        u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
    }

    fn fmt_c(&mut self, u: u64) {
        let c = Self::rune_of(u);
        let mut b = [0u8; 4];
        self.pad(c.encode_utf8(&mut b));
    }

    fn fmt_qc(&mut self, u: u64) {
        let c = Self::rune_of(u);
        let mut b = [0u8; 4];
        let mut out = String::new();
        append_quoted(&mut out, c.encode_utf8(&mut b), '\'', self.f.plus);
        self.pad(&out);
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8]) {
        self.fmt_bx(s.as_bytes(), digits)
    }

    /// `%x` of bytes (a string's or a `[]byte`'s).
    fn fmt_bx(&mut self, b: &[u8], digits: &[u8]) {
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                let w = self.f.wid;
                self.write_padding(w);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, c) in b.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[(c >> 4) as usize] as char);
            self.buf.push(digits[(c & 0xf) as usize] as char);
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let q = format!("`{s}`");
            self.pad(&q);
            return;
        }
        let mut out = String::with_capacity(s.len() + 2);
        append_quoted(&mut out, s, '"', self.f.plus);
        self.pad(&out);
    }

    fn fmt_float(&mut self, v: f64, verb: char, prec: Option<usize>) {
        let prec = if self.f.prec_present {
            Some(self.f.prec)
        } else {
            prec
        };
        let body = format_float(v, verb, prec);
        // num[0] is the sign slot.
        let mut num = if body.starts_with('-') || body.starts_with('+') {
            body
        } else {
            format!("+{body}")
        };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        let second = num.as_bytes().get(1).copied().unwrap_or(b'0');
        if second == b'I' || second == b'N' {
            let old = self.f.zero;
            self.f.zero = false;
            if second == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = 0;
            if matches!(verb, 'v' | 'g' | 'G' | 'x') {
                digits = prec.map(|p| p as i64).unwrap_or(6);
            }
            let bytes = num.as_bytes().to_vec();
            let mut head: Vec<u8> = vec![bytes[0]];
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < bytes.len() {
                let c = bytes[i];
                match c {
                    b'.' => {
                        has_point = true;
                        head.push(c);
                    }
                    b'p' | b'P' => {
                        tail.extend_from_slice(&bytes[i..]);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&bytes[i..]);
                        break;
                    }
                    _ => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                        head.push(c);
                    }
                }
                i += 1;
            }
            if !has_point {
                if head.len() == 2 && head[1] == b'0' {
                    digits -= 1;
                }
                head.push(b'.');
            }
            while digits > 0 {
                head.push(b'0');
                digits -= 1;
            }
            head.extend_from_slice(&tail);
            num = String::from_utf8(head).unwrap_or_default();
        }
        if self.f.plus || !num.starts_with('+') {
            let len = num.len();
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > len {
                let (sign, rest) = num.split_at(1);
                let rest = rest.to_string();
                self.buf.push_str(sign);
                self.write_padding(self.f.wid - len);
                self.buf.push_str(&rest);
                return;
            }
            self.pad(&num);
            return;
        }
        let rest = num[1..].to_string();
        self.pad(&rest);
    }

    // ---- pp-level formatters ----

    fn pp_fmt_integer(&mut self, v: u64, is_signed: bool, verb: char) {
        match verb {
            'v' => {
                if self.f.sharp_v && !is_signed {
                    let old = self.f.sharp;
                    self.f.sharp = true;
                    self.fmt_integer(v, 16, false, 'v', LDIGITS);
                    self.f.sharp = old;
                } else {
                    self.fmt_integer(v, 10, is_signed, verb, LDIGITS);
                }
            }
            'd' => self.fmt_integer(v, 10, is_signed, verb, LDIGITS),
            'b' => self.fmt_integer(v, 2, is_signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(v, 8, is_signed, verb, LDIGITS),
            'x' => self.fmt_integer(v, 16, is_signed, verb, LDIGITS),
            'X' => self.fmt_integer(v, 16, is_signed, verb, UDIGITS),
            'c' => self.fmt_c(v),
            'q' => self.fmt_qc(v),
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb_int(verb, v, is_signed),
        }
    }

    fn bad_verb_int(&mut self, verb: char, v: u64, is_signed: bool) {
        let val = if is_signed {
            Value::Int(v as i64)
        } else {
            Value::Uint64(v)
        };
        self.bad_verb(verb, &val);
    }

    fn pp_fmt_float(&mut self, v: f64, verb: char) {
        match verb {
            'v' => self.fmt_float(v, 'g', None),
            'b' | 'g' | 'G' | 'x' | 'X' => {
                if self.f.sharp_v {
                    self.fmt_float(v, 'g', None)
                } else {
                    self.fmt_float(v, verb, None)
                }
            }
            'f' | 'e' | 'E' | 'F' => self.fmt_float(v, verb, Some(6)),
            _ => self.bad_verb(verb, &Value::Float(v)),
        }
    }

    fn pp_fmt_complex(&mut self, re: f64, im: f64, verb: char) {
        match verb {
            'v' | 'b' | 'g' | 'G' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' => {
                let old_plus = self.f.plus;
                self.buf.push('(');
                self.pp_fmt_float(re, verb);
                self.f.plus = true;
                self.pp_fmt_float(im, verb);
                self.buf.push_str("i)");
                self.f.plus = old_plus;
            }
            _ => self.bad_verb(verb, &Value::Complex(re, im)),
        }
    }

    fn pp_fmt_string(&mut self, s: &str, verb: char) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s)
                } else {
                    self.fmt_s(s)
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, &Value::String(s.into())),
        }
    }

    fn bad_verb(&mut self, verb: char, v: &Value) {
        self.erroring = true;
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match v {
            Value::Nil => self.buf.push_str("<nil>"),
            _ => {
                self.buf.push_str(&v.type_name());
                self.buf.push('=');
                self.print_arg(v, 'v');
            }
        }
        self.buf.push(')');
        self.erroring = false;
    }

    fn handle_methods(&mut self, v: &Value, verb: char) -> bool {
        if self.erroring || self.f.sharp_v {
            return false;
        }
        if !matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
            return false;
        }
        let ti = match v {
            Value::Struct(s) => Some(s.type_info().clone()),
            Value::Map(m) => m.type_info().cloned(),
            Value::List(l) => l.type_info().cloned(),
            _ => None,
        };
        if let Some(ti) = ti
            && let Some(s) = ti.stringify(v)
        {
            self.pp_fmt_string(&s, verb);
            return true;
        }
        false
    }

    fn print_arg(&mut self, v: &Value, verb: char) {
        if let Value::Nil = v {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, v),
            }
            return;
        }
        if verb == 'T' {
            let t = v.type_name();
            self.fmt_s(&t);
            return;
        }
        if verb == 'p' {
            self.bad_verb(verb, v);
            return;
        }
        match v {
            Value::Bool(b) => match verb {
                't' | 'v' => self.fmt_bool(*b),
                _ => self.bad_verb(verb, v),
            },
            Value::Float(f) => self.pp_fmt_float(*f, verb),
            Value::Complex(r, i) => self.pp_fmt_complex(*r, *i, verb),
            Value::Int(i) | Value::Int64(i) => self.pp_fmt_integer(*i as u64, true, verb),
            Value::Uint64(u) => self.pp_fmt_integer(*u, false, verb),
            Value::String(s) => self.pp_fmt_string(s, verb),
            _ => {
                if !self.handle_methods(v, verb) {
                    self.print_value(v, verb, 0, false);
                }
            }
        }
    }

    /// `in_iface`: the value sits in an `interface {}` slot (list element or
    /// map value), which matters for nil.
    fn print_value(&mut self, v: &Value, verb: char, depth: usize, in_iface: bool) {
        if depth > MAX_PRINT_DEPTH {
            self.buf.push_str("...");
            return;
        }
        if depth > 0 && !matches!(v, Value::Nil) && self.handle_methods(v, verb) {
            return;
        }
        match v {
            Value::Nil => {
                if in_iface && self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else if in_iface || (depth > 0 && verb == 'v') {
                    self.buf.push_str("<nil>");
                } else if depth == 0 {
                    self.buf.push_str("<invalid reflect.Value>");
                } else {
                    self.bad_verb(verb, v);
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.fmt_bool(*b),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) | Value::Int64(i) => self.pp_fmt_integer(*i as u64, true, verb),
            Value::Uint64(u) => self.pp_fmt_integer(*u, false, verb),
            Value::Float(f) => self.pp_fmt_float(*f, verb),
            Value::Complex(r, i) => self.pp_fmt_complex(*r, *i, verb),
            Value::String(s) => self.pp_fmt_string(s, verb),
            Value::Map(m) => {
                let elem_iface = matches!(m.elem(), Type::Interface);
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, val)) in m.entries().iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.buf.push_str(", ");
                        } else {
                            self.buf.push(' ');
                        }
                    }
                    self.print_value(&Value::String(k.as_str().into()), verb, depth + 1, false);
                    self.buf.push(':');
                    self.print_value(val, verb, depth + 1, elem_iface);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::List(l) if matches!(verb, 's' | 'q' | 'x' | 'X') && l.as_bytes().is_some() => {
                // Go prints a []byte as its text for these verbs
                let b = l.as_bytes().unwrap_or_default();
                match verb {
                    'x' => self.fmt_bx(&b, LDIGITS),
                    'X' => self.fmt_bx(&b, UDIGITS),
                    v => self.pp_fmt_string(&String::from_utf8_lossy(&b), v),
                }
            }
            Value::List(l) => {
                let elem_iface = matches!(l.elem(), Type::Interface);
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    self.buf.push('{');
                    for (i, e) in l.items().iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(e, verb, depth + 1, elem_iface);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, e) in l.items().iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(e, verb, depth + 1, elem_iface);
                    }
                    self.buf.push(']');
                }
            }
            Value::Struct(s) => {
                if s.is_pointer() && depth == 0 {
                    self.buf.push('&');
                }
                if self.f.sharp_v {
                    self.buf
                        .push_str(s.type_info().name().trim_start_matches('*'));
                }
                self.buf.push('{');
                for (i, (name, val)) in s.fields().iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.buf.push_str(", ");
                        } else {
                            self.buf.push(' ');
                        }
                    }
                    if self.f.plus_v || self.f.sharp_v {
                        self.buf.push_str(name);
                        self.buf.push(':');
                    }
                    self.print_value(val, verb, depth + 1, false);
                }
                self.buf.push('}');
            }
            Value::Func(_) => {
                // Go prints the function's address; there is none to print.
                match verb {
                    'v' | 'p' => self.pad("0x0"),
                    _ => self.bad_verb(verb, v),
                }
            }
        }
    }

    fn do_printf(&mut self, format: &str, a: &[Value]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        self.reordered = false;
        let mut i = 0usize;
        'format_loop: while i < end {
            self.good_arg_num = true;
            let lasti = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            'simple: while i < end {
                let c = fb[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < a.len() {
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            self.print_arg(&a[arg_num], c as char);
                            arg_num += 1;
                            i += 1;
                            continue 'format_loop;
                        }
                        break 'simple;
                    }
                }
                i += 1;
            }

            (arg_num, i, after_index) = self.arg_number(arg_num, format, i, a.len());

            if i < end && fb[i] == b'*' {
                i += 1;
                let (n, ok, na) = int_from_arg(a, arg_num);
                arg_num = na;
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if n < 0 {
                    self.f.wid = n.unsigned_abs() as usize;
                    self.f.minus = true;
                    self.f.zero = false;
                } else {
                    self.f.wid = n as usize;
                }
                after_index = false;
            } else {
                let (n, ok, ni) = parsenum(fb, i, end);
                self.f.wid = n;
                self.f.wid_present = ok;
                i = ni;
                if after_index && ok {
                    self.good_arg_num = false;
                }
            }

            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, format, i, a.len());
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (n, ok, na) = int_from_arg(a, arg_num);
                    arg_num = na;
                    self.f.prec_present = ok;
                    if n < 0 {
                        self.f.prec = 0;
                        self.f.prec_present = false;
                    } else {
                        self.f.prec = n as usize;
                    }
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (n, ok, ni) = parsenum(fb, i, end);
                    i = ni;
                    self.f.prec = if ok { n } else { 0 };
                    self.f.prec_present = true;
                }
            }

            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, format, i, a.len());
            }

            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }

            let verb = format[i..].chars().next().unwrap_or('?');
            i += verb.len_utf8();

            if verb == '%' {
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(BADINDEX)");
            } else if arg_num >= a.len() {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(MISSING)");
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&a[arg_num], verb);
                arg_num += 1;
            }
        }

        if !self.reordered && arg_num < a.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (i, arg) in a[arg_num..].iter().enumerate() {
                if i > 0 {
                    self.buf.push_str(", ");
                }
                if let Value::Nil = arg {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.buf.push(')');
        }
    }

    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &str,
        i: usize,
        num_args: usize,
    ) -> (usize, usize, bool) {
        let fb = format.as_bytes();
        if fb.len() <= i || fb[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&fb[i..]);
        if ok && index >= 0 && (index as usize) < num_args {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }
}

fn parse_arg_number(f: &[u8]) -> (i64, usize, bool) {
    if f.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..f.len() {
        if f[i] == b']' {
            let (w, ok, newi) = parsenum(f, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (w as i64 - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

fn parsenum(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut isnum = false;
    let mut newi = start;
    while newi < end && s[newi].is_ascii_digit() {
        if num > 1_000_000 {
            return (0, false, end);
        }
        num = num * 10 + (s[newi] - b'0') as usize;
        isnum = true;
        newi += 1;
    }
    (num, isnum, newi)
}

fn int_from_arg(a: &[Value], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= a.len() {
        return (0, false, arg_num);
    }
    let (mut num, mut ok) = match &a[arg_num] {
        Value::Int(i) | Value::Int64(i) => (*i, true),
        Value::Uint64(u) if *u <= i64::MAX as u64 => (*u as i64, true),
        _ => (0, false),
    };
    if !(-1_000_000..=1_000_000).contains(&num) {
        num = 0;
        ok = false;
    }
    (num, ok, arg_num + 1)
}

fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !(c < ' ' || c == '\u{7f}')))
}

// ---- float formatting (Go's strconv.FormatFloat) ----

/// Decimal digits of a float: `d` (no leading/trailing zeros), decimal
/// point position `dp` (value = 0.d × 10^dp).
struct Decimal {
    d: Vec<u8>,
    dp: i64,
}

fn decimal_from_exp(s: &str) -> Decimal {
    // s looks like "1.2345e-7" or "5e3" (no sign).
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(|c| *c != b'.').collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Decimal { d, dp: 0 };
    }
    Decimal { d, dp: exp + 1 }
}

fn shortest_decimal(v: f64) -> Decimal {
    decimal_from_exp(&format!("{:e}", v.abs()))
}

fn fixed_decimal(v: f64, digits: usize) -> Decimal {
    decimal_from_exp(&format!("{:.*e}", digits.saturating_sub(1), v.abs()))
}

/// Go's `strconv.FormatFloat(v, verb, prec, 64)` with `None` = -1.
pub fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let neg = v.is_sign_negative();
    let mut out = String::new();
    match verb {
        'b' => {
            let bits = v.to_bits();
            let mut exp = ((bits >> 52) & 0x7ff) as i64;
            let mut mant = bits & ((1u64 << 52) - 1);
            if exp == 0 {
                exp += 1;
            } else {
                mant |= 1u64 << 52;
            }
            exp += -1023 - 52;
            if neg {
                out.push('-');
            }
            out.push_str(&mant.to_string());
            out.push('p');
            if exp >= 0 {
                out.push('+');
            }
            out.push_str(&exp.to_string());
            return out;
        }
        'x' | 'X' => return fmt_x(v, prec, verb),
        _ => {}
    }
    if neg {
        out.push('-');
    }
    let a = v.abs();
    match verb {
        'f' | 'F' => {
            let p = prec.unwrap_or(0);
            if prec.is_none() {
                let d = shortest_decimal(a);
                let p = (d.d.len() as i64 - d.dp).max(0) as usize;
                fmt_f(&mut out, &d, p);
            } else {
                out.push_str(&format!("{:.*}", p, a));
            }
        }
        'e' | 'E' => {
            let (d, p) = match prec {
                None => {
                    let d = shortest_decimal(a);
                    let p = d.d.len().saturating_sub(1);
                    (d, p)
                }
                Some(p) => (fixed_decimal(a, p + 1), p),
            };
            fmt_e(&mut out, &d, p, verb);
        }
        'g' | 'G' => {
            let shortest = prec.is_none();
            let (d, mut p) = match prec {
                None => {
                    let d = shortest_decimal(a);
                    let n = d.d.len();
                    (d, n)
                }
                Some(p) => {
                    let p = if p == 0 { 1 } else { p };
                    (fixed_decimal(a, p), p)
                }
            };
            let nd = d.d.len() as i64;
            let mut eprec = p as i64;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            let e = if verb == 'g' { 'e' } else { 'E' };
            if exp < -4 || exp >= eprec {
                if p as i64 > nd {
                    p = nd as usize;
                }
                fmt_e(&mut out, &d, p.saturating_sub(1), e);
            } else {
                if p as i64 > d.dp {
                    p = nd as usize;
                }
                fmt_f(&mut out, &d, (p as i64 - d.dp).max(0) as usize);
            }
        }
        _ => {
            out.push('%');
            out.push(verb);
        }
    }
    out
}

fn fmt_e(out: &mut String, d: &Decimal, prec: usize, e: char) {
    out.push(if d.d.is_empty() { '0' } else { d.d[0] as char });
    if prec > 0 {
        out.push('.');
        let mut i = 1;
        let m = d.d.len().min(prec + 1);
        if i < m {
            for c in &d.d[i..m] {
                out.push(*c as char);
            }
            i = m;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(e);
    let mut exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, d: &Decimal, prec: usize) {
    if d.dp > 0 {
        let m = (d.d.len() as i64).min(d.dp) as usize;
        for c in &d.d[..m] {
            out.push(*c as char);
        }
        for _ in m as i64..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i64 {
            let j = d.dp + i - 1;
            let c = if j >= 0 && (j as usize) < d.d.len() {
                d.d[j as usize] as char
            } else {
                '0'
            };
            out.push(c);
        }
    }
}

fn fmt_x(v: f64, prec: Option<usize>, verb: char) -> String {
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1u64 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec
        && p < 15
    {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1u64 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1u64 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8] = if verb == 'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push('0');
    out.push(verb);
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    match prec {
        None if mant != 0 => {
            out.push('.');
            while mant != 0 {
                out.push(hex[((mant >> 60) & 15) as usize] as char);
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            out.push('.');
            for _ in 0..p {
                out.push(hex[((mant >> 60) & 15) as usize] as char);
                mant <<= 4;
            }
        }
        _ => {}
    }
    out.push(if verb == 'X' { 'P' } else { 'p' });
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf(f: &str, a: &[Value]) -> String {
        sprintf(f, a)
    }

    #[test]
    fn floats_like_go() {
        let cases = [
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.1, "0.1"),
            (1e-7, "1e-07"),
            (1e21, "1e+21"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (3.0, "3"),
            (-0.0, "-0"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (0.30000000000000004, "0.30000000000000004"),
        ];
        for (v, want) in cases {
            assert_eq!(sprint(&[Value::Float(v)]), want, "{v}");
        }
    }

    #[test]
    fn printf_verbs() {
        assert_eq!(pf("%b", &[Value::Float(1.0)]), "4503599627370496p-52");
        assert_eq!(pf("%e", &[Value::Float(42.0)]), "4.200000e+01");
        assert_eq!(
            pf("%.0f %.1f %.3f", &[2.5.into(), 0.05.into(), 1.0005.into()]),
            "2 0.1 1.000"
        );
        assert_eq!(pf("%10.4v", &[Value::Int(-7)]), "     -0007");
        assert_eq!(pf("%08.3f", &[Value::Int(-7)]), "%!f(int=    -007)");
        assert_eq!(pf("%U", &[Value::Int(-7)]), "U+FFFFFFFFFFFFFFF9");
        assert_eq!(pf("%q", &[Value::Int(-7)]), "'\u{FFFD}'");
        assert_eq!(pf("%#o", &[Value::Int(8)]), "010");
        assert_eq!(pf("%x", &[Value::Int(-255)]), "-ff");
        assert_eq!(pf("%05d", &[Value::Int(-42)]), "-0042");
        assert_eq!(pf("%s %s", &["a".into()]), "a %!s(MISSING)");
        assert_eq!(pf("%s", &["a".into(), "b".into()]), "a%!(EXTRA string=b)");
        assert_eq!(pf("abc%", &[]), "abc%!(NOVERB)");
        assert_eq!(pf("%[2]s %[1]s", &["a".into(), "b".into()]), "b a");
        assert_eq!(pf("%*d", &[Value::Int(5), Value::Int(42)]), "   42");
        assert_eq!(pf("%q", &["é\n\t".into()]), "\"é\\n\\t\"");
        assert_eq!(pf("%v", &[Value::Complex(1.0, 2.0)]), "(1+2i)");
    }
}
