//! Benchmark: parse and render a real chart's template set.
//!
//! `cargo run --release -p ferry-render --example bench_render -- CHART [RUNS]` prints one
//! line per figure: template count and bytes, parse time per template and MB/s, render time
//! per run and per template, output MB/s. `cargo xtask bench` runs it beside Helm.

use std::time::Instant;

use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_chart::{Map, load};
use ferry_gotmpl::Templates;
use ferry_render::{Capabilities, Engine, ReleaseOptions, helm_funcs};

fn all_templates(c: &ferry_chart::Chart, out: &mut Vec<(String, String)>) {
    for t in &c.templates {
        out.push((format!("{}/{}", c.name(), t.name), t.text().into_owned()));
    }
    for d in &c.dependencies {
        all_templates(d, out);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: bench_render CHART [RUNS]");
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let chart = load(&path).expect("chart loads");
    let (processed, values) =
        computed_values(&chart, &Map::new(), &mut Warnings::default()).expect("values");
    let mut tpls = Vec::new();
    all_templates(&processed, &mut tpls);
    let bytes: usize = tpls.iter().map(|(_, t)| t.len()).sum();

    let start = Instant::now();
    for _ in 0..runs {
        let mut set = Templates::new(helm_funcs(None));
        for (name, text) in &tpls {
            set.parse(name, text).expect("parses");
        }
    }
    let parse = start.elapsed().as_secs_f64() / runs as f64;

    let engine = Engine::default();
    let rel = ReleaseOptions::default();
    let caps = Capabilities::default();
    let mut out_bytes = 0;
    let start = Instant::now();
    for _ in 0..runs {
        let out = engine
            .render(&processed, &values, &rel, &caps)
            .expect("renders");
        out_bytes = out.values().map(|s| s.len()).sum();
    }
    let render = start.elapsed().as_secs_f64() / runs as f64;
    let n = tpls.len() as f64;
    println!("templates: {} ({} bytes)", tpls.len(), bytes);
    println!(
        "parse: {:.3} ms per set, {:.1} us per template, {:.1} MB/s",
        parse * 1e3,
        parse / n * 1e6,
        bytes as f64 / parse / 1e6
    );
    println!(
        "render: {:.3} ms per chart, {:.1} us per template, {:.1} MB/s output",
        render * 1e3,
        render / n * 1e6,
        out_bytes as f64 / render / 1e6
    );
}
