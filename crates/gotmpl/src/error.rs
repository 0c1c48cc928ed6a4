//! The crate's error type. Messages follow Go's `text/template` wording.

use std::fmt;

/// A position in a template source, as Go reports it: `line` is 1-based,
/// `col` is the byte offset within the line (Go prints the first byte of a
/// line as column 0), `offset` is the byte offset in the whole source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// 1-based line.
    pub line: usize,
    /// Byte column within the line, as Go prints it.
    pub col: usize,
    /// Byte offset from the start of the source.
    pub offset: usize,
}

impl Span {
    /// Computes the span of byte `offset` in `text`.
    pub fn at(text: &str, offset: usize) -> Span {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let col = match before.iter().rposition(|b| *b == b'\n') {
            Some(nl) => offset - nl - 1,
            None => offset,
        };
        Span { line, col, offset }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A template that does not parse. Displays as Go does:
/// `template: NAME:LINE: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    /// The name of the template being parsed (Go's `ParseName`).
    pub name: String,
    /// 1-based line of the token where parsing stopped.
    pub line: usize,
    /// What went wrong, e.g. `unexpected EOF`.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template: {}:{}: {}", self.name, self.line, self.message)
    }
}

/// Execution that failed at a node. Displays as Go does:
/// `template: FILE:LINE:COL: executing "NAME" at <CONTEXT>: MESSAGE`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecError {
    /// The template being executed (a `define` name or the file name).
    pub name: String,
    /// The name of the source the node was parsed from.
    pub location: String,
    /// Where the node is in that source.
    pub span: Span,
    /// The node as Go prints it (`.Values.x`, `eq .a 1`).
    pub context: String,
    /// What went wrong, e.g. `error calling eq: incompatible types…`.
    pub message: String,
    /// The template error a function returned, if any (e.g. from
    /// `include`).
    pub source: Option<Error>,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template: {}:{}: executing {} at <{}>: {}",
            self.location,
            self.span,
            crate::gofmt::quote(&self.name),
            self.context,
            self.message
        )
    }
}

/// Errors from parsing or executing templates.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The template text does not parse.
    #[error("{0}")]
    Parse(Box<ParseError>),
    /// Execution failed at a node.
    #[error("{0}")]
    Exec(Box<ExecError>),
    /// Execution failed before any node was reached.
    #[error("template: {name}: {message}")]
    ExecNoNode {
        /// The template name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// `execute` was asked for a name that is not in the set.
    #[error("template: no template {name:?} associated with template {set:?}")]
    NoTemplate {
        /// The missing name.
        name: String,
        /// The set's name.
        set: String,
    },
}

impl Error {
    /// The bare message without Go's location prefix.
    pub fn message(&self) -> String {
        match self {
            Error::Parse(e) => e.message.clone(),
            Error::Exec(e) => e.message.clone(),
            Error::ExecNoNode { message, .. } => message.clone(),
            e @ Error::NoTemplate { .. } => e.to_string(),
        }
    }

    /// Where execution failed, if it did at a node.
    pub fn span(&self) -> Option<Span> {
        match self {
            Error::Exec(e) => Some(e.span),
            _ => None,
        }
    }

    /// The template error wrapped by a failing function call (e.g. the
    /// error inside an `include`), if any.
    pub fn inner(&self) -> Option<&Error> {
        match self {
            Error::Exec(e) => e.source.as_ref(),
            _ => None,
        }
    }
}

/// The error a template function returns. Execution stops and reports
/// `error calling NAME: MESSAGE` (Go's convention for `(T, error)` results).
#[derive(Debug, Clone)]
pub struct FuncError {
    message: String,
    source: Option<Error>,
}

impl FuncError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        FuncError {
            message: message.into(),
            source: None,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The template error this wraps, if any.
    pub fn template_error(&self) -> Option<&Error> {
        self.source.as_ref()
    }

    pub(crate) fn into_parts(self) -> (String, Option<Error>) {
        (self.message, self.source)
    }
}

impl fmt::Display for FuncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FuncError {}

impl From<String> for FuncError {
    fn from(s: String) -> Self {
        FuncError::new(s)
    }
}

impl From<&str> for FuncError {
    fn from(s: &str) -> Self {
        FuncError::new(s)
    }
}

impl From<Error> for FuncError {
    fn from(e: Error) -> Self {
        FuncError {
            message: e.to_string(),
            source: Some(e),
        }
    }
}
