//! The cluster side of an operation: mapping manifests to API resources (discovery), server-side
//! apply, deletion, and waiting for readiness by watching (with fast failure on pods that cannot
//! become ready by themselves).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::watcher;
use serde_json::{Value, json};
use tokio::sync::RwLock;

use super::{Event, Progress};
use ferry_release::retry::{retry, retry_write};

/// One manifest document resolved to its API resource.
#[derive(Debug, Clone)]
pub struct Obj {
    /// The resource.
    pub ar: ApiResource,
    /// Namespace (`None` for cluster-scoped resources).
    pub ns: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The document as JSON.
    pub body: Value,
}

impl Obj {
    /// `Kind/name` (as Helm and kubectl name objects in messages).
    pub fn id(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{} {}/{}", self.ar.kind, ns, self.name),
            None => format!("{} {}", self.ar.kind, self.name),
        }
    }

    /// The identity Helm compares manifests by (group/version/kind/namespace/name).
    pub fn key(&self) -> (String, String, String, String) {
        (
            self.ar.group.clone(),
            self.ar.kind.clone(),
            self.ns.clone().unwrap_or_default(),
            self.name.clone(),
        )
    }
}

/// The patch strategies of a built-in kind, from the Kubernetes definitions kubesim carries.
#[derive(Clone, Copy)]
struct Builtin(kubesim::PatchMeta);

impl ferry_engine::patch::Meta<'static> for Builtin {
    fn field(self, name: &str) -> ferry_engine::patch::FieldMeta<'static, Self> {
        let f = self.0.field(name);
        let has = |s: &str| f.strategy.is_some_and(|x| x.split(',').any(|p| p == s));
        ferry_engine::patch::FieldMeta {
            merge: has("merge"),
            replace: has("replace"),
            retain_keys: has("retainKeys"),
            merge_key: f.merge_key,
            elem: f.elem.map(Builtin),
        }
    }
}

/// The union of two `FieldsV1` sets.
fn union_fields(into: &mut serde_json::Map<String, Value>, from: &serde_json::Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => union_fields(a, b),
            (None, v) => {
                into.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
}

/// Why the cluster refused or an object failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A manifest document could not be mapped.
    #[error("{0}")]
    Mapping(String),
    /// The API refused.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// An object will not become ready (fast failure) or the wait timed out.
    #[error("{0}")]
    Wait(String),
}

/// The API server, with discovery cached.
pub struct Cluster {
    /// The client.
    pub client: kube::Client,
    discovery: RwLock<Discovery>,
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Api { what, source }
}

impl Cluster {
    /// Connects and runs discovery.
    pub async fn new(client: kube::Client) -> Result<Cluster, ClusterError> {
        let discovery = Discovery::new(client.clone())
            .run()
            .await
            .map_err(api_err("discovering the cluster's API"))?;
        Ok(Cluster {
            client,
            discovery: RwLock::new(discovery),
        })
    }

    /// Re-runs discovery (after CRDs were created).
    pub async fn refresh(&self) -> Result<(), ClusterError> {
        let d = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(api_err("discovering the cluster's API"))?;
        *self.discovery.write().await = d;
        Ok(())
    }

    /// `group/version` strings the cluster serves (for `.Capabilities.APIVersions`).
    pub async fn api_versions(&self) -> Vec<String> {
        let d = self.discovery.read().await;
        let mut out = Vec::new();
        for g in d.groups() {
            for v in g.versions() {
                out.push(if g.name().is_empty() {
                    v.to_string()
                } else {
                    format!("{}/{v}", g.name())
                });
                for (ar, _) in g.versioned_resources(v) {
                    out.push(if g.name().is_empty() {
                        format!("{v}/{}", ar.kind)
                    } else {
                        format!("{}/{v}/{}", g.name(), ar.kind)
                    });
                }
            }
        }
        out
    }

    /// The server's version (`v1.37.0`).
    pub async fn kube_version(&self) -> Result<String, ClusterError> {
        let v = self
            .client
            .apiserver_version()
            .await
            .map_err(api_err("reading the server version"))?;
        Ok(v.git_version)
    }

