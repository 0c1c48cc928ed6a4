//! Simulated controllers and kubelet, so that waiting is real: Deployments roll out through
//! ReplicaSets to Pods, Pods become Ready after a delay, Jobs complete or fail, Services get
//! addresses, PVCs bind, namespaces and owner references cascade.

use crate::registry::ResourceType;
use crate::selector::LabelSelector;
use crate::server::Shared;
use crate::store::{State, WriteOpts};
use crate::util::{self, hash_value, int_at, str_at};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The annotation that sets a Pod's ready delay (on the Pod, its template, or its owner).
pub const READY_AFTER: &str = "sim.ferry.dev/ready-after";

const INTERNAL: WriteOpts = WriteOpts {
    dry_run: false,
    subresource: None,
    internal: true,
};

/// Runs the controllers until the simulator stops.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut ctl = Ctl::default();
    let mut stop = shared.stop.clone();
    let mut last_rv = 0u64;
    loop {
        tokio::select! {
            _ = shared.notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.changed() => return,
        }
        // coalesce bursts of writes: at most ~20 passes a second
        tokio::time::sleep(Duration::from_millis(40)).await;
        let mut st = shared.write();
        if st.rv == last_rv && !ctl.timed_work {
            continue;
        }
        ctl.timed_work = false;
        for _ in 0..4 {
            let before = st.rv;
            ctl.reconcile(&mut st, &shared.config);
            if st.rv == before {
                break;
            }
        }
        last_rv = st.rv;
    }
}

#[derive(Default)]
struct Ctl {
    /// When each object (by uid) was first seen, for time-based transitions.
    born: HashMap<String, Instant>,
    /// Deployments: (uid, status signature) and when it last changed, for progress deadlines.
    progress: HashMap<String, (String, Instant)>,
    /// Set when something will change with time alone.
    timed_work: bool,
    events: HashSet<String>,
    passes: u64,
}

fn name_of(o: &Value) -> String {
    str_at(o, &["metadata", "name"]).to_string()
}

fn ns_of(o: &Value) -> String {
    str_at(o, &["metadata", "namespace"]).to_string()
}

fn uid_of(o: &Value) -> String {
    str_at(o, &["metadata", "uid"]).to_string()
}

fn deleting(o: &Value) -> bool {
    o.pointer("/metadata/deletionTimestamp").is_some()
}

fn controller_uid(o: &Value) -> Option<&str> {
    o.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
        .and_then(|r| r["uid"].as_str())
}

fn owner_ref(owner: &Value, kind: &str, api_version: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name_of(owner), "uid": uid_of(owner), "controller": true, "blockOwnerDeletion": true})
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn write(st: &mut State, rt: &ResourceType, obj: Value) {
    let ns = ns_of(&obj);
    let name = name_of(&obj);
    let _ = st.update(rt, &ns, &name, obj, &INTERNAL);
}

/// Sets a condition, keeping timestamps when nothing about it changed.
fn set_condition(
    obj: &mut Value,
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
    update_time: bool,
) {
    let now = util::now();
    let conds = util::obj_mut(obj, &["status"])
        .entry("conditions")
        .or_insert(json!([]));
    if !conds.is_array() {
        *conds = json!([]);
    }
    let arr = conds.as_array_mut().expect("array");
    let mut c = json!({"type": ty, "status": status, "lastTransitionTime": now, "reason": reason, "message": message});
    if update_time {
        c["lastUpdateTime"] = json!(now);
    }
    match arr.iter_mut().find(|x| x["type"] == ty) {
        Some(existing) => {
            if existing["status"] == status {
                c["lastTransitionTime"] = existing["lastTransitionTime"].clone();
                if existing["reason"] == reason && existing["message"] == message && update_time {
                    c["lastUpdateTime"] = existing["lastUpdateTime"].clone();
                }
            }
            *existing = c;
        }
        None => arr.push(c),
    }
}

fn time_after(created: &str, d: Duration) -> String {
    match util::parse_rfc3339(created) {
        Some(s) => util::rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s.max(0) as u64) + d),
        None => util::now(),
    }
}

fn annotation<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.pointer("/metadata/annotations")?.get(key)?.as_str()
}

/// Whether a container image has the tag `fail`.
fn image_fails(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last.split('@').next().unwrap_or(last);
    tag.rsplit_once(':').is_some_and(|(_, t)| t == "fail")
}

impl Ctl {
    fn reconcile(&mut self, st: &mut State, cfg: &crate::Config) {
        self.namespaces(st);
        self.crd_cleanup(st);
        self.garbage_collect(st);
        self.deployments(st, cfg);
        self.replica_sets(st);
        self.stateful_sets(st);
        self.daemon_sets(st);
        self.jobs(st);
        self.pods(st, cfg);
        self.services(st, cfg);
        self.pvcs(st);
        self.passes += 1;
        if !self.passes.is_multiple_of(50) {
            return;
        }
        let live: HashSet<String> = st
            .tables
            .values()
            .flat_map(|t| t.values().map(uid_of))
            .collect();
        self.born.retain(|k, _| live.contains(k));
        self.progress.retain(|k, _| live.contains(k));
    }

