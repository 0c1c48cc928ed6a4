//! Loading charts from directories, `.tgz` archives and in-memory files, as Helm's loader.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::ignore::Rules;
use crate::metadata::{Lock, Metadata, requirements_from_value};
use crate::value::Map;
use crate::yaml;

/// Helm's limit on the decompressed size of a whole chart archive.
pub const MAX_DECOMPRESSED_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// Helm's limit on one file of a chart.
pub const MAX_DECOMPRESSED_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// The size from which [`load_observed_lazily`] leaves a `.Files`-only file of an archive
/// compressed until something reads it.
pub const LAZY_FILE_SIZE: u64 = 64 * 1024;

/// One file of a chart: its path relative to the chart root and its bytes.
///
/// UTF-8 contents (nearly every file of a chart) are kept as a shared string, so templates and
/// `.Files` read them without copying or validating them again.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// `/`-separated path relative to the chart root (`templates/svc.yaml`).
    pub name: String,
    /// Contents (a leading UTF-8 BOM removed, as Helm does).
    content: Content,
}

#[derive(Debug, Clone)]
enum Content {
    Text(Arc<str>),
    /// Not UTF-8: the bytes, and their lossy text once something asked for it (each render
    /// puts every file in `.Files`), shared by clones.
    Binary(Arc<[u8]>, Arc<OnceLock<Arc<str>>>),
    /// Not read yet: slot `.1` of the archive's files left compressed ([`load_observed_lazily`]).
    Lazy(Arc<LazyFiles>, usize),
}

impl Content {
    /// What the file holds: a [`Content::Lazy`] file decompressed on first use (never `Lazy`).
    fn get(&self) -> &Content {
        match self {
            Content::Lazy(lazy, slot) => lazy.get(*slot),
            c => c,
        }
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        match (self.get(), other.get()) {
            (Content::Text(a), Content::Text(b)) => a == b,
            (Content::Binary(a, _), Content::Binary(b, _)) => a == b,
            _ => false,
        }
    }
}

/// The files of an archive left compressed: the archive's bytes and the entries' positions
/// in it, decompressed together the first time any of them is read.
struct LazyFiles {
    archive: Vec<u8>,
    /// Position of each slot's entry among the archive's entries, ascending.
    entries: OnceLock<Vec<usize>>,
    contents: OnceLock<Vec<Content>>,
}

impl std::fmt::Debug for LazyFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyFiles")
            .field("archive_bytes", &self.archive.len())
            .field("entries", &self.entries.get())
            .field("read", &self.contents.get().is_some())
            .finish()
    }
}

impl LazyFiles {
    fn get(&self, slot: usize) -> &Content {
        static EMPTY: OnceLock<Content> = OnceLock::new();
        let contents = self.contents.get_or_init(|| self.read());
        contents
            .get(slot)
            .unwrap_or_else(|| EMPTY.get_or_init(|| Content::Text("".into())))
    }

    /// Decompresses the archive again and keeps the slots' entries. The bytes are those the
    /// first pass read without error, under the same checks, so this pass reads them alike.
    fn read(&self) -> Vec<Content> {
        let wanted: &[usize] = self.entries.get().map(Vec::as_slice).unwrap_or_default();
        let mut out = Vec::with_capacity(wanted.len());
        let mut tar = tar_of(&self.archive);
        if let Ok(entries) = tar.entries_with_seek() {
            let mut next = wanted.iter().peekable();
            let mut buf = Vec::new();
            for (i, entry) in entries.enumerate() {
                let Some(&&want) = next.peek() else { break };
                let Ok(mut entry) = entry else { break };
                if i != want {
                    continue;
                }
                next.next();
                buf.clear();
                buf.reserve(entry.header().size().unwrap_or(0) as usize);
                if entry.read_to_end(&mut buf).is_err() {
                    break;
                }
                out.push(File::of_bytes(String::new(), &buf).content);
            }
        }
        out
    }
}

