//! The API semantics, in process, over plain HTTP (no external tools needed).

use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

/// One request with `Connection: close`; returns (status, headers text, body).
async fn req(
    sim: &kubesim::Sim,
    method: &str,
    path: &str,
    ct: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    timeout(T, async {
        let mut s = TcpStream::connect(sim.addr()).await.unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let mut body = buf[split + 4..].to_vec();
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        (status, head, body)
    })
    .await
    .expect("request finished in time")
}

fn dechunk(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = b[i..].windows(2).position(|w| w == b"\r\n") {
        let n =
            usize::from_str_radix(std::str::from_utf8(&b[i..i + p]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + p + 2..i + p + 2 + n]);
        i += p + 2 + n + 2;
    }
    out
}

async fn call(sim: &kubesim::Sim, method: &str, path: &str, body: Value) -> (u16, Value) {
    let ct = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let raw = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (code, _, b) = req(sim, method, path, ct, &raw).await;
    (code, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": "a"}}, "data": {"k": "v"}})
}

#[tokio::test]
async fn crud_conflicts_selectors_and_status_bodies() {
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let base = "/api/v1/namespaces/default/configmaps";
    let (code, created) = call(&sim, "POST", base, cm("one")).await;
    assert_eq!(code, 201);
    assert!(
        created["metadata"].get("generation").is_none(),
        "ConfigMaps have no generation"
    );
    let (code, dup) = call(&sim, "POST", base, cm("one")).await;
    assert_eq!((code, dup["reason"].as_str()), (409, Some("AlreadyExists")));
    assert_eq!(dup["details"]["kind"], "configmaps");

    // optimistic concurrency
    let mut stale = created.clone();
    stale["data"]["k"] = json!("w");
    let (code, _) = call(&sim, "PUT", &format!("{base}/one"), stale.clone()).await;
    assert_eq!(code, 200);
    let (code, conflict) = call(&sim, "PUT", &format!("{base}/one"), stale).await;
    assert_eq!((code, conflict["reason"].as_str()), (409, Some("Conflict")));

    // namespaced object in a missing namespace
    let (code, nf) = call(&sim, "POST", "/api/v1/namespaces/nope/configmaps", cm("x")).await;
    assert_eq!(
        (code, nf["message"].as_str()),
        (404, Some("namespaces \"nope\" not found"))
    );

    // dry run does not persist
    let (code, _) = call(&sim, "POST", &format!("{base}?dryRun=All"), cm("dry")).await;
    assert_eq!(code, 201);
    assert!(sim.get("", "configmaps", "default", "dry").is_none());

    // selectors
    let mut other = cm("two");
    other["metadata"]["labels"]["app"] = json!("b");
    call(&sim, "POST", base, other).await;
    let (_, list) = call(
        &sim,
        "GET",
        &format!("{base}?labelSelector=app%3Db"),
        Value::Null,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["metadata"]["resourceVersion"].as_str().is_some());
    let (_, list) = call(
        &sim,
        "GET",
        &format!("{base}?fieldSelector=metadata.name%3Done"),
        Value::Null,
    )
    .await;
    assert_eq!(list["items"][0]["metadata"]["name"], "one");

    // strict field validation
    let mut bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"bogus": 1, "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    let (code, e) = call(
        &sim,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict",
        bad.clone(),
    )
    .await;
    assert_eq!(
        (code, e["message"].as_str()),
        (
            400,
            Some(
                "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.bogus\""
            )
        )
    );
    bad["spec"].as_object_mut().unwrap().remove("bogus");
    let (code, d) = call(
        &sim,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        bad,
    )
    .await;
    assert_eq!((code, d["metadata"]["generation"].as_i64()), (201, Some(1)));
    let (_, d) = call(
        &sim,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/d",
        json!({"spec": {"replicas": 4}}),
    )
    .await;
    assert_eq!(
        d["metadata"]["generation"], 2,
        "a spec change bumps generation"
    );
    let (_, scale) = call(
        &sim,
        "GET",
        "/apis/apps/v1/namespaces/default/deployments/d/scale",
        Value::Null,
    )
    .await;
    assert_eq!(
        (
            scale["kind"].as_str(),
            scale["spec"]["replicas"].as_i64(),
            scale["status"]["selector"].as_str()
        ),
        (Some("Scale"), Some(4), Some("a=b"))
    );

    // SSA requires a field manager
    let (code, _, _) = req(
        &sim,
        "PATCH",
        &format!("{base}/one"),
        "application/apply-patch+yaml",
        cm("one").to_string().as_bytes(),
    )
    .await;
    assert_eq!(code, 422);
    let (code, _, b) = req(
        &sim,
        "PATCH",
        &format!("{base}/three?fieldManager=me"),
        "application/apply-patch+yaml",
        cm("three").to_string().as_bytes(),
    )
    .await;
    let three: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        (
            code,
            three["metadata"]["managedFields"][0]["manager"].as_str()
        ),
        (201, Some("me"))
    );

    let (code, st) = call(
        &sim,
        "DELETE",
        &format!("{base}/one"),
        json!({"propagationPolicy": "Background"}),
    )
    .await;
    assert_eq!((code, st["status"].as_str()), (200, Some("Success")));
    let (code, _) = call(&sim, "GET", &format!("{base}/one"), Value::Null).await;
    assert_eq!(code, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn protobuf_secret_bodies_as_helm_sends_them() {
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    fn field(n: u8, payload: &[u8]) -> Vec<u8> {
        [vec![(n << 3) | 2, payload.len() as u8], payload.to_vec()].concat()
    }
    let entry = |k: &str, v: &[u8]| [field(1, k.as_bytes()), field(2, v)].concat();
    let meta = [
        field(1, b"sh.helm.release.v1.x.v1"),
        field(11, &entry("owner", b"helm")),
    ]
    .concat();
    let secret = [
        field(1, &meta),
        field(2, &entry("release", b"\x00\x01bin")),
        field(3, b"helm.sh/release.v1"),
    ]
    .concat();
    let tm = [field(1, b"v1"), field(2, b"Secret")].concat();
    let body = [b"k8s\0".to_vec(), field(1, &tm), field(2, &secret)].concat();
    let (code, _, b) = req(
        &sim,
        "POST",
        "/api/v1/namespaces/default/secrets",
        "application/vnd.kubernetes.protobuf",
        &body,
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&b));
    let s = sim
        .get("", "secrets", "default", "sh.helm.release.v1.x.v1")
        .unwrap();
    assert_eq!(s["data"]["release"], "AAFiaW4=");
    assert_eq!(s["metadata"]["labels"]["owner"], "helm");
    assert_eq!(s["type"], "helm.sh/release.v1");
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_list_sends_initial_events_then_bookmark_then_changes() {
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    call(
        &sim,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        cm("a"),
    )
    .await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps?labelSelector=app%3Da&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeoutSeconds=5&watch=true";
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut r = BufReader::new(s);
    let mut events = Vec::new();
    let mut line = String::new();
    let read = async {
        loop {
            line.clear();
            if r.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            if let Ok(v) = serde_json::from_str::<Value>(line.trim()) {
                events.push(v.clone());
                if v["type"] == "BOOKMARK" {
                    call(
                        &sim,
                        "POST",
                        "/api/v1/namespaces/default/configmaps",
                        cm("b"),
                    )
                    .await;
                }
                if events.len() == 3 {
                    break;
                }
            }
        }
    };
    timeout(T, read).await.expect("events in time");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "BOOKMARK", "ADDED"]);
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(events[2]["object"]["metadata"]["name"], "b");

    // a resourceVersion older than the log answers 410 Expired as an ERROR event
    let small = kubesim::Sim::start(kubesim::Config {
        watch_history: 2,
        controllers: false,
        ..Default::default()
    })
    .await
    .unwrap();
    for n in ["x", "y", "z", "w"] {
        call(
            &small,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            cm(n),
        )
        .await;
    }
    let (code, _, body) = req(
        &small,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1",
        "application/json",
        b"",
    )
    .await;
    let ev: Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        (
            code,
            ev["type"].as_str(),
            ev["object"]["code"].as_i64(),
            ev["object"]["reason"].as_str()
        ),
        (200, Some("ERROR"), Some(410), Some("Expired"))
    );
    small.shutdown().await;
    sim.shutdown().await;
}

