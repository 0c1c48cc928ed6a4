//! The resource types the simulator serves (built-ins and CRDs), discovery and OpenAPI documents.

use crate::util::hash_value;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One served resource type.
#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    pub group: String,
    /// Served versions, preferred (storage) first.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
    pub scale: bool,
    /// For CRDs: the `.spec.replicas`-like paths of the scale subresource.
    pub scale_paths: Option<(String, String, Option<String>)>,
    pub crd: bool,
    /// For CRDs: `openAPIV3Schema` per version.
    pub crd_schemas: Option<std::sync::Arc<BTreeMap<String, Value>>>,
}

impl ResourceType {
    /// `group/version` for a version.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// The storage version.
    pub fn storage_version(&self) -> &str {
        &self.versions[0]
    }
}

const ALL: &[&str] = &["all"];

#[allow(clippy::type_complexity)] // a literal table reads best as tuples
const BUILTINS: &[(&str, &str, &str, &str, bool, &[&str], &[&str], &str)] = &[
    // group, version, kind, plural, namespaced, shortNames, categories, subresources (s=status, c=scale)
    ("", "v1", "Pod", "pods", true, &["po"], ALL, "s"),
    ("", "v1", "Service", "services", true, &["svc"], ALL, "s"),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], &[], ""),
    ("", "v1", "Secret", "secrets", true, &[], &[], ""),
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        &["ns"],
        &[],
        "s",
    ),
    ("", "v1", "Node", "nodes", false, &["no"], &[], "s"),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        &[],
        "",
    ),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
        &[],
        "s",
    ),
    (
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
        &[],
        "s",
    ),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], &[], ""),
    ("", "v1", "Event", "events", true, &["ev"], &[], ""),
    (
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        true,
        &["rc"],
        ALL,
        "sc",
    ),
    (
        "",
        "v1",
        "LimitRange",
        "limitranges",
        true,
        &["limits"],
        &[],
        "",
    ),
    (
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
        &[],
        "s",
    ),
    ("", "v1", "PodTemplate", "podtemplates", true, &[], &[], ""),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        ALL,
        "sc",
    ),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        ALL,
        "sc",
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        ALL,
        "sc",
    ),
    (
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        ALL,
        "s",
    ),
    (
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
        &[],
        "",
    ),
    ("batch", "v1", "Job", "jobs", true, &[], ALL, "s"),
    (
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        true,
        &["cj"],
        ALL,
        "s",
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        ALL,
        "s",
    ),
    (
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
        &[],
        "s",
    ),
    (
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
        &[],
        &[],
        "",
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        &[],
        "",
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
        &[],
        "",
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
        &[],
        "",
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
        &[],
        "",
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
        &[],
        "",
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
        &[],
        "s",
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
        &[],
        "",
    ),
    (
        "storage.k8s.io",
        "v1",
        "CSIDriver",
        "csidrivers",
        false,
        &[],
        &[],
        "",
    ),
    (
        "storage.k8s.io",
        "v1",
        "CSINode",
        "csinodes",
        false,
        &[],
        &[],
        "",
    ),
    (
        "storage.k8s.io",
        "v1",
        "VolumeAttachment",
        "volumeattachments",
        false,
        &[],
        &[],
        "s",
    ),
    (
        "storage.k8s.io",
        "v1",
        "CSIStorageCapacity",
        "csistoragecapacities",
        true,
        &[],
        &[],
        "",
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        &[],
        &[],
        "",
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        &[],
        "",
    ),
    (
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
        &[],
        "",
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        &["pc"],
        &[],
        "",
    ),
    (
        "node.k8s.io",
        "v1",
        "RuntimeClass",
        "runtimeclasses",
        false,
        &[],
        &[],
        "",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
        &["api-extensions"],
        "",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        &[],
        &["api-extensions"],
        "",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        false,
        &[],
        &["api-extensions"],
        "s",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        false,
        &[],
        &["api-extensions"],
        "",
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        &["api-extensions"],
        "s",
    ),
];

/// The order groups appear in `/apis` (as a real apiserver orders them).
const GROUP_ORDER: &[&str] = &[
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
];

/// All served resource types, keyed by (group, plural).
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    pub types: BTreeMap<(String, String), ResourceType>,
}

