//! Benchmark: install and upgrade (`--wait`) of a generated 200-object chart on the API
//! simulator, ferry beside real Helm (the oracle, Helm 4's Go SDK), same machine, same run:
//! wall time and API requests. `cargo run --release -p ferry --example bench_release`
//! (`cargo xtask bench` runs it).

use std::path::Path;
use std::time::{Duration, Instant};

use ferry::action::{Client, UpgradeRequest};
use ferry::release::storage::Driver;

const GROUPS: usize = 50; // × (Deployment, Service, ConfigMap, Secret) = 200 objects

fn write_chart(dir: &Path) {
    let t = dir.join("templates");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: big\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("values.yaml"),
        format!("groups: {GROUPS}\ntag: \"1\"\nsetting: a\n"),
    )
    .unwrap();
    std::fs::write(
        t.join("all.yaml"),
        r#"{{- range $i := until (int .Values.groups) }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{{ $i }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: app-{{ $i }}}
  template:
    metadata:
      labels: {app: app-{{ $i }}}
    spec:
      containers:
        - name: app
          image: "nginx:{{ $.Values.tag }}"
---
apiVersion: v1
kind: Service
metadata:
  name: app-{{ $i }}
spec:
  selector: {app: app-{{ $i }}}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-{{ $i }}
data:
  setting: {{ $.Values.setting | quote }}
---
apiVersion: v1
kind: Secret
metadata:
  name: app-{{ $i }}
stringData:
  password: secret-{{ $i }}
{{- end }}
"#,
    )
    .unwrap();
}

struct Run {
    install: Duration,
    install_requests: u64,
    upgrade: Duration,
    upgrade_requests: u64,
}

async fn sim() -> kubesim::Sim {
    kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap()
}

async fn ferry_run(chart_dir: &Path) -> Run {
    let sim = sim().await;
    let chart = ferry::chart::load(chart_dir).unwrap();
    let kube = ferry_testsupport::kube_client(&sim.kubeconfig()).await;
    let client = Client::from_kube(kube, "default", Driver::Secret)
        .await
        .unwrap();
    let req = |vals: &str| UpgradeRequest {
        install: true,
        wait: true,
        values: ferry::chart::yaml::parse_values(vals).unwrap(),
        ..UpgradeRequest::new("big", chart.clone(), "default")
    };
    let r0 = sim.requests();
    let t = Instant::now();
    client.upgrade(req("{}")).await.unwrap();
    let install = t.elapsed();
    let r1 = sim.requests();
    let t = Instant::now();
    client
        .upgrade(req("{tag: \"2\", setting: b}"))
        .await
        .unwrap();
    let upgrade = t.elapsed();
    let r2 = sim.requests();
    sim.shutdown().await;
    Run {
        install,
        install_requests: r1 - r0,
        upgrade,
        upgrade_requests: r2 - r1,
    }
}

async fn helm_run(chart_dir: &Path, oracle: &Path) -> (Run, Duration) {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let kc = kc.to_str().unwrap();
    let chart = chart_dir.to_str().unwrap();
    let limit = Duration::from_secs(600);
    let helm = |args: Vec<&str>| {
        let mut all = vec!["release", "--kubeconfig", kc, "-n", "default"];
        all.extend(args);
        let all: Vec<String> = all.into_iter().map(String::from).collect();
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            let t = Instant::now();
            let o = ferry_testsupport::run(oracle, &refs, &[], limit).await;
            assert!(o.ok, "helm failed: {}", o.stderr);
            t.elapsed()
        }
    };
    // The oracle's own start-up (Python + loading Helm's library), measured to be subtracted.
    let overhead = helm(vec!["list"]).await;
    let r0 = sim.requests();
    let install = helm(vec!["install", "big", chart, "--wait", "--timeout", "300"]).await;
    let r1 = sim.requests();
    let upgrade = helm(vec![
        "upgrade",
        "big",
        chart,
        "--wait",
        "--timeout",
        "300",
        "--set",
        "tag=2",
        "--set",
        "setting=b",
    ])
    .await;
    let r2 = sim.requests();
    sim.shutdown().await;
    (
        Run {
            install,
            install_requests: r1 - r0,
            upgrade,
            upgrade_requests: r2 - r1,
        },
        overhead,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    println!(
        "chart: {GROUPS} Deployments, Services, ConfigMaps, Secrets (200 objects); Pods ready after 500ms"
    );
    let f = ferry_run(dir.path()).await;
    println!(
        "ferry: install --wait {:>8.0} ms, {:>5} requests | upgrade --wait {:>8.0} ms, {:>5} requests",
        f.install.as_secs_f64() * 1e3,
        f.install_requests,
        f.upgrade.as_secs_f64() * 1e3,
        f.upgrade_requests
    );
    let Some(oracle) = ferry_testsupport::helm_oracle() else {
        println!("helm: not measured (run ../shared/tools/setup-oracle)");
        return;
    };
    let (h, overhead) = helm_run(dir.path(), &oracle).await;
    let net = |d: Duration| d.saturating_sub(overhead);
    println!(
        "helm:  install --wait {:>8.0} ms, {:>5} requests | upgrade --wait {:>8.0} ms, {:>5} requests (process start-up {:.0} ms subtracted)",
        net(h.install).as_secs_f64() * 1e3,
        h.install_requests,
        net(h.upgrade).as_secs_f64() * 1e3,
        h.upgrade_requests,
        overhead.as_secs_f64() * 1e3
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!(
        "ratio (helm / ferry): install {:.1}x time, {:.1}x requests | upgrade {:.1}x time, {:.1}x requests",
        ratio(net(h.install), f.install),
        h.install_requests as f64 / f.install_requests.max(1) as f64,
        ratio(net(h.upgrade), f.upgrade),
        h.upgrade_requests as f64 / f.upgrade_requests.max(1) as f64
    );
}
