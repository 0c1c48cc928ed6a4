//! Waiting for readiness by watching, with fast failure on objects that cannot become ready by
//! themselves (CrashLoopBackOff, image pull errors, a Job past its backoffLimit, a rollout past
//! its progress deadline); waiting for hooks to complete and for objects to be gone.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::{Value, json};

use crate::apply::{Cluster, ClusterError, Obj};
use crate::progress::{Event, Progress};

/// Which readiness rules a wait applies (`--wait=watcher|legacy`, `--wait-for-jobs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitRules {
    /// Jobs must complete (`--wait-for-jobs`).
    pub jobs: bool,
    /// Helm 3's rules (`--wait=legacy`, [`legacy_readiness`]) instead of Helm 4's watcher's.
    pub legacy: bool,
}

impl Cluster {
    /// Waits until every object is ready, by watching; fails at once when a pod of a workload
    /// cannot heal by itself (CrashLoopBackOff, image pull errors, a failed Job, a rollout past
    /// its progress deadline). `jobs`: whether Jobs must complete.
    pub async fn wait_ready(
        &self,
        objs: &[Obj],
        timeout: Duration,
        rules: WaitRules,
        progress: &Progress,
    ) -> Result<(), ClusterError> {
        self.wait_until(objs, timeout, progress, |o, live, pods| {
            if rules.legacy {
                legacy_readiness(o, live, pods, rules.jobs)
            } else {
                readiness(o, live, pods, rules.jobs)
            }
        })
        .await
    }

    /// Waits until a hook Job completes or a hook Pod succeeds (others: at once).
    pub async fn wait_hook(
        &self,
        o: &Obj,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<(), ClusterError> {
        if o.ar.kind != "Job" && o.ar.kind != "Pod" {
            return Ok(());
        }
        self.wait_until(
            std::slice::from_ref(o),
            timeout,
            progress,
            |o, live, pods| match (o.ar.kind.as_str(), live) {
                ("Pod", Some(p)) => match p.pointer("/status/phase").and_then(Value::as_str) {
                    Some("Succeeded") => State::Ready,
                    Some("Failed") => State::Failed("pod failed".into()),
                    _ => State::Pending(pod_reason(p).unwrap_or_else(|| "running".into())),
                },
                ("Job", Some(_)) => readiness(o, live, pods, true),
                _ => State::Pending("not created yet".into()),
            },
        )
        .await
    }

    /// Waits until the objects are gone (`uninstall --wait`).
    pub async fn wait_deleted(
        &self,
        objs: &[Obj],
        timeout: Duration,
        progress: &Progress,
    ) -> Result<(), ClusterError> {
        self.wait_until(objs, timeout, progress, |_, live, _| match live {
            None => State::Ready,
            Some(_) => State::Pending("still exists".into()),
        })
        .await
    }

    async fn wait_until(
        &self,
        objs: &[Obj],
        timeout: Duration,
        progress: &Progress,
        state_of: impl Fn(&Obj, Option<&Value>, &[Value]) -> State,
    ) -> Result<(), ClusterError> {
        if objs.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        // One watch per resource type and namespace, plus the pods of those namespaces.
        let mut streams = Vec::new();
        let mut seen_kinds: Vec<(ApiResource, Option<String>)> = Vec::new();
        let pod_ar = ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&());
        for o in objs {
            for pair in [(o.ar.clone(), o.ns.clone()), (pod_ar.clone(), o.ns.clone())] {
                if (pair.1.is_some() || pair.0 != pod_ar) && !seen_kinds.contains(&pair) {
                    seen_kinds.push(pair);
                }
            }
        }
        for (ar, ns) in &seen_kinds {
            let api: Api<DynamicObject> = match ns {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
                None => Api::all_with(self.client.clone(), ar),
            };
            let kind = ar.kind.clone();
            let s = watcher(api, watcher::Config::default())
                .map_ok(move |e| (kind.clone(), e))
                .boxed();
            streams.push(s);
        }
        let mut merged = futures::stream::select_all(streams);
        // (kind, ns, name) -> live object
        let mut live: HashMap<(String, String, String), Value> = HashMap::new();
        let mut last_state: BTreeMap<String, State> = BTreeMap::new();
        loop {
            // Evaluate.
            let pods: Vec<Value> = live
                .iter()
                .filter(|((k, _, _), _)| k == "Pod")
                .map(|(_, v)| v.clone())
                .collect();
            let mut pending = Vec::new();
            for o in objs {
                let k = (
                    o.ar.kind.clone(),
                    o.ns.clone().unwrap_or_default(),
                    o.name.clone(),
                );
                let st = state_of(o, live.get(&k), &pods);
                if last_state.get(&o.id()) != Some(&st) {
                    progress.send(match &st {
                        State::Ready => Event::Ready { object: o.id() },
                        State::Pending(r) => Event::Waiting {
                            object: o.id(),
                            reason: r.clone(),
                        },
                        State::Failed(r) => Event::Failed {
                            object: o.id(),
                            reason: r.clone(),
                        },
                    });
                    last_state.insert(o.id(), st.clone());
                }
                match st {
                    State::Ready => {}
                    State::Pending(r) => pending.push(format!("{}: {r}", o.id())),
                    State::Failed(r) => {
                        let ev = self.last_events(o, live.get(&k), &pods).await;
                        return Err(ClusterError::Wait(format!("{}: {r}{ev}", o.id())));
                    }
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClusterError::Wait(format!(
                    "context deadline exceeded: timed out after {timeout:?} waiting for {}",
                    pending.join("; ")
                )));
            }
            // Watch for the next change (watch errors are retried by the watcher; a quiet
            // period re-evaluates every few seconds for time-based states).
            let next = tokio::time::timeout(left.min(Duration::from_secs(5)), merged.next()).await;
            let Ok(Some(ev)) = next else { continue };
            let Ok((kind, ev)) = ev else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let mut put = |o: DynamicObject, present: bool| {
                let k = (
                    kind.clone(),
                    o.metadata.namespace.clone().unwrap_or_default(),
                    o.metadata.name.clone().unwrap_or_default(),
                );
                if present {
                    live.insert(k, serde_json::to_value(o).unwrap_or(Value::Null));
                } else {
                    live.remove(&k);
                }
            };
            match ev {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => put(o, true),
                watcher::Event::Delete(o) => put(o, false),
                watcher::Event::Init | watcher::Event::InitDone => {}
            }
        }
    }

