//! Helm's engine (`pkg/engine/engine.go`): every template of the chart tree in one template
//! set, each executed with its chart's context; `<no value>` removed from the output.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_chart::{Chart, Map as CMap};
use ferry_gotmpl::{Funcs, Limits, Map, MissingKey, Preparsed, Templates, Type, Value};

/// Stack the executing thread gets: Helm lets `include` nest 1000 deep before it stops a
/// recursion, which needs more than a default thread stack.
const THREAD_STACK: usize = 256 << 20;
/// How much of it templates may use before execution stops with a depth error.
const STACK_BUDGET: usize = 192 << 20;

use crate::context::{Capabilities, ReleaseOptions, chart_value, files_value};
use crate::convert::{map_to_tmpl, values_type};
use crate::helm::{self, Lookup, ROOT_NAME, RenderState};

/// A template that failed to parse or execute, with Helm's message.
///
/// `Display` prints Helm's message alone (byte-identical to Helm's); the alternate form
/// (`{:#}`) adds, beyond Helm, the source lines the error points at with a caret under the
/// column:
///
/// ```text
/// execution error at (mychart/templates/cm.yaml:3:10): ...
///    3 |   key: {{ fail "no" }}
///      |           ^
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    /// The template that failed (`chart/templates/x.yaml`).
    pub template: String,
    /// Helm's wording (`parse error at (file:line): ...`, `execution error at (...)`, or the
    /// trace of nested template calls).
    pub message: String,
    /// Beyond Helm: the source line of each template the error passes through (outermost
    /// first), with a caret under the column where Go reports one; `None` when the error
    /// points at no template file (e.g. inside a `tpl` string).
    pub snippet: Option<String>,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if f.alternate()
            && let Some(s) = &self.snippet
        {
            write!(f, "\n{s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TemplateError {}

/// A place in a template source an error points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Template path (`chart/templates/x.yaml`).
    pub(crate) file: String,
    /// 1-based line.
    pub(crate) line: usize,
    /// Byte column (0-based, as Go prints it), if known.
    pub(crate) col: Option<usize>,
}

/// The places a Go template error passes through, outermost first: each failing node, then
/// (for `include` and friends) the template error the function returned.
pub(crate) fn go_frames(err: &ferry_gotmpl::Error) -> Vec<Frame> {
    use ferry_gotmpl::Error as E;
    let mut out: Vec<Frame> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let f = match e {
            E::Parse(p) => Some(Frame {
                file: p.name.clone(),
                line: p.line,
                col: None,
            }),
            E::Exec(x) => Some(Frame {
                file: x.location.clone(),
                line: x.span.line,
                col: Some(x.span.col),
            }),
            _ => None,
        };
        if let Some(f) = f
            && out.last() != Some(&f)
        {
            out.push(f);
        }
        cur = e.inner();
    }
    out
}

/// Finds the source text of a template by path.
pub(crate) type Texts<'a> = dyn Fn(&str) -> Option<&'a str> + Sync + 'a;

/// The widest stretch of a source line shown around the caret.
const SNIPPET_WIDTH: usize = 160;

