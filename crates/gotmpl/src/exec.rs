//! The executor: Go's `text/template/exec.go`, walking the parse tree.

use std::any::Any;
use std::sync::Arc;

use crate::error::{Error, ExecError, FuncError, Span};
use crate::funcs::{Builtin, Function, html_escape, js_escape, query_escape};
use crate::gofmt;
use crate::parse::{
    ActionNode, Arena, Arg, BranchNode, CommandNode, ListNode, Node, NumberNode, PipeNode, Src,
    TemplateNode, Tree, VariableNode, WithSource,
};
use crate::template::{MissingKey, Templates};
use crate::value::{List, Type, Value};

/// A value as the executor sees it: Go's `reflect.Value`, which can be
/// *invalid* (no value at all, e.g. a missing key) or hold a value whose
/// static type is `interface {}` (an element of a `[]interface {}` or a
/// value of a `map[string]interface {}`), possibly a nil one.
#[derive(Clone, Debug)]
pub(crate) enum RV {
    Invalid,
    /// The value, and whether it sits in an `interface {}`.
    Val(Value, bool),
}

impl RV {
    fn concrete(v: Value) -> RV {
        match v {
            Value::Nil => RV::Invalid,
            v => RV::Val(v, false),
        }
    }

    fn iface(v: Value) -> RV {
        RV::Val(v, true)
    }

    fn slot(v: Value, elem: &Type) -> RV {
        if matches!(elem, Type::Interface) {
            RV::Val(v, true)
        } else {
            RV::concrete(v)
        }
    }

    /// Go's `indirectInterface`: forget the interface wrapper.
    fn unwrap(self) -> RV {
        match self {
            RV::Val(Value::Nil, _) => RV::Invalid,
            RV::Val(v, _) => RV::Val(v, false),
            RV::Invalid => RV::Invalid,
        }
    }

    fn is_valid(&self) -> bool {
        !matches!(self, RV::Invalid)
    }

    fn value(&self) -> &Value {
        static NIL: Value = Value::Nil;
        match self {
            RV::Invalid => &NIL,
            RV::Val(v, _) => v,
        }
    }

    fn into_value(self) -> Value {
        match self {
            RV::Invalid => Value::Nil,
            RV::Val(v, _) => v,
        }
    }

    /// The static type's name, for messages.
    fn type_name(&self) -> String {
        match self {
            RV::Invalid => "<invalid>".into(),
            RV::Val(_, true) => "interface {}".into(),
            RV::Val(v, false) => v.type_name(),
        }
    }
}

