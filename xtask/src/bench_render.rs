//! `cargo xtask bench` (render part): for every chart of `../shared/corpus`, in one run,
//! - Helm's in-process load and render (the oracle's Helm v4 library: `Chart.load`, then
//!   `Chart.render`, timed inside one Python process, so interpreter start-up is not counted),
//!   and the peak memory that process gained over an idle one with Helm loaded;
//! - ferry's load and render stages in process (`crates/render/examples/bench_render.rs`): the
//!   render stage is what Helm's render measures (values, dependencies, schema, every template
//!   rendered to the engine map: `render_map`), and beside it the render with `helm
//!   template`'s manifest stage after it (`render_release`), which Helm's figure does not
//!   include;
//! - the whole `ferry template` process (spawn to exit, output read through a pipe), its
//!   peak RSS, and what that is above the same binary's idle size (`ferry --version`), the
//!   measure comparable to Helm's gain;
//! - the floor: a process that only reads, decompresses and untars the archive, parses its
//!   values files and writes as many bytes as ferry printed (`crates/chart/examples/floor.rs`);
//!
//! and the ratios. Each chart is measured in `BENCH_ROUNDS` rounds (default 3), each round
//! timing every tool back to back, `BENCH_RUNS` runs each (default 10; the process and the
//! floor alternately, one run at a time): a machine whose speed drifts then slows both sides
//! of a ratio alike. Times are medians over the rounds of each round's median; ratios are
//! medians of each round's own ratio.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

struct Case {
    chart: PathBuf,
    name: String,
    namespace: String,
    values: Vec<PathBuf>,
}

/// One case per corpus chart: its `-default` case, else its first case that renders.
fn cases(shared: &Path) -> Result<Vec<Case>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(shared.join("corpus/cases"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("case.json").exists() && !p.join("expected/error.txt").exists())
        .collect();
    dirs.sort_by_key(|p| {
        let n = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        (!n.ends_with("-default"), n)
    });
    let mut seen = std::collections::BTreeMap::new();
    for dir in dirs {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("case.json"))?)?;
        let chart = case["chart"].as_str().context("case.chart")?.to_string();
        if seen.contains_key(&chart) {
            continue;
        }
        let values = case["values_files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(|v| dir.join(v))
                    .collect()
            })
            .unwrap_or_default();
        seen.insert(
            chart.clone(),
            Case {
                chart: shared.join("corpus").join(&chart),
                name: case["release"].as_str().unwrap_or("release-name").into(),
                namespace: case["namespace"].as_str().unwrap_or("default").into(),
                values,
            },
        );
    }
    Ok(seen.into_values().collect())
}

/// Runs a process to completion with stdout drained through a pipe; returns its wall time in
/// ms and how many bytes it printed.
fn run_timed(cmd: &mut Command) -> Result<(f64, usize)> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawning {cmd:?}"))?;
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_end(&mut out)?;
    let status = child.wait()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok((ms, out.len()))
}

/// Peak RSS in KiB of one run of a program, through GNU time (`/usr/bin/time`, Debian's
/// package `time`); `None` without it.
fn peak_rss(program: &Path, args: &[std::ffi::OsString]) -> Option<u64> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let report = std::env::temp_dir().join(format!("ferry-bench-rss-{}", std::process::id()));
    let status = Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let kb = std::fs::read_to_string(&report).ok()?.trim().parse().ok();
    let _ = std::fs::remove_file(&report);
    if status.success() { kb } else { None }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn kv(text: &str, key: &str) -> Result<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("`{key}` missing from\n{text}"))
}

const HELM_SCRIPT: &str = r#"
import json, resource, sys, time
import helm_python as hp
path, name, ns, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a
vals = {}
for f in sys.argv[5:]:
    with open(f, encoding="utf-8") as fh:
        merge(vals, hp.values_from_yaml(fh.read()) or {})
hp.values_from_yaml("a: 1")  # the Go runtime is up: this is the idle size
idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with hp.Chart.load(path) as c:  # warm-up
    c.render(vals, name=name, namespace=ns)
loads, renders = [], []
for _ in range(runs):
    t = time.perf_counter()
    c = hp.Chart.load(path)
    loads.append((time.perf_counter() - t) * 1e3)
    with c:
        t = time.perf_counter()
        c.render(vals, name=name, namespace=ns)
        renders.append((time.perf_counter() - t) * 1e3)