/// Source lines with a caret under the column, one block per frame whose source is known
/// (`texts`); frames get a `--> file:line:col` header when there are several.
pub(crate) fn snippet<'a>(frames: &[Frame], texts: &Texts<'a>) -> Option<String> {
    let shown: Vec<(&Frame, &'a str)> = frames
        .iter()
        .filter_map(|f| {
            let text = texts(&f.file)?;
            let line = text.split('\n').nth(f.line.checked_sub(1)?)?;
            Some((f, line.strip_suffix('\r').unwrap_or(line)))
        })
        .collect();
    if shown.is_empty() {
        return None;
    }
    let width = shown
        .iter()
        .map(|(f, _)| f.line.to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = Vec::new();
    for (f, line) in &shown {
        if shown.len() > 1 {
            out.push(match f.col {
                Some(c) => format!("  --> {}:{}:{c}", f.file, f.line),
                None => format!("  --> {}:{}", f.file, f.line),
            });
        }
        let mut col = f.col.map(|c| c.min(line.len()));
        while let Some(c) = col
            && !line.is_char_boundary(c)
        {
            col = Some(c - 1);
        }
        // long lines: a window around the caret
        let (mut start, mut end) = (0, line.len());
        if line.chars().count() > SNIPPET_WIDTH {
            let c = col.unwrap_or(0);
            start = c.saturating_sub(SNIPPET_WIDTH / 3);
            while !line.is_char_boundary(start) {
                start -= 1;
            }
            end = (start + SNIPPET_WIDTH).min(line.len());
            while !line.is_char_boundary(end) {
                end += 1;
            }
        }
        let (pre, post) = (
            if start > 0 { "..." } else { "" },
            if end < line.len() { "..." } else { "" },
        );
        out.push(format!(
            "  {:>width$} | {pre}{}{post}",
            f.line,
            &line[start..end]
        ));
        if let Some(c) = col {
            let pad: String = pre
                .chars()
                .chain(line[start..c].chars())
                .map(|ch| if ch == '\t' { '\t' } else { ' ' })
                .collect();
            out.push(format!("  {:>width$} | {pad}^", ""));
        }
    }
    Some(out.join("\n"))
}

/// Renders chart trees. `strict` is Helm's `--strict` (missing keys are errors).
#[derive(Clone, Default)]
pub struct Engine {
    /// `missingkey=error` instead of `missingkey=zero`.
    pub strict: bool,
    /// Cluster access for `lookup`; `None` renders offline (`lookup` returns `{}`).
    pub lookup: Option<Arc<dyn Lookup>>,
    /// Extra functions registered over Helm's (Helm's `CustomTemplateFuncs`).
    pub custom: Option<CustomFuncs>,
    /// The process exits right after this render (the `ferry template` command): the parse
    /// trees and template contexts are left for the operating system to reclaim instead of
    /// being freed one small allocation at a time.
    pub exit_after: bool,
    /// Templates parsed while the chart was read ([`Preparse`]); the render parses the rest.
    pub preparsed: Option<Arc<Preparse>>,
    /// Threads that execute templates ([`Engine::render`]); `None`: all cores, at most 4.
    /// Whatever the number, the output is that of Helm's order.
    pub exec_threads: Option<usize>,
}

/// Parses a chart's templates on a thread of its own while the chart is still being read:
/// hand [`Preparse::offer`] to [`ferry_chart::load_observed`], then the result to
/// [`Engine::preparsed`]. The render uses a tree only for the very text it renders (the same
/// shared string) and only when its set has Helm's functions alone; anything else, a text
/// that failed to parse among them, parses at render time as before (so errors are the same).
/// The render does not wait for texts the thread has not begun: it parses those itself, on
/// all cores.
pub struct Preparse {
    queue: Arc<PreparseQueue>,
    /// Where the thread hands its trees over when the queue closes (it then ends on its
    /// own: nobody waits for a thread's end).
    trees: std::sync::Mutex<Option<std::sync::mpsc::Receiver<Vec<Preparsed>>>>,
}

/// The texts offered to the [`Preparse`] thread and not yet begun.
#[derive(Default)]
struct PreparseQueue {
    state: std::sync::Mutex<Queued>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct Queued {
    texts: std::collections::VecDeque<Arc<str>>,
    /// Once the render takes the trees (or the [`Preparse`] is dropped): the thread stops
    /// after the text in hand, and nothing more is queued.
    closed: bool,
}

impl PreparseQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next text to parse; `None` once closed.
    fn next(&self) -> Option<Arc<str>> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(text) = state.texts.pop_front() {
                return Some(text);
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.texts.clear();
        self.ready.notify_all();
    }
}

impl std::fmt::Debug for Preparse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preparse").finish_non_exhaustive()
    }
}

impl Preparse {
    /// Starts the parsing thread (or nothing, when it can't start: the render parses all).
    pub fn start() -> Arc<Preparse> {
        let queue = Arc::new(PreparseQueue::default());
        let theirs = queue.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let started = std::thread::Builder::new()
            .name("ferry-preparse".into())
            .stack_size(STACK_BUDGET.saturating_add(8 << 20))
            .spawn(move || {
                // while the first templates are still on their way: the render checks the
                // chart's `kubeVersion` and templates call `semverCompare`
                ferry_chart::semver::warm_up();
                let funcs = helm_funcs(None);
                let limits = engine_limits();
                let trees: Vec<Preparsed> = std::iter::from_fn(|| theirs.next())
                    .filter_map(|text| Templates::preparse(&funcs, &limits, text))
                    .collect();
                let _ = tx.send(trees);
            })
            .is_ok();
        if !started {
            queue.close();
        }
        Arc::new(Preparse {
            queue,
            trees: std::sync::Mutex::new(Some(rx)),
        })
    }

