//! `ferry sim serve`: the Kubernetes API simulator (crate `kubesim`) as a server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

/// `ferry sim ...`
#[derive(Subcommand)]
pub(crate) enum SimCmd {
    /// Serve a simulated Kubernetes API until killed; prints its URL once it accepts connections.
    Serve(ServeArgs),
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Write a kubeconfig for the simulator to this file (context `kubesim`).
    #[arg(long = "kubeconfig-out")]
    kubeconfig_out: Option<PathBuf>,
    /// Keep the cluster's objects in this directory, so they survive restarts.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed CA (written into the kubeconfig).
    #[arg(long)]
    tls: bool,
    /// How long a Pod takes to become Ready (Go duration, e.g. 500ms, 2s); the annotation
    /// `sim.ferry.dev/ready-after` overrides it per object.
    #[arg(long = "ready-after", default_value = "500ms", value_parser = parse_duration)]
    ready_after: Duration,
    /// Number of simulated nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Seed of the fault injector's random choices (faults are set via POST /_sim/faults).
    #[arg(long = "fault-seed", default_value_t = 1)]
    fault_seed: u64,
}

/// A Go duration such as `1m30s`, `500ms` or `2s`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("time: invalid duration {s:?}");
    let mut rest = s.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

pub(crate) fn run(cmd: SimCmd) -> anyhow::Result<()> {
    let SimCmd::Serve(a) = cmd;
    let config = kubesim::Config {
        addr: a.addr,
        ready_after: a.ready_after,
        nodes: a.nodes,
        state_dir: a.state.clone(),
        fault_seed: a.fault_seed,
        tls: a.tls,
        ..kubesim::Config::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let sim = kubesim::Sim::start(config).await?;
        if let Some(p) = &a.kubeconfig_out {
            sim.write_kubeconfig(p)?;
        }
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", sim.url())?;
            out.flush()?;
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = sim.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        // Saves the state (with --state) before exiting.
        sim.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
    }
}