impl File {
    /// Creates a file.
    pub fn new(name: impl Into<String>, data: impl Into<Vec<u8>>) -> File {
        let content = match String::from_utf8(data.into()) {
            Ok(text) => Content::Text(text.into()),
            Err(e) => Content::Binary(e.into_bytes().into(), Default::default()),
        };
        File {
            name: name.into(),
            content,
        }
    }

    /// A file of a copy of `data` with a leading UTF-8 BOM removed, as Helm does: the
    /// archive reader's way, which reads every entry into one buffer and keeps only this copy
    /// (the copy [`File::new`] makes of a UTF-8 text anyway, without a buffer per file).
    fn of_bytes(name: String, data: &[u8]) -> File {
        let data = data.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(data);
        let content = match std::str::from_utf8(data) {
            Ok(text) => Content::Text(text.into()),
            Err(_) => Content::Binary(data.into(), Default::default()),
        };
        File { name, content }
    }

    /// The same contents under another name (no copy).
    pub fn renamed(&self, name: impl Into<String>) -> File {
        File {
            name: name.into(),
            content: self.content.clone(),
        }
    }

    /// The contents.
    pub fn data(&self) -> &[u8] {
        match self.content.get() {
            Content::Text(t) => t.as_bytes(),
            Content::Binary(b, _) => b,
            Content::Lazy(_, _) => &[],
        }
    }

    /// The contents as text (lossy for invalid UTF-8).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self.content.get() {
            Content::Text(t) => std::borrow::Cow::Borrowed(t),
            Content::Binary(b, _) => String::from_utf8_lossy(b),
            Content::Lazy(_, _) => std::borrow::Cow::Borrowed(""),
        }
    }

    /// The contents as a shared string (lossy for invalid UTF-8): a reference count for
    /// UTF-8 files, not a copy.
    pub fn shared_text(&self) -> Arc<str> {
        match self.content.get() {
            Content::Text(t) => t.clone(),
            Content::Binary(b, text) => text
                .get_or_init(|| String::from_utf8_lossy(b).into())
                .clone(),
            Content::Lazy(_, _) => "".into(),
        }
    }

    /// The contents when they are not UTF-8 (their [`File::shared_text`] is lossy).
    pub fn binary_data(&self) -> Option<Arc<[u8]>> {
        match self.content.get() {
            Content::Binary(b, _) => Some(b.clone()),
            _ => None,
        }
    }

    /// Whether the contents are still compressed in their archive ([`load_observed_lazily`]):
    /// they are read when something first asks for them.
    pub fn is_lazy(&self) -> bool {
        matches!(&self.content, Content::Lazy(lazy, _) if lazy.contents.get().is_none())
    }

    /// Whether the contents start with a UTF-8 byte-order mark (a lazy file's is removed when
    /// it is read, so this does not read it).
    fn has_bom(&self) -> bool {
        !matches!(self.content, Content::Lazy(_, _)) && self.data().starts_with(&[0xEF, 0xBB, 0xBF])
    }
}

/// A loaded chart with its subcharts.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// `Chart.yaml` (with `requirements.yaml` dependencies for apiVersion v1).
    pub metadata: Metadata,
    /// `Chart.lock` (or `requirements.lock`).
    pub lock: Option<Lock>,
    /// `values.yaml`, typed as Helm types it.
    pub values: Map,
    /// `values.schema.json`, raw.
    pub schema: Option<Arc<[u8]>>,
    /// Files under `templates/`.
    pub templates: Vec<File>,
    /// Every other file (what `.Files` sees), `crds/` included.
    pub files: Vec<File>,
    /// Every file as loaded, in load order (for `show values`, `package`).
    pub raw: Vec<File>,
    /// Subcharts found in `charts/`.
    pub dependencies: Vec<Chart>,
    /// Where the chart came from, for messages (`parent/charts/child`).
    pub origin: String,
}