    fn pods_of<'a>(st: &'a State, ns: &str, owner_uid: &str) -> Vec<&'a Value> {
        let rt = st.rt("", "pods");
        st.list(&rt, Some(ns))
            .into_iter()
            .filter(|p| controller_uid(p) == Some(owner_uid))
            .collect()
    }

    /// Creates a Pod from a template for an owner.
    fn create_pod(
        st: &mut State,
        owner: &Value,
        kind: &str,
        api_version: &str,
        name: String,
        extra_labels: &[(&str, String)],
        node: Option<String>,
    ) {
        let tmpl = owner
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(json!({}));
        let mut meta = tmpl.get("metadata").cloned().unwrap_or(json!({}));
        let meta_m = meta.as_object_mut().expect("object");
        meta_m.insert("name".into(), json!(name));
        meta_m.insert("namespace".into(), json!(ns_of(owner)));
        meta_m.insert(
            "ownerReferences".into(),
            json!([owner_ref(owner, kind, api_version)]),
        );
        for (k, v) in extra_labels {
            util::obj_mut(&mut meta, &["labels"]).insert(k.to_string(), json!(v));
        }
        if let Some(ra) = annotation(owner, READY_AFTER) {
            util::obj_mut(&mut meta, &["annotations"])
                .entry(READY_AFTER)
                .or_insert(json!(ra));
        }
        let mut spec = tmpl.get("spec").cloned().unwrap_or(json!({}));
        if let Some(n) = node {
            spec["nodeName"] = json!(n);
        }
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
        let rt = st.rt("", "pods");
        let _ = st.create(&rt, &ns_of(owner), pod, &INTERNAL);
    }

    fn deployments(&mut self, st: &mut State, _cfg: &crate::Config) {
        let drt = st.rt("apps", "deployments");
        let rsrt = st.rt("apps", "replicasets");
        let deps: Vec<Value> = st
            .list(&drt, None)
            .into_iter()
            .filter(|d| !deleting(d))
            .cloned()
            .collect();
        for d in deps {
            if d.pointer("/spec/paused") == Some(&json!(true)) {
                continue;
            }
            let ns = ns_of(&d);
            let uid = uid_of(&d);
            let replicas = int_at(&d, &["spec", "replicas"]).unwrap_or(1);
            let tmpl = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let hash = hash_value(&tmpl);
            let owned: Vec<Value> = st
                .list(&rsrt, Some(&ns))
                .into_iter()
                .filter(|r| controller_uid(r) == Some(uid.as_str()))
                .cloned()
                .collect();
            let max_rev = owned
                .iter()
                .filter_map(|r| {
                    annotation(r, "deployment.kubernetes.io/revision")?
                        .parse::<i64>()
                        .ok()
                })
                .max()
                .unwrap_or(0);
            let new_rs = owned
                .iter()
                .find(|r| {
                    r.pointer("/metadata/labels/pod-template-hash")
                        .and_then(Value::as_str)
                        == Some(hash.as_str())
                })
                .cloned();
            let revision;
            let new_rs = match new_rs {
                Some(mut rs) => {
                    let cur_rev = annotation(&rs, "deployment.kubernetes.io/revision")
                        .and_then(|r| r.parse::<i64>().ok())
                        .unwrap_or(0);
                    revision = if cur_rev < max_rev {
                        max_rev + 1
                    } else {
                        cur_rev
                    };
                    let mut changed = false;
                    if int_at(&rs, &["spec", "replicas"]) != Some(replicas) {
                        rs["spec"]["replicas"] = json!(replicas);
                        changed = true;
                    }
                    if cur_rev != revision {
                        util::obj_mut(&mut rs, &["metadata", "annotations"]).insert(
                            "deployment.kubernetes.io/revision".into(),
                            json!(revision.to_string()),
                        );
                        changed = true;
                    }
                    if changed {
                        write(st, &rsrt, rs.clone());
                    }
                    st.get(&rsrt, &ns, &name_of(&rs)).cloned().unwrap_or(rs)
                }
                None => {
                    revision = max_rev + 1;
                    let mut labels = tmpl
                        .pointer("/metadata/labels")
                        .cloned()
                        .unwrap_or(json!({}));
                    labels["pod-template-hash"] = json!(hash);
                    let mut t2 = tmpl.clone();
                    util::obj_mut(&mut t2, &["metadata"]).insert("labels".into(), labels.clone());
                    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                    util::obj_mut(&mut selector, &["matchLabels"])
                        .insert("pod-template-hash".into(), json!(hash));
                    let mut ann = serde_json::Map::new();
                    if let Some(a) = d
                        .pointer("/metadata/annotations")
                        .and_then(Value::as_object)
                    {
                        for (k, v) in a {
                            if k != "kubectl.kubernetes.io/last-applied-configuration"
                                && k != "deployment.kubernetes.io/revision"
                            {
                                ann.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    ann.insert(
                        "deployment.kubernetes.io/desired-replicas".into(),
                        json!(replicas.to_string()),
                    );
                    ann.insert(
                        "deployment.kubernetes.io/max-replicas".into(),
                        json!((replicas + 1).to_string()),
                    );
                    ann.insert(
                        "deployment.kubernetes.io/revision".into(),
                        json!(revision.to_string()),
                    );
                    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "metadata": {"name": format!("{}-{hash}", name_of(&d)), "namespace": ns, "labels": labels, "annotations": ann,
                            "ownerReferences": [owner_ref(&d, "Deployment", "apps/v1")]},
                        "spec": {"replicas": replicas, "minReadySeconds": d.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0)), "selector": selector, "template": t2}});
                    match st.create(&rsrt, &ns, rs, &INTERNAL) {
                        Ok(v) => v,
                        Err(_) => continue,
                    }
                }
            };
            let new_name = name_of(&new_rs);
            let new_available = int_at(&new_rs, &["status", "availableReplicas"]).unwrap_or(0);
            let olds: Vec<Value> = owned
                .iter()
                .filter(|r| name_of(r) != new_name)
                .cloned()
                .collect();
            if new_available >= replicas {
                for mut o in olds.clone() {
                    if int_at(&o, &["spec", "replicas"]) != Some(0) {
                        o["spec"]["replicas"] = json!(0);
                        write(st, &rsrt, o);
                    }
                }
            }
            // revision history
            let limit = int_at(&d, &["spec", "revisionHistoryLimit"])
                .unwrap_or(10)
                .max(0) as usize;
            let mut idle: Vec<&Value> = olds
                .iter()
                .filter(|o| {
                    int_at(o, &["spec", "replicas"]) == Some(0)
                        && int_at(o, &["status", "replicas"]).unwrap_or(0) == 0
                })
                .collect();
            if idle.len() > limit {
                idle.sort_by_key(|o| {
                    annotation(o, "deployment.kubernetes.io/revision")
                        .and_then(|r| r.parse::<i64>().ok())
                        .unwrap_or(0)
                });
                for o in idle.iter().take(idle.len() - limit) {
                    let _ = st.delete(&rsrt, &ns, &name_of(o), None, None, false);
                }
            }
            // status
            let all: Vec<Value> = st
                .list(&rsrt, Some(&ns))
                .into_iter()
                .filter(|r| controller_uid(r) == Some(uid.as_str()))
                .cloned()
                .collect();
            let sum =
                |path: &[&str]| -> i64 { all.iter().map(|r| int_at(r, path).unwrap_or(0)).sum() };
            let total = sum(&["status", "replicas"]);
            let ready = sum(&["status", "readyReplicas"]);
            let available = sum(&["status", "availableReplicas"]);
            let new_rs = st.get(&rsrt, &ns, &new_name).cloned().unwrap_or(new_rs);
            let updated = int_at(&new_rs, &["status", "replicas"]).unwrap_or(0);
            let new_avail = int_at(&new_rs, &["status", "availableReplicas"]).unwrap_or(0);
            let max_unavailable = pct_or_int(
                d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
                replicas,
                false,
            );
            let mut nd = d.clone();
            let mut changed_meta = false;
            if annotation(&nd, "deployment.kubernetes.io/revision")
                != Some(revision.to_string().as_str())
            {
                util::obj_mut(&mut nd, &["metadata", "annotations"]).insert(
                    "deployment.kubernetes.io/revision".into(),
                    json!(revision.to_string()),
                );
                changed_meta = true;
            }
            let status = util::obj_mut(&mut nd, &["status"]);
            status.insert(
                "observedGeneration".into(),
                d.pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1)),
            );
            status.insert("replicas".into(), json!(total));
            status.insert("updatedReplicas".into(), json!(updated));
            status.insert("readyReplicas".into(), json!(ready));
            status.insert("availableReplicas".into(), json!(available));
            if replicas - available > 0 {
                status.insert("unavailableReplicas".into(), json!(replicas - available));
            } else {
                status.remove("unavailableReplicas");
            }
            for k in [
                "replicas",
                "updatedReplicas",
                "readyReplicas",
                "availableReplicas",
            ] {
                if status.get(k) == Some(&json!(0)) {
                    status.remove(k);
                }
            }
            if available >= replicas - max_unavailable {
                set_condition(
                    &mut nd,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    true,
                );
            } else {
                set_condition(
                    &mut nd,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    true,
                );
            }
            let complete = updated == replicas && new_avail == replicas && total == replicas;
            let sig = format!("{new_name}/{total}/{updated}/{ready}/{available}");
            let now = Instant::now();
            let entry = self
                .progress
                .entry(uid.clone())
                .or_insert((sig.clone(), now));
            if entry.0 != sig {
                *entry = (sig, now);
            }
            let deadline = Duration::from_secs(
                int_at(&d, &["spec", "progressDeadlineSeconds"])
                    .unwrap_or(600)
                    .max(0) as u64,
            );
            if complete {
                set_condition(
                    &mut nd,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{new_name}\" has successfully progressed."),
                    true,
                );
            } else if now.duration_since(entry.1) >= deadline {
                set_condition(
                    &mut nd,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{new_name}\" has timed out progressing."),
                    true,
                );
            } else {
                self.timed_work = true;
                set_condition(
                    &mut nd,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &format!("ReplicaSet \"{new_name}\" is progressing."),
                    true,
                );
            }
            // keep Available before Progressing as the controller writes them
            if let Some(Value::Array(cs)) = nd.pointer_mut("/status/conditions") {
                cs.sort_by_key(|c| if c["type"] == "Available" { 0 } else { 1 });
            }
            if nd != d || changed_meta {
                write(st, &drt, nd);
            }
        }
    }

    fn replica_sets(&mut self, st: &mut State) {
        let rsrt = st.rt("apps", "replicasets");
        let prt = st.rt("", "pods");
        let sets: Vec<Value> = st
            .list(&rsrt, None)
            .into_iter()
            .filter(|r| !deleting(r))
            .cloned()
            .collect();
        for rs in sets {
            let ns = ns_of(&rs);
            let uid = uid_of(&rs);
            let want = int_at(&rs, &["spec", "replicas"]).unwrap_or(1).max(0) as usize;
            let pods: Vec<Value> = Self::pods_of(st, &ns, &uid)
                .into_iter()
                .filter(|p| !deleting(p))
                .cloned()
                .collect();
            if pods.len() < want {
                for _ in pods.len()..want {
                    let name = format!("{}-{}", name_of(&rs), util::rand_suffix(5));
                    Self::create_pod(st, &rs, "ReplicaSet", "apps/v1", name, &[], None);
                }
            } else if pods.len() > want {
                let mut victims = pods.clone();
                victims.sort_by_key(|p| {
                    (
                        pod_ready(p),
                        std::cmp::Reverse(
                            str_at(p, &["metadata", "creationTimestamp"]).to_string(),
                        ),
                    )
                });
                for p in victims.iter().take(pods.len() - want) {
                    let _ = st.delete(&prt, &ns, &name_of(p), None, None, false);
                }
            }
            let pods: Vec<Value> = Self::pods_of(st, &ns, &uid)
                .into_iter()
                .filter(|p| !deleting(p))
                .cloned()
                .collect();
            let ready = pods.iter().filter(|p| pod_ready(p)).count();
            let mut n = rs.clone();
            let s = util::obj_mut(&mut n, &["status"]);
            s.insert("replicas".into(), json!(pods.len()));
            s.insert("fullyLabeledReplicas".into(), json!(pods.len()));
            s.insert("readyReplicas".into(), json!(ready));
            s.insert("availableReplicas".into(), json!(ready));
            s.insert(
                "observedGeneration".into(),
                rs.pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1)),
            );
            for k in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
                if s.get(k) == Some(&json!(0)) {
                    s.remove(k);
                }
            }
            if n != rs {
                write(st, &rsrt, n);
            }
        }
    }

    fn stateful_sets(&mut self, st: &mut State) {
        let srt = st.rt("apps", "statefulsets");
        let prt = st.rt("", "pods");
        let pvcrt = st.rt("", "persistentvolumeclaims");
        let sets: Vec<Value> = st
            .list(&srt, None)
            .into_iter()
            .filter(|r| !deleting(r))
            .cloned()
            .collect();
        for s in sets {
            let ns = ns_of(&s);
            let name = name_of(&s);
            let uid = uid_of(&s);
            let want = int_at(&s, &["spec", "replicas"]).unwrap_or(1).max(0);
            let revision = format!(
                "{name}-{}",
                hash_value(s.pointer("/spec/template").unwrap_or(&Value::Null))
            );
            let parallel = s
                .pointer("/spec/podManagementPolicy")
                .and_then(Value::as_str)
                == Some("Parallel");
            let pods: Vec<Value> = Self::pods_of(st, &ns, &uid).into_iter().cloned().collect();
            let by_name: HashMap<String, &Value> = pods.iter().map(|p| (name_of(p), p)).collect();
            let mut blocked = false;
            for i in 0..want {
                let pname = format!("{name}-{i}");
                match by_name.get(&pname) {
                    Some(p) => {
                        let stale = p
                            .pointer("/metadata/labels/controller-revision-hash")
                            .and_then(Value::as_str)
                            != Some(revision.as_str());
                        if stale && !deleting(p) && !blocked {
                            let _ = st.delete(&prt, &ns, &pname, None, None, false);
                            blocked = true;
                        } else if !pod_ready(p) && !parallel {
                            blocked = true;
                        }
                    }
                    None if !blocked => {
                        for tmpl in s
                            .pointer("/spec/volumeClaimTemplates")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            let cname = format!("{}-{pname}", name_of(tmpl));
                            if st.get(&pvcrt, &ns, &cname).is_none() {
                                let mut pvc = tmpl.clone();
                                pvc["apiVersion"] = json!("v1");
                                pvc["kind"] = json!("PersistentVolumeClaim");
                                let m = util::obj_mut(&mut pvc, &["metadata"]);
                                m.insert("name".into(), json!(cname));
                                m.insert("namespace".into(), json!(ns));
                                let _ = st.create(&pvcrt, &ns, pvc, &INTERNAL);
                            }
                        }
                        let labels = [
                            ("controller-revision-hash", revision.clone()),
                            ("statefulset.kubernetes.io/pod-name", pname.clone()),
                            ("apps.kubernetes.io/pod-index", i.to_string()),
                        ];
                        Self::create_pod(
                            st,
                            &s,
                            "StatefulSet",
                            "apps/v1",
                            pname.clone(),
                            &labels,
                            None,
                        );
                        if !parallel {
                            blocked = true;
                        }
                    }
                    None => {}
                }
            }
            for p in &pods {
                let idx = name_of(p)
                    .rsplit('-')
                    .next()
                    .and_then(|x| x.parse::<i64>().ok())
                    .unwrap_or(-1);
                if idx >= want && !deleting(p) {
                    let _ = st.delete(&prt, &ns, &name_of(p), None, None, false);
                }
            }
            let pods: Vec<Value> = Self::pods_of(st, &ns, &uid)
                .into_iter()
                .filter(|p| !deleting(p))
                .cloned()
                .collect();
            let ready = pods.iter().filter(|p| pod_ready(p)).count();
            let updated = pods
                .iter()
                .filter(|p| {
                    p.pointer("/metadata/labels/controller-revision-hash")
                        .and_then(Value::as_str)
                        == Some(revision.as_str())
                })
                .count();
            let mut n = s.clone();
            let stt = util::obj_mut(&mut n, &["status"]);
            stt.insert(
                "observedGeneration".into(),
                s.pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1)),
            );
            stt.insert("replicas".into(), json!(pods.len()));
            stt.insert("readyReplicas".into(), json!(ready));
            stt.insert("availableReplicas".into(), json!(ready));
            stt.insert("currentReplicas".into(), json!(updated));
            stt.insert("updatedReplicas".into(), json!(updated));
            stt.insert("currentRevision".into(), json!(revision));
            stt.insert("updateRevision".into(), json!(revision));
            stt.insert("collisionCount".into(), json!(0));
            if n != s {
                write(st, &srt, n);
            }
        }
    }

    fn daemon_sets(&mut self, st: &mut State) {
        let dsrt = st.rt("apps", "daemonsets");
        let prt = st.rt("", "pods");
        let nrt = st.rt("", "nodes");
        let nodes: Vec<String> = st.list(&nrt, None).into_iter().map(name_of).collect();
        let sets: Vec<Value> = st
            .list(&dsrt, None)
            .into_iter()
            .filter(|r| !deleting(r))
            .cloned()
            .collect();
        for ds in sets {
            let ns = ns_of(&ds);
            let uid = uid_of(&ds);
            let hash = hash_value(ds.pointer("/spec/template").unwrap_or(&Value::Null));
            let pods: Vec<Value> = Self::pods_of(st, &ns, &uid)
                .into_iter()
                .filter(|p| !deleting(p))
                .cloned()
                .collect();
            for node in &nodes {
                let on_node: Vec<&Value> = pods
                    .iter()
                    .filter(|p| str_at(p, &["spec", "nodeName"]) == node)
                    .collect();
                let current = on_node.iter().any(|p| {
                    p.pointer("/metadata/labels/controller-revision-hash")
                        .and_then(Value::as_str)
                        == Some(hash.as_str())
                });
                for p in &on_node {
                    if p.pointer("/metadata/labels/controller-revision-hash")
                        .and_then(Value::as_str)
                        != Some(hash.as_str())
                    {
                        let _ = st.delete(&prt, &ns, &name_of(p), None, None, false);
                    }
                }
                if !current {
                    let name = format!("{}-{}", name_of(&ds), util::rand_suffix(5));
                    Self::create_pod(
                        st,
                        &ds,
                        "DaemonSet",
                        "apps/v1",
                        name,
                        &[
                            ("controller-revision-hash", hash.clone()),
                            ("pod-template-generation", "1".into()),
                        ],
                        Some(node.clone()),
                    );
                }
            }
            let pods: Vec<Value> = Self::pods_of(st, &ns, &uid)
                .into_iter()
                .filter(|p| !deleting(p))
                .cloned()
                .collect();
            let ready = pods.iter().filter(|p| pod_ready(p)).count();
            let mut n = ds.clone();
            let s = util::obj_mut(&mut n, &["status"]);
            s.insert("desiredNumberScheduled".into(), json!(nodes.len()));
            s.insert("currentNumberScheduled".into(), json!(pods.len()));
            s.insert("numberReady".into(), json!(ready));
            s.insert("numberAvailable".into(), json!(ready));
            s.insert("updatedNumberScheduled".into(), json!(pods.len()));
            s.insert("numberMisscheduled".into(), json!(0));
            s.insert(
                "observedGeneration".into(),
                ds.pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1)),
            );
            if nodes.len() > ready {
                s.insert("numberUnavailable".into(), json!(nodes.len() - ready));
            } else {
                s.remove("numberUnavailable");
            }
            if n != ds {
                write(st, &dsrt, n);
            }
        }
    }

    fn jobs(&mut self, st: &mut State) {
        let jrt = st.rt("batch", "jobs");
        let prt = st.rt("", "pods");
        let jobs: Vec<Value> = st
            .list(&jrt, None)
            .into_iter()
            .filter(|j| !deleting(j))
            .cloned()
            .collect();
        for j in jobs {
            let ns = ns_of(&j);
            let uid = uid_of(&j);
            let conds = j
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let finished = conds.iter().any(|c| {
                (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"
            });
            let pods: Vec<Value> = Self::pods_of(st, &ns, &uid)
                .into_iter()
                .filter(|p| !deleting(p))
                .cloned()
                .collect();
            let phase = |p: &Value| str_at(p, &["status", "phase"]).to_string();
            let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
            let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
            let active: Vec<&Value> = pods
                .iter()
                .filter(|p| phase(p) != "Succeeded" && phase(p) != "Failed")
                .collect();
            let completions = int_at(&j, &["spec", "completions"]).unwrap_or(1);
            let parallelism = int_at(&j, &["spec", "parallelism"]).unwrap_or(1);
            let backoff = int_at(&j, &["spec", "backoffLimit"]).unwrap_or(6);
            let suspended = j.pointer("/spec/suspend") == Some(&json!(true));
            let mut n = j.clone();
            let mut active_count = active.len() as i64;
            if !finished {
                if succeeded >= completions {
                    set_condition(
                        &mut n,
                        "SuccessCriteriaMet",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                        true,
                    );
                    set_condition(
                        &mut n,
                        "Complete",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                        true,
                    );
                    util::obj_mut(&mut n, &["status"])
                        .insert("completionTime".into(), json!(util::now()));
                } else if failed > backoff {
                    set_condition(
                        &mut n,
                        "FailureTarget",
                        "True",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                        true,
                    );
                    set_condition(
                        &mut n,
                        "Failed",
                        "True",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                        true,
                    );
                    for p in &active {
                        let _ = st.delete(&prt, &ns, &name_of(p), None, None, false);
                    }
                    active_count = 0;
                    self.event(
                        st,
                        &j,
                        "Job",
                        "batch/v1",
                        "Warning",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    );
                } else if !suspended {
                    let want = parallelism.min(completions - succeeded);
                    while active_count < want {
                        let name = format!("{}-{}", name_of(&j), util::rand_suffix(5));
                        Self::create_pod(st, &j, "Job", "batch/v1", name, &[], None);
                        active_count += 1;
                    }
                }
            }
            let ready = active.iter().filter(|p| pod_ready(p)).count();
            let s = util::obj_mut(&mut n, &["status"]);
            s.entry("startTime").or_insert(json!(util::now()));
            s.insert("active".into(), json!(active_count));
            s.insert("succeeded".into(), json!(succeeded));
            s.insert("failed".into(), json!(failed));
            s.insert("ready".into(), json!(ready));
            s.insert("terminating".into(), json!(0));
            s.insert("uncountedTerminatedPods".into(), json!({}));
            for k in ["active", "succeeded", "failed"] {
                if s.get(k) == Some(&json!(0)) {
                    s.remove(k);
                }
            }
            if n != j {
                write(st, &jrt, n);
            }
        }
    }

    fn ready_after(pod: &Value, cfg: &crate::Config) -> Duration {
        annotation(pod, READY_AFTER)
            .and_then(util::parse_duration)
            .unwrap_or(cfg.ready_after)
    }

    fn pods(&mut self, st: &mut State, cfg: &crate::Config) {
        let prt = st.rt("", "pods");
        let nrt = st.rt("", "nodes");
        let nodes: Vec<String> = st.list(&nrt, None).into_iter().map(name_of).collect();
        let pods: Vec<Value> = st
            .list(&prt, None)
            .into_iter()
            .filter(|p| !deleting(p))
            .cloned()
            .collect();
        let now = Instant::now();
        for p in pods {
            let phase = str_at(&p, &["status", "phase"]).to_string();
            if phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            let uid = uid_of(&p);
            let born = *self.born.entry(uid.clone()).or_insert(now);
            let delay = Self::ready_after(&p, cfg);
            let elapsed = now.duration_since(born);
            let mut n = p.clone();
            let node = match str_at(&p, &["spec", "nodeName"]) {
                "" => {
                    let idx = (hash_value(&json!(name_of(&p)))
                        .bytes()
                        .map(|b| b as usize)
                        .sum::<usize>())
                        % nodes.len().max(1);
                    let node = nodes
                        .get(idx)
                        .cloned()
                        .unwrap_or_else(|| "sim-node-0".into());
                    n["spec"]["nodeName"] = json!(node);
                    node
                }
                other => other.to_string(),
            };
            let node_idx = node
                .rsplit('-')
                .next()
                .and_then(|x| x.parse::<u32>().ok())
                .unwrap_or(0);
            let created = str_at(&p, &["metadata", "creationTimestamp"]).to_string();
            let containers = p
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let fails = containers
                .iter()
                .any(|c| image_fails(c["image"].as_str().unwrap_or("")));
            let run_to_completion = str_at(&p, &["spec", "restartPolicy"]) != "Always";
            let ready_at = time_after(&created, delay);
            let ip_seed = hash_value(&json!(uid))
                .bytes()
                .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
            {
                let s = util::obj_mut(&mut n, &["status"]);
                s.insert("hostIP".into(), json!(format!("172.18.0.{}", node_idx + 2)));
                s.insert(
                    "hostIPs".into(),
                    json!([{"ip": format!("172.18.0.{}", node_idx + 2)}]),
                );
                s.insert(
                    "podIP".into(),
                    json!(format!("10.244.{node_idx}.{}", ip_seed % 250 + 2)),
                );
                s.insert(
                    "podIPs".into(),
                    json!([{"ip": format!("10.244.{node_idx}.{}", ip_seed % 250 + 2)}]),
                );
                s.insert("startTime".into(), json!(created));
                s.entry("qosClass").or_insert(json!("BestEffort"));
            }
            set_condition(&mut n, "PodScheduled", "True", "", "", false);
            set_condition(&mut n, "Initialized", "True", "", "", false);
            let statuses: Vec<Value>;
            if elapsed < delay {
                self.timed_work = true;
                util::obj_mut(&mut n, &["status"]).insert("phase".into(), json!("Pending"));
                set_condition(
                    &mut n,
                    "ContainersReady",
                    "False",
                    "ContainersNotReady",
                    "containers with unready status",
                    false,
                );
                set_condition(
                    &mut n,
                    "Ready",
                    "False",
                    "ContainersNotReady",
                    "containers with unready status",
                    false,
                );
                statuses = containers.iter().map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false, "started": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}})).collect();
            } else if fails && !run_to_completion {
                self.timed_work = true;
                let period = delay.max(Duration::from_secs(1)) * 3;
                let restarts =
                    1 + ((elapsed - delay).as_millis() / period.as_millis().max(1)) as i64;
                util::obj_mut(&mut n, &["status"]).insert("phase".into(), json!("Running"));
                set_condition(
                    &mut n,
                    "ContainersReady",
                    "False",
                    "ContainersNotReady",
                    "containers with unready status",
                    false,
                );
                set_condition(
                    &mut n,
                    "Ready",
                    "False",
                    "ContainersNotReady",
                    "containers with unready status",
                    false,
                );
                statuses = containers.iter().map(|c| {
                    let bad = image_fails(c["image"].as_str().unwrap_or(""));
                    if bad {
                        json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false, "started": false, "restartCount": restarts,
                            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 10s restarting failed container={} pod={}", c["name"].as_str().unwrap_or(""), name_of(&p))}},
                            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": ready_at, "finishedAt": ready_at}}})
                    } else {
                        json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": ready_at}}, "lastState": {}})
                    }
                }).collect();
                let msg = format!(
                    "Back-off restarting failed container {} in pod {}_{}({uid})",
                    containers
                        .iter()
                        .find(|c| image_fails(c["image"].as_str().unwrap_or("")))
                        .and_then(|c| c["name"].as_str())
                        .unwrap_or(""),
                    name_of(&p),
                    ns_of(&p)
                );
                self.event(st, &p, "Pod", "v1", "Warning", "BackOff", &msg);
            } else if run_to_completion {
                let (ph, code, reason) = if fails {
                    ("Failed", 1, "Error")
                } else {
                    ("Succeeded", 0, "Completed")
                };
                util::obj_mut(&mut n, &["status"]).insert("phase".into(), json!(ph));
                set_condition(
                    &mut n,
                    "ContainersReady",
                    "False",
                    "PodCompleted",
                    "",
                    false,
                );
                set_condition(&mut n, "Ready", "False", "PodCompleted", "", false);
                statuses = containers.iter().map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false, "started": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": created, "finishedAt": ready_at}}, "lastState": {}})).collect();
            } else {
                util::obj_mut(&mut n, &["status"]).insert("phase".into(), json!("Running"));
                set_condition(&mut n, "ContainersReady", "True", "", "", false);
                set_condition(&mut n, "Ready", "True", "", "", false);
                statuses = containers.iter().map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true, "restartCount": 0,
                    "state": {"running": {"startedAt": ready_at}}, "lastState": {}})).collect();
            }
            util::obj_mut(&mut n, &["status"])
                .insert("containerStatuses".into(), Value::Array(statuses));
            if n != p {
                write(st, &prt, n);
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // the fields of one Event
    fn event(
        &mut self,
        st: &mut State,
        obj: &Value,
        kind: &str,
        api_version: &str,
        ty: &str,
        reason: &str,
        message: &str,
    ) {
        let key = format!("{}/{reason}", uid_of(obj));
        if !self.events.insert(key) {
            return;
        }
        let ert = st.rt("", "events");
        let now = util::now();
        let ns = ns_of(obj);
        let ev = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{}.{:x}", name_of(obj), util::rand_u64() & 0xffff_ffff_ffff), "namespace": ns},
            "involvedObject": {"kind": kind, "apiVersion": api_version, "name": name_of(obj), "namespace": ns, "uid": uid_of(obj)},
            "reason": reason, "message": message, "type": ty, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "eventTime": null,
            "source": {"component": if kind == "Pod" { "kubelet" } else { "job-controller" }},
            "reportingComponent": if kind == "Pod" { "kubelet" } else { "job-controller" }, "reportingInstance": ""});
        let _ = st.create(&ert, &ns, ev, &INTERNAL);
    }

    fn services(&mut self, st: &mut State, cfg: &crate::Config) {
        let srt = st.rt("", "services");
        let ert = st.rt("", "endpoints");
        let esrt = st.rt("discovery.k8s.io", "endpointslices");
        let prt = st.rt("", "pods");
        let now = Instant::now();
        let svcs: Vec<Value> = st
            .list(&srt, None)
            .into_iter()
            .filter(|s| !deleting(s))
            .cloned()
            .collect();
        for (i, s) in svcs.iter().enumerate() {
            let ns = ns_of(s);
            if str_at(s, &["spec", "type"]) == "LoadBalancer"
                && s.pointer("/status/loadBalancer/ingress").is_none()
            {
                let born = *self.born.entry(uid_of(s)).or_insert(now);
                if now.duration_since(born) >= cfg.ready_after {
                    let mut n = s.clone();
                    util::obj_mut(&mut n, &["status", "loadBalancer"]).insert(
                        "ingress".into(),
                        json!([{"ip": format!("172.18.255.{}", i % 250 + 1), "ipMode": "VIP"}]),
                    );
                    write(st, &srt, n);
                } else {
                    self.timed_work = true;
                }
            }
            // Endpoints for selector-based services
            let Some(sel) = s.pointer("/spec/selector").and_then(Value::as_object) else {
                continue;
            };
            if sel.is_empty() {
                continue;
            }
            let selector = LabelSelector::from_object(&json!({"matchLabels": sel}));
            let pods: Vec<&Value> = st
                .list(&prt, Some(&ns))
                .into_iter()
                .filter(|p| {
                    selector.matches(p) && !deleting(p) && p.pointer("/status/podIP").is_some()
                })
                .collect();
            let addr = |p: &Value| json!({"ip": p.pointer("/status/podIP"), "nodeName": str_at(p, &["spec", "nodeName"]), "targetRef": {"kind": "Pod", "namespace": ns, "name": name_of(p), "uid": uid_of(p)}});
            let ready: Vec<Value> = pods
                .iter()
                .filter(|p| pod_ready(p))
                .map(|p| addr(p))
                .collect();
            let not_ready: Vec<Value> = pods
                .iter()
                .filter(|p| !pod_ready(p))
                .map(|p| addr(p))
                .collect();
            let ports: Vec<Value> = s.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten().map(|p| {
                let mut e = json!({"port": p.get("targetPort").filter(|t| t.is_number()).cloned().unwrap_or(p["port"].clone()), "protocol": p["protocol"]});
                if let Some(n) = p.get("name") { e["name"] = n.clone(); }
                e
            }).collect();
            let mut subset = json!({"ports": ports});
            if !ready.is_empty() {
                subset["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                subset["notReadyAddresses"] = json!(not_ready);
            }
            let subsets = if ready.is_empty() && not_ready.is_empty() {
                json!([])
            } else {
                json!([subset])
            };
            let slice_endpoints: Vec<Value> = pods
                .iter()
                .map(|p| {
                    let ready = pod_ready(p);
                    json!({"addresses": [p.pointer("/status/podIP")],
                        "conditions": {"ready": ready, "serving": ready, "terminating": false},
                        "nodeName": str_at(p, &["spec", "nodeName"]),
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": name_of(p), "uid": uid_of(p)}})
                })
                .collect();
            let slice_ports: Vec<Value> = ports
                .iter()
                .map(|p| {
                    let mut e = json!({"port": p["port"], "protocol": p["protocol"]});
                    e["name"] = p.get("name").cloned().unwrap_or(json!(""));
                    e
                })
                .collect();
            let name = name_of(s);
            match st.get(&ert, &ns, &name).cloned() {
                Some(existing) => {
                    if existing.get("subsets").unwrap_or(&json!([])) != &subsets {
                        let mut n = existing.clone();
                        n["subsets"] = subsets;
                        write(st, &ert, n);
                    }
                }
                None => {
                    let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": s.pointer("/metadata/labels").cloned().unwrap_or(json!({}))}, "subsets": subsets});
                    let _ = st.create(&ert, &ns, ep, &INTERNAL);
                }
            }
            // The EndpointSlice the endpointslice controller keeps beside it (owned by the
            // Service, so garbage collection removes it with the Service).
            let slice_name = format!("{name}-sim");
            match st.get(&esrt, &ns, &slice_name).cloned() {
                Some(existing) => {
                    if existing.get("endpoints") != Some(&json!(slice_endpoints))
                        || existing.get("ports") != Some(&json!(slice_ports))
                    {
                        let mut n = existing.clone();
                        n["endpoints"] = json!(slice_endpoints);
                        n["ports"] = json!(slice_ports);
                        write(st, &esrt, n);
                    }
                }
                None => {
                    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": slice_name, "namespace": ns,
                            "labels": {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name, "uid": uid_of(s), "controller": true, "blockOwnerDeletion": true}]},
                        "addressType": "IPv4", "endpoints": slice_endpoints, "ports": slice_ports});
                    let _ = st.create(&esrt, &ns, slice, &INTERNAL);
                }
            }
        }
    }

    fn pvcs(&mut self, st: &mut State) {
        let crt = st.rt("", "persistentvolumeclaims");
        let vrt = st.rt("", "persistentvolumes");
        let claims: Vec<Value> = st
            .list(&crt, None)
            .into_iter()
            .filter(|c| !deleting(c) && str_at(c, &["status", "phase"]) != "Bound")
            .cloned()
            .collect();
        for c in claims {
            let pv_name = format!("pvc-{}", uid_of(&c));
            let size = c
                .pointer("/spec/resources/requests/storage")
                .cloned()
                .unwrap_or(json!("1Gi"));
            let modes = c
                .pointer("/spec/accessModes")
                .cloned()
                .unwrap_or(json!(["ReadWriteOnce"]));
            if st.get(&vrt, "", &pv_name).is_none() {
                let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
                    "spec": {"capacity": {"storage": size}, "accessModes": modes, "persistentVolumeReclaimPolicy": "Delete",
                        "storageClassName": c.pointer("/spec/storageClassName").cloned().unwrap_or(json!("standard")),
                        "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns_of(&c), "name": name_of(&c), "uid": uid_of(&c), "apiVersion": "v1"},
                        "hostPath": {"path": format!("/var/sim/{pv_name}")}},
                    "status": {"phase": "Bound"}});
                let _ = st.create(&vrt, "", pv, &INTERNAL);
            }
            let mut n = c.clone();
            n["spec"]["volumeName"] = json!(pv_name);
            let s = util::obj_mut(&mut n, &["status"]);
            s.insert("phase".into(), json!("Bound"));
            s.insert("accessModes".into(), modes);
            s.insert("capacity".into(), json!({"storage": size}));
            write(st, &crt, n);
        }
    }

    fn namespaces(&mut self, st: &mut State) {
        let nrt = st.rt("", "namespaces");
        let terminating: Vec<Value> = st
            .list(&nrt, None)
            .into_iter()
            .filter(|n| deleting(n))
            .cloned()
            .collect();
        for ns in terminating {
            let name = name_of(&ns);
            let types: Vec<ResourceType> = st
                .registry
                .types
                .values()
                .filter(|t| t.namespaced)
                .cloned()
                .collect();
            let mut remaining = 0;
            for rt in types {
                let objs: Vec<Value> = st.list(&rt, Some(&name)).into_iter().cloned().collect();
                for o in objs {
                    remaining += 1;
                    if !deleting(&o) {
                        let _ = st.delete(&rt, &name, &name_of(&o), None, None, false);
                    }
                }
            }
            let left = st
                .registry
                .types
                .values()
                .filter(|t| t.namespaced)
                .map(|rt| st.list(rt, Some(&name)).len())
                .sum::<usize>();
            if remaining == 0 || left == 0 {
                let mut n = ns.clone();
                n["spec"]["finalizers"] = json!([]);
                let _ = st.update(&nrt, "", &name, n, &INTERNAL);
            } else {
                self.timed_work = true;
            }
        }
    }

    /// A deleted CRD takes its custom resources with it, then goes.
    fn crd_cleanup(&mut self, st: &mut State) {
        const FIN: &str = "customresourcecleanup.apiextensions.k8s.io";
        let crt = st.rt("apiextensions.k8s.io", "customresourcedefinitions");
        let gone: Vec<Value> = st
            .list(&crt, None)
            .into_iter()
            .filter(|c| deleting(c))
            .cloned()
            .collect();
        for crd in gone {
            let group = str_at(&crd, &["spec", "group"]).to_string();
            let plural = str_at(&crd, &["spec", "names", "plural"]).to_string();
            if let Some(rt) = st.registry.types.get(&(group, plural)).cloned() {
                let objs: Vec<(String, String)> = st
                    .list(&rt, None)
                    .into_iter()
                    .filter(|o| !deleting(o))
                    .map(|o| (ns_of(o), name_of(o)))
                    .collect();
                for (ns, name) in objs {
                    let _ = st.delete(&rt, &ns, &name, None, None, false);
                }
                if !st.list(&rt, None).is_empty() {
                    self.timed_work = true;
                    continue;
                }
            }
            Self::drop_finalizer(st, &crt, "", &name_of(&crd), FIN);
        }
    }

    fn garbage_collect(&mut self, st: &mut State) {
        // every uid, and the details of only the objects being deleted
        let mut uids: HashMap<String, Option<Deleting>> = HashMap::new();
        for rt in st.registry.types.values() {
            for o in st.list(rt, None) {
                let detail = deleting(o).then(|| {
                    let fins: Vec<String> = o
                        .pointer("/metadata/finalizers")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    (rt.clone(), ns_of(o), name_of(o), fins)
                });
                uids.insert(uid_of(o), detail);
            }
        }
        let mut dependents: HashMap<String, Vec<(ResourceType, String, String)>> = HashMap::new();
        let mut orphans = Vec::new();
        for rt in st.registry.types.values() {
            for o in st.list(rt, None) {
                let Some(refs) = o
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                else {
                    continue;
                };
                if refs.is_empty() {
                    continue;
                }
                let owners: Vec<&str> = refs.iter().filter_map(|r| r["uid"].as_str()).collect();
                for u in &owners {
                    dependents.entry(u.to_string()).or_default().push((
                        rt.clone(),
                        ns_of(o),
                        name_of(o),
                    ));
                }
                if owners.iter().all(|u| !uids.contains_key(*u)) && !deleting(o) {
                    orphans.push((rt.clone(), ns_of(o), name_of(o)));
                }
            }
        }
        for (rt, ns, name) in orphans {
            let _ = st.delete(&rt, &ns, &name, None, None, false);
        }
        for (uid, detail) in uids {
            let Some((rt, ns, name, fins)) = detail else {
                continue;
            };
            let deps = dependents.get(&uid).cloned().unwrap_or_default();
            if fins.iter().any(|f| f == "orphan") {
                for (drt, dns, dname) in &deps {
                    if let Some(mut d) = st.get(drt, dns, dname).cloned() {
                        if let Some(Value::Array(refs)) = d.pointer_mut("/metadata/ownerReferences")
                        {
                            refs.retain(|r| r["uid"] != uid.as_str());
                        }
                        write(st, drt, d);
                    }
                }
                Self::drop_finalizer(st, &rt, &ns, &name, "orphan");
            } else if fins.iter().any(|f| f == "foregroundDeletion") {
                let live: Vec<&(ResourceType, String, String)> = deps
                    .iter()
                    .filter(|(drt, dns, dname)| st.get(drt, dns, dname).is_some())
                    .collect();
                if live.is_empty() {
                    Self::drop_finalizer(st, &rt, &ns, &name, "foregroundDeletion");
                } else {
                    self.timed_work = true;
                    for (drt, dns, dname) in live.into_iter().cloned().collect::<Vec<_>>() {
                        let _ = st.delete(&drt, &dns, &dname, Some("Foreground"), None, false);
                    }
                }
            }
        }
    }

    fn drop_finalizer(st: &mut State, rt: &ResourceType, ns: &str, name: &str, fin: &str) {
        if let Some(mut o) = st.get(rt, ns, name).cloned() {
            if let Some(Value::Array(f)) = o.pointer_mut("/metadata/finalizers") {
                f.retain(|x| x != fin);
            }
            let _ = st.update(rt, ns, name, o, &INTERNAL);
        }
    }
}

/// An object being deleted: its type, namespace, name and finalizers.
type Deleting = (ResourceType, String, String, Vec<String>);

/// Resolves an int-or-percent (maxUnavailable) against a replica count.
fn pct_or_int(v: Option<&Value>, replicas: i64, round_up: bool) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => {
            let p: f64 = s.trim_end_matches('%').parse().unwrap_or(25.0);
            let x = replicas as f64 * p / 100.0;
            if round_up {
                x.ceil() as i64
            } else {
                x.floor() as i64
            }
        }
        _ => {
            let x = replicas as f64 * 0.25;
            if round_up {
                x.ceil() as i64
            } else {
                x.floor() as i64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_tag_detection() {
        assert!(image_fails("nginx:fail"));
        assert!(image_fails("registry:5000/team/app:fail"));
        assert!(!image_fails("registry:5000/app"));
        assert!(!image_fails("nginx:1.27"));
    }

    #[test]
    fn percentages_round_like_deployments() {
        assert_eq!(pct_or_int(Some(&json!("25%")), 1, false), 0);
        assert_eq!(pct_or_int(Some(&json!("25%")), 4, false), 1);
        assert_eq!(pct_or_int(Some(&json!(2)), 4, false), 2);
    }
}
