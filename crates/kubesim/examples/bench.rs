//! Requests per second of the simulator for get, list, apply and watch fan-out, over
//! loopback HTTP/1.1 keep-alive connections: `cargo run -p kubesim --example bench [N]`.
//! Meant to be run by `cargo xtask bench`.

use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Conn(BufReader<TcpStream>);

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Conn(BufReader::new(s))
    }

    /// One request; returns the status code and the body length.
    async fn call(&mut self, method: &str, path: &str, ct: &str, body: &[u8]) -> (u16, usize) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.0
            .get_mut()
            .write_all(head.as_bytes())
            .await
            .expect("write");
        self.0.get_mut().write_all(body).await.expect("write");
        let mut line = String::new();
        self.0.read_line(&mut line).await.expect("status line");
        let code: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            self.0.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut buf = vec![0; len];
        self.0.read_exact(&mut buf).await.expect("body");
        (code, len)
    }
}

fn cm(i: usize) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm-{i}","labels":{{"bench":"yes","n":"{}"}}}},"data":{{"k":"v{i}"}}}}"#,
        i % 10
    )
}

/// Runs `total` requests over `conns` connections; returns requests per second.
async fn phase<F>(addr: std::net::SocketAddr, conns: usize, total: usize, f: F) -> f64
where
    F: Fn(usize) -> (String, String, String, Vec<u8>) + Send + Sync + Clone + 'static,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await;
            let mut i = c;
            while i < total {
                let (m, p, ct, b) = f(i);
                let (code, _) = conn.call(&m, &p, &ct, &b).await;
                assert!(code < 300, "{m} {p} -> {code}");
                i += conns;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .expect("start");
    let addr = sim.addr();
    let base = "/api/v1/namespaces/default/configmaps";
    let json = "application/json".to_string();
    let mut report = Vec::new();

    let j = json.clone();
    report.push((
        "create",
        phase(addr, 4, n, move |i| {
            ("POST".into(), base.into(), j.clone(), cm(i).into_bytes())
        })
        .await,
    ));
    let j = json.clone();
    report.push((
        "get",
        phase(addr, 4, n * 2, move |i| {
            (
                "GET".into(),
                format!("{base}/cm-{}", i % n),
                j.clone(),
                Vec::new(),
            )
        })
        .await,
    ));
    let j = json.clone();
    report.push((
        "list (selector, ~n/10 items)",
        phase(addr, 4, 200, move |i| {
            (
                "GET".into(),
                format!("{base}?labelSelector=n%3D{}", i % 10),
                j.clone(),
                Vec::new(),
            )
        })
        .await,
    ));
    report.push((
        "apply (server-side)",
        phase(addr, 4, n, move |i| {
            (
                "PATCH".into(),
                format!("{base}/cm-{i}?fieldManager=bench&force=true"),
                "application/apply-patch+yaml".into(),
                cm(i).replace("\"v", "\"w").into_bytes(),
            )
        })
        .await,
    ));

    // watch fan-out: W watchers, n/4 writes, count delivered events
    let watchers = 50;
    let writes = n / 4;
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let mut conn = Conn::open(addr).await;
        conn.0.get_mut().write_all(format!("GET {base}?watch=true&resourceVersion={}&timeoutSeconds=60 HTTP/1.1\r\nHost: x\r\n\r\n", sim.resource_version()).as_bytes()).await.expect("watch");
        handles.push(tokio::spawn(async move {
            let mut seen = 0;
            let mut line = String::new();
            while seen < writes {
                line.clear();
                match tokio::time::timeout(Duration::from_secs(30), conn.0.read_line(&mut line))
                    .await
                {
                    Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => {
                        if line.contains("\"MODIFIED\"") {
                            seen += 1;
                        }
                    }
                }
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    let j = json.clone();
    phase(addr, 2, writes, move |i| {
        (
            "PATCH".into(),
            format!("{base}/cm-{i}"),
            "application/merge-patch+json".into(),
            format!(r#"{{"data":{{"k":"x{i}"}}}}"#).into_bytes(),
        )
    })
    .await;
    let _ = j;
    let mut delivered = 0;
    for h in handles {
        delivered += h.await.expect("watcher");
    }
    report.push((
        "watch fan-out (events delivered)",
        delivered as f64 / start.elapsed().as_secs_f64(),
    ));

    for (name, rps) in report {
        #[allow(clippy::print_stdout)] // the benchmark's report
        {
            println!("{name:<34} {rps:>10.0} /s");
        }
    }
    sim.shutdown().await;
}