impl Chart {
    /// The chart's name (`Chart.yaml` `name`, or its alias after dependency processing).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The raw text of a file (e.g. `values.yaml`, `README.md`), if present.
    pub fn raw_file(&self, name: &str) -> Option<&File> {
        self.raw.iter().find(|f| f.name == name)
    }

    /// Files under `crds/`, in load order.
    pub fn crds(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| f.name.starts_with("crds/"))
    }
}

/// Loads a chart from a directory or a `.tgz` file.
pub fn load(path: impl AsRef<Path>) -> Result<Chart> {
    load_observed(path, &mut |_| {})
}

/// [`load`], showing `on_file` each file of an archive as soon as it is read (paths relative
/// to the chart root, as in the archive: `templates/x.yaml`, `charts/sub/templates/y.yaml`),
/// so a caller can start working on them while the rest decompresses. Files of a directory
/// chart, and of subchart archives inside the archive, are not shown.
pub fn load_observed(path: impl AsRef<Path>, on_file: &mut dyn FnMut(&File)) -> Result<Chart> {
    load_path_observed(path.as_ref(), on_file, false)
}

/// [`load_observed`] for a render that reads only what its templates ask for: the files of
/// [`LAZY_FILE_SIZE`] or more of an archive that only `.Files` and `crds/` can reach (not
/// templates, values, `Chart.yaml`, locks, schemas or subchart archives) stay compressed in
/// memory until first read ([`File::is_lazy`]); the first read decompresses the archive
/// again, for all of them at once. Every check of [`load_observed`] is made on them all the
/// same, on the first pass.
pub fn load_observed_lazily(
    path: impl AsRef<Path>,
    on_file: &mut dyn FnMut(&File),
) -> Result<Chart> {
    load_path_observed(path.as_ref(), on_file, true)
}

fn load_path_observed(path: &Path, on_file: &mut dyn FnMut(&File), lazy: bool) -> Result<Chart> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        load_dir(path)
    } else {
        load_archive_file_observed(path, on_file, lazy)
    }
}

/// Loads a chart archive from disk, checking it is gzip first.
pub fn load_archive_file(path: &Path) -> Result<Chart> {
    load_archive_file_observed(path, &mut |_| {}, false)
}

fn load_archive_file_observed(
    path: &Path,
    on_file: &mut dyn FnMut(&File),
    lazy: bool,
) -> Result<Chart> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    if !data.starts_with(&[0x1f, 0x8b]) {
        let msg = if name.ends_with(".yml") || name.ends_with(".yaml") {
            "seems to be a YAML file, but expected a gzipped archive"
        } else {
            "does not appear to be a gzipped archive"
        };
        return Err(Error::archive(name, msg));
    }
    if lazy {
        let lazy = Arc::new(LazyFiles {
            archive: data,
            entries: OnceLock::new(),
            contents: OnceLock::new(),
        });
        return values_ahead(
            &name,
            |on_file_too| archive_files_observed(&lazy.archive, &name, on_file_too, Some(&lazy)),
            on_file,
        );
    }
    load_archive_observed(&data, &name, on_file)
}

/// The `values.yaml` files of a chart (any of its charts), parsed while the rest is read.
#[derive(Default)]
struct ValuesAhead(std::collections::HashMap<usize, std::result::Result<Map, yaml::YamlError>>);

impl ValuesAhead {
    /// What parsing `f` as a values file gives, if it was parsed ahead.
    fn take(&mut self, f: &File) -> Option<std::result::Result<Map, yaml::YamlError>> {
        if self.0.is_empty() {
            return None;
        }
        self.0
            .remove(&(Arc::as_ptr(&f.shared_text()) as *const u8 as usize))
    }

    /// Parses `text` as a values file, keeping the result for [`take`](Self::take).
    fn parse(&mut self, text: &Arc<str>) {
        let key = Arc::as_ptr(text) as *const u8 as usize;
        self.0.insert(key, yaml::parse_values(text));
    }
}

