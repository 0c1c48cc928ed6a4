//! `ferry template` and `ferry install --dry-run=client`: render without a cluster.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use ferry::chart::{self, Map, Value};
use ferry::render::{
    Capabilities, Engine, PostRenderer, Preparse, ReleaseOptions, RenderError, RenderRequest,
    Rendered,
    manifest::{Hook, HookEvent},
    render_map, render_release_with,
};

use crate::ValueFlags;

/// Flags shared by `template` and `install`.
#[derive(Args)]
pub struct RenderFlags {
    /// Namespace of the release.
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    pub namespace: String,
    /// Kubernetes version used for Capabilities.KubeVersion.
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Kubernetes api versions used for Capabilities.APIVersions (repeatable).
    #[arg(short = 'a', long = "api-versions")]
    pub api_versions: Vec<String>,
    /// Fail on missing values (missingkey=error).
    #[arg(long)]
    pub strict: bool,
    /// Skip the values.schema.json validation.
    #[arg(long = "skip-schema-validation")]
    pub skip_schema_validation: bool,
    /// Render NOTES.txt of subcharts too.
    #[arg(long = "render-subchart-notes")]
    pub render_subchart_notes: bool,
    /// Prevent hooks from running (and from being printed).
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    /// The name of a postrenderer type plugin to be used for post rendering, or the path of an
    /// executable (Helm 3's form). The rendered manifests go to its stdin, its stdout replaces
    /// them.
    #[arg(long = "post-renderer")]
    pub post_renderer: Option<String>,
    /// An argument to the post-renderer (can specify multiple).
    #[arg(long = "post-renderer-args", allow_hyphen_values = true)]
    pub post_renderer_args: Vec<String>,
    #[command(flatten)]
    pub values: ValueFlags,
}

/// `ferry template` flags.
#[derive(Args)]
pub struct TemplateArgs {
    /// `[NAME] CHART`.
    #[arg(num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub render: RenderFlags,
    /// Include CRDs in the templated output.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Skip CRDs (the default for template; kept for helm compatibility).
    #[arg(long = "skip-crds")]
    pub skip_crds: bool,
    /// Skip tests from templated output.
    #[arg(long = "skip-tests")]
    pub skip_tests: bool,
    /// Only show manifests rendered from the given templates (repeatable).
    #[arg(short = 's', long = "show-only")]
    pub show_only: Vec<String>,
    /// Set .Release.IsUpgrade instead of .Release.IsInstall.
    #[arg(long = "is-upgrade")]
    pub is_upgrade: bool,
    /// Writes the executed templates to files in output-dir instead of stdout.
    #[arg(long = "output-dir")]
    pub output_dir: Option<PathBuf>,
    /// ferry: print Helm's engine map {template path: rendered text} as JSON.
    #[arg(long = "raw-json")]
    pub raw_json: bool,
    /// ferry: the .Release.Revision to render with.
    #[arg(long = "revision", default_value_t = 1)]
    pub revision: i64,
}