/// Control flow out of a walk: normal, or a `break`/`continue` travelling
/// up to the enclosing `range`.
#[derive(PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The node errors are reported at (Go's `state.node`).
#[derive(Clone, Copy)]
enum Cur<'a> {
    None,
    Node(&'a Node),
    Action(&'a ActionNode),
    Pipe(&'a PipeNode),
    Cmd(&'a CommandNode),
    Arg(&'a Arg),
    Var(&'a VariableNode),
    Tmpl(&'a TemplateNode),
}

impl Cur<'_> {
    fn pos(&self, arena: &Arena) -> Option<usize> {
        Some(match self {
            Cur::None => return None,
            Cur::Node(n) => n.pos(arena),
            Cur::Action(a) => a.pipe.pos as usize,
            Cur::Pipe(p) => p.pos as usize,
            Cur::Cmd(c) => c.pos as usize,
            Cur::Arg(a) => a.pos(arena),
            Cur::Var(v) => v.pos as usize,
            Cur::Tmpl(t) => t.pos as usize,
        })
    }

    /// Go's `String()` of the node; `src` is the source of the tree it is in.
    fn context(&self, src: Src<'_>) -> String {
        match self {
            Cur::None => String::new(),
            Cur::Node(n) => WithSource(*n, src).to_string(),
            Cur::Action(a) => format!("{{{{{}}}}}", WithSource(&a.pipe, src)),
            Cur::Pipe(p) => WithSource(*p, src).to_string(),
            Cur::Cmd(c) => WithSource(*c, src).to_string(),
            Cur::Arg(a) => WithSource(*a, src).to_string(),
            Cur::Var(v) => WithSource(*v, src).to_string(),
            Cur::Tmpl(t) => WithSource(*t, src).to_string(),
        }
    }
}

/// Counters shared by nested executions (`include`, `tpl`).
#[derive(Clone, Copy)]
pub(crate) struct Budget {
    pub depth: usize,
    pub steps: u64,
    pub stack_base: usize,
}

pub(crate) struct State<'a> {
    set: &'a Templates,
    tmpl: &'a Tree,
    node: Cur<'a>,
    /// The variables in scope, and those of the templates that called this one below
    /// `vars_base` (out of scope: a template sees only its own).
    vars: Vec<(&'a str, RV)>,
    vars_base: usize,
    out: String,
    budget: Budget,
    ext: Option<&'a mut dyn Any>,
}

type R<T> = Result<T, Error>;

fn stack_addr() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Executes template `name` of `set` with `data` as dot.
pub(crate) fn execute(
    set: &Templates,
    name: &str,
    data: Value,
    ext: Option<&mut dyn Any>,
    budget: Option<Budget>,
) -> Result<(String, Budget), Error> {
    let Some(tree) = set.tree(name) else {
        return Err(Error::NoTemplate {
            name: name.to_string(),
            set: set.name().to_string(),
        });
    };
    let budget = budget.unwrap_or(Budget {
        depth: 0,
        steps: 0,
        stack_base: stack_addr(),
    });
    let dot = RV::concrete(data);
    let mut st = State {
        set,
        tmpl: tree,
        node: Cur::None,
        vars: vec![("$", dot.clone())],
        vars_base: 0,
        out: String::new(),
        budget,
        ext,
    };
    st.walk_list(&dot, &tree.root)?;
    Ok((st.out, st.budget))
}

/// The handle a template function gets: it can execute other named
/// templates of the running set (Helm's `include`), run another set
/// (Helm's `tpl`), and reach the caller's extension state.
pub struct Ctx<'s, 'a> {
    st: &'s mut State<'a>,
}

impl Ctx<'_, '_> {
    /// The template set being executed.
    pub fn templates(&self) -> &Templates {
        self.st.set
    }

    /// Executes the named template of the running set with `dot`, returning
    /// its output. Nested executions count towards the template depth
    /// limit.
    pub fn execute_template(&mut self, name: &str, dot: Value) -> Result<String, Error> {
        let st = &mut *self.st;
        let Some(tree) = st.set.tree(name) else {
            return Err(Error::NoTemplate {
                name: name.to_string(),
                set: st.tmpl.name.to_string(),
            });
        };
        st.check_depth()?;
        let dot = RV::concrete(dot);
        let saved_tmpl = std::mem::replace(&mut st.tmpl, tree);
        let saved_vars = st.enter_scope(dot.clone());
        let saved_out = std::mem::take(&mut st.out);
        let saved_node = st.node;
        st.budget.depth += 1;
        let r = st.walk_list(&dot, &tree.root);
        st.budget.depth -= 1;
        st.tmpl = saved_tmpl;
        st.leave_scope(saved_vars);
        st.node = saved_node;
        let out = std::mem::replace(&mut st.out, saved_out);
        r.map(|_| out)
    }

    /// Executes template `name` of another set (e.g. a clone of the running
    /// set with new text parsed into it, as Helm's `tpl` does).
    pub fn execute_in(&mut self, set: &Templates, name: &str, dot: Value) -> Result<String, Error> {
        let st = &mut *self.st;
        st.check_depth()?;
        let mut budget = st.budget;
        budget.depth += 1;
        let ext: Option<&mut dyn Any> = match &mut st.ext {
            Some(e) => Some(&mut **e),
            None => None,
        };
        let (out, b) = execute(set, name, dot, ext, Some(budget))?;
        st.budget.steps = b.steps;
        Ok(out)
    }

    /// The name of the template being executed (a `define` name or the
    /// file name), as Go's `Template.Name()` inside the call. Helm's `tpl`
    /// parses its text under this name.
    pub fn template_name(&self) -> &str {
        &self.st.tmpl.name
    }

    /// How many template calls deep the execution is.
    pub fn depth(&self) -> usize {
        self.st.budget.depth
    }

    /// The caller's extension state, if it is a `T` (see
    /// [`Templates::execute_with`]).
    pub fn ext<T: Any>(&mut self) -> Option<&mut T> {
        self.st.ext.as_mut().and_then(|e| e.downcast_mut::<T>())
    }
}

impl<'a> State<'a> {
    fn at(&mut self, c: Cur<'a>) {
        self.node = c;
    }

    fn errorf(&self, message: impl Into<String>) -> Error {
        self.error_with(message.into(), None)
    }

    fn error_with(&self, message: String, source: Option<Error>) -> Error {
        match self.node.pos(&self.tmpl.arena) {
            None => Error::ExecNoNode {
                name: self.tmpl.name.to_string(),
                message,
            },
            Some(pos) => Error::Exec(Box::new(ExecError {
                name: self.tmpl.name.to_string(),
                location: self.tmpl.parse_name.to_string(),
                span: Span::at(&self.tmpl.text, pos),
                context: self.node.context(self.tmpl.src()),
                message,
                source,
            })),
        }
    }

    fn step(&mut self) -> R<()> {
        self.budget.steps += 1;
        let l = self.set.limits();
        if self.budget.steps > l.max_steps {
            return Err(self.errorf(format!(
                "exceeded maximum execution steps ({})",
                l.max_steps
            )));
        }
        if self.out.len() > l.max_output_bytes {
            return Err(self.errorf(format!(
                "exceeded maximum output size ({} bytes)",
                l.max_output_bytes
            )));
        }
        let used = self.budget.stack_base.abs_diff(stack_addr());
        if used > l.max_stack_bytes {
            return Err(self.errorf(format!(
                "exceeded maximum template depth ({})",
                self.budget.depth
            )));
        }
        Ok(())
    }

    fn check_depth(&self) -> R<()> {
        let max = self.set.limits().max_template_depth;
        if self.budget.depth >= max {
            return Err(self.errorf(format!("exceeded maximum template depth ({max})")));
        }
        Ok(())
    }

    // ---- variables ----

    /// The source text of the tree being walked, which its nodes' names and texts point into.
    fn text(&self) -> &'a str {
        let tree: &'a Tree = self.tmpl;
        &tree.text
    }

    /// The source and nodes of the tree being walked.
    fn src(&self) -> Src<'a> {
        let tree: &'a Tree = self.tmpl;
        tree.src()
    }

    /// The nodes of the tree being walked.
    fn ar(&self) -> &'a Arena {
        let tree: &'a Tree = self.tmpl;
        &tree.arena
    }

    fn push(&mut self, name: &'a str, v: RV) {
        self.vars.push((name, v));
    }

    /// A template's own scope, with `$` its dot (Go starts a new variable stack): returns
    /// what [`leave_scope`](Self::leave_scope) restores.
    fn enter_scope(&mut self, dot: RV) -> (usize, usize) {
        let saved = (self.vars.len(), self.vars_base);
        self.vars_base = self.vars.len();
        self.vars.push(("$", dot));
        saved
    }

    fn leave_scope(&mut self, (len, base): (usize, usize)) {
        self.vars.truncate(len);
        self.vars_base = base;
    }

    fn set_var(&mut self, name: &str, v: RV) -> R<()> {
        for slot in self.vars[self.vars_base..].iter_mut().rev() {
            if slot.0 == name {
                slot.1 = v;
                return Ok(());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, v: RV) {
        let l = self.vars.len();
        self.vars[l - n].1 = v;
    }

    fn var_value(&self, name: &str) -> R<RV> {
        for slot in self.vars[self.vars_base..].iter().rev() {
            if slot.0 == name {
                return Ok(slot.1.clone());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    // ---- walking ----

    fn walk_list(&mut self, dot: &RV, list: &ListNode) -> R<Flow> {
        for n in self.ar().list(list.nodes) {
            let f = self.walk(dot, n)?;
            if f != Flow::Normal {
                return Ok(f);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &RV, node: &'a Node) -> R<Flow> {
        self.at(Cur::Node(node));
        match node {
            Node::Text { start, end } => {
                self.out
                    .push_str(&self.tmpl.text[*start as usize..*end as usize]);
                return Ok(Flow::Normal);
            }
            _ => self.step()?,
        }
        match node {
            Node::Text { .. } => {}
            Node::Action(a) => {
                let val = self.eval_pipeline(dot, Some(&a.pipe))?;
                if a.pipe.decl.is_empty() {
                    self.print_value(Cur::Action(a), val)?;
                }
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
            Node::If(b) => return self.walk_if_or_with(false, dot, self.ar().at(*b)),
            Node::With(b) => return self.walk_if_or_with(true, dot, self.ar().at(*b)),
            Node::Range(b) => self.walk_range(dot, node, self.ar().at(*b))?,
            Node::Template(t) => self.walk_template(dot, self.ar().at(*t))?,
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &RV, b: &'a BranchNode) -> R<Flow> {
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, Some(&b.pipe))?;
            let truth = val.value().is_true();
            if truth {
                if with {
                    self.walk_list(&val, &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(Flow::Normal)
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &RV, node: &'a Node, r: &'a BranchNode) -> R<()> {
        self.at(Cur::Node(node));
        let mark0 = self.vars.len();
        let res = self.walk_range_inner(dot, r);
        self.vars.truncate(mark0);
        res
    }

    fn one_iteration(&mut self, r: &'a BranchNode, mark: usize, index: RV, elem: RV) -> R<Flow> {
        self.step()?;
        let decl = self.ar().list(r.pipe.decl);
        let nd = decl.len();
        if nd > 0 {
            if r.pipe.is_assign {
                if nd > 1 {
                    self.set_var(decl[0].ident.of(self.text()), index.clone())?;
                } else {
                    self.set_var(decl[0].ident.of(self.text()), elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if nd > 1 {
            if r.pipe.is_assign {
                self.set_var(decl[1].ident.of(self.text()), elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let f = self.walk_list(&elem, &r.list);
        self.vars.truncate(mark);
        f
    }

    fn walk_range_inner(&mut self, dot: &RV, r: &'a BranchNode) -> R<()> {
        let val = self.eval_pipeline(dot, Some(&r.pipe))?.unwrap();
        let mark = self.vars.len();
        let mut ran = false;
        match val.value() {
            Value::Int(n) | Value::Int64(n) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use {} to iterate over more than one variable",
                        gofmt::sprint(&[val.value().clone()])
                    )));
                }
                let make = |i: i64| match val.value() {
                    Value::Int64(_) => Value::Int64(i),
                    _ => Value::Int(i),
                };
                for i in 0..(*n).max(0) {
                    ran = true;
                    if self.one_iteration(r, mark, RV::Invalid, RV::concrete(make(i)))?
                        == Flow::Break
                    {
                        break;
                    }
                }
            }
            Value::Uint64(n) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use {n} to iterate over more than one variable"
                    )));
                }
                for i in 0..*n {
                    ran = true;
                    if self.one_iteration(r, mark, RV::Invalid, RV::Val(Value::Uint64(i), false))?
                        == Flow::Break
                    {
                        break;
                    }
                }
            }
            Value::List(l) => {
                let l = l.clone();
                for (i, e) in l.items().iter().enumerate() {
                    ran = true;
                    let elem = RV::slot(e.clone(), l.elem());
                    if self.one_iteration(r, mark, RV::Val(Value::Int(i as i64), false), elem)?
                        == Flow::Break
                    {
                        break;
                    }
                }
            }
            Value::Map(m) => {
                let elem_t = m.elem().clone();
                for (k, v) in m.entries() {
                    ran = true;
                    let key = RV::Val(Value::String(k.into()), false);
                    if self.one_iteration(r, mark, key, RV::slot(v, &elem_t))? == Flow::Break {
                        break;
                    }
                }
            }
            Value::Nil => {}
            v => {
                return Err(self.errorf(format!(
                    "range can't iterate over {}",
                    gofmt::sprint(std::slice::from_ref(v))
                )));
            }
        }
        if !ran && let Some(e) = &r.else_list {
            self.walk_list(dot, e)?;
        }
        Ok(())
    }

    fn walk_template(&mut self, dot: &RV, t: &'a TemplateNode) -> R<()> {
        self.at(Cur::Tmpl(t));
        let Some(tree) = self.set.tree(&t.name) else {
            return Err(self.errorf(format!("template {} not defined", gofmt::quote(&t.name))));
        };
        self.check_depth()?;
        let new_dot = self.eval_pipeline(dot, t.pipe.as_ref())?;
        let saved_tmpl = std::mem::replace(&mut self.tmpl, tree);
        let saved_vars = self.enter_scope(new_dot.clone());
        self.budget.depth += 1;
        let r = self.walk_list(&new_dot, &tree.root);
        self.budget.depth -= 1;
        self.tmpl = saved_tmpl;
        self.leave_scope(saved_vars);
        r.map(|_| ())
    }

    // ---- evaluation ----

    fn eval_pipeline(&mut self, dot: &RV, pipe: Option<&'a PipeNode>) -> R<RV> {
        let Some(pipe) = pipe else {
            return Ok(RV::Invalid);
        };
        self.at(Cur::Pipe(pipe));
        let mut value: Option<RV> = None;
        for cmd in self.ar().list(pipe.cmds) {
            let v = self.eval_command(dot, cmd, value.take())?;
            value = Some(v.unwrap());
        }
        let value = value.unwrap_or(RV::Invalid);
        for var in self.ar().list(pipe.decl) {
            if pipe.is_assign {
                self.set_var(var.ident.of(self.text()), value.clone())?;
            } else {
                self.push(var.ident.of(self.text()), value.clone());
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<RV>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(format!(
                "can't give argument to non-function {}",
                WithSource(&args[0], self.src())
            )));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &RV, cmd: &'a CommandNode, fin: Option<RV>) -> R<RV> {
        self.step()?;
        let args: &'a [Arg] = self.ar().list(cmd.args);
        let first = &args[0];
        match first {
            Arg::Field { ident, .. } => {
                self.at(Cur::Arg(first));
                let names = ident.of(self.text());
                let (node, args) = (Cur::Arg(first), Some(args));
                return self.eval_fields(dot, dot.clone(), node, names, args, fin);
            }
            Arg::Chain { .. } => return self.eval_chain_node(dot, first, Some(args), fin),
            Arg::Identifier { name, .. } => {
                let name = name.of(self.text());
                return self.eval_function(dot, first, name, Cur::Cmd(cmd), Some(args), fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(args, &fin)?;
                return self.eval_pipeline(dot, Some(self.ar().at(*p)));
            }
            Arg::Variable(v) => return self.eval_variable_node(dot, v, Some(args), fin),
            _ => {}
        }
        self.at(Cur::Arg(first));
        self.not_a_function(args, &fin)?;
        match first {
            Arg::Bool(_, b) => Ok(RV::Val(Value::Bool(*b), false)),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Err(self.errorf("nil is not a command")),
            Arg::Number(n) => self.ideal_constant(first, self.ar().at(*n)),
            Arg::String { value, .. } => Ok(RV::Val(Value::String(value.clone()), false)),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                gofmt::quote(&WithSource(first, self.src()).to_string())
            ))),
        }
    }

    fn ideal_constant(&mut self, node: &'a Arg, n: &NumberNode) -> R<RV> {
        self.at(Cur::Arg(node));
        let t = n.text.of(self.text());
        let is_hex_int = t.len() > 2
            && t.starts_with('0')
            && matches!(t.as_bytes()[1], b'x' | b'X')
            && !t.contains(['p', 'P']);
        let is_rune = t.starts_with('\'');
        if n.is_complex {
            return Ok(RV::Val(Value::Complex(n.complex.0, n.complex.1), false));
        }
        if n.is_float && !is_hex_int && !is_rune && t.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(RV::Val(Value::Float(n.float64), false));
        }
        if n.is_int {
            return Ok(RV::Val(Value::Int(n.int64), false));
        }
        if n.is_uint {
            return Err(self.errorf(format!("{t} overflows int")));
        }
        Ok(RV::Invalid)
    }

    fn eval_chain_node(
        &mut self,
        dot: &RV,
        chain: &'a Arg,
        args: Option<&'a [Arg]>,
        fin: Option<RV>,
    ) -> R<RV> {
        self.at(Cur::Arg(chain));
        let Arg::Chain { node, field, .. } = chain else {
            unreachable!("eval_chain_node on a chain");
        };
        let names = field.of(self.text());
        if names.is_empty() {
            return Err(self.errorf("internal error: no fields in evalChainNode"));
        }
        let node = self.ar().at(*node);
        if let Arg::Nil(_) = node {
            return Err(self.errorf(format!(
                "indirection through explicit nil in {}",
                WithSource(chain, self.src())
            )));
        }
        let pipe = self.eval_arg(dot, None, node)?;
        self.eval_fields(dot, pipe, Cur::Arg(chain), names, args, fin)
    }

    fn eval_variable_node(
        &mut self,
        dot: &RV,
        v: &'a VariableNode,
        args: Option<&'a [Arg]>,
        fin: Option<RV>,
    ) -> R<RV> {
        self.at(Cur::Var(v));
        let names = v.ident.of(self.text());
        let (name, fields) = match names.bytes().position(|b| b == b'.') {
            Some(i) => (&names[..i], Some(&names[i + 1..])),
            None => (names, None),
        };
        let value = self.var_value(name)?;
        let Some(fields) = fields else {
            if let Some(a) = args {
                self.not_a_function(a, &fin)?;
            } else if fin.is_some() {
                return Err(self.errorf(format!(
                    "can't give argument to non-function {}",
                    WithSource(v, self.src())
                )));
            }
            return Ok(value);
        };
        self.eval_fields(dot, value, Cur::Var(v), fields, args, fin)
    }

    /// Evaluates the dotted `names` in turn from `receiver`; the last one gets the arguments.
    fn eval_fields(
        &mut self,
        dot: &RV,
        mut receiver: RV,
        node: Cur<'a>,
        names: &str,
        args: Option<&'a [Arg]>,
        fin: Option<RV>,
    ) -> R<RV> {
        // a byte scan: names are short, and a dot is one byte that is never inside a character
        let mut start = 0;
        for (i, &b) in names.as_bytes().iter().enumerate() {
            if b == b'.' {
                receiver = self.eval_field(dot, &names[start..i], node, None, None, receiver)?;
                start = i + 1;
            }
        }
        self.eval_field(dot, &names[start..], node, args, fin, receiver)
    }

    fn eval_function(
        &mut self,
        dot: &RV,
        node: &'a Arg,
        name: &str,
        cmd: Cur<'a>,
        args: Option<&'a [Arg]>,
        fin: Option<RV>,
    ) -> R<RV> {
        self.at(Cur::Arg(node));
        let Some((f, is_builtin)) = self.set.funcs().find(name) else {
            return Err(self.errorf(format!("{} is not a defined function", gofmt::quote(name))));
        };
        self.eval_call(dot, f, is_builtin, cmd, name, args, fin, None)
    }

    fn eval_field(
        &mut self,
        dot: &RV,
        field: &str,
        node: Cur<'a>,
        args: Option<&'a [Arg]>,
        fin: Option<RV>,
        receiver: RV,
    ) -> R<RV> {
        let RV::Val(value, is_iface) = receiver else {
            if self.set.missing_key() == MissingKey::Error {
                return Err(self.errorf(format!(
                    "nil data; no entry for key {}",
                    gofmt::quote(field)
                )));
            }
            return Ok(RV::Invalid);
        };
        // the receiver's static type, for messages only (worked out when one is written)
        let typ = |value: &Value| {
            if is_iface {
                "interface {}".to_string()
            } else {
                value.type_name()
            }
        };
        if is_iface && value.is_nil() {
            let typ = typ(&value);
            return Err(self.errorf(format!("nil pointer evaluating {typ}.{field}")));
        }
        let method = match &value {
            Value::Struct(s) => s.type_info().method(field).cloned(),
            Value::Map(m) => m.type_info().and_then(|t| t.method(field).cloned()),
            Value::List(l) => l.type_info().and_then(|t| t.method(field).cloned()),
            _ => None,
        };
        if let Some(m) = method {
            return self.eval_call(dot, &m, false, node, field, args, fin, Some(value));
        }
        let has_args = args.is_some_and(|a| a.len() > 1) || fin.is_some();
        match &value {
            Value::Struct(s) => {
                if let Some(v) = s.field(field) {
                    if has_args {
                        return Err(self.errorf(format!(
                            "{field} has arguments but cannot be invoked as function"
                        )));
                    }
                    return Ok(match v {
                        Value::Nil => RV::iface(Value::Nil),
                        v => RV::Val(v.clone(), false),
                    });
                }
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{field} is not a method but has arguments")));
                }
                return match m.get(field) {
                    Some(v) => Ok(RV::slot(v, m.elem())),
                    None => match self.set.missing_key() {
                        MissingKey::Invalid => Ok(RV::Invalid),
                        MissingKey::Zero => Ok(zero_of(m.elem())),
                        MissingKey::Error => Err(self
                            .errorf(format!("map has no entry for key {}", gofmt::quote(field)))),
                    },
                };
            }
            _ => {}
        }
        let typ = typ(&value);
        Err(self.errorf(format!("can't evaluate field {field} in type {typ}")))
    }

    #[allow(clippy::too_many_arguments)] // mirrors Go's evalCall; a struct would obscure the parallel
    fn eval_call(
        &mut self,
        dot: &RV,
        fun: &Function,
        is_builtin: bool,
        node: Cur<'a>,
        name: &str,
        args: Option<&'a [Arg]>,
        fin: Option<RV>,
        receiver: Option<Value>,
    ) -> R<RV> {
        let args: &'a [Arg] = match args {
            Some(a) => &a[1..],
            None => &[],
        };
        let sig = fun.signature();
        let mut num_in = args.len();
        if fin.is_some() {
            num_in += 1;
        }
        let mut num_fixed = args.len();
        if sig.variadic.is_some() {
            num_fixed = sig.params.len();
            if num_in < num_fixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    sig.params.len(),
                    args.len()
                )));
            }
        } else if num_in != sig.params.len() {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                sig.params.len()
            )));
        }

        let builtin = if is_builtin { fun.as_builtin() } else { None };

        if let Some(b @ (Builtin::And | Builtin::Or)) = builtin {
            let want = b == Builtin::Or;
            let mut v = RV::Invalid;
            for a in args {
                v = self.eval_arg(dot, Some(&Type::Reflect), a)?;
                if v.value().is_true() == want {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = self.validate_type(f, Some(&Type::Reflect))?;
            }
            return Ok(v);
        }

        // the arguments as a builtin takes them, or as a native function does (after the
        // receiver): one vector either way
        let native = builtin.is_none();
        let (mut argv, mut vals): (Vec<RV>, Vec<Value>) = if native {
            let mut vals = Vec::with_capacity(num_in + usize::from(receiver.is_some()));
            vals.extend(receiver);
            (Vec::new(), vals)
        } else {
            (Vec::with_capacity(num_in), Vec::new())
        };
        let mut put = |v: RV| {
            if native {
                vals.push(v.into_value());
            } else {
                argv.push(v);
            }
        };
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            put(self.eval_arg(dot, Some(&sig.params[i]), &args[i])?);
            i += 1;
        }
        if let Some(vt) = &sig.variadic {
            while i < args.len() {
                put(self.eval_arg(dot, Some(vt), &args[i])?);
                i += 1;
            }
        }
        if let Some(f) = fin {
            let t = match &sig.variadic {
                Some(vt) => {
                    if num_in - 1 < num_fixed {
                        &sig.params[num_in - 1]
                    } else {
                        vt
                    }
                }
                None => &sig.params[sig.params.len() - 1],
            };
            put(self.validate_type(f, Some(t))?);
        }

        let result = match builtin {
            Some(Builtin::Call) => {
                let callee = match args.first() {
                    Some(a) => WithSource(a, self.src()).to_string(),
                    None => gofmt::sprint(&[argv[0].value().clone()]),
                };
                self.builtin_call(&callee, argv)
            }
            Some(b) => builtin_fn(b, argv).map_err(FuncError::new),
            None => {
                let ret_iface = matches!(sig.ret, Type::Interface | Type::Reflect);
                let mut ctx = Ctx { st: self };
                fun.call_native(&mut ctx, vals).map(|v| {
                    if ret_iface || v.is_nil() {
                        RV::iface(v)
                    } else {
                        RV::Val(v, false)
                    }
                })
            }
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at(node);
                let (msg, source) = e.into_parts();
                Err(self.error_with(format!("error calling {name}: {msg}"), source))
            }
        }
    }

    fn builtin_call(&mut self, name: &str, argv: Vec<RV>) -> Result<RV, FuncError> {
        let mut it = argv.into_iter();
        let f = it.next().unwrap_or(RV::Invalid).unwrap();
        let args: Vec<RV> = it.collect();
        let fun = match f {
            RV::Invalid => return Err(FuncError::new("call of nil")),
            RV::Val(Value::Func(f), _) => f,
            RV::Val(v, _) => {
                return Err(FuncError::new(format!(
                    "non-function {name} of type {}",
                    v.type_name()
                )));
            }
        };
        let sig = fun.signature().clone();
        let num_in = sig.params.len();
        if sig.variadic.is_some() {
            if args.len() < num_in {
                return Err(FuncError::new(format!(
                    "wrong number of args for {name}: got {} want at least {num_in}",
                    args.len()
                )));
            }
        } else if args.len() != num_in {
            return Err(FuncError::new(format!(
                "wrong number of args for {name}: got {} want {num_in}",
                args.len()
            )));
        }
        let mut vals = Vec::with_capacity(args.len());
        for (i, a) in args.into_iter().enumerate() {
            let a = a.unwrap();
            let t = if i < num_in {
                &sig.params[i]
            } else {
                sig.variadic.as_ref().unwrap_or(&Type::Interface)
            };
            vals.push(prepare_arg(a, t).map_err(|e| FuncError::new(format!("arg {i}: {e}")))?);
        }
        if let Some(b) = fun.as_builtin() {
            return builtin_fn(b, vals.into_iter().map(RV::concrete).collect())
                .map_err(FuncError::new);
        }
        let ret_iface = matches!(sig.ret, Type::Interface | Type::Reflect);
        let mut ctx = Ctx { st: self };
        fun.call_native(&mut ctx, vals).map(|v| {
            if ret_iface || v.is_nil() {
                RV::iface(v)
            } else {
                RV::Val(v, false)
            }
        })
    }

    fn validate_type(&self, value: RV, typ: Option<&Type>) -> R<RV> {
        let RV::Val(v, is_iface) = value else {
            let Some(t) = typ else {
                return Ok(RV::Invalid);
            };
            if matches!(t, Type::Reflect) {
                return Ok(RV::Invalid);
            }
            if t.can_be_nil() {
                return Ok(RV::iface(Value::Nil));
            }
            return Err(self.errorf(format!("invalid value; expected {t}")));
        };
        let Some(t) = typ else {
            return Ok(RV::Val(v, is_iface));
        };
        if matches!(t, Type::Reflect | Type::Interface) {
            return Ok(RV::Val(v, is_iface));
        }
        let vt = if is_iface {
            Some(Type::Interface)
        } else {
            v.type_of()
        };
        let assignable = vt.as_ref().is_some_and(|vt| vt.assignable_to(t));
        if !assignable {
            let mut got = vt;
            if is_iface && !v.is_nil() {
                got = v.type_of();
                if got.as_ref().is_some_and(|vt| vt.assignable_to(t)) {
                    return Ok(RV::Val(v, false));
                }
            }
            let got = got.map(|t| t.to_string()).unwrap_or_else(|| "<nil>".into());
            return Err(self.errorf(format!("wrong type for value; expected {t}; got {got}")));
        }
        Ok(RV::Val(v, is_iface))
    }

    fn eval_arg(&mut self, dot: &RV, typ: Option<&Type>, n: &'a Arg) -> R<RV> {
        self.at(Cur::Arg(n));
        match n {
            Arg::Dot(_) => return self.validate_type(dot.clone(), typ),
            Arg::Nil(_) => {
                let t = typ.unwrap_or(&Type::Interface);
                if matches!(t, Type::Reflect) {
                    return Ok(RV::Invalid);
                }
                if t.can_be_nil() {
                    return Ok(RV::iface(Value::Nil));
                }
                return Err(self.errorf(format!("cannot assign nil to {t}")));
            }
            Arg::Field { ident, .. } => {
                let v = self.eval_fields(
                    dot,
                    dot.clone(),
                    Cur::Arg(n),
                    ident.of(self.text()),
                    Some(std::slice::from_ref(n)),
                    None,
                )?;
                return self.validate_type(v, typ);
            }
            Arg::Variable(v) => {
                let r = self.eval_variable_node(dot, v, None, None)?;
                return self.validate_type(r, typ);
            }
            Arg::Pipe(p) => {
                let r = self.eval_pipeline(dot, Some(self.ar().at(*p)))?;
                return self.validate_type(r, typ);
            }
            Arg::Identifier { name, .. } => {
                let r =
                    self.eval_function(dot, n, name.of(self.text()), Cur::Arg(n), None, None)?;
                return self.validate_type(r, typ);
            }
            Arg::Chain { .. } => {
                let r = self.eval_chain_node(dot, n, None, None)?;
                return self.validate_type(r, typ);
            }
            _ => {}
        }
        let t = typ.unwrap_or(&Type::Interface);
        let number = match n {
            Arg::Number(i) => Some(self.ar().at(*i)),
            _ => None,
        };
        match t.underlying() {
            Type::Bool => match (n, number) {
                (Arg::Bool(_, b), _) => Ok(RV::Val(Value::Bool(*b), false)),
                _ => Err(self.errorf(format!(
                    "expected bool; found {}",
                    WithSource(n, self.src())
                ))),
            },
            Type::Complex128 => match (n, number) {
                (Arg::Number(_), Some(num)) if num.is_complex => {
                    Ok(RV::Val(Value::Complex(num.complex.0, num.complex.1), false))
                }
                _ => Err(self.errorf(format!(
                    "expected complex; found {}",
                    WithSource(n, self.src())
                ))),
            },
            Type::Float64 => match (n, number) {
                (Arg::Number(_), Some(num)) if num.is_float => {
                    Ok(RV::Val(Value::Float(num.float64), false))
                }
                _ => Err(self.errorf(format!(
                    "expected float; found {}",
                    WithSource(n, self.src())
                ))),
            },
            Type::Int | Type::Int64 => match (n, number) {
                (Arg::Number(_), Some(num)) if num.is_int => Ok(RV::Val(
                    if matches!(t, Type::Int64) {
                        Value::Int64(num.int64)
                    } else {
                        Value::Int(num.int64)
                    },
                    false,
                )),
                _ => Err(self.errorf(format!(
                    "expected integer; found {}",
                    WithSource(n, self.src())
                ))),
            },
            Type::Uint64 => match (n, number) {
                (Arg::Number(_), Some(num)) if num.is_uint => {
                    Ok(RV::Val(Value::Uint64(num.uint64), false))
                }
                _ => Err(self.errorf(format!(
                    "expected unsigned integer; found {}",
                    WithSource(n, self.src())
                ))),
            },
            Type::String => match (n, number) {
                (Arg::String { value, .. }, _) => Ok(RV::Val(Value::String(value.clone()), false)),
                _ => Err(self.errorf(format!(
                    "expected string; found {}",
                    WithSource(n, self.src())
                ))),
            },
            Type::Interface | Type::Reflect => match (n, number) {
                (Arg::Bool(_, b), _) => Ok(RV::Val(Value::Bool(*b), false)),
                (Arg::Number(_), Some(num)) => self.ideal_constant(n, num),
                (Arg::String { value, .. }, _) => Ok(RV::Val(Value::String(value.clone()), false)),
                _ => Err(self.errorf(format!(
                    "can't handle assignment of {} to empty interface argument",
                    WithSource(n, self.src())
                ))),
            },
            _ => Err(self.errorf(format!(
                "can't handle {} for arg of type {t}",
                WithSource(n, self.src())
            ))),
        }
    }

    fn print_value(&mut self, c: Cur<'a>, v: RV) -> R<()> {
        self.at(c);
        match v {
            RV::Invalid => self.out.push_str("<no value>"),
            RV::Val(Value::Func(_), _) => {
                return Err(self.errorf(format!(
                    "can't print {} of type {}",
                    c.context(self.tmpl.src()),
                    v.type_name()
                )));
            }
            RV::Val(Value::String(s), _) => self.out.push_str(&s),
            RV::Val(Value::Bool(b), _) => self.out.push_str(if b { "true" } else { "false" }),
            RV::Val(Value::Int(i) | Value::Int64(i), _) => {
                use std::fmt::Write as _;
                let _ = write!(self.out, "{i}");
            }
            RV::Val(v, _) => {
                let s = gofmt::print_action_value(&v);
                self.out.push_str(&s);
            }
        }
        Ok(())
    }
}

