//! Release operations against a cluster: install, upgrade, rollback, uninstall, with hooks,
//! waiting, `--atomic` and Helm-compatible release records. Used by the CLI; embeddable as a
//! library.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferry::action::Error> {
//! use ferry::action::{Client, ConnectOptions, UpgradeRequest};
//! let client = Client::connect(ConnectOptions::default()).await?;
//! let chart = ferry::chart::load("testdata/charts/umbrella-chart").expect("chart");
//! let rel = client
//!     .upgrade(UpgradeRequest {
//!         install: true,
//!         atomic: true,
//!         wait: true,
//!         create_namespace: true,
//!         ..UpgradeRequest::new("production", chart, "production")
//!     })
//!     .await?;
//! println!("{} revision {} {}", rel.name, rel.version, rel.info.status);
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use ferry_chart::{Chart, Map};
use ferry_release::model::{Hook, Release, Status, chart_json};
use ferry_release::storage::{Driver, Storage, StorageError};
use ferry_render::{Capabilities, Engine, ReleaseOptions, RenderRequest, render_release_with};
use serde_json::Value;

use crate::gotime::GoTime;
use crate::lock::{self, LockOptions};
pub use ferry_engine::apply::{Cluster, ClusterError, Obj};
pub use ferry_engine::progress::{Event, Progress};
pub use ferry_engine::wait::WaitRules;

/// Errors of an operation. Messages follow Helm's where Helm has one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Cluster access.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Release storage.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Rendering the chart.
    #[error(transparent)]
    Render(#[from] ferry_render::RenderError),
    /// The release lock.
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// Anything else, with its message.
    #[error("{0}")]
    Other(String),
    /// Loading the kubeconfig.
    #[error("kubeconfig: {0}")]
    Config(String),
}

fn other(s: impl Into<String>) -> Error {
    Error::Other(s.into())
}

/// How to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Kubeconfig file (default: `$KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Context to use.
    pub context: Option<String>,
    /// Namespace (default: the context's, else `default`).
    pub namespace: Option<String>,
    /// Storage driver (`HELM_DRIVER`), Secrets by default.
    pub driver: Option<Driver>,
}

/// A connection to a cluster: release storage plus the API.
pub struct Client {
    /// The cluster.
    pub cluster: Cluster,
    /// The namespace operations default to.
    pub namespace: String,
    driver: Driver,
    /// Field manager for server-side apply (Helm's CLI uses `helm`; sharing it lets Helm and
    /// ferry take turns on a release without conflicts).
    pub field_manager: String,
    /// Release lock settings.
    pub lock: LockOptions,
    /// Where progress goes.
    pub progress: Progress,
}

/// `helm install` / `helm upgrade [--install]`.
#[derive(Clone)]
pub struct UpgradeRequest {
    /// Release name.
    pub name: String,
    /// The chart.
    pub chart: Chart,
    /// Namespace.
    pub namespace: String,
    /// User values (`-f`, `--set`...).
    pub values: Map,
    /// Install when the release does not exist (`upgrade --install`; `install` sets it).
    pub install: bool,
    /// Fail unless this is a fresh install (`install`).
    pub install_only: bool,
    /// `--atomic` / `--rollback-on-failure`.
    pub atomic: bool,
    /// `--wait`.
    pub wait: bool,
    /// `--wait=legacy`: Helm 3's readiness rules ([`ferry_engine::wait::legacy_readiness`]).
    pub legacy_wait: bool,
    /// `--wait-for-jobs`.
    pub wait_for_jobs: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--create-namespace`.
    pub create_namespace: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--skip-crds`.
    pub skip_crds: bool,
    /// `--take-ownership`.
    pub take_ownership: bool,
    /// `--force-conflicts`.
    pub force_conflicts: bool,
    /// `--server-side`.
    pub server_side: ServerSide,
    /// `--reuse-values`.
    pub reuse_values: bool,
    /// `--reset-values`.
    pub reset_values: bool,
    /// `--reset-then-reuse-values`.
    pub reset_then_reuse_values: bool,
    /// `--history-max` (0: unlimited).
    pub history_max: usize,
    /// `--description`.
    pub description: Option<String>,
    /// `--cleanup-on-fail`.
    pub cleanup_on_fail: bool,
    /// `--render-subchart-notes`.
    pub sub_notes: bool,
    /// `--force-replace` (Helm 3's `--force`): client-side updates replace live objects whole
    /// instead of patching them; refused with server-side apply, as Helm 4 does.
    pub force_replace: bool,
    /// `--post-renderer`: rewrites the rendered manifests (hooks included) before they are
    /// applied and recorded, as Helm does.
    pub post_renderer: Option<std::sync::Arc<dyn ferry_render::PostRenderer + Send + Sync>>,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
    /// `--dry-run`: return the release that would be recorded, described `Dry run complete`;
    /// nothing is written (no namespace, CRD, lock or record).
    pub dry_run: DryRun,
}

impl UpgradeRequest {
    fn wait_rules(&self) -> WaitRules {
        WaitRules {
            jobs: self.wait_for_jobs,
            legacy: self.legacy_wait,
        }
    }

    /// A request with Helm's defaults.
    pub fn new(name: &str, chart: Chart, namespace: &str) -> UpgradeRequest {
        UpgradeRequest {
            name: name.into(),
            chart,
            namespace: namespace.into(),
            values: Map::new(),
            install: false,
            install_only: false,
            atomic: false,
            wait: false,
            legacy_wait: false,
            wait_for_jobs: false,
            timeout: Duration::from_secs(300),
            create_namespace: false,
            no_hooks: false,
            skip_crds: false,
            take_ownership: false,
            force_conflicts: false,
            server_side: ServerSide::Auto,
            reuse_values: false,
            reset_values: false,
            reset_then_reuse_values: false,
            history_max: 10,
            description: None,
            cleanup_on_fail: false,
            sub_notes: false,
            force_replace: false,
            post_renderer: None,
            skip_schema_validation: false,
            dry_run: DryRun::None,
        }
    }
}

