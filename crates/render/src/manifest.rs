//! The manifest stage of Helm (`pkg/release/v1/util`): split rendered files into documents,
//! separate hooks (`helm.sh/hook`), and sort by kind in Helm's install order.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use ferry_chart::Value;
use ferry_chart::metadata::scalar_string;

/// Helm's `InstallOrder`.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Helm's `UninstallOrder` (webhooks first, so they cannot block deletions).
pub const UNINSTALL_ORDER: &[&str] = &[
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "Ingress",
    "IngressClass",
    "Service",
    "CronJob",
    "Job",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "DaemonSet",
    "RoleBindingList",
    "RoleBinding",
    "RoleList",
    "Role",
    "ClusterRoleBindingList",
    "ClusterRoleBinding",
    "ClusterRoleList",
    "ClusterRole",
    "CustomResourceDefinition",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "ConfigMap",
    "SecretList",
    "Secret",
    "ServiceAccount",
    "PodDisruptionBudget",
    "PodSecurityPolicy",
    "LimitRange",
    "ResourceQuota",
    "NetworkPolicy",
    "Namespace",
    "PriorityClass",
];

/// Hook events (`helm.sh/hook` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    /// `pre-install`
    PreInstall,
    /// `post-install`
    PostInstall,
    /// `pre-delete`
    PreDelete,
    /// `post-delete`
    PostDelete,
    /// `pre-upgrade`
    PreUpgrade,
    /// `post-upgrade`
    PostUpgrade,
    /// `pre-rollback`
    PreRollback,
    /// `post-rollback`
    PostRollback,
    /// `test` (also the legacy `test-success`)
    Test,
}

impl HookEvent {
    /// Parses an event name as Helm does (already lower-cased and trimmed).
    pub fn parse(s: &str) -> Option<HookEvent> {
        Some(match s {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }

    /// The event's name as stored in release records.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }
}

/// What Helm reads of each document (`SimpleHead`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Head {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.annotations` (values as strings, as Go decodes them).
    pub annotations: BTreeMap<String, String>,
    /// Whether the document has a `metadata` at all.
    pub has_metadata: bool,
}

/// One non-hook document with the template it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Template path (`chart/templates/x.yaml`).
    pub name: String,
    /// The document's text.
    pub content: String,
    /// Its head.
    pub head: Head,
}

/// A hook document.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// Template path.
    pub path: String,
    /// The document's text.
    pub manifest: String,
    /// Events it runs on.
    pub events: Vec<HookEvent>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` values.
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy` values.
    pub output_log_policies: Vec<String>,
}

/// A document that is not valid YAML or not a Kubernetes object head.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("YAML parse error on {path}: {message}")]
pub struct ManifestError {
    /// Template path.
    pub path: String,
    /// What is wrong (with line:column inside the document where known).
    pub message: String,
}

fn separator() -> &'static regex::Regex {
    static SEP: OnceLock<regex::Regex> = OnceLock::new();
    // Helm v4.2's separator (later Helm versions changed it; the oracle is 4.2.3): `---` at
    // the start or after a newline, eating the whitespace around it. Go's `\s` is ASCII.
    SEP.get_or_init(|| {
        regex::Regex::new(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*").expect("static regex")
    })
}

/// Helm's `SplitManifests`: documents of a rendered file, empty ones dropped, leading space
/// trimmed, in order.
pub fn split_manifests(big: &str) -> Vec<String> {
    let trimmed = big.trim_start();
    separator()
        .split(trimmed)
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim_start().to_string())
        .collect()
}

fn head_of(doc: &str, path: &str) -> Result<Head, ManifestError> {
    let err = |message: String| ManifestError {
        path: path.to_string(),
        message,
    };
    let v = ferry_chart::yaml::parse_head(doc).map_err(|e| err(e.to_string()))?;
    let mut head = Head::default();
    let map = match &v {
        Value::Map(m) => m,
        Value::Null => return Ok(head),
        other => {
            return Err(err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type util.SimpleHead",
                other.json_type()
            )));
        }
    };
    let string = |key: &str, v: Option<&Value>| -> Result<String, ManifestError> {
        match v {
            None => Ok(String::new()),
            Some(v) => scalar_string(v).ok_or_else(|| {
                err(format!(
                    "json: cannot unmarshal {} into Go struct field SimpleHead.{key} of type string",
                    v.json_type()
                ))
            }),
        }
    };
    head.api_version = string("apiVersion", map.get("apiVersion"))?;
    head.kind = string("kind", map.get("kind"))?;
    match map.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Map(md)) => {
            head.has_metadata = true;
            head.name = string("metadata.name", md.get("name"))?;
            match md.get("annotations") {
                None | Some(Value::Null) => {}
                Some(Value::Map(a)) => {
                    for (k, v) in a {
                        head.annotations
                            .insert(k.clone(), string("metadata.annotations", Some(v))?);
                    }
                }
                Some(other) => {
                    return Err(err(format!(
                        "json: cannot unmarshal {} into Go struct field .metadata.annotations of type map[string]string",
                        other.json_type()
                    )));
                }
            }
        }
        Some(other) => {
            return Err(err(format!(
                "json: cannot unmarshal {} into Go struct field SimpleHead.metadata of type struct",
                other.json_type()
            )));
        }
    }
    Ok(head)
}