    /// Queues a file of the chart being read if it is a Go template (under a `templates/`
    /// folder; `*.j2` files are the Jinja flavour's).
    pub fn offer(&self, file: &ferry_chart::File) {
        let name = file.name.as_str();
        let template = name.starts_with("templates/") || name.contains("/templates/");
        if !template || crate::jinja::is_jinja(name) {
            return;
        }
        let mut state = self.queue.lock();
        if !state.closed {
            state.texts.push_back(file.shared_text());
            self.queue.ready.notify_one();
        }
    }

    /// Queues every template of `chart` and of its subcharts, all of them (the render
    /// uses the trees of the charts left after dependency processing).
    pub fn offer_chart(&self, chart: &Chart) {
        for t in &chart.templates {
            self.offer(t);
        }
        for d in &chart.dependencies {
            self.offer_chart(d);
        }
    }

    /// Whether the thread has begun every text offered so far (it may still be parsing the
    /// last one, or wait for more, or have stopped).
    pub fn has_begun_all(&self) -> bool {
        let state = self.queue.lock();
        state.closed || state.texts.is_empty()
    }

    /// Stops the thread after the text in hand and takes its trees, keyed by the address of
    /// their text.
    fn take(&self) -> std::collections::HashMap<usize, Preparsed> {
        self.queue.close();
        let trees = self.trees.lock().unwrap_or_else(|e| e.into_inner()).take();
        // nothing when the thread did not start or failed: the render parses everything
        let parsed = trees.and_then(|rx| rx.recv().ok()).unwrap_or_default();
        parsed
            .into_iter()
            .map(|p| (text_ptr(p.text()), p))
            .collect()
    }
}

impl Drop for Preparse {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// A shared text's identity (the chart keeps every text alive through the render).
fn text_ptr(text: &Arc<str>) -> usize {
    Arc::as_ptr(text) as *const u8 as usize
}

fn engine_limits() -> Limits {
    Limits {
        max_stack_bytes: STACK_BUDGET,
        ..Limits::default()
    }
}

/// Registers extra template functions (Helm's `CustomTemplateFuncs`).
pub type CustomFuncs = Arc<dyn Fn(&mut Funcs) + Send + Sync>;

/// What [`Engine::render_observed`] calls with `(template path, rendered text, late)`;
/// `late`: the render had finished when the text was shown (it waited in line: the caller
/// may as well take it from the returned map, and read it on all cores).
pub type FileObserver<'a> = dyn FnMut(&str, &str, bool) + 'a;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("strict", &self.strict)
            .field("lookup", &self.lookup.is_some())
            .field("exit_after", &self.exit_after)
            .finish()
    }
}

struct Renderable {
    vals: Map,
    base_path: String,
}

/// Every function templates can call: Sprig as Helm ships it, then Helm's own.
///
/// Without a cluster to look up in, every call gives the same functions, registered once per
/// process (the functions keep no state of their own; a caller that adds some changes its
/// own copy).
pub fn helm_funcs(lookup: Option<Arc<dyn Lookup>>) -> Funcs {
    static OFFLINE: std::sync::OnceLock<Funcs> = std::sync::OnceLock::new();
    match lookup {
        None => OFFLINE.get_or_init(|| registered(None)).clone(),
        lookup => registered(lookup),
    }
}

fn registered(lookup: Option<Arc<dyn Lookup>>) -> Funcs {
    let mut funcs = Funcs::new();
    crate::sprig::register(&mut funcs);
    helm::register(&mut funcs, lookup);
    funcs
}

impl Engine {
    /// Renders a processed chart tree (after dependency processing) with its coalesced
    /// `.Values`; returns Helm's render map `{template path: output}` (partials excluded).
    /// Runs on a thread of its own with a large stack, so deep template recursion ends in
    /// an error and never in a stack overflow. Where the machine has more than one core,
    /// other threads execute templates from the end of Helm's order meanwhile; their outputs
    /// are kept only when no template wrote to a map it did not make (`.Values`, a chart's
    /// context), so the result is always that of Helm's one-by-one order. With custom
    /// functions, all templates run on the one thread.
    pub fn render(
        &self,
        chart: &Chart,
        values: &CMap,
        release: &ReleaseOptions,
        caps: &Capabilities,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        self.render_inner(chart, values, release, caps, None)
    }

