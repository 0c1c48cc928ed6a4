//! The Jinja flavour (opt-in, beyond Helm): templates whose name ends in `.j2` render with
//! minijinja on the same context as Go templates (`Values`, `Release`, `Chart`,
//! `Capabilities`, `Template`, `Files`, `Subcharts`, plus `ctx`, the whole context as a Go
//! template's `.`), with filters mirroring Helm's helpers (see [`filters`]).
//!
//! - `templates/foo.yaml.j2` renders to the render-map key `templates/foo.yaml` (the `.j2`
//!   suffix is dropped, so `# Source:` lines read as for a Go template); `Template.Name` is the
//!   file itself (`chart/templates/foo.yaml.j2`).
//! - `_*.j2` files are partials: no output, but their macros can be imported
//!   (`{% import "_helpers.j2" as h %}`, names relative to the importing file or full paths).
//! - `include("define-name", ctx)` runs a Go template `define` of the chart tree, `tpl(text,
//!   ctx)` a Go template string, so charts can mix both flavours.
//! - Whitespace: `trim_blocks` and `lstrip_blocks` are on (a block tag on its own line leaves
//!   no blank line or indentation behind) and the final newline of a file is kept.
//! - Errors name the file, line and column (a byte offset, as Go's), e.g.
//!   `execution error at (chart/templates/cm.yaml.j2:3:14): ...`.

mod filters;
mod value;

use std::collections::HashSet;
use std::sync::Arc;

use ferry_gotmpl::{Map, Templates, Type, Value};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Error as JError, ErrorKind, UndefinedBehavior};

use crate::convert::values_type;
use crate::engine::{Frame, TemplateError, Texts, snippet};
use value::{Root, go_string};

/// Whether a template path is a Jinja template.
pub(crate) fn is_jinja(path: &str) -> bool {
    path.ends_with(".j2")
}

/// The render-map key of a Jinja template: its path without `.j2`.
pub(crate) fn output_name(path: &str) -> &str {
    path.strip_suffix(".j2").unwrap_or(path)
}

/// A Jinja template of the chart tree with its chart's context.
pub(crate) struct Source {
    /// Full path (`chart/templates/x.yaml.j2`).
    pub(crate) path: String,
    pub(crate) text: String,
    /// The chart's Go context (`.Values`, `.Chart`, ...).
    pub(crate) dot: Map,
    /// `chart/templates` of its chart.
    pub(crate) base_path: String,
}

/// An error whose message stands alone (`required`, `fail`), as Helm shows those.
#[derive(Debug)]
pub(crate) struct HelmMessage(pub(crate) String);

impl std::fmt::Display for HelmMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HelmMessage {}

/// A Go template that failed under `include`: Helm's message and where it points.
#[derive(Debug)]
pub(crate) struct GoFailure {
    pub(crate) message: String,
    pub(crate) frames: Vec<Frame>,
}

impl std::fmt::Display for GoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GoFailure {}

/// Renders the Jinja templates of a chart tree; returns `(render-map key, output)` for each
/// non-partial, in path order. `set` is the tree's Go template set (for `include`/`tpl`).
/// `texts` finds the source of any template of the tree (for error snippets).
pub(crate) fn render(
    sources: &[Source],
    set: &Templates,
    strict: bool,
    texts: &Texts<'_>,
) -> Result<Vec<(String, String)>, TemplateError> {
    let env = environment(sources, set, strict, texts)?;
    let mut out = Vec::new();
    for s in sources {
        let base = s.path.rsplit('/').next().unwrap_or(&s.path);
        if base.starts_with('_') {
            continue;
        }
        let dot = Map::with_type(s.dot.read().clone(), Type::Interface, Some(values_type()));
        dot.insert(
            "Template",
            Value::Map(Map::with_type(
                [
                    ("Name".to_string(), Value::string(s.path.as_str())),
                    ("BasePath".to_string(), Value::string(s.base_path.as_str())),
                ]
                .into_iter()
                .collect(),
                Type::Interface,
                Some(values_type()),
            )),
        );
        let text = env
            .get_template(&s.path)
            .and_then(|t| t.render(minijinja::Value::from_object(Root(dot))))
            .map_err(|e| template_error(&e, &s.path, texts))?;
        out.push((output_name(&s.path).to_string(), text));
    }
    Ok(out)
}