med = lambda v: sorted(v)[len(v) // 2]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load_ms": med(loads), "render_ms": med(renders), "idle_kb": idle, "peak_kb": peak}))
"#;

/// One round of a chart's measures: medians of `runs` runs of each.
struct Round {
    f_load: f64,
    f_render: f64,
    /// The render and the manifest stage.
    f_release: f64,
    f_proc: f64,
    floor: f64,
    /// Helm's in-process load and render.
    helm: Option<(f64, f64)>,
    /// Helm's process: what it gained over its idle size, and its peak (KiB).
    helm_kb: Option<(f64, f64)>,
    /// Why Helm gave no figures (ferry's still stand).
    helm_error: Option<String>,
    /// The chart's templates (KiB).
    tpl_kb: f64,
}

/// `ferry template NAME CHART -n NS -f ...` for `case`.
fn template_args(case: &Case) -> Vec<std::ffi::OsString> {
    let mut targs: Vec<std::ffi::OsString> = vec![
        "template".into(),
        case.name.clone().into(),
        case.chart.clone().into(),
        "-n".into(),
        case.namespace.clone().into(),
    ];
    for v in &case.values {
        targs.push("-f".into());
        targs.push(v.clone().into());
    }
    targs
}

/// Measures one round of `case`: ferry's stages in process, the `ferry template` process and
/// the floor (alternately, one run of each at a time), and Helm (with `py`). Returns the round,
/// or why ferry could not render the chart.
fn measure_round(
    bin: &Path,
    case: &Case,
    runs: usize,
    py: Option<&Path>,
) -> Result<std::result::Result<Round, String>> {
    // ferry, in process
    let mut stages = Command::new(bin.join("examples/bench_render"));
    stages.arg(&case.chart).arg(runs.to_string()).args([
        "--name",
        &case.name,
        "--namespace",
        &case.namespace,
    ]);
    for v in &case.values {
        stages.arg("-f").arg(v);
    }
    let out = stages.output().context("running bench_render")?;
    if !out.status.success() {
        return Ok(Err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let st = String::from_utf8_lossy(&out.stdout).into_owned();
    let (f_load, f_render) = (kv(&st, "load_ms")?, kv(&st, "render_ms")?);
    let f_release = kv(&st, "release_ms")?;
    let tpl_kb = kv(&st, "template_bytes")? / 1024.0;

    // the whole `ferry template` process and the floor, one run of each at a time (the first
    // of each a warm-up); the floor writes as many bytes as ferry printed
    let targs = template_args(case);
    let (mut procs, mut floors) = (Vec::new(), Vec::new());
    for i in 0..runs + 1 {
        let (ms, out_bytes) = run_timed(Command::new(bin.join("ferry")).args(&targs))?;
        let (fl, _) = run_timed(
            Command::new(bin.join("examples/floor"))
                .arg(&case.chart)
                .arg(out_bytes.to_string()),
        )?;
        if i > 0 {
            procs.push(ms);
            floors.push(fl);
        }
    }

    // Helm
    let (mut helm, mut helm_kb, mut helm_error) = (None, None, None);
    if let Some(py) = py {
        let out = Command::new(py)
            .arg("-c")
            .arg(HELM_SCRIPT)
            .arg(&case.chart)
            .args([&case.name, &case.namespace, &runs.to_string()])
            .args(&case.values)
            .output()
            .context("running Helm")?;
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            helm = Some((
                v["load_ms"].as_f64().unwrap_or(0.0),
                v["render_ms"].as_f64().unwrap_or(0.0),
            ));
            let peak = v["peak_kb"].as_f64().unwrap_or(0.0);
            helm_kb = Some(((peak - v["idle_kb"].as_f64().unwrap_or(0.0)).max(1.0), peak));
        } else {
            helm_error = Some(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
    }
    Ok(Ok(Round {
        f_load,
        f_render,
        f_release,
        f_proc: median(procs),
        floor: median(floors),
        helm,
        helm_kb,
        helm_error,
        tpl_kb,
    }))
}

pub fn run() -> Result<()> {
    let root = crate::root();
    let shared = root.join("../shared");
    if !shared.join("corpus/cases").is_dir() {
        println!("render bench: skipped, ../shared/corpus not found");
        return Ok(());
    }
    for (pkg, what) in [
        ("ferry", vec!["--bin", "ferry"]),
        ("ferry-render", vec!["--example", "bench_render"]),
        ("ferry-chart", vec!["--example", "floor"]),
    ] {
        crate::run(
            crate::cargo()
                .args(["build", "--quiet", "--release", "-p", pkg])
                .args(what),
        )?;
    }
    let bin = root.join("target/release");
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .max(1);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let venv = std::env::var("HELM_ORACLE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/helm-oracle/venv")
        });
    let py = venv.join("bin/python");
    let have_helm = py.exists();
    if !have_helm {
        println!("(Helm not measured: run ../shared/tools/setup-oracle to install the oracle)");
    }

    println!(
        "== render: every corpus chart, ferry beside Helm v4 ({rounds} rounds of {runs} runs; ms, MiB)"
    );
    // ferry's idle size: the same binary doing nothing (`--version`), for the gain columns
    let f_idle = peak_rss(&bin.join("ferry"), &["--version".into()]);
    println!(
        "{:<28} {:>6} | {:>7} {:>7} | {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} | {:>6} {:>5} | {:>6} {:>6} {:>5} {:>6} {:>5} {:>5}",
        "chart",
        "tplKB",
        "h.load",
        "h.rend",
        "f.load",
        "f.rend",
        "rend×",
        "f.rel",
        "f.proc",
        "proc×",
        "floor",
        "/flr",
        "h.all",
        "h.gain",
        "f.MiB",
        "f.gain",
        "all×",
        "gain×",
    );
    for case in cases(&shared)? {
        let label = case
            .chart
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .trim_end_matches(".tgz")
            .to_string();
        // Rounds, each measuring every tool back to back (and the process and the floor
        // alternately), so that a machine whose speed drifts slows both sides of a ratio
        let mut rounds_done: Vec<Round> = Vec::new();
        let mut failed = None;
        for _ in 0..rounds {
            match measure_round(&bin, &case, runs, have_helm.then_some(py.as_path()))? {
                Ok(round) => rounds_done.push(round),
                Err(why) => {
                    failed = Some(why);
                    break;
                }
            }
        }
        if let Some(why) = failed {
            println!("{label:<28} ferry failed: {why}");
            continue;
        }
        if let Some(why) = rounds_done.iter().find_map(|r| r.helm_error.as_ref()) {
            println!("{label:<28} helm failed: {why}");
        }
        let tpl_kb = rounds_done.last().map_or(0.0, |r| r.tpl_kb);
        let helm_kb = rounds_done.iter().rev().find_map(|r| r.helm_kb);
        let med = |f: &dyn Fn(&Round) -> Option<f64>| -> Option<f64> {
            let v: Vec<f64> = rounds_done.iter().filter_map(f).collect();
            (v.len() == rounds_done.len()).then(|| median(v))
        };
        let f_load = med(&|r| Some(r.f_load)).unwrap_or(f64::NAN);
        let f_render = med(&|r| Some(r.f_render)).unwrap_or(f64::NAN);
        let f_release = med(&|r| Some(r.f_release)).unwrap_or(f64::NAN);
        let f_proc = med(&|r| Some(r.f_proc)).unwrap_or(f64::NAN);
        let floor = med(&|r| Some(r.floor)).unwrap_or(f64::NAN);
        // ratios: the median of each round's own ratio
        let rend_x = med(&|r| r.helm.map(|(_, h)| h / r.f_render));
        let proc_x = med(&|r| r.helm.map(|(l, h)| (l + h) / r.f_proc));
        let floor_x = med(&|r| Some(r.f_proc / r.floor)).unwrap_or(f64::NAN);
        let f_rss = peak_rss(&bin.join("ferry"), &template_args(&case));
        let helm = med(&|r| r.helm.map(|(l, _)| l))
            .zip(med(&|r| r.helm.map(|(_, h)| h)))
            .zip(helm_kb)
            .map(|((l, h), (k, a))| (l, h, k, a));
        let cell = |v: Option<f64>, prec: usize| match v {
            Some(v) => format!("{v:.prec$}"),
            None => "-".into(),
        };
        let ratio = |v: Option<f64>| match v {
            Some(v) => format!("{v:.1}×"),
            None => "-".into(),
        };
        let (h_load, h_render, h_kb, h_all) = match helm {
            Some((l, r, k, a)) => (Some(l), Some(r), Some(k), Some(a)),
            None => (None, None, None, None),
        };
        let f_kb = f_rss.map(|k| k as f64);
        let f_gain = f_rss
            .zip(f_idle)
            .map(|(k, idle)| (k.saturating_sub(idle) as f64).max(1.0));
        println!(
            "{label:<28} {tpl_kb:>6.0} | {:>7} {:>7} | {f_load:>6.2} {f_render:>6.2} {:>6} {f_release:>6.2} | {f_proc:>6.2} {:>6} | {floor:>6.2} {:>5} | {:>6} {:>6} {:>5} {:>6} {:>5} {:>5}",
            cell(h_load, 2),
            cell(h_render, 2),
            ratio(rend_x),
            ratio(proc_x),
            format!("{floor_x:.2}×"),
            cell(h_all.map(|k| k / 1024.0), 1),
            cell(h_kb.map(|k| k / 1024.0), 1),
            cell(f_kb.map(|k| k / 1024.0), 1),
            cell(f_gain.map(|k| k / 1024.0), 1),
            match (f_kb, h_all) {
                (Some(f), Some(h)) => format!("{:.2}×", f / h),
                _ => "-".into(),
            },
            match (f_gain, h_kb) {
                (Some(f), Some(h)) => format!("{:.2}×", f / h),
                _ => "-".into(),
            },
        );
    }
    println!(
        "(times are medians over the rounds of each round's median; the ratios are medians of \
         each round's own ratio; rend× = Helm render / ferry render stage (both: values, dependencies, schema, \
         templates to the engine map); f.rel = ferry's render with the manifest stage of `helm \
         template` after it (split, sort, hooks); proc× = Helm in-process load+render / the whole \
         `ferry template` process; /flr = ferry process / floor; h.all = peak RSS of Helm's \
         process (Python and the Helm library included); h.gain = what it gained over its idle \
         size with Helm loaded; f.MiB = peak RSS of the whole ferry process; f.gain = what it \
         gained over the same binary idle (`ferry --version`); all× = f.MiB / h.all; gain× = \
         f.gain / h.gain)"
    );
    Ok(())
}