impl Registry {
    /// The built-in types.
    pub fn builtin() -> Self {
        let mut types = BTreeMap::new();
        for (g, v, kind, plural, ns, short, cats, subs) in BUILTINS {
            types.insert(
                (g.to_string(), plural.to_string()),
                ResourceType {
                    group: g.to_string(),
                    versions: vec![v.to_string()],
                    kind: kind.to_string(),
                    plural: plural.to_string(),
                    singular: kind.to_lowercase(),
                    namespaced: *ns,
                    short_names: short.iter().map(|s| s.to_string()).collect(),
                    categories: cats.iter().map(|s| s.to_string()).collect(),
                    status: subs.contains('s'),
                    scale: subs.contains('c'),
                    scale_paths: None,
                    crd: false,
                    crd_schemas: None,
                },
            );
        }
        Registry { types }
    }

    /// Looks up a resource served at `group/version`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .get(&(group.to_string(), plural.to_string()))
            .filter(|t| t.versions.iter().any(|v| v == version))
    }

    /// Finds a type by group and kind.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .values()
            .find(|t| t.group == group && t.kind == kind)
    }

    /// Groups with their served versions, in discovery order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.types.values() {
            if t.group.is_empty() {
                continue;
            }
            let e = groups.entry(t.group.clone()).or_default();
            for v in &t.versions {
                if !e.contains(v) {
                    e.push(v.clone());
                }
            }
        }
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for g in GROUP_ORDER {
            if let Some(vs) = groups.remove(*g) {
                out.push((g.to_string(), sort_versions(vs)));
            }
        }
        for (g, vs) in groups {
            out.push((g, sort_versions(vs)));
        }
        out
    }

    /// Types served at a group/version.
    pub fn at(&self, group: &str, version: &str) -> Vec<&ResourceType> {
        self.types
            .values()
            .filter(|t| t.group == group && t.versions.iter().any(|v| v == version))
            .collect()
    }

    /// `/api`.
    pub fn api_versions(&self) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
        })
    }

    /// `/apis` (legacy).
    pub fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .map(|(g, vs)| group_json(&g, &vs))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `/apis/G`.
    pub fn api_group(&self, group: &str) -> Option<Value> {
        let (g, vs) = self.groups().into_iter().find(|(g, _)| g == group)?;
        let mut v = group_json(&g, &vs);
        v["kind"] = json!("APIGroup");
        v["apiVersion"] = json!("v1");
        Some(v)
    }

    /// `/api/v1` or `/apis/G/V` (legacy).
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let types = self.at(group, version);
        if types.is_empty() {
            return None;
        }
        let mut resources = Vec::new();
        for t in types {
            let mut r = json!({
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": verbs(),
                "storageVersionHash": hash_value(&json!([t.group, t.plural])),
            });
            if !t.short_names.is_empty() {
                r["shortNames"] = json!(t.short_names);
            }
            if !t.categories.is_empty() {
                r["categories"] = json!(t.categories);
            }
            resources.push(r);
            if t.status {
                resources.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                    "kind": t.kind, "verbs": ["get", "patch", "update"]}));
            }
            if t.scale {
                resources.push(json!({"name": format!("{}/scale", t.plural), "singularName": "", "namespaced": t.namespaced,
                    "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
            }
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        )
    }

    /// Aggregated discovery (`apidiscovery.k8s.io/v2`) for `/api` (core) or `/apis`.
    pub fn aggregated(&self, core: bool) -> Value {
        let groups: Vec<(String, Vec<String>)> = if core {
            vec![(String::new(), vec!["v1".to_string()])]
        } else {
            self.groups()
        };
        let items: Vec<Value> = groups
            .into_iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| {
                        let resources: Vec<Value> = self
                            .at(&g, v)
                            .into_iter()
                            .map(|t| {
                                let mut subs = Vec::new();
                                if t.status {
                                    subs.push(json!({"subresource": "status", "responseKind": {"group": t.group, "version": v, "kind": t.kind}, "verbs": ["get", "patch", "update"]}));
                                }
                                if t.scale {
                                    subs.push(json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}));
                                }
                                let mut r = json!({
                                    "resource": t.plural,
                                    "responseKind": {"group": t.group, "version": v, "kind": t.kind},
                                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                                    "singularResource": t.singular,
                                    "verbs": verbs(),
                                });
                                if !t.short_names.is_empty() {
                                    r["shortNames"] = json!(t.short_names);
                                }
                                if !t.categories.is_empty() {
                                    r["categories"] = json!(t.categories);
                                }
                                if !subs.is_empty() {
                                    r["subresources"] = json!(subs);
                                }
                                r
                            })
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
            })
            .collect();
        json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
    }

    /// `/openapi/v3`: the root listing each group/version's document.
    pub fn openapi_root(&self) -> Value {
        let mut paths = serde_json::Map::new();
        let mut gvs = vec![(String::new(), "v1".to_string())];
        for (g, vs) in self.groups() {
            for v in vs {
                gvs.push((g.clone(), v));
            }
        }
        for (g, v) in gvs {
            let key = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            };
            let doc = self.openapi_gv(&g, &v);
            let hash = hash_value(&doc);
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
            );
        }
        json!({"paths": paths})
    }

    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/G/V`: one PATCH operation per kind, which is
    /// what kubectl and Helm need to hand validation to the server (no component schemas, so
    /// kubectl computes strategic merge patches from its built-in types).
    pub fn openapi_gv(&self, group: &str, version: &str) -> Value {
        let mut paths = serde_json::Map::new();
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}},
        ]);
        let body = json!({"content": {
            "application/apply-patch+yaml": {"schema": {"type": "object"}},
            "application/json-patch+json": {"schema": {"type": "object"}},
            "application/merge-patch+json": {"schema": {"type": "object"}},
            "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
        }, "required": true});
        let kinds: Vec<&str> = self
            .at(group, version)
            .iter()
            .map(|t| t.kind.as_str())
            .collect();
        let schemas = crate::schema::openapi_components(group, version, &kinds);
        for t in self.at(group, version) {
            let path = if t.namespaced {
                format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
            } else {
                format!("{prefix}/{}/{{name}}", t.plural)
            };
            let gvk = json!({"group": group, "version": version, "kind": t.kind});
            paths.insert(
                path,
                json!({"patch": {
                    "operationId": format!("patch{}", t.kind),
                    "parameters": params,
                    "requestBody": body,
                    "responses": {"200": response(&schemas, group, version, &t.kind)},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                }}),
            );
        }
        json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.37.0"},
            "paths": paths,
            "components": {"schemas": schemas},
        })
    }
}

/// A `200` response whose body is the kind's schema (when it is a built-in type).
fn response(schemas: &Value, group: &str, version: &str, kind: &str) -> Value {
    match crate::schema::kind_type_name(group, version, kind) {
        Some(name) if schemas.get(name).is_some() => json!({
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}},
        }),
        _ => json!({"description": "OK"}),
    }
}

fn verbs() -> Value {
    json!([
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch"
    ])
}

fn group_json(g: &str, vs: &[String]) -> Value {
    let versions: Vec<Value> = vs
        .iter()
        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
}

/// Sorts versions as Kubernetes does: GA before beta before alpha, higher first.
pub(crate) fn sort_versions(mut vs: Vec<String>) -> Vec<String> {
    fn key(v: &str) -> (u8, i64, i64) {
        let rest = v.strip_prefix('v').unwrap_or(v);
        let n_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let Ok(major) = rest[..n_end].parse::<i64>() else {
            return (0, 0, 0);
        };
        let tail = &rest[n_end..];
        if tail.is_empty() {
            (3, major, 0)
        } else if let Some(b) = tail.strip_prefix("beta") {
            (2, major, b.parse().unwrap_or(0))
        } else if let Some(a) = tail.strip_prefix("alpha") {
            (1, major, a.parse().unwrap_or(0))
        } else {
            (0, 0, 0)
        }
    }
    vs.sort_by(|a, b| key(b).cmp(&key(a)).then(a.cmp(b)));
    vs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let v = sort_versions(vec![
            "v1beta1".into(),
            "v1".into(),
            "v2alpha1".into(),
            "v2".into(),
        ]);
        assert_eq!(v, vec!["v2", "v1", "v1beta1", "v2alpha1"]);
    }

    #[test]
    fn discovery_lists_scale_subresource() {
        let r = Registry::builtin();
        let list = r.resource_list("apps", "v1").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"deployments/scale"));
        assert!(names.contains(&"replicasets"));
    }
}
