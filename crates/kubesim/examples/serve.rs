//! Runs a simulator until killed, as `ferry sim serve` will:
//! `cargo run -p kubesim --example serve -- 127.0.0.1:6443 /tmp/kubeconfig [STATE_DIR]`
//! (set KUBESIM_TLS=1 and build with `--features tls` for HTTPS).

#[tokio::main]
async fn main() -> Result<(), kubesim::Error> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .expect("an address like 127.0.0.1:6443");
    let kubeconfig = args.next().map(std::path::PathBuf::from);
    let state = args.next().map(std::path::PathBuf::from);
    let config = kubesim::Config {
        addr,
        state_dir: state,
        tls: std::env::var_os("KUBESIM_TLS").is_some(),
        ..Default::default()
    };
    kubesim::serve(config, kubeconfig.as_deref(), |url| {
        #[allow(clippy::print_stdout)] // the example's one line of output
        {
            println!("{url}");
        }
    })
    .await
}
