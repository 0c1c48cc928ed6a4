//! `cargo xtask <task>`: project automation.
//!
//! - `demo`: the README's main command — builds ferry and runs the seed workflow's chart steps
//!   on `testdata/charts/umbrella-chart`, printing each command and ferry's real output.
//! - `ci`: what `.ci/run` checks, minus installing the oracle: fmt, clippy, cargo-deny, tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn root() -> PathBuf {
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

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn demo() -> Result<()> {
    run(cargo().args(["build", "--quiet", "--release", "-p", "ferry"]))?;
    let ferry = root().join("target/release/ferry");
    let chart = "testdata/charts/umbrella-chart";
    let steps: &[&[&str]] = &[
        &["dependency", "build", chart],
        &["dependency", "list", chart],
        &["show", "chart", chart],
        &[
            "show",
            "values",
            "--computed",
            chart,
            "--set",
            "order-service.replicaCount=5",
        ],
        &["package", chart, "-d", "target/demo"],
    ];
    for args in steps {
        println!("$ ferry {}", args.join(" "));
        run(Command::new(&ferry).current_dir(root()).args(*args))?;
        println!();
    }
    Ok(())
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
        _ => {
            eprintln!("usage: cargo xtask <demo|ci>");
            std::process::exit(2);
        }
    }
}
