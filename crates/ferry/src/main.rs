//! The `ferry` command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod release_cmd;
mod render_cmd;
mod sim_cmd;
use ferry::chart::{
    self, Value,
    coalesce::{Warnings, computed_values},
    deps::{self, ChartSource, FileSource},
    strvals::ValueOptions,
};

/// Parsing and rendering templates allocate many small nodes; mimalloc serves them faster
/// than the system allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// ferry: deploy Helm charts natively, no helm binary needed.
#[derive(Parser)]
#[command(name = "ferry", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show information of a chart.
    Show {
        #[command(subcommand)]
        what: ShowCmd,
    },
    /// Manage a chart's dependencies.
    #[command(alias = "dep", alias = "dependencies")]
    Dependency {
        #[command(subcommand)]
        what: DepCmd,
    },
    /// Package a chart directory into a chart archive.
    Package {
        /// Chart directories to package.
        #[arg(required = true)]
        charts: Vec<PathBuf>,
        /// Location to write the chart.
        #[arg(short = 'd', long = "destination", default_value = ".")]
        destination: PathBuf,
        /// Update dependencies from Chart.yaml to charts/ before packaging.
        #[arg(short = 'u', long = "dependency-update")]
        dependency_update: bool,
    },
    /// Locally render templates.
    Template(render_cmd::TemplateArgs),
    /// Install a chart (with --dry-run=client: render the release record, no cluster).
    Install(release_cmd::ClusterInstallArgs),
    /// Upgrade a release (--install: install it if absent).
    Upgrade(release_cmd::UpgradeArgs),
    /// Roll a release back to a previous revision.
    Rollback(release_cmd::RollbackArgs),
    /// Run the tests (`helm.sh/hook: test`) of a release.
    Test(release_cmd::TestArgs),
    /// Uninstall releases.
    #[command(alias = "un", alias = "delete", alias = "del")]
    Uninstall(release_cmd::UninstallArgs),
    /// Show a release's revisions.
    #[command(alias = "hist")]
    History {
        /// Release name.
        name: String,
        /// Maximum number of revisions.
        #[arg(long = "max", default_value_t = 256)]
        max: usize,
        #[command(flatten)]
        read: release_cmd::ReadArgs,
    },
    /// List releases.
    #[command(alias = "ls")]
    List(release_cmd::ListArgs),
    /// Show a release's status.
    Status {
        /// Release name.
        name: String,
        /// Revision.
        #[arg(long = "revision")]
        revision: Option<i64>,
        #[command(flatten)]
        read: release_cmd::ReadArgs,
    },
    /// Download a release's values, manifest, notes or hooks.
    Get {
        #[command(subcommand)]
        what: release_cmd::GetCmd,
    },
    /// A simulated Kubernetes API server, for trying charts without a cluster.
    Sim {
        #[command(subcommand)]
        what: sim_cmd::SimCmd,
    },
}

#[derive(Subcommand)]
enum ShowCmd {
    /// Show all information of the chart.
    All { chart: PathBuf },
    /// Show the chart's definition.
    Chart { chart: PathBuf },
    /// Show the chart's CRDs.
    Crds { chart: PathBuf },
    /// Show the chart's README.
    Readme { chart: PathBuf },
    /// Show the chart's values (with --computed: the values its templates will see).
    Values(ShowValues),
}

#[derive(Args)]
struct ShowValues {
    chart: PathBuf,
    /// Print the values the root chart's templates see as .Values: after dependency processing
    /// (aliases, conditions, tags, import-values) and coalescing with the user values.
    #[arg(long)]
    computed: bool,
    /// Output format of --computed.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: Format,
    #[command(flatten)]
    values: ValueFlags,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Yaml,
}

/// Helm's user-value flags.
#[derive(Args, Default)]
pub(crate) struct ValueFlags {
    /// Specify values in a YAML file (can specify multiple; `-` reads stdin).
    #[arg(short = 'f', long = "values")]
    values: Vec<String>,
    /// Set values on the command line (key1=val1,key2=val2).
    #[arg(long = "set")]
    set: Vec<String>,
    /// Set STRING values on the command line.
    #[arg(long = "set-string")]
    set_string: Vec<String>,
    /// Set values from files (key=path).
    #[arg(long = "set-file")]
    set_file: Vec<String>,
    /// Set JSON values on the command line (key=<json> or a JSON object).
    #[arg(long = "set-json")]
    set_json: Vec<String>,
    /// Set a literal STRING value on the command line.
    #[arg(long = "set-literal")]
    set_literal: Vec<String>,
}

impl ValueFlags {
    pub(crate) fn options(&self) -> ValueOptions {
        ValueOptions {
            value_files: self.values.clone(),
            json_values: self.set_json.clone(),
            values: self.set.clone(),
            string_values: self.set_string.clone(),
            file_values: self.set_file.clone(),
            literal_values: self.set_literal.clone(),
        }
    }
}

