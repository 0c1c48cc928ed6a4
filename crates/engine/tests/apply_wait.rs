//! The engine on its own against the API simulator: manifests mapped through discovery, applied
//! server-side, waited for by watching (ready, or failing fast), deleted and waited gone.

use std::time::{Duration, Instant};

use ferry_engine::{Cluster, ClusterError, Event, Progress, WaitRules};

const MANIFEST: &str = "---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:IMAGE_TAG
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: web-reader
rules: []
";

async fn cluster() -> (kubesim::Sim, Cluster) {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = ferry_testsupport::kube_client(&sim.kubeconfig()).await;
    let cluster = Cluster::new(client).await.unwrap();
    (sim, cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_waits_until_ready_and_deletes() {
    let (sim, c) = cluster().await;
    let objs = c
        .objects(&MANIFEST.replace("IMAGE_TAG", "1.27"), "apps")
        .await
        .unwrap();
    let ids: Vec<String> = objs.iter().map(|o| o.id()).collect();
    assert_eq!(ids.len(), 3, "three documents, three objects: {ids:?}");
    let role = objs.iter().find(|o| o.ar.kind == "ClusterRole").unwrap();
    assert_eq!(role.ns, None, "cluster-scoped, from discovery");
    let cm = objs.iter().find(|o| o.ar.kind == "ConfigMap").unwrap();
    assert_eq!(cm.ns.as_deref(), Some("apps"), "defaulted to the namespace");

    c.ensure_namespace("apps").await.unwrap();
    for o in &objs {
        c.apply(o, "ferry-test", false).await.unwrap();
    }
    assert_eq!(
        sim.get("", "configmaps", "apps", "settings").unwrap()["data"]["mode"],
        "fast"
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    c.wait_ready(
        &objs,
        Duration::from_secs(60),
        WaitRules::default(),
        &Progress::channel(tx),
    )
    .await
    .unwrap();
    let live = sim.get("apps", "deployments", "apps", "web").unwrap();
    assert_eq!(
        live["status"]["readyReplicas"], 2,
        "ready means ready: {live}"
    );
    let mut ready = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::Ready { object } = e {
            ready.push(object);
        }
    }
    assert!(
        ready.iter().any(|o| o.contains("web")),
        "the Deployment was reported ready: {ready:?}"
    );

    for o in &objs {
        assert!(c.delete(o).await.unwrap(), "{} existed", o.id());
    }
    assert!(!c.delete(&objs[0]).await.unwrap(), "already gone");
    c.wait_deleted(&objs, Duration::from_secs(30), &Progress::default())
        .await
        .unwrap();
    assert!(sim.get("apps", "deployments", "apps", "web").is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_rollout_fails_the_wait_long_before_the_timeout() {
    let (sim, c) = cluster().await;
    c.ensure_namespace("apps").await.unwrap();
    let objs = c
        .objects(&MANIFEST.replace("IMAGE_TAG", "fail"), "apps")
        .await
        .unwrap();
    for o in &objs {
        c.apply(o, "ferry-test", false).await.unwrap();
    }
    let start = Instant::now();
    let err = c
        .wait_ready(
            &objs,
            Duration::from_secs(120),
            WaitRules::default(),
            &Progress::default(),
        )
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "fast failure, not the 120s timeout: {:?}",
        start.elapsed()
    );
    let ClusterError::Wait(msg) = &err else {
        panic!("a wait error: {err}");
    };
    assert!(msg.contains("web"), "names the object: {msg}");
    assert!(msg.contains("CrashLoopBackOff"), "names the reason: {msg}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_are_refused_with_their_document() {
    let (sim, c) = cluster().await;
    let err = c
        .objects(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
            "default",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::Mapping(_)), "{err}");
    assert!(err.to_string().contains("Widget"), "{err}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_wait_accepts_a_rollout_within_max_unavailable_the_watcher_does_not() {
    let (sim, c) = cluster().await;
    c.ensure_namespace("apps").await.unwrap();
    // every pod may be unavailable, and pods take 3s to become ready
    let manifest = MANIFEST.replace("IMAGE_TAG", "1.27").replace(
        "  template:\n    metadata:\n      labels: {app: web}\n",
        "  strategy:\n    rollingUpdate: {maxUnavailable: 100%}\n  template:\n    metadata:\n      labels: {app: web}\n      annotations: {sim.ferry.dev/ready-after: 3s}\n",
    );
    let objs = c.objects(&manifest, "apps").await.unwrap();
    for o in &objs {
        c.apply(o, "ferry-test", false).await.unwrap();
    }
    let legacy = WaitRules {
        legacy: true,
        ..WaitRules::default()
    };
    let start = Instant::now();
    c.wait_ready(&objs, Duration::from_secs(60), legacy, &Progress::default())
        .await
        .unwrap();
    let legacy_took = start.elapsed();
    let live = sim.get("apps", "deployments", "apps", "web").unwrap();
    assert_ne!(
        live["status"]["readyReplicas"], 2,
        "Helm 3's rules did not wait for the pods: {legacy_took:?}"
    );
    c.wait_ready(
        &objs,
        Duration::from_secs(60),
        WaitRules::default(),
        &Progress::default(),
    )
    .await
    .unwrap();
    let live = sim.get("apps", "deployments", "apps", "web").unwrap();
    assert_eq!(
        live["status"]["readyReplicas"], 2,
        "the watcher waits for every pod"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    sim.shutdown().await;
}