fn split_policies(v: Option<&String>) -> Vec<String> {
    v.map(|s| s.split(',').map(|p| p.trim().to_lowercase()).collect())
        .unwrap_or_default()
}

/// Helm's `SortManifests`: files in path order (partials and blank files skipped), documents
/// in order, hooks separated; both lists stably sorted by `order`.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
    order: &[&str],
) -> Result<(Vec<Hook>, Vec<Manifest>), ManifestError> {
    sort_manifests_of(files, order)
}

/// [`sort_manifests`] over borrowed `(template path, rendered text)` pairs in path order, so
/// a caller that filters the render map (NOTES.txt out) needs no copy of it.
pub fn sort_manifests_of<'a>(
    files: impl IntoIterator<Item = (&'a String, &'a String)>,
    order: &[&str],
) -> Result<(Vec<Hook>, Vec<Manifest>), ManifestError> {
    sort_manifests_ahead(files, order, ReadAhead::default())
}

/// A file [`sort_manifests`] skips: a partial or blank.
fn skipped(path: &str, content: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with('_') || content.trim().is_empty()
}

/// The documents and heads of rendered files, read while the render still runs
/// ([`crate::Engine::render_observed`]), for [`sort_manifests_ahead`]: the same work
/// [`sort_manifests`] does per file, done earlier, so reading the whole output as YAML
/// overlaps the render.
#[derive(Debug, Default)]
pub struct ReadAhead {
    /// template path → (length of the text read, its documents with their heads)
    files: HashMap<String, (usize, ReadFile)>,
}

type ReadFile = Vec<(String, Result<Head, ManifestError>)>;

impl ReadAhead {
    /// Splits one rendered file and reads the head of each of its documents.
    pub fn read(&mut self, path: &str, content: &str) {
        if skipped(path, content) {
            return;
        }
        let docs = split_manifests(content)
            .into_iter()
            .map(|d| {
                let head = head_of(&d, path);
                (d, head)
            })
            .collect();
        self.files.insert(path.to_string(), (content.len(), docs));
    }
}

/// [`sort_manifests_of`] taking the files `ahead` already read from it and reading the
/// others. `ahead` must come from the same render as `files` (a file whose text has another
/// length than the one read is read again).
pub fn sort_manifests_ahead<'a>(
    files: impl IntoIterator<Item = (&'a String, &'a String)>,
    order: &[&str],
    mut ahead: ReadAhead,
) -> Result<(Vec<Hook>, Vec<Manifest>), ManifestError> {
    let mut docs: Vec<(&String, String)> = Vec::new();
    let mut heads: Vec<Option<Result<Head, ManifestError>>> = Vec::new();
    for (path, content) in files {
        if skipped(path, content) {
            continue;
        }
        match ahead.files.remove(path.as_str()) {
            Some((len, read)) if len == content.len() => {
                for (doc, head) in read {
                    docs.push((path, doc));
                    heads.push(Some(head));
                }
            }
            _ => {
                for doc in split_manifests(content) {
                    docs.push((path, doc));
                    heads.push(None);
                }
            }
        }
    }
    let todo: Vec<(&String, &str)> = docs
        .iter()
        .zip(&heads)
        .filter(|(_, h)| h.is_none())
        .map(|((p, d), _)| (*p, d.as_str()))
        .collect();
    let mut fresh = heads_of(&todo).into_iter();
    drop(todo);
    for h in heads.iter_mut().filter(|h| h.is_none()) {
        *h = fresh.next();
    }
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for ((path, doc), head) in docs.into_iter().zip(heads) {
        let head = match head {
            Some(head) => head?,
            None => head_of(&doc, path)?,
        };
        let Some(hook_types) = head.annotations.get("helm.sh/hook").cloned() else {
            generic.push(Manifest {
                name: path.clone(),
                content: doc,
                head,
            });
            continue;
        };
        let mut events = Vec::new();
        let mut unknown = false;
        for t in hook_types.split(',') {
            match HookEvent::parse(&t.trim().to_lowercase()) {
                Some(e) => events.push(e),
                None => {
                    unknown = true;
                    break;
                }
            }
        }
        if unknown {
            continue;
        }
        hooks.push(Hook {
            name: head.name.clone(),
            kind: head.kind.clone(),
            path: path.clone(),
            weight: head
                .annotations
                .get("helm.sh/hook-weight")
                .and_then(|w| go_atoi(w))
                .unwrap_or(0),
            delete_policies: split_policies(head.annotations.get("helm.sh/hook-delete-policy")),
            output_log_policies: split_policies(
                head.annotations.get("helm.sh/hook-output-log-policy"),
            ),
            manifest: doc,
            events,
        });
    }
    generic.sort_by(|a, b| by_kind(order, &a.head.kind, &b.head.kind));
    hooks.sort_by(|a, b| by_kind(order, &a.kind, &b.kind));
    Ok((hooks, generic))
}

