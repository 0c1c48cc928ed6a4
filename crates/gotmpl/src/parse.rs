//! The parser: Go's `text/template/parse` grammar and error messages, and
//! the parse tree the executor walks.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;
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
    /// The nodes of every tree parsed from `text` (its top level and its definitions).
    pub arena: Arc<Arena>,
    pub root: ListNode,
}

/// A run of `T`s of an [`Arena`]: where it starts and how many.
pub(crate) struct Span<T> {
    start: u32,
    len: u32,
    _of: PhantomData<fn() -> T>,
}

impl<T> Clone for Span<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Span<T> {}

impl<T> fmt::Debug for Span<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..+{}", self.start, self.len)
    }
}

impl<T> Span<T> {
    const EMPTY: Span<T> = Span {
        start: 0,
        len: 0,
        _of: PhantomData,
    };

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One `T` of an [`Arena`].
pub(crate) struct Idx<T> {
    at: u32,
    _of: PhantomData<fn() -> T>,
}

impl<T> Clone for Idx<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Idx<T> {}

impl<T> fmt::Debug for Idx<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.at)
    }
}

/// The nodes of one parsed text, kind by kind, each list of a tree a run of its vector:
/// a text's trees are a few allocations, not one per node, so they are quick to build,
/// walk and free.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    nodes: Vec<Node>,
    branches: Vec<BranchNode>,
    templates: Vec<TemplateNode>,
    pipes: Vec<PipeNode>,
    cmds: Vec<CommandNode>,
    args: Vec<Arg>,
    vars: Vec<VariableNode>,
    numbers: Vec<NumberNode>,
}

/// The vector of an [`Arena`] that holds `T`s.
pub(crate) trait Holds<T> {
    fn all(&self) -> &Vec<T>;
    fn all_mut(&mut self) -> &mut Vec<T>;
}

macro_rules! holds {
    ($($t:ty => $f:ident),* $(,)?) => {$(
        impl Holds<$t> for Arena {
            fn all(&self) -> &Vec<$t> {
                &self.$f
            }
            fn all_mut(&mut self) -> &mut Vec<$t> {
                &mut self.$f
            }
        }
    )*};
}

holds!(
    Node => nodes,
    BranchNode => branches,
    TemplateNode => templates,
    PipeNode => pipes,
    CommandNode => cmds,
    Arg => args,
    VariableNode => vars,
    NumberNode => numbers,
);

impl Arena {
    /// The run `s`.
    pub fn list<T>(&self, s: Span<T>) -> &[T]
    where
        Self: Holds<T>,
    {
        let start = s.start as usize;
        self.all()
            .get(start..start + s.len as usize)
            .unwrap_or_default()
    }

    /// The node `i`.
    pub fn at<T>(&self, i: Idx<T>) -> &T
    where
        Self: Holds<T>,
    {
        &self.all()[i.at as usize]
    }

    /// Moves `items` to the end of the arena, as one run.
    fn push_list<T>(&mut self, items: impl Iterator<Item = T>) -> Span<T>
    where
        Self: Holds<T>,
    {
        let v = self.all_mut();
        let start = v.len();
        v.extend(items);
        Span {
            // the lexer refuses texts of 4 GiB or more: no text has more nodes than bytes
            start: start as u32,
            len: (v.len() - start) as u32,
            _of: PhantomData,
        }
    }

    fn push<T>(&mut self, item: T) -> Idx<T>
    where
        Self: Holds<T>,
    {
        let v = self.all_mut();
        v.push(item);
        Idx {
            at: (v.len() - 1) as u32,
            _of: PhantomData,
        }
    }
}

/// A list of nodes: a run of its tree's arena.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListNode {
    pub nodes: Span<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    /// Text of the tree's source, `start..end` (the bytes of `Tree::text`: no copy).
    Text {
        start: u32,
        end: u32,
    },
    Action(ActionNode),
    If(Idx<BranchNode>),
    With(Idx<BranchNode>),
    Range(Idx<BranchNode>),
    Template(Idx<TemplateNode>),
    Break(u32),
    Continue(u32),
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
    pub decl: Span<VariableNode>,
    pub cmds: Span<CommandNode>,
}

/// A variable and the fields chained to it: `$x.a.b` (its `ident`) names `$x`, then `a`, `b`.
#[derive(Debug, Clone, Copy)]
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
    pub args: Span<Arg>,
}

