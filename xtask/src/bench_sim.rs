//! `cargo xtask bench` (simulator part): requests per second of kubesim for get, list, create,
//! patch, server-side apply and watch fan-out, measured by `crates/kubesim/examples/bench.rs`
//! over loopback HTTP/1.1 keep-alive connections.

use anyhow::{Context, Result, bail};

pub fn run() -> Result<()> {
    let n = std::env::var("BENCH_SIM_N").unwrap_or_else(|_| "20000".into());
    println!("== kubesim: requests per second (loopback, keep-alive, {n} requests per phase)");
    let out = crate::cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "kubesim",
            "--example",
            "bench",
            "--",
        ])
        .arg(&n)
        .output()
        .context("running the kubesim benchmark")?;
    if !out.status.success() {
        bail!(
            "kubesim benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

/// Install and upgrade (`--wait`) of a generated 200-object chart on the simulator: ferry and
/// real Helm (the oracle), wall time and API requests, as ratios
/// (`crates/ferry/examples/bench_release.rs`).
pub fn release() -> Result<()> {
    println!("== release: install and upgrade of a 200-object chart, ferry and Helm on kubesim");
    let out = crate::cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "ferry",
            "--example",
            "bench_release",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .context("running the release benchmark")?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        bail!("release benchmark failed");
    }
    Ok(())
}
