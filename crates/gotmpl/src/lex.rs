//! The lexer: Go's `text/template/parse/lex.go` state machine, run eagerly.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ItemType {
    Error,
    Bool,
    Char,
    CharConstant,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    String,
    Text,
    Variable,
    Complex,
    // Keywords appear after all the rest.
    Keyword,
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

/// A token: its type and where its text is in the source. An `ItemType::Error` item is the
/// last one; its message is [`Lexed::error`].
///
/// Spaces inside an action are not tokens of their own, as they are in Go: the token after
/// them is `spaced`. Go's parser reads a space token in three places only, to tell what
/// follows an operand apart (another operand, or a field chained to it), and it never
/// reports one in an error; spaces were 30% of kube-prometheus-stack's tokens.
///
/// 16 bytes: a template holds hundreds of thousands of them. The lexer refuses texts of
/// 4 GiB or more, so offsets and lines fit in `u32`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub typ: ItemType,
    /// Spaces come between this token and the one before it.
    pub spaced: bool,
    start: u32,
    end: u32,
    line: u32,
}

/// What the lexer produced: the tokens, and the message of the error that stopped it.
pub(crate) struct Lexed {
    pub items: Vec<Item>,
    pub error: String,
}

impl Item {
    pub fn val<'s>(&self, src: &'s str) -> &'s str {
        &src[self.start as usize..self.end as usize]
    }

    /// The token as a name of the source, without its first `skip` bytes (a field's dot).
    pub fn sym(&self, skip: u32) -> crate::parse::Sym {
        crate::parse::Sym::new(self.start.saturating_add(skip).min(self.end), self.end)
    }

    /// Byte offset of the token in the source.
    pub fn pos(&self) -> usize {
        self.start as usize
    }

    /// 1-based line the token starts on: counted when asked (only errors ask), except for
    /// the error item, whose line the lexer recorded.
    pub fn line(&self, src: &str) -> usize {
        if self.line != 0 {
            return self.line as usize;
        }
        line_at(src, self.pos())
    }

    /// Go's `item.String()`.
    pub fn describe(&self, src: &str) -> String {
        let val = self.val(src);
        match self.typ {
            ItemType::Eof => "EOF".to_string(),
            ItemType::Error => val.to_string(),
            t if t > ItemType::Keyword => format!("<{val}>"),
            _ => {
                if val.chars().count() > 10 {
                    let short: String = val.chars().take(10).collect();
                    format!("{}...", crate::gofmt::quote(&short))
                } else {
                    crate::gofmt::quote(val)
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct LexOptions {
    pub break_ok: bool,
    pub continue_ok: bool,
}

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";

/// The ASCII bytes of identifiers: letters, digits and `_`.
static WORD_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = c == b'_' || c.is_ascii_alphanumeric();
        i += 1;
    }
    t
};

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

pub(crate) fn is_alphanumeric(c: char) -> bool {
    if c.is_ascii() {
        return c == '_' || c.is_ascii_alphanumeric();
    }
    c.is_alphabetic() || c.is_numeric()
}

// The trim markers and the spaces they trim are ASCII: the byte forms below never split a
// character (a byte of a multi-byte character is never ASCII).

fn has_left_trim_marker(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] == b'-' && is_space_byte(b[1])
}

/// Whether `b` starts with ` -}}` (any of the four spaces).
fn has_right_trim_delim(b: &[u8]) -> bool {
    matches!(b, [s, b'-', b'}', b'}', ..] if is_space_byte(*s))
}

fn right_trim_length(b: &[u8]) -> usize {
    b.iter().rev().take_while(|&&c| is_space_byte(c)).count()
}

fn left_trim_length(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| is_space_byte(c)).count()
}