#[derive(Debug)]
pub(crate) struct NumberNode {
    pub pos: u32,
    /// The constant as written.
    pub text: Sym,
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
    Number(Idx<NumberNode>),
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
        node: Idx<Arg>,
        /// `(x).a.b`: `a.b`.
        field: Sym,
    },
    Pipe(Idx<PipeNode>),
}

impl Arg {
    pub fn pos(&self, arena: &Arena) -> usize {
        (match self {
            Arg::Bool(p, _) | Arg::Dot(p) | Arg::Nil(p) => *p,
            Arg::Number(n) => arena.at(*n).pos,
            Arg::String { pos, .. } => *pos,
            Arg::Field { pos, .. } | Arg::Identifier { pos, .. } | Arg::Chain { pos, .. } => *pos,
            Arg::Variable(v) => v.pos,
            Arg::Pipe(p) => arena.at(*p).pos,
        }) as usize
    }
}

impl Node {
    /// Byte offset of the node in its tree's source (0 for text, as Go's executor reports).
    pub fn pos(&self, arena: &Arena) -> usize {
        match self {
            Node::Text { .. } => 0,
            Node::Action(a) => a.pipe.pos as usize,
            Node::If(b) | Node::With(b) | Node::Range(b) => arena.at(*b).pipe.pos as usize,
            Node::Template(t) => arena.at(*t).pos as usize,
            Node::Break(p) | Node::Continue(p) => *p as usize,
        }
    }
}

// ---- Go's String() forms, used in error contexts ----

/// A tree's source text and node arena: what its nodes' names, texts and lists point into.
#[derive(Clone, Copy)]
pub(crate) struct Src<'a> {
    pub text: &'a str,
    pub arena: &'a Arena,
}

impl Tree {
    pub fn src(&self) -> Src<'_> {
        Src {
            text: &self.text,
            arena: &self.arena,
        }
    }
}

impl fmt::Display for WithSource<'_, VariableNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.ident.of(self.1.text))
    }
}

impl fmt::Display for WithSource<'_, Arg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = self.1;
        match self.0 {
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Number(n) => f.write_str(src.arena.at(*n).text.of(src.text)),
            Arg::String {
                quoted: Some(q), ..
            } => f.write_str(q),
            Arg::String { raw, value, .. } => {
                let q = if *raw { '`' } else { '"' };
                write!(f, "{q}{value}{q}")
            }
            Arg::Field { ident, .. } => write!(f, ".{}", ident.of(src.text)),
            Arg::Variable(v) => write!(f, "{}", WithSource(v, src)),
            Arg::Identifier { name, .. } => f.write_str(name.of(src.text)),
            Arg::Chain { node, field, .. } => {
                let node = src.arena.at(*node);
                if let Arg::Pipe(p) = node {
                    write!(f, "({})", WithSource(src.arena.at(*p), src))?;
                } else {
                    write!(f, "{}", WithSource(node, src))?;
                }
                write!(f, ".{}", field.of(src.text))
            }
            Arg::Pipe(p) => write!(f, "{}", WithSource(src.arena.at(*p), src)),
        }
    }
}

impl fmt::Display for WithSource<'_, CommandNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = self.1;
        for (i, a) in src.arena.list(self.0.args).iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({})", WithSource(src.arena.at(*p), src))?;
            } else {
                write!(f, "{}", WithSource(a, src))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for WithSource<'_, PipeNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pipe = self.0;
        let src = self.1;
        if !pipe.decl.is_empty() {
            for (i, v) in src.arena.list(pipe.decl).iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", WithSource(v, src))?;
            }
            f.write_str(if pipe.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in src.arena.list(pipe.cmds).iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{}", WithSource(c, src))?;
        }
        Ok(())
    }
}

/// A node or list with the source its text nodes and names point into, to print as Go's
/// `String()`.
pub(crate) struct WithSource<'a, T>(pub &'a T, pub Src<'a>);

impl fmt::Display for WithSource<'_, ListNode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in self.1.arena.list(self.0.nodes) {
            write!(f, "{}", WithSource(n, self.1))?;
        }
        Ok(())
    }
}

impl fmt::Display for WithSource<'_, Node> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = self.1;
        match self.0 {
            Node::Text { start, end } => f.write_str(
                src.text
                    .get(*start as usize..*end as usize)
                    .unwrap_or_default(),
            ),
            Node::Action(a) => write!(f, "{{{{{}}}}}", WithSource(&a.pipe, src)),
            Node::If(b) => src.arena.at(*b).write("if", src, f),
            Node::With(b) => src.arena.at(*b).write("with", src, f),
            Node::Range(b) => src.arena.at(*b).write("range", src, f),
            Node::Template(t) => write!(f, "{}", WithSource(src.arena.at(*t), src)),
            Node::Break(_) => f.write_str("{{break}}"),
            Node::Continue(_) => f.write_str("{{continue}}"),
        }
    }
}