#[derive(Subcommand)]
enum DepCmd {
    /// List the dependencies for the given chart.
    #[command(alias = "ls")]
    List { chart: Option<PathBuf> },
    /// Rebuild the charts/ directory based on the Chart.lock file.
    Build { chart: Option<PathBuf> },
    /// Update charts/ based on the contents of Chart.yaml.
    #[command(alias = "up")]
    Update { chart: Option<PathBuf> },
}

pub(crate) fn read_input(path: &str) -> std::io::Result<Vec<u8>> {
    if path.trim() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

fn show(what: ShowCmd, out: &mut String) -> anyhow::Result<()> {
    let (path, chart_part, values_part, readme_part, crds_part) = match &what {
        ShowCmd::All { chart } => (chart, true, true, true, true),
        ShowCmd::Chart { chart } => (chart, true, false, false, false),
        ShowCmd::Crds { chart } => (chart, false, false, false, true),
        ShowCmd::Readme { chart } => (chart, false, false, true, false),
        ShowCmd::Values(v) => {
            if v.computed {
                return show_computed(v, out);
            }
            (&v.chart, false, true, false, false)
        }
    };
    let all = matches!(what, ShowCmd::All { .. });
    let c = chart::load(path)?;
    if chart_part {
        out.push_str(&chart::yaml::to_yaml(&c.metadata.to_value()));
        out.push('\n');
    }
    if values_part && let Some(v) = c.raw_file("values.yaml") {
        if all {
            out.push_str("---\n");
        }
        out.push_str(&v.text());
        out.push('\n');
    }
    if readme_part
        && let Some(r) = c.files.iter().find(|f| {
            ["readme.md", "readme.txt", "readme"]
                .iter()
                .any(|n| f.name.eq_ignore_ascii_case(n))
        })
    {
        if all {
            out.push_str("---\n");
        }
        out.push_str(&r.text());
        out.push('\n');
    }
    if crds_part {
        let mut crds = Vec::new();
        collect_crds(&c, &mut crds);
        for f in crds {
            if !f.data().starts_with(b"---") {
                out.push_str("---\n");
            }
            out.push_str(&f.text());
            out.push('\n');
        }
    }
    Ok(())
}

fn collect_crds<'a>(c: &'a chart::Chart, out: &mut Vec<&'a chart::File>) {
    out.extend(c.crds().filter(|f| {
        [".yaml", ".yml", ".json"]
            .iter()
            .any(|e| f.name.ends_with(e))
    }));
    for d in &c.dependencies {
        collect_crds(d, out);
    }
}

fn show_computed(v: &ShowValues, out: &mut String) -> anyhow::Result<()> {
    let c = chart::load(&v.chart)?;
    let user = v.values.options().merge(&mut |p| read_input(p))?;
    let mut warnings = Warnings::default();
    let (processed, vals) = computed_values(&c, &user, &mut warnings)?;
    chart::schema::validate(&processed, &vals)?;
    for w in &warnings.0 {
        eprintln!("{w}");
    }
    let value = Value::Map(vals);
    match v.output {
        Format::Json => {
            out.push_str(&value.to_go_json_pretty("  "));
            out.push('\n');
        }
        Format::Yaml => out.push_str(&chart::yaml::to_yaml(&value)),
    }
    Ok(())
}

fn dependency(what: DepCmd, out: &mut String) -> anyhow::Result<()> {
    let sources: [&dyn ChartSource; 1] = [&FileSource];
    let mut log = Vec::new();
    match what {
        DepCmd::List { chart } => {
            let dir = chart.unwrap_or_else(|| PathBuf::from("."));
            let c = chart::load(&dir)?;
            if c.metadata.dependencies.is_empty() {
                out.push_str(&format!(
                    "WARNING: no dependencies at {}\n",
                    dir.join("charts").display()
                ));
                return Ok(());
            }
            let (rows, warnings) = deps::list(&dir)?;
            let cells: Vec<Vec<String>> = rows
                .into_iter()
                .map(|r| vec![r.name, r.version, r.repository, r.status])
                .collect();
            out.push_str(&deps::format_table(
                &["NAME", "VERSION", "REPOSITORY", "STATUS"],
                &cells,
            ));
            out.push_str("\n\n");
            for w in warnings {
                out.push_str(&w);
                out.push('\n');
            }
        }
        DepCmd::Build { chart } => {
            deps::build(&chart.unwrap_or_else(|| ".".into()), &sources, &mut log)?;
        }
        DepCmd::Update { chart } => {
            deps::update(&chart.unwrap_or_else(|| ".".into()), &sources, &mut log)?;
        }
    }
    out.push_str(&String::from_utf8_lossy(&log));
    Ok(())
}