/// The values texts waiting for a parse: the second thread takes them as they come, and the
/// reading thread too once it has read everything.
#[derive(Default)]
struct ValuesQueue {
    state: std::sync::Mutex<(std::collections::VecDeque<Arc<str>>, bool)>,
    more: std::sync::Condvar,
}

impl ValuesQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, (std::collections::VecDeque<Arc<str>>, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, text: Arc<str>) {
        self.lock().0.push_back(text);
        self.more.notify_one();
    }

    /// No more texts will come.
    fn close(&self) {
        self.lock().1 = true;
        self.more.notify_all();
    }

    /// The next text, waiting for one while the queue is open; `None` once it is closed
    /// and empty.
    fn next(&self) -> Option<Arc<str>> {
        let mut state = self.lock();
        loop {
            if let Some(text) = state.0.pop_front() {
                return Some(text);
            }
            if state.1 {
                return None;
            }
            state = self.more.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Runs `read` (which reads a chart's files, showing each to the function it is given) with
/// the `values.yaml` files it shows parsed on a second thread meanwhile, then builds the
/// chart: parsing values is a good part of loading a big chart, and the archive's
/// decompression leaves a core free. The parse is the one `load_files` would do, on the
/// same text, so the chart and any error are the same. The reading thread, once it has
/// read everything, parses what the second thread has not begun (subcharts' values often
/// come last in an archive, several at once).
fn values_ahead(
    origin: &str,
    read: impl FnOnce(&mut dyn FnMut(&File)) -> Result<Vec<File>>,
    on_file: &mut dyn FnMut(&File),
) -> Result<Chart> {
    let queue = &ValuesQueue::default();
    std::thread::scope(|scope| {
        // the parses come back as the thread's last act: joining it would also wait for
        // its teardown (allocator heap, stack)
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let parser = std::thread::Builder::new()
            .name("ferry-values".into())
            .spawn_scoped(scope, move || {
                // a panic loses the parses (load_files parses again), not the scope
                let ahead = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut ahead = ValuesAhead::default();
                    while let Some(text) = queue.next() {
                        ahead.parse(&text);
                    }
                    ahead
                }));
                let _ = done_tx.send(ahead.unwrap_or_default());
            })
            .is_ok();
        let read = read(&mut |f: &File| {
            if parser && f.name.rsplit('/').next() == Some("values.yaml") && !f.has_bom() {
                queue.push(f.shared_text());
            }
            on_file(f);
        });
        queue.close();
        let mut ahead = ValuesAhead::default();
        if parser {
            while let Some(text) = queue.next() {
                ahead.parse(&text);
            }
            // (nothing from a thread that panicked: load_files parses what it lost)
            if let Ok(theirs) = done_rx.recv() {
                ahead.0.extend(theirs.0);
            }
        }
        load_files_ahead(read?, origin, &mut ahead)
    })
}

/// Loads a chart from the bytes of a `.tgz`; `origin` names it in errors.
pub fn load_archive(data: &[u8], origin: &str) -> Result<Chart> {
    load_archive_observed(data, origin, &mut |_| {})
}

fn load_archive_observed(
    data: &[u8],
    origin: &str,
    on_file: &mut dyn FnMut(&File),
) -> Result<Chart> {
    values_ahead(
        origin,
        |on_file_too| archive_files_observed(data, origin, on_file_too, None),
        on_file,
    )
}

/// Reads the files of a chart archive with Helm's checks: the first path component is the
/// chart folder and is dropped; absolute paths, `..`, links and devices are refused; the
/// sizes are bounded.
pub fn archive_files(data: &[u8], origin: &str) -> Result<Vec<File>> {
    archive_files_observed(data, origin, &mut |_| {}, None)
}

