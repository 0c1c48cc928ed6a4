//! Cluster commands: `install`, `upgrade`, `rollback`, `uninstall`, `history`, `list`,
//! `status`, `get`, with helm's flags and output formats.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use ferry::action::{
    Client, ConnectOptions, DryRun, Event, Progress, RollbackRequest, ServerSide, TestRequest,
    UninstallRequest, UpgradeRequest,
};
use ferry::chart::{self, Value};
use ferry::gotime::GoTime;
use ferry::lock::LockOptions;
use ferry::release::storage::Driver;
use ferry::release::{Release, Status};

use crate::render_cmd::{self, RenderFlags};

/// How to reach the cluster (helm's global flags).
#[derive(Args, Clone, Default)]
pub struct KubeFlags {
    /// Path to the kubeconfig file.
    #[arg(long = "kubeconfig", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Name of the kubeconfig context to use.
    #[arg(long = "kube-context", global = true)]
    pub kube_context: Option<String>,
}

/// Flags of operations that change a release.
#[derive(Args, Clone)]
pub struct OpFlags {
    /// Wait until all objects are ready (`watcher`, the default of a bare --wait: Helm 4's
    /// rules; `legacy`: Helm 3's, e.g. a Deployment is ready with maxUnavailable pods missing;
    /// `hookOnly`: only hooks).
    #[arg(long = "wait", num_args = 0..=1, default_missing_value = "watcher", require_equals = true)]
    pub wait: Option<String>,
    /// With --wait, also wait for Jobs to complete.
    #[arg(long = "wait-for-jobs")]
    pub wait_for_jobs: bool,
    /// Time to wait for any individual operation (Go duration).
    #[arg(long = "timeout", default_value = "5m0s", value_parser = crate::sim_cmd::parse_duration)]
    pub timeout: Duration,
    /// Wait up to this long for another operation on the release to finish (ferry; default:
    /// fail at once naming the holder).
    #[arg(long = "wait-for-lock", num_args = 0..=1, default_missing_value = "5m", value_parser = crate::sim_cmd::parse_duration)]
    pub wait_for_lock: Option<Duration>,
    /// Progress on stderr: `auto` (a live view on a terminal, else `plain`), `plain` (one
    /// line per change) or `none`.
    #[arg(long = "progress", default_value = "auto", value_parser = ["auto", "plain", "none"])]
    pub progress: String,
    /// Field manager for server-side apply. Helm's CLI applies as `helm` (the default here, so
    /// helm and ferry take turns on a release without conflicts); Helm's Go SDK applies under
    /// its program's name.
    #[arg(long = "field-manager", default_value = "helm")]
    pub field_manager: String,
    #[command(flatten)]
    pub kube: KubeFlags,
}

/// `ferry install`.
#[derive(Args)]
pub struct ClusterInstallArgs {
    #[command(flatten)]
    pub base: render_cmd::InstallArgs,
    /// Roll back (uninstall) on failure; implies --wait.
    #[arg(long = "atomic", alias = "rollback-on-failure")]
    pub atomic: bool,
    /// Create the release namespace if not present.
    #[arg(long = "create-namespace")]
    pub create_namespace: bool,
    /// Skip installing the chart's CRDs.
    #[arg(long = "skip-crds")]
    pub skip_crds: bool,
    /// Adopt existing objects whatever their ownership metadata.
    #[arg(long = "take-ownership")]
    pub take_ownership: bool,
    /// Force server-side apply through field conflicts.
    #[arg(long = "force-conflicts")]
    pub force_conflicts: bool,
    /// Force resource updates by replacement (client-side apply only; `--force` is the
    /// deprecated name).
    #[arg(
        long = "force-replace",
        alias = "force",
        conflicts_with = "force_conflicts"
    )]
    pub force_replace: bool,
    /// Apply server-side (true, Helm 4's default for installs) or client-side like Helm 3
    /// (false).
    #[arg(long = "server-side", default_value = "true", num_args = 0..=1, default_missing_value = "true")]
    pub server_side: ServerSide,
    /// A custom description.
    #[arg(long = "description")]
    pub description: Option<String>,
    #[command(flatten)]
    pub op: OpFlags,
}