    /// Maps the documents of a manifest to objects; namespaced ones default to `namespace`.
    pub async fn objects(&self, manifest: &str, namespace: &str) -> Result<Vec<Obj>, ClusterError> {
        let d = self.discovery.read().await;
        let mut out = Vec::new();
        for doc in ferry_render::manifest::split_manifests(manifest) {
            let v = ferry_chart::yaml::parse(&doc)
                .map_err(|e| ClusterError::Mapping(format!("invalid manifest document: {e}")))?;
            if matches!(v, ferry_chart::Value::Null) {
                continue;
            }
            let body = v.to_json();
            let api_version = body["apiVersion"].as_str().unwrap_or_default().to_string();
            let kind = body["kind"].as_str().unwrap_or_default().to_string();
            let name = body
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (group, version) = match api_version.rsplit_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), api_version.clone()),
            };
            let gvk = kube::api::GroupVersionKind::gvk(&group, &version, &kind);
            let Some((ar, caps)) = d.resolve_gvk(&gvk) else {
                let ns = body
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(namespace);
                return Err(ClusterError::Mapping(format!(
                    "resource mapping not found for name: \"{name}\" namespace: \"{ns}\" from \"\": no matches for kind \"{kind}\" in version \"{api_version}\"\nensure CRDs are installed first"
                )));
            };
            let ns = match caps.scope {
                Scope::Namespaced => Some(
                    body.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(namespace)
                        .to_string(),
                ),
                Scope::Cluster => None,
            };
            out.push(Obj { ar, ns, name, body });
        }
        Ok(out)
    }

    fn api(&self, o: &Obj) -> Api<DynamicObject> {
        match &o.ns {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &o.ar),
            None => Api::all_with(self.client.clone(), &o.ar),
        }
    }

    /// The live object, if any.
    pub async fn get(&self, o: &Obj) -> Result<Option<Value>, ClusterError> {
        let api = self.api(o);
        let live = retry(|| api.get_opt(&o.name))
            .await
            .map_err(api_err(format!("reading {}", o.id())))?;
        Ok(live.map(|l| serde_json::to_value(l).unwrap_or(Value::Null)))
    }

    /// Server-side apply of the whole object with `manager` as field manager.
    pub async fn apply(&self, o: &Obj, manager: &str, force: bool) -> Result<Value, ClusterError> {
        let mut pp = PatchParams::apply(manager);
        pp.force = force;
        let mut body = o.body.clone();
        if let Some(ns) = &o.ns {
            body["metadata"]["namespace"] = json!(ns);
        }
        let api = self.api(o);
        let patch = Patch::Apply(&body);
        let out = retry_write(|| api.patch(&o.name, &pp, &patch))
            .await
            .map_err(api_err(format!("applying {}", o.id())))?;
        Ok(serde_json::to_value(out).unwrap_or(Value::Null))
    }

    /// Creates the object (Helm 3's client-side apply of a new object).
    pub async fn create(&self, o: &Obj, manager: &str) -> Result<Value, ClusterError> {
        let mut body = o.body.clone();
        if let Some(ns) = &o.ns {
            body["metadata"]["namespace"] = json!(ns);
        }
        let obj: DynamicObject = serde_json::from_value(body)
            .map_err(|e| ClusterError::Mapping(format!("{}: {e}", o.id())))?;
        let api = self.api(o);
        let pp = PostParams {
            field_manager: Some(manager.to_string()),
            ..PostParams::default()
        };
        let out = retry(|| api.create(&pp, &obj))
            .await
            .map_err(api_err(format!("creating {}", o.id())))?;
        Ok(serde_json::to_value(out).unwrap_or(Value::Null))
    }

    /// Helm 3's client-side update of a live object: a three-way strategic merge patch
    /// (`original` = the previous release's object) for built-in kinds, a two-way JSON merge
    /// patch for custom resources; nothing is sent when there is nothing to change. Returns
    /// whether a patch was sent.
    pub async fn patch_client_side(
        &self,
        o: &Obj,
        original: &Value,
        live: &Value,
        manager: &str,
    ) -> Result<bool, ClusterError> {
        let api_version = o.body["apiVersion"].as_str().unwrap_or_default();
        let meta = kubesim::PatchMeta::of_kind(api_version, &o.ar.kind).map(Builtin);
        let strategic = meta.is_some();
        let patch = if strategic {
            ferry_engine::patch::three_way(original, &o.body, live, meta)
        } else {
            ferry_engine::patch::merge_patch(original, &o.body)
        };
        if ferry_engine::patch::is_empty(&patch) {
            return Ok(false);
        }
        let api = self.api(o);
        let pp = PatchParams {
            field_manager: Some(manager.to_string()),
            ..PatchParams::default()
        };
        let p = if strategic {
            Patch::Strategic(&patch)
        } else {
            Patch::Merge(&patch)
        };
        retry_write(|| api.patch(&o.name, &pp, &p))
            .await
            .map_err(api_err(format!(
                "cannot patch {:?} with kind {}",
                o.name, o.ar.kind
            )))?;
        Ok(true)
    }

    /// Helm's `upgradeClientSideFieldManager` (`csaupgrade.UpgradeManagedFieldsPatch`): the
    /// field sets of `manager`'s client-side (`Update`) entries move into its `Apply` entry,
    /// sent as a JSON patch guarded by the resourceVersion. Absent objects and objects without
    /// such entries are left alone.
    pub async fn upgrade_field_manager(&self, o: &Obj, manager: &str) -> Result<(), ClusterError> {
        let Some(live) = self.get(o).await? else {
            return Ok(());
        };
        let Some(entries) = live
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
        else {
            return Ok(());
        };
        let is_csa = |e: &Value| {
            e["manager"] == manager
                && e["operation"] == "Update"
                && e.get("subresource").is_none_or(|s| s.as_str() == Some(""))
        };
        if !entries.iter().any(is_csa) {
            return Ok(());
        }
        let mut fields = serde_json::Map::new();
        let mut kept = Vec::new();
        let mut apply_at = None;
        for e in entries {
            if is_csa(e) {
                if let Some(f) = e.get("fieldsV1").and_then(Value::as_object) {
                    union_fields(&mut fields, f);
                }
            } else {
                if e["manager"] == manager && e["operation"] == "Apply" {
                    apply_at = Some(kept.len());
                }
                kept.push(e.clone());
            }
        }
        match apply_at {
            Some(i) => {
                if let Some(f) = kept[i].get("fieldsV1").and_then(Value::as_object) {
                    union_fields(&mut fields, f);
                }
                kept[i]["fieldsV1"] = Value::Object(fields);
            }
            None => kept.push(json!({
                "manager": manager,
                "operation": "Apply",
                "apiVersion": o.body["apiVersion"],
                "time": live.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            })),
        }
        let rv = live
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "replace", "path": "/metadata/managedFields", "value": kept},
        ]))
        .map_err(|e| ClusterError::Mapping(format!("{}: {e}", o.id())))?;
        let api = self.api(o);
        let pp = PatchParams {
            field_manager: Some(manager.to_string()),
            ..PatchParams::default()
        };
        let p: Patch<()> = Patch::Json(patch);
        retry(|| api.patch(&o.name, &pp, &p))
            .await
            .map_err(api_err(format!(
                "failed to upgrade managed fields for object {}",
                o.id()
            )))?;
        Ok(())
    }

    /// Creates the object if absent (CRDs from `crds/`, which Helm never updates). Returns
    /// whether it was created.
    pub async fn create_if_absent(&self, o: &Obj) -> Result<bool, ClusterError> {
        let obj: DynamicObject = serde_json::from_value(o.body.clone())
            .map_err(|e| ClusterError::Mapping(format!("{}: {e}", o.id())))?;
        let api = self.api(o);
        let pp = PostParams::default();
        match retry(|| api.create(&pp, &obj)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(api_err(format!("creating {}", o.id()))(e)),
        }
    }

    /// Deletes the object (background propagation); a missing object is fine. Returns whether
    /// it existed.
    pub async fn delete(&self, o: &Obj) -> Result<bool, ClusterError> {
        let api = self.api(o);
        let dp = DeleteParams::background();
        match retry_write(|| api.delete(&o.name, &dp)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(api_err(format!("deleting {}", o.id()))(e)),
        }
    }

    /// Creates the namespace (labelled `name=<ns>` as Helm does) unless it exists.
    pub async fn ensure_namespace(&self, ns: &str) -> Result<(), ClusterError> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        if retry(|| api.get_opt(ns))
            .await
            .map_err(api_err(format!("reading namespace {ns}")))?
            .is_some()
        {
            return Ok(());
        }
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"name": ns}}});
        let nsobj = serde_json::from_value(body).expect("a namespace object");
        let pp = PostParams::default();
        match retry(|| api.create(&pp, &nsobj)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(api_err(format!("creating namespace {ns}"))(e)),
        }
    }

    /// Waits until every object is ready, by watching; fails at once when a pod of a workload
    /// cannot heal by itself (CrashLoopBackOff, image pull errors, a failed Job, a rollout past
    /// its progress deadline). `jobs`: whether Jobs must complete.
    pub async fn wait_ready(
        &self,
        objs: &[Obj],
        timeout: Duration,
        jobs: bool,
        progress: &Progress,
    ) -> Result<(), ClusterError> {
        self.wait_until(objs, timeout, progress, |o, live, pods| {
            readiness(o, live, pods, jobs)
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
