//! `cargo xtask <task>`: project automation.
//!
//! - `demo`: the README's main command — builds ferry, starts its API simulator and runs the
//!   seed workflow on `testdata/charts/umbrella-chart` (dependency build, install with --atomic
//!   --wait --create-namespace, an upgrade, a failing upgrade that rolls back by itself, a
//!   rollback, history), printing each command and ferry's real output.
//! - `ci`: what `.ci/run` checks, minus installing the oracle: fmt, clippy, cargo-deny, tests.
//! - `bench`: every corpus chart's load, render and whole `ferry template` process beside
//!   real Helm and the floor, with peak memory and ratios (`bench-render` alone); then the
//!   simulator's requests per second (`bench-sim`); then install and upgrade of a 200-object
//!   chart, ferry beside Helm (`bench-release`).
//! - `gen-kubesim`: regenerates kubesim's data files from Kubernetes' definitions.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench_render;
mod bench_sim;
mod gen_kubesim;

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("spawning {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn demo() -> Result<()> {
    run(cargo().args(["build", "--quiet", "--release", "-p", "ferry"]))?;
    let ferry = root().join("target/release/ferry");
    let chart = "testdata/charts/umbrella-chart";
    let work = root().join("target/demo");
    std::fs::create_dir_all(&work)?;
    let kubeconfig = work.join("kubeconfig");
    let _ = std::fs::remove_file(&kubeconfig);

    // The cluster: ferry's own API simulator (Pods become ready after 1s; an image tagged
    // `fail` crash-loops), so the demo needs no cluster.
    println!(
        "$ ferry sim serve --kubeconfig-out {} --ready-after 1s &",
        kubeconfig.display()
    );
    let mut sim = Command::new(&ferry)
        .args(["sim", "serve", "--ready-after", "1s", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting the simulator")?;
    let mut url = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(sim.stdout.take().context("simulator stdout")?),
        &mut url,
    )?;
    println!("{}", url.trim());
    println!();
    let kc = kubeconfig.to_string_lossy().into_owned();
    let deploy: Vec<&str> = vec![
        "upgrade",
        "production",
        chart,
        "--install",
        "--atomic",
        "--create-namespace",
        "--wait",
        "--namespace",
        "production",
        "--kubeconfig",
        &kc,
    ];
    let with = |extra: &[&'static str]| -> Vec<String> {
        deploy
            .iter()
            .map(|s| s.to_string())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let s = |v: &[&str]| -> Vec<String> { v.iter().map(|x| x.to_string()).collect() };
    let steps: Vec<(Vec<String>, bool)> = vec![
        (s(&["dependency", "build", chart]), true),
        (s(&["dependency", "list", chart]), true),
        (with(&[]), true),
        (with(&["--set", "order-service.replicaCount=5"]), true),
        (
            with(&["--set", "order-service.image.tag=fail", "--timeout", "120s"]),
            false,
        ),
        (
            s(&[
                "rollback",
                "production",
                "1",
                "--wait",
                "-n",
                "production",
                "--kubeconfig",
                &kc,
            ]),
            true,
        ),
        (
            s(&[
                "history",
                "production",
                "-n",
                "production",
                "--kubeconfig",
                &kc,
            ]),
            true,
        ),
        (s(&["list", "-A", "--kubeconfig", &kc]), true),
    ];
    let mut result = Ok(());
    for (args, must_succeed) in steps {
        println!("$ ferry {}", args.join(" "));
        let status = Command::new(&ferry)
            .current_dir(root())
            .args(&args)
            .status()?;
        if status.success() != must_succeed {
            result = Err(anyhow::anyhow!(
                "`ferry {}` {} unexpectedly",
                args.join(" "),
                if status.success() {
                    "succeeded"
                } else {
                    "failed"
                }
            ));
            break;
        }
        if !must_succeed {
            println!(
                "(exit code {}: the failed upgrade rolled back by itself)",
                status.code().unwrap_or(-1)
            );
        }
        println!();
    }
    let _ = sim.kill();
    let _ = sim.wait();
    result
}

fn ci() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["deny", "check", "bans", "licenses", "sources"]))?;
    run(cargo().args(["test", "--workspace", "--", "--show-output"]))
}

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "demo" => demo(),
        "ci" => ci(),
        "bench" => bench_render::run()
            .and_then(|()| bench_sim::run())
            .and_then(|()| bench_sim::release()),
        "bench-render" => bench_render::run(),
        "bench-sim" => bench_sim::run(),
        "bench-release" => bench_sim::release(),
        "gen-kubesim" => gen_kubesim::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        _ => {
            eprintln!("usage: cargo xtask <demo|ci|bench>");
            std::process::exit(2);
        }
    }
}