    /// ` (last event: ...)` of a failing object's pods, for error messages.
    async fn last_events(&self, o: &Obj, live: Option<&Value>, pods: &[Value]) -> String {
        let Some(ns) = &o.ns else {
            return String::new();
        };
        let mut names = vec![o.name.clone()];
        if let Some(l) = live {
            names.extend(owned_pods(o, l, pods).iter().filter_map(|p| {
                p.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }));
        }
        let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(self.client.clone(), ns);
        let mut last: Option<(String, String)> = None;
        for n in names.iter().rev() {
            let lp = ListParams::default().fields(&format!("involvedObject.name={n}"));
            if let Ok(list) = api.list(&lp).await {
                for e in list.items {
                    if e.type_.as_deref() == Some("Warning") {
                        let when = e
                            .last_timestamp
                            .as_ref()
                            .map(|t| t.0.to_string())
                            .unwrap_or_default();
                        if last.as_ref().is_none_or(|(w, _)| when >= *w) {
                            last = Some((when, e.message.unwrap_or_default()));
                        }
                    }
                }
            }
            if last.is_some() {
                break;
            }
        }
        last.map(|(_, m)| format!("; last event: {m}"))
            .unwrap_or_default()
    }
}

/// Readiness of one object.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Ready.
    Ready,
    /// Not yet, and why.
    Pending(String),
    /// Will not become ready by itself.
    Failed(String),
}

fn int(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(v: &'a Value, ty: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == ty)
}

fn generation_observed(v: &Value) -> bool {
    int(v, "/status/observedGeneration") >= int(v, "/metadata/generation")
}

/// The pods of a workload's current revision: matching its selector and running its
/// template's images (so pods of an older revision don't fail a new rollout, and vice versa).
fn owned_pods<'a>(o: &Obj, live: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let ns = o.ns.clone().unwrap_or_default();
    let (sel, images): (Option<&serde_json::Map<String, Value>>, Vec<&str>) =
        match o.ar.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => (
                live.pointer("/spec/selector/matchLabels")
                    .and_then(Value::as_object),
                live.pointer("/spec/template/spec/containers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["image"].as_str())
                    .collect(),
            ),
            _ => return Vec::new(),
        };
    let Some(sel) = sel else { return Vec::new() };
    pods.iter()
        .filter(|p| p.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns.as_str()))
        .filter(|p| {
            sel.iter()
                .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
        })
        .filter(|p| {
            let pi: Vec<&str> = p
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c["image"].as_str())
                .collect();
            pi == images
        })
        .collect()
}