impl BranchNode {
    fn write(&self, name: &str, src: Src<'_>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
        list_is_empty(&self.root, self.src())
    }
}

/// Go's `IsEmptyTree` for a top-level list: only space text.
fn list_is_empty(list: &ListNode, src: Src<'_>) -> bool {
    src.arena.list(list.nodes).iter().all(|n| match n {
        Node::Text { start, end } => src
            .text
            .get(*start as usize..*end as usize)
            .unwrap_or_default()
            .trim_matches(|c: char| c.is_whitespace())
            .is_empty(),
        _ => false,
    })
}

// ---- the parser ----

enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self, src: Src<'_>) -> String {
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
    /// The trees parsed so far (their roots in `arena`).
    tree_set: FastMap<Arc<str>, ListNode>,
    /// Where the nodes go.
    arena: Arena,
    /// Stacks the lists being parsed grow on (nested ones above their parents'): a finished
    /// list moves to the arena as one run.
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
    // room for the common case: an action is about five tokens (spaces are none), and makes
    // a node, a command and an argument or two
    let actions = lexed.items.len() / 5;
    let mut p = Parser {
        src: text,
        items: lexed.items,
        lex_error: lexed.error,
        interned: FastMap::default(),
        idx: 0,
        hi: 0,
        parse_name: name.clone(),
        has_func,
        vars: vec!["$"],
        action_start: None,
        range_depth: 0,
        depth: 0,
        stack_base: stack_addr(),
        max_stack,
        tree_set: FastMap::default(),
        arena: Arena {
            nodes: Vec::with_capacity(actions * 2),
            cmds: Vec::with_capacity(actions),
            args: Vec::with_capacity(actions * 2),
            ..Arena::default()
        },
        node_stack: Vec::new(),
        cmd_stack: Vec::new(),
        arg_stack: Vec::new(),
    };
    let parsed = p.parse_top().and_then(|root| p.add(name.clone(), root));
    if p.items.capacity() <= KEPT_ITEMS {
        ITEMS.set(std::mem::take(&mut p.items));
    }
    parsed?;
    let arena = Arc::new(std::mem::take(&mut p.arena));
    Ok(p.tree_set
        .into_iter()
        .map(|(tree_name, root)| {
            let tree = Tree {
                name: tree_name.clone(),
                parse_name: name.clone(),
                text: shared.clone(),
                arena: arena.clone(),
                root,
            };
            (tree_name, Arc::new(tree))
        })
        .collect())
}

impl<'a> Parser<'a> {
    /// The next token (Go's `nextNonSpace`: spaces are no tokens here, see [`Item`]).
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
        let t = self.next();
        if t.typ != expected {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn src(&self) -> Src<'_> {
        Src {
            text: self.src,
            arena: &self.arena,
        }
    }

