//! Server-side apply: field sets (`FieldsV1`), managedFields, conflicts and the apply merge.

use crate::error::ApiError;
use crate::patch::Ctx;
use crate::schema::{Field, TypeDef};
use crate::util;
use serde_json::{Map, Value, json};

/// A path element as written in FieldsV1 (`f:spec`, `k:{"name":"c"}`, `v:"x"`, `.`).
type Path = Vec<String>;

/// One managedFields entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    set: Map<String, Value>,
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or("").to_string(),
                    operation: e["operation"].as_str().unwrap_or("Update").to_string(),
                    api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
                    time: e["time"].as_str().unwrap_or("").to_string(),
                    subresource: e["subresource"].as_str().map(str::to_string),
                    set: e["fieldsV1"].as_object().cloned().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_entries(obj: &mut Value, es: Vec<Entry>) {
    let arr: Vec<Value> = es
        .into_iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": sorted(Value::Object(e.set)),
            });
            if let Some(s) = e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    let meta = util::obj_mut(obj, &["metadata"]);
    if arr.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(arr));
    }
}

/// Sorts a field set's keys, as the apiserver serializes FieldsV1.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        other => other,
    }
}

/// The field set of an object: everything it sets except server-owned metadata and status.
pub(crate) fn fields_of(obj: &Value, root: Option<&'static TypeDef>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(m) = obj.as_object() else {
        return out;
    };
    let ctx = ctx_of(root);
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                let mut meta = Map::new();
                for mk in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(mv) = v.get(mk) {
                        let mctx = crate::schema::type_def(
                            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                        )
                        .map(Ctx::Struct)
                        .unwrap_or(Ctx::Unknown);
                        meta.insert(format!("f:{mk}"), field_value(mv, &mctx, mk));
                    }
                }
                if !meta.is_empty() {
                    out.insert("f:metadata".into(), Value::Object(meta));
                }
            }
            _ => {
                out.insert(format!("f:{k}"), field_value(v, &ctx, k));
            }
        }
    }
    out
}

fn ctx_of(t: Option<&'static TypeDef>) -> Ctx {
    match t {
        Some(t) if t.props.is_some() => Ctx::Struct(t),
        _ => Ctx::Unknown,
    }
}

fn struct_field(ctx: &Ctx, name: &str) -> Option<&'static Field> {
    match ctx {
        Ctx::Struct(t) => t.field(name),
        _ => None,
    }
}