fn key(word: &str) -> Option<ItemType> {
    Some(match word {
        "." => ItemType::Dot,
        "block" => ItemType::Block,
        "break" => ItemType::Break,
        "continue" => ItemType::Continue,
        "define" => ItemType::Define,
        "else" => ItemType::Else,
        "end" => ItemType::End,
        "if" => ItemType::If,
        "range" => ItemType::Range,
        "nil" => ItemType::Nil,
        "template" => ItemType::Template,
        "with" => ItemType::With,
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
}

struct Lexer<'s> {
    input: &'s str,
    pos: usize,
    start: usize,
    width: usize,
    paren_depth: i64,
    /// Spaces were skipped since the last token.
    spaced: bool,
    items: Vec<Item>,
    error: String,
    opts: LexOptions,
}

/// Lexes the whole input into `items` (cleared first: a thread that lexes many texts reuses
/// one buffer). The item list ends with `Eof` or `Error`.
pub(crate) fn lex_into(input: &str, opts: LexOptions, mut items: Vec<Item>) -> Lexed {
    items.clear();
    if u32::try_from(input.len()).is_err() {
        items.push(Item {
            typ: ItemType::Error,
            spaced: false,
            start: 0,
            end: 0,
            line: 1,
        });
        return Lexed {
            items,
            error: "template text is 4 GiB or more".into(),
        };
    }
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        width: 0,
        paren_depth: 0,
        spaced: false,
        items,
        error: String::new(),
        opts,
    };
    let mut state = Some(State::Text);
    while let Some(s) = state {
        state = l.step(s);
    }
    Lexed {
        items: l.items,
        error: l.error,
    }
}

impl<'s> Lexer<'s> {
    fn next(&mut self) -> Option<char> {
        let Some(&b) = self.input.as_bytes().get(self.pos) else {
            self.width = 0;
            return None;
        };
        if b.is_ascii() {
            self.width = 1;
            self.pos += 1;
            return Some(b as char);
        }
        let c = self.input[self.pos..].chars().next()?;
        self.width = c.len_utf8();
        self.pos += self.width;
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        match self.input.as_bytes().get(self.pos) {
            Some(&b) if b.is_ascii() => Some(b as char),
            _ => self.input[self.pos..].chars().next(),
        }
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        self.width = 0;
    }

    fn emit(&mut self, typ: ItemType) {
        // `lex` refused texts whose offsets don't fit
        self.items.push(Item {
            typ,
            spaced: std::mem::take(&mut self.spaced),
            start: self.start as u32,
            end: self.pos as u32,
            line: 0,
        });
        self.start = self.pos;
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    /// Moves past the next byte if `valid` takes it (`valid` takes ASCII bytes only, so
    /// this never stops inside a character).
    fn accept(&mut self, valid: impl Fn(u8) -> bool) -> bool {
        match self.input.as_bytes().get(self.pos) {
            Some(&b) if valid(b) => {
                self.pos += 1;
                self.width = 1;
                true
            }
            _ => {
                self.width = 0;
                false
            }
        }
    }

    fn accept_run(&mut self, valid: impl Fn(u8) -> bool + Copy) {
        while self.accept(valid) {}
    }

    fn errorf(&mut self, msg: String) -> Option<State> {
        let line = line_at(self.input, self.pos);
        self.items.push(Item {
            typ: ItemType::Error,
            spaced: std::mem::take(&mut self.spaced),
            start: self.start as u32,
            end: self.start as u32,
            line: line as u32,
        });
        self.error = msg;
        None
    }

    /// Whether the input continues with `}}` (`.0`), or ` -}}` (both `.0` and `.1`).
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.input.as_bytes()[self.pos..];
        if rest.starts_with(b"}}") {
            (true, false)
        } else {
            let trim = has_right_trim_delim(rest);
            (trim, trim)
        }
    }

    /// Moves past a run of letters, digits and `_` (ASCII a byte at a time).
    fn skip_alphanumerics(&mut self) {
        let b = self.input.as_bytes();
        loop {
            let rest = b.get(self.pos..).unwrap_or_default();
            self.pos += rest
                .iter()
                .position(|&c| !WORD_BYTE[c as usize])
                .unwrap_or(rest.len());
            match self.peek() {
                Some(c) if !c.is_ascii() && is_alphanumeric(c) => self.pos += c.len_utf8(),
                _ => break,
            }
        }
        self.width = 0;
    }

    fn at_terminator(&mut self) -> bool {
        // spaces and the terminators are ASCII: a byte of a multi-byte character is neither
        match self.input.as_bytes().get(self.pos) {
            None => true,
            Some(&b) => {
                is_space_byte(b) || matches!(b, b'.' | b',' | b'|' | b':' | b')' | b'(' | b'}')
            }
        }
    }