fn zero_of(elem: &Type) -> RV {
    match elem.underlying() {
        Type::Interface | Type::Reflect | Type::Func => RV::iface(Value::Nil),
        Type::Bool => RV::Val(Value::Bool(false), false),
        Type::Int => RV::Val(Value::Int(0), false),
        Type::Int64 => RV::Val(Value::Int64(0), false),
        Type::Uint64 => RV::Val(Value::Uint64(0), false),
        Type::Float64 => RV::Val(Value::Float(0.0), false),
        Type::Complex128 => RV::Val(Value::Complex(0.0, 0.0), false),
        Type::String => RV::Val(Value::String("".into()), false),
        Type::Slice(e) => RV::Val(Value::List(List::typed(Vec::new(), (**e).clone())), false),
        Type::Map(_) | Type::Named(..) => RV::iface(Value::Nil),
    }
}

/// Go's `prepareArg` (used by `call` and by `index` on maps).
fn prepare_arg(value: RV, t: &Type) -> Result<Value, String> {
    let RV::Val(v, _) = value else {
        if !t.can_be_nil() {
            return Err(format!("value is nil; should be of type {t}"));
        }
        return Ok(Value::Nil);
    };
    let Some(vt) = v.type_of() else {
        if !t.can_be_nil() {
            return Err(format!("value is nil; should be of type {t}"));
        }
        return Ok(Value::Nil);
    };
    if vt.assignable_to(t) {
        return Ok(v);
    }
    let int_like = |t: &Type| matches!(t.underlying(), Type::Int | Type::Int64 | Type::Uint64);
    if int_like(&vt) && int_like(t) {
        let n = match v {
            Value::Int(i) | Value::Int64(i) => i,
            Value::Uint64(u) => u as i64,
            _ => 0,
        };
        return Ok(match t.underlying() {
            Type::Int => Value::Int(n),
            Type::Int64 => Value::Int64(n),
            _ => Value::Uint64(n as u64),
        });
    }
    Err(format!("value has type {vt}; should be {t}"))
}