/// The field-set node of the value of field `name` in context `ctx`.
fn field_value(v: &Value, ctx: &Ctx, name: &str) -> Value {
    let field = struct_field(ctx, name);
    match v {
        Value::Object(m) => {
            let child = match (ctx, field) {
                (Ctx::Struct(_), Some(f)) if f.map => {
                    if f.atomic {
                        return json!({});
                    }
                    Ctx::Map(f.ty())
                }
                (Ctx::Struct(_), Some(f)) => {
                    if f.atomic || f.ty().is_some_and(|t| t.atomic) {
                        return json!({});
                    }
                    ctx_of(f.ty())
                }
                (Ctx::Map(t), _) => ctx_of(*t),
                _ => Ctx::Unknown,
            };
            if m.is_empty() {
                return json!({});
            }
            let mut out = Map::new();
            if matches!(child, Ctx::Map(_)) {
                out.insert(".".into(), json!({}));
            }
            for (k, cv) in m {
                out.insert(format!("f:{k}"), field_value(cv, &child, k));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let Some(f) = field else {
                return json!({});
            };
            let item_ctx = ctx_of(f.ty());
            match list_kind(f) {
                ListKind::Map(keys) => {
                    let mut out = Map::new();
                    for item in items {
                        let Some(im) = item.as_object() else { continue };
                        let mut node = Map::new();
                        node.insert(".".into(), json!({}));
                        for (k, cv) in im {
                            node.insert(format!("f:{k}"), field_value(cv, &item_ctx, k));
                        }
                        out.insert(key_of(item, &keys), Value::Object(node));
                    }
                    Value::Object(out)
                }
                ListKind::Set => {
                    let mut out = Map::new();
                    for item in items {
                        out.insert(format!("v:{item}"), json!({}));
                    }
                    Value::Object(out)
                }
                ListKind::Atomic => json!({}),
            }
        }
        _ => json!({}),
    }
}

enum ListKind {
    Map(Vec<String>),
    Set,
    Atomic,
}

fn list_kind(f: &Field) -> ListKind {
    match f.list_type.as_deref() {
        Some("map") => ListKind::Map(if f.keys.is_empty() {
            f.merge_key.iter().cloned().collect()
        } else {
            f.keys.clone()
        }),
        Some("set") => ListKind::Set,
        Some(_) => ListKind::Atomic,
        None => match &f.merge_key {
            Some(k) => ListKind::Map(vec![k.clone()]),
            None => ListKind::Atomic,
        },
    }
}

fn key_of(item: &Value, keys: &[String]) -> String {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = item.get(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    format!("k:{}", Value::Object(m))
}

/// All leaf paths of a set: fields with no children, and elements marked `.`.
fn leaves(set: &Map<String, Value>) -> Vec<Path> {
    let mut out = Vec::new();
    fn walk(m: &Map<String, Value>, prefix: &mut Path, out: &mut Vec<Path>) {
        for (k, v) in m {
            if k == "." {
                out.push(prefix.clone());
                continue;
            }
            prefix.push(k.clone());
            match v.as_object() {
                Some(c) if !c.is_empty() => walk(c, prefix, out),
                _ => out.push(prefix.clone()),
            }
            prefix.pop();
        }
    }
    walk(set, &mut Vec::new(), &mut out);
    out
}

fn contains(set: &Map<String, Value>, path: &[String]) -> bool {
    let mut cur = set;
    for (i, pe) in path.iter().enumerate() {
        match cur.get(pe).and_then(Value::as_object) {
            Some(c) => {
                if i == path.len() - 1 {
                    return true;
                }
                cur = c;
            }
            None => return false,
        }
    }
    path.is_empty()
}

/// Whether `set` owns `path` as a leaf (or as an element).
fn owns_leaf(set: &Map<String, Value>, path: &[String]) -> bool {
    let mut cur = set;
    for pe in path {
        match cur.get(pe).and_then(Value::as_object) {
            Some(c) => cur = c,
            None => return false,
        }
    }
    cur.is_empty() || cur.contains_key(".")
}

fn remove_path(set: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        if let Some(Value::Object(c)) = set.get_mut(first)
            && c.len() > 1
            && c.contains_key(".")
        {
            c.remove(".");
            return;
        }
        set.remove(first);
        return;
    }
    if let Some(Value::Object(c)) = set.get_mut(first) {
        remove_path(c, rest);
        if c.is_empty() {
            set.remove(first);
        }
    }
}

fn insert_path(set: &mut Map<String, Value>, path: &[String], element: bool) {
    let mut cur = set;
    for pe in path {
        cur = cur
            .entry(pe.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("field sets hold objects");
    }
    if element && !cur.is_empty() {
        cur.insert(".".into(), json!({}));
    }
}

/// The value at a field-set path.
fn get_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for pe in path {
        cur = step(cur, pe)?;
    }
    Some(cur)
}

fn step<'a>(cur: &'a Value, pe: &str) -> Option<&'a Value> {
    if let Some(f) = pe.strip_prefix("f:") {
        return cur.get(f);
    }
    let arr = cur.as_array()?;
    if let Some(k) = pe.strip_prefix("k:") {
        let want: Value = serde_json::from_str(k).ok()?;
        let want = want.as_object()?;
        return arr
            .iter()
            .find(|item| want.iter().all(|(wk, wv)| item.get(wk) == Some(wv)));
    }
    if let Some(v) = pe.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).ok()?;
        return arr.iter().find(|x| **x == want);
    }
    if let Some(i) = pe.strip_prefix("i:") {
        return arr.get(i.parse::<usize>().ok()?);
    }
    None
}