    fn step(&mut self, s: State) -> Option<State> {
        match s {
            State::Text => self.lex_text(),
            State::LeftDelim => self.lex_left_delim(),
            State::Comment => self.lex_comment(),
            State::RightDelim => self.lex_right_delim(),
            State::InsideAction => self.lex_inside_action(),
        }
    }

    fn lex_text(&mut self) -> Option<State> {
        self.width = 0;
        if let Some(x) = find_pair(&self.input.as_bytes()[self.pos..], b'{') {
            if x > 0 {
                self.pos += x;
                let mut trim = 0;
                let delim_end = self.pos + LEFT_DELIM.len();
                let b = self.input.as_bytes();
                if has_left_trim_marker(&b[delim_end..]) {
                    trim = right_trim_length(&b[self.start..self.pos]);
                }
                self.pos -= trim;
                if self.pos > self.start {
                    self.emit(ItemType::Text);
                }
                self.pos += trim;
                self.ignore();
            }
            return Some(State::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.emit(ItemType::Text);
        }
        self.emit(ItemType::Eof);
        None
    }

    fn lex_left_delim(&mut self) -> Option<State> {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(&self.input.as_bytes()[self.pos..]);
        let after = if trim { 2 } else { 0 };
        if self.input.as_bytes()[self.pos + after..].starts_with(LEFT_COMMENT.as_bytes()) {
            self.pos += after;
            self.ignore();
            return Some(State::Comment);
        }
        self.emit(ItemType::LeftDelim);
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        Some(State::InsideAction)
    }

    fn lex_comment(&mut self) -> Option<State> {
        self.pos += LEFT_COMMENT.len();
        let Some(x) =
            memchr::memmem::find(&self.input.as_bytes()[self.pos..], RIGHT_COMMENT.as_bytes())
        else {
            return self.errorf("unclosed comment".into());
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            self.pos += left_trim_length(&self.input.as_bytes()[self.pos..]);
        }
        self.ignore();
        Some(State::Text)
    }

    fn lex_right_delim(&mut self) -> Option<State> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        self.emit(ItemType::RightDelim);
        if trim {
            self.pos += left_trim_length(&self.input.as_bytes()[self.pos..]);
            self.ignore();
        }
        Some(State::Text)
    }

    /// The tokens of an action up to its right delimiter (or an error): one loop, each token
    /// lexed where it starts.
    fn lex_inside_action(&mut self) -> Option<State> {
        loop {
            match self.action_token()? {
                State::InsideAction => continue,
                s => return Some(s),
            }
        }
    }

    fn lex_variable(&mut self) -> Option<State> {
        if self.at_terminator() {
            self.emit(ItemType::Variable);
            return Some(State::InsideAction);
        }
        self.lex_field_or_variable(ItemType::Variable)
    }

