//! `ferry sim serve`: prints its URL once it accepts connections, writes a kubeconfig, serves
//! the Kubernetes API, and with `--state` keeps objects across a restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `ferry sim serve` and returns the child and the URL it printed.
fn serve(extra: &[&str], kubeconfig: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["sim", "serve", "--addr", "127.0.0.1:0", "--kubeconfig-out"])
        .arg(kubeconfig)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

/// One plain-HTTP request; returns (status, body).
fn http(url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

fn terminate(mut child: Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "ferry sim serve exits cleanly on SIGTERM: {status}"
    );
}

#[test]
fn serve_prints_url_writes_kubeconfig_and_keeps_state() {
    let t = tempfile::tempdir().unwrap();
    let kc = t.path().join("kubeconfig");
    let state = t.path().join("state");
    let state_arg = state.to_str().unwrap();

    let (child, url) = serve(&["--state", state_arg], &kc);
    assert!(url.starts_with("http://127.0.0.1:"), "printed URL: {url:?}");
    let kubeconfig = std::fs::read_to_string(&kc).unwrap();
    assert!(
        kubeconfig.contains(&format!("server: {url}")),
        "{kubeconfig}"
    );

    let (status, body) = http(&url, "GET", "/version", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("gitVersion"), "{body}");
    let cm =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kept"},"data":{"k":"v"}}"#;
    let (status, body) = http(&url, "POST", "/api/v1/namespaces/default/configmaps", cm);
    assert_eq!(status, 201, "{body}");
    terminate(child);

    let (child, url2) = serve(&["--state", state_arg], &kc);
    let (status, body) = http(
        &url2,
        "GET",
        "/api/v1/namespaces/default/configmaps/kept",
        "",
    );
    assert_eq!(status, 200, "the object survived the restart: {body}");
    assert!(body.contains(r#""k":"v""#), "{body}");
    terminate(child);

    // Without --state a restart starts from an empty cluster.
    let (child, url3) = serve(&[], &kc);
    let (status, _) = http(
        &url3,
        "GET",
        "/api/v1/namespaces/default/configmaps/kept",
        "",
    );
    assert_eq!(status, 404);
    terminate(child);
}

#[test]
fn serve_tls_puts_the_ca_in_the_kubeconfig() {
    let t = tempfile::tempdir().unwrap();
    let kc = t.path().join("kubeconfig");
    let (child, url) = serve(&["--tls"], &kc);
    assert!(
        url.starts_with("https://127.0.0.1:"),
        "printed URL: {url:?}"
    );
    let kubeconfig = std::fs::read_to_string(&kc).unwrap();
    assert!(
        kubeconfig.contains("certificate-authority-data: "),
        "{kubeconfig}"
    );
    terminate(child);
}

#[test]
fn bad_flags_are_refused() {
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["sim", "serve", "--ready-after", "5d"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown unit \"d\""), "{err}");
}