    /// [`Engine::render`] that shows the caller the Go templates' outputs while the render
    /// goes on (a batch at a time, of about 32 KiB, so the caller's thread is woken once per
    /// batch): `on_file(path, text, late)` runs on the caller's thread (idle otherwise), so
    /// the manifest stage can read documents before the last template ran. The last text
    /// shown for a path is the one the returned map holds; an earlier one
    /// may come from a run on another thread that was then redone in Helm's order (see
    /// [`Engine::render`]). Partials are not shown, nor `.j2` templates (rendered after all
    /// Go templates).
    pub fn render_observed(
        &self,
        chart: &Chart,
        values: &CMap,
        release: &ReleaseOptions,
        caps: &Capabilities,
        on_file: &mut FileObserver<'_>,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        self.render_inner(chart, values, release, caps, Some(on_file))
    }

    fn render_inner(
        &self,
        chart: &Chart,
        values: &CMap,
        release: &ReleaseOptions,
        caps: &Capabilities,
        on_file: Option<&mut FileObserver<'_>>,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        // When the templates are parsed already, or all but the one in hand (they were parsed
        // while the chart was read or the values computed), another thread makes the render
        // thread's contexts meanwhile, while the render thread gathers the parse trees: it
        // begins executing as soon as it has them. Otherwise the render thread makes its
        // contexts while the other threads parse. Helpers copy the contexts as they use
        // them.
        let parsed_ahead =
            self.custom.is_none() && self.preparsed.as_ref().is_some_and(|p| p.has_begun_all());
        let (own_tx, own) = Handoff::new();
        // (partials included: at most the templates to execute)
        let by_thread = parsed_ahead && self.helper_threads(count_templates(chart)) > 0;
        // The render thread's result, which it sets as its last act. The scope ends when the
        // thread's work is done; joining the thread would also wait for it to be torn down
        // (its allocator's heap collected, its stack unmapped: ~0.2 ms on the biggest charts).
        let result = std::sync::OnceLock::new();
        let internal = || TemplateError {
            template: String::new(),
            message: "rendering template failed: internal error".into(),
            snippet: None,
        };
        let slot = &result;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel::<Vec<(String, String)>>();
            let tx = on_file.is_some().then_some(tx);
            let worker = std::thread::Builder::new()
                .name("ferry-render".into())
                .stack_size(THREAD_STACK)
                .spawn_scoped(scope, move || {
                    let made = Made {
                        own: &own,
                        by_thread,
                    };
                    // a panic is the render's error, not the scope's
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.render_here(chart, values, release, caps, tx.as_ref(), made)
                    }));
                    let _ = slot.set(r.unwrap_or_else(|_| Err(internal())));
                })
                .map_err(|e| TemplateError {
                    template: String::new(),
                    message: format!("cannot start the render thread: {e}"),
                    snippet: None,
                })?;
            // started after the render thread, which everything waits for
            if by_thread {
                let _ = std::thread::Builder::new()
                    .name("ferry-render-contexts".into())
                    .stack_size(THREAD_STACK)
                    .spawn_scoped(scope, move || {
                        let _ = own_tx.send(contexts(chart, values, release, caps));
                    });
            } else {
                drop(own_tx);
            }
            if let Some(on_file) = on_file {
                // ends when the render thread drops its sender: done or failed
                for (path, text) in rx.into_iter().flatten() {
                    on_file(&path, &text, worker.is_finished());
                }
            }
            Ok::<_, TemplateError>(())
        })?;
        result.into_inner().unwrap_or_else(|| Err(internal()))
    }

    /// How many threads help execute `jobs` templates besides the render thread.
    fn helper_threads(&self, jobs: usize) -> usize {
        // custom functions may count on Helm's one-by-one order: they run as Helm runs them
        let threads = match self.exec_threads {
            _ if self.custom.is_some() || jobs < MIN_PARALLEL_JOBS => 1,
            Some(n) => n,
            None => ferry_gotmpl::cores().min(MAX_DEFAULT_THREADS),
        };
        threads.saturating_sub(1)
    }

    fn render_here(
        &self,
        chart: &Chart,
        values: &CMap,
        release: &ReleaseOptions,
        caps: &Capabilities,
        observer: Option<&Observer>,
        made: Made<'_>,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        // the trees first (the contexts may be on their way from another thread)
        let sources = template_sources(chart);
        let mut funcs = helm_funcs(self.lookup.clone());
        if let Some(custom) = &self.custom {
            custom(&mut funcs);
        }
        let mut set = Templates::new(funcs)
            .with_missing_key(if self.strict {
                MissingKey::Error
            } else {
                MissingKey::Zero
            })
            .with_limits(engine_limits());
        // the root template Helm creates first: `template.New("gotpl")`
        set.parse(ROOT_NAME, "").map_err(|e| TemplateError {
            template: ROOT_NAME.into(),
            message: e.to_string(),
            snippet: None,
        })?;
        let mut keys: Vec<&String> = sources.keys().collect();
        // sort.Reverse(byPathLen): deepest paths first, then reverse lexical order
        keys.sort_by_cached_key(|k| {
            (
                std::cmp::Reverse(k.matches('/').count()),
                std::cmp::Reverse(*k),
            )
        });
        let texts = |name: &str| sources.get(name).map(|t| t.as_ref());
        let texts: &Texts<'_> = &texts;
        let error = |k: &str, e: &ferry_gotmpl::Error| TemplateError {
            template: k.to_string(),
            message: helm::helm_error(k, e),
            snippet: snippet(&go_frames(e), texts),
        };
        // `*.j2` templates are the Jinja flavour's, rendered below
        let go: Vec<(&str, Arc<str>)> = keys
            .iter()
            .filter(|k| !crate::jinja::is_jinja(k))
            .map(|k| (k.as_str(), sources[*k].clone()))
            .collect();
        let mut ready = match &self.preparsed {
            Some(p) if self.custom.is_none() => p.take(),
            _ => Default::default(),
        };
        // the contexts are made while the parse threads run, unless a thread of their own
        // makes them
        let mut mine = None;
        set.parse_many_meanwhile(&go, &mut |text| ready.remove(&text_ptr(text)), &mut || {
            if !made.by_thread {
                mine = Some(contexts(chart, values, release, caps));
            }
        })
        .map_err(|(i, e)| error(go[i].0, &e))?;
        let (top, tpls) = match mine {
            Some(made_here) => made_here,
            None => made
                .own
                .take()
                .unwrap_or_else(|| contexts(chart, values, release, caps)),
        };
        let mut out = BTreeMap::new();
        let (mut jinja_keys, mut jobs) = (Vec::new(), Vec::new());
        for k in keys {
            if crate::jinja::is_jinja(k) {
                jinja_keys.push(k);
            } else if !k.rsplit('/').next().unwrap_or(k).starts_with('_') {
                jobs.push(k);
            }
        }
        let run = |k: &str, dot: &Map, state: &mut RenderState| {
            let text = set
                .execute_with(k, &Value::Map(dot.clone()), state)
                .map_err(|e| error(k, &e))?;
            Ok::<_, TemplateError>(helm::without_no_value(text))
        };
        let helpers = self.helper_threads(jobs.len());
        // a helper's contexts: copies of this thread's, each map copied when first used
        let private = || detached(&tpls);
        let texts_out = execute_all(&jobs, helpers, &tpls, &private, self.strict, &run, observer)?;
        for (k, text) in jobs.iter().zip(texts_out) {
            out.insert((*k).clone(), text);
        }
        let mut jinja: Vec<_> = jinja_keys
            .into_iter()
            .map(|k| {
                let r = &tpls[k.as_str()];
                crate::jinja::Source {
                    path: k.clone(),
                    text: sources[k.as_str()].to_string(),
                    dot: r.vals.clone(),
                    base_path: r.base_path.clone(),
                }
            })
            .collect();
        if !jinja.is_empty() {
            jinja.sort_by(|a, b| a.path.cmp(&b.path));
            for (name, text) in crate::jinja::render(&jinja, &set, self.strict, texts)? {
                if out.contains_key(&name) {
                    return Err(TemplateError {
                        message: format!(
                            "template {name} is rendered twice: from {name} and from {name}.j2"
                        ),
                        template: name,
                        snippet: None,
                    });
                }
                out.insert(name, text);
            }
        }
        // The parse trees are many small allocations: free them off the caller's path.
        // So are the context maps (every chart's `.Values` converted to template values).
        let contexts: Vec<Map> = tpls.into_values().map(|r| r.vals).collect();
        if self.exit_after {
            std::mem::forget((set, top, contexts));
        } else {
            let _ = std::thread::Builder::new()
                .name("ferry-render-drop".into())
                .spawn(move || drop((set, top, contexts)));
        }
        Ok(out)
    }
}