/// Helm 3's client-side apply: the objects of the previous release (the originals of the
/// three-way patches) and whether custom resources get Helm 4's three-way JSON merge patch.
#[derive(Clone, Copy)]
struct ClientSide<'a> {
    originals: &'a [Obj],
    three_way_custom: bool,
}

/// `--dry-run` of install and upgrade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DryRun {
    /// Apply for real.
    #[default]
    None,
    /// Read the release history (an upgrade needs the current release), render offline
    /// (Helm's default capabilities, `lookup` empty), check nothing against the cluster.
    Client,
    /// Render against the cluster (its version and API groups, `lookup`), map every object
    /// and check ownership.
    Server,
}

/// `--server-side`: how objects are applied (Helm 4's choice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServerSide {
    /// Installs apply server-side; upgrades and rollbacks keep the method the previous release
    /// recorded (`apply_method`): `ssa` stays server-side, `csa` or none (Helm 3) stays
    /// client-side.
    #[default]
    Auto,
    /// Server-side apply (field manager `helm` by default, `--force-conflicts` to take fields
    /// over). A client-side release switching to it first converts its field managers.
    True,
    /// Helm 3's client-side apply: create, or a three-way strategic merge patch (JSON merge
    /// patch for custom resources).
    False,
}

impl ServerSide {
    /// Whether to apply server-side, given the apply method the previous release recorded
    /// (`None` for an install).
    pub fn resolve(self, previous: Option<&str>) -> bool {
        match self {
            ServerSide::True => true,
            ServerSide::False => false,
            ServerSide::Auto => previous.is_none_or(|m| m == "ssa"),
        }
    }
}

impl std::str::FromStr for ServerSide {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ServerSide::Auto),
            "true" => Ok(ServerSide::True),
            "false" => Ok(ServerSide::False),
            other => Err(format!(
                "invalid server-side value {other:?}: must be one of auto, true, false"
            )),
        }
    }
}

/// `helm rollback`.
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    /// Release name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Target revision; 0 = the previous one.
    pub revision: i64,
    /// `--wait`.
    pub wait: bool,
    /// `--wait=legacy`: Helm 3's readiness rules.
    pub legacy_wait: bool,
    /// `--wait-for-jobs`.
    pub wait_for_jobs: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--history-max`.
    pub history_max: usize,
    /// `--server-side`.
    pub server_side: ServerSide,
    /// `--force-replace`.
    pub force_replace: bool,
}

impl RollbackRequest {
    fn wait_rules(&self) -> WaitRules {
        WaitRules {
            jobs: self.wait_for_jobs,
            legacy: self.legacy_wait,
        }
    }
}

/// `helm uninstall`.
#[derive(Debug, Clone)]
pub struct UninstallRequest {
    /// Release name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `--keep-history`.
    pub keep_history: bool,
    /// `--wait`.
    pub wait: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--no-hooks`.
    pub no_hooks: bool,
}

/// `helm test NAME`.
#[derive(Debug, Clone)]
pub struct TestRequest {
    /// Release name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `--timeout`, for each test hook.
    pub timeout: Duration,
    /// `--filter name=X`: run only these tests (by hook name).
    pub include: Vec<String>,
    /// `--filter '!name=X'`: skip these tests.
    pub exclude: Vec<String>,
    /// `--logs`: read the test pods' logs before the delete policies remove them.
    pub logs: bool,
}

/// What `test` did. A failing test is not an `Err` of [`Client::test`]: the release, with
/// every test's phase recorded, is still returned (helm prints it before the error).
#[derive(Debug)]
pub struct Tested {
    /// The release as recorded after the run (hooks' `last_run` updated).
    pub release: Release,
    /// `POD LOGS: <pod>` sections, with `--logs`.
    pub logs: String,
    /// The first failure: a test that failed, or a log or cleanup that could not be done.
    pub error: Option<Error>,
}

/// What uninstall did.
#[derive(Debug, Clone)]
pub struct Uninstalled {
    /// The release as last recorded.
    pub release: Release,
    /// Objects kept by `helm.sh/resource-policy: keep`.
    pub kept: Vec<String>,
}

/// How many objects of one kind are applied at once.
const APPLY_CONCURRENCY: usize = 8;

fn now() -> String {
    GoTime::now_utc().rfc3339_nano()
}

fn merge_json(base: &mut serde_json::Map<String, Value>, over: &serde_json::Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_json(b, o),
            (_, Value::Null) => {
                base.remove(k);
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn to_json_map(m: &Map) -> serde_json::Map<String, Value> {
    match ferry_chart::Value::Map(m.clone()).to_json() {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    }
}

fn from_json_map(m: &serde_json::Map<String, Value>) -> Map {
    match ferry_chart::Value::from_json(&Value::Object(m.clone())) {
        ferry_chart::Value::Map(m) => m,
        _ => Map::new(),
    }
}

fn keep_policy(v: &Value) -> bool {
    v.pointer("/metadata/annotations/helm.sh~1resource-policy")
        .and_then(Value::as_str)
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("keep"))
}

/// Helm's ownership stamp on every (non-hook) object of a release.
fn stamp(o: &mut Obj, name: &str, ns: &str) {
    let meta = o.body["metadata"].as_object_mut();
    if let Some(meta) = meta {
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if !labels.is_object() {
            *labels = Value::Object(Default::default());
        }
        labels["app.kubernetes.io/managed-by"] = "Helm".into();
        let ann = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if !ann.is_object() {
            *ann = Value::Object(Default::default());
        }
        ann["meta.helm.sh/release-name"] = name.into();
        ann["meta.helm.sh/release-namespace"] = ns.into();
    }
}

/// Helm's `checkOwnership`: Ok when the live object belongs to this release.
fn check_ownership(o: &Obj, live: &Value, name: &str, ns: &str) -> Result<(), String> {
    let mut errs = Vec::new();
    let label = live
        .pointer("/metadata/labels/app.kubernetes.io~1managed-by")
        .and_then(Value::as_str);
    match label {
        None => errs.push("label validation error: missing key \"app.kubernetes.io/managed-by\": must be set to \"Helm\"".to_string()),
        Some("Helm") => {}
        Some(v) => errs.push(format!("label validation error: key \"app.kubernetes.io/managed-by\" must equal \"Helm\": current value is \"{v}\"")),
    }
    for (key, want) in [
        ("meta.helm.sh/release-name", name),
        ("meta.helm.sh/release-namespace", ns),
    ] {
        let path = format!("/metadata/annotations/{}", key.replace('/', "~1"));
        match live.pointer(&path).and_then(Value::as_str) {
            None => errs.push(format!("annotation validation error: missing key \"{key}\": must be set to \"{want}\"")),
            Some(v) if v == want => {}
            Some(v) => errs.push(format!("annotation validation error: key \"{key}\" must equal \"{want}\": current value is \"{v}\"")),
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} \"{}\" in namespace \"{}\" exists and cannot be imported into the current release: invalid ownership metadata; {}",
        o.ar.kind,
        o.name,
        o.ns.clone().unwrap_or_default(),
        errs.join("; ")
    ))
}

