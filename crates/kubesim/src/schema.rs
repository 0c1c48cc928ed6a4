//! The compact schema of the built-in types (`data/schema.json`): which fields exist,
//! which type each refers to, list types, list map keys and patch strategies.
//! Generated from kubernetes-validate's definitions by `cargo xtask gen-kubesim`.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One field of a struct type.
#[derive(Debug, Default)]
pub(crate) struct Field {
    /// The referenced type (of the items for arrays, of the values for maps).
    pub t: Option<String>,
    /// An array.
    pub array: bool,
    /// A map (`additionalProperties`).
    pub map: bool,
    /// `x-kubernetes-list-type`.
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub keys: Vec<String>,
    /// `x-kubernetes-patch-strategy`.
    pub strategy: Option<String>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<String>,
    /// `x-kubernetes-map-type: atomic`.
    pub atomic: bool,
}

impl Field {
    /// The type of the field's value (of its items for arrays, its values for maps).
    pub fn ty(&self) -> Option<&'static TypeDef> {
        self.t.as_deref().and_then(type_def)
    }
}

/// A struct type; `props == None` means free-form (Quantity, RawExtension, ...).
#[derive(Debug, Default)]
pub(crate) struct TypeDef {
    pub props: Option<HashMap<String, Field>>,
    pub atomic: bool,
}

impl TypeDef {
    /// A named field.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.props.as_ref()?.get(name)
    }
}

struct Schema {
    kinds: HashMap<String, String>,
    types: HashMap<String, TypeDef>,
}

static SCHEMA: OnceLock<Schema> = OnceLock::new();

fn schema() -> &'static Schema {
    SCHEMA.get_or_init(|| {
        let raw: Value = serde_json::from_str(include_str!("../data/schema.json"))
            .expect("data/schema.json is valid JSON");
        let mut kinds = HashMap::new();
        if let Some(m) = raw["kinds"].as_object() {
            for (k, v) in m {
                kinds.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
        }
        let mut types = HashMap::new();
        if let Some(m) = raw["types"].as_object() {
            for (name, def) in m {
                let props = def["p"].as_object().map(|p| {
                    p.iter()
                        .map(|(f, s)| {
                            let field = Field {
                                t: s["t"].as_str().map(str::to_string),
                                array: s.get("a").is_some(),
                                map: s.get("o").is_some(),
                                list_type: s["l"].as_str().map(str::to_string),
                                keys: s["k"]
                                    .as_array()
                                    .map(|a| {
                                        a.iter()
                                            .filter_map(|x| x.as_str().map(str::to_string))
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                                strategy: s["s"].as_str().map(str::to_string),
                                merge_key: s["m"].as_str().map(str::to_string),
                                atomic: s.get("ma").is_some(),
                            };
                            (f.clone(), field)
                        })
                        .collect()
                });
                types.insert(
                    name.clone(),
                    TypeDef {
                        props,
                        atomic: def.get("ma").is_some(),
                    },
                );
            }
        }
        Schema { kinds, types }
    })
}

/// A type by its definition name.
pub(crate) fn type_def(name: &str) -> Option<&'static TypeDef> {
    schema().types.get(name)
}

/// The definition name of a built-in kind.
pub(crate) fn kind_type_name(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    schema()
        .kinds
        .get(&format!("{group}/{version}/{kind}"))
        .map(String::as_str)
}

/// The root type of a built-in kind.
pub(crate) fn kind_type(group: &str, version: &str, kind: &str) -> Option<&'static TypeDef> {
    kind_type_name(group, version, kind).and_then(type_def)
}

/// Removes the fields of `obj` that `ty` does not have (the apiserver cannot decode them)
/// and returns their dotted paths (`spec.x`), for strict validation and warnings.
pub(crate) fn prune_unknown(obj: &mut Value, ty: &TypeDef) -> Vec<String> {
    let mut out = Vec::new();
    walk_unknown(obj, ty, "", &mut out);
    out
}

fn walk_unknown(v: &mut Value, ty: &TypeDef, prefix: &str, out: &mut Vec<String>) {
    let (Some(props), Some(obj)) = (&ty.props, v.as_object_mut()) else {
        return;
    };
    let mut unknown = Vec::new();
    for (k, child) in obj.iter_mut() {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let Some(f) = props.get(k) else {
            out.push(path);
            unknown.push(k.clone());
            continue;
        };
        let Some(fty) = f.ty() else { continue };
        if f.array {
            if let Some(items) = child.as_array_mut() {
                for (i, item) in items.iter_mut().enumerate() {
                    walk_unknown(item, fty, &format!("{path}[{i}]"), out);
                }
            }
        } else if f.map {
            if let Some(m) = child.as_object_mut() {
                for (mk, mv) in m.iter_mut() {
                    walk_unknown(mv, fty, &format!("{path}.{mk}"), out);
                }
            }
        } else {
            walk_unknown(child, fty, &path, out);
        }
    }
    for k in unknown {
        obj.remove(&k);
    }
}

