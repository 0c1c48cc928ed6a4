//! Embedding ferry: `helm upgrade --install --atomic --wait` from Rust, with live progress.
//!
//! `cargo run -p ferry --example upgrade -- NAME CHART [NAMESPACE]` uses the current
//! kubeconfig context (`$KUBECONFIG` or `~/.kube/config`); try it against `ferry sim serve`.

use ferry::action::{Client, ConnectOptions, Event, Progress, UpgradeRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(name), Some(chart)) = (args.next(), args.next()) else {
        eprintln!("usage: upgrade NAME CHART [NAMESPACE]");
        std::process::exit(2);
    };
    let namespace = args.next().unwrap_or_else(|| "default".into());
    let mut client = Client::connect(ConnectOptions {
        namespace: Some(namespace.clone()),
        ..ConnectOptions::default()
    })
    .await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    client.progress = Progress::channel(tx);
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            match e {
                Event::Step(s) => println!("==> {s}"),
                Event::Applied { object, action } => println!("    {object} {action}"),
                Event::Ready { object } => println!("    {object} ready"),
                Event::Failed { object, reason } => println!("    {object} failed: {reason}"),
                Event::Waiting { .. } => {}
            }
        }
    });
    let chart = ferry::chart::load(&chart)?;
    let result = client
        .upgrade(UpgradeRequest {
            install: true,
            atomic: true,
            wait: true,
            create_namespace: true,
            ..UpgradeRequest::new(&name, chart, &namespace)
        })
        .await;
    drop(client);
    printer.await?;
    let rel = result?;
    println!(
        "{} revision {}: {} ({})",
        rel.name, rel.version, rel.info.status, rel.info.description
    );
    Ok(())
}