impl Client {
    /// Connects using a kubeconfig (as kubectl and helm do: `--kubeconfig`, `$KUBECONFIG`,
    /// `~/.kube/config`; `--kube-context`; exec plugins and tokens through kube).
    pub async fn connect(opts: ConnectOptions) -> Result<Client, Error> {
        let kc_opts = kube::config::KubeConfigOptions {
            context: opts.context.clone(),
            ..Default::default()
        };
        let config = match &opts.kubeconfig {
            Some(p) => {
                let kc = kube::config::Kubeconfig::read_from(p)
                    .map_err(|e| Error::Config(format!("{}: {e}", p.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &kc_opts).await
            }
            None => kube::Config::from_kubeconfig(&kc_opts).await,
        }
        .map_err(|e| Error::Config(e.to_string()))?;
        let namespace = opts
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
        Client::from_kube(client, &namespace, opts.driver.unwrap_or(Driver::Secret)).await
    }

    /// Wraps an existing kube client.
    pub async fn from_kube(
        client: kube::Client,
        namespace: &str,
        driver: Driver,
    ) -> Result<Client, Error> {
        Ok(Client {
            cluster: Cluster::new(client).await?,
            namespace: namespace.to_string(),
            driver,
            field_manager: "helm".into(),
            lock: LockOptions::default(),
            progress: Progress::default(),
        })
    }

    /// Release storage of a namespace (`None`: all namespaces, for listing).
    pub fn storage(&self, namespace: Option<&str>) -> Storage {
        Storage::new(self.driver, self.cluster.client.clone(), namespace)
    }

    async fn capabilities(&self) -> Result<Capabilities, Error> {
        let mut caps = Capabilities::default()
            .with_kube_version(&self.cluster.kube_version().await?)
            .map_err(other)?;
        caps.api_versions = self.cluster.api_versions().await;
        Ok(caps)
    }

    fn step(&self, s: impl Into<String>) {
        self.progress.send(Event::Step(s.into()));
    }

    /// Applies objects in order, reporting each: server-side apply, or with `csa` Helm 3's
    /// client-side apply against the previous release's objects. Returns the objects created.
    async fn apply_all(
        &self,
        objs: &[Obj],
        force: bool,
        csa: Option<ClientSide<'_>>,
        replace: bool,
    ) -> Result<Vec<Obj>, Error> {
        use futures::StreamExt;
        if replace && csa.is_none() {
            return Err(other(
                "invalid operation: cannot use server-side apply and force replace together",
            ));
        }
        // Objects come in Helm's install order; the objects of one kind go out concurrently
        // (bounded), kinds one after the other, so a Namespace or CRD still precedes its users.
        let mut created = Vec::new();
        let mut start = 0;
        while start < objs.len() {
            let kind = &objs[start].ar.kind;
            let end = objs[start..]
                .iter()
                .position(|o| &o.ar.kind != kind)
                .map_or(objs.len(), |n| start + n);
            let results: Vec<Result<Option<Obj>, Error>> = futures::stream::iter(&objs[start..end])
                .map(|o| async move {
                    let live = self.cluster.get(o).await?;
                    let existed = live.is_some();
                    let action = match (csa, live) {
                        (None, _) => {
                            self.cluster.apply(o, &self.field_manager, force).await?;
                            if existed { "configured" } else { "created" }
                        }
                        (Some(_), None) => {
                            self.cluster.create(o, &self.field_manager).await?;
                            "created"
                        }
                        (Some(_), Some(live)) if replace => {
                            self.cluster.replace(o, &live, &self.field_manager).await?;
                            "replaced"
                        }
                        (Some(cs), Some(live)) => {
                            // the previous release's object; for an object the release did
                            // not have (adopted), the chart's own, as Helm's
                            // existingResourceConflict passes the target as the original
                            let key = o.key();
                            let original = cs
                                .originals
                                .iter()
                                .find(|x| x.key() == key)
                                .map(|x| x.body.clone())
                                .unwrap_or_else(|| o.body.clone());
                            if self
                                .cluster
                                .patch_client_side(
                                    o,
                                    &original,
                                    &live,
                                    &self.field_manager,
                                    cs.three_way_custom,
                                )
                                .await?
                            {
                                "configured"
                            } else {
                                "unchanged"
                            }
                        }
                    };
                    self.progress.send(Event::Applied {
                        object: o.id(),
                        action: action.into(),
                    });
                    Ok((!existed).then(|| o.clone()))
                })
                .buffered(APPLY_CONCURRENCY)
                .collect()
                .await;
            for r in results {
                if let Some(o) = r? {
                    created.push(o);
                }
            }
            start = end;
        }
        Ok(created)
    }

    /// Helm's `csaupgrade`: before a client-side release is first applied server-side, the
    /// fields its client-side writes own (manager `helm`, operation `Update`) move to the
    /// `helm` Apply entry, so server-side apply neither conflicts with them nor leaves them
    /// behind.
    async fn upgrade_field_managers(&self, objs: &[Obj]) -> Result<(), Error> {
        for o in objs {
            self.cluster
                .upgrade_field_manager(o, &self.field_manager)
                .await?;
        }
        Ok(())
    }

    /// Runs the hooks of one event (Helm's order: weight, then name), waiting for Jobs and
    /// Pods, applying delete policies. Updates `rel.hooks[].last_run`.
    async fn run_hooks(
        &self,
        rel: &mut Release,
        event: &str,
        timeout: Duration,
    ) -> Result<(), Error> {
        let mut cleanup = Vec::new();
        let result = self.exec_hooks(rel, event, timeout, &mut cleanup).await;
        let cleaned = self.delete_hooks(&cleanup).await;
        result?.map_err(|e| other(format!("{event} hooks failed: {e}")))?;
        cleaned
    }

    /// Runs the hooks of one event and stops at the first failure: the outer error is one
    /// of reaching the cluster, the inner one a hook that failed. What the delete policies
    /// remove afterwards (`hook-succeeded`, `hook-failed`) is pushed to `cleanup`, in the order
    /// to delete it, and left to the caller: `test --logs` reads the test pods' logs first, as
    /// Helm's delayed shutdown does.
    async fn exec_hooks(
        &self,
        rel: &mut Release,
        event: &str,
        timeout: Duration,
        cleanup: &mut Vec<Obj>,
    ) -> Result<Result<(), Error>, Error> {
        let mut idx: Vec<usize> = (0..rel.hooks.len())
            .filter(|&i| rel.hooks[i].events.iter().any(|e| e == event))
            .collect();
        if idx.is_empty() {
            return Ok(Ok(()));
        }
        idx.sort_by(|&a, &b| {
            (rel.hooks[a].weight, &rel.hooks[a].name)
                .cmp(&(rel.hooks[b].weight, &rel.hooks[b].name))
        });
        self.step(format!("{event} hooks"));
        let ns = rel.namespace.clone();
        let mut done: Vec<(Obj, Vec<String>)> = Vec::new();
        let deletable = |o: &Obj, policies: &[String], policy: &str| {
            policies.iter().any(|p| p == policy) && o.ar.kind != "CustomResourceDefinition"
        };
        for i in idx {
            let h: Hook = rel.hooks[i].clone();
            let objs = self.cluster.objects(&h.manifest, &ns).await?;
            let policies = if h.delete_policies.is_empty() {
                vec!["before-hook-creation".to_string()]
            } else {
                h.delete_policies.clone()
            };
            for o in &objs {
                if policies.iter().any(|p| p == "before-hook-creation")
                    && self.cluster.delete(o).await?
                {
                    self.cluster
                        .wait_deleted(std::slice::from_ref(o), timeout, &Progress::default())
                        .await?;
                }
            }
            rel.hooks[i].last_run.started_at = now();
            rel.hooks[i].last_run.phase = "Running".into();
            rel.hooks[i].last_run.completed_at.clear();
            let mut result = Ok(());
            for o in &objs {
                if let Err(e) = self.cluster.apply(o, &self.field_manager, true).await {
                    result = Err(Error::from(e));
                    break;
                }
                self.progress.send(Event::Applied {
                    object: o.id(),
                    action: format!("{event} hook"),
                });
                if let Err(e) = self.cluster.wait_hook(o, timeout, &self.progress).await {
                    result = Err(Error::from(e));
                    break;
                }
            }
            rel.hooks[i].last_run.completed_at = now();
            match result {
                Ok(()) => {
                    rel.hooks[i].last_run.phase = "Succeeded".into();
                    done.push((
                        objs.into_iter()
                            .next()
                            .unwrap_or_else(|| unreachable_obj(&h)),
                        policies,
                    ));
                }
                Err(e) => {
                    rel.hooks[i].last_run.phase = "Failed".into();
                    cleanup.extend(
                        objs.into_iter()
                            .filter(|o| deletable(o, &policies, "hook-failed")),
                    );
                    cleanup.extend(
                        done.into_iter()
                            .filter(|(o, p)| deletable(o, p, "hook-succeeded"))
                            .map(|(o, _)| o),
                    );
                    return Ok(Err(e));
                }
            }
        }
        cleanup.extend(
            done.into_iter()
                .rev()
                .filter(|(o, p)| deletable(o, p, "hook-succeeded"))
                .map(|(o, _)| o),
        );
        Ok(Ok(()))
    }

    /// Deletes hook objects left by [`Client::exec_hooks`]; all are tried, the first error is
    /// returned.
    async fn delete_hooks(&self, objs: &[Obj]) -> Result<(), Error> {
        let mut first = Ok(());
        for o in objs {
            if let Err(e) = self.cluster.delete(o).await
                && first.is_ok()
            {
                first = Err(Error::from(e));
            }
        }
        first
    }

    /// Runs `f` holding the release's lock: a release left pending by a holder that died
    /// (its lease expired) is recovered first; the lock is released whatever `f` returns.
    async fn locked<T>(
        &self,
        namespace: &str,
        name: &str,
        operation: &str,
        f: impl AsyncFnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let (lk, stale) = lock::acquire(
            self.cluster.client.clone(),
            namespace,
            name,
            operation,
            &self.lock,
        )
        .await?;
        let result = async {
            if let Some(s) = stale {
                self.recover(name, namespace, &s).await?;
            }
            f().await
        }
        .await;
        lk.release().await;
        result
    }

    /// `install`, `upgrade`, `upgrade --install`, with the release lock held.
    pub async fn upgrade(&self, req: UpgradeRequest) -> Result<Release, Error> {
        if req.dry_run != DryRun::None {
            // writes nothing, so takes no lock
            return self.upgrade_locked(req).await;
        }
        if req.create_namespace {
            // Before the lock, which lives in the namespace (Helm creates it only on install;
            // when the release exists, so does its namespace).
            self.cluster.ensure_namespace(&req.namespace).await?;
        }
        let (name, ns) = (req.name.clone(), req.namespace.clone());
        let op = if req.install_only {
            "install"
        } else {
            "upgrade"
        };
        self.locked(&ns, &name, op, async move || self.upgrade_locked(req).await)
            .await
    }

    /// A previous operation died holding the lock: its pending record becomes `failed`
    /// (history says so), so this operation proceeds as after any failure.
    async fn recover(&self, name: &str, ns: &str, stale: &lock::Stale) -> Result<(), Error> {
        let store = self.storage(Some(ns));
        if let Some(mut last) = store.last(name).await?
            && last.info.status.is_pending()
        {
            self.step(format!(
                "recovering release {name}: revision {} was left {} by {} ({} interrupted)",
                last.version, last.info.status, stale.holder, stale.operation
            ));
            last.info.status = Status::Failed;
            last.info.description = format!(
                "{} interrupted ({} stopped renewing its lock); recovered by ferry",
                stale.operation, stale.holder
            );
            store.update(&last).await?;
        }
        Ok(())
    }

    async fn upgrade_locked(&self, req: UpgradeRequest) -> Result<Release, Error> {
        let store = self.storage(Some(&req.namespace));
        let hist = store.history(&req.name).await?;
        let last = hist.last().cloned();
        let is_install = match &last {
            None => {
                if !req.install {
                    return Err(other(format!("\"{}\" has no deployed releases", req.name)));
                }
                true
            }
            Some(l) if l.info.status == Status::Uninstalled => true,
            Some(_) if req.install_only => {
                return Err(other("cannot re-use a name that is still in use"));
            }
            Some(l) if l.info.status.is_pending() => {
                return Err(other(
                    "another operation (install/upgrade/rollback) is in progress",
                ));
            }
            Some(_) => false,
        };
        let deployed = hist
            .iter()
            .rev()
            .find(|r| r.info.status == Status::Deployed)
            .cloned();
        let current = if is_install {
            None
        } else {
            deployed.clone().or_else(|| last.clone())
        };
        let version = last.as_ref().map(|l| l.version + 1).unwrap_or(1);

        // Values (Helm's reuseValues).
        let mut chart = req.chart.clone();
        let mut user = to_json_map(&req.values);
        if let Some(cur) = &current {
            if req.reset_values {
            } else if req.reuse_values {
                let mut merged = cur.config.clone();
                merge_json(&mut merged, &user);
                user = merged;
                let mut old_vals = cur.chart_values();
                merge_json(&mut old_vals, &cur.config);
                chart.values = from_json_map(&old_vals);
            } else if req.reset_then_reuse_values {
                let mut merged = cur.config.clone();
                merge_json(&mut merged, &user);
                user = merged;
            } else if user.is_empty() && !cur.config.is_empty() {
                user = cur.config.clone();
            }
        }
        let dry_run = req.dry_run != DryRun::None;
        let offline = req.dry_run == DryRun::Client;
        if req.create_namespace && is_install && !dry_run {
            self.cluster.ensure_namespace(&req.namespace).await?;
        }
        if is_install && !req.skip_crds && !dry_run {
            self.install_crds(&chart, &req.namespace, req.timeout)
                .await?;
        }
        let caps = if offline {
            Capabilities::default()
        } else {
            self.capabilities().await?
        };
        let user_vals = from_json_map(&user);
        // Templates may `lookup` live objects: the render runs off the runtime's threads, so
        // those queries can run on it meanwhile.
        let rendered = {
            let (chart, post) = (chart.clone(), req.post_renderer.clone());
            let release = ReleaseOptions {
                name: req.name.clone(),
                namespace: req.namespace.clone(),
                revision: version,
                is_install,
                is_upgrade: !is_install,
            };
            let (sub_notes, skip_schema_validation) = (req.sub_notes, req.skip_schema_validation);
            let lookup: Option<std::sync::Arc<dyn ferry_render::Lookup>> = if offline {
                None
            } else {
                Some(std::sync::Arc::new(ferry_engine::ClusterLookup::new(
                    self.cluster.client.clone(),
                )))
            };
            tokio::task::spawn_blocking(move || {
                render_release_with(
                    &RenderRequest {
                        chart: &chart,
                        user_values: &user_vals,
                        release,
                        caps,
                        engine: Engine {
                            lookup,
                            ..Engine::default()
                        },
                        include_crds: false,
                        sub_notes,
                        skip_schema_validation,
                    },
                    post.as_deref()
                        .map(|p| p as &dyn ferry_render::PostRenderer),
                )
            })
            .await
            .map_err(|e| other(format!("rendering stopped: {e}")))??
        };
        let mut targets = if offline {
            Vec::new()
        } else {
            self.cluster
                .objects(&rendered.manifest, &req.namespace)
                .await?
        };
        for t in &mut targets {
            stamp(t, &req.name, &req.namespace);
        }
        let old_objs = match &current {
            Some(c) if !offline => self
                .cluster
                .objects(&c.manifest, &req.namespace)
                .await
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let old_keys: BTreeSet<_> = old_objs.iter().map(Obj::key).collect();
        // Ownership of objects new to this release.
        if !req.take_ownership {
            for t in targets.iter().filter(|t| !old_keys.contains(&t.key())) {
                if let Some(live) = self.cluster.get(t).await? {
                    check_ownership(t, &live, &req.name, &req.namespace).map_err(|m| {
                        other(format!(
                            "{}: {m}",
                            if is_install {
                                "Unable to continue with install"
                            } else {
                                "Unable to continue with update"
                            }
                        ))
                    })?;
                }
            }
        }
        let previous_method = match (&last, is_install) {
            (Some(l), false) => Some(l.apply_method.as_str()),
            _ => None,
        };
        let server_side = req.server_side.resolve(previous_method);
        let upgrade_managers = server_side && previous_method.is_some_and(|m| m != "ssa");
        let ts = now();
        let mut rel = Release {
            name: req.name.clone(),
            chart: chart_json(&req.chart),
            config: user.clone(),
            manifest: rendered.manifest.clone(),
            hooks: rendered
                .hooks
                .iter()
                .map(|h| Hook {
                    name: h.name.clone(),
                    kind: h.kind.clone(),
                    path: h.path.clone(),
                    manifest: h.manifest.clone(),
                    events: h.events.iter().map(|e| e.as_str().to_string()).collect(),
                    weight: h.weight,
                    delete_policies: h.delete_policies.clone(),
                    output_log_policies: h.output_log_policies.clone(),
                    ..Hook::default()
                })
                .collect(),
            version,
            namespace: req.namespace.clone(),
            apply_method: if server_side { "ssa" } else { "csa" }.into(),
            ..Release::default()
        };
        rel.info.first_deployed = match (&last, is_install) {
            (Some(l), false) if !l.info.first_deployed.is_empty() => l.info.first_deployed.clone(),
            _ => ts.clone(),
        };
        rel.info.last_deployed = ts;
        rel.info.notes = rendered.notes.clone();
        rel.info.status = if is_install {
            Status::PendingInstall
        } else {
            Status::PendingUpgrade
        };
        rel.info.description = if is_install {
            "Initial install underway"
        } else {
            "Preparing upgrade"
        }
        .into();
        if dry_run {
            rel.info.description = "Dry run complete".into();
            return Ok(rel);
        }
        if !is_install && req.history_max > 0 {
            store.prune(&req.name, req.history_max).await?;
        }
        store.create(&rel).await?;
        self.step(format!(
            "{} {} revision {version}: {} objects, {} hooks",
            if is_install {
                "installing"
            } else {
                "upgrading"
            },
            req.name,
            targets.len(),
            rel.hooks.len()
        ));

        let outcome: Result<(), Error> = async {
            let event = if is_install {
                "pre-install"
            } else {
                "pre-upgrade"
            };
            if !req.no_hooks {
                self.run_hooks(&mut rel, event, req.timeout).await?;
            }
            if upgrade_managers {
                self.upgrade_field_managers(&targets).await?;
            }
            let created = self
                .apply_all(
                    &targets,
                    req.force_conflicts,
                    (!server_side).then_some(ClientSide {
                        originals: &old_objs,
                        // Helm 4: a three-way JSON merge for custom resources when an
                        // install takes objects over (upgrades keep Helm 3's two-way patch)
                        three_way_custom: req.take_ownership && is_install,
                    }),
                    req.force_replace,
                )
                .await;
            let created = match created {
                Ok(c) => c,
                Err(e) => return Err(e),
            };
            let new_keys: BTreeSet<_> = targets.iter().map(Obj::key).collect();
            for o in old_objs.iter().filter(|o| !new_keys.contains(&o.key())) {
                match self.cluster.get(o).await? {
                    Some(live) if keep_policy(&live) => {}
                    Some(_) => {
                        self.cluster.delete(o).await?;
                        self.progress.send(Event::Applied {
                            object: o.id(),
                            action: "deleted".into(),
                        });
                    }
                    None => {}
                }
            }
            if req.wait || req.atomic {
                self.step(format!(
                    "waiting for {} objects (timeout {:?})",
                    targets.len(),
                    req.timeout
                ));
                if let Err(e) = self
                    .cluster
                    .wait_ready(&targets, req.timeout, req.wait_rules(), &self.progress)
                    .await
                {
                    if req.cleanup_on_fail {
                        for o in &created {
                            let _ = self.cluster.delete(o).await;
                        }
                    }
                    return Err(e.into());
                }
            }
            let event = if is_install {
                "post-install"
            } else {
                "post-upgrade"
            };
            if !req.no_hooks {
                self.run_hooks(&mut rel, event, req.timeout).await?;
            }
            Ok(())
        }
        .await;

        match outcome {
            Ok(()) => {
                if let Some(mut d) = deployed.filter(|_| !is_install) {
                    d.info.status = Status::Superseded;
                    store.update(&d).await?;
                }
                if is_install
                    && let Some(mut l) = last.filter(|l| l.info.status != Status::Superseded)
                {
                    l.info.status = Status::Superseded;
                    store.update(&l).await?;
                }
                rel.info.status = Status::Deployed;
                rel.info.description = req.description.clone().unwrap_or_else(|| {
                    if is_install {
                        "Install complete"
                    } else {
                        "Upgrade complete"
                    }
                    .into()
                });
                store.update(&rel).await?;
                Ok(rel)
            }
            Err(e) => {
                rel.info.status = Status::Failed;
                rel.info.description = if is_install {
                    format!("Release \"{}\" failed: {e}", req.name)
                } else {
                    format!("Upgrade \"{}\" failed: {e}", req.name)
                };
                store.update(&rel).await?;
                if !req.atomic {
                    return Err(e);
                }
                if is_install {
                    self.step("rolling back (uninstalling) after the failed install");
                    self.uninstall_locked(&UninstallRequest {
                        name: req.name.clone(),
                        namespace: req.namespace.clone(),
                        keep_history: false,
                        wait: true,
                        timeout: req.timeout,
                        no_hooks: req.no_hooks,
                    })
                    .await
                    .map_err(|ue| other(format!("an error occurred while uninstalling the release. original install error: {e}: {ue}")))?;
                    return Err(other(format!(
                        "release {} failed, and has been uninstalled due to rollback-on-failure being set: {e}",
                        req.name
                    )));
                }
                let target = store.history(&req.name).await?.into_iter().rev().find(|r| {
                    matches!(r.info.status, Status::Superseded | Status::Deployed)
                        && r.version != rel.version
                });
                let Some(target) = target else {
                    return Err(other(format!(
                        "release {} failed: {e}; no previous successful revision to roll back to",
                        req.name
                    )));
                };
                self.step(format!("rolling back to revision {}", target.version));
                self.rollback_locked(&RollbackRequest {
                    name: req.name.clone(),
                    namespace: req.namespace.clone(),
                    revision: target.version,
                    wait: true,
                    legacy_wait: req.legacy_wait,
                    wait_for_jobs: req.wait_for_jobs,
                    timeout: req.timeout,
                    no_hooks: req.no_hooks,
                    history_max: req.history_max,
                    server_side: if server_side {
                        ServerSide::True
                    } else {
                        ServerSide::False
                    },
                    force_replace: req.force_replace,
                })
                .await
                .map_err(|re| other(format!("an error occurred while rolling back the release. original upgrade error: {e}: {re}")))?;
                Err(other(format!(
                    "release {} failed, and has been rolled back due to rollback-on-failure being set: {e}",
                    req.name
                )))
            }
        }
    }

    async fn install_crds(&self, chart: &Chart, ns: &str, timeout: Duration) -> Result<(), Error> {
        let files = ferry_render::crd_files(chart, "");
        if files.is_empty() {
            return Ok(());
        }
        let mut crds = Vec::new();
        for (_, text) in &files {
            crds.extend(self.cluster.objects(text, ns).await?);
        }
        self.step(format!("installing {} CRDs", crds.len()));
        for c in &crds {
            if self.cluster.create_if_absent(c).await? {
                self.progress.send(Event::Applied {
                    object: c.id(),
                    action: "created".into(),
                });
            }
        }
        self.cluster
            .wait_ready(
                &crds,
                timeout.min(Duration::from_secs(60)),
                WaitRules::default(),
                &self.progress,
            )
            .await?;
        self.cluster.refresh().await?;
        Ok(())
    }

    /// `rollback NAME [REVISION]`, with the release lock held.
    pub async fn rollback(&self, req: RollbackRequest) -> Result<Release, Error> {
        self.locked(&req.namespace, &req.name, "rollback", async || {
            self.rollback_locked(&req).await
        })
        .await
    }

    async fn rollback_locked(&self, req: &RollbackRequest) -> Result<Release, Error> {
        let store = self.storage(Some(&req.namespace));
        let hist = store.history(&req.name).await?;
        let Some(last) = hist.last().cloned() else {
            return Err(other("release: not found"));
        };
        let want = if req.revision == 0 {
            last.version - 1
        } else {
            req.revision
        };
        let Some(target) = hist.iter().find(|r| r.version == want).cloned() else {
            return Err(other(format!("release has no {want} version")));
        };
        let version = last.version + 1;
        let server_side = req.server_side.resolve(Some(&target.apply_method));
        let mut rel = Release {
            name: req.name.clone(),
            chart: target.chart.clone(),
            config: target.config.clone(),
            manifest: target.manifest.clone(),
            hooks: target.hooks.clone(),
            version,
            namespace: req.namespace.clone(),
            apply_method: if server_side { "ssa" } else { "csa" }.into(),
            labels: target.labels.clone(),
            ..Release::default()
        };
        rel.info.first_deployed = last.info.first_deployed.clone();
        rel.info.last_deployed = now();
        rel.info.notes = target.info.notes.clone();
        rel.info.status = Status::PendingRollback;
        rel.info.description = format!("Rollback to {want}");
        rel.extra.clear();
        if req.history_max > 0 {
            store.prune(&req.name, req.history_max).await?;
        }
        store.create(&rel).await?;
        self.step(format!(
            "rolling back {} to revision {want} (revision {version})",
            req.name
        ));
        let mut targets = self
            .cluster
            .objects(&target.manifest, &req.namespace)
            .await?;
        for t in &mut targets {
            stamp(t, &req.name, &req.namespace);
        }
        let current = self
            .cluster
            .objects(&last.manifest, &req.namespace)
            .await
            .unwrap_or_default();
        let outcome: Result<(), Error> = async {
            if !req.no_hooks {
                self.run_hooks(&mut rel, "pre-rollback", req.timeout)
                    .await?;
            }
            if server_side {
                // Helm 4 always converts client-side field managers when rolling back
                self.upgrade_field_managers(&targets).await?;
            }
            self.apply_all(
                &targets,
                true,
                (!server_side).then_some(ClientSide {
                    originals: &current,
                    three_way_custom: false,
                }),
                req.force_replace,
            )
            .await?;
            let keys: BTreeSet<_> = targets.iter().map(Obj::key).collect();
            for o in current.iter().filter(|o| !keys.contains(&o.key())) {
                if let Some(live) = self.cluster.get(o).await?
                    && !keep_policy(&live)
                {
                    self.cluster.delete(o).await?;
                    self.progress.send(Event::Applied {
                        object: o.id(),
                        action: "deleted".into(),
                    });
                }
            }
            if req.wait {
                self.cluster
                    .wait_ready(&targets, req.timeout, req.wait_rules(), &self.progress)
                    .await?;
            }
            if !req.no_hooks {
                self.run_hooks(&mut rel, "post-rollback", req.timeout)
                    .await?;
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                for mut r in store.history(&req.name).await? {
                    if r.info.status == Status::Deployed {
                        r.info.status = Status::Superseded;
                        store.update(&r).await?;
                    }
                }
                rel.info.status = Status::Deployed;
                store.update(&rel).await?;
                Ok(rel)
            }
            Err(e) => {
                rel.info.status = Status::Failed;
                rel.info.description = format!("Rollback \"{}\" failed: {e}", req.name);
                store.update(&rel).await?;
                Err(e)
            }
        }
    }

    /// `test NAME`: runs the release's `test` hooks (Helm's order, delete policies, `--filter`),
    /// records each test's phase in the release, with the release lock held.
    pub async fn test(&self, req: TestRequest) -> Result<Tested, Error> {
        self.locked(&req.namespace, &req.name, "test", async || {
            self.test_locked(&req).await
        })
        .await
    }

    async fn test_locked(&self, req: &TestRequest) -> Result<Tested, Error> {
        let store = self.storage(Some(&req.namespace));
        let Some(mut rel) = store.last(&req.name).await? else {
            return Err(other("release: not found"));
        };
        // Helm's filters: the excluded, then (with name= filters) the not included, are set
        // aside and put back in front of the others afterwards.
        let mut skipped = Vec::new();
        if !req.exclude.is_empty() {
            let (out, run): (Vec<_>, Vec<_>) = std::mem::take(&mut rel.hooks)
                .into_iter()
                .partition(|h| req.exclude.contains(&h.name));
            skipped.extend(out);
            rel.hooks = run;
        }
        if !req.include.is_empty() {
            let (run, out): (Vec<_>, Vec<_>) = std::mem::take(&mut rel.hooks)
                .into_iter()
                .partition(|h| req.include.contains(&h.name));
            skipped.extend(out);
            rel.hooks = run;
        }
        let mut cleanup = Vec::new();
        let ran = self
            .exec_hooks(&mut rel, "test", req.timeout, &mut cleanup)
            .await;
        let mut logs = Ok(String::new());
        if req.logs {
            logs = self.test_logs(&rel, &req.namespace).await;
        }
        let cleaned = self.delete_hooks(&cleanup).await;
        skipped.append(&mut rel.hooks);
        rel.hooks = skipped;
        let recorded = store.update(&rel).await.map_err(Error::from);
        let ran = match ran {
            Ok(hooks) => hooks,
            Err(e) => Err(e),
        };
        let (logs, logs_err) = match logs {
            Ok(l) => (l, None),
            Err(e) => (String::new(), Some(e)),
        };
        let error = ran.err().or(logs_err).or(cleaned.err()).or(recorded.err());
        Ok(Tested {
            release: rel,
            logs,
            error,
        })
    }

    /// `GetPodLogs`: the logs of every test hook's pod (named as the hook), by weight.
    async fn test_logs(&self, rel: &Release, ns: &str) -> Result<String, Error> {
        let mut hooks: Vec<&Hook> = rel
            .hooks
            .iter()
            .filter(|h| h.events.iter().any(|e| e == "test"))
            .collect();
        hooks.sort_by_key(|h| h.weight);
        let mut out = String::new();
        for h in hooks {
            let text = self
                .cluster
                .pod_logs(ns, &h.name)
                .await
                .map_err(|e| other(format!("unable to get pod logs for {}: {e}", h.name)))?;
            out.push_str(&format!("POD LOGS: {}\n{text}\n", h.name));
        }
        Ok(out)
    }

    /// `uninstall NAME`, with the release lock held.
    pub async fn uninstall(&self, req: UninstallRequest) -> Result<Uninstalled, Error> {
        self.locked(&req.namespace, &req.name, "uninstall", async || {
            self.uninstall_locked(&req).await
        })
        .await
    }

    async fn uninstall_locked(&self, req: &UninstallRequest) -> Result<Uninstalled, Error> {
        let store = self.storage(Some(&req.namespace));
        let hist = store.history(&req.name).await?;
        let Some(mut last) = hist.last().cloned() else {
            return Err(other(format!(
                "uninstall: Release not loaded: {}: release: not found",
                req.name
            )));
        };
        if last.info.status == Status::Uninstalled {
            if !req.keep_history {
                for r in &hist {
                    store.delete(&r.name, r.version, &r.namespace).await?;
                }
            }
            return Ok(Uninstalled {
                release: last,
                kept: Vec::new(),
            });
        }
        last.info.status = Status::Uninstalling;
        last.info.deleted = now();
        last.info.description = "Deletion in progress (or silently failed)".into();
        store.update(&last).await?;
        if !req.no_hooks {
            self.run_hooks(&mut last, "pre-delete", req.timeout).await?;
        }
        let mut objs = self
            .cluster
            .objects(&last.manifest, &req.namespace)
            .await
            .unwrap_or_default();
        // Helm's UninstallOrder: webhooks first (so they cannot block the deletions), then
        // workloads before what they use, namespaces last; the manifest's order within a kind
        objs.sort_by(|a, b| {
            ferry_render::manifest::by_kind(
                ferry_render::manifest::UNINSTALL_ORDER,
                &a.ar.kind,
                &b.ar.kind,
            )
        });
        let mut kept = Vec::new();
        let mut deleted = Vec::new();
        for o in &objs {
            if keep_policy(&o.body) {
                kept.push(o.id());
                continue;
            }
            if self.cluster.delete(o).await? {
                self.progress.send(Event::Applied {
                    object: o.id(),
                    action: "deleted".into(),
                });
            }
            deleted.push(o.clone());
        }
        if req.wait {
            self.cluster
                .wait_deleted(&deleted, req.timeout, &self.progress)
                .await?;
        }
        if !req.no_hooks {
            self.run_hooks(&mut last, "post-delete", req.timeout)
                .await?;
        }
        if req.keep_history {
            last.info.status = Status::Uninstalled;
            last.info.description = "Uninstallation complete".into();
            store.update(&last).await?;
        } else {
            for r in store.history(&req.name).await? {
                store.delete(&r.name, r.version, &r.namespace).await?;
            }
        }
        Ok(Uninstalled {
            release: last,
            kept,
        })
    }
}

fn unreachable_obj(h: &Hook) -> Obj {
    Obj {
        ar: kube::discovery::ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: h.kind.clone(),
            plural: String::new(),
        },
        ns: None,
        name: h.name.clone(),
        body: Value::Null,
    }
}