fn read_input(path: &str) -> std::io::Result<Vec<u8>> {
    if path.trim() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

fn capabilities(flags: &RenderFlags) -> anyhow::Result<Capabilities> {
    let mut caps = Capabilities::default();
    if let Some(v) = &flags.kube_version {
        caps = caps
            .with_kube_version(v)
            .map_err(|e| anyhow::anyhow!("invalid kube version '{v}': {e}"))?;
    }
    caps.api_versions.extend(flags.api_versions.iter().cloned());
    Ok(caps)
}

fn render(
    chart: &chart::Chart,
    flags: &RenderFlags,
    release: ReleaseOptions,
    include_crds: bool,
) -> anyhow::Result<(Rendered, Map)> {
    render_with(chart, flags, release, include_crds, false, None)
}

/// `exit_after`: the process ends after printing this render (see [`Engine::exit_after`]);
/// `preparsed`: the templates parsed while the chart was read (see [`Engine::preparsed`]).
fn render_with(
    chart: &chart::Chart,
    flags: &RenderFlags,
    release: ReleaseOptions,
    include_crds: bool,
    exit_after: bool,
    preparsed: Option<Arc<Preparse>>,
) -> anyhow::Result<(Rendered, Map)> {
    let args = (release, include_crds, exit_after, preparsed);
    with_request(chart, flags, args, |req| {
        let post = post_renderer_of(flags)?;
        let r = render_release_with(req, post.as_deref().map(|p| p as &dyn PostRenderer))
            .map_err(cli_error)?;
        Ok((r.warnings.clone(), r))
    })
}

/// The render request of these flags (the user values read from them), handed to `render`,
/// which gives its warnings (printed here) and its result.
fn with_request<T>(
    chart: &chart::Chart,
    flags: &RenderFlags,
    (release, include_crds, exit_after, preparsed): (
        ReleaseOptions,
        bool,
        bool,
        Option<Arc<Preparse>>,
    ),
    render: impl FnOnce(&RenderRequest<'_>) -> anyhow::Result<(Vec<String>, T)>,
) -> anyhow::Result<(T, Map)> {
    let user = flags.values.options().merge(&mut |p| read_input(p))?;
    let req = RenderRequest {
        chart,
        user_values: &user,
        release,
        caps: capabilities(flags)?,
        engine: Engine {
            strict: flags.strict,
            exit_after,
            preparsed,
            ..Engine::default()
        },
        include_crds,
        sub_notes: flags.render_subchart_notes,
        skip_schema_validation: flags.skip_schema_validation,
    };
    let (warnings, out) = render(&req)?;
    for w in &warnings {
        eprintln!("{w}");
    }
    Ok((out, user))
}

/// The `--post-renderer` of these flags, if any (the same for `template`, the dry runs and
/// cluster installs and upgrades).
pub fn post_renderer_of(
    flags: &RenderFlags,
) -> anyhow::Result<Option<std::sync::Arc<dyn PostRenderer + Send + Sync>>> {
    Ok(match &flags.post_renderer {
        Some(name) => Some(std::sync::Arc::new(post_renderer(
            name,
            &flags.post_renderer_args,
        )?)),
        None => None,
    })
}

/// A render error as the CLI prints it: Helm's message, then (beyond Helm) the template
/// source lines it points at with a caret.
fn cli_error(e: RenderError) -> anyhow::Error {
    match e {
        RenderError::Template(t) if t.snippet.is_some() => anyhow::anyhow!("{t:#}"),
        e => e.into(),
    }
}

/// A post-renderer program: a `postrenderer/v1` plugin (Helm 4) or an executable.
struct ExecPostRenderer {
    /// The `--post-renderer` value, as Helm names it in messages.
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl PostRenderer for ExecPostRenderer {
    /// Helm 4's subprocess runtime: the stream on stdin, the result from stdout; the
    /// program's stderr passes through (Helm keeps it for its debug log).
    fn run(&self, manifests: &str) -> Result<String, String> {
        use std::process::{Command, Stdio};
        let q = |s: &str| format!("{s:?}");
        let invoke = |e: String| {
            format!(
                "failed to invoke post-renderer plugin {}: {e}",
                q(&self.name)
            )
        };
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                invoke(format!(
                    "fork/exec {}: {}",
                    self.program.display(),
                    io_reason(&e)
                ))
            })?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = manifests.to_string();
        // a program may exit without reading its input: a broken pipe is not an error
        let writer = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, input.as_bytes());
        });
        let out = child
            .wait_with_output()
            .map_err(|e| invoke(io_reason(&e)))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(invoke(format!(
                "plugin {} exited with error",
                q(&self.name)
            )));
        }
        if out.stdout.trim_ascii().is_empty() {
            return Err(format!(
                "post-renderer {} produced empty output",
                q(&self.name)
            ));
        }
        String::from_utf8(out.stdout).map_err(|_| invoke("the output is not UTF-8".to_string()))
    }
}