/// Whether a file of an archive (its path below the chart folder) is one that only `.Files`
/// and `crds/` reach, in its chart or in a subchart folder of it: what
/// [`load_observed_lazily`] may leave compressed. What [`load_files`] reads itself is not.
fn files_only(mut n: &str) -> bool {
    while let Some(rest) = n.strip_prefix("charts/") {
        // a subchart folder's file; a file right in `charts/` (an archive, a `.prov`) is read
        match rest.split_once('/') {
            Some((_, inner)) => n = inner,
            None => return false,
        }
    }
    !matches!(
        n,
        "Chart.yaml"
            | "Chart.lock"
            | "requirements.lock"
            | "requirements.yaml"
            | "values.yaml"
            | "values.schema.json"
    ) && !n.starts_with("templates/")
}

/// A forward-only stream that tar may "seek" in (`tar::Archive::entries_with_seek`), to
/// skip what is left of an entry: the skipped bytes are read into one buffer and dropped.
/// (Without a seek, tar skips through a 32 KiB buffer it zeroes for every entry, even when
/// nothing is left to skip: 3% of the instructions of `ferry template` on
/// kube-prometheus-stack.) Tar only seeks forward from where it is; other seeks fail.
pub struct ForwardStream<R> {
    inner: R,
    pos: u64,
    scratch: Vec<u8>,
}

impl<R: Read> ForwardStream<R> {
    /// Wraps a stream read from its start.
    pub fn new(inner: R) -> Self {
        ForwardStream {
            inner,
            pos: 0,
            scratch: Vec::new(),
        }
    }
}

impl<R: Read> Read for ForwardStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> Seek for ForwardStream<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let unsupported = || std::io::Error::other("the archive stream only skips forward");
        let SeekFrom::Current(by) = to else {
            return Err(unsupported());
        };
        let mut left = u64::try_from(by).map_err(|_| unsupported())?;
        if left > 0 && self.scratch.is_empty() {
            self.scratch = vec![0; 32 << 10];
        }
        while left > 0 {
            let n = left.min(self.scratch.len() as u64) as usize;
            let got = self.inner.read(&mut self.scratch[..n])?;
            if got == 0 {
                return Err(std::io::Error::other("unexpected EOF during skip"));
            }
            left -= got as u64;
            self.pos += got as u64;
        }
        Ok(self.pos)
    }
}

/// The tar inside gzipped `data`, to read with `entries_with_seek`.
fn tar_of(data: &[u8]) -> tar::Archive<ForwardStream<flate2::read::GzDecoder<&[u8]>>> {
    tar::Archive::new(ForwardStream::new(flate2::read::GzDecoder::new(data)))
}

