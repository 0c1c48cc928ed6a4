//! The parser: Go's `text/template/parse` grammar and error messages, and
//! the parse tree the executor walks.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use crate::FastMap;
use crate::error::{Error, ParseError};
use crate::lex::{Item, ItemType, LexOptions, lex_into};
use crate::strconv;

/// Maximum nesting of parentheses, and of control structures, accepted by
/// the parser (Go allows 10000 parentheses). The parser also stops when it
/// has used `Limits::max_stack_bytes` of native stack.
pub(crate) const MAX_PARSE_DEPTH: usize = 1000;

/// One parsed template (a file's top level, or a `define`/`block`).
#[derive(Debug)]
pub(crate) struct Tree {
    pub name: Arc<str>,
    pub parse_name: Arc<str>,
    pub text: Arc<str>,
    pub root: ListNode,
}

/// A list of nodes. (Parse trees live through the render: the lists, like every list of the
/// tree, are boxed slices, without spare capacity.)
#[derive(Debug)]
pub(crate) struct ListNode {
    pub nodes: Box<[Node]>,
}

#[derive(Debug)]
pub(crate) enum Node {
    /// Text of the tree's source, `start..end` (the bytes of `Tree::text`: no copy).
    Text {
        start: u32,
        end: u32,
    },
    Action(ActionNode),
    If(Box<BranchNode>),
    With(Box<BranchNode>),
    Range(Box<BranchNode>),
    Template(Box<TemplateNode>),
    Break(usize),
    Continue(usize),
}

/// An action's position is its pipeline's (both are its first token's).
#[derive(Debug)]
pub(crate) struct ActionNode {
    pub pipe: PipeNode,
}

/// `if`, `with` and `range`; its position is its pipeline's.
#[derive(Debug)]
pub(crate) struct BranchNode {
    pub pipe: PipeNode,
    pub list: ListNode,
    pub else_list: Option<ListNode>,
}

#[derive(Debug)]
pub(crate) struct TemplateNode {
    pub pos: u32,
    pub name: Arc<str>,
    pub pipe: Option<PipeNode>,
}

#[derive(Debug)]
pub(crate) struct PipeNode {
    pub pos: u32,
    pub is_assign: bool,
    pub decl: Box<[VariableNode]>,
    pub cmds: Box<[CommandNode]>,
}

/// A variable and the fields chained to it: `$x.a.b` (its `ident`) names `$x`, then `a`, `b`.
#[derive(Debug)]
pub(crate) struct VariableNode {
    pub pos: u32,
    pub ident: Sym,
}

/// A name in the source (a function's), or names separated by dots (a variable or field and
/// the fields chained to it: the lexer makes chained fields adjacent, so they are one run of
/// the source): the bytes `start..end` of its tree's text. Not a string of its own: nothing
/// to allocate, count or free per name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sym {
    start: u32,
    end: u32,
}

impl Sym {
    pub(crate) fn new(start: u32, end: u32) -> Sym {
        Sym { start, end }
    }