/// Go's wording of an OS error (`no such file or directory`), without Rust's `(os error N)`.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// Helm's plugin directories: `$HELM_PLUGINS`, else `<data home>/plugins` (`$HELM_DATA_HOME`,
/// `$XDG_DATA_HOME/helm` or `~/.local/share/helm`).
fn plugin_dirs() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("HELM_PLUGINS").filter(|p| !p.is_empty()) {
        return std::env::split_paths(&p).collect();
    }
    let data = if let Some(d) = std::env::var_os("HELM_DATA_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(d)
    } else if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(x).join("helm")
    } else {
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".local/share/helm"))
            .unwrap_or_default()
    };
    vec![data.join("plugins")]
}

/// Go's `os.Expand` with `env`: `$VAR` and `${VAR}`, unknown variables empty.
fn expand(s: &str, env: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'{'
                && let Some(end) = s[i + 2..].find('}')
            {
                out.push_str(&env(&s[i + 2..i + 2 + end]));
                i += end + 3;
                continue;
            }
            let n = s[i + 1..]
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            if n > 0 {
                out.push_str(&env(&s[i + 1..i + 1 + n]));
                i += n + 1;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The command of a `postrenderer/v1` plugin named `name` (Helm's `FindPlugin` and
/// `PrepareCommands`), if one is installed.
fn find_plugin(name: &str, extra: &[String]) -> Option<ExecPostRenderer> {
    let os = std::env::consts::OS;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        a => a,
    };
    for dir in plugin_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for pdir in entries {
            let Ok(text) = std::fs::read_to_string(pdir.join("plugin.yaml")) else {
                continue;
            };
            let Ok(Value::Map(md)) = chart::yaml::parse(&text) else {
                continue;
            };
            let field = |k: &str| md.get(k).and_then(|v| v.as_str()).unwrap_or_default();
            if field("apiVersion") != "v1"
                || field("runtime") != "subprocess"
                || field("name") != name
                || field("type") != "postrenderer/v1"
            {
                continue;
            }
            let cmds: Vec<&Value> = md
                .get("runtimeConfig")
                .and_then(|r| r.path("platformCommand"))
                .and_then(|c| match c {
                    Value::List(l) => Some(l.iter().collect()),
                    _ => None,
                })
                .unwrap_or_default();
            // getPlatformCommand: os+arch match first, then os alone, then the first generic
            let get = |c: &Value, k: &str| {
                c.path(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let mut chosen: Option<&Value> = None;
            let mut found_os = false;
            for c in &cmds {
                let (cos, carch) = (get(c, "os"), get(c, "arch"));
                if cos.eq_ignore_ascii_case(os) && carch.eq_ignore_ascii_case(arch) {
                    chosen = Some(c);
                    break;
                }
                if (!cos.is_empty() && !cos.eq_ignore_ascii_case(os)) || !carch.is_empty() {
                    continue;
                }
                if !found_os && !cos.is_empty() {
                    chosen = Some(c);
                    found_os = true;
                } else if chosen.is_none() {
                    chosen = Some(c);
                }
            }
            let env = vec![
                ("HELM_PLUGIN_NAME".to_string(), name.to_string()),
                ("HELM_PLUGIN_DIR".to_string(), pdir.display().to_string()),
            ];
            let lookup = |k: &str| {
                env.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .or_else(|| std::env::var(k).ok())
                    .unwrap_or_default()
            };
            let c = chosen?;
            let command = get(c, "command");
            let mut parts = command.split(' ');
            let main = expand(parts.next().unwrap_or_default(), &lookup);
            let mut args: Vec<String> = parts.map(|p| expand(p, &lookup)).collect();
            if let Some(Value::List(l)) = c.path("args") {
                args.extend(
                    l.iter()
                        .filter_map(|a| a.as_str())
                        .map(|a| expand(a, &lookup)),
                );
            }
            args.extend(extra.iter().cloned());
            return Some(ExecPostRenderer {
                name: name.to_string(),
                program: PathBuf::from(main),
                args,
                env,
            });
        }
    }
    None
}

/// `--post-renderer NAME`: a `postrenderer/v1` plugin of that name (Helm 4), else an
/// executable at that path or on `PATH` (Helm 3's form).
fn post_renderer(name: &str, args: &[String]) -> anyhow::Result<ExecPostRenderer> {
    if let Some(p) = find_plugin(name, args) {
        return Ok(p);
    }
    let path = Path::new(name);
    let program = if name.contains('/') {
        path.is_file().then(|| path.to_path_buf())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    };
    match program {
        Some(program) => Ok(ExecPostRenderer {
            name: name.to_string(),
            program,
            args: args.to_vec(),
            env: Vec::new(),
        }),
        None => anyhow::bail!(
            "invalid argument {name:?} for \"--post-renderer\" flag: plugin: {{Name:{name} Type:postrenderer/v1}} not found"
        ),
    }
}

/// `ferry template [NAME] CHART`.
pub fn template(a: &TemplateArgs, out: &mut String) -> anyhow::Result<()> {
    let (name, chart_path) = match a.args.as_slice() {
        [chart] => ("release-name".to_string(), chart.clone()),
        [name, chart] => (name.clone(), chart.clone()),
        _ => unreachable!("clap checks the count"),
    };
    // the templates parse on a second core while the archive decompresses
    let pre = Preparse::start();
    // the chart's large `.Files`-only files stay compressed unless a template reads them
    // (`crds/` are read when printed)
    let include_crds = a.include_crds && !a.skip_crds;
    let chart = if include_crds {
        chart::load_observed(&chart_path, &mut |f| pre.offer(f))?
    } else {
        chart::load_observed_lazily(&chart_path, &mut |f| pre.offer(f))?
    };
    let release = ReleaseOptions {
        name,
        namespace: a.render.namespace.clone(),
        revision: a.revision,
        is_install: !a.is_upgrade,
        is_upgrade: a.is_upgrade,
    };
    if a.raw_json {
        // Helm's engine map, before the manifest stage: a text that is not YAML is shown
        let args = (release, include_crds, true, Some(pre));
        let (files, _) = with_request(&chart, &a.render, args, |req| {
            let (files, warnings) = render_map(req).map_err(cli_error)?;
            Ok((warnings, files))
        })?;
        std::mem::forget(chart);
        let m: chart::Map = files
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        out.push_str(&Value::Map(m).to_go_json_pretty(" "));
        out.push('\n');
        return Ok(());
    }
    let (mut r, _) = render_with(&chart, &a.render, release, include_crds, true, Some(pre))?;
    // the command ends after printing: the chart's files are not freed one by one
    std::mem::forget(chart);
    // what is printed is the manifest and the hooks: the render map and the split
    // documents go before the output is built beside them
    drop(std::mem::take(&mut r.files));
    if a.output_dir.is_none() {
        drop(std::mem::take(&mut r.manifests));
    }
    let hooks: Vec<&Hook> = r
        .hooks
        .iter()
        .filter(|h| !(a.render.no_hooks || a.skip_tests && h.events.contains(&HookEvent::Test)))
        .collect();
    if let Some(dir) = &a.output_dir {
        let hook_files: Vec<(String, String)> = hooks
            .iter()
            .map(|h| (h.path.clone(), h.manifest.clone()))
            .collect();
        return write_output_dir(dir, &r, &hook_files, out);
    }
    // the manifest (its own buffer, trimmed in place: the output is most of a big render),
    // then the hooks, each `---\n# Source: path\ndoc\n`
    let mut text = std::mem::take(&mut r.manifest);
    text.truncate(text.trim_end().len());
    text.drain(..text.len() - text.trim_start().len());
    text.push('\n');
    for h in &hooks {
        text.push_str("---\n# Source: ");
        text.push_str(&h.path);
        text.push('\n');
        text.push_str(&h.manifest);
        text.push('\n');
    }
    // the rest of the release (the computed values, the hooks) is left to the operating
    // system as the chart is
    drop(hooks);
    std::mem::forget(r);
    if a.show_only.is_empty() {
        if out.is_empty() {
            *out = text;
        } else {
            out.push_str(&text);
        }
        return Ok(());
    }
    let docs = ferry::render::manifest::split_manifests(&text);
    let mut shown = Vec::new();
    for f in &a.show_only {
        let mut missing = true;
        for d in &docs {
            let Some(src) = d.lines().find_map(|l| l.strip_prefix("# Source: ")) else {
                continue;
            };
            let Some((_, rel)) = src.split_once('/') else {
                continue;
            };
            if chart::ignore::go_match(f, rel).unwrap_or(false) {
                shown.push(d.clone());
                missing = false;
            }
        }
        if missing {
            anyhow::bail!("could not find template {f} in chart");
        }
    }
    for d in shown {
        out.push_str(&format!("---\n{d}\n"));
    }
    Ok(())
}

fn write_output_dir(
    dir: &Path,
    r: &Rendered,
    hooks: &[(String, String)],
    out: &mut String,
) -> anyhow::Result<()> {
    let mut written = std::collections::HashSet::new();
    let docs = r
        .manifests
        .iter()
        .map(|m| (m.name.clone(), m.content.clone()))
        .chain(hooks.iter().cloned());
    for (name, content) in docs {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let chunk = format!("---\n# Source: {name}\n{content}\n");
        if written.insert(name.clone()) {
            std::fs::write(&path, chunk)?;
            out.push_str(&format!("wrote {}\n", path.display()));
        } else {
            use std::io::Write as _;
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)?
                .write_all(chunk.as_bytes())?;
        }
    }
    Ok(())
}

/// `ferry install NAME CHART --dry-run=client -o json|yaml`.
#[derive(Args)]
pub struct InstallArgs {
    /// Release name.
    pub name: String,
    /// Chart path.
    pub chart: PathBuf,
    #[command(flatten)]
    pub render: RenderFlags,
    /// Simulate an install; only `client` (no cluster) is available so far.
    #[arg(long = "dry-run", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: Option<String>,
    /// Output format: table, json or yaml.
    #[arg(short = 'o', long = "output", default_value = "table")]
    pub output: String,
}

/// The release record Helm prints for a dry run (`release.v1` JSON shape).
fn release_value(
    chart: &chart::Chart,
    user: &Map,
    r: &Rendered,
    name: &str,
    namespace: &str,
    now: &str,
) -> Value {
    let file = |f: &chart::File| {
        let mut m = Map::new();
        m.insert("name".into(), f.name.as_str().into());
        m.insert("data".into(), ferry::render::base64_encode(f.data()).into());
        Value::Map(m)
    };
    let mut c = Map::new();
    c.insert("metadata".into(), chart.metadata.to_value());
    c.insert(
        "lock".into(),
        match &chart.lock {
            None => Value::Null,
            Some(l) => {
                let mut m = Map::new();
                m.insert("generated".into(), l.generated.as_str().into());
                m.insert("digest".into(), l.digest.as_str().into());
                m.insert(
                    "dependencies".into(),
                    Value::List(l.dependencies.iter().map(|d| d.to_value()).collect()),
                );
                Value::Map(m)
            }
        },
    );
    c.insert(
        "templates".into(),
        Value::List(chart.templates.iter().map(file).collect()),
    );
    c.insert("values".into(), Value::Map(chart.values.clone()));
    c.insert(
        "schema".into(),
        chart
            .schema
            .as_ref()
            .map(|s| Value::String(ferry::render::base64_encode(s)))
            .unwrap_or(Value::Null),
    );
    c.insert(
        "files".into(),
        Value::List(chart.files.iter().map(file).collect()),
    );
    let mut info = Map::new();
    info.insert("first_deployed".into(), now.into());
    info.insert("last_deployed".into(), now.into());
    info.insert("description".into(), "Dry run complete".into());
    info.insert("status".into(), "pending-install".into());
    if !r.notes.is_empty() {
        info.insert("notes".into(), r.notes.as_str().into());
    }
    let hooks = r
        .hooks
        .iter()
        .map(|h| {
            let mut m = Map::new();
            m.insert("name".into(), h.name.as_str().into());
            m.insert("kind".into(), h.kind.as_str().into());
            m.insert("path".into(), h.path.as_str().into());
            m.insert("manifest".into(), h.manifest.as_str().into());
            m.insert(
                "events".into(),
                Value::List(h.events.iter().map(|e| e.as_str().into()).collect()),
            );
            let mut last = Map::new();
            last.insert("started_at".into(), "".into());
            last.insert("completed_at".into(), "".into());
            last.insert("phase".into(), "".into());
            m.insert("last_run".into(), Value::Map(last));
            m.insert("weight".into(), Value::Int(h.weight));
            if !h.delete_policies.is_empty() {
                m.insert(
                    "delete_policies".into(),
                    Value::List(
                        h.delete_policies
                            .iter()
                            .map(|p| p.as_str().into())
                            .collect(),
                    ),
                );
            }
            Value::Map(m)
        })
        .collect();
    let mut rel = Map::new();
    rel.insert("name".into(), name.into());
    rel.insert("info".into(), Value::Map(info));
    rel.insert("chart".into(), Value::Map(c));
    rel.insert("config".into(), Value::Map(user.clone()));
    rel.insert("manifest".into(), r.manifest.as_str().into());
    rel.insert("hooks".into(), Value::List(hooks));
    rel.insert("version".into(), Value::Int(1));
    rel.insert("namespace".into(), namespace.into());
    Value::Map(rel)
}

/// `ferry install NAME CHART --dry-run=client`.
pub fn install(a: &InstallArgs, out: &mut String) -> anyhow::Result<()> {
    match a.dry_run.as_deref() {
        Some("client") | Some("true") => {}
        Some(other) => anyhow::bail!(
            "--dry-run={other}: only --dry-run=client is available until the release engine lands"
        ),
        None => anyhow::bail!(
            "installing to a cluster arrives with the release engine; use --dry-run=client"
        ),
    }
    let chart = chart::load(&a.chart)?;
    let release = ReleaseOptions {
        name: a.name.clone(),
        namespace: a.render.namespace.clone(),
        ..ReleaseOptions::default()
    };
    let (r, user) = render(&chart, &a.render, release, false)?;
    let now = chart::deps::now_rfc3339();
    let rel = release_value(&chart, &user, &r, &a.name, &a.render.namespace, &now);
    match a.output.as_str() {
        "json" => {
            out.push_str(&rel.to_go_json());
            out.push('\n');
        }
        "yaml" => out.push_str(&chart::yaml::to_yaml(&rel)),
        _ => {
            out.push_str(&format!(
                "NAME: {}\nLAST DEPLOYED: {now}\nNAMESPACE: {}\nSTATUS: pending-install\nREVISION: 1\nDESCRIPTION: Dry run complete\nTEST SUITE: None\nHOOKS:\n",
                a.name, a.render.namespace
            ));
            for h in &r.hooks {
                out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
            }
            out.push_str("MANIFEST:\n");
            out.push_str(&r.manifest);
            if !r.notes.is_empty() {
                out.push_str("\nNOTES:\n");
                out.push_str(&r.notes);
                out.push('\n');
            }
        }
    }
    Ok(())
}
