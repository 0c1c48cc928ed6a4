//! JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

use crate::error::ApiError;
use crate::schema::{Field, TypeDef};
use serde_json::{Map, Value};

/// Applies an RFC 6902 JSON patch.
pub(crate) fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array of operations"))?;
    for op in ops {
        let kind = op["op"].as_str().unwrap_or("");
        let path = op["path"].as_str().unwrap_or("");
        match kind {
            "add" => add(doc, path, op["value"].clone())?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, op["value"].clone())?;
            }
            "move" => {
                let v = remove(doc, op["from"].as_str().unwrap_or(""))?;
                add(doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(op["from"].as_str().unwrap_or(""))
                    .cloned()
                    .ok_or_else(|| missing(op["from"].as_str().unwrap_or("")))?;
                add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&op["value"]) {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: testing value {path} failed"
                        ),
                    ));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!("Unexpected kind: {other:?}")));
            }
        }
    }
    Ok(())
}

fn missing(path: &str) -> ApiError {
    ApiError::new(
        422,
        "Invalid",
        format!(
            "the server rejected our request due to an error in our request: doc is missing path: {path:?}"
        ),
    )
}

fn split_pointer(path: &str) -> Result<(String, String), ApiError> {
    let idx = path.rfind('/').ok_or_else(|| missing(path))?;
    let last = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..idx].to_string(), last))
}

fn add(doc: &mut Value, path: &str, v: Value) -> Result<(), ApiError> {
    if path.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    let target = doc.pointer_mut(&parent).ok_or_else(|| missing(path))?;
    match target {
        Value::Object(m) => {
            m.insert(last, v);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
            } else {
                let i: usize = last.parse().map_err(|_| missing(path))?;
                if i > a.len() {
                    return Err(missing(path));
                }
                a.insert(i, v);
            }
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let (parent, last) = split_pointer(path)?;
    let target = doc.pointer_mut(&parent).ok_or_else(|| missing(path))?;
    match target {
        Value::Object(m) => m.remove(&last).ok_or_else(|| missing(path)),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing(path))?;
            if i >= a.len() {
                return Err(missing(path));
            }
            Ok(a.remove(i))
        }
        _ => Err(missing(path)),
    }
}

/// Applies an RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let d = doc.as_object_mut().expect("object");
    for (k, v) in p {
        if v.is_null() {
            d.remove(k);
        } else {
            merge_patch(d.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The schema context of a value during a strategic merge.
#[derive(Clone, Copy)]
pub(crate) enum Ctx {
    /// A struct of a known type.
    Struct(&'static TypeDef),
    /// A map whose values have the given type.
    Map(Option<&'static TypeDef>),
    /// Unknown (free-form): merge maps, replace lists.
    Unknown,
}

impl Ctx {
    fn of(t: Option<&'static TypeDef>) -> Ctx {
        match t {
            Some(t) if t.props.is_some() => Ctx::Struct(t),
            _ => Ctx::Unknown,
        }
    }

    fn field(&self, name: &str) -> Option<&'static Field> {
        match self {
            Ctx::Struct(t) => t.field(name),
            _ => None,
        }
    }

    /// The context of a child value under key `name` (not for list items).
    fn child(&self, name: &str) -> Ctx {
        match self {
            Ctx::Struct(_) => match self.field(name) {
                Some(f) if f.map => Ctx::Map(f.ty()),
                Some(f) => Ctx::of(f.ty()),
                None => Ctx::Unknown,
            },
            Ctx::Map(t) => Ctx::of(*t),
            Ctx::Unknown => Ctx::Unknown,
        }
    }
}

/// Applies a strategic merge patch to `doc` whose root type is `root`.
pub(crate) fn strategic_merge(
    doc: &mut Value,
    patch: &Value,
    root: &'static TypeDef,
) -> Result<(), ApiError> {
    let Value::Object(p) = patch else {
        return Err(ApiError::bad_request(
            "strategic merge patch must be an object",
        ));
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    merge_map(doc.as_object_mut().expect("object"), p, Ctx::Struct(root))
}

fn merge_map(
    orig: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    ctx: Ctx,
) -> Result<(), ApiError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *orig = strip(patch);
            return Ok(());
        }
        Some("delete") => {
            orig.clear();
            return Ok(());
        }
        _ => {}
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (k, pv) in patch {
        if k == "$patch" || k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            orders.push((
                field.to_string(),
                pv.as_array().cloned().unwrap_or_default(),
            ));
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(del)) = (orig.get_mut(field), pv.as_array()) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            orig.remove(k);
            continue;
        }
        let child = ctx.child(k);
        match pv {
            Value::Object(pm) => {
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    orig.remove(k);
                    continue;
                }
                match orig.get_mut(k) {
                    Some(Value::Object(om)) => merge_map(om, pm, child)?,
                    _ => {
                        let mut fresh = Map::new();
                        merge_map(&mut fresh, pm, child)?;
                        orig.insert(k.clone(), Value::Object(fresh));
                    }
                }
            }
            Value::Array(pa) => {
                let field = ctx.field(k);
                let merge = field
                    .and_then(|f| f.strategy.as_deref())
                    .is_some_and(|s| s.split(',').any(|x| x == "merge"));
                if merge {
                    let f = field.expect("field");
                    let existing = match orig.remove(k) {
                        Some(Value::Array(a)) => a,
                        _ => Vec::new(),
                    };
                    let merged = merge_list(existing, pa, f)?;
                    orig.insert(k.clone(), Value::Array(merged));
                } else {
                    let items: Vec<Value> = pa
                        .iter()
                        .filter(|x| x.get("$patch").is_none())
                        .map(strip_value)
                        .collect();
                    orig.insert(k.clone(), Value::Array(items));
                }
            }
            scalar => {
                orig.insert(k.clone(), scalar.clone());
            }
        }
    }
    for (field, order) in orders {
        let key = ctx.field(&field).and_then(|f| f.merge_key.clone());
        if let Some(Value::Array(list)) = orig.get_mut(&field) {
            reorder(list, &order, key.as_deref());
        }
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        orig.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    Ok(())
}

fn merge_list(
    mut orig: Vec<Value>,
    patch: &[Value],
    f: &'static Field,
) -> Result<Vec<Value>, ApiError> {
    let Some(key) = f.merge_key.as_deref() else {
        // a list of primitives with the merge strategy: union
        for v in patch {
            if !orig.contains(v) {
                orig.push(v.clone());
            }
        }
        return Ok(orig);
    };
    if patch
        .iter()
        .any(|x| x.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|x| x.get("$patch").is_none())
            .map(strip_value)
            .collect());
    }
    let item_ctx = Ctx::of(f.ty());
    for pitem in patch {
        let Value::Object(pm) = pitem else {
            continue;
        };
        let kv = pm.get(key);
        let pos = orig.iter().position(|o| o.get(key) == kv && kv.is_some());
        if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
            orig.retain(|o| o.get(key) != kv);
            continue;
        }
        match pos {
            Some(i) => {
                if let Value::Object(om) = &mut orig[i] {
                    merge_map(om, pm, item_ctx)?;
                }
            }
            None => {
                let mut fresh = Map::new();
                merge_map(&mut fresh, pm, item_ctx)?;
                orig.push(Value::Object(fresh));
            }
        }
    }
    Ok(orig)
}

fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let ids: Vec<Value> = order.iter().map(&id).collect();
    let mut ordered: Vec<Value> = Vec::with_capacity(list.len());
    for want in &ids {
        if let Some(pos) = list.iter().position(|x| &id(x) == want) {
            ordered.push(list.remove(pos));
        }
    }
    ordered.append(list);
    *list = ordered;
}

fn strip(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip(m)),
        Value::Array(a) => Value::Array(a.iter().map(strip_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::kind_type;
    use serde_json::json;

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"a": [1, 2], "b": {"c": 1}});
        json_patch(
            &mut d,
            &json!([
                {"op": "add", "path": "/a/-", "value": 3},
                {"op": "replace", "path": "/b/c", "value": 2},
                {"op": "remove", "path": "/a/0"},
                {"op": "copy", "from": "/b", "path": "/e"},
                {"op": "test", "path": "/e/c", "value": 2}
            ]),
        )
        .unwrap();
        assert_eq!(d, json!({"a": [2, 3], "b": {"c": 2}, "e": {"c": 2}}));
        let e = json_patch(&mut d, &json!([{"op": "remove", "path": "/zz"}])).unwrap_err();
        assert_eq!(e.code, 422);
    }

    #[test]
    fn merge_patch_deletes_nulls() {
        let mut d = json!({"a": 1, "b": {"c": 1, "d": 2}, "l": [1, 2]});
        merge_patch(&mut d, &json!({"a": null, "b": {"c": 3}, "l": [9]}));
        assert_eq!(d, json!({"b": {"c": 3, "d": 2}, "l": [9]}));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let ty = kind_type("apps", "v1", "Deployment").unwrap();
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "x:1", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "y:1"}
        ]}}}});
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "x:2"}, {"name": "b", "$patch": "delete"}]
        }}}});
        strategic_merge(&mut d, &p, ty).unwrap();
        assert_eq!(
            d,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "x:2", "ports": [{"containerPort": 80}]}
            ]}}}})
        );
    }

    #[test]
    fn strategic_merge_replaces_atomic_lists_and_retains_keys() {
        let ty = kind_type("apps", "v1", "Deployment").unwrap();
        let mut d = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}}}});
        let p = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null},
            "template": {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}}});
        strategic_merge(&mut d, &p, ty).unwrap();
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["3"])
        );
    }
}