fn archive_files_observed(
    data: &[u8],
    origin: &str,
    on_file: &mut dyn FnMut(&File),
    lazy: Option<&Arc<LazyFiles>>,
) -> Result<Vec<File>> {
    let mut tar = tar_of(data);
    let entries = tar
        .entries_with_seek()
        .map_err(|e| Error::archive(origin, format!("corrupt archive: {e}")))?;
    let mut remaining = MAX_DECOMPRESSED_CHART_SIZE;
    let mut files = Vec::new();
    // every entry is read into this buffer, and its file made of a copy: a buffer per file,
    // each a size of its own, would be new memory each time (and memory is first touched at
    // a price)
    let mut buf = Vec::new();
    let mut lazy_entries = Vec::new();
    for (index, entry) in entries.enumerate() {
        let mut entry =
            entry.map_err(|e| Error::archive(origin, format!("corrupt archive: {e}")))?;
        let header = entry.header();
        let kind = header.entry_type();
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if kind.is_gnu_longname() || kind.is_gnu_longlink() {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(Error::archive(
                origin,
                format!("chart illegally contains a link: {raw_name:?}"),
            ));
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(Error::archive(
                origin,
                format!("chart illegally contains a special file: {raw_name:?}"),
            ));
        }
        let delimiter = if raw_name.contains('\\') { '\\' } else { '/' };
        let parts: Vec<&str> = raw_name.split(delimiter).collect();
        let joined = parts[1..].join("/");
        if joined.starts_with('/') {
            return Err(Error::archive(
                origin,
                "chart illegally contains absolute paths",
            ));
        }
        let n = clean_path(&joined);
        if n == "." {
            return Err(Error::archive(
                origin,
                format!(
                    "chart illegally contains content outside the base directory: {raw_name:?}"
                ),
            ));
        }
        if n.starts_with("..") {
            return Err(Error::archive(
                origin,
                format!("chart illegally references parent directory: {raw_name:?}"),
            ));
        }
        let b = n.as_bytes();
        if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
            return Err(Error::archive(
                origin,
                "chart contains illegally named files",
            ));
        }
        if parts[0] == "Chart.yaml" {
            return Err(Error::archive(origin, "chart yaml not in base directory"));
        }
        let size = header.size().unwrap_or(0);
        if size > remaining {
            return Err(Error::archive(
                origin,
                format!(
                    "decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}"
                ),
            ));
        }
        if size > MAX_DECOMPRESSED_FILE_SIZE {
            return Err(Error::archive(
                origin,
                format!(
                    "decompressed chart file {raw_name:?} is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}"
                ),
            ));
        }
        let deferred = lazy.filter(|_| size >= LAZY_FILE_SIZE && files_only(&n));
        buf.clear();
        let read = match deferred {
            // read through (the checks below need its length), kept nowhere
            Some(_) => std::io::copy(&mut (&mut entry).take(remaining), &mut std::io::sink()),
            None => {
                buf.reserve(size as usize);
                (&mut entry)
                    .take(remaining)
                    .read_to_end(&mut buf)
                    .map(|n| n as u64)
            }
        }
        .map_err(|e| Error::archive(origin, format!("corrupt archive: {raw_name}: {e}")))?;
        remaining -= read;
        if read < size && remaining > 0 {
            return Err(Error::archive(
                origin,
                format!("corrupt archive: {raw_name}: unexpected end of data"),
            ));
        }
        if read < size || remaining == 0 {
            return Err(Error::archive(
                origin,
                format!(
                    "decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}"
                ),
            ));
        }
        if let Some(lazy) = deferred {
            files.push(File {
                name: n,
                content: Content::Lazy(lazy.clone(), lazy_entries.len()),
            });
            lazy_entries.push(index);
            continue;
        }
        let file = File::of_bytes(n, &buf);
        on_file(&file);
        files.push(file);
    }
    if let Some(lazy) = lazy {
        let _ = lazy.entries.set(lazy_entries);
    }
    if files.is_empty() {
        return Err(Error::archive(origin, "no files in chart archive"));
    }
    Ok(files)
}

fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(&[0xEF, 0xBB, 0xBF]) {
        data.drain(..3);
    }
    data
}

/// Go's `path.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Loads a chart directory, honouring `.helmignore`.
pub fn load_dir(dir: &Path) -> Result<Chart> {
    let top = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let mut rules = Rules::empty();
    let ifile = top.join(".helmignore");
    if ifile.is_file() {
        let text = std::fs::read_to_string(&ifile).map_err(|e| Error::io(&ifile, e))?;
        rules = Rules::parse(&text).map_err(|(line, message)| Error::Ignore {
            file: ifile.display().to_string(),
            line,
            message,
        })?;
    }
    rules.add_defaults();
    let mut files = Vec::new();
    walk(&top, "", &rules, &mut files, 0)?;
    load_files(files, &dir.display().to_string())
}

fn walk(dir: &Path, rel: &str, rules: &Rules, out: &mut Vec<File>, depth: usize) -> Result<()> {
    if depth > 64 {
        return Err(Error::invalid(
            dir.display().to_string(),
            "directory nesting too deep (a symlink loop?)",
        ));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // follow symlinks, as Helm's sympath.Walk does
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            if rules.ignore(&n, true) {
                continue;
            }
            walk(&path, &n, rules, out, depth + 1)?;
            continue;
        }
        if rules.ignore(&n, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(Error::invalid(
                path.display().to_string(),
                "cannot load irregular file as it has file mode type bits set",
            ));
        }
        if meta.len() > MAX_DECOMPRESSED_FILE_SIZE {
            return Err(Error::invalid(
                path.display().to_string(),
                format!(
                    "chart file {name:?} is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}"
                ),
            ));
        }
        let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        out.push(File::new(n, strip_bom(data)));
    }
    Ok(())
}