    /// The name (or dotted names), from the text of the tree it is in.
    pub fn of(self, src: &str) -> &str {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// The same start, up to `end`: the names chained up to there.
    fn up_to(self, end: u32) -> Sym {
        Sym {
            start: self.start,
            end,
        }
    }
}

#[derive(Debug)]
pub(crate) struct CommandNode {
    pub pos: u32,
    pub args: Box<[Arg]>,
}

#[derive(Debug)]
pub(crate) struct NumberNode {
    pub pos: u32,
    pub text: Arc<str>,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int64: i64,
    pub uint64: u64,
    pub float64: f64,
    pub complex: (f64, f64),
}

/// An operand of a command. (Positions are `u32`, which keeps `Arg` at 32 bytes: the lexer
/// refuses texts whose offsets don't fit.)
#[derive(Debug)]
pub(crate) enum Arg {
    Bool(u32, bool),
    Dot(u32),
    Nil(u32),
    Number(Box<NumberNode>),
    /// A string constant. `quoted` is its source form (Go's `StringNode.Quoted`) when that
    /// differs from `"value"` / `` `value` `` (`raw`), which is the common case and not stored.
    String {
        pos: u32,
        raw: bool,
        // a thin pointer (8 bytes, not a `Box<str>`'s 16) keeps `Arg` at 32 bytes
        #[allow(clippy::box_collection)]
        quoted: Option<Box<String>>,
        value: Arc<str>,
    },
    /// `.a.b.c`: `ident` is `a.b.c`.
    Field {
        pos: u32,
        ident: Sym,
    },
    Variable(VariableNode),
    Identifier {
        pos: u32,
        name: Sym,
    },
    Chain {
        pos: u32,
        node: Box<Arg>,
        /// `(x).a.b`: `a.b`.
        field: Sym,
    },
    Pipe(Box<PipeNode>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        (match self {
            Arg::Bool(p, _) | Arg::Dot(p) | Arg::Nil(p) => *p,
            Arg::Number(n) => n.pos,
            Arg::String { pos, .. } => *pos,
            Arg::Field { pos, .. } | Arg::Identifier { pos, .. } | Arg::Chain { pos, .. } => *pos,
            Arg::Variable(v) => v.pos,
            Arg::Pipe(p) => p.pos,
        }) as usize
    }
}

impl Node {
    /// Byte offset of the node in its tree's source (0 for text, as Go's executor reports).
    pub fn pos(&self) -> usize {
        match self {
            Node::Text { .. } => 0,
            Node::Action(a) => a.pipe.pos as usize,
            Node::If(b) | Node::With(b) | Node::Range(b) => b.pipe.pos as usize,
            Node::Template(t) => t.pos as usize,
            Node::Break(p) | Node::Continue(p) => *p,
        }
    }
}

// ---- Go's String() forms, used in error contexts ----

impl fmt::Display for WithSource<'_, VariableNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.ident.of(self.1))
    }
}

impl fmt::Display for WithSource<'_, Arg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = self.1;
        match self.0 {
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::String {
                quoted: Some(q), ..
            } => f.write_str(q),
            Arg::String { raw, value, .. } => {
                let q = if *raw { '`' } else { '"' };
                write!(f, "{q}{value}{q}")
            }
            Arg::Field { ident, .. } => write!(f, ".{}", ident.of(src)),
            Arg::Variable(v) => write!(f, "{}", WithSource(v, src)),
            Arg::Identifier { name, .. } => f.write_str(name.of(src)),
            Arg::Chain { node, field, .. } => {
                if let Arg::Pipe(p) = &**node {
                    write!(f, "({})", WithSource(&**p, src))?;
                } else {
                    write!(f, "{}", WithSource(&**node, src))?;
                }
                write!(f, ".{}", field.of(src))
            }
            Arg::Pipe(p) => write!(f, "{}", WithSource(&**p, src)),
        }
    }
}

impl fmt::Display for WithSource<'_, CommandNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.args.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({})", WithSource(&**p, self.1))?;
            } else {
                write!(f, "{}", WithSource(a, self.1))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for WithSource<'_, PipeNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pipe = self.0;
        if !pipe.decl.is_empty() {
            for (i, v) in pipe.decl.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", WithSource(v, self.1))?;
            }
            f.write_str(if pipe.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in pipe.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{}", WithSource(c, self.1))?;
        }
        Ok(())
    }
}

/// A node or list with the source its text nodes and names point into, to print as Go's
/// `String()`.
pub(crate) struct WithSource<'a, T>(pub &'a T, pub &'a str);

impl fmt::Display for WithSource<'_, ListNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.0.nodes {
            write!(f, "{}", WithSource(n, self.1))?;
        }
        Ok(())
    }
}

impl fmt::Display for WithSource<'_, Node> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = self.1;
        match self.0 {
            Node::Text { start, end } => {
                f.write_str(src.get(*start as usize..*end as usize).unwrap_or_default())
            }
            Node::Action(a) => write!(f, "{{{{{}}}}}", WithSource(&a.pipe, src)),
            Node::If(b) => b.write("if", src, f),
            Node::With(b) => b.write("with", src, f),
            Node::Range(b) => b.write("range", src, f),
            Node::Template(t) => write!(f, "{}", WithSource(&**t, src)),
            Node::Break(_) => f.write_str("{{break}}"),
            Node::Continue(_) => f.write_str("{{continue}}"),
        }
    }
}