/// Every document's head, in order. Reading them is YAML-parsing the whole output, so a
/// big render shares it among the machine's cores.
fn heads_of(docs: &[(&String, &str)]) -> Vec<Result<Head, ManifestError>> {
    let workers = ferry_gotmpl::cores().min(4).min(docs.len() / 16);
    if workers < 2 {
        return docs.iter().map(|(p, d)| head_of(d, p)).collect();
    }
    // the same stack as the main thread's: a deeply nested document parses in either
    const STACK: usize = 8 << 20;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((p, d)) = docs.get(i) else {
                return mine;
            };
            mine.push((i, head_of(d, p)));
        }
    };
    let mut out: Vec<Option<Result<Head, ManifestError>>> = Vec::new();
    out.resize_with(docs.len(), || None);
    // each helper hands its heads over as its last act: joining the helpers would also
    // wait for their teardown (allocator heaps, stacks)
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 1..workers {
            let tx = tx.clone();
            let _ = std::thread::Builder::new()
                .name("ferry-manifest".into())
                .stack_size(STACK)
                .spawn_scoped(scope, move || {
                    // a panic loses the helper's heads (read below), not the scope
                    let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
                    let _ = tx.send(mine.unwrap_or_default());
                });
        }
        drop(tx);
        for (i, h) in work() {
            out[i] = Some(h);
        }
        for (i, h) in rx.into_iter().flatten() {
            out[i] = Some(h);
        }
    });
    docs.iter()
        .zip(out)
        // a document no thread reached (a helper panicked) is read here
        .map(|((p, d), h)| h.unwrap_or_else(|| head_of(d, p)))
        .collect()
}

/// Helm's `lessByKind` for a kind order ([`INSTALL_ORDER`], [`UNINSTALL_ORDER`]): known kinds
/// by their place in it, then unknown kinds (custom resources) alphabetically. Sort stably.
pub fn by_kind(order: &[&str], a: &str, b: &str) -> std::cmp::Ordering {
    let rank = |kind: &str| order.iter().position(|k| *k == kind);
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Go's `strconv.Atoi`.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The manifest text Helm stores and `helm template` prints: `---\n# Source: <path>\n<doc>\n`
/// per document, in install order.
pub fn manifest_text(manifests: &[Manifest]) -> String {
    manifest_text_with_room(manifests, 0)
}

/// The length of one `---\n# Source: <path>\n<doc>\n` entry of a manifest text.
pub fn entry_len(path: &str, doc: &str) -> usize {
    "---\n# Source: \n\n".len() + path.len() + doc.len()
}

/// [`manifest_text`] in a buffer with `room` bytes to spare after it.
pub fn manifest_text_with_room(manifests: &[Manifest], room: usize) -> String {
    let len: usize = manifests
        .iter()
        .map(|m| entry_len(&m.name, &m.content))
        .sum();
    let mut out = String::with_capacity(len + room);
    for m in manifests {
        out.push_str("---\n# Source: ");
        out.push_str(&m.name);
        out.push('\n');
        out.push_str(&m.content);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn split_keeps_order_and_drops_empty_documents() {
        let docs = split_manifests("\n---\na: 1\n---   \n\n---\nb: 2\n---x: 3\nc: ---\n");
        // like Go's regexp: the first separator eats the blank line, so the second `---`
        // starts the next document
        assert_eq!(docs, ["a: 1", "---\nb: 2", "x: 3\nc: ---\n"]);
    }

    #[test]
    fn kinds_sort_in_install_order_unknown_last_alphabetically() {
        let f = files(&[
            (
                "c/templates/b.yaml",
                "kind: Zeta\n---\nkind: Deployment\n---\nkind: Alpha\n",
            ),
            (
                "c/templates/a.yaml",
                "kind: Service\n---\nkind: Namespace\n",
            ),
            ("c/templates/_helpers.tpl", "kind: Secret\n"),
        ]);
        let (_, m) = sort_manifests(&f, INSTALL_ORDER).unwrap();
        let kinds: Vec<&str> = m.iter().map(|m| m.head.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["Namespace", "Service", "Deployment", "Alpha", "Zeta"]
        );
    }

    #[test]
    fn hooks_are_separated_and_unknown_hooks_dropped() {
        let f = files(&[(
            "c/templates/h.yaml",
            "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install, POST-upgrade\n    helm.sh/hook-weight: 5\n    helm.sh/hook-delete-policy: hook-succeeded\n---\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    helm.sh/hook: bogus\n---\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    other: x\n",
        )]);
        let (h, m) = sort_manifests(&f, INSTALL_ORDER).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].events, [HookEvent::PreInstall, HookEvent::PostUpgrade]);
        assert_eq!(h[0].weight, 5);
        assert_eq!(h[0].delete_policies, ["hook-succeeded"]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].head.name, "c");
    }

    #[test]
    fn bad_yaml_names_the_template() {
        let f = files(&[("c/templates/x.yaml", "a: b: c\n")]);
        let e = sort_manifests(&f, INSTALL_ORDER).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("YAML parse error on c/templates/x.yaml:"),
            "{e}"
        );
    }
}