/// The top context (`.Values`, `.Release`, `.Capabilities`) and, through [`rec_all_tpls`],
/// every template with its chart's context.
fn contexts(
    chart: &Chart,
    values: &CMap,
    release: &ReleaseOptions,
    caps: &Capabilities,
) -> (Map, BTreeMap<String, Renderable>) {
    let top = Map::from_entries([
        (
            "Values",
            Value::Map(map_to_tmpl(values, Some(values_type()))),
        ),
        ("Release", release.to_value()),
        ("Capabilities", caps.to_value()),
    ]);
    let mut tpls: BTreeMap<String, Renderable> = BTreeMap::new();
    rec_all_tpls(chart, &mut tpls, &top, true, chart.name());
    (top, tpls)
}

/// `.Template` of the template at `path`.
fn template_value(path: &str, base_path: &str) -> Value {
    Value::Map(Map::with_type(
        [
            ("Name".to_string(), Value::string(path)),
            ("BasePath".to_string(), Value::string(base_path)),
        ]
        .into_iter()
        .collect(),
        Type::Interface,
        Some(values_type()),
    ))
}

/// Something another thread may make, for one taker: [`Handoff::take`] waits for it, or
/// gives `None` when the maker's sender was dropped unsent (the thread did not start).
struct Handoff<T>(std::sync::Mutex<Option<std::sync::mpsc::Receiver<T>>>);

