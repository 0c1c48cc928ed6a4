//! Go's `text/template` language, exact to the byte and to the error.
//!
//! This crate lexes, parses and executes Go templates with Go's semantics:
//! the same output bytes (including Go's `fmt` printing of numbers, maps
//! and slices) and the same error messages. It knows nothing of Helm,
//! Kubernetes or YAML: Sprig and Helm functions (`include`, `tpl`,
//! `toYaml`, …) are registered by the caller through [`Funcs`].
//!
//! - [`Templates`] is a set of named templates: parse once, execute many.
//! - [`Value`] is what templates see: nil, bool, numbers, strings, lists,
//!   maps (optionally of a named Go type such as `common.Values`), structs.
//! - [`Function`] + [`Signature`] give functions Go's call convention
//!   (typed parameters, variadics, the piped value last, `(T, error)`).
//! - [`Ctx`] lets a function execute other templates (`include`, `tpl`).
//! - [`gofmt`] is Go's `fmt` (`Sprint`, `Sprintf` with every verb and
//!   flag), which Sprig-style functions need as much as the engine does.
//!
//! Differences from Go are deliberate and few: strings are UTF-8 (a `\xff`
//! escape becomes U+FFFD), and hostile templates stop at [`Limits`]
//! (template depth, native stack, steps, output size) with an error instead
//! of exhausting memory or the stack. Deep `include` chains need stack: a
//! renderer that allows Helm's 1000 nested includes should run on a thread
//! with a large stack and raise `Limits::max_stack_bytes` to match.
//!
//! ```
//! use ferry_gotmpl::{Funcs, Signature, Templates, Type, Value};
//!
//! let mut funcs = Funcs::new();
//! funcs.add("upper", Signature::new([Type::String], Type::String), |_, args| {
//!     Ok(Value::from(args[0].as_str().unwrap_or_default().to_uppercase()))
//! });
//! let mut set = Templates::new(funcs);
//! set.parse("t", r#"{{ range $k, $v := . }}{{ $k | upper }}={{ $v }} {{ end }}"#)?;
//! let data = Value::map([("b", Value::from(1e6)), ("a", Value::from("x"))]);
//! assert_eq!(set.execute("t", &data)?, "A=x B=1e+06 ");
//!
//! let err = Templates::default().parse("bad", "{{ if true }}").unwrap_err();
//! assert_eq!(err.to_string(), "template: bad:1: unexpected EOF");
//! # Ok::<(), ferry_gotmpl::Error>(())
//! ```

#![warn(missing_docs)]

mod error;
mod exec;
mod funcs;
mod gobytes;
pub mod gofmt;
mod lex;
mod parse;
mod strconv;
mod template;
mod value;

/// The hash map of names (templates, functions, interned strings): a fast fixed-seed hash,
/// as the keys come from the chart author, not from an attacker of the process.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

pub use error::{Error, ExecError, FuncError, ParseError, Span};
pub use exec::Ctx;
pub use funcs::{Funcs, Function, NativeFn, Signature, html_escape, js_escape, query_escape};
pub use gobytes::{bytes_value, go_bytes, remember_bytes};
pub use template::{Limits, MissingKey, Preparsed, Templates};
pub use value::{List, Map, Stringer, Struct, Type, TypeInfo, Value, is_true, watch_shared_writes};

/// The cores this process may run on (`std::thread::available_parallelism`, 1 when unknown),
/// read once: on Linux each reading opens cgroup files, which several steps of every render
/// would otherwise repeat.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
