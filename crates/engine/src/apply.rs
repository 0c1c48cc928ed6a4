//! Applying manifests: mapping documents to API resources (discovery, CRDs included), server-side
//! apply, Helm 3's client-side create and three-way patch, field-manager conversion, deletion.
//! Waiting lives in [`crate::wait`], on the same [`Cluster`].

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use serde_json::{Value, json};
use tokio::sync::RwLock;

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

impl crate::patch::Meta<'static> for Builtin {
    fn field(self, name: &str) -> crate::patch::FieldMeta<'static, Self> {
        let f = self.0.field(name);
        let has = |s: &str| f.strategy.is_some_and(|x| x.split(',').any(|p| p == s));
        crate::patch::FieldMeta {
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

pub(crate) fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ClusterError {
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

    /// `--force-replace` on a live object: the manifest replaces it whole (PUT guarded by the
    /// live resourceVersion), dropping what other writers added, as Helm's `replaceResource`.
    pub async fn replace(&self, o: &Obj, live: &Value, manager: &str) -> Result<(), ClusterError> {
        let mut body = o.body.clone();
        if let Some(ns) = &o.ns {
            body["metadata"]["namespace"] = json!(ns);
        }
        if let Some(rv) = live.pointer("/metadata/resourceVersion") {
            body["metadata"]["resourceVersion"] = rv.clone();
        }
        let obj: DynamicObject = serde_json::from_value(body)
            .map_err(|e| ClusterError::Mapping(format!("{}: {e}", o.id())))?;
        let api = self.api(o);
        let pp = PostParams {
            field_manager: Some(manager.to_string()),
            ..PostParams::default()
        };
        retry(|| api.replace(&o.name, &pp, &obj))
            .await
            .map_err(api_err(format!("failed to replace object {}", o.id())))?;
        Ok(())
    }

    /// Helm 3's client-side update of a live object: a three-way strategic merge patch
    /// (`original` = the previous release's object) for built-in kinds, a two-way JSON merge
    /// patch for custom resources (`three_way_custom`: Helm 4's three-way JSON merge patch,
    /// which it sends when an install takes objects over with `--take-ownership`); nothing is
    /// sent when there is nothing to change. Returns whether a patch was sent.
    pub async fn patch_client_side(
        &self,
        o: &Obj,
        original: &Value,
        live: &Value,
        manager: &str,
        three_way_custom: bool,
    ) -> Result<bool, ClusterError> {
        let api_version = o.body["apiVersion"].as_str().unwrap_or_default();
        let meta = kubesim::PatchMeta::of_kind(api_version, &o.ar.kind).map(Builtin);
        let strategic = meta.is_some();
        let patch = if strategic {
            crate::patch::three_way(original, &o.body, live, meta)
        } else if three_way_custom {
            crate::patch::three_way_merge_patch(original, &o.body, live)
        } else {
            crate::patch::merge_patch(original, &o.body)
        };
        if crate::patch::is_empty(&patch) {
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

    /// The logs of a pod's (only) container, as `kubectl logs` prints them.
    pub async fn pod_logs(&self, ns: &str, name: &str) -> Result<String, ClusterError> {
        let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(self.client.clone(), ns);
        let params = kube::api::LogParams::default();
        retry(|| api.logs(name, &params))
            .await
            .map_err(api_err(format!("logs of pod {ns}/{name}")))
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
}