    /// One token inside an action (`InsideAction` after it), or the state the action ends
    /// in. ASCII bytes are told apart without decoding a character; the right delimiter can
    /// only begin at `}` or at a space (` -}}`).
    fn action_token(&mut self) -> Option<State> {
        let Some(&b) = self.input.as_bytes().get(self.pos) else {
            return self.errorf("unclosed action".into());
        };
        if b == b'}' || is_space_byte(b) {
            let (delim, _) = self.at_right_delim();
            if delim {
                if self.paren_depth == 0 {
                    return Some(State::RightDelim);
                }
                return self.errorf("unclosed left paren".into());
            }
            if b != b'}' {
                return self.lex_space();
            }
        }
        if !b.is_ascii() {
            let c = self.peek()?;
            if is_alphanumeric(c) {
                return self.lex_identifier();
            }
            self.next();
            return self.errorf(format!("unrecognized character in action: {}", sharp_u(c)));
        }
        self.pos += 1;
        self.width = 1;
        match b {
            b'=' => self.emit(ItemType::Assign),
            b':' => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".into());
                }
                self.emit(ItemType::Declare);
            }
            b'|' => self.emit(ItemType::Pipe),
            b'"' => return self.lex_quote(),
            b'`' => return self.lex_raw_quote(),
            b'$' => return self.lex_variable(),
            b'\'' => return self.lex_char(),
            b'.' => {
                return match self.input.as_bytes().get(self.pos) {
                    Some(n) if !n.is_ascii_digit() => self.lex_field_or_variable(ItemType::Field),
                    _ => {
                        self.backup();
                        self.lex_number()
                    }
                };
            }
            b'+' | b'-' | b'0'..=b'9' => {
                self.backup();
                return self.lex_number();
            }
            b if b == b'_' || b.is_ascii_alphanumeric() => {
                self.backup();
                return self.lex_identifier();
            }
            b'(' => {
                self.paren_depth += 1;
                self.emit(ItemType::LeftParen);
            }
            b')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren".into());
                }
                self.emit(ItemType::RightParen);
            }
            b if crate::gofmt::is_print(b as char) => self.emit(ItemType::Char),
            b => {
                return self.errorf(format!(
                    "unrecognized character in action: {}",
                    sharp_u(b as char)
                ));
            }
        }
        Some(State::InsideAction)
    }

    fn lex_space(&mut self) -> Option<State> {
        let b = self.input.as_bytes();
        let from = self.pos;
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = b.get(self.pos) {
            self.pos += 1;
        }
        let num = self.pos - from;
        if num > 0 {
            self.width = 1;
        }
        // (the state is entered at a space: `num` is at least 1)
        if has_right_trim_delim(&b[self.pos - 1..]) {
            self.pos -= 1;
            if num == 1 {
                return Some(State::RightDelim);
            }
        }
        // the spaces are a mark on the next token (see `Item`)
        self.spaced = true;
        self.ignore();
        Some(State::InsideAction)
    }

    fn lex_identifier(&mut self) -> Option<State> {
        self.skip_alphanumerics();
        let word = &self.input[self.start..self.pos];
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\u{FFFD}');
            return self.errorf(format!("bad character {}", sharp_u(c)));
        }
        let typ = match key(word) {
            Some(ItemType::Break) if !self.opts.break_ok => ItemType::Identifier,
            Some(ItemType::Continue) if !self.opts.continue_ok => ItemType::Identifier,
            Some(k) => k,
            None if word == "true" || word == "false" => ItemType::Bool,
            None => ItemType::Identifier,
        };
        self.emit(typ);
        Some(State::InsideAction)
    }

    fn lex_field_or_variable(&mut self, typ: ItemType) -> Option<State> {
        if self.at_terminator() {
            self.emit(if typ == ItemType::Variable {
                ItemType::Variable
            } else {
                ItemType::Dot
            });
            return Some(State::InsideAction);
        }
        self.skip_alphanumerics();
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\u{FFFD}');
            return self.errorf(format!("bad character {}", sharp_u(c)));
        }
        self.emit(typ);
        Some(State::InsideAction)
    }

    fn lex_char(&mut self) -> Option<State> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => {
                        return self.errorf("unterminated character constant".into());
                    }
                    _ => {}
                },
                Some('\n') | None => return self.errorf("unterminated character constant".into()),
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(ItemType::CharConstant);
        Some(State::InsideAction)
    }

    fn lex_number(&mut self) -> Option<State> {
        if !self.scan_number() {
            let s = self.input[self.start..self.pos].to_string();
            return self.errorf(format!("bad number syntax: {}", crate::gofmt::quote(&s)));
        }
        if let Some(b'+' | b'-') = self.input.as_bytes().get(self.pos) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let s = self.input[self.start..self.pos].to_string();
                return self.errorf(format!("bad number syntax: {}", crate::gofmt::quote(&s)));
            }
            self.emit(ItemType::Complex);
        } else {
            self.emit(ItemType::Number);
        }
        Some(State::InsideAction)
    }

    fn scan_number(&mut self) -> bool {
        fn decimal(b: u8) -> bool {
            b.is_ascii_digit() || b == b'_'
        }
        let sign = |b: u8| b == b'+' || b == b'-';
        self.accept(sign);
        let mut base = 10;
        let mut digits: fn(u8) -> bool = decimal;
        if self.accept(|b| b == b'0') {
            if self.accept(|b| b == b'x' || b == b'X') {
                (base, digits) = (16, |b: u8| b.is_ascii_hexdigit() || b == b'_');
            } else if self.accept(|b| b == b'o' || b == b'O') {
                (base, digits) = (8, |b: u8| matches!(b, b'0'..=b'7' | b'_'));
            } else if self.accept(|b| b == b'b' || b == b'B') {
                (base, digits) = (2, |b: u8| matches!(b, b'0' | b'1' | b'_'));
            }
        }
        self.accept_run(digits);
        if self.accept(|b| b == b'.') {
            self.accept_run(digits);
        }
        if base == 10 && self.accept(|b| b == b'e' || b == b'E') {
            self.accept(sign);
            self.accept_run(decimal);
        }
        if base == 16 && self.accept(|b| b == b'p' || b == b'P') {
            self.accept(sign);
            self.accept_run(decimal);
        }
        self.accept(|b| b == b'i');
        if let Some(c) = self.peek()
            && is_alphanumeric(c)
        {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> Option<State> {
        loop {
            // the bytes up to the next backslash, quote or newline are plain
            let rest = &self.input.as_bytes()[self.pos..];
            self.pos += memchr::memchr3(b'\\', b'"', b'\n', rest).unwrap_or(rest.len());
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => {
                        return self.errorf("unterminated quoted string".into());
                    }
                    _ => {}
                },
                Some('\n') | None => return self.errorf("unterminated quoted string".into()),
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(ItemType::String);
        Some(State::InsideAction)
    }

    fn lex_raw_quote(&mut self) -> Option<State> {
        let rest = &self.input.as_bytes()[self.pos..];
        match memchr::memchr(b'`', rest) {
            Some(x) => self.pos += x + 1,
            None => {
                self.pos = self.input.len();
                return self.errorf("unterminated raw quoted string".into());
            }
        }
        self.emit(ItemType::RawString);
        Some(State::InsideAction)
    }
}

/// Where `cc` (`{{`) first occurs in `b`.
fn find_pair(b: &[u8], c: u8) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(c, &b[from..]) {
        let at = from + i;
        match b.get(at + 1) {
            Some(&n) if n == c => return Some(at),
            Some(_) => from = at + 2,
            None => return None,
        }
    }
    None
}