/// `ferry upgrade`.
#[derive(Args)]
pub struct UpgradeArgs {
    /// Release name.
    pub name: String,
    /// Chart path.
    pub chart: PathBuf,
    #[command(flatten)]
    pub render: RenderFlags,
    /// Install if the release does not exist.
    #[arg(short = 'i', long = "install")]
    pub install: bool,
    /// Print the release that would be recorded and write nothing: `client` (bare
    /// `--dry-run`) renders offline, `server` against the cluster, with its checks.
    #[arg(long = "dry-run", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: Option<String>,
    /// Roll back on failure; implies --wait.
    #[arg(long = "atomic", alias = "rollback-on-failure")]
    pub atomic: bool,
    /// With --install, create the release namespace if not present.
    #[arg(long = "create-namespace")]
    pub create_namespace: bool,
    /// Reuse the last release's values, merging in overrides.
    #[arg(long = "reuse-values")]
    pub reuse_values: bool,
    /// Reset the values to the chart's.
    #[arg(long = "reset-values")]
    pub reset_values: bool,
    /// Reset to the chart's values, then apply the last release's and the overrides.
    #[arg(long = "reset-then-reuse-values")]
    pub reset_then_reuse_values: bool,
    /// Limit the revisions kept (0: no limit).
    #[arg(long = "history-max", default_value_t = 10)]
    pub history_max: usize,
    /// Delete objects created by this upgrade when it fails.
    #[arg(long = "cleanup-on-fail")]
    pub cleanup_on_fail: bool,
    /// Skip installing CRDs (with --install).
    #[arg(long = "skip-crds")]
    pub skip_crds: bool,
    /// Adopt existing objects whatever their ownership metadata.
    #[arg(long = "take-ownership")]
    pub take_ownership: bool,
    /// Force server-side apply through field conflicts.
    #[arg(long = "force-conflicts")]
    pub force_conflicts: bool,
    /// Force resource updates by replacement (client-side apply only; `--force` is the
    /// deprecated name).
    #[arg(
        long = "force-replace",
        alias = "force",
        conflicts_with = "force_conflicts"
    )]
    pub force_replace: bool,
    /// auto (keep the method the release recorded: server-side, or client-side for releases
    /// made by Helm 3), true (server-side apply) or false (Helm 3's three-way merge).
    #[arg(long = "server-side", default_value = "auto", num_args = 0..=1, default_missing_value = "true")]
    pub server_side: ServerSide,
    /// A custom description.
    #[arg(long = "description")]
    pub description: Option<String>,
    /// Output format: table, json or yaml.
    #[arg(short = 'o', long = "output", default_value = "table")]
    pub output: String,
    #[command(flatten)]
    pub op: OpFlags,
}

/// `ferry rollback`.
#[derive(Args)]
pub struct RollbackArgs {
    /// Release name.
    pub name: String,
    /// Revision (default: the previous one).
    pub revision: Option<i64>,
    /// Namespace.
    #[arg(short = 'n', long = "namespace")]
    pub namespace: Option<String>,
    /// Disable hooks.
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    /// Limit the revisions kept.
    #[arg(long = "history-max", default_value_t = 10)]
    pub history_max: usize,
    /// auto (the method the target revision recorded), true (server-side apply) or false
    /// (Helm 3's three-way merge).
    #[arg(long = "server-side", default_value = "auto", num_args = 0..=1, default_missing_value = "true")]
    pub server_side: ServerSide,
    /// Force resource updates by replacement (client-side apply only; `--force` is the
    /// deprecated name).
    #[arg(long = "force-replace", alias = "force")]
    pub force_replace: bool,
    #[command(flatten)]
    pub op: OpFlags,
}

/// `ferry test`.
#[derive(Args)]
pub struct TestArgs {
    /// Release name.
    pub name: String,
    /// Namespace.
    #[arg(short = 'n', long = "namespace")]
    pub namespace: Option<String>,
    /// Time to wait for any individual Kubernetes operation (like Jobs for hooks).
    #[arg(long = "timeout", default_value = "5m0s", value_parser = crate::sim_cmd::parse_duration)]
    pub timeout: Duration,
    /// Dump the logs from test pods (this runs after all tests are complete, but before any
    /// cleanup).
    #[arg(long = "logs")]
    pub logs: bool,
    /// Specify tests by attribute (currently "name") using attribute=value syntax or
    /// '!attribute=value' to exclude a test (repeatable, or comma-separated).
    #[arg(long = "filter", value_delimiter = ',')]
    pub filter: Vec<String>,
    /// Progress on stderr: `auto`, `plain` or `none`.
    #[arg(long = "progress", default_value = "auto", value_parser = ["auto", "plain", "none"])]
    pub progress: String,
    #[command(flatten)]
    pub kube: KubeFlags,
}

/// `ferry uninstall`.
#[derive(Args)]
pub struct UninstallArgs {
    /// Release names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Namespace.
    #[arg(short = 'n', long = "namespace")]
    pub namespace: Option<String>,
    /// Keep the history (status `uninstalled`).
    #[arg(long = "keep-history")]
    pub keep_history: bool,
    /// Disable hooks.
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    #[command(flatten)]
    pub op: OpFlags,
}