fn remove_value_at(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for pe in parent {
        let next: Option<&mut Value> = if let Some(f) = pe.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            let idx = cur.as_array().and_then(|a| {
                let found = step(&Value::Array(a.clone()), pe)?.clone();
                a.iter().position(|x| *x == found)
            });
            match idx {
                Some(i) => cur.get_mut(i),
                None => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(found) = step(cur, last).cloned()
        && let Some(a) = cur.as_array_mut()
    {
        a.retain(|x| *x != found);
    }
}

fn path_string(path: &[String]) -> String {
    let mut s = String::new();
    for pe in path {
        if let Some(f) = pe.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = pe.strip_prefix("k:") {
            s.push('[');
            let v: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            if let Some(m) = v.as_object() {
                let parts: Vec<String> = m.iter().map(|(a, b)| format!("{a}={b}")).collect();
                s.push_str(&parts.join(","));
            }
            s.push(']');
        } else if let Some(v) = pe.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        }
    }
    s
}

/// Merges an applied configuration into the live object as server-side apply does.
fn apply_merge(live: &mut Value, cfg: &Value, ctx: Ctx) {
    match (live, cfg) {
        (Value::Object(lm), Value::Object(cm)) => {
            for (k, cv) in cm {
                let child_ctx = match &ctx {
                    Ctx::Struct(_) => match struct_field(&ctx, k) {
                        Some(f) if f.map => Ctx::Map(f.ty()),
                        Some(f) => ctx_of(f.ty()),
                        None => Ctx::Unknown,
                    },
                    Ctx::Map(t) => ctx_of(*t),
                    Ctx::Unknown => Ctx::Unknown,
                };
                let field = struct_field(&ctx, k);
                match (lm.get_mut(k), cv) {
                    (Some(lv @ Value::Object(_)), Value::Object(_))
                        if !field.is_some_and(|f| f.atomic) =>
                    {
                        apply_merge(lv, cv, child_ctx)
                    }
                    (Some(Value::Array(la)), Value::Array(ca)) if field.is_some() => {
                        let f = field.expect("field");
                        match list_kind(f) {
                            ListKind::Map(keys) => {
                                let item_ctx = ctx_of(f.ty());
                                let mut out: Vec<Value> = Vec::new();
                                for citem in ca {
                                    let key = key_of(citem, &keys);
                                    let existing = la
                                        .iter()
                                        .position(|l| key_of(l, &keys) == key)
                                        .map(|i| la.remove(i));
                                    match existing {
                                        Some(mut l) => {
                                            apply_merge(&mut l, citem, item_ctx);
                                            out.push(l);
                                        }
                                        None => out.push(citem.clone()),
                                    }
                                }
                                out.append(la);
                                *la = out;
                            }
                            ListKind::Set => {
                                for c in ca {
                                    if !la.contains(c) {
                                        la.push(c.clone());
                                    }
                                }
                            }
                            ListKind::Atomic => *la = ca.clone(),
                        }
                    }
                    _ => {
                        lm.insert(k.clone(), cv.clone());
                    }
                }
            }
        }
        (l, c) => *l = c.clone(),
    }
}

/// Server-side apply of `cfg` by `manager` onto `live` (None when creating).
/// Returns the new object, with managedFields updated.
#[allow(clippy::too_many_arguments)] // mirrors the apply request's parameters
pub(crate) fn apply(
    live: Option<&Value>,
    cfg: &Value,
    manager: &str,
    force: bool,
    root: Option<&'static TypeDef>,
    api_version: &str,
    plural: &str,
    group: &str,
) -> Result<Value, ApiError> {
    let cfg_set = fields_of(cfg, root);
    let cfg_leaves = leaves(&cfg_set);
    let mut es = live.map(entries).unwrap_or_default();
    let base = live.cloned().unwrap_or_else(|| json!({}));
    let mut conflicts: Vec<(String, Path)> = Vec::new();
    for e in es.iter() {
        if e.manager == manager && e.operation == "Apply" {
            continue;
        }
        for p in &cfg_leaves {
            let live_v = get_at(&base, p);
            if owns_leaf(&e.set, p) && live_v.is_some() && live_v != get_at(cfg, p) {
                conflicts.push((e.manager.clone(), p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let name = cfg
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(m, p)| json!({"type": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {api_version}"), "field": path_string(p)}))
            .collect();
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(m, p)| {
                format!(
                    "conflict with \"{m}\" using {api_version}: {}",
                    path_string(p)
                )
            })
            .collect();
        let message = if lines.len() == 1 {
            format!("Apply failed with 1 conflict: {}", lines[0])
        } else {
            format!(
                "Apply failed with {} conflicts: {}",
                lines.len(),
                lines.join("\n")
            )
        };
        let mut err = ApiError::new(409, "Conflict", message);
        err.details = Some(Box::new(
            json!({"name": name, "group": group, "kind": plural, "causes": causes}),
        ));
        return Err(err);
    }
    if force {
        for e in es.iter_mut() {
            if e.manager == manager && e.operation == "Apply" {
                continue;
            }
            for (_, p) in conflicts.iter() {
                remove_path(&mut e.set, p);
            }
        }
    }
    let mut out = base;
    // fields this manager applied before but no longer does: remove unless someone else owns them
    let prev = es
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply")
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let mut removed: Vec<Path> = leaves(&prev)
        .into_iter()
        .filter(|p| !contains(&cfg_set, p))
        .collect();
    removed.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in removed {
        let others = es
            .iter()
            .any(|e| !(e.manager == manager && e.operation == "Apply") && contains(&e.set, &p));
        if !others {
            remove_value_at(&mut out, &p);
        }
    }
    let mut stripped_cfg = cfg.clone();
    if let Some(m) = stripped_cfg
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    apply_merge(&mut out, &stripped_cfg, ctx_of(root));
    let now = util::now();
    match es
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Apply")
    {
        Some(e) => {
            e.set = cfg_set;
            e.time = now;
            e.api_version = api_version.to_string();
        }
        None => es.push(Entry {
            manager: manager.to_string(),
            operation: "Apply".into(),
            api_version: api_version.to_string(),
            time: now,
            subresource: None,
            set: cfg_set,
        }),
    }
    write_entries(&mut out, es);
    Ok(out)
}

/// Records an Update operation by `manager` that turned `old` into `new`: the manager
/// owns what it changed, others lose it.
pub(crate) fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    root: Option<&'static TypeDef>,
    api_version: &str,
) {
    // A write that sets managedFields itself (e.g. a client converting its client-side
    // entries for server-side apply) is taken as given, as the apiserver does.
    let given = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
        && new.pointer("/metadata/managedFields")
            != old.and_then(|o| o.pointer("/metadata/managedFields"));
    let mut es = if given {
        entries(new)
    } else {
        old.map(entries).unwrap_or_default()
    };
    let new_set = fields_of(new, root);
    let empty = json!({});
    let old_v = old.unwrap_or(&empty);
    let changed: Vec<Path> = leaves(&new_set)
        .into_iter()
        .filter(|p| get_at(old_v, p) != get_at(new, p))
        .collect();
    for e in es.iter_mut() {
        // fields that no longer exist are owned by nobody
        for p in leaves(&e.set) {
            if !contains(&new_set, &p) {
                remove_path(&mut e.set, &p);
            }
        }
        if e.manager == manager && e.operation == "Update" {
            continue;
        }
        for p in &changed {
            if owns_leaf(&e.set, p) {
                remove_path(&mut e.set, p);
            }
        }
    }
    if !changed.is_empty() {
        let idx = match es
            .iter()
            .position(|e| e.manager == manager && e.operation == "Update")
        {
            Some(i) => i,
            None => {
                es.push(Entry {
                    manager: manager.to_string(),
                    operation: "Update".into(),
                    api_version: api_version.to_string(),
                    time: String::new(),
                    subresource: None,
                    set: Map::new(),
                });
                es.len() - 1
            }
        };
        let e = &mut es[idx];
        for p in &changed {
            let element = get_at(new, p).is_some_and(|v| v.is_object())
                && p.last().is_some_and(|l| l.starts_with("k:"));
            insert_path(&mut e.set, p, element);
        }
        e.time = util::now();
        e.api_version = api_version.to_string();
    }
    write_entries(new, es);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::kind_type;

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[test]
    fn field_sets_use_list_keys() {
        let set = fields_of(&deploy(1, "x"), kind_type("apps", "v1", "Deployment"));
        let s = sorted(Value::Object(set)).to_string();
        assert!(
            s.contains(r#""k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{}}"#),
            "{s}"
        );
        assert!(s.contains(r#""f:labels":{".":{},"f:app":{}}"#), "{s}");
    }

    #[test]
    fn apply_conflicts_and_force() {
        let ty = kind_type("apps", "v1", "Deployment");
        let a = apply(
            None,
            &deploy(1, "x"),
            "alice",
            false,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap();
        // same value by another manager: shared ownership, no conflict
        let b = apply(
            Some(&a),
            &deploy(1, "x"),
            "bob",
            false,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap();
        let err = apply(
            Some(&b),
            &deploy(3, "x"),
            "carol",
            false,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err.message.contains(".spec.replicas"), "{}", err.message);
        let c = apply(
            Some(&b),
            &deploy(3, "x"),
            "carol",
            true,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap();
        assert_eq!(c["spec"]["replicas"], 3);
    }

    #[test]
    fn apply_removes_fields_no_longer_applied() {
        let ty = kind_type("apps", "v1", "Deployment");
        let a = apply(
            None,
            &deploy(1, "x"),
            "alice",
            false,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap();
        let mut cfg = deploy(1, "x");
        cfg["metadata"].as_object_mut().unwrap().remove("labels");
        let b = apply(
            Some(&a),
            &cfg,
            "alice",
            false,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap();
        assert!(
            b["metadata"]
                .get("labels")
                .is_none_or(|l| l.get("app").is_none()),
            "{b}"
        );
    }

    #[test]
    fn updates_take_ownership() {
        let ty = kind_type("apps", "v1", "Deployment");
        let a = apply(
            None,
            &deploy(1, "x"),
            "alice",
            false,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap();
        let mut b = a.clone();
        b["spec"]["replicas"] = json!(5);
        track_update(Some(&a), &mut b, "kubectl-scale", ty, "apps/v1");
        let err = apply(
            Some(&b),
            &deploy(1, "x"),
            "alice",
            false,
            ty,
            "apps/v1",
            "deployments",
            "apps",
        )
        .unwrap_err();
        assert!(err.message.contains("kubectl-scale"), "{}", err.message);
    }
}