/// 1-based line of byte offset `pos` in `src`.
fn line_at(src: &str, pos: usize) -> usize {
    1 + count_newlines(&src.as_bytes()[..pos])
}

fn count_newlines(b: &[u8]) -> usize {
    // byte sums over short chunks: the compiler turns this into vector compares
    b.chunks(128)
        .map(|c| c.iter().map(|&x| u8::from(x == b'\n')).sum::<u8>() as usize)
        .sum()
}

/// Go's `%#U`: `U+0041 'A'`.
pub(crate) fn sharp_u(c: char) -> String {
    if crate::gofmt::is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_search() {
        assert_eq!(find_pair(b"ab{c{{d", b'{'), Some(4));
        assert_eq!(find_pair(b"{x{", b'{'), None);
        assert_eq!(find_pair(b"{{", b'{'), Some(0));
        assert_eq!(find_pair(b"", b'{'), None);
    }

    #[test]
    fn lines_are_counted_on_demand() {
        let src = "a\n{{x}}\n\n{{ y }}";
        let opts = LexOptions {
            break_ok: true,
            continue_ok: true,
        };
        // a buffer holding another text's tokens is cleared first
        let used = lex_into("{{ z }}{{ w }}", opts, Vec::new()).items;
        let lexed = lex_into(src, opts, used);
        assert_eq!(
            lexed.items.iter().map(|i| i.val(src)).collect::<Vec<_>>(),
            lex_into(src, opts, Vec::new())
                .items
                .iter()
                .map(|i| i.val(src))
                .collect::<Vec<_>>()
        );
        let lines: Vec<_> = lexed
            .items
            .iter()
            .filter(|i| i.typ == ItemType::Identifier)
            .map(|i| (i.val(src), i.line(src)))
            .collect();
        assert_eq!(lines, [("x", 2), ("y", 4)]);
    }
}
