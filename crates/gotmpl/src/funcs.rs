//! Template functions: the registry ([`Funcs`]), Go's call convention
//! ([`Function`] with a [`Signature`]), and the builtins.

use crate::FastMap;
use std::fmt;
use std::sync::Arc;

use crate::error::FuncError;
use crate::exec::Ctx;
use crate::value::{Type, Value};

/// The Go signature of a function: fixed parameter types, an optional
/// variadic element type, and the result type.
///
/// Arguments are checked against it before the call, exactly as Go's
/// `text/template` checks them, so errors such as
/// `wrong number of args for upper: want 1 got 2`,
/// `expected string; found 1` or
/// `wrong type for value; expected string; got float64` come out the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Types of the fixed parameters.
    pub params: Vec<Type>,
    /// Element type of the trailing `...T` parameter, if variadic.
    pub variadic: Option<Type>,
    /// The result type (`interface {}` results are unwrapped by pipelines).
    pub ret: Type,
}

impl Signature {
    /// A fixed-arity signature.
    pub fn new(params: impl Into<Vec<Type>>, ret: Type) -> Self {
        Signature {
            params: params.into(),
            variadic: None,
            ret,
        }
    }

    /// A variadic signature: `params` then `...variadic`.
    pub fn variadic(params: impl Into<Vec<Type>>, variadic: Type, ret: Type) -> Self {
        Signature {
            params: params.into(),
            variadic: Some(variadic),
            ret,
        }
    }
}

/// The native body of a function: receives the execution context and the
/// checked arguments (a piped value is the last argument), returns a value
/// or an error (Go's `(T, error)`).
pub type NativeFn = dyn Fn(&mut Ctx<'_, '_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync;

/// A template function: a signature and a body. Cheap to clone.
#[derive(Clone)]
pub struct Function(Arc<FunctionInner>);

struct FunctionInner {
    sig: Signature,
    body: Body,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Html,
    Js,
    UrlQuery,
    Call,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

enum Body {
    Native(Box<NativeFn>),
    Builtin(Builtin),
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("sig", &self.0.sig)
            .finish()
    }
}

impl Function {
    /// A function with the given signature and body.
    pub fn new(
        sig: Signature,
        body: impl Fn(&mut Ctx<'_, '_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync + 'static,
    ) -> Self {
        Function(Arc::new(FunctionInner {
            sig,
            body: Body::Native(Box::new(body)),
        }))
    }

    pub(crate) fn builtin(b: Builtin, sig: Signature) -> Self {
        Function(Arc::new(FunctionInner {
            sig,
            body: Body::Builtin(b),
        }))
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.0.sig
    }

    pub(crate) fn as_builtin(&self) -> Option<Builtin> {
        match self.0.body {
            Body::Builtin(b) => Some(b),
            Body::Native(_) => None,
        }
    }

    pub(crate) fn call_native(
        &self,
        ctx: &mut Ctx<'_, '_>,
        args: Vec<Value>,
    ) -> Result<Value, FuncError> {
        match &self.0.body {
            Body::Native(f) => f(ctx, args),
            Body::Builtin(_) => Err(FuncError::new("builtin called natively")),
        }
    }

    /// Whether two handles are the same function.
    pub fn ptr_eq(&self, other: &Function) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Go's spelling of the function type, e.g. `func(string) string`.
    pub fn type_string(&self) -> String {
        let s = &self.0.sig;
        let mut out = String::from("func(");
        let mut first = true;
        for p in &s.params {
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push_str(&p.to_string());
        }
        if let Some(v) = &s.variadic {
            if !first {
                out.push_str(", ");
            }
            out.push_str("...");
            out.push_str(&v.to_string());
        }
        out.push_str(") ");
        out.push_str(&s.ret.to_string());
        out
    }
}

/// A function registry: name → [`Function`]. Cheap to clone (the map is
/// shared until modified), so a renderer can build one set of functions and
/// clone it per render.
///
/// Functions registered here shadow the builtins of the same name (as
/// Sprig's `slice` does in Helm), except that the parser-level keywords
/// stay keywords.
#[derive(Clone, Default)]
pub struct Funcs {
    map: Arc<FastMap<Arc<str>, Function>>,
}

impl fmt::Debug for Funcs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.map.keys().collect();
        names.sort();
        f.debug_struct("Funcs").field("names", &names).finish()
    }
}

impl Funcs {
    /// An empty registry (builtins are always available).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) a function.
    pub fn insert(&mut self, name: &str, f: Function) -> &mut Self {
        Arc::make_mut(&mut self.map).insert(name.into(), f);
        self
    }

    /// Registers a function from a signature and a body.
    pub fn add(
        &mut self,
        name: &str,
        sig: Signature,
        body: impl Fn(&mut Ctx<'_, '_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync + 'static,
    ) -> &mut Self {
        self.insert(name, Function::new(sig, body))
    }

    /// Looks a registered (non-builtin) function up.
    pub fn get(&self, name: &str) -> Option<&Function> {
        self.map.get(name)
    }

    /// Whether `name` is a registered function or a builtin.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name) || builtin(name).is_some()
    }

    /// Finds a function: registered functions first, then builtins. The
    /// flag tells whether the builtin was found.
    ///
    /// Borrowed, not cloned: both render threads call the same functions all the time, and
    /// a clone's reference count would be a memory word both cores write.
    pub(crate) fn find(&self, name: &str) -> Option<(&Function, bool)> {
        if let Some(f) = self.map.get(name) {
            return Some((f, false));
        }
        builtin(name).map(|f| (f, true))
    }
}

fn builtin(name: &str) -> Option<&'static Function> {
    use Builtin::*;
    use Type::{Interface as I, Reflect as R};
    static TABLE: std::sync::OnceLock<FastMap<&'static str, Function>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut m = FastMap::default();
        let mut put = |n: &'static str, b: Builtin, s: Signature| {
            m.insert(n, Function::builtin(b, s));
        };
        put("and", And, Signature::variadic([R], R, R));
        put("or", Or, Signature::variadic([R], R, R));
        put("not", Not, Signature::new([R], Type::Bool));
        put("len", Len, Signature::new([R], Type::Int));
        put("index", Index, Signature::variadic([R], R, R));
        put("slice", Slice, Signature::variadic([R], R, R));
        put("print", Print, Signature::variadic([], I, Type::String));
        put(
            "printf",
            Printf,
            Signature::variadic([Type::String], I, Type::String),
        );
        put("println", Println, Signature::variadic([], I, Type::String));
        put("html", Html, Signature::variadic([], I, Type::String));
        put("js", Js, Signature::variadic([], I, Type::String));
        put(
            "urlquery",
            UrlQuery,
            Signature::variadic([], I, Type::String),
        );
        put("call", Call, Signature::variadic([R], R, R));
        put("eq", Eq, Signature::variadic([R], R, Type::Bool));
        for (n, b) in [("ne", Ne), ("lt", Lt), ("le", Le), ("gt", Gt), ("ge", Ge)] {
            put(n, b, Signature::new([R, R], Type::Bool));
        }
        m
    });
    t.get(name)
}

// ---- escapers (Go's HTMLEscapeString, JSEscapeString, url.QueryEscape) ----

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u00{:02X}", c as u32);
            }
            c if c.is_ascii() => out.push(c),
            c => {
                if crate::gofmt::is_print(c) {
                    out.push(c);
                } else {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
            }
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
