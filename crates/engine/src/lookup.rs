//! Helm's `lookup` against the cluster: templates read live objects during install and upgrade
//! (charts use it to keep generated passwords, find existing claims, and the like).

use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery::Scope;
use serde_json::{Value, json};

use ferry_release::retry::retry;

/// `ferry_render::Lookup` on a live cluster: one discovery request for the kind, then a get
/// (with a name) or a list (without), as Helm's `lookup` does. Missing objects are `{}`.
///
/// Templates render on a thread of their own; the queries run on the runtime this was made
/// in, so the caller must not block that runtime while rendering (run the render with
/// `tokio::task::spawn_blocking`).
pub struct ClusterLookup {
    client: kube::Client,
    handle: tokio::runtime::Handle,
}

impl ClusterLookup {
    /// A lookup through `client`, on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn new(client: kube::Client) -> ClusterLookup {
        ClusterLookup {
            client,
            handle: tokio::runtime::Handle::current(),
        }
    }

    async fn query(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, String> {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = kube::discovery::oneshot::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| {
                format!(
                    "unable to get apiresource from unstructured: {group}/{version}, Kind={kind}: {}",
                    api_message(&e)
                )
            })?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced if !namespace.is_empty() => {
                Api::namespaced_with(self.client.clone(), namespace, &ar)
            }
            _ => Api::all_with(self.client.clone(), &ar),
        };
        if !name.is_empty() {
            let obj = retry(|| api.get_opt(name))
                .await
                .map_err(|e| api_message(&e))?;
            return Ok(obj.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)));
        }
        let params = ListParams::default();
        let list = match retry(|| api.list(&params)).await {
            Ok(l) => l,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(api_message(&e)),
        };
        // client-go's unstructured list: every item carries its apiVersion and kind
        let items: Vec<Value> = list
            .items
            .into_iter()
            .map(|o| {
                let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
                if let Some(m) = v.as_object_mut() {
                    m.insert("apiVersion".into(), json!(ar.api_version));
                    m.insert("kind".into(), json!(ar.kind));
                }
                v
            })
            .collect();
        let mut metadata = serde_json::Map::new();
        if let Some(rv) = list.metadata.resource_version {
            metadata.insert("resourceVersion".into(), json!(rv));
        }
        Ok(Some(json!({
            "apiVersion": ar.api_version,
            "kind": format!("{}List", ar.kind),
            "metadata": metadata,
            "items": items,
        })))
    }
}

/// The API server's message, as client-go's errors print it.
fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        e => e.to_string(),
    }
}

impl ferry_render::Lookup for ClusterLookup {
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ferry_chart::Value>, String> {
        let found = self
            .handle
            .block_on(self.query(api_version, kind, namespace, name))?;
        Ok(found.as_ref().map(json_to_value))
    }
}

/// Unstructured JSON as Helm's templates see it: integers stay integers (apimachinery decodes
/// them as int64), other numbers are float64.
fn json_to_value(v: &Value) -> ferry_chart::Value {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => ferry_chart::Value::Int(i),
            None => ferry_chart::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Array(a) => ferry_chart::Value::List(a.iter().map(json_to_value).collect()),
        Value::Object(o) => ferry_chart::Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
        other => ferry_chart::Value::from_json(other),
    }
}