impl<T> Handoff<T> {
    fn new() -> (std::sync::mpsc::SyncSender<T>, Handoff<T>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        (tx, Handoff(std::sync::Mutex::new(Some(rx))))
    }

    /// The thing, the first time (later takers get `None`).
    fn take(&self) -> Option<T> {
        let rx = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        rx.and_then(|rx| rx.recv().ok())
    }
}

/// What another thread may have made for the render: the render thread's contexts
/// ([`contexts`]; `None` when the thread did not make them: the render thread makes them).
#[derive(Clone, Copy)]
struct Made<'a> {
    own: &'a Handoff<(Map, BTreeMap<String, Renderable>)>,
    /// A thread of its own makes them (else the render thread does, while the parse
    /// threads run).
    by_thread: bool,
}

/// `tpls` with contexts that share no map with theirs ([`Value::detached`]); templates
/// that share a context share its copy.
fn detached(tpls: &BTreeMap<String, Renderable>) -> BTreeMap<String, Renderable> {
    let mut copies: Vec<(Map, Map)> = Vec::new();
    tpls.iter()
        .map(|(k, r)| {
            let vals = match copies.iter().find(|(m, _)| m.ptr_eq(&r.vals)) {
                Some((_, copy)) => copy.clone(),
                None => {
                    let copy = r.vals.detached();
                    copies.push((r.vals.clone(), copy.clone()));
                    copy
                }
            };
            let r = Renderable {
                vals,
                base_path: r.base_path.clone(),
            };
            (k.clone(), r)
        })
        .collect()
}

/// The templates of a chart tree (partials included).
fn count_templates(chart: &Chart) -> usize {
    chart.templates.len()
        + chart
            .dependencies
            .iter()
            .map(count_templates)
            .sum::<usize>()
}

/// Fewest templates to render for the render to use more than one thread.
const MIN_PARALLEL_JOBS: usize = 4;
/// Most threads the default executes templates on: all cores up to this. None is left to
/// the caller's thread, which reads rendered documents while the render runs
/// ([`Engine::render_observed`]): it reads only their heads, little work, and on 2 cores two
/// executing threads were faster than one (kube-prometheus-stack: render stage ~18.5 ->
/// ~14.5 ms in process, `ferry template` 30.9 -> 29.3 ms, medians of 40 interleaved runs).
const MAX_DEFAULT_THREADS: usize = 4;

