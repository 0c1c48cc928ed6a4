//! A set of named templates sharing functions and options (Go's
//! `*template.Template` with its associated templates).

use crate::FastMap;
use std::any::Any;
use std::sync::Arc;

use crate::error::Error;
use crate::exec;
use crate::funcs::Funcs;
use crate::parse::{self, Tree};
use crate::value::Value;

type ParsedSet = Result<FastMap<Arc<str>, Arc<Tree>>, Error>;

/// The name a text is parsed under before its own is known. A text that mentions it is not
/// parsed ahead, so no `define` in a preparsed text has this name.
const PREPARSE_NAME: &str = "\0ferry-preparse";

/// A template text parsed before its name was known ([`Templates::preparse`]).
pub struct Preparsed {
    text: Arc<str>,
    set: FastMap<Arc<str>, Arc<Tree>>,
}

impl std::fmt::Debug for Preparsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preparsed")
            .field("bytes", &self.text.len())
            .field("templates", &self.set.len())
            .finish()
    }
}

impl Preparsed {
    /// The text parsed.
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// The trees as `parse::parse(name, text)` makes them, if this is that text and naming
    /// can't change the outcome (a `define` of the file's own name is then an error, or
    /// one of the placeholder's).
    fn named(self, name: &str, text: &Arc<str>) -> Option<FastMap<Arc<str>, Arc<Tree>>> {
        if !Arc::ptr_eq(&self.text, text) || self.set.contains_key(name) {
            return None;
        }
        let name: Arc<str> = name.into();
        let mut out = FastMap::default();
        for (key, mut tree) in self.set {
            let t = Arc::get_mut(&mut tree)?;
            t.parse_name = name.clone();
            if &*key == PREPARSE_NAME {
                t.name = name.clone();
                out.insert(name.clone(), tree);
            } else {
                out.insert(key, tree);
            }
        }
        out.contains_key(&name).then_some(out)
    }
}

/// What a field access on a map does when the key is missing
/// (Go's `Option("missingkey=…")`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingKey {
    /// `missingkey=default` / `invalid`: no value; printed `<no value>`,
    /// and further field accesses on it yield no value either.
    #[default]
    Invalid,
    /// `missingkey=zero`: the zero value of the map's element type (`nil`
    /// for `map[string]interface {}`); printed `<no value>`, and a field
    /// access on it fails with `nil pointer evaluating interface {}.x`.
    /// This is what Helm uses.
    Zero,
    /// `missingkey=error`: `map has no entry for key "x"` (Helm's strict
    /// mode).
    Error,
}

/// Resource limits for execution, so hostile templates fail instead of
/// hanging or exhausting the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of `template` calls and nested executions
    /// (`include`, `tpl`). Go's limit is 100000; the native stack usually
    /// runs out first, see `max_stack_bytes`.
    pub max_template_depth: usize,
    /// Maximum native stack the executor may use, in bytes, measured from
    /// where execution started. Exceeding it reports
    /// `exceeded maximum template depth`. Keep it below the thread's stack
    /// size (2 MiB for spawned threads, 8 MiB for `main`).
    pub max_stack_bytes: usize,
    /// Maximum number of evaluation steps (actions, commands, nodes) in one
    /// execution, nested executions included.
    pub max_steps: u64,
    /// Maximum output size in bytes of one execution.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_template_depth: 100_000,
            max_stack_bytes: 1 << 20,
            max_steps: 100_000_000,
            max_output_bytes: 1 << 30,
        }
    }
}

/// A set of parsed templates, the functions they may call and the
/// execution options. Cloning is cheap (trees and functions are shared).
///
/// Parsing text adds every template it defines; a later `define` of a name
/// replaces an earlier one, except that an empty body never replaces a
/// non-empty one (Go's `AddParseTree` rules). Defining a name twice in one
/// text is an error.
#[derive(Clone, Debug)]
pub struct Templates {
    name: Arc<str>,
    funcs: Funcs,
    trees: Arc<FastMap<Arc<str>, Arc<Tree>>>,
    /// Trees parsed into a clone while `trees` is shared with other sets (what `tpl` does on
    /// every call): added here, over `trees`, instead of copying the whole shared map.
    local: FastMap<Arc<str>, Arc<Tree>>,
    missing_key: MissingKey,
    limits: Limits,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new(Funcs::new())
    }
}

impl Templates {
    /// An empty set using `funcs` (the builtins are always available).
    pub fn new(funcs: Funcs) -> Self {
        Templates {
            name: "".into(),
            funcs,
            trees: Arc::new(FastMap::default()),
            local: FastMap::default(),
            missing_key: MissingKey::default(),
            limits: Limits::default(),
        }
    }