fn package(charts: &[PathBuf], dest: &Path, update: bool, out: &mut String) -> anyhow::Result<()> {
    for dir in charts {
        if update {
            let mut log = Vec::new();
            deps::update(dir, &[&FileSource], &mut log)?;
            out.push_str(&String::from_utf8_lossy(&log));
        }
        let c = chart::load(dir)?;
        let path = deps::package(&c, dest)?;
        let shown = std::fs::canonicalize(&path).unwrap_or(path);
        out.push_str(&format!(
            "Successfully packaged chart and saved it to: {}\n",
            shown.display()
        ));
    }
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<String> {
    let mut out = String::new();
    match cli.command {
        Command::Show { what } => show(what, &mut out)?,
        Command::Dependency { what } => dependency(what, &mut out)?,
        Command::Package {
            charts,
            destination,
            dependency_update,
        } => package(&charts, &destination, dependency_update, &mut out)?,
        Command::Template(a) => render_cmd::template(&a, &mut out)?,
        Command::Install(a) => release_cmd::install(&a, &mut out)?,
        Command::Upgrade(a) => release_cmd::upgrade(&a, &mut out)?,
        Command::Rollback(a) => release_cmd::rollback(&a, &mut out)?,
        Command::Test(a) => release_cmd::test(&a, &mut out)?,
        Command::Uninstall(a) => release_cmd::uninstall(&a, &mut out)?,
        Command::History { name, max, read } => release_cmd::history(&name, max, &read, &mut out)?,
        Command::List(a) => release_cmd::list(&a, &mut out)?,
        Command::Status {
            name,
            revision,
            read,
        } => release_cmd::status(&name, revision, &read, &mut out)?,
        Command::Get { what } => release_cmd::get(&what, &mut out)?,
        Command::Sim { what } => sim_cmd::run(what)?,
    }
    Ok(out)
}

/// The `template` subcommand alone, as [`Cli`] builds it: what `ferry template …` is parsed
/// with. Building every subcommand's arguments is most of what parsing a command line costs,
/// and `template` is what pipelines run over and over. Its help, usage and errors are the
/// full command's (a test compares them).
fn template_command() -> clap::Command {
    clap::Command::new("ferry").subcommand(
        render_cmd::TemplateArgs::augment_args(clap::Command::new("template"))
            .about("Locally render templates"),
    )
}

fn parse_cli() -> Cli {
    use clap::FromArgMatches;
    if std::env::args_os().nth(1).is_some_and(|a| a == "template") {
        match template_command().try_get_matches() {
            Ok(m) => {
                if let Some(sub) = m.subcommand_matches("template") {
                    match render_cmd::TemplateArgs::from_arg_matches(sub) {
                        Ok(a) => {
                            return Cli {
                                command: Command::Template(a),
                            };
                        }
                        Err(e) => e.exit(),
                    }
                }
            }
            Err(e) => e.exit(),
        }
    }
    Cli::parse()
}

fn main() -> ExitCode {
    let cli = parse_cli();
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// What clap makes of `args`: the rendered error, help or usage, or the flags parsed.
    fn outcome(cmd: clap::Command, args: &[&str]) -> String {
        match cmd.try_get_matches_from(args) {
            Ok(m) => {
                let Some(t) = m.subcommand_matches("template") else {
                    return "no template subcommand".into();
                };
                let mut flags: Vec<String> = t
                    .ids()
                    .map(|id| {
                        let raw = t.get_raw(id.as_str()).map(|r| r.collect::<Vec<_>>());
                        format!("{id}={raw:?}")
                    })
                    .collect();
                flags.sort();
                flags.join(" ")
            }
            Err(e) => format!("{:?}: {}", e.kind(), e.render()),
        }
    }

    #[test]
    fn the_template_command_alone_parses_as_the_full_command() {
        let cases: &[&[&str]] = &[
            &["ferry", "template", "--help"],
            &["ferry", "template", "-h"],
            &["ferry", "template"],
            &["ferry", "template", "--no-such-flag", "chart"],
            &["ferry", "template", "a", "b", "c"],
            &[
                "ferry", "template", "rel", "chart", "-n", "ns", "--set", "a=1", "-f", "v.yaml",
            ],
            &["ferry", "template", "chart", "--kube-version"],
            &[
                "ferry",
                "template",
                "chart",
                "--show-only",
                "x",
                "--include-crds",
            ],
        ];
        for args in cases {
            assert_eq!(
                outcome(template_command(), args),
                outcome(Cli::command(), args),
                "{args:?}"
            );
        }
        // the flags' values are compared, not only which were given
        let parsed = outcome(template_command(), cases[5]);
        assert!(parsed.contains("namespace=Some([\"ns\"])"), "{parsed}");
        // and the help is the template command's own (not an empty one)
        assert!(
            outcome(template_command(), &["ferry", "template", "--help"]).contains("--show-only")
        );
    }
}