/// A pod's waiting reason that will not heal by itself, if any.
fn pod_failure(p: &Value) -> Option<String> {
    for c in p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(reason) = c.pointer("/state/waiting/reason").and_then(Value::as_str)
            && matches!(
                reason,
                "CrashLoopBackOff"
                    | "ImagePullBackOff"
                    | "ErrImagePull"
                    | "InvalidImageName"
                    | "CreateContainerConfigError"
            )
        {
            return Some(format!(
                "pod {} container {}: {reason} (restarts {})",
                p.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                c["name"].as_str().unwrap_or(""),
                c["restartCount"].as_i64().unwrap_or(0)
            ));
        }
    }
    None
}

fn pod_reason(p: &Value) -> Option<String> {
    for c in p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return Some(format!(
                "container {}: {r}",
                c["name"].as_str().unwrap_or("")
            ));
        }
    }
    p.pointer("/status/phase")
        .and_then(Value::as_str)
        .map(|s| format!("pod {s}"))
}

/// Helm 4's readiness (kstatus-like) plus fast failure.
pub fn readiness(o: &Obj, live: Option<&Value>, pods: &[Value], jobs: bool) -> State {
    let Some(v) = live else {
        return State::Pending("not observed yet".into());
    };
    let pending = |s: String| State::Pending(s);
    let failing = || owned_pods(o, v, pods).into_iter().find_map(pod_failure);
    match o.ar.kind.as_str() {
        "Deployment" => {
            if let Some(c) = condition(v, "Progressing")
                && c["reason"] == "ProgressDeadlineExceeded"
            {
                let why =
                    failing().unwrap_or_else(|| c["message"].as_str().unwrap_or("").to_string());
                return State::Failed(format!("ProgressDeadlineExceeded: {why}"));
            }
            if let Some(f) = failing() {
                return State::Failed(f);
            }
            if v.pointer("/spec/paused") == Some(&json!(true)) {
                return State::Ready;
            }
            let want = v
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let (upd, ready, avail, total) = (
                int(v, "/status/updatedReplicas"),
                int(v, "/status/readyReplicas"),
                int(v, "/status/availableReplicas"),
                int(v, "/status/replicas"),
            );
            if !generation_observed(v) {
                pending("rollout not observed yet".into())
            } else if upd < want || ready < want || avail < want || total > want {
                pending(format!(
                    "{ready}/{want} ready, {upd} updated, {avail} available"
                ))
            } else {
                State::Ready
            }
        }
        "StatefulSet" | "ReplicaSet" | "DaemonSet" => {
            if let Some(f) = failing() {
                return State::Failed(f);
            }
            let (want, ready) = if o.ar.kind == "DaemonSet" {
                (
                    int(v, "/status/desiredNumberScheduled"),
                    int(v, "/status/numberReady"),
                )
            } else {
                (
                    v.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1),
                    int(v, "/status/readyReplicas"),
                )
            };
            let updated = match o.ar.kind.as_str() {
                "StatefulSet" => {
                    int(v, "/status/updatedReplicas") >= want
                        && v.pointer("/status/currentRevision")
                            == v.pointer("/status/updateRevision")
                }
                "DaemonSet" => int(v, "/status/updatedNumberScheduled") >= want,
                _ => true,
            };
            if !generation_observed(v)
                || ready < want
                || !updated
                || (o.ar.kind == "DaemonSet" && want == 0 && !generation_observed(v))
            {
                pending(format!("{ready}/{want} ready"))
            } else {
                State::Ready
            }
        }
        "Pod" => {
            if let Some(f) = pod_failure(v) {
                return State::Failed(f);
            }
            match v.pointer("/status/phase").and_then(Value::as_str) {
                Some("Succeeded") => State::Ready,
                Some("Failed") => State::Failed("pod failed".into()),
                _ if condition(v, "Ready").is_some_and(|c| c["status"] == "True") => State::Ready,
                _ => pending(pod_reason(v).unwrap_or_else(|| "not ready".into())),
            }
        }
        "Job" => {
            if let Some(c) = condition(v, "Failed")
                && c["status"] == "True"
            {
                return State::Failed(format!(
                    "job failed: {} {}",
                    c["reason"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                ));
            }
            if !jobs {
                return State::Ready;
            }
            if condition(v, "Complete").is_some_and(|c| c["status"] == "True") {
                State::Ready
            } else {
                pending(format!("{} succeeded", int(v, "/status/succeeded")))
            }
        }
        "PersistentVolumeClaim" => match v.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => State::Ready,
            other => pending(format!("phase {}", other.unwrap_or("Pending"))),
        },
        "Service" => {
            if v.pointer("/spec/type") == Some(&json!("LoadBalancer"))
                && v.pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .is_none_or(|a| a.is_empty())
            {
                pending("waiting for a load balancer address".into())
            } else {
                State::Ready
            }
        }
        "CustomResourceDefinition" => {
            if condition(v, "Established").is_some_and(|c| c["status"] == "True")
                || condition(v, "NamesAccepted").is_some_and(|c| c["status"] == "False")
            {
                State::Ready
            } else {
                pending("not established".into())
            }
        }
        "APIService" => {
            if condition(v, "Available").is_some_and(|c| c["status"] == "True") {
                State::Ready
            } else {
                pending("not available".into())
            }
        }
        _ => State::Ready,
    }
}

