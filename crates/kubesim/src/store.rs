//! Object storage: tables per resource, resourceVersions, the event log for watches,
//! and the write paths (create, update, delete) with the apiserver's metadata rules.

use crate::error::ApiError;
use crate::registry::{Registry, ResourceType};
use crate::util::{self, str_at};
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvType {
    Added,
    Modified,
    Deleted,
}

impl EvType {
    pub fn as_str(self) -> &'static str {
        match self {
            EvType::Added => "ADDED",
            EvType::Modified => "MODIFIED",
            EvType::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the event log and fanned out to watchers.
#[derive(Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub kind: EvType,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub obj: Arc<Value>,
    pub old: Option<Arc<Value>>,
    /// `obj` serialized once, shared by every watcher that sends it as stored.
    pub encoded: std::sync::OnceLock<bytes::Bytes>,
}

impl Event {
    /// The JSON of the object, serialized on first use.
    pub fn encoded(&self) -> &bytes::Bytes {
        self.encoded
            .get_or_init(|| bytes::Bytes::from(serde_json::to_vec(&*self.obj).unwrap_or_default()))
    }
}

/// (namespace, name) → object.
pub(crate) type Table = BTreeMap<(String, String), Value>;

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteOpts {
    pub dry_run: bool,
    /// `status` or `scale` when writing a subresource.
    pub subresource: Option<String>,
    /// Internal writes by controllers: no managedFields tracking, no validation.
    pub internal: bool,
}

/// The whole simulated cluster state.
pub(crate) struct State {
    pub rv: u64,
    pub registry: Registry,
    pub tables: HashMap<(String, String), Table>,
    pub log: VecDeque<Arc<Event>>,
    pub log_cap: usize,
    pub tx: broadcast::Sender<Arc<Event>>,
    pub next_ip: u32,
    pub next_node_port: u32,
    pub dirty: bool,
}

/// Kinds whose objects carry `metadata.generation`.
fn has_generation(rt: &ResourceType) -> bool {
    rt.crd
        || matches!(
            rt.group.as_str(),
            "apps" | "batch" | "autoscaling" | "policy" | "apiextensions.k8s.io"
        )
        || matches!(
            rt.kind.as_str(),
            "Ingress" | "NetworkPolicy" | "ReplicationController"
        )
}

/// The part of an object that bumps generation when changed.
fn spec_part(obj: &Value) -> Value {
    match obj {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => Value::Null,
    }
}

impl State {
    /// An empty cluster with the built-in types and default namespaces.
    pub fn new(log_cap: usize) -> Self {
        let (tx, _) = broadcast::channel(4096);
        State {
            rv: 1000,
            registry: Registry::builtin(),
            tables: HashMap::new(),
            log: VecDeque::new(),
            log_cap,
            tx,
            next_ip: 1,
            next_node_port: 30000,
            dirty: false,
        }
    }