fn environment(
    sources: &[Source],
    set: &Templates,
    strict: bool,
    texts: &Texts<'_>,
) -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::new();
    env.set_debug(true);
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| template_error(&e, "", texts))?;
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(if strict {
        UndefinedBehavior::Strict
    } else {
        UndefinedBehavior::Lenient
    });
    // Go's printing: floats as `%v` (YAML's `3` is a float64 and prints `3`), booleans as
    // `true`/`false`, none as Helm's removed `<no value>`
    env.set_formatter(|out, state, v| {
        use minijinja::value::ValueKind as K;
        match v.kind() {
            K::None => Ok(()),
            K::Bool | K::Number => Ok(out.write_str(&go_string(v))?),
            _ => minijinja::escape_formatter(out, state, v),
        }
    });
    let known: Arc<HashSet<String>> = Arc::new(sources.iter().map(|s| s.path.clone()).collect());
    env.set_path_join_callback(move |name, parent| {
        if known.contains(name) {
            return name.to_string().into();
        }
        let dir = parent.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        normalize(&format!("{dir}/{name}")).into()
    });
    filters::register(&mut env, set.clone(), strict);
    for s in sources {
        env.add_template_owned(s.path.clone(), s.text.clone())
            .map_err(|e| template_error(&e, &s.path, texts))?;
    }
    Ok(env)
}

/// `a/b/../c/./d` → `a/c/d`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A minijinja error as ferry reports template errors: Helm's shape (`parse error at
/// (file:line:col): ...` / `execution error at (...)`) and the source line with a caret.
fn template_error(e: &JError, fallback: &str, texts: &Texts<'_>) -> TemplateError {
    // the innermost minijinja error with a location is where it happened
    let mut chain: Vec<&JError> = vec![e];
    let mut raw: Option<String> = None;
    let mut go: Option<&GoFailure> = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if let Some(j) = s.downcast_ref::<JError>() {
            chain.push(j);
        } else if let Some(h) = s.downcast_ref::<HelmMessage>() {
            raw.get_or_insert_with(|| h.0.clone());
        } else if let Some(g) = s.downcast_ref::<GoFailure>() {
            go.get_or_insert(g);
        }
        cur = s.source();
    }
    let at = chain
        .iter()
        .rev()
        .find(|j| j.name().is_some() && j.line().is_some())
        .copied()
        .unwrap_or(e);
    let file = at.name().unwrap_or(fallback).to_string();
    let line = at.line();
    let col = match (at.range(), texts(&file)) {
        (Some(r), Some(text)) if r.start <= text.len() => {
            Some(r.start - text[..r.start].rfind('\n').map(|i| i + 1).unwrap_or(0))
        }
        _ => None,
    };
    let loc = match (line, col) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.clone(),
    };
    let detail = raw.unwrap_or_else(|| match (go, at.detail()) {
        (Some(g), _) => g.message.clone(),
        (None, Some(d)) => format!("{}: {d}", at.kind()),
        (None, None) => at.kind().to_string(),
    });
    let what = if at.kind() == ErrorKind::SyntaxError {
        "parse error"
    } else {
        "execution error"
    };
    let mut frames = Vec::new();
    if let Some(l) = line {
        frames.push(Frame {
            file: file.clone(),
            line: l,
            col,
        });
    }
    if let Some(g) = go {
        frames.extend(g.frames.iter().cloned());
    }
    TemplateError {
        template: fallback.to_string(),
        message: format!("{what} at ({loc}): {detail}"),
        snippet: snippet(&frames, texts),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalizes_relative_paths() {
        assert_eq!(super::normalize("c/templates/../x/./y.j2"), "c/x/y.j2");
    }
}
