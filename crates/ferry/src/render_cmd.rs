//! `ferry template` and `ferry install --dry-run=client`: render without a cluster.

use std::path::{Path, PathBuf};

use clap::Args;
use ferry::chart::{self, Map, Value};
use ferry::render::{
    Capabilities, Engine, ReleaseOptions, RenderRequest, Rendered, manifest::HookEvent,
    render_release,
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
    let user = flags.values.options().merge(&mut |p| read_input(p))?;
    let req = RenderRequest {
        chart,
        user_values: &user,
        release,
        caps: capabilities(flags)?,
        engine: Engine {
            strict: flags.strict,
            ..Engine::default()
        },
        include_crds,
        sub_notes: flags.render_subchart_notes,
        skip_schema_validation: flags.skip_schema_validation,
    };
    let r = render_release(&req)?;
    for w in &r.warnings {
        eprintln!("{w}");
    }
    Ok((r, user))
}

/// `ferry template [NAME] CHART`.
pub fn template(a: &TemplateArgs, out: &mut String) -> anyhow::Result<()> {
    let (name, chart_path) = match a.args.as_slice() {
        [chart] => ("release-name".to_string(), chart.clone()),
        [name, chart] => (name.clone(), chart.clone()),
        _ => unreachable!("clap checks the count"),
    };
    let chart = chart::load(&chart_path)?;
    let release = ReleaseOptions {
        name,
        namespace: a.render.namespace.clone(),
        revision: a.revision,
        is_install: !a.is_upgrade,
        is_upgrade: a.is_upgrade,
    };
    let (r, _) = render(&chart, &a.render, release, a.include_crds && !a.skip_crds)?;
    if a.raw_json {
        let m: chart::Map = r
            .files
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        out.push_str(&Value::Map(m).to_go_json_pretty(" "));
        out.push('\n');
        return Ok(());
    }
    let mut text = format!("{}\n", r.manifest.trim());
    let mut hook_files: Vec<(String, String)> = Vec::new();
    if !a.render.no_hooks {
        for h in &r.hooks {
            if a.skip_tests && h.events.contains(&HookEvent::Test) {
                continue;
            }
            text.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
            hook_files.push((h.path.clone(), h.manifest.clone()));
        }
    }
    if let Some(dir) = &a.output_dir {
        return write_output_dir(dir, &r, &hook_files, out);
    }
    if a.show_only.is_empty() {
        out.push_str(&text);
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
        m.insert("data".into(), ferry::render::base64_encode(&f.data).into());
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