// ---- builtins operating on executor values ----

fn index_arg(index: &RV, cap: usize) -> Result<usize, String> {
    let x: i64 = match index.value() {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint64(u) => *u as i64,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        v => {
            return Err(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Complex,
    Int,
    Float,
    String,
    Uint,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Uint64(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::Complex(..) => Kind::Complex,
        Value::String(_) => Kind::String,
        _ => Kind::Invalid,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

fn uint_of(v: &Value) -> u64 {
    match v {
        Value::Uint64(u) => *u,
        _ => 0,
    }
}

/// Reflect kinds for `canCompare`.
fn reflect_kind(v: &RV) -> &'static str {
    match v {
        RV::Invalid => "invalid",
        RV::Val(v, _) => v.kind_name(),
    }
}

fn eq(arg1: RV, rest: &[RV]) -> Result<bool, String> {
    let a1 = arg1.unwrap();
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a1.value());
    for arg in rest {
        let a = arg.clone().unwrap();
        let k2 = basic_kind(a.value());
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) => {
                    int_of(a1.value()) >= 0 && int_of(a1.value()) as u64 == uint_of(a.value())
                }
                (Kind::Uint, Kind::Int) => {
                    int_of(a.value()) >= 0 && uint_of(a1.value()) == int_of(a.value()) as u64
                }
                _ => {
                    if a1.is_valid() && a.is_valid() {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            a1.type_name(),
                            a.type_name()
                        ));
                    }
                    false
                }
            }
        } else {
            match (a1.value(), a.value()) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Complex(a, b), Value::Complex(c, d)) => a == c && b == d,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::String(x), Value::String(y)) => x == y,
                (Value::Uint64(x), Value::Uint64(y)) => x == y,
                (x, y) if k1 == Kind::Int => int_of(x) == int_of(y),
                _ => {
                    if reflect_kind(&a1) != reflect_kind(&a) && a1.is_valid() && a.is_valid() {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            gofmt::sprintf("%s", &[a1.value().clone()]),
                            a1.type_name(),
                            a.type_name(),
                            gofmt::sprint(&[a.value().clone()])
                        ));
                    }
                    if !a1.is_valid() || !a.is_valid() {
                        a1.is_valid() == a.is_valid()
                    } else {
                        match (a1.value(), a.value()) {
                            (Value::Struct(x), Value::Struct(y)) if x.is_pointer() => {
                                Arc::ptr_eq(x, y)
                            }
                            _ => {
                                return Err(format!(
                                    "non-comparable type {}: {}",
                                    gofmt::sprintf("%s", &[a.value().clone()]),
                                    a.type_name()
                                ));
                            }
                        }
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(arg1: RV, arg2: RV) -> Result<bool, String> {
    let a1 = arg1.unwrap();
    let k1 = basic_kind(a1.value());
    if k1 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    let a2 = arg2.unwrap();
    let k2 = basic_kind(a2.value());
    if k2 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) => {
                Ok(int_of(a1.value()) < 0 || (int_of(a1.value()) as u64) < uint_of(a2.value()))
            }
            (Kind::Uint, Kind::Int) => {
                Ok(int_of(a2.value()) >= 0 && uint_of(a1.value()) < int_of(a2.value()) as u64)
            }
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a1.type_name(),
                a2.type_name()
            )),
        };
    }
    Ok(match (a1.value(), a2.value()) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x), Value::String(y)) => x < y,
        (Value::Uint64(x), Value::Uint64(y)) => x < y,
        (x, y) if k1 == Kind::Int => int_of(x) < int_of(y),
        _ => return Err("invalid type for comparison".into()),
    })
}