/// Kubernetes' `GetScaledValueFromIntOrPercent`: an integer as it is, `"N%"` of `total`
/// rounded up or down; anything else (or nothing) is `default`.
fn scaled(v: Option<&Value>, total: i64, round_up: bool, default: &Value) -> i64 {
    let v = match v {
        Some(Value::Null) | None => default,
        Some(v) => v,
    };
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) if round_up => (p * total + 99) / 100,
            Some(p) => p * total / 100,
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

fn pod_ready(p: &Value) -> bool {
    condition(p, "Ready").is_some_and(|c| c["status"] == "True")
}

/// Helm 3's `ReadyChecker`, which Helm 4 keeps as `--wait=legacy`: a Deployment is ready when
/// its new revision has `replicas - maxUnavailable` ready pods, a DaemonSet when
/// `desired - maxUnavailable` are ready, a StatefulSet honours its partition, `OnDelete`
/// workloads are ready at once, a Pod needs its Ready condition, a Service its cluster IP (and
/// a LoadBalancer an address or external IPs), a Job (with `--wait-for-jobs`) its completions;
/// kinds Helm 3 does not check are ready. ferry's fast failures (pods that cannot heal, a
/// rollout past its deadline, a failed Job) apply as in the watcher's rules.
pub fn legacy_readiness(o: &Obj, live: Option<&Value>, pods: &[Value], jobs: bool) -> State {
    let Some(v) = live else {
        return State::Pending("not observed yet".into());
    };
    let kind = o.ar.kind.as_str();
    if matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
    ) && let State::Failed(f) = readiness(o, live, pods, jobs)
    {
        return State::Failed(f);
    }
    let on_delete = |p: &str| v.pointer(p).and_then(Value::as_str) == Some("OnDelete");
    let replicas = v
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    match kind {
        "Deployment" => {
            if v.pointer("/spec/paused") == Some(&json!(true)) {
                return State::Ready;
            }
            if !generation_observed(v) {
                return State::Pending("rollout not observed yet".into());
            }
            let max_unavailable =
                if v.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate") {
                    0
                } else {
                    scaled(
                        v.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
                        replicas,
                        false,
                        &json!("25%"),
                    )
                };
            let expected = replicas - max_unavailable;
            let ready = owned_pods(o, v, pods)
                .into_iter()
                .filter(|p| pod_ready(p))
                .count() as i64;
            if ready >= expected {
                State::Ready
            } else {
                State::Pending(format!(
                    "{ready}/{expected} pods of the new revision ready (replicas {replicas}, maxUnavailable {max_unavailable})"
                ))
            }
        }
        "DaemonSet" => {
            if on_delete("/spec/updateStrategy/type") {
                return State::Ready;
            }
            let desired = int(v, "/status/desiredNumberScheduled");
            if !generation_observed(v) || int(v, "/status/updatedNumberScheduled") != desired {
                return State::Pending(format!(
                    "{}/{desired} updated",
                    int(v, "/status/updatedNumberScheduled")
                ));
            }
            let max_unavailable = scaled(
                v.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable"),
                desired,
                true,
                &json!(1),
            );
            let (ready, expected) = (int(v, "/status/numberReady"), desired - max_unavailable);
            if ready >= expected {
                State::Ready
            } else {
                State::Pending(format!("{ready}/{expected} ready"))
            }
        }
        "StatefulSet" => {
            if on_delete("/spec/updateStrategy/type") {
                return State::Ready;
            }
            if !generation_observed(v) {
                return State::Pending("rollout not observed yet".into());
            }
            let partition = int(v, "/spec/updateStrategy/rollingUpdate/partition");
            let (updated, ready) = (
                int(v, "/status/updatedReplicas"),
                int(v, "/status/readyReplicas"),
            );
            if updated < replicas - partition {
                State::Pending(format!("{updated}/{} updated", replicas - partition))
            } else if ready != replicas {
                State::Pending(format!("{ready}/{replicas} ready"))
            } else if partition == 0
                && v.pointer("/status/currentRevision") != v.pointer("/status/updateRevision")
            {
                State::Pending("revision not current yet".into())
            } else {
                State::Ready
            }
        }
        "ReplicaSet" | "ReplicationController" => {
            let ready = int(v, "/status/readyReplicas");
            if generation_observed(v) && ready >= replicas {
                State::Ready
            } else {
                State::Pending(format!("{ready}/{replicas} ready"))
            }
        }
        "Pod" => {
            if let Some(f) = pod_failure(v) {
                State::Failed(f)
            } else if pod_ready(v) {
                State::Ready
            } else {
                State::Pending(pod_reason(v).unwrap_or_else(|| "not ready".into()))
            }
        }
        "Job" => {
            if !jobs {
                return State::Ready;
            }
            let backoff = v
                .pointer("/spec/backoffLimit")
                .and_then(Value::as_i64)
                .unwrap_or(6);
            if int(v, "/status/failed") > backoff {
                return State::Failed("job failed: BackoffLimitExceeded".into());
            }
            let completions = v
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let succeeded = int(v, "/status/succeeded");
            if succeeded >= completions {
                State::Ready
            } else {
                State::Pending(format!("{succeeded}/{completions} succeeded"))
            }
        }
        "Service" => {
            let ty = v.pointer("/spec/type").and_then(Value::as_str);
            if ty == Some("ExternalName") {
                return State::Ready;
            }
            if v.pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return State::Pending("no cluster IP yet".into());
            }
            let has = |p: &str| {
                v.pointer(p)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            };
            if ty == Some("LoadBalancer")
                && !has("/spec/externalIPs")
                && !has("/status/loadBalancer/ingress")
            {
                State::Pending("waiting for a load balancer address".into())
            } else {
                State::Ready
            }
        }
        "PersistentVolumeClaim" | "CustomResourceDefinition" => readiness(o, live, pods, jobs),
        _ => State::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: &str, body: Value) -> Obj {
        Obj {
            ar: ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: kind.into(),
                plural: format!("{}s", kind.to_lowercase()),
            },
            ns: Some("ns".into()),
            name: "x".into(),
            body,
        }
    }

    fn pod(ready: bool) -> Value {
        json!({"metadata": {"namespace": "ns", "labels": {"app": "x"}},
               "spec": {"containers": [{"image": "app:2"}]},
               "status": {"phase": "Running",
                          "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    fn deployment(strategy: Value) -> Value {
        json!({"metadata": {"generation": 2},
               "spec": {"replicas": 4, "strategy": strategy,
                        "selector": {"matchLabels": {"app": "x"}},
                        "template": {"spec": {"containers": [{"image": "app:2"}]}}},
               "status": {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 4,
                          "readyReplicas": 3, "availableReplicas": 3}})
    }

    #[test]
    fn legacy_deployments_are_ready_with_max_unavailable_pods_missing() {
        let pods = [pod(true), pod(true), pod(true), pod(false)];
        let d = obj("Deployment", Value::Null);
        // default maxUnavailable 25% of 4 = 1: three ready pods are enough for Helm 3
        let live = deployment(json!({"type": "RollingUpdate"}));
        assert_eq!(
            legacy_readiness(&d, Some(&live), &pods, false),
            State::Ready
        );
        assert!(matches!(
            readiness(&d, Some(&live), &pods, false),
            State::Pending(_)
        ));
        // maxUnavailable 0, and Recreate: every pod must be ready
        let live =
            deployment(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}));
        assert!(matches!(
            legacy_readiness(&d, Some(&live), &pods, false),
            State::Pending(_)
        ));
        let live = deployment(json!({"type": "Recreate"}));
        assert!(matches!(
            legacy_readiness(&d, Some(&live), &pods, false),
            State::Pending(_)
        ));
        // pods of an older revision do not count
        let mut old = pod(true);
        old["spec"]["containers"][0]["image"] = json!("app:1");
        let pods = [pod(true), pod(true), old.clone(), old];
        let live = deployment(json!({}));
        assert!(matches!(
            legacy_readiness(&d, Some(&live), &pods, false),
            State::Pending(_)
        ));
    }

    #[test]
    fn legacy_rules_of_the_other_kinds() {
        let ready = |kind: &str, v: Value, jobs: bool| {
            legacy_readiness(&obj(kind, Value::Null), Some(&v), &[], jobs) == State::Ready
        };
        // a StatefulSet with a partition needs only the pods above it updated
        let sts = json!({"metadata": {"generation": 1},
            "spec": {"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 2}}},
            "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 3,
                       "currentRevision": "a", "updateRevision": "b"}});
        assert!(ready("StatefulSet", sts.clone(), false));
        let mut unpartitioned = sts.clone();
        unpartitioned["spec"]["updateStrategy"] = json!({});
        assert!(!ready("StatefulSet", unpartitioned, false));
        // OnDelete workloads are ready at once
        let ds = json!({"metadata": {"generation": 3}, "spec": {"updateStrategy": {"type": "OnDelete"}},
                        "status": {"observedGeneration": 1}});
        assert!(ready("DaemonSet", ds, false));
        // a DaemonSet may miss maxUnavailable (rounded up) of its pods
        let ds = json!({"metadata": {"generation": 1},
            "spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}}},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 5,
                       "updatedNumberScheduled": 5, "numberReady": 4}});
        assert!(ready("DaemonSet", ds, false));
        // Jobs: ignored without --wait-for-jobs, else their completions; past backoffLimit fails
        let job =
            json!({"spec": {"completions": 2, "backoffLimit": 1}, "status": {"succeeded": 1}});
        assert!(ready("Job", job.clone(), false));
        assert!(!ready("Job", job, true));
        let failed = json!({"spec": {"backoffLimit": 1}, "status": {"failed": 2}});
        assert!(matches!(
            legacy_readiness(&obj("Job", Value::Null), Some(&failed), &[], true),
            State::Failed(_)
        ));
        // Services: ExternalName at once, a cluster IP otherwise, a LoadBalancer its address
        assert!(ready(
            "Service",
            json!({"spec": {"type": "ExternalName"}}),
            false
        ));
        assert!(!ready(
            "Service",
            json!({"spec": {"type": "ClusterIP"}}),
            false
        ));
        let lb = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"}});
        assert!(!ready("Service", lb.clone(), false));
        let mut with_ip = lb;
        with_ip["spec"]["externalIPs"] = json!(["1.2.3.4"]);
        assert!(ready("Service", with_ip, false));
        // a Pod needs its Ready condition (a succeeded one has none)
        assert!(!ready(
            "Pod",
            json!({"status": {"phase": "Succeeded"}}),
            false
        ));
        assert!(ready("Pod", pod(true), false));
        assert_eq!(scaled(Some(&json!("33%")), 10, true, &json!(0)), 4);
        assert_eq!(scaled(Some(&json!("33%")), 10, false, &json!(0)), 3);
        assert_eq!(scaled(None, 8, false, &json!("25%")), 2);
    }
}