    fn add(&mut self, name: Arc<str>, root: ListNode) -> PResult<()> {
        match self.tree_set.get(&name) {
            Some(old) if !list_is_empty(old, self.src()) => {
                if !list_is_empty(&root, self.src()) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        crate::gofmt::quote(&name)
                    )));
                }
            }
            _ => {
                self.tree_set.insert(name, root);
            }
        }
        Ok(())
    }

    /// The nodes pushed on the node stack since `mark`, as a list of the arena.
    fn finish_list(&mut self, mark: usize) -> ListNode {
        ListNode {
            nodes: self.arena.push_list(self.node_stack.drain(mark..)),
        }
    }

    fn parse_top(&mut self) -> PResult<ListNode> {
        let mark = self.node_stack.len();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let save = self.idx;
                self.next();
                if self.next().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = save;
            }
            match self.text_or_action()? {
                p @ (Parsed::End | Parsed::Else) => {
                    return Err(self.errorf(format!("unexpected {}", p.describe(self.src()))));
                }
                Parsed::Node(n) => self.node_stack.push(n),
            }
        }
        Ok(self.finish_list(mark))
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
        let name_tok = self.next();
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
                end.describe(self.src()),
                CONTEXT
            )));
        }
        self.add(name.into(), root)
    }

    fn item_list(&mut self) -> PResult<(ListNode, Parsed)> {
        let mark = self.node_stack.len();
        while self.peek().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => self.node_stack.push(n),
                p => return Ok((self.finish_list(mark), p)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let t = self.next();
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
        let t = self.next();
        match t.typ {
            ItemType::Block => return self.block_control(),
            ItemType::Break => return self.break_control(t.pos() as u32, true),
            ItemType::Continue => return self.break_control(t.pos() as u32, false),
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

    fn break_control(&mut self, pos: u32, is_break: bool) -> PResult<Parsed> {
        let name = if is_break {
            "{{break}}"
        } else {
            "{{continue}}"
        };
        let t = self.next();
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
        let peek = self.peek();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else);
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn too_deep(&self) -> bool {
        self.depth >= MAX_PARSE_DEPTH || self.stack_base.abs_diff(stack_addr()) > self.max_stack
    }

    fn parse_control(&mut self, context: &str) -> PResult<Idx<BranchNode>> {
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

    fn parse_control_inner(&mut self, context: &str) -> PResult<Idx<BranchNode>> {
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
                        nodes: self.arena.push_list(std::iter::once(Node::If(inner))),
                    });
                } else if context == "with" && pk.typ == ItemType::With {
                    self.next();
                    let inner = self.parse_control("with")?;
                    else_list = Some(ListNode {
                        nodes: self.arena.push_list(std::iter::once(Node::With(inner))),
                    });
                } else {
                    let (l, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return Err(self
                            .errorf(format!("expected end; found {}", next.describe(self.src()))));
                    }
                    else_list = Some(l);
                }
            }
            Parsed::Node(_) => unreachable!("item_list stops at end or else"),
        }
        Ok(self.arena.push(BranchNode {
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
        let t = self.next();
        let name = self.parse_template_name(&t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let (root, end) = self.with_fresh_scope(|p| p.item_list())?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!(
                "unexpected {} in {}",
                end.describe(self.src()),
                CONTEXT
            )));
        }
        self.add(name.clone(), root)?;
        Ok(Parsed::Node(Node::Template(self.arena.push(
            TemplateNode {
                pos: t.pos() as u32,
                name,
                pipe: Some(pipe),
            },
        ))))
    }

    fn template_control(&mut self) -> PResult<Parsed> {
        const CONTEXT: &str = "template clause";
        let t = self.next();
        let name = self.parse_template_name(&t, CONTEXT)?;
        let mut pipe = None;
        if self.next().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Parsed::Node(Node::Template(self.arena.push(
            TemplateNode {
                pos: t.pos() as u32,
                name,
                pipe,
            },
        ))))
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<PipeNode> {
        let t = self.peek();
        let pos = t.pos() as u32;
        let mut is_assign = false;
        let mut decl = Span::EMPTY;
        let mark = self.cmd_stack.len();
        loop {
            let v = self.peek();
            if v.typ != ItemType::Variable {
                break;
            }
            let save = self.idx;
            self.next();
            let next = self.peek();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                is_assign = next.typ == ItemType::Assign;
                self.next();
                decl = self.declare(decl, &v);
                break;
            } else if next.typ == ItemType::Char && next.val(self.src) == "," {
                self.next();
                decl = self.declare(decl, &v);
                if context == "range" && decl.len() < 2 {
                    match self.peek().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue;
                        }
                        _ => return Err(self.errorf("range can only initialize variables")),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else {
                self.idx = save;
                break;
            }
        }
        loop {
            let t = self.next();
            if t.typ == end {
                let pipe = PipeNode {
                    pos,
                    is_assign,
                    decl,
                    cmds: self.arena.push_list(self.cmd_stack.drain(mark..)),
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

    /// Declares the variable `v` of a pipeline whose earlier declarations are `decl` (a
    /// range declares two, one after the other): the declarations with it.
    fn declare(&mut self, decl: Span<VariableNode>, v: &Item) -> Span<VariableNode> {
        let var = VariableNode {
            pos: v.pos() as u32,
            ident: v.sym(0),
        };
        self.vars.push(v.val(self.src));
        let earlier = self.arena.list(decl).to_vec();
        self.arena
            .push_list(earlier.into_iter().chain(std::iter::once(var)))
    }

    fn check_pipeline(&self, pipe: &PipeNode, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in self.arena.list(pipe.cmds).iter().enumerate().skip(1) {
            if matches!(
                self.arena.list(c.args)[0],
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
        let pos = self.peek().pos() as u32;
        let mark = self.arg_stack.len();
        loop {
            let op = self.operand()?;
            let got = op.is_some();
            if let Some(op) = op {
                self.arg_stack.push(op);
            }
            let t = self.next();
            match t.typ {
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                // Go reads the space as a token and goes on to the next operand; when no
                // operand follows, it meets this token again after the space, and fails
                _ if t.spaced && got => {
                    self.backup();
                    continue;
                }
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if self.arg_stack.len() == mark {
            return Err(self.errorf("empty command"));
        }
        Ok(CommandNode {
            pos,
            args: self.arena.push_list(self.arg_stack.drain(mark..)),
        })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        // a field chains to the term only right after it (Go meets a space token first)
        let chained = |t: Item| t.typ == ItemType::Field && !t.spaced;
        if !chained(self.peek()) {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos() as u32;
        // the names after the first field's dot, up to the end of the last field (the lexer
        // emits chained fields back to back, and right after the term they follow)
        let fields = self.next().sym(1);
        let mut end = fields.end;
        while chained(self.peek()) {
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
                let s = WithSource(&n, self.src()).to_string();
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::gofmt::quote(&s)
                )));
            }
            n => Arg::Chain {
                pos: chain_pos,
                node: self.arena.push(n),
                field: fields.up_to(end),
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next();
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
                let n =
                    new_number(t.pos() as u32, t.sym(0), val, t.typ).map_err(|e| self.errorf(e))?;
                Arg::Number(self.arena.push(n))
            }
            ItemType::LeftParen => {
                if self.too_deep() {
                    return Err(self.errorf("max expression depth exceeded"));
                }
                self.depth += 1;
                let r = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.depth -= 1;
                Arg::Pipe(self.arena.push(r?))
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

fn new_number(pos: u32, sym: Sym, text: &str, typ: ItemType) -> Result<NumberNode, String> {
    let mut n = NumberNode {
        pos,
        text: sym,
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
            size_of::<Node>() <= 32,
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
            WithSource(&tree.root, tree.src()).to_string(),
            "a{{if .x}} b\u{e9} {{else}}c{{range $i, $v := .l}}{{$v}}-{{end}}{{end}}\n"
        );
        let Node::Text { start, end } = tree.arena.list(tree.root.nodes)[0] else {
            panic!("text first")
        };
        assert_eq!(&src[start as usize..end as usize], "a");
    }

    #[test]
    fn names_are_ranges_of_the_source_and_print_as_go_prints_them() {
        let src = "{{ $x := .Values.a.b }}{{ (print .c).d.e }}{{ $x.f.g | quote }}";
        let tree = &top_tree(src);
        assert_eq!(
            WithSource(&tree.root, tree.src()).to_string(),
            "{{$x := .Values.a.b}}{{(print .c).d.e}}{{$x.f.g | quote}}"
        );
        let ar = &tree.arena;
        let args = |n: usize| match &ar.list(tree.root.nodes)[n] {
            Node::Action(a) => &a.pipe,
            _ => panic!("an action"),
        };
        let arg = |n: usize, cmd: usize| &ar.list(ar.list(args(n).cmds)[cmd].args)[0];
        assert_eq!(ar.list(args(0).decl)[0].ident.of(src), "$x");
        let Arg::Field { ident, .. } = arg(0, 0) else {
            panic!("a field")
        };
        assert_eq!(ident.of(src), "Values.a.b");
        let Arg::Chain { field, .. } = arg(1, 0) else {
            panic!("a chain")
        };
        assert_eq!(field.of(src), "d.e");
        let Arg::Variable(v) = arg(2, 0) else {
            panic!("a variable")
        };
        assert_eq!(v.ident.of(src), "$x.f.g");
        let Arg::Identifier { name, .. } = arg(2, 1) else {
            panic!("a function")
        };
        assert_eq!(name.of(src), "quote");
    }

    #[test]
    fn string_constants_print_as_written() {
        let tree = &top_tree(r#"{{print "a\tb" `c` "d" `e\f`}}"#);
        let ar = &tree.arena;
        let Node::Action(a) = &ar.list(tree.root.nodes)[0] else {
            panic!("an action")
        };
        assert_eq!(
            WithSource(&a.pipe, tree.src()).to_string(),
            r#"print "a\tb" `c` "d" `e\f`"#
        );
        let vals: Vec<_> = ar.list(ar.list(a.pipe.cmds)[0].args)[1..]
            .iter()
            .map(|a| match a {
                Arg::String { value, .. } => value.to_string(),
                _ => panic!("a string"),
            })
            .collect();
        assert_eq!(vals, ["a\tb", "c", "d", "e\\f"]);
    }
}