fn print_args(argv: Vec<RV>) -> Vec<Value> {
    argv.into_iter().map(RV::into_value).collect()
}

/// Go's `evalArgs` for the escapers.
fn eval_args(argv: Vec<RV>) -> String {
    if argv.len() == 1
        && let Value::String(s) = argv[0].value()
    {
        return s.to_string();
    }
    let vals: Vec<Value> = argv
        .into_iter()
        .map(|a| match a.into_value() {
            Value::Nil => Value::String("<no value>".into()),
            v => v,
        })
        .collect();
    gofmt::sprint(&vals)
}

fn builtin_fn(b: Builtin, argv: Vec<RV>) -> Result<RV, String> {
    let mut argv = argv;
    Ok(match b {
        Builtin::And | Builtin::Or | Builtin::Call => unreachable!("handled by eval_call"),
        Builtin::Not => RV::Val(Value::Bool(!argv[0].value().is_true()), false),
        Builtin::Len => {
            let item = argv.swap_remove(0);
            let n = match item {
                RV::Invalid => {
                    return Err("reflect: call of reflect.Value.Type on zero Value".into());
                }
                RV::Val(Value::Nil, _) => return Err("len of nil pointer".into()),
                RV::Val(v, _) => match &v {
                    Value::List(l) => l.len(),
                    Value::Map(m) => m.len(),
                    // a Go string's bytes (a binary file's, not its printed text's)
                    Value::String(s) => crate::go_bytes(s).len(),
                    v => return Err(format!("len of type {}", v.type_name())),
                },
            };
            RV::Val(Value::Int(n as i64), false)
        }
        Builtin::Index => {
            let mut it = argv.into_iter();
            let mut item = it.next().unwrap_or(RV::Invalid).unwrap();
            if !item.is_valid() {
                return Err("index of untyped nil".into());
            }
            for index in it {
                let index = index.unwrap();
                if let RV::Val(Value::Nil, true) = item {
                    return Err("index of nil pointer".into());
                }
                let cur = item.value().clone();
                item = match &cur {
                    Value::List(l) => {
                        let x = index_arg(&index, l.len())?;
                        if x >= l.len() {
                            return Err("reflect: slice index out of range".into());
                        }
                        RV::slot(l.items()[x].clone(), l.elem())
                    }
                    Value::String(s) => {
                        let x = index_arg(&index, s.len())?;
                        if x >= s.len() {
                            return Err("reflect: string index out of range".into());
                        }
                        RV::Val(Value::Int(s.as_bytes()[x] as i64), false)
                    }
                    Value::Map(m) => {
                        let key = prepare_arg(index, &Type::String)?;
                        let k = key.as_str().unwrap_or_default();
                        match m.get(k) {
                            Some(v) => RV::slot(v, m.elem()),
                            None => zero_of(m.elem()),
                        }
                    }
                    v => return Err(format!("can't index item of type {}", v.type_name())),
                };
            }
            item
        }
        Builtin::Slice => {
            let mut it = argv.into_iter();
            let item = it.next().unwrap_or(RV::Invalid).unwrap();
            let indexes: Vec<RV> = it.map(RV::unwrap).collect();
            let RV::Val(item, _) = item else {
                return Err("slice of untyped nil".into());
            };
            if indexes.len() > 3 {
                return Err(format!("too many slice indexes: {}", indexes.len()));
            }
            let (cap, len) = match &item {
                Value::String(s) => {
                    if indexes.len() == 3 {
                        return Err("cannot 3-index slice a string".into());
                    }
                    (s.len(), s.len())
                }
                Value::List(l) => (l.len(), l.len()),
                v => return Err(format!("can't slice item of type {}", v.type_name())),
            };
            let mut idx = [0usize, len, 0];
            for (i, index) in indexes.iter().enumerate() {
                idx[i] = index_arg(index, cap)?;
            }
            if idx[0] > idx[1] {
                return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
            }
            if indexes.len() == 3 && idx[1] > idx[2] {
                return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
            }
            match &item {
                Value::String(s) => RV::Val(
                    Value::String(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into()),
                    false,
                ),
                Value::List(l) => match l.slice(idx[0], idx[1]) {
                    Some(l) => RV::Val(Value::List(l), false),
                    None => return Err("reflect: slice index out of range".into()),
                },
                _ => unreachable!("checked above"),
            }
        }
        Builtin::Print => RV::Val(
            Value::String(gofmt::sprint(&print_args(argv)).into()),
            false,
        ),
        Builtin::Println => RV::Val(
            Value::String(gofmt::sprintln(&print_args(argv)).into()),
            false,
        ),
        Builtin::Printf => {
            let mut vals = print_args(argv);
            let fmt = vals.remove(0);
            let f = fmt.as_str().unwrap_or_default();
            RV::Val(Value::String(gofmt::sprintf(f, &vals).into()), false)
        }
        Builtin::Html => RV::Val(Value::String(html_escape(&eval_args(argv)).into()), false),
        Builtin::Js => RV::Val(Value::String(js_escape(&eval_args(argv)).into()), false),
        Builtin::UrlQuery => RV::Val(Value::String(query_escape(&eval_args(argv)).into()), false),
        Builtin::Eq => {
            let mut it = argv.into_iter();
            let a1 = it.next().unwrap_or(RV::Invalid);
            let rest: Vec<RV> = it.collect();
            RV::Val(Value::Bool(eq(a1, &rest)?), false)
        }
        Builtin::Ne => {
            let a2 = argv.pop().unwrap_or(RV::Invalid);
            let a1 = argv.pop().unwrap_or(RV::Invalid);
            RV::Val(Value::Bool(!eq(a1, &[a2])?), false)
        }
        Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge => {
            let a2 = argv.pop().unwrap_or(RV::Invalid);
            let a1 = argv.pop().unwrap_or(RV::Invalid);
            let r = match b {
                Builtin::Lt => lt(a1, a2)?,
                Builtin::Ge => !lt(a1, a2)?,
                Builtin::Le | Builtin::Gt => {
                    let le = lt(a1.clone(), a2.clone())? || eq(a1, &[a2])?;
                    if b == Builtin::Le { le } else { !le }
                }
                _ => unreachable!("outer match"),
            };
            RV::Val(Value::Bool(r), false)
        }
    })
}