async fn wait_for(sim: &kubesim::Sim, what: &str, f: impl Fn(&kubesim::Sim) -> bool) {
    for _ in 0..100 {
        if f(sim) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn jobs_complete_or_fail_and_namespaces_cascade() {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    call(
        &sim,
        "POST",
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jobs"}}),
    )
    .await;
    let job = |name: &str, image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]}}}})
    };
    let (code, _) = call(
        &sim,
        "POST",
        "/apis/batch/v1/namespaces/jobs/jobs",
        job("ok", "busybox:1"),
    )
    .await;
    assert_eq!(code, 201);
    call(
        &sim,
        "POST",
        "/apis/batch/v1/namespaces/jobs/jobs",
        job("bad", "busybox:fail"),
    )
    .await;
    let cond = |name: &'static str, ty: &'static str| {
        move |s: &kubesim::Sim| {
            s.get("batch", "jobs", "jobs", name).is_some_and(|j| {
                j["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == ty && c["status"] == "True"))
            })
        }
    };
    wait_for(&sim, "job ok Complete", cond("ok", "Complete")).await;
    wait_for(&sim, "job bad Failed", cond("bad", "Failed")).await;
    assert_eq!(
        sim.get("batch", "jobs", "jobs", "bad").unwrap()["status"]["failed"],
        2,
        "backoffLimit 1 = two tries"
    );

    // deleting the namespace removes what is in it, then the namespace
    let (code, ns) = call(&sim, "DELETE", "/api/v1/namespaces/jobs", Value::Null).await;
    assert_eq!(
        (code, ns["status"]["phase"].as_str()),
        (200, Some("Terminating"))
    );
    wait_for(&sim, "namespace gone", |s| {
        s.get("", "namespaces", "", "jobs").is_none()
    })
    .await;
    assert!(sim.list("", "pods", Some("jobs")).is_empty());
    assert!(sim.list("batch", "jobs", Some("jobs")).is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubesim::Config {
        state_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let sim = kubesim::Sim::start(config.clone()).await.unwrap();
    call(
        &sim,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        cm("kept"),
    )
    .await;
    let rv = sim.resource_version();
    sim.shutdown().await;
    let sim = kubesim::Sim::start(config).await.unwrap();
    assert!(sim.get("", "configmaps", "default", "kept").is_some());
    assert!(sim.resource_version() >= rv);
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_faults_answer_with_status_and_retry_after() {
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    sim.set_faults(vec![kubesim::FaultRule {
        path_contains: "/configmaps".into(),
        status: Some(429),
        retry_after: Some(1),
        remaining: Some(1),
        ..Default::default()
    }]);
    let (code, head, _) = req(
        &sim,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        b"",
    )
    .await;
    assert_eq!(code, 429);
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    let (code, _, _) = req(
        &sim,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        b"",
    )
    .await;
    assert_eq!(code, 200, "the rule applied once");

    // a reset connection gets no answer at all
    sim.set_faults(vec![kubesim::FaultRule {
        path_contains: "/secrets".into(),
        reset: true,
        ..Default::default()
    }]);
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"GET /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = timeout(T, s.read_to_end(&mut buf))
        .await
        .expect("closed in time");
    assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));

    // dropped watches end early; the client re-watches
    sim.set_faults(vec![kubesim::FaultRule {
        path_contains: "/configmaps".into(),
        drop_watch_after: Some(Duration::from_millis(200)),
        ..Default::default()
    }]);
    let start = std::time::Instant::now();
    let (code, _, _) = req(
        &sim,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=30",
        "application/json",
        b"",
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the watch was dropped early"
    );
    sim.set_faults(Vec::new());
    sim.shutdown().await;
}

#[tokio::test]
async fn workloads_roll_out_and_report_failures() {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let tmpl = |image: &str| json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": image}]}});
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "x"}}, "template": tmpl("postgres:16"),
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
    assert_eq!(
        call(
            &sim,
            "POST",
            "/apis/apps/v1/namespaces/default/statefulsets",
            sts
        )
        .await
        .0,
        201
    );
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": tmpl("agent:1")}});
    assert_eq!(
        call(
            &sim,
            "POST",
            "/apis/apps/v1/namespaces/default/daemonsets",
            ds
        )
        .await
        .0,
        201
    );
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
        "spec": {"progressDeadlineSeconds": 1, "selector": {"matchLabels": {"app": "x"}}, "template": tmpl("nginx:fail")}});
    assert_eq!(
        call(
            &sim,
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            bad
        )
        .await
        .0,
        201
    );

    wait_for(&sim, "statefulset ready", |s| {
        s.get("apps", "statefulsets", "default", "db")
            .is_some_and(|o| o["status"]["readyReplicas"] == 2)
    })
    .await;
    assert!(
        sim.get("", "pods", "default", "db-0").is_some()
            && sim.get("", "pods", "default", "db-1").is_some()
    );
    assert_eq!(
        sim.get("", "persistentvolumeclaims", "default", "data-db-0")
            .unwrap()["status"]["phase"],
        "Bound"
    );
    wait_for(&sim, "daemonset on every node", |s| {
        s.get("apps", "daemonsets", "default", "agent")
            .is_some_and(|o| o["status"]["numberReady"] == 3)
    })
    .await;
    wait_for(&sim, "progress deadline exceeded", |s| {
        s.get("apps", "deployments", "default", "bad")
            .is_some_and(|d| {
                d["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter().any(|c| {
                        c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded"
                    })
                })
            })
    })
    .await;
    let pods = sim.list("", "pods", Some("default"));
    let crashing = pods
        .iter()
        .find(|p| p["metadata"]["name"].as_str().unwrap().starts_with("bad-"))
        .unwrap();
    assert_eq!(
        crashing["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    assert!(
        sim.list("", "events", Some("default"))
            .iter()
            .any(|e| e["reason"] == "BackOff")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn deletion_propagation_foreground_and_orphan() {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let deploy = |name: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}})
    };
    for n in ["fg", "orphan"] {
        call(
            &sim,
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            deploy(n),
        )
        .await;
    }
    let owned = |s: &kubesim::Sim, app: &str| {
        s.list("apps", "replicasets", Some("default"))
            .into_iter()
            .filter(|r| r["metadata"]["labels"]["app"] == app)
            .count()
    };
    wait_for(&sim, "replica sets", |s| {
        owned(s, "fg") == 1 && owned(s, "orphan") == 1
    })
    .await;

    let (code, d) = call(
        &sim,
        "DELETE",
        "/apis/apps/v1/namespaces/default/deployments/fg",
        json!({"propagationPolicy": "Foreground"}),
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        d["metadata"]["deletionTimestamp"].is_string(),
        "foreground deletion keeps the owner until dependents are gone"
    );
    assert_eq!(d["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    wait_for(&sim, "foreground deletion done", |s| {
        s.get("apps", "deployments", "default", "fg").is_none() && owned(s, "fg") == 0
    })
    .await;

    call(
        &sim,
        "DELETE",
        "/apis/apps/v1/namespaces/default/deployments/orphan",
        json!({"propagationPolicy": "Orphan"}),
    )
    .await;
    wait_for(&sim, "owner gone", |s| {
        s.get("apps", "deployments", "default", "orphan").is_none()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rs: Vec<Value> = sim
        .list("apps", "replicasets", Some("default"))
        .into_iter()
        .filter(|r| r["metadata"]["labels"]["app"] == "orphan")
        .collect();
    assert_eq!(rs.len(), 1, "orphaned ReplicaSet stays");
    assert!(
        rs[0]["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn services_get_endpoints_and_endpointslices_of_ready_pods() {
    let sim = kubesim::Sim::start(kubesim::Config {
        ready_after: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}});
    assert_eq!(
        call(&sim, "POST", "/api/v1/namespaces/default/services", svc)
            .await
            .0,
        201
    );
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}});
    assert_eq!(
        call(&sim, "POST", "/api/v1/namespaces/default/pods", pod)
            .await
            .0,
        201
    );
    let ready_slice = |s: &kubesim::Sim| {
        s.get("discovery.k8s.io", "endpointslices", "default", "web-sim")
            .is_some_and(|es| es.pointer("/endpoints/0/conditions/ready") == Some(&json!(true)))
    };
    wait_for(&sim, "a ready endpoint in the slice", ready_slice).await;
    let es = sim
        .get("discovery.k8s.io", "endpointslices", "default", "web-sim")
        .unwrap();
    assert_eq!(
        es["metadata"]["labels"]["kubernetes.io/service-name"],
        "web"
    );
    assert_eq!(es["addressType"], "IPv4");
    // Slices carry the Pods' port (the targetPort), as the endpointslice controller writes.
    assert_eq!(
        es["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(es["endpoints"][0]["targetRef"]["name"], "web-0");
    let ep = sim.get("", "endpoints", "default", "web").unwrap();
    assert_eq!(
        ep["subsets"][0]["addresses"][0]["targetRef"]["name"],
        "web-0"
    );
    // The slice is listed through the API by its service label, as kube-proxy reads it.
    let (code, list) = call(
        &sim,
        "GET",
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb",
        Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    // Deleting the Service garbage-collects its slice.
    let (code, _) = call(
        &sim,
        "DELETE",
        "/api/v1/namespaces/default/services/web",
        Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    wait_for(&sim, "the slice to be collected", |s| {
        s.get("discovery.k8s.io", "endpointslices", "default", "web-sim")
            .is_none()
    })
    .await;
}