/// Where templates' outputs go to be seen while the render goes on ([`Engine::render_observed`]).
type Observer = std::sync::mpsc::Sender<Vec<(String, String)>>;

/// Outputs on their way to the observer, sent some at a time: each send wakes the observing
/// thread, which then competes for a core with the threads executing templates.
struct Outbox<'a> {
    tx: Option<&'a Observer>,
    batch: Vec<(String, String)>,
    bytes: usize,
}

impl<'a> Outbox<'a> {
    /// Bytes of output that make a batch.
    const BATCH_BYTES: usize = 32 * 1024;

    fn new(tx: Option<&'a Observer>) -> Outbox<'a> {
        Outbox {
            tx,
            batch: Vec::new(),
            bytes: 0,
        }
    }

    fn push(&mut self, path: &str, text: &str) {
        if self.tx.is_none() {
            return;
        }
        self.batch.push((path.to_string(), text.to_string()));
        self.bytes += text.len();
        if self.bytes >= Self::BATCH_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if let Some(tx) = self.tx
            && !self.batch.is_empty()
        {
            let _ = tx.send(std::mem::take(&mut self.batch));
        }
        self.bytes = 0;
    }
}

impl Drop for Outbox<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// What executes one template: `(path, its context, the thread's render state)`.
type RunOne<'a> = dyn Fn(&str, &Map, &mut RenderState) -> Result<String, TemplateError> + Sync + 'a;

/// Executes `jobs` as Helm does, one after the other in their order, each chart's context
/// shared by its templates (what one writes into it, the next sees), and returns their
/// outputs in that order, or the first error.
///
/// With `helpers`, those threads execute templates from the end of the order meanwhile,
/// each on contexts of its own (`private`), each template with a context of its own (its
/// chart's entries and its `.Template`), and watched ([`ferry_gotmpl::watch_shared_writes`]),
/// while this thread goes on from the start until the two meet. When no template wrote to
/// a map it did not make (a context, `.Values`, …), none could see another's work and the
/// helpers' outputs are those of Helm's order; otherwise this thread executes the helpers'
/// share again itself, in order, on the contexts its own templates left.
fn execute_all(
    jobs: &[&String],
    helpers: usize,
    tpls: &BTreeMap<String, Renderable>,
    private: &(dyn Fn() -> BTreeMap<String, Renderable> + Sync),
    strict: bool,
    run: &RunOne<'_>,
    observer: Option<&Observer>,
) -> Result<Vec<String>, TemplateError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, OnceLock};
    // the next template from the start, and the end of what is left
    let claims = Mutex::new((0usize, jobs.len()));
    let claim = |from_end: bool| {
        let mut c = claims.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 >= c.1 {
            return None;
        }
        Some(if from_end {
            c.1 -= 1;
            c.1
        } else {
            c.0 += 1;
            c.0 - 1
        })
    };
    let shared_write = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let slots: Vec<OnceLock<Result<String, TemplateError>>> =
        jobs.iter().map(|_| OnceLock::new()).collect();
    let mut outbox = Outbox::new(observer);
    let mut state = RenderState {
        strict,
        ..Default::default()
    };
    let mut in_order = |k: &String, watch: bool| {
        let r = &tpls[k.as_str()];
        r.vals.insert("Template", template_value(k, &r.base_path));
        let text = if watch {
            let (text, wrote) = ferry_gotmpl::watch_shared_writes(|| run(k, &r.vals, &mut state));
            if wrote {
                shared_write.store(true, Ordering::Relaxed);
            }
            text?
        } else {
            run(k, &r.vals, &mut state)?
        };
        outbox.push(k, &text);
        Ok::<_, TemplateError>(text)
    };
    let helper = || {
        let mut outbox = Outbox::new(observer);
        let tpls = private();
        let mut state = RenderState {
            strict,
            ..Default::default()
        };
        while !shared_write.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
            let Some(j) = claim(true) else { break };
            let (k, r) = (jobs[j], &tpls[jobs[j].as_str()]);
            let mut entries = r.vals.read().clone();
            entries.insert("Template".into(), template_value(k, &r.base_path));
            let dot = Map::with_type(entries, Type::Interface, Some(values_type()));
            let (result, wrote) = ferry_gotmpl::watch_shared_writes(|| run(k, &dot, &mut state));
            if wrote {
                shared_write.store(true, Ordering::Relaxed);
                break;
            }
            if let Ok(text) = &result {
                outbox.push(k, text);
            }
            let _ = slots[j].set(result);
        }
    };
    let mut out = Vec::with_capacity(jobs.len());
    let first_theirs = std::thread::scope(|scope| {
        for n in 0..helpers {
            let spawned = std::thread::Builder::new()
                .name(format!("ferry-render-{}", n + 1))
                .stack_size(THREAD_STACK)
                .spawn_scoped(scope, helper);
            if spawned.is_err() {
                break;
            }
        }
        while let Some(i) = claim(false) {
            match in_order(jobs[i], helpers > 0) {
                Ok(text) => out.push(text),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(out.len())
    })?;
    let trust_helpers = !shared_write.load(Ordering::Relaxed);
    for (k, slot) in jobs[first_theirs..]
        .iter()
        .zip(slots.into_iter().skip(first_theirs))
    {
        match slot.into_inner() {
            Some(result) if trust_helpers => out.push(result?),
            // written shared maps, or a template a helper gave up: executed here, in order
            _ => out.push(in_order(k, false)?),
        }
    }
    Ok(out)
}

/// The templates of a chart tree keyed by full path, as [`rec_all_tpls`] keys them, with
/// their texts: what parsing needs, made without the values.
fn template_sources(chart: &Chart) -> BTreeMap<String, Arc<str>> {
    fn rec(chart: &Chart, full_path: &str, out: &mut BTreeMap<String, Arc<str>>) {
        for child in &chart.dependencies {
            rec(child, &format!("{full_path}/charts/{}", child.name()), out);
        }
        for t in rendered_templates(chart) {
            out.insert(format!("{full_path}/{}", t.name), t.shared_text());
        }
    }
    let mut out = BTreeMap::new();
    rec(chart, chart.name(), &mut out);
    out
}

/// The templates of one chart that take part in a render: a library chart's partials only.
fn rendered_templates(chart: &Chart) -> impl Iterator<Item = &ferry_chart::File> {
    let library = chart.metadata.is_library();
    chart.templates.iter().filter(move |t| {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        !library || base.starts_with('_')
    })
}

/// `recAllTpls`: the context of each chart, and its templates keyed by full path.
fn rec_all_tpls(
    chart: &Chart,
    tpls: &mut BTreeMap<String, Renderable>,
    parent: &Map,
    is_root: bool,
    full_path: &str,
) -> Map {
    let subcharts = Map::new();
    let values = if is_root {
        parent.get("Values").unwrap_or(Value::Nil)
    } else {
        match parent.get("Values") {
            Some(Value::Map(pv)) => match pv.get(chart.name()) {
                Some(Value::Map(m)) => Value::Map(Map::with_type(
                    m.read().clone(),
                    Type::Interface,
                    Some(values_type()),
                )),
                _ => Value::Map(Map::with_type(
                    Default::default(),
                    Type::Interface,
                    Some(values_type()),
                )),
            },
            _ => Value::Map(Map::with_type(
                Default::default(),
                Type::Interface,
                Some(values_type()),
            )),
        }
    };
    let next = Map::with_type(
        [
            ("Chart".to_string(), chart_value(&chart.metadata, is_root)),
            ("Files".to_string(), files_value(chart)),
            (
                "Release".to_string(),
                parent.get("Release").unwrap_or(Value::Nil),
            ),
            (
                "Capabilities".to_string(),
                parent.get("Capabilities").unwrap_or(Value::Nil),
            ),
            ("Values".to_string(), values),
            ("Subcharts".to_string(), Value::Map(subcharts.clone())),
        ]
        .into_iter()
        .collect(),
        Type::Interface,
        Some(values_type()),
    );
    for child in &chart.dependencies {
        let child_path = format!("{full_path}/charts/{}", child.name());
        let v = rec_all_tpls(child, tpls, &next, false, &child_path);
        subcharts.insert(child.name(), Value::Map(v));
    }
    for t in rendered_templates(chart) {
        tpls.insert(
            format!("{full_path}/{}", t.name),
            Renderable {
                vals: next.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    next
}