    /// Creates the objects every cluster has (namespaces, nodes, the kubernetes Service).
    pub fn bootstrap(&mut self, nodes: usize) {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let rt = self.rt("", "namespaces");
            let _ = self.create(
                &rt,
                "",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                &WriteOpts {
                    internal: true,
                    ..Default::default()
                },
            );
        }
        for i in 0..nodes {
            let rt = self.rt("", "nodes");
            let name = format!("sim-node-{i}");
            let node = json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
                "spec": {"podCIDR": format!("10.244.{i}.0/24")},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                    "addresses": [{"type": "InternalIP", "address": format!("172.18.0.{}", i + 2)}, {"type": "Hostname", "address": name}],
                    "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"}, "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "nodeInfo": {"kubeletVersion": "v1.37.0", "containerRuntimeVersion": "sim://1.0", "operatingSystem": "linux", "architecture": "amd64"}}});
            let _ = self.create(
                &rt,
                "",
                node,
                &WriteOpts {
                    internal: true,
                    ..Default::default()
                },
            );
        }
        let rt = self.rt("", "services");
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
        let _ = self.create(
            &rt,
            "default",
            svc,
            &WriteOpts {
                internal: true,
                ..Default::default()
            },
        );
        self.dirty = false;
    }

    /// A built-in or registered type by group and plural (panics if unknown: internal use).
    pub fn rt(&self, group: &str, plural: &str) -> ResourceType {
        self.registry
            .types
            .get(&(group.to_string(), plural.to_string()))
            .cloned()
            .expect("known resource type")
    }

    pub fn table(&self, rt: &ResourceType) -> Option<&Table> {
        self.tables.get(&(rt.group.clone(), rt.plural.clone()))
    }

    fn table_mut(&mut self, rt: &ResourceType) -> &mut Table {
        self.tables
            .entry((rt.group.clone(), rt.plural.clone()))
            .or_default()
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Option<&Value> {
        self.table(rt)?.get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a type, optionally in one namespace.
    pub fn list(&self, rt: &ResourceType, ns: Option<&str>) -> Vec<&Value> {
        let Some(t) = self.table(rt) else {
            return Vec::new();
        };
        match ns {
            Some(ns) => t
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| v)
                .collect(),
            None => t.values().collect(),
        }
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.dirty = true;
        self.rv
    }

    fn emit(&mut self, kind: EvType, rt: &ResourceType, ns: &str, obj: Value, old: Option<Value>) {
        let ev = Arc::new(Event {
            rv: self.rv,
            kind,
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            namespace: ns.to_string(),
            obj: Arc::new(obj),
            old: old.map(Arc::new),
            encoded: std::sync::OnceLock::new(),
        });
        self.log.push_back(ev.clone());
        while self.log.len() > self.log_cap {
            self.log.pop_front();
        }
        let _ = self.tx.send(ev);
    }

    /// The oldest resourceVersion a watch can start from.
    pub fn oldest_rv(&self) -> u64 {
        self.log.front().map(|e| e.rv - 1).unwrap_or(self.rv)
    }

    fn check_namespace(&self, rt: &ResourceType, ns: &str, creating: bool) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        if ns.is_empty() {
            return Err(ApiError::bad_request(
                "the server could not find the requested resource: a namespaced resource needs a namespace",
            ));
        }
        let nsrt = self.rt("", "namespaces");
        match self.get(&nsrt, "", ns) {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some(n) if creating && n.pointer("/metadata/deletionTimestamp").is_some() => {
                let mut e = ApiError::new(
                    403,
                    "Forbidden",
                    format!(
                        "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        crate::error::qualified(&rt.group, &rt.plural),
                        str_at(n, &["metadata", "name"])
                    ),
                );
                e.details = Some(Box::new(
                    json!({"group": rt.group, "kind": rt.plural, "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}),
                ));
                Err(e)
            }
            _ => Ok(()),
        }
    }

    /// Creates an object. `ns` is the namespace of the request path.
    pub fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        mut obj: Value,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be an object"));
        }
        let obj_ns = str_at(&obj, &["metadata", "namespace"]).to_string();
        if rt.namespaced && !obj_ns.is_empty() && obj_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        self.check_namespace(rt, ns, true)?;
        let meta = util::obj_mut(&mut obj, &["metadata"]);
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            let gen_name = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if gen_name.is_empty() {
                return Err(ApiError::invalid(
                    &rt.group,
                    &rt.kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
            name = format!("{gen_name}{}", util::rand_suffix(5));
            meta.insert("name".into(), json!(name));
        }
        if rt.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        if self
            .get(rt, if rt.namespaced { ns } else { "" }, &name)
            .is_some()
        {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        let meta = util::obj_mut(&mut obj, &["metadata"]);
        meta.insert("uid".into(), json!(util::uid()));
        meta.insert("creationTimestamp".into(), json!(util::now()));
        meta.remove("deletionTimestamp");
        meta.remove("resourceVersion");
        if has_generation(rt) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        set_type_meta(&mut obj, rt);
        self.admit(rt, &mut obj, None)?;
        if opts.dry_run {
            return Ok(obj);
        }
        let rv = self.next_rv();
        util::obj_mut(&mut obj, &["metadata"])
            .insert("resourceVersion".into(), json!(rv.to_string()));
        let key_ns = if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        };
        self.table_mut(rt)
            .insert((key_ns.clone(), name), obj.clone());
        self.emit(EvType::Added, rt, &key_ns, obj.clone(), None);
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            self.register_crd(&obj);
        }
        if rt.kind == "Namespace" && rt.group.is_empty() {
            self.namespace_defaults(str_at(&obj, &["metadata", "name"]));
        }
        Ok(obj)
    }

    /// Replaces an object (PUT, or the result of a patch). With `opts.subresource == status`
    /// only `.status` is taken from `new`; otherwise `.status` is kept when the type has a
    /// status subresource.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        mut new: Value,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let ns = if rt.namespaced { ns } else { "" };
        let Some(old) = self.get(rt, ns, name).cloned() else {
            return Err(ApiError::not_found(&rt.group, &rt.plural, name));
        };
        if !new.is_object() {
            return Err(ApiError::bad_request("the body must be an object"));
        }
        let new_name = str_at(&new, &["metadata", "name"]);
        if !new_name.is_empty() && new_name != name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let want_rv = str_at(&new, &["metadata", "resourceVersion"]).to_string();
        let old_rv = str_at(&old, &["metadata", "resourceVersion"]).to_string();
        if !want_rv.is_empty() && want_rv != old_rv {
            return Err(ApiError::conflict(&rt.group, &rt.plural, name));
        }
        let is_status = opts.subresource.as_deref() == Some("status");
        if is_status {
            let mut merged = old.clone();
            match new.get("status") {
                Some(s) => {
                    merged
                        .as_object_mut()
                        .expect("object")
                        .insert("status".into(), s.clone());
                }
                None => {
                    merged.as_object_mut().expect("object").remove("status");
                }
            }
            new = merged;
        } else if rt.status && !opts.internal {
            let m = new.as_object_mut().expect("object");
            match old.get("status") {
                Some(s) => {
                    m.insert("status".into(), s.clone());
                }
                None => {
                    m.remove("status");
                }
            }
        }
        // server-owned metadata
        {
            let om = old["metadata"].clone();
            let meta = util::obj_mut(&mut new, &["metadata"]);
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "generation",
                "namespace",
                "name",
            ] {
                match om.get(k) {
                    Some(v) => {
                        meta.insert(k.into(), v.clone());
                    }
                    None => {
                        meta.remove(k);
                    }
                }
            }
            if rt.namespaced {
                meta.insert("namespace".into(), json!(ns));
            }
            meta.insert("resourceVersion".into(), json!(old_rv));
        }
        set_type_meta(&mut new, rt);
        if !opts.internal {
            self.admit(rt, &mut new, Some(&old))?;
        }
        if has_generation(rt) && spec_part(&old) != spec_part(&new) {
            let g = util::int_at(&old, &["metadata", "generation"]).unwrap_or(1);
            util::obj_mut(&mut new, &["metadata"]).insert("generation".into(), json!(g + 1));
        }
        // a write that changes nothing is not stored (a change of managedFields alone, such as
        // a client converting its entries, is a change; a newer timestamp is not)
        if without_times(&new) == without_times(&old) {
            return Ok(old);
        }
        if opts.dry_run {
            return Ok(new);
        }
        // finalizers emptied on an object being deleted: it goes away now
        let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
        let no_finalizers = new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
        if deleting && no_finalizers && !(rt.kind == "Namespace" && has_ns_finalizer(&new)) {
            self.remove(rt, ns, name, Some(new.clone()));
            return Ok(new);
        }
        let rv = self.next_rv();
        util::obj_mut(&mut new, &["metadata"])
            .insert("resourceVersion".into(), json!(rv.to_string()));
        self.table_mut(rt)
            .insert((ns.to_string(), name.to_string()), new.clone());
        self.emit(EvType::Modified, rt, ns, new.clone(), Some(old));
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            self.register_crd(&new);
        }
        Ok(new)
    }

    /// Removes an object for good and emits DELETED.
    pub fn remove(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        last: Option<Value>,
    ) -> Option<Value> {
        let key = (ns.to_string(), name.to_string());
        let mut obj = self.table_mut(rt).remove(&key)?;
        if let Some(l) = last {
            obj = l;
        }
        let rv = self.next_rv();
        util::obj_mut(&mut obj, &["metadata"])
            .insert("resourceVersion".into(), json!(rv.to_string()));
        self.emit(EvType::Deleted, rt, ns, obj.clone(), None);
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            self.unregister_crd(&obj);
        }
        Some(obj)
    }

    /// Deletes an object: at once, or by setting deletionTimestamp while finalizers remain.
    /// Returns the object and whether it is gone.
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        propagation: Option<&str>,
        preconditions: Option<&Value>,
        dry_run: bool,
    ) -> Result<(Value, bool), ApiError> {
        let ns = if rt.namespaced { ns } else { "" };
        let Some(old) = self.get(rt, ns, name).cloned() else {
            return Err(ApiError::not_found(&rt.group, &rt.plural, name));
        };
        if let Some(p) = preconditions {
            let uid = p["uid"].as_str().unwrap_or("");
            let rv = p["resourceVersion"].as_str().unwrap_or("");
            if (!uid.is_empty() && uid != str_at(&old, &["metadata", "uid"]))
                || (!rv.is_empty() && rv != str_at(&old, &["metadata", "resourceVersion"]))
            {
                return Err(ApiError::conflict(&rt.group, &rt.plural, name));
            }
        }
        let mut finalizers: Vec<Value> = old
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let extra = match propagation {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(f) = extra
            && !finalizers.iter().any(|x| x == f)
            && old.pointer("/metadata/deletionTimestamp").is_none()
        {
            finalizers.push(json!(f));
        }
        let ns_finalizer = rt.kind == "Namespace" && rt.group.is_empty();
        if dry_run {
            return Ok((old, false));
        }
        if finalizers.is_empty() && !ns_finalizer {
            let gone = self.remove(rt, ns, name, None).expect("present");
            return Ok((gone, true));
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() && extra.is_none() {
            return Ok((old, false));
        }
        let mut new = old.clone();
        let meta = util::obj_mut(&mut new, &["metadata"]);
        if !meta.contains_key("deletionTimestamp") {
            meta.insert("deletionTimestamp".into(), json!(util::now()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if !finalizers.is_empty() {
            meta.insert("finalizers".into(), Value::Array(finalizers));
        }
        if ns_finalizer {
            util::obj_mut(&mut new, &["status"]).insert("phase".into(), json!("Terminating"));
        }
        let rv = self.next_rv();
        util::obj_mut(&mut new, &["metadata"])
            .insert("resourceVersion".into(), json!(rv.to_string()));
        self.table_mut(rt)
            .insert((ns.to_string(), name.to_string()), new.clone());
        self.emit(EvType::Modified, rt, ns, new.clone(), Some(old));
        Ok((new, false))
    }

    /// What every namespace gets from the controllers of a real cluster: the `default`
    /// ServiceAccount and the `kube-root-ca.crt` ConfigMap.
    fn namespace_defaults(&mut self, ns: &str) {
        let internal = WriteOpts {
            internal: true,
            ..Default::default()
        };
        let sa = self.rt("", "serviceaccounts");
        let _ = self.create(
            &sa,
            ns,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
            &internal,
        );
        let cm = self.rt("", "configmaps");
        let ca = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nkubesim\n-----END CERTIFICATE-----\n"}});
        let _ = self.create(&cm, ns, ca, &internal);
    }

    /// Defaulting and admission for built-in kinds.
    fn admit(
        &mut self,
        rt: &ResourceType,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if rt.crd {
            return Ok(());
        }
        match (rt.group.as_str(), rt.kind.as_str()) {
            ("", "Namespace") => {
                let name = str_at(obj, &["metadata", "name"]).to_string();
                util::obj_mut(obj, &["metadata", "labels"])
                    .insert("kubernetes.io/metadata.name".into(), json!(name));
                util::obj_mut(obj, &["spec"])
                    .entry("finalizers")
                    .or_insert(json!(["kubernetes"]));
                let phase = if obj.pointer("/metadata/deletionTimestamp").is_some() {
                    "Terminating"
                } else {
                    "Active"
                };
                util::obj_mut(obj, &["status"]).insert("phase".into(), json!(phase));
            }
            ("", "Secret") => {
                let m = obj.as_object_mut().expect("object");
                m.entry("type").or_insert(json!("Opaque"));
                if let Some(Value::Object(sd)) = m.remove("stringData") {
                    let data = util::obj_mut(obj, &["data"]);
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or_default();
                        data.insert(
                            k,
                            json!(base64::engine::general_purpose::STANDARD.encode(s)),
                        );
                    }
                }
                if let Some(Value::Object(d)) = obj.get("data") {
                    for (k, v) in d {
                        let ok = v.as_str().is_some_and(|s| {
                            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
                        });
                        if !ok {
                            return Err(ApiError::bad_request(format!(
                                "illegal base64 data in Secret data[{k:?}]"
                            )));
                        }
                    }
                }
            }
            ("", "Service") => self.admit_service(obj, old),
            ("", "Pod") => {
                let spec = util::obj_mut(obj, &["spec"]);
                spec.entry("restartPolicy").or_insert(json!("Always"));
                spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
                spec.entry("schedulerName")
                    .or_insert(json!("default-scheduler"));
                spec.entry("serviceAccountName").or_insert(json!("default"));
                spec.entry("terminationGracePeriodSeconds")
                    .or_insert(json!(30));
                if old.is_none() {
                    let st = util::obj_mut(obj, &["status"]);
                    st.entry("phase").or_insert(json!("Pending"));
                    st.entry("qosClass").or_insert(json!("BestEffort"));
                }
            }
            ("", "PersistentVolumeClaim") if old.is_none() => {
                util::obj_mut(obj, &["status"])
                    .entry("phase")
                    .or_insert(json!("Pending"));
            }
            ("apps", "Deployment") => {
                let spec = util::obj_mut(obj, &["spec"]);
                spec.entry("replicas").or_insert(json!(1));
                spec.entry("revisionHistoryLimit").or_insert(json!(10));
                spec.entry("progressDeadlineSeconds").or_insert(json!(600));
                let strategy = spec.entry("strategy").or_insert(json!({})).as_object_mut();
                if let Some(s) = strategy {
                    s.entry("type").or_insert(json!("RollingUpdate"));
                    if s.get("type") == Some(&json!("RollingUpdate")) {
                        s.entry("rollingUpdate")
                            .or_insert(json!({"maxUnavailable": "25%", "maxSurge": "25%"}));
                    }
                }
                validate_selector(rt, obj)?;
            }
            ("apps", "ReplicaSet") => {
                util::obj_mut(obj, &["spec"])
                    .entry("replicas")
                    .or_insert(json!(1));
                validate_selector(rt, obj)?;
            }
            ("apps", "StatefulSet") => {
                let spec = util::obj_mut(obj, &["spec"]);
                spec.entry("replicas").or_insert(json!(1));
                spec.entry("podManagementPolicy")
                    .or_insert(json!("OrderedReady"));
                spec.entry("revisionHistoryLimit").or_insert(json!(10));
                spec.entry("updateStrategy")
                    .or_insert(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
                validate_selector(rt, obj)?;
            }
            ("apps", "DaemonSet") => {
                let spec = util::obj_mut(obj, &["spec"]);
                spec.entry("revisionHistoryLimit").or_insert(json!(10));
                spec.entry("updateStrategy").or_insert(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
                validate_selector(rt, obj)?;
            }
            ("batch", "Job") => {
                let uid = str_at(obj, &["metadata", "uid"]).to_string();
                let name = str_at(obj, &["metadata", "name"]).to_string();
                let spec = util::obj_mut(obj, &["spec"]);
                spec.entry("parallelism").or_insert(json!(1));
                spec.entry("completions").or_insert(json!(1));
                spec.entry("backoffLimit").or_insert(json!(6));
                spec.entry("completionMode").or_insert(json!("NonIndexed"));
                spec.entry("suspend").or_insert(json!(false));
                if old.is_none() && !spec.contains_key("selector") {
                    spec.insert(
                        "selector".into(),
                        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
                    );
                    let labels = util::obj_mut(obj, &["spec", "template", "metadata", "labels"]);
                    labels.insert("batch.kubernetes.io/controller-uid".into(), json!(uid));
                    labels.insert("controller-uid".into(), json!(uid));
                    labels.insert("batch.kubernetes.io/job-name".into(), json!(name));
                    labels.insert("job-name".into(), json!(name));
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                if old.is_none() {
                    let fins = util::obj_mut(obj, &["metadata"])
                        .entry("finalizers")
                        .or_insert(json!([]));
                    if let Some(a) = fins.as_array_mut() {
                        let f = json!("customresourcecleanup.apiextensions.k8s.io");
                        if !a.contains(&f) {
                            a.push(f);
                        }
                    }
                }
                let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
                let mut accepted = names.clone();
                if accepted.get("singular").is_none() {
                    let kind = names["kind"].as_str().unwrap_or("").to_lowercase();
                    accepted["singular"] = json!(kind);
                }
                if accepted.get("listKind").is_none() {
                    accepted["listKind"] =
                        json!(format!("{}List", names["kind"].as_str().unwrap_or("")));
                }
                let stored: Vec<Value> = obj
                    .pointer("/spec/versions")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .filter(|v| v["storage"] == json!(true))
                            .map(|v| v["name"].clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let now = util::now();
                let status = util::obj_mut(obj, &["status"]);
                status.insert("acceptedNames".into(), accepted);
                status.insert("storedVersions".into(), Value::Array(stored));
                status.insert("conditions".into(), json!([
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now}
                ]));
            }
            _ => {}
        }
        Ok(())
    }

    fn admit_service(&mut self, obj: &mut Value, old: Option<&Value>) {
        let old_ip = old.and_then(|o| o.pointer("/spec/clusterIP")).cloned();
        let ty = obj
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        let spec = util::obj_mut(obj, &["spec"]);
        spec.insert("type".into(), json!(ty));
        spec.entry("sessionAffinity").or_insert(json!("None"));
        if ty != "ExternalName" {
            let ip = match (spec.get("clusterIP"), old_ip) {
                (Some(v), _) if v.as_str().is_some_and(|s| !s.is_empty()) => v.clone(),
                (_, Some(o)) => o,
                _ => {
                    let n = self.next_ip;
                    self.next_ip += 1;
                    json!(format!("10.96.{}.{}", n / 250, n % 250 + 2))
                }
            };
            spec.insert("clusterIP".into(), ip.clone());
            if ip != json!("None") || !spec.contains_key("clusterIPs") {
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
            spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
            spec.entry("internalTrafficPolicy")
                .or_insert(json!("Cluster"));
        }
        let needs_node_port = ty == "NodePort" || ty == "LoadBalancer";
        let old_ports: Vec<Value> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut next_port = self.next_node_port;
        if let Some(Value::Array(ports)) = obj.pointer_mut("/spec/ports") {
            for p in ports.iter_mut() {
                let Some(pm) = p.as_object_mut() else {
                    continue;
                };
                pm.entry("protocol").or_insert(json!("TCP"));
                if !pm.contains_key("targetPort")
                    && let Some(port) = pm.get("port").cloned()
                {
                    pm.insert("targetPort".into(), port);
                }
                if needs_node_port && !pm.contains_key("nodePort") {
                    let prev = old_ports
                        .iter()
                        .find(|o| o.get("port") == pm.get("port"))
                        .and_then(|o| o.get("nodePort"))
                        .cloned();
                    let np = prev.unwrap_or_else(|| {
                        next_port += 1;
                        json!(next_port)
                    });
                    pm.insert("nodePort".into(), np);
                }
            }
        }
        self.next_node_port = next_port;
        if ty == "LoadBalancer" {
            util::obj_mut(obj, &["spec"])
                .entry("allocateLoadBalancerNodePorts")
                .or_insert(json!(true));
            util::obj_mut(obj, &["spec"])
                .entry("externalTrafficPolicy")
                .or_insert(json!("Cluster"));
        }
        if old.is_none() {
            util::obj_mut(obj, &["status", "loadBalancer"]);
        }
    }

    fn register_crd(&mut self, crd: &Value) {
        let group = str_at(crd, &["spec", "group"]).to_string();
        let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
        let plural = names["plural"].as_str().unwrap_or("").to_string();
        let kind = names["kind"].as_str().unwrap_or("").to_string();
        if group.is_empty() || plural.is_empty() || kind.is_empty() {
            return;
        }
        let mut versions = Vec::new();
        let mut schemas = BTreeMap::new();
        let mut storage = None;
        let (mut status, mut scale, mut scale_paths) = (false, false, None);
        for v in crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = v["name"].as_str().unwrap_or("").to_string();
            if v["served"] == json!(false) {
                continue;
            }
            if v["storage"] == json!(true) {
                storage = Some(name.clone());
            }
            if v.pointer("/subresources/status").is_some() {
                status = true;
            }
            if let Some(s) = v.pointer("/subresources/scale") {
                scale = true;
                scale_paths = Some((
                    s["specReplicasPath"]
                        .as_str()
                        .unwrap_or(".spec.replicas")
                        .to_string(),
                    s["statusReplicasPath"]
                        .as_str()
                        .unwrap_or(".status.replicas")
                        .to_string(),
                    s["labelSelectorPath"].as_str().map(str::to_string),
                ));
            }
            if let Some(sc) = v.pointer("/schema/openAPIV3Schema") {
                schemas.insert(name.clone(), sc.clone());
            }
            versions.push(name);
        }
        let mut versions = crate::registry::sort_versions(versions);
        if let Some(s) = storage {
            versions.retain(|v| *v != s);
            versions.insert(0, s);
        }
        if versions.is_empty() {
            return;
        }
        let strs = |k: &str| -> Vec<String> {
            names[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let rt = ResourceType {
            group: group.clone(),
            versions,
            kind: kind.clone(),
            singular: names["singular"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| kind.to_lowercase()),
            plural: plural.clone(),
            namespaced: crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster"),
            short_names: strs("shortNames"),
            categories: strs("categories"),
            status,
            scale,
            scale_paths,
            crd: true,
            crd_schemas: Some(Arc::new(schemas)),
        };
        self.registry.types.insert((group, plural), rt);
    }

    fn unregister_crd(&mut self, crd: &Value) {
        let group = str_at(crd, &["spec", "group"]).to_string();
        let plural = str_at(crd, &["spec", "names", "plural"]).to_string();
        if let Some(rt) = self
            .registry
            .types
            .get(&(group.clone(), plural.clone()))
            .cloned()
        {
            let keys: Vec<(String, String)> = self
                .table(&rt)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            for (ns, name) in keys {
                self.remove(&rt, &ns, &name, None);
            }
            self.registry.types.remove(&(group.clone(), plural.clone()));
            self.tables.remove(&(group, plural));
        }
    }

    /// Every object of every type, for persistence.
    pub fn dump(&self) -> Value {
        let mut objects = Vec::new();
        // CRDs first so that their types exist when loading
        let mut keys: Vec<&(String, String)> = self.tables.keys().collect();
        keys.sort_by_key(|(g, p)| {
            (
                g != "apiextensions.k8s.io" || p != "customresourcedefinitions",
                (*g).clone(),
                (*p).clone(),
            )
        });
        for k in keys {
            for obj in self.tables[k].values() {
                objects.push(json!({"group": k.0, "resource": k.1, "object": obj}));
            }
        }
        json!({"resourceVersion": self.rv, "nextIP": self.next_ip, "nextNodePort": self.next_node_port, "objects": objects})
    }

    /// Restores a dump made by [`State::dump`].
    pub fn restore(&mut self, dump: &Value) {
        self.tables.clear();
        for item in dump["objects"].as_array().into_iter().flatten() {
            let group = item["group"].as_str().unwrap_or("").to_string();
            let plural = item["resource"].as_str().unwrap_or("").to_string();
            let obj = item["object"].clone();
            let ns = str_at(&obj, &["metadata", "namespace"]).to_string();
            let name = str_at(&obj, &["metadata", "name"]).to_string();
            if group == "apiextensions.k8s.io" && plural == "customresourcedefinitions" {
                self.register_crd(&obj);
            }
            self.tables
                .entry((group, plural))
                .or_default()
                .insert((ns, name), obj);
        }
        self.rv = dump["resourceVersion"].as_u64().unwrap_or(self.rv);
        self.next_ip = dump["nextIP"].as_u64().unwrap_or(1) as u32;
        self.next_node_port = dump["nextNodePort"].as_u64().unwrap_or(30000) as u32;
        self.log.clear();
        self.dirty = false;
    }
}

fn without_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(es) = v
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        for e in es {
            if let Some(e) = e.as_object_mut() {
                e.remove("time");
            }
        }
    }
    v
}

fn has_ns_finalizer(ns: &Value) -> bool {
    ns.pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

fn set_type_meta(obj: &mut Value, rt: &ResourceType) {
    let m = obj.as_object_mut().expect("object");
    let api_version = rt.api_version(rt.storage_version());
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!(rt.kind));
    for (k, v) in std::mem::take(m) {
        if k != "apiVersion" && k != "kind" {
            out.insert(k, v);
        }
    }
    *m = out;
}

fn validate_selector(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let name = str_at(obj, &["metadata", "name"]);
    let Some(sel) = obj.pointer("/spec/selector") else {
        return Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            name,
            "spec.selector",
            "Required value",
        ));
    };
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    let s = crate::selector::LabelSelector::from_object(sel);
    if s.is_empty() || !s.matches(&json!({"metadata": {"labels": labels}})) {
        return Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            name,
            "spec.template.metadata.labels",
            format!("Invalid value: {labels}: `selector` does not match template `labels`"),
        ));
    }
    Ok(())
}

/// Rewrites the apiVersion of a stored object for the version it is served at.
pub(crate) fn at_version(obj: &Value, rt: &ResourceType, version: &str) -> Value {
    let mut o = obj.clone();
    if version != rt.storage_version()
        && let Some(m) = o.as_object_mut()
    {
        m.insert("apiVersion".into(), json!(rt.api_version(version)));
    }
    o
}