/// Prunes a custom resource against its CRD's structural schema (`openAPIV3Schema`) as the
/// apiserver does, applying `default`s; returns the pruned paths.
pub(crate) fn prune_structural(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = obj.as_object_mut() {
        let props = schema.get("properties").and_then(Value::as_object);
        let preserve =
            schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match props.and_then(|p| p.get(&k)) {
                Some(ps) => prune_node(m.get_mut(&k).expect("key"), ps, &k, &mut out),
                None if preserve => {}
                None => {
                    out.push(k.clone());
                    m.remove(&k);
                }
            }
        }
        apply_defaults(m, schema);
    }
    out
}

fn apply_defaults(m: &mut serde_json::Map<String, Value>, schema: &Value) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, ps) in props {
            if let Some(d) = ps.get("default") {
                m.entry(k.clone()).or_insert_with(|| d.clone());
            }
        }
    }
}

fn prune_node(v: &mut Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let embedded = schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            if props.is_none() && additional.is_none() {
                return;
            }
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let child_path = format!("{path}.{k}");
                if embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match (props.and_then(|p| p.get(&k)), additional) {
                    (Some(ps), _) | (None, Some(ps)) => {
                        prune_node(m.get_mut(&k).expect("key"), ps, &child_path, out)
                    }
                    (None, None) if preserve => {}
                    (None, None) => {
                        out.push(child_path);
                        m.remove(&k);
                    }
                }
            }
            apply_defaults(m, schema);
        }
        Value::Array(items) => {
            if let Some(is) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_node(item, is, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

static OPENAPI: OnceLock<serde_json::Map<String, Value>> = OnceLock::new();

/// The OpenAPI v3 component schemas (`data/openapi.json`) of the built-in kinds of one
/// group/version and every type they reach, as `/openapi/v3/apis/G/V` serves them.
pub(crate) fn openapi_components(group: &str, version: &str, kinds: &[&str]) -> Value {
    let all = OPENAPI.get_or_init(|| {
        serde_json::from_str(include_str!("../data/openapi.json"))
            .expect("data/openapi.json is valid JSON")
    });
    let mut out = serde_json::Map::new();
    let mut todo: Vec<String> = kinds
        .iter()
        .filter_map(|k| kind_type_name(group, version, k).map(str::to_string))
        .collect();
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(def) = all.get(&name) else { continue };
        if let Some(t) = type_def(&name)
            && let Some(props) = &t.props
        {
            todo.extend(props.values().filter_map(|f| f.t.clone()));
        }
        out.insert(name, def.clone());
    }
    // Keep the output stable (a map of the reachable set in name order).
    let mut sorted: Vec<(String, Value)> = out.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(sorted.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name() {
        let spec = type_def("io.k8s.api.core.v1.PodSpec").unwrap();
        let c = spec.field("containers").unwrap();
        assert_eq!(c.merge_key.as_deref(), Some("name"));
        assert_eq!(c.list_type.as_deref(), Some("map"));
        assert!(c.array);
    }

    #[test]
    fn unknown_fields_are_found() {
        let ty = kind_type("apps", "v1", "Deployment").unwrap();
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"replicas": 1, "bogus": 2, "template": {"spec": {"containers": [{"name": "c", "imagex": "y"}]}}}});
        assert_eq!(
            prune_unknown(&mut obj, ty),
            vec!["spec.bogus", "spec.template.spec.containers[0].imagex"]
        );
        assert!(obj["spec"].get("bogus").is_none());
    }

    #[test]
    fn custom_resources_are_pruned_and_defaulted() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"size": {"type": "integer", "default": 1}, "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}}}});
        let mut cr = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"}, "extra": 1,
            "spec": {"bogus": true, "free": {"any": 1}, "tags": [{"k": "a", "v": "b"}]}});
        let pruned = prune_structural(&mut cr, &schema);
        assert_eq!(pruned, vec!["extra", "spec.bogus", "spec.tags[0].v"]);
        assert_eq!(
            cr["spec"],
            json!({"free": {"any": 1}, "tags": [{"k": "a"}], "size": 1})
        );
    }
}

/// The patch metadata of a built-in type (patch strategies and merge keys), for clients that
/// compute strategic merge patches from the same Kubernetes definitions the simulator serves.
#[derive(Clone, Copy, Debug)]
pub struct PatchMeta(&'static TypeDef);

/// How one field of a built-in type is patched (see [`PatchMeta::field`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct FieldPatch {
    /// `x-kubernetes-patch-strategy` (`merge`, `replace`, `retainKeys`, `merge,retainKeys`).
    pub strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'static str>,
    /// The type of the field's value (of its items for lists, its values for maps).
    pub elem: Option<PatchMeta>,
}

impl PatchMeta {
    /// The root type of a built-in kind (`apps/v1`, `Deployment`); `None` for custom resources.
    pub fn of_kind(api_version: &str, kind: &str) -> Option<PatchMeta> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        kind_type(group, version, kind).map(PatchMeta)
    }

    /// A field of the type; the default (no strategy, unknown type) for fields it lacks.
    pub fn field(self, name: &str) -> FieldPatch {
        match self.0.field(name) {
            Some(f) => FieldPatch {
                strategy: f.strategy.as_deref(),
                merge_key: f.merge_key.as_deref(),
                elem: f.ty().map(PatchMeta),
            },
            None => FieldPatch::default(),
        }
    }
}