    /// Sets the missing-key behaviour (builder style).
    pub fn with_missing_key(mut self, mk: MissingKey) -> Self {
        self.missing_key = mk;
        self
    }

    /// Sets the missing-key behaviour.
    pub fn set_missing_key(&mut self, mk: MissingKey) {
        self.missing_key = mk;
    }

    /// Sets the execution limits (builder style).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the execution limits.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The missing-key behaviour.
    pub fn missing_key(&self) -> MissingKey {
        self.missing_key
    }

    /// The execution limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The functions.
    pub fn funcs(&self) -> &Funcs {
        &self.funcs
    }

    /// Mutable access to the functions (templates parsed later may call
    /// the new ones).
    pub fn funcs_mut(&mut self) -> &mut Funcs {
        &mut self.funcs
    }

    /// The name of the first template parsed into the set.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parses `text` as template `name`, adding it and every template it
    /// defines. On error the set is unchanged.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), Error> {
        let set = self.parse_one(name, &text.into())?;
        self.add_parsed(name, set);
        Ok(())
    }

    /// Parses many texts as the same [`parse`](Self::parse) calls in order
    /// would, spreading the parsing over the machine's cores (each text parses
    /// on its own; the trees are then added in order, so `define` precedence
    /// is that of the sequential calls). On error, returns the index of the
    /// first text (in order) that failed; the texts before it are added.
    /// The texts are shared, not copied, by the trees (for error contexts).
    pub fn parse_many(&mut self, texts: &[(&str, Arc<str>)]) -> Result<(), (usize, Error)> {
        self.parse_many_with(texts, &mut |_| None)
    }

    /// Parses `text` before its name is known (while a chart is still being read, say),
    /// with the functions and limits of `funcs` and `limits`. [`parse_many_with`] adds it
    /// under its name, as if [`parse`](Self::parse) had parsed it then. `None` when the text
    /// does not parse, or could parse differently under its name: the error comes from the
    /// parse under the name.
    ///
    /// [`parse_many_with`]: Self::parse_many_with
    pub fn preparse(funcs: &Funcs, limits: &Limits, text: Arc<str>) -> Option<Preparsed> {
        if memchr::memmem::find(text.as_bytes(), &PREPARSE_NAME.as_bytes()[1..]).is_some() {
            return None;
        }
        let set = parse::parse(
            PREPARSE_NAME,
            text.clone(),
            &|f| funcs.has(f),
            limits.max_stack_bytes,
        )
        .ok()?;
        Some(Preparsed { text, set })
    }

    /// [`parse_many`](Self::parse_many), taking the trees of texts parsed ahead
    /// ([`preparse`](Self::preparse)) from `pre` (asked once per text) instead of parsing
    /// those again. Only a set with the same functions and limits as the preparse may use
    /// them.
    pub fn parse_many_with(
        &mut self,
        texts: &[(&str, Arc<str>)],
        pre: &mut dyn FnMut(&Arc<str>) -> Option<Preparsed>,
    ) -> Result<(), (usize, Error)> {
        self.parse_many_meanwhile(texts, pre, &mut || {})
    }

    /// [`parse_many_with`](Self::parse_many_with), running `meanwhile` on the calling
    /// thread while the other threads parse (before the parse when it is not shared out).
    /// A caller with work of its own that does not need the trees (a renderer's contexts,
    /// say) does it there instead of after the parse, on a core that would wait.
    /// `meanwhile` runs exactly once, whatever the parse gives.
    pub fn parse_many_meanwhile(
        &mut self,
        texts: &[(&str, Arc<str>)],
        pre: &mut dyn FnMut(&Arc<str>) -> Option<Preparsed>,
        meanwhile: &mut dyn FnMut(),
    ) -> Result<(), (usize, Error)> {
        let ready: Vec<Option<FastMap<Arc<str>, Arc<Tree>>>> = texts
            .iter()
            .map(|(name, text)| pre(text).and_then(|p| p.named(name, text)))
            .collect();
        let todo: Vec<usize> = (0..texts.len()).filter(|i| ready[*i].is_none()).collect();
        let mut results = self.parse_indexed(texts, &todo, meanwhile);
        for (i, ((name, _), ready)) in texts.iter().zip(ready).enumerate() {
            let r = match ready {
                Some(set) => Ok(set),
                None => results[i]
                    .take()
                    .unwrap_or_else(|| self.parse_one(name, &texts[i].1)),
            };
            self.add_parsed(name, r.map_err(|e| (i, e))?);
        }
        Ok(())
    }

    fn parse_one(&self, name: &str, text: &Arc<str>) -> ParsedSet {
        let funcs = &self.funcs;
        parse::parse(
            name,
            text.clone(),
            &|f| funcs.has(f),
            self.limits.max_stack_bytes,
        )
    }

    /// Parses the texts at `todo` on the machine's cores, the calling thread running
    /// `meanwhile` as it waits for them; the results by index (`None` for a text no worker
    /// reached).
    fn parse_indexed(
        &self,
        texts: &[(&str, Arc<str>)],
        todo: &[usize],
        meanwhile: &mut dyn FnMut(),
    ) -> Vec<Option<ParsedSet>> {
        let max_stack = self.limits.max_stack_bytes;
        let parse_one = |i: usize| self.parse_one(texts[i].0, &texts[i].1);
        let workers = crate::cores().min(8).min(todo.len() / 4);
        let mut results: Vec<Option<ParsedSet>> = Vec::new();
        results.resize_with(texts.len(), || None);
        if workers <= 1 {
            meanwhile();
        } else {
            let next = std::sync::atomic::AtomicUsize::new(0);
            // each worker hands its trees over as its last act: joining the workers would
            // also wait for their teardown (allocator heaps, stacks)
            let (tx, rx) = std::sync::mpsc::channel();
            let parsed = std::thread::scope(|scope| {
                for _ in 0..workers {
                    let (tx, next, parse_one) = (tx.clone(), &next, &parse_one);
                    let started = std::thread::Builder::new()
                        .name("gotmpl-parse".into())
                        // the parser measures its own stack use against `max_stack`
                        .stack_size(max_stack.saturating_add(8 << 20))
                        .spawn_scoped(scope, move || {
                            // a panic loses the worker's trees (parsed again in order
                            // below), not the scope
                            let mine =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    let mut mine = Vec::new();
                                    loop {
                                        let k =
                                            next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                        let Some(&i) = todo.get(k) else {
                                            return mine;
                                        };
                                        mine.push((i, parse_one(i)));
                                    }
                                }));
                            let _ = tx.send(mine.unwrap_or_default());
                        })
                        .is_ok();
                    if !started {
                        break;
                    }
                }
                drop(tx);
                meanwhile();
                // ends when every worker sent (or a worker's sender was dropped unsent)
                rx.into_iter().flatten().collect::<Vec<_>>()
            });
            for (i, r) in parsed {
                results[i] = Some(r);
            }
        }
        // a text no worker reached (one worker, or a worker failed to start) parses in order
        // in the caller, which stops at the first error
        results
    }

    fn add_parsed(&mut self, name: &str, set: FastMap<Arc<str>, Arc<Tree>>) {
        if self.name.is_empty() {
            self.name = name.into();
        }
        let mut entries: Vec<_> = set.into_iter().collect();
        // The file's own tree first, then its definitions (order only
        // matters for the empty-body rule, which is order independent).
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (n, tree) in entries {
            if self
                .tree(&n)
                .is_some_and(|old| tree.is_empty() && !old.is_empty())
            {
                continue;
            }
            match Arc::get_mut(&mut self.trees) {
                // not shared (and so never overlaid: `local` is only filled while shared)
                Some(trees) if self.local.is_empty() => {
                    trees.insert(n, tree);
                }
                _ => {
                    self.local.insert(n, tree);
                }
            }
        }
    }

    /// Whether a template of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.local.contains_key(name) || self.trees.contains_key(name)
    }

    /// The names of all templates, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .trees
            .keys()
            .chain(self.local.keys())
            .map(|k| k.to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub(crate) fn tree(&self, name: &str) -> Option<&Tree> {
        self.local
            .get(name)
            .or_else(|| self.trees.get(name))
            .map(|t| &**t)
    }

    /// Executes template `name` with `data` as dot (and `$`), returning
    /// the output.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        exec::execute(self, name, data.clone(), None, None).map(|(s, _)| s)
    }

    /// Like [`execute`](Self::execute), with an extension value that
    /// functions can reach through [`Ctx::ext`](crate::Ctx::ext) (e.g. a
    /// renderer's per-render state such as `include` recursion counts).
    pub fn execute_with(
        &self,
        name: &str,
        data: &Value,
        ext: &mut dyn Any,
    ) -> Result<String, Error> {
        exec::execute(self, name, data.clone(), Some(ext), None).map(|(s, _)| s)
    }
}