fn parse_yaml_file(origin: &str, f: &File) -> Result<crate::Value> {
    yaml::parse(&f.text()).map_err(|source| Error::Yaml {
        file: format!("{origin}/{}", f.name),
        source,
    })
}

/// Builds a chart from its files (paths relative to the chart root), as Helm's `LoadFiles`.
pub fn load_files(files: Vec<File>, origin: &str) -> Result<Chart> {
    load_files_ahead(files, origin, &mut ValuesAhead::default())
}

fn load_files_ahead(files: Vec<File>, origin: &str, ahead: &mut ValuesAhead) -> Result<Chart> {
    // Helm strips a UTF-8 byte-order mark on every way in (directories and archives).
    let files: Vec<File> = files
        .into_iter()
        .map(|f| {
            if f.has_bom() {
                File::new(f.name.as_str(), &f.data()[3..])
            } else {
                f
            }
        })
        .collect();
    let mut metadata: Option<Metadata> = None;
    if let Some(f) = files.iter().find(|f| f.name == "Chart.yaml") {
        let v = parse_yaml_file(origin, f)?;
        let mut md = Metadata::from_value(&v).map_err(|m| {
            Error::invalid(
                format!("{origin}/Chart.yaml"),
                format!("cannot load Chart.yaml: {m}"),
            )
        })?;
        if md.api_version.is_empty() {
            md.api_version = "v1".into();
        }
        metadata = Some(md);
    }
    let mut chart = Chart {
        metadata: Metadata::default(),
        lock: None,
        values: Map::new(),
        schema: None,
        templates: Vec::new(),
        files: Vec::new(),
        raw: files.clone(),
        dependencies: Vec::new(),
        origin: origin.to_string(),
    };
    let mut subcharts: std::collections::BTreeMap<String, Vec<File>> = Default::default();
    let mut requirements: Option<Vec<crate::metadata::Dependency>> = None;
    for f in files {
        match f.name.as_str() {
            "Chart.yaml" => {}
            "Chart.lock" | "requirements.lock" => {
                let v = parse_yaml_file(origin, &f)?;
                let lock = Lock::from_value(&v).map_err(|m| {
                    Error::invalid(
                        format!("{origin}/{}", f.name),
                        format!("cannot load {}: {m}", f.name),
                    )
                })?;
                chart.lock = Some(lock);
                if f.name == "requirements.lock"
                    && metadata.as_ref().is_some_and(|m| m.api_version == "v1")
                {
                    chart.files.push(f);
                }
            }
            "values.yaml" => {
                let parsed = ahead
                    .take(&f)
                    .unwrap_or_else(|| yaml::parse_values(&f.text()));
                chart.values = parsed.map_err(|mut source| {
                    source.message = format!(
                        "cannot load values.yaml: cannot unmarshal yaml document: {}",
                        source.message
                    );
                    Error::Yaml {
                        file: format!("{origin}/values.yaml"),
                        source,
                    }
                })?;
            }
            "values.schema.json" => chart.schema = Some(f.data().into()),
            "requirements.yaml" => {
                let v = parse_yaml_file(origin, &f)?;
                let deps = requirements_from_value(&v).map_err(|m| {
                    Error::invalid(
                        format!("{origin}/requirements.yaml"),
                        format!("cannot load requirements.yaml: {m}"),
                    )
                })?;
                requirements = Some(deps);
                if metadata.as_ref().is_some_and(|m| m.api_version == "v1") {
                    chart.files.push(f);
                }
            }
            n if n.starts_with("templates/") => chart.templates.push(f),
            n if n.starts_with("charts/") => {
                if n.ends_with(".prov") {
                    chart.files.push(f);
                    continue;
                }
                let rest = &n["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or(rest).to_string();
                subcharts.entry(cname).or_default().push(f.renamed(rest));
            }
            _ => chart.files.push(f),
        }
    }
    let Some(mut md) = metadata else {
        return Err(Error::invalid(origin, "Chart.yaml file is missing"));
    };
    if let Some(deps) = requirements
        && (!deps.is_empty() || md.dependencies.is_empty())
    {
        md.dependencies = deps;
    }
    validate_metadata(&mut md).map_err(|m| Error::invalid(format!("{origin}/Chart.yaml"), m))?;
    chart.metadata = md;
    for (n, files) in subcharts {
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        let sub_origin = format!("{origin}/charts/{n}");
        let sc = if n.ends_with(".tgz") {
            let file = &files[0];
            if file.name != n {
                return Err(Error::archive(
                    sub_origin,
                    format!(
                        "error unpacking subchart tar in {}: expected {n}, got {}",
                        chart.metadata.name, file.name
                    ),
                ));
            }
            load_archive(file.data(), &sub_origin)?
        } else {
            let buff: Vec<File> = files
                .into_iter()
                .filter_map(|f| {
                    let (_, rest) = f.name.split_once('/')?;
                    Some(f.renamed(rest))
                })
                .collect();
            load_files_ahead(buff, &sub_origin, ahead)?
        };
        chart.dependencies.push(sc);
    }
    Ok(chart)
}

/// Helm's `Metadata.Validate`: sanitises strings, checks name, SemVer version, type,
/// dependency aliases and duplicate dependency names.
pub fn validate_metadata(md: &mut Metadata) -> Result<(), String> {
    fn sanitize(s: &mut String) {
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            *s = s
                .chars()
                .filter_map(|c| {
                    if c.is_whitespace() {
                        Some(' ')
                    } else if c.is_control() {
                        None
                    } else {
                        Some(c)
                    }
                })
                .collect();
        }
    }
    sanitize(&mut md.name);
    sanitize(&mut md.description);
    sanitize(&mut md.home);
    sanitize(&mut md.icon);
    sanitize(&mut md.condition);
    sanitize(&mut md.tags);
    sanitize(&mut md.app_version);
    sanitize(&mut md.kube_version);
    md.sources.iter_mut().for_each(sanitize);
    md.keywords.iter_mut().for_each(sanitize);
    if md.api_version.is_empty() {
        return Err("validation: chart.metadata.apiVersion is required".into());
    }
    if md.name.is_empty() {
        return Err("validation: chart.metadata.name is required".into());
    }
    if md.name == "." || md.name == ".." {
        return Err(format!(
            "validation: chart.metadata.name {:?} is not allowed",
            md.name
        ));
    }
    if md.name.contains('/') || md.name.contains('\\') {
        return Err(format!(
            "validation: chart.metadata.name {:?} is invalid",
            md.name
        ));
    }
    if md.version.is_empty() {
        return Err("validation: chart.metadata.version is required".into());
    }
    if crate::semver::Version::parse_lenient(&md.version).is_none() {
        return Err(format!(
            "validation: chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return Err("validation: chart.metadata.type must be application or library".into());
    }
    let mut seen = std::collections::HashSet::new();
    for d in &mut md.dependencies {
        sanitize(&mut d.name);
        sanitize(&mut d.version);
        sanitize(&mut d.repository);
        sanitize(&mut d.condition);
        d.tags.iter_mut().for_each(sanitize);
        if !d.alias.is_empty()
            && !d
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "validation: dependency {:?} has disallowed characters in the alias",
                d.name
            ));
        }
        let key = d.effective_name().to_string();
        if !seen.insert(key.clone()) {
            return Err(format!(
                "validation: more than one dependency with name or alias {key:?}"
            ));
        }
    }
    Ok(())
}
