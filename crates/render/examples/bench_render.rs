//! Benchmark: ferry's load and render stages on one chart, in process.
//!
//! `cargo run --release -p ferry-render --example bench_render -- CHART [RUNS] [--name N]
//! [--namespace NS] [-f VALUES]...` prints, as `key value` lines, the median over RUNS of:
//! - `load_ms`: reading the archive (or directory), decompressing, untarring and parsing
//!   Chart.yaml and values.yaml of the chart and its subcharts (`ferry_chart::load`);
//! - `render_ms`: what Helm's render does (the oracle's `Chart.render`, Helm's `engine.Render`
//!   after its values are computed): dependency processing, coalescing values, schema
//!   validation, and rendering every template to Helm's engine map `{path: text}`
//!   (`render_map`);
//! - `release_ms`: what `helm template` does after loading: the render above, then the
//!   manifest stage (splitting the texts into documents, sorting them in install order,
//!   separating hooks, the manifest text) (`render_release`);
//! - `parse_ms`: parsing the template set alone (part of `render_ms`);
//!
//! plus `templates`, `template_bytes` and `out_bytes`. `cargo xtask bench` runs it for every
//! corpus chart beside Helm. `--only load|render|release|parse` times that stage alone (one
//! warm-up and RUNS runs), for a profiler to see nothing else.

use std::time::Instant;

use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_chart::{Map, load, yaml};
use ferry_gotmpl::Templates;
use ferry_render::{
    Capabilities, Engine, ReleaseOptions, RenderRequest, helm_funcs, render_map, render_release,
};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn all_templates(c: &ferry_chart::Chart, out: &mut Vec<(String, String)>) {
    for t in &c.templates {
        out.push((format!("{}/{}", c.name(), t.name), t.text().into_owned()));
    }
    for d in &c.dependencies {
        all_templates(d, out);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median time of `runs` calls of `f` (NaN for none) and the last result.
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, Option<T>) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        times.push(start.elapsed().as_secs_f64() * 1e3);
        last = Some(out);
    }
    (median(times), last)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_render CHART [RUNS] [--name N] [--namespace NS] [-f VALUES]... \
                 [--only load|render|release|parse]";
    let path = args.next().expect(usage);
    let mut runs = 20usize;
    let mut name = "release-name".to_string();
    let mut namespace = "default".to_string();
    let mut user = Map::new();
    let mut only = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--name" => name = args.next().expect(usage),
            "--namespace" => namespace = args.next().expect(usage),
            "--only" => only = Some(args.next().expect(usage)),
            "-f" => {
                let f = args.next().expect(usage);
                let text = std::fs::read_to_string(&f).expect("values file readable");
                let m = yaml::parse_values(&text).expect("values file parses");
                user = yaml::merge_maps(user, m);
            }
            n => runs = n.parse().expect(usage),
        }
    }
    let runs = runs.max(1);
    let runs_of = |stage: &str| match &only {
        Some(o) if o != stage => 0,
        _ => runs,
    };

    // one warm-up of each stage, so the medians see a warm page cache and allocator
    let chart = load(&path).expect("chart loads");
    let (load_ms, chart2) = timed(runs_of("load"), || load(&path).expect("chart loads"));
    drop(chart2);

    let req = RenderRequest {
        chart: &chart,
        user_values: &user,
        release: ReleaseOptions {
            name,
            namespace,
            revision: 1,
            is_install: true,
            is_upgrade: false,
        },
        caps: Capabilities::default(),
        engine: Engine::default(),
        include_crds: false,
        sub_notes: false,
        skip_schema_validation: false,
    };
    let rendered = render_release(&req).expect("renders");
    let out_bytes: usize = rendered.manifest.len()
        + rendered
            .hooks
            .iter()
            .map(|h| h.manifest.len())
            .sum::<usize>();
    drop(rendered);
    let (render_ms, _) = timed(runs_of("render"), || render_map(&req).expect("renders"));
    let (release_ms, _) = timed(runs_of("release"), || {
        render_release(&req).expect("renders")
    });

    let (processed, _) = computed_values(&chart, &user, &mut Warnings::default()).expect("values");
    let mut tpls = Vec::new();
    all_templates(&processed, &mut tpls);
    let (parse_ms, _) = timed(runs_of("parse"), || {
        let mut set = Templates::new(helm_funcs(None));
        for (name, text) in &tpls {
            set.parse(name, text).expect("parses");
        }
    });
    println!("templates {}", tpls.len());
    println!(
        "template_bytes {}",
        tpls.iter().map(|(_, t)| t.len()).sum::<usize>()
    );
    println!("out_bytes {out_bytes}");
    println!("load_ms {load_ms:.3}");
    println!("render_ms {render_ms:.3}");
    println!("release_ms {release_ms:.3}");
    println!("parse_ms {parse_ms:.3}");
}