impl BranchNode {
    fn write(&self, name: &str, src: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{{{{name} {}}}}}{}",
            WithSource(&self.pipe, src),
            WithSource(&self.list, src)
        )?;
        if let Some(e) = &self.else_list {
            write!(f, "{{{{else}}}}{}", WithSource(e, src))?;
        }
        f.write_str("{{end}}")
    }
}

impl fmt::Display for WithSource<'_, TemplateNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = crate::gofmt::quote(&self.0.name);
        match &self.0.pipe {
            None => write!(f, "{{{{template {q}}}}}"),
            Some(p) => write!(f, "{{{{template {q} {}}}}}", WithSource(p, self.1)),
        }
    }
}

impl Tree {
    pub fn is_empty(&self) -> bool {
        self.root.nodes.iter().all(|n| match n {
            Node::Text { start, end } => self
                .text
                .get(*start as usize..*end as usize)
                .unwrap_or_default()
                .trim_matches(|c: char| c.is_whitespace())
                .is_empty(),
            _ => false,
        })
    }
}

// ---- the parser ----

enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self, src: &str) -> String {
        match self {
            Parsed::Node(n) => WithSource(n, src).to_string(),
            Parsed::End => "{{end}}".into(),
            Parsed::Else => "{{else}}".into(),
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    items: Vec<Item>,
    idx: usize,
    hi: usize,
    parse_name: Arc<str>,
    text: Arc<str>,
    has_func: &'a dyn Fn(&str) -> bool,
    /// The message of the lexer's error item, if lexing stopped at one.
    lex_error: String,
    /// One shared copy of each identifier and string the template repeats.
    interned: FastMap<&'a str, Arc<str>>,
    vars: Vec<&'a str>,
    /// Where the action being parsed started (its line is worked out only for an error).
    action_start: Option<Item>,
    range_depth: usize,
    depth: usize,
    stack_base: usize,
    max_stack: usize,
    tree_set: FastMap<Arc<str>, Arc<Tree>>,
    /// Stacks the lists being parsed grow on (nested ones above their parents'): a finished
    /// list moves to an allocation of its exact size, once.
    node_stack: Vec<Node>,
    cmd_stack: Vec<CommandNode>,
    arg_stack: Vec<Arg>,
}

fn stack_addr() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

type PResult<T> = Result<T, Error>;

/// The most tokens whose buffer a thread keeps for its next parse (16 bytes each).
const KEPT_ITEMS: usize = 1 << 16;

thread_local! {
    /// The token buffer of this thread's last parse, reused by the next: a chart's templates
    /// parse one after the other on a few threads, and growing a buffer anew for each was
    /// a good part of the lexer's time.
    static ITEMS: std::cell::Cell<Vec<Item>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Parses `text` under `name`, returning every tree it defines (the top
/// level included), like Go's `parse.Parse`.
pub(crate) fn parse(
    name: &str,
    shared: Arc<str>,
    has_func: &dyn Fn(&str) -> bool,
    max_stack: usize,
) -> PResult<FastMap<Arc<str>, Arc<Tree>>> {
    let text: &str = &shared;
    let lexed = lex_into(
        text,
        LexOptions {
            break_ok: !has_func("break"),
            continue_ok: !has_func("continue"),
        },
        ITEMS.take(),
    );
    let name: Arc<str> = name.into();
    let mut p = Parser {
        src: text,
        items: lexed.items,
        lex_error: lexed.error,
        interned: FastMap::default(),
        idx: 0,
        hi: 0,
        parse_name: name.clone(),
        text: shared.clone(),
        has_func,
        vars: vec!["$"],
        action_start: None,
        range_depth: 0,
        depth: 0,
        stack_base: stack_addr(),
        max_stack,
        tree_set: FastMap::default(),
        node_stack: Vec::new(),
        cmd_stack: Vec::new(),
        arg_stack: Vec::new(),
    };
    let parsed = p.parse_top().and_then(|root| {
        let tree = Tree {
            name: name.clone(),
            parse_name: name,
            text: p.text.clone(),
            root,
        };
        p.add(tree)
    });
    if p.items.capacity() <= KEPT_ITEMS {
        ITEMS.set(std::mem::take(&mut p.items));
    }
    parsed.map(|()| p.tree_set)
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Item {
        let i = self.idx.min(self.items.len() - 1);
        self.idx = i + 1;
        if self.idx > self.hi {
            self.hi = self.idx;
        }
        self.items[i]
    }

    /// `s` as a shared string, allocated once per distinct text in this template.
    fn intern(&mut self, s: &'a str) -> Arc<str> {
        // long strings (embedded scripts, dashboards) rarely repeat: not worth hashing
        if s.len() > 64 {
            return s.into();
        }
        self.interned.entry(s).or_insert_with(|| s.into()).clone()
    }

    fn backup(&mut self) {
        self.idx -= 1;
    }

    fn peek(&mut self) -> Item {
        let t = self.next();
        self.backup();
        t
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn errorf(&self, msg: impl Into<String>) -> Error {
        let line = self
            .items
            .get(self.hi.saturating_sub(1))
            .map(|t| t.line(self.src))
            .unwrap_or(1);
        Error::Parse(Box::new(ParseError {
            name: self.parse_name.to_string(),
            line,
            message: msg.into(),
        }))
    }

    fn unexpected(&self, token: &Item, context: &str) -> Error {
        if token.typ == ItemType::Error {
            let val = self.lex_error.as_str();
            let mut extra = String::new();
            let action_line = self.action_start.map_or(0, |t| t.line(self.src));
            if action_line != 0 && action_line != token.line(self.src) {
                extra = format!(" in action started at {}:{}", self.parse_name, action_line);
                if val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{val}{extra}"));
        }
        self.errorf(format!(
            "unexpected {} in {}",
            token.describe(self.src),
            context
        ))
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> PResult<Item> {
        let t = self.next_non_space();
        if t.typ != expected {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn add(&mut self, tree: Tree) -> PResult<()> {
        match self.tree_set.get(&tree.name) {
            Some(old) if !old.is_empty() => {
                if !tree.is_empty() {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        crate::gofmt::quote(&tree.name)
                    )));
                }
            }
            _ => {
                self.tree_set.insert(tree.name.clone(), Arc::new(tree));
            }
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<ListNode> {
        let mark = self.node_stack.len();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let save = self.idx;
                self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = save;
            }
            match self.text_or_action()? {
                p @ (Parsed::End | Parsed::Else) => {
                    return Err(self.errorf(format!("unexpected {}", p.describe(self.src))));
                }
                Parsed::Node(n) => self.node_stack.push(n),
            }
        }
        Ok(ListNode {
            nodes: self.node_stack.drain(mark..).collect(),
        })
    }

    fn with_fresh_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let vars = std::mem::replace(&mut self.vars, vec!["$"]);
        let rd = std::mem::replace(&mut self.range_depth, 0);
        let r = f(self);
        self.vars = vars;
        self.range_depth = rd;
        r
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let name_tok = self.next_non_space();
        if !matches!(name_tok.typ, ItemType::String | ItemType::RawString) {
            return Err(self.unexpected(&name_tok, CONTEXT));
        }
        let name = strconv::unquote(name_tok.val(self.src))
            .ok_or_else(|| self.errorf("invalid syntax"))?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let (root, end) = self.with_fresh_scope(|p| p.item_list())?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!(
                "unexpected {} in {}",
                end.describe(self.src),
                CONTEXT
            )));
        }
        let tree = Tree {
            name: name.into(),
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root,
        };
        self.add(tree)
    }

    fn item_list(&mut self) -> PResult<(ListNode, Parsed)> {
        let mark = self.node_stack.len();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => self.node_stack.push(n),
                p => {
                    let nodes = self.node_stack.drain(mark..).collect();
                    return Ok((ListNode { nodes }, p));
                }
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                start: t.pos() as u32,
                end: (t.pos() + t.val(self.src).len()) as u32,
            })),
            ItemType::LeftDelim => {
                self.action_start = Some(t);
                let r = self.action();
                self.action_start = None;
                r
            }
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Block => return self.block_control(),
            ItemType::Break => return self.break_control(t.pos(), true),
            ItemType::Continue => return self.break_control(t.pos(), false),
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return Ok(Parsed::Node(Node::If(self.parse_control("if")?))),
            ItemType::Range => {
                return Ok(Parsed::Node(Node::Range(self.parse_control("range")?)));
            }
            ItemType::Template => return self.template_control(),
            ItemType::With => return Ok(Parsed::Node(Node::With(self.parse_control("with")?))),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action(ActionNode { pipe })))
    }

    fn break_control(&mut self, pos: usize, is_break: bool) -> PResult<Parsed> {
        let name = if is_break {
            "{{break}}"
        } else {
            "{{continue}}"
        };
        let t = self.next_non_space();
        if t.typ != ItemType::RightDelim {
            return Err(self.unexpected(&t, name));
        }
        if self.range_depth == 0 {
            return Err(self.errorf(format!("{name} outside {{{{range}}}}")));
        }
        Ok(Parsed::Node(if is_break {
            Node::Break(pos)
        } else {
            Node::Continue(pos)
        }))
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else);
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn too_deep(&self) -> bool {
        self.depth >= MAX_PARSE_DEPTH || self.stack_base.abs_diff(stack_addr()) > self.max_stack
    }

    fn parse_control(&mut self, context: &str) -> PResult<Box<BranchNode>> {
        if self.too_deep() {
            return Err(self.errorf("max expression depth exceeded"));
        }
        self.depth += 1;
        let nvars = self.vars.len();
        let r = self.parse_control_inner(context);
        self.vars.truncate(nvars);
        self.depth -= 1;
        r
    }

    fn parse_control_inner(&mut self, context: &str) -> PResult<Box<BranchNode>> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        match next {
            Parsed::End => {}
            Parsed::Else => {
                let pk = self.peek();
                if context == "if" && pk.typ == ItemType::If {
                    self.next();
                    let inner = self.parse_control("if")?;
                    else_list = Some(ListNode {
                        nodes: Box::new([Node::If(inner)]),
                    });
                } else if context == "with" && pk.typ == ItemType::With {
                    self.next();
                    let inner = self.parse_control("with")?;
                    else_list = Some(ListNode {
                        nodes: Box::new([Node::With(inner)]),
                    });
                } else {
                    let (l, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return Err(
                            self.errorf(format!("expected end; found {}", next.describe(self.src)))
                        );
                    }
                    else_list = Some(l);
                }
            }
            Parsed::Node(_) => unreachable!("item_list stops at end or else"),
        }
        Ok(Box::new(BranchNode {
            pipe,
            list,
            else_list,
        }))
    }

    fn parse_template_name(&mut self, t: &Item, context: &str) -> PResult<Arc<str>> {
        match t.typ {
            ItemType::String | ItemType::RawString => strconv::unquote(t.val(self.src))
                .map(Into::into)
                .ok_or_else(|| self.errorf("invalid syntax")),
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn block_control(&mut self) -> PResult<Parsed> {
        const CONTEXT: &str = "block clause";
        let t = self.next_non_space();
        let name = self.parse_template_name(&t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let (root, end) = self.with_fresh_scope(|p| p.item_list())?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!(
                "unexpected {} in {}",
                end.describe(self.src),
                CONTEXT
            )));
        }
        let tree = Tree {
            name: name.clone(),
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root,
        };
        self.add(tree)?;
        Ok(Parsed::Node(Node::Template(Box::new(TemplateNode {
            pos: t.pos() as u32,
            name,
            pipe: Some(pipe),
        }))))
    }

    fn template_control(&mut self) -> PResult<Parsed> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = self.parse_template_name(&t, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Parsed::Node(Node::Template(Box::new(TemplateNode {
            pos: t.pos() as u32,
            name,
            pipe,
        }))))
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<PipeNode> {
        let t = self.peek_non_space();
        let pos = t.pos() as u32;
        let mut is_assign = false;
        let mut decl = Vec::new();
        let mark = self.cmd_stack.len();
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            let save = self.idx;
            self.next_non_space();
            let token_after = self.peek();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                decl.reserve_exact(1); // boxed below: no spare room
                decl.push(VariableNode {
                    pos: v.pos() as u32,
                    ident: v.sym(0),
                });
                self.vars.push(v.val(self.src));
                break;
            } else if next.typ == ItemType::Char && next.val(self.src) == "," {
                self.next_non_space();
                decl.reserve_exact(1); // boxed below: no spare room
                decl.push(VariableNode {
                    pos: v.pos() as u32,
                    ident: v.sym(0),
                });
                self.vars.push(v.val(self.src));
                if context == "range" && decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue;
                        }
                        _ => return Err(self.errorf("range can only initialize variables")),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else {
                let _ = token_after;
                self.idx = save;
                break;
            }
        }
        loop {
            let t = self.next_non_space();
            if t.typ == end {
                let pipe = PipeNode {
                    pos,
                    is_assign,
                    decl: decl.into_boxed_slice(),
                    cmds: self.cmd_stack.drain(mark..).collect(),
                };
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    self.cmd_stack.push(cmd);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &PipeNode, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(_) | Arg::String { .. }
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<CommandNode> {
        let pos = self.peek_non_space().pos() as u32;
        let mark = self.arg_stack.len();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                self.arg_stack.push(op);
            }
            let t = self.next();
            match t.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if self.arg_stack.len() == mark {
            return Err(self.errorf("empty command"));
        }
        Ok(CommandNode {
            pos,
            args: self.arg_stack.drain(mark..).collect(),
        })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos() as u32;
        // the names after the first field's dot, up to the end of the last field (the lexer
        // emits chained fields back to back, and right after the term they follow)
        let fields = self.next().sym(1);
        let mut end = fields.end;
        while self.peek().typ == ItemType::Field {
            end = self.next().sym(1).end;
        }
        Ok(Some(match node {
            Arg::Field { ident, .. } => Arg::Field {
                pos: chain_pos,
                ident: ident.up_to(end),
            },
            Arg::Variable(v) => Arg::Variable(VariableNode {
                pos: chain_pos,
                ident: v.ident.up_to(end),
            }),
            n @ (Arg::Bool(..)
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil(_)
            | Arg::Dot(_)) => {
                let s = WithSource(&n, self.src).to_string();
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::gofmt::quote(&s)
                )));
            }
            n => Arg::Chain {
                pos: chain_pos,
                node: Box::new(n),
                field: fields.up_to(end),
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let val = t.val(self.src);
        Ok(Some(match t.typ {
            ItemType::Identifier => {
                if !(self.has_func)(val) {
                    return Err(
                        self.errorf(format!("function {} not defined", crate::gofmt::quote(val)))
                    );
                }
                Arg::Identifier {
                    pos: t.pos() as u32,
                    name: t.sym(0),
                }
            }
            ItemType::Dot => Arg::Dot(t.pos() as u32),
            ItemType::Nil => Arg::Nil(t.pos() as u32),
            ItemType::Variable => {
                let name = val.split('.').next().unwrap_or(val);
                if !self.vars.contains(&name) {
                    return Err(
                        self.errorf(format!("undefined variable {}", crate::gofmt::quote(name)))
                    );
                }
                Arg::Variable(VariableNode {
                    pos: t.pos() as u32,
                    ident: t.sym(0),
                })
            }
            ItemType::Field => Arg::Field {
                pos: t.pos() as u32,
                ident: t.sym(1),
            },
            ItemType::Bool => Arg::Bool(t.pos() as u32, val == "true"),
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let n = new_number(t.pos() as u32, val, t.typ).map_err(|e| self.errorf(e))?;
                Arg::Number(Box::new(n))
            }
            ItemType::LeftParen => {
                if self.too_deep() {
                    return Err(self.errorf("max expression depth exceeded"));
                }
                self.depth += 1;
                let r = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(r?))
            }
            ItemType::String | ItemType::RawString => {
                let raw = t.typ == ItemType::RawString;
                let inner = &val[1..val.len() - 1];
                // the lexer ends a quoted string at its first unescaped quote or newline: without
                // a backslash (a `\r` for raw strings) the value is the text between the quotes
                let escape = if raw { b'\r' } else { b'\\' };
                if memchr::memchr(escape, inner.as_bytes()).is_none() {
                    Arg::String {
                        pos: t.pos() as u32,
                        raw,
                        quoted: None,
                        value: self.intern(inner),
                    }
                } else {
                    let s = strconv::unquote(val).ok_or_else(|| self.errorf("invalid syntax"))?;
                    Arg::String {
                        pos: t.pos() as u32,
                        raw,
                        quoted: Some(Box::new(val.to_string())),
                        value: s.into(),
                    }
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

fn new_number(pos: u32, text: &str, typ: ItemType) -> Result<NumberNode, String> {
    let mut n = NumberNode {
        pos,
        text: text.into(),
        is_int: false,
        is_uint: false,
        is_float: false,
        is_complex: false,
        int64: 0,
        uint64: 0,
        float64: 0.0,
        complex: (0.0, 0.0),
    };
    match typ {
        ItemType::CharConstant => {
            let r = strconv::unquote_rune(text)?;
            let v = r as u32;
            n.int64 = v as i64;
            n.is_int = true;
            n.uint64 = v as u64;
            n.is_uint = true;
            n.float64 = v as f64;
            n.is_float = true;
            return Ok(n);
        }
        ItemType::Complex => {
            let (re, im) = parse_complex(text).ok_or_else(|| "expected integer".to_string())?;
            n.is_complex = true;
            n.complex = (re, im);
            simplify_complex(&mut n);
            return Ok(n);
        }
        _ => {}
    }
    if let Some(t) = text.strip_suffix('i')
        && let Some(f) = strconv::parse_float(t)
    {
        n.is_complex = true;
        n.complex = (0.0, f);
        simplify_complex(&mut n);
        return Ok(n);
    }
    let u = strconv::parse_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.uint64 = u;
    }
    if let Some(i) = strconv::parse_int(text) {
        n.is_int = true;
        n.int64 = i;
        if i == 0 {
            n.is_uint = true;
            n.uint64 = u.unwrap_or(0);
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float64 = n.int64 as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float64 = n.uint64 as f64;
    } else if let Some(f) = strconv::parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", crate::gofmt::quote(text)));
        }
        n.is_float = true;
        n.float64 = f;
        if !n.is_int && (f as i64) as f64 == f && f.fract() == 0.0 && f.abs() < 9.3e18 {
            n.is_int = true;
            n.int64 = f as i64;
        }
        if !n.is_uint && f >= 0.0 && (f as u64) as f64 == f && f.fract() == 0.0 && f < 1.85e19 {
            n.is_uint = true;
            n.uint64 = f as u64;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            crate::gofmt::quote(text)
        ));
    }
    Ok(n)
}

fn simplify_complex(n: &mut NumberNode) {
    n.is_float = n.complex.1 == 0.0;
    if n.is_float {
        let f = n.complex.0;
        n.float64 = f;
        n.is_int = f.fract() == 0.0 && f.abs() < 9.3e18;
        if n.is_int {
            n.int64 = f as i64;
        }
        n.is_uint = f >= 0.0 && f.fract() == 0.0 && f < 1.85e19;
        if n.is_uint {
            n.uint64 = f as u64;
        }
    }
}

/// Parses `1+2i` / `-1.5-2e3i` (what the lexer calls a complex constant).
fn parse_complex(text: &str) -> Option<(f64, f64)> {
    let body = text.strip_suffix('i')?;
    // Split at the last sign that is not the first char and not after 'e'/'p'.
    let b = body.as_bytes();
    let mut split = None;
    for i in (1..b.len()).rev() {
        if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1] | 0x20, b'e' | b'p') {
            split = Some(i);
            break;
        }
    }
    let i = split?;
    let re = strconv::parse_float(&body[..i])?;
    let im = strconv::parse_float(&body[i..])?;
    Some((re, im))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_stay_small() {
        // a big chart's parse tree is hundreds of thousands of these
        assert!(size_of::<Arg>() <= 32, "Arg is {} bytes", size_of::<Arg>());
        assert!(
            size_of::<Node>() <= 48,
            "Node is {} bytes",
            size_of::<Node>()
        );
        assert!(
            size_of::<Item>() <= 16,
            "Item is {} bytes",
            size_of::<Item>()
        );
    }

    /// The top-level tree of `src` parsed as template `t`, every function defined.
    fn top_tree(src: &str) -> Arc<Tree> {
        let t = parse("t", src.into(), &|_| true, 1 << 20).expect("parses");
        t[&Arc::from("t")].clone()
    }

    #[test]
    fn text_nodes_are_ranges_of_the_source_and_print_as_go_prints_them() {
        let src = "a {{- if .x }} b\u{e9} {{ else -}} c{{ range $i, $v := .l }}{{ $v }}-{{ end }}{{ end }}\n";
        let tree = &top_tree(src);
        // Go's `String()`: trimmed text as the lexer cut it, actions in canonical form
        assert_eq!(
            WithSource(&tree.root, &tree.text).to_string(),
            "a{{if .x}} b\u{e9} {{else}}c{{range $i, $v := .l}}{{$v}}-{{end}}{{end}}\n"
        );
        let Node::Text { start, end } = tree.root.nodes[0] else {
            panic!("text first")
        };
        assert_eq!(&src[start as usize..end as usize], "a");
    }

    #[test]
    fn names_are_ranges_of_the_source_and_print_as_go_prints_them() {
        let src = "{{ $x := .Values.a.b }}{{ (print .c).d.e }}{{ $x.f.g | quote }}";
        let tree = &top_tree(src);
        assert_eq!(
            WithSource(&tree.root, &tree.text).to_string(),
            "{{$x := .Values.a.b}}{{(print .c).d.e}}{{$x.f.g | quote}}"
        );
        let args = |n: usize| match &tree.root.nodes[n] {
            Node::Action(a) => &a.pipe,
            _ => panic!("an action"),
        };
        assert_eq!(args(0).decl[0].ident.of(src), "$x");
        let Arg::Field { ident, .. } = &args(0).cmds[0].args[0] else {
            panic!("a field")
        };
        assert_eq!(ident.of(src), "Values.a.b");
        let Arg::Chain { field, .. } = &args(1).cmds[0].args[0] else {
            panic!("a chain")
        };
        assert_eq!(field.of(src), "d.e");
        let Arg::Variable(v) = &args(2).cmds[0].args[0] else {
            panic!("a variable")
        };
        assert_eq!(v.ident.of(src), "$x.f.g");
        let Arg::Identifier { name, .. } = &args(2).cmds[1].args[0] else {
            panic!("a function")
        };
        assert_eq!(name.of(src), "quote");
    }

    #[test]
    fn string_constants_print_as_written() {
        let tree = &top_tree(r#"{{print "a\tb" `c` "d" `e\f`}}"#);
        let Node::Action(a) = &tree.root.nodes[0] else {
            panic!("an action")
        };
        assert_eq!(
            WithSource(&a.pipe, &tree.text).to_string(),
            r#"print "a\tb" `c` "d" `e\f`"#
        );
        let vals: Vec<_> = a.pipe.cmds[0].args[1..]
            .iter()
            .map(|a| match a {
                Arg::String { value, .. } => value.to_string(),
                _ => panic!("a string"),
            })
            .collect();
        assert_eq!(vals, ["a\tb", "c", "d", "e\\f"]);
    }
}
