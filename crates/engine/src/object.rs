//! The unit the engine works on: one manifest document, resolved to its API resource.

use kube::discovery::ApiResource;
use serde_json::Value;

/// Where an object lives in the API: its resource (group, version, kind, plural), scope,
/// namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub resource: ApiResource,
    /// Whether the resource is namespaced (from discovery, CRDs included).
    pub namespaced: bool,
    /// The namespace for namespaced resources (defaulted to the release namespace); `None`
    /// for cluster-scoped ones.
    pub namespace: Option<String>,
    pub name: String,
}

impl Target {
    /// `Kind/name` or `Kind/namespace/name`, as messages name objects.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.resource.kind, ns, self.name),
            None => format!("{} {}", self.resource.kind, self.name),
        }
    }
}

/// A manifest document resolved to its target, with its body as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub target: Target,
    pub body: Value,
}