/// Read-only release commands.
#[derive(Args)]
pub struct ReadArgs {
    /// Namespace.
    #[arg(short = 'n', long = "namespace")]
    pub namespace: Option<String>,
    /// Output format: table, json or yaml.
    #[arg(short = 'o', long = "output", default_value = "table")]
    pub output: String,
    #[command(flatten)]
    pub kube: KubeFlags,
}

/// `ferry get ...`.
#[derive(Subcommand)]
pub enum GetCmd {
    /// The user-supplied values (--all: computed).
    Values {
        /// Release name.
        name: String,
        /// Dump all (computed) values.
        #[arg(short = 'a', long = "all")]
        all: bool,
        /// Revision.
        #[arg(long = "revision")]
        revision: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// The manifest.
    Manifest {
        /// Release name.
        name: String,
        /// Revision.
        #[arg(long = "revision")]
        revision: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// The notes.
    Notes {
        /// Release name.
        name: String,
        /// Revision.
        #[arg(long = "revision")]
        revision: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// The hooks.
    Hooks {
        /// Release name.
        name: String,
        /// Revision.
        #[arg(long = "revision")]
        revision: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Everything.
    All {
        /// Release name.
        name: String,
        /// Revision.
        #[arg(long = "revision")]
        revision: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
}

/// `ferry list`.
#[derive(Args)]
pub struct ListArgs {
    /// List releases across all namespaces.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    /// Only names.
    #[arg(short = 'q', long = "short")]
    pub short: bool,
    /// Show deployed releases.
    #[arg(long)]
    pub deployed: bool,
    /// Show failed releases.
    #[arg(long)]
    pub failed: bool,
    /// Show pending releases.
    #[arg(long)]
    pub pending: bool,
    /// Show superseded releases.
    #[arg(long)]
    pub superseded: bool,
    /// Show uninstalled releases.
    #[arg(long)]
    pub uninstalled: bool,
    #[command(flatten)]
    pub read: ReadArgs,
}

fn driver() -> anyhow::Result<Driver> {
    let d = std::env::var("HELM_DRIVER").unwrap_or_default();
    Driver::parse(&d).with_context(|| format!("unknown driver \"{d}\""))
}

async fn connect(kube: &KubeFlags, namespace: &str) -> anyhow::Result<Client> {
    Ok(Client::connect(ConnectOptions {
        kubeconfig: kube.kubeconfig.clone(),
        context: kube.kube_context.clone(),
        namespace: Some(namespace.to_string()),
        driver: Some(driver()?),
    })
    .await?)
}

/// A client for one cluster operation, set up from the flags every operation shares, and the
/// task printing its progress.
async fn operation_client(
    op: &OpFlags,
    namespace: &str,
) -> anyhow::Result<(Client, Option<tokio::task::JoinHandle<()>>)> {
    let mut client = connect(&op.kube, namespace).await?;
    let (p, task) = progress(&op.progress);
    client.progress = p;
    client.field_manager = op.field_manager.clone();
    client.lock = LockOptions {
        wait: op.wait_for_lock,
        ..lock_defaults()
    };
    Ok((client, task))
}

/// Ends an operation: dropping the client closes the progress channel; the progress task then
/// prints what is left (the summary) before the command prints its result.
async fn finish(client: Client, task: Option<tokio::task::JoinHandle<()>>) {
    drop(client);
    if let Some(t) = task {
        let _ = t.await;
    }
}

fn namespace(ns: &Option<String>) -> String {
    ns.clone()
        .or_else(|| std::env::var("HELM_NAMESPACE").ok())
        .unwrap_or_else(|| "default".into())
}

/// Progress on stderr: on a terminal (`--progress=auto`, the default) a live view with one
/// line per object that updates as watches report; otherwise (`plain`, or not a terminal) one
/// line per change; `none` prints nothing.
fn progress(mode: &str) -> (Progress, Option<tokio::task::JoinHandle<()>>) {
    use std::io::IsTerminal;
    if mode == "none" {
        return (Progress::default(), None);
    }
    let live = mode == "auto" && std::io::stderr().is_terminal();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let view = live.then(indicatif::MultiProgress::new);
        let mut bars: std::collections::HashMap<String, indicatif::ProgressBar> =
            Default::default();
        let style = indicatif::ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        let mut summary = Summary::default();
        while let Some(e) = rx.recv().await {
            summary.observe(&e);
            let Some(view) = &view else {
                eprintln!("{}", plain_line(&e));
                continue;
            };
            let (object, msg, done) = match &e {
                Event::Step(_) | Event::Applied { .. } => {
                    let _ = view.println(plain_line(&e));
                    continue;
                }
                Event::Waiting { object, reason } => (object, format!("{object}: {reason}"), false),
                Event::Ready { object } => (object, format!("{object}: ready"), true),
                Event::Failed { object, reason } => {
                    (object, format!("{object}: FAILED ({reason})"), true)
                }
            };
            let bar = bars.entry(object.clone()).or_insert_with(|| {
                let b = view.add(indicatif::ProgressBar::new_spinner());
                b.set_style(style.clone());
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                b
            });
            if done {
                bar.finish_with_message(msg);
            } else {
                bar.set_message(msg);
            }
        }
        for b in bars.values() {
            if !b.is_finished() {
                b.abandon();
            }
        }
        if let Some(text) = summary.text() {
            eprint!("{text}");
        }
    });
    (Progress::channel(tx), Some(task))
}

/// What went wrong, gathered from the progress events and printed once at the end: every
/// object that failed (with its last reason, even if a rollback made it ready again) and every
/// object still not ready when the operation ended.
#[derive(Default)]
struct Summary {
    failed: std::collections::BTreeMap<String, String>,
    waiting: std::collections::BTreeMap<String, String>,
}

impl Summary {
    fn observe(&mut self, e: &Event) {
        match e {
            Event::Failed { object, reason } => {
                self.failed.insert(object.clone(), reason.clone());
                self.waiting.remove(object);
            }
            Event::Waiting { object, reason } => {
                self.waiting.insert(object.clone(), reason.clone());
            }
            Event::Ready { object } => {
                self.waiting.remove(object);
            }
            Event::Step(_) | Event::Applied { .. } => {}
        }
    }

    fn text(&self) -> Option<String> {
        if self.failed.is_empty() && self.waiting.is_empty() {
            return None;
        }
        let mut out = String::from("Summary:\n");
        for (o, r) in &self.failed {
            out.push_str(&format!("  failed     {o}: {r}\n"));
        }
        for (o, r) in &self.waiting {
            out.push_str(&format!("  not ready  {o}: {r}\n"));
        }
        Some(out)
    }
}

fn plain_line(e: &Event) -> String {
    match e {
        Event::Step(s) => format!("==> {s}"),
        Event::Applied { object, action } => format!("    {object} {action}"),
        Event::Waiting { object, reason } => format!("    {object}: waiting ({reason})"),
        Event::Ready { object } => format!("    {object}: ready"),
        Event::Failed { object, reason } => format!("    {object}: FAILED ({reason})"),
    }
}

/// The release lock's lease: 30s, renewed every 10s; `FERRY_LOCK_LEASE_SECONDS` shortens it
/// (how long a killed operation blocks the next one before it is recovered).
fn lock_defaults() -> LockOptions {
    let mut o = LockOptions::default();
    if let Some(secs) = std::env::var("FERRY_LOCK_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
    {
        o.lease_duration = Duration::from_secs(secs);
        o.renew_every = Duration::from_millis(secs * 1000 / 3);
    }
    o
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The status block helm prints after install/upgrade/rollback and for `status`.
pub fn status_text(r: &Release) -> String {
    let mut out = format!("NAME: {}\n", r.name);
    if let Some(t) = GoTime::parse(&r.info.last_deployed).filter(|t| !t.is_zero()) {
        out.push_str(&format!("LAST DEPLOYED: {}\n", t.ansic()));
    }
    out.push_str(&format!(
        "NAMESPACE: {}\nSTATUS: {}\nREVISION: {}\nDESCRIPTION: {}\n",
        r.namespace, r.info.status, r.version, r.info.description
    ));
    let tests: Vec<_> = r
        .hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == "test"))
        .collect();
    if tests.is_empty() {
        out.push_str("TEST SUITE: None\n");
    } else {
        for h in tests {
            let Some(started) = GoTime::parse(&h.last_run.started_at).filter(|t| !t.is_zero())
            else {
                continue;
            };
            let done = GoTime::parse(&h.last_run.completed_at)
                .map(|t| t.ansic())
                .unwrap_or_default();
            out.push_str(&format!(
                "TEST SUITE:     {}\nLast Started:   {}\nLast Completed: {}\nPhase:          {}\n",
                h.name,
                started.ansic(),
                done,
                h.last_run.phase
            ));
        }
    }
    if r.info.description.eq_ignore_ascii_case("Dry run complete") {
        out.push_str("HOOKS:\n");
        for h in &r.hooks {
            out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
        }
        out.push_str(&format!("MANIFEST:\n{}\n", r.manifest));
    }
    if !r.info.notes.is_empty() {
        out.push_str(&format!("NOTES:\n{}\n", r.info.notes.trim()));
    }
    out
}

fn print_release(r: &Release, output: &str, out: &mut String) -> anyhow::Result<()> {
    match output {
        "json" => {
            out.push_str(&serde_json::to_string(r)?);
            out.push('\n');
        }
        "yaml" => out.push_str(&chart::yaml::to_yaml(&Value::from_json(
            &serde_json::to_value(r)?,
        ))),
        "table" => out.push_str(&status_text(r)),
        o => bail!("invalid format type \"{o}\""),
    }
    Ok(())
}

/// What `--wait[=watcher|legacy|hookOnly]` asks for.
struct WaitMode {
    /// Wait for the release's objects (not only its hooks).
    objects: bool,
    /// With Helm 3's readiness rules.
    legacy: bool,
}

fn wait_mode(w: &Option<String>) -> anyhow::Result<WaitMode> {
    let mode = |objects, legacy| Ok(WaitMode { objects, legacy });
    match w.as_deref() {
        None | Some("hookOnly") | Some("false") => mode(false, false),
        Some("watcher") | Some("true") => mode(true, false),
        Some("legacy") => mode(true, true),
        Some(o) => bail!("invalid wait strategy \"{o}\": must be watcher, legacy or hookOnly"),
    }
}

/// `--dry-run[=client|server|none]` (a bare `--dry-run` is `client`).
fn dry_run_of(flag: Option<&str>) -> anyhow::Result<DryRun> {
    match flag {
        None | Some("none" | "false") => Ok(DryRun::None),
        Some("server") => Ok(DryRun::Server),
        Some("client" | "true") => Ok(DryRun::Client),
        Some(o) => {
            bail!("invalid dry-run value ({o}). Must be \"none\", \"server\", or \"client\"")
        }
    }
}

/// `ferry install NAME CHART` (with `--dry-run[=client]`: no cluster; `--dry-run=server`:
/// rendered and checked against the cluster, nothing written).
pub fn install(a: &ClusterInstallArgs, out: &mut String) -> anyhow::Result<()> {
    let dry_run = dry_run_of(a.base.dry_run.as_deref())?;
    if dry_run == DryRun::Client {
        return render_cmd::install(&a.base, out);
    }
    let chart = chart::load(&a.base.chart)?;
    let user = a
        .base
        .render
        .values
        .options()
        .merge(&mut |p| crate::read_input(p))?;
    let ns = a.base.render.namespace.clone();
    let wait = wait_mode(&a.op.wait)?;
    let rt = runtime()?;
    rt.block_on(async {
        let (client, task) = operation_client(&a.op, &ns).await?;
        let req = UpgradeRequest {
            install: true,
            install_only: true,
            values: user,
            atomic: a.atomic,
            wait: wait.objects || a.atomic,
            legacy_wait: wait.legacy,
            wait_for_jobs: a.op.wait_for_jobs,
            timeout: a.op.timeout,
            create_namespace: a.create_namespace,
            no_hooks: a.base.render.no_hooks,
            skip_crds: a.skip_crds,
            take_ownership: a.take_ownership,
            force_conflicts: a.force_conflicts,
            force_replace: a.force_replace,
            server_side: a.server_side,
            description: a.description.clone(),
            sub_notes: a.base.render.render_subchart_notes,
            post_renderer: render_cmd::post_renderer_of(&a.base.render)?,
            skip_schema_validation: a.base.render.skip_schema_validation,
            dry_run,
            ..UpgradeRequest::new(&a.base.name, chart, &ns)
        };
        let res = client.upgrade(req).await;
        finish(client, task).await;
        let r = res?;
        print_release(&r, &a.base.output, out)
    })
}

/// `ferry upgrade NAME CHART`.
pub fn upgrade(a: &UpgradeArgs, out: &mut String) -> anyhow::Result<()> {
    let chart = chart::load(&a.chart)?;
    let user = a
        .render
        .values
        .options()
        .merge(&mut |p| crate::read_input(p))?;
    let ns = a.render.namespace.clone();
    let wait = wait_mode(&a.op.wait)?;
    let rt = runtime()?;
    rt.block_on(async {
        let (client, task) = operation_client(&a.op, &ns).await?;
        let existed = !client.storage(Some(&ns)).history(&a.name).await?.is_empty();
        if a.install && !existed && a.output == "table" {
            out.push_str(&format!(
                "Release {:?} does not exist. Installing it now.\n",
                a.name
            ));
        }
        let req = UpgradeRequest {
            install: a.install,
            values: user,
            atomic: a.atomic,
            wait: wait.objects || a.atomic,
            legacy_wait: wait.legacy,
            wait_for_jobs: a.op.wait_for_jobs,
            timeout: a.op.timeout,
            create_namespace: a.create_namespace,
            no_hooks: a.render.no_hooks,
            skip_crds: a.skip_crds,
            take_ownership: a.take_ownership,
            force_conflicts: a.force_conflicts,
            force_replace: a.force_replace,
            server_side: a.server_side,
            reuse_values: a.reuse_values,
            reset_values: a.reset_values,
            reset_then_reuse_values: a.reset_then_reuse_values,
            history_max: a.history_max,
            description: a.description.clone(),
            cleanup_on_fail: a.cleanup_on_fail,
            sub_notes: a.render.render_subchart_notes,
            post_renderer: render_cmd::post_renderer_of(&a.render)?,
            skip_schema_validation: a.render.skip_schema_validation,
            dry_run: dry_run_of(a.dry_run.as_deref())?,
            ..UpgradeRequest::new(&a.name, chart, &ns)
        };
        let res = client.upgrade(req).await;
        finish(client, task).await;
        let r = res?;
        if existed && a.output == "table" {
            out.push_str(&format!(
                "Release {:?} has been upgraded. Happy Helming!\n",
                a.name
            ));
        }
        print_release(&r, &a.output, out)
    })
}

/// `ferry rollback NAME [REVISION]`.
pub fn rollback(a: &RollbackArgs, out: &mut String) -> anyhow::Result<()> {
    let ns = namespace(&a.namespace);
    let wait = wait_mode(&a.op.wait)?;
    runtime()?.block_on(async {
        let (client, task) = operation_client(&a.op, &ns).await?;
        let res = client
            .rollback(RollbackRequest {
                name: a.name.clone(),
                namespace: ns.clone(),
                revision: a.revision.unwrap_or(0),
                wait: wait.objects,
                legacy_wait: wait.legacy,
                wait_for_jobs: a.op.wait_for_jobs,
                timeout: a.op.timeout,
                no_hooks: a.no_hooks,
                history_max: a.history_max,
                server_side: a.server_side,
                force_replace: a.force_replace,
            })
            .await;
        finish(client, task).await;
        res?;
        out.push_str("Rollback was a success! Happy Helming!\n");
        Ok(())
    })
}

/// `ferry test NAME`: the release's status (without notes), then with `--logs` the test pods'
/// logs; fails when a test failed.
pub fn test(a: &TestArgs, out: &mut String) -> anyhow::Result<()> {
    let ns = namespace(&a.namespace);
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for f in &a.filter {
        let f = f.trim();
        if let Some(name) = f.strip_prefix("name=") {
            include.push(name.to_string());
        } else if let Some(name) = f
            .strip_prefix('!')
            .map(|r| r.trim_start())
            .and_then(|r| r.strip_prefix("name="))
        {
            exclude.push(name.to_string());
        }
    }
    runtime()?.block_on(async {
        let mut client = connect(&a.kube, &ns).await?;
        let (p, task) = progress(&a.progress);
        client.progress = p;
        client.lock = lock_defaults();
        let res = client
            .test(TestRequest {
                name: a.name.clone(),
                namespace: ns.clone(),
                timeout: a.timeout,
                include,
                exclude,
                logs: a.logs,
            })
            .await;
        finish(client, task).await;
        let tested = res?;
        let mut shown = tested.release.clone();
        shown.info.notes.clear();
        out.push_str(&status_text(&shown));
        if a.logs {
            out.push('\n');
            out.push_str(&tested.logs);
        }
        match tested.error {
            // helm prints the status, then fails
            Some(e) => {
                print!("{out}");
                out.clear();
                Err(e.into())
            }
            None => Ok(()),
        }
    })
}

/// `ferry uninstall NAME...`.
pub fn uninstall(a: &UninstallArgs, out: &mut String) -> anyhow::Result<()> {
    let ns = namespace(&a.namespace);
    let wait = wait_mode(&a.op.wait)?;
    runtime()?.block_on(async {
        let (client, task) = operation_client(&a.op, &ns).await?;
        let mut result = Ok(());
        for name in &a.names {
            match client
                .uninstall(UninstallRequest {
                    name: name.clone(),
                    namespace: ns.clone(),
                    keep_history: a.keep_history,
                    wait: wait.objects,
                    timeout: a.op.timeout,
                    no_hooks: a.no_hooks,
                })
                .await
            {
                Ok(u) => {
                    if !u.kept.is_empty() {
                        out.push_str("These resources were kept due to the resource policy:\n");
                        for k in &u.kept {
                            out.push_str(&format!("[{k}]\n"));
                        }
                        out.push('\n');
                    }
                    out.push_str(&format!("release \"{name}\" uninstalled\n"));
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        finish(client, task).await;
        result
    })
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    chart::deps::format_table(headers, rows) + "\n"
}

fn encode(v: &serde_json::Value, output: &str, out: &mut String) -> anyhow::Result<()> {
    match output {
        "json" => {
            out.push_str(&serde_json::to_string(v)?);
            out.push('\n');
        }
        "yaml" => out.push_str(&chart::yaml::to_yaml(&Value::from_json(v))),
        o => bail!("invalid format type \"{o}\""),
    }
    Ok(())
}

/// `ferry history NAME`.
pub fn history(name: &str, max: usize, a: &ReadArgs, out: &mut String) -> anyhow::Result<()> {
    let ns = namespace(&a.namespace);
    runtime()?.block_on(async {
        let client = connect(&a.kube, &ns).await?;
        let mut h = client.storage(Some(&ns)).history(name).await?;
        if h.is_empty() {
            bail!("release: not found");
        }
        if h.len() > max {
            h.drain(..h.len() - max);
        }
        let rows: Vec<serde_json::Value> = h
            .iter()
            .map(|r| {
                let mut m = serde_json::json!({"revision": r.version});
                if let Some(t) = GoTime::parse(&r.info.last_deployed).filter(|t| !t.is_zero()) {
                    m["updated"] = t.rfc3339_nano().into();
                }
                m["status"] = r.info.status.to_string().into();
                m["chart"] = r.chart_label().into();
                m["app_version"] = r.chart_metadata("appVersion").into();
                m["description"] = r.info.description.clone().into();
                m
            })
            .collect();
        if a.output == "table" {
            let cells: Vec<Vec<String>> = h
                .iter()
                .map(|r| {
                    vec![
                        r.version.to_string(),
                        GoTime::parse(&r.info.last_deployed)
                            .map(|t| t.ansic())
                            .unwrap_or_default(),
                        r.info.status.to_string(),
                        r.chart_label(),
                        r.chart_metadata("appVersion").to_string(),
                        r.info.description.clone(),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "REVISION",
                    "UPDATED",
                    "STATUS",
                    "CHART",
                    "APP VERSION",
                    "DESCRIPTION",
                ],
                &cells,
            ));
            return Ok(());
        }
        encode(&serde_json::Value::Array(rows), &a.output, out)
    })
}

/// `ferry list`.
pub fn list(a: &ListArgs, out: &mut String) -> anyhow::Result<()> {
    let ns = namespace(&a.read.namespace);
    runtime()?.block_on(async {
        let client = connect(&a.read.kube, &ns).await?;
        let store = client.storage(if a.all_namespaces { None } else { Some(&ns) });
        let all = store.list_all().await?;
        // The latest revision per namespace/name.
        let mut latest: std::collections::BTreeMap<(String, String), Release> = Default::default();
        for r in all {
            let k = (r.namespace.clone(), r.name.clone());
            if latest.get(&k).is_none_or(|x| x.version < r.version) {
                latest.insert(k, r);
            }
        }
        let any = a.deployed || a.failed || a.pending || a.superseded || a.uninstalled;
        let rels: Vec<Release> = latest
            .into_values()
            .filter(|r| {
                !any || (a.deployed && r.info.status == Status::Deployed)
                    || (a.failed && r.info.status == Status::Failed)
                    || (a.pending && r.info.status.is_pending())
                    || (a.superseded && r.info.status == Status::Superseded)
                    || (a.uninstalled && r.info.status == Status::Uninstalled)
            })
            .collect();
        if a.short {
            for r in &rels {
                out.push_str(&format!("{}\n", r.name));
            }
            return Ok(());
        }
        let updated = |r: &Release| {
            GoTime::parse(&r.info.last_deployed)
                .filter(|t| !t.is_zero())
                .map(|t| t.go_string())
                .unwrap_or_else(|| "-".into())
        };
        if a.read.output == "table" {
            let cells: Vec<Vec<String>> = rels
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.namespace.clone(),
                        r.version.to_string(),
                        updated(r),
                        r.info.status.to_string(),
                        r.chart_label(),
                        r.chart_metadata("appVersion").to_string(),
                    ]
                })
                .collect();
            out.push_str(&table(
                &["NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"],
                &cells,
            ));
            return Ok(());
        }
        let rows: Vec<serde_json::Value> = rels
            .iter()
            .map(|r| {
                serde_json::json!({"name": r.name, "namespace": r.namespace, "revision": r.version.to_string(),
                    "updated": updated(r), "status": r.info.status.to_string(), "chart": r.chart_label(),
                    "app_version": r.chart_metadata("appVersion")})
            })
            .collect();
        encode(&serde_json::Value::Array(rows), &a.read.output, out)
    })
}

async fn load(
    client: &Client,
    ns: &str,
    name: &str,
    revision: Option<i64>,
) -> anyhow::Result<Release> {
    let store = client.storage(Some(ns));
    Ok(match revision {
        Some(v) => store.get(name, v).await?,
        None => store.last(name).await?.context("release: not found")?,
    })
}

/// `ferry status NAME`.
pub fn status(
    name: &str,
    revision: Option<i64>,
    a: &ReadArgs,
    out: &mut String,
) -> anyhow::Result<()> {
    let ns = namespace(&a.namespace);
    runtime()?.block_on(async {
        let client = connect(&a.kube, &ns).await?;
        let r = load(&client, &ns, name, revision).await?;
        print_release(&r, &a.output, out)
    })
}

fn computed(r: &Release) -> serde_json::Map<String, serde_json::Value> {
    let mut vals = r.chart_values();
    fn merge(
        base: &mut serde_json::Map<String, serde_json::Value>,
        over: &serde_json::Map<String, serde_json::Value>,
    ) {
        for (k, v) in over {
            match (base.get_mut(k), v) {
                (Some(serde_json::Value::Object(b)), serde_json::Value::Object(o)) => merge(b, o),
                _ => {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
    }
    merge(&mut vals, &r.config);
    vals
}

/// `ferry get ...`.
pub fn get(cmd: &GetCmd, out: &mut String) -> anyhow::Result<()> {
    let (name, revision, read) = match cmd {
        GetCmd::Values {
            name,
            revision,
            read,
            ..
        }
        | GetCmd::Manifest {
            name,
            revision,
            read,
        }
        | GetCmd::Notes {
            name,
            revision,
            read,
        }
        | GetCmd::Hooks {
            name,
            revision,
            read,
        }
        | GetCmd::All {
            name,
            revision,
            read,
        } => (name, *revision, read),
    };
    let ns = namespace(&read.namespace);
    runtime()?.block_on(async {
        let client = connect(&read.kube, &ns).await?;
        let r = load(&client, &ns, name, revision).await?;
        match cmd {
            GetCmd::Values { all, .. } => {
                let vals = if *all { computed(&r) } else { r.config.clone() };
                let v = serde_json::Value::Object(vals);
                if read.output == "table" {
                    out.push_str(if *all {
                        "COMPUTED VALUES:\n"
                    } else {
                        "USER-SUPPLIED VALUES:\n"
                    });
                    out.push_str(&chart::yaml::to_yaml(&Value::from_json(&v)));
                } else {
                    encode(&v, &read.output, out)?;
                }
            }
            GetCmd::Manifest { .. } => {
                out.push_str(&r.manifest);
                out.push('\n');
            }
            GetCmd::Notes { .. } => {
                out.push_str(&format!("NOTES:\n{}\n", r.info.notes));
            }
            GetCmd::Hooks { .. } => {
                for h in &r.hooks {
                    out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
                }
            }
            GetCmd::All { .. } => {
                out.push_str(&status_text(&r));
                out.push_str("USER-SUPPLIED VALUES:\n");
                out.push_str(&chart::yaml::to_yaml(&Value::from_json(
                    &serde_json::Value::Object(r.config.clone()),
                )));
                out.push_str("\nCOMPUTED VALUES:\n");
                out.push_str(&chart::yaml::to_yaml(&Value::from_json(
                    &serde_json::Value::Object(computed(&r)),
                )));
                out.push_str("\nHOOKS:\n");
                for h in &r.hooks {
                    out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
                }
                out.push_str(&format!("MANIFEST:\n{}\n", r.manifest));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_failed_and_unready_objects_only() {
        let mut s = Summary::default();
        let ev = |o: &str, r: Option<&str>, failed: bool| match (r, failed) {
            (None, _) => Event::Ready { object: o.into() },
            (Some(r), true) => Event::Failed {
                object: o.into(),
                reason: r.into(),
            },
            (Some(r), false) => Event::Waiting {
                object: o.into(),
                reason: r.into(),
            },
        };
        s.observe(&ev("Deployment default/web", Some("0/2 ready"), false));
        s.observe(&ev("Service default/web", Some("no ingress yet"), false));
        s.observe(&ev("Service default/web", None, false));
        assert_eq!(
            s.text().unwrap(),
            "Summary:\n  not ready  Deployment default/web: 0/2 ready\n"
        );
        s.observe(&ev(
            "Deployment default/web",
            Some("pod web-1: CrashLoopBackOff"),
            true,
        ));
        // the rollback makes it ready again: the failure stays in the summary
        s.observe(&ev("Deployment default/web", None, false));
        assert_eq!(
            s.text().unwrap(),
            "Summary:\n  failed     Deployment default/web: pod web-1: CrashLoopBackOff\n"
        );
        let mut ok = Summary::default();
        ok.observe(&ev("Deployment default/web", Some("0/2 ready"), false));
        ok.observe(&ev("Deployment default/web", None, false));
        assert_eq!(ok.text(), None, "nothing to say after a success");
    }
}
