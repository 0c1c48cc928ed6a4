//! Helm 3's client-side apply: the patches it sends to update a live object.
//!
//! For a built-in kind, Helm computes a strategic-merge three-way patch
//! (`strategicpatch.CreateThreeWayMergePatch(original, modified, current, overwrite=true)`):
//! the changes that turn the live object (`current`) into the chart's object (`modified`),
//! leaving alone fields the chart never set, plus the deletion of fields the previous release
//! set (`original`) and this one no longer does. Lists with a merge strategy are diffed item by
//! item (by merge key for lists of objects, by value for lists of scalars) and carry the
//! `$setElementOrder`, `$deleteFromPrimitiveList` and `$patch: delete` directives; other lists
//! are replaced whole. For custom resources Helm sends a two-way JSON merge patch
//! (`jsonpatch.CreateMergePatch(original, modified)`), so drift in CRs is not reverted.
//!
//! The strategies come from the kind's schema through [`Meta`]; ferry's comes from the
//! Kubernetes OpenAPI definitions (the same data as its API simulator's).

use serde_json::{Map, Value};

/// How a field of a struct is patched.
#[derive(Clone, Copy, Debug)]
pub struct FieldMeta<'a, M> {
    /// `x-kubernetes-patch-strategy` contains `merge`.
    pub merge: bool,
    /// `x-kubernetes-patch-strategy` contains `replace`.
    pub replace: bool,
    /// `x-kubernetes-patch-strategy` contains `retainKeys`.
    pub retain_keys: bool,
    /// `x-kubernetes-patch-merge-key`, for lists of objects with the merge strategy.
    pub merge_key: Option<&'a str>,
    /// The schema of the field's value (of its items for lists, its values for maps).
    pub elem: Option<M>,
}

impl<M> Default for FieldMeta<'_, M> {
    fn default() -> Self {
        FieldMeta {
            merge: false,
            replace: false,
            retain_keys: false,
            merge_key: None,
            elem: None,
        }
    }
}

/// The patch metadata of a struct type (`strategicpatch.LookupPatchMeta`).
pub trait Meta<'a>: Copy + 'a {
    /// The metadata of field `name`; the default (no strategy, no schema) when unknown.
    fn field(self, name: &str) -> FieldMeta<'a, Self>;
}

/// A schema that knows no field: every map is diffed key by key, every list replaced whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMeta;

impl Meta<'static> for NoMeta {
    fn field(self, _: &str) -> FieldMeta<'static, Self> {
        FieldMeta::default()
    }
}

#[derive(Clone, Copy)]
struct Opts {
    ignore_deletions: bool,
    ignore_changes_and_additions: bool,
    retain_keys: bool,
}

/// `CreateThreeWayMergePatch(original, modified, current, overwrite=true)`: the strategic
/// merge patch Helm 3 sends. `{}` means nothing to change.
pub fn three_way<'a, M: Meta<'a>>(
    original: &Value,
    modified: &Value,
    current: &Value,
    meta: Option<M>,
) -> Value {
    let empty = Map::new();
    let original = original.as_object().unwrap_or(&empty);
    let modified = modified.as_object().unwrap_or(&empty);
    let current = current.as_object().unwrap_or(&empty);
    // additions and changes from the live object to the chart's
    let delta = diff_maps(
        current,
        modified,
        meta,
        Opts {
            ignore_deletions: true,
            ignore_changes_and_additions: false,
            retain_keys: false,
        },
    );
    // deletions from the previous release's object to the chart's
    let deletions = diff_maps(
        original,
        modified,
        meta,
        Opts {
            ignore_deletions: false,
            ignore_changes_and_additions: true,
            retain_keys: false,
        },
    );
    Value::Object(combine(deletions, delta, meta))
}

/// `jsonpatch.CreateMergePatch(original, modified)` (RFC 7386): what changed between two
/// documents, `null` for what was removed. `{}` means nothing to change.
pub fn merge_patch(original: &Value, modified: &Value) -> Value {
    match (original, modified) {
        (Value::Object(o), Value::Object(m)) => {
            let mut patch = Map::new();
            for (k, mv) in m {
                match o.get(k) {
                    None => {
                        patch.insert(k.clone(), mv.clone());
                    }
                    Some(ov) if ov == mv => {}
                    Some(ov @ Value::Object(_)) if mv.is_object() => {
                        patch.insert(k.clone(), merge_patch(ov, mv));
                    }
                    Some(_) => {
                        patch.insert(k.clone(), mv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !m.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        (_, m) => m.clone(),
    }
}

/// apimachinery's `CreateThreeWayJSONMergePatch` (Helm 4's patch for custom resources an
/// install takes over with `--take-ownership`): additions and changes from `current` (the live object) to `modified`,
/// deletions from `original` to `modified`; so drift on fields the chart sets is reverted and
/// fields the chart never had are left alone.
pub fn three_way_merge_patch(original: &Value, modified: &Value, current: &Value) -> Value {
    let mut patch = filter_nulls(&merge_patch(original, modified), true);
    let changes = filter_nulls(&merge_patch(current, modified), false);
    merge_into(&mut patch, changes);
    patch
}

/// apimachinery's `keepOrDeleteNullInObj`: only the deletions of a merge patch (`keep`), or
/// only its additions and changes. Maps left empty by the filter are dropped; a map that was
/// empty in the patch is a value (kept with the changes).
fn filter_nulls(patch: &Value, keep: bool) -> Value {
    let Value::Object(m) = patch else {
        return patch.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        match v {
            Value::Null if keep => {
                out.insert(k.clone(), Value::Null);
            }
            Value::Null => {}
            Value::Object(sub) if sub.is_empty() && !keep => {
                out.insert(k.clone(), v.clone());
            }
            Value::Object(sub) if sub.is_empty() => {}
            Value::Object(_) => {
                let f = filter_nulls(v, keep);
                if !is_empty(&f) {
                    out.insert(k.clone(), f);
                }
            }
            _ if !keep => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// RFC 7386 applied to a patch document (`jsonpatch.MergePatch`), for a patch without nulls:
/// maps merge key by key, everything else replaces.
fn merge_into(doc: &mut Value, patch: Value) {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => {
            for (k, v) in p {
                match d.get_mut(&k) {
                    Some(dv) if dv.is_object() && v.is_object() => merge_into(dv, v),
                    _ => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (d, p) => *d = p,
    }
}

/// Whether a patch changes nothing (`{}`).
pub fn is_empty(patch: &Value) -> bool {
    patch.as_object().is_some_and(Map::is_empty)
}

fn diff_maps<'a, M: Meta<'a>>(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    meta: Option<M>,
    opts: Opts,
) -> Map<String, Value> {
    let mut patch = Map::new();
    let mut retain: Vec<String> = Vec::new();
    for (key, mv) in modified {
        if opts.retain_keys && !mv.is_null() {
            retain.push(key.clone());
        }
        let Some(ov) = original.get(key) else {
            if !opts.ignore_changes_and_additions {
                patch.insert(key.clone(), mv.clone());
            }
            continue;
        };
        let fm = meta.map(|m| m.field(key)).unwrap_or_default();
        match (ov, mv) {
            (Value::Object(o), Value::Object(m)) => {
                if fm.replace {
                    if !opts.ignore_changes_and_additions {
                        patch.insert(key.clone(), mv.clone());
                    }
                } else {
                    let sub = diff_maps(
                        o,
                        m,
                        fm.elem,
                        Opts {
                            retain_keys: fm.retain_keys,
                            ..opts
                        },
                    );
                    if !sub.is_empty() {
                        patch.insert(key.clone(), Value::Object(sub));
                    }
                }
            }
            (Value::Array(o), Value::Array(m)) if fm.merge => {
                let sub_opts = Opts {
                    retain_keys: fm.retain_keys,
                    ..opts
                };
                let lists = diff_lists(o, m, fm.elem, fm.merge_key, sub_opts);
                if !lists.add.is_empty() {
                    patch.insert(key.clone(), Value::Array(lists.add));
                }
                if !lists.delete.is_empty() {
                    patch.insert(
                        format!("$deleteFromPrimitiveList/{key}"),
                        Value::Array(lists.delete),
                    );
                }
                if !lists.order.is_empty() {
                    patch.insert(format!("$setElementOrder/{key}"), Value::Array(lists.order));
                }
            }
            (o, m) if o != m && !opts.ignore_changes_and_additions => {
                patch.insert(key.clone(), mv.clone());
            }
            _ => {}
        }
    }
    if !opts.ignore_deletions {
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    if !retain.is_empty()
        && (!patch.is_empty() || original.keys().any(|k| !modified.contains_key(k)))
    {
        retain.sort();
        patch.insert(
            "$retainKeys".into(),
            Value::Array(retain.into_iter().map(Value::String).collect()),
        );
    }
    patch
}

struct Lists {
    add: Vec<Value>,
    delete: Vec<Value>,
    order: Vec<Value>,
}

/// Go's `fmt.Sprintf("%v", v)` for the scalars of lists and merge keys, which is how
/// `strategicpatch` sorts and matches them.
fn go_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

fn diff_lists<'a, M: Meta<'a>>(
    original: &[Value],
    modified: &[Value],
    meta: Option<M>,
    merge_key: Option<&str>,
    opts: Opts,
) -> Lists {
    let is_maps = original
        .iter()
        .chain(modified)
        .find(|v| !v.is_null())
        .is_some_and(Value::is_object);
    if is_maps {
        let key = merge_key.unwrap_or("name");
        let key_of = |v: &Value| go_string(v.get(key).unwrap_or(&Value::Null));
        let mut os: Vec<&Value> = original.iter().collect();
        let mut ms: Vec<&Value> = modified.iter().collect();
        os.sort_by_key(|v| key_of(v));
        ms.sort_by_key(|v| key_of(v));
        let (mut i, mut j) = (0, 0);
        let mut patch: Vec<Value> = Vec::new();
        let mut deletions: Vec<Value> = Vec::new();
        let empty = Map::new();
        while i < os.len() || j < ms.len() {
            let ok = os.get(i).map(|v| key_of(v));
            let mk = ms.get(j).map(|v| key_of(v));
            match (ok, mk) {
                (Some(a), Some(b)) if a == b => {
                    let sub = diff_maps(
                        os[i].as_object().unwrap_or(&empty),
                        ms[j].as_object().unwrap_or(&empty),
                        meta,
                        opts,
                    );
                    if !sub.is_empty() {
                        let mut sub = sub;
                        sub.insert(key.into(), ms[j].get(key).cloned().unwrap_or(Value::Null));
                        patch.push(Value::Object(sub));
                    }
                    i += 1;
                    j += 1;
                }
                (None, Some(_)) => {
                    if !opts.ignore_changes_and_additions {
                        patch.push(ms[j].clone());
                    }
                    j += 1;
                }
                (Some(a), Some(b)) if a > b => {
                    if !opts.ignore_changes_and_additions {
                        patch.push(ms[j].clone());
                    }
                    j += 1;
                }
                _ => {
                    if !opts.ignore_deletions {
                        let mut d = Map::new();
                        d.insert("$patch".into(), Value::String("delete".into()));
                        d.insert(key.into(), os[i].get(key).cloned().unwrap_or(Value::Null));
                        deletions.push(Value::Object(d));
                    }
                    i += 1;
                }
            }
        }
        // in the order of the modified list, deletions last
        let index = |v: &Value| {
            let k = key_of(v);
            modified
                .iter()
                .position(|m| key_of(m) == k)
                .unwrap_or(usize::MAX)
        };
        patch.sort_by_key(|v| index(v));
        let orig_keys: Vec<String> = original.iter().map(&key_of).collect();
        let mod_keys: Vec<String> = modified.iter().map(&key_of).collect();
        let order_same = {
            let common: Vec<&String> = orig_keys.iter().filter(|k| mod_keys.contains(k)).collect();
            let common_m: Vec<&String> =
                mod_keys.iter().filter(|k| orig_keys.contains(k)).collect();
            common == common_m
        };
        patch.extend(deletions);
        let order = if (!opts.ignore_changes_and_additions && (!patch.is_empty() || !order_same))
            || (!opts.ignore_deletions && !patch.is_empty())
        {
            modified
                .iter()
                .map(|v| {
                    let mut m = Map::new();
                    m.insert(key.into(), v.get(key).cloned().unwrap_or(Value::Null));
                    Value::Object(m)
                })
                .collect()
        } else {
            Vec::new()
        };
        Lists {
            add: patch,
            delete: Vec::new(),
            order,
        }
    } else {
        let mut os: Vec<&Value> = original.iter().collect();
        let mut ms: Vec<&Value> = modified.iter().collect();
        os.sort_by_key(|v| go_string(v));
        ms.sort_by_key(|v| go_string(v));
        let (mut i, mut j) = (0, 0);
        let mut add = Vec::new();
        let mut delete: Vec<Value> = Vec::new();
        while i < os.len() || j < ms.len() {
            let a = os.get(i).map(|v| go_string(v));
            let b = ms.get(j).map(|v| go_string(v));
            match (a, b) {
                (Some(a), Some(b)) if a == b => {
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a < b => {
                    if !opts.ignore_deletions && !delete.contains(os[i]) {
                        delete.push(os[i].clone());
                    }
                    i += 1;
                }
                (Some(_), None) => {
                    if !opts.ignore_deletions && !delete.contains(os[i]) {
                        delete.push(os[i].clone());
                    }
                    i += 1;
                }
                _ => {
                    if !opts.ignore_changes_and_additions {
                        add.push(ms[j].clone());
                    }
                    j += 1;
                }
            }
        }
        let index = |v: &Value| modified.iter().position(|m| m == v).unwrap_or(usize::MAX);
        add.sort_by_key(|v| index(v));
        let order = if (!opts.ignore_deletions && !delete.is_empty())
            || (!opts.ignore_changes_and_additions && original != modified)
        {
            modified.to_vec()
        } else {
            Vec::new()
        };
        Lists { add, delete, order }
    }
}

/// Merges the deletions patch and the delta patch into one (`mergeMap(deletions, delta)`):
/// their keys are disjoint but for nested structs and merged lists, which combine
/// recursively (list items by merge key).
fn combine<'a, M: Meta<'a>>(
    mut deletions: Map<String, Value>,
    delta: Map<String, Value>,
    meta: Option<M>,
) -> Map<String, Value> {
    for (k, dv) in delta {
        let fm = meta.map(|m| m.field(&k)).unwrap_or_default();
        let merged = match (deletions.remove(&k), dv) {
            (Some(Value::Object(a)), Value::Object(b)) if !k.starts_with('$') => {
                Value::Object(combine(a, b, fm.elem))
            }
            (Some(Value::Array(a)), Value::Array(b)) if fm.merge && !k.starts_with('$') => {
                let key = fm.merge_key.unwrap_or("name");
                let mut out: Vec<Value> = Vec::new();
                let mut rest = a;
                for item in b {
                    let kv = item.get(key).cloned();
                    let pos = rest.iter().position(|x| {
                        x.get(key).cloned() == kv && x.get("$patch").is_none() && kv.is_some()
                    });
                    match (pos, item) {
                        (Some(p), Value::Object(bi)) => {
                            let Value::Object(ai) = rest.remove(p) else {
                                unreachable!("matched by key, so an object")
                            };
                            out.push(Value::Object(combine(ai, bi, fm.elem)));
                        }
                        (_, item) => out.push(item),
                    }
                }
                out.extend(rest);
                Value::Array(out)
            }
            (_, dv) => dv,
        };
        deletions.insert(k, merged);
    }
    deletions
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tiny schema: `containers` and `env` merge by `name`, `finalizers` merge as a set,
    /// `strategy` has `retainKeys`.
    #[derive(Clone, Copy)]
    struct Pod;

    impl Meta<'static> for Pod {
        fn field(self, name: &str) -> FieldMeta<'static, Self> {
            match name {
                "containers" | "env" => FieldMeta {
                    merge: true,
                    merge_key: Some("name"),
                    elem: Some(Pod),
                    ..Default::default()
                },
                "finalizers" => FieldMeta {
                    merge: true,
                    ..Default::default()
                },
                "strategy" => FieldMeta {
                    retain_keys: true,
                    elem: Some(Pod),
                    ..Default::default()
                },
                _ => FieldMeta {
                    elem: Some(Pod),
                    ..Default::default()
                },
            }
        }
    }

    #[test]
    fn unchanged_chart_leaves_drift_alone_but_reverts_chart_fields() {
        let original = json!({"spec": {"replicas": 2, "image": "a"}});
        let modified = original.clone();
        let current =
            json!({"spec": {"replicas": 5, "image": "a", "paused": false}, "status": {"x": 1}});
        let p = three_way(&original, &modified, &current, Some(Pod));
        // replicas is the chart's: reverted; paused and status are not: kept
        assert_eq!(p, json!({"spec": {"replicas": 2}}));
    }

    #[test]
    fn fields_dropped_by_the_chart_are_deleted() {
        let original = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let modified = json!({"metadata": {"labels": {"a": "1"}}});
        let current = json!({"metadata": {"labels": {"a": "1", "b": "2", "c": "3"}}});
        let p = three_way(&original, &modified, &current, Some(Pod));
        assert_eq!(p, json!({"metadata": {"labels": {"b": null}}}));
    }

    #[test]
    fn merge_lists_diff_by_key_with_order_and_delete_directives() {
        let original =
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]});
        let modified = json!({"containers": [{"name": "a", "image": "x2"}]});
        let current = json!({"containers": [{"name": "a", "image": "x", "ports": [1]}, {"name": "b", "image": "y"}]});
        let p = three_way(&original, &modified, &current, Some(Pod));
        assert_eq!(
            p,
            json!({
                "containers": [{"name": "a", "image": "x2"}, {"$patch": "delete", "name": "b"}],
                "$setElementOrder/containers": [{"name": "a"}]
            })
        );
    }

    #[test]
    fn nested_changes_and_deletions_of_one_item_combine() {
        let original = json!({"containers": [{"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}]}]});
        let modified = json!({"containers": [{"name": "a", "image": "x2"}]});
        let current = original.clone();
        let p = three_way(&original, &modified, &current, Some(Pod));
        let c = &p["containers"][0];
        assert_eq!(c["name"], "a");
        assert_eq!(c["image"], "x2");
        assert_eq!(c["env"], Value::Null);
        assert_eq!(p["$setElementOrder/containers"], json!([{"name": "a"}]));
    }

    #[test]
    fn scalar_merge_lists_use_delete_from_primitive_list() {
        let original = json!({"finalizers": ["a", "b"]});
        let modified = json!({"finalizers": ["a", "c"]});
        let current = json!({"finalizers": ["a", "b", "z"]});
        let p = three_way(&original, &modified, &current, Some(Pod));
        assert_eq!(p["finalizers"], json!(["c"]));
        assert_eq!(p["$deleteFromPrimitiveList/finalizers"], json!(["b"]));
        assert_eq!(p["$setElementOrder/finalizers"], json!(["a", "c"]));
    }

    #[test]
    fn lists_without_strategy_are_replaced_whole() {
        let original = json!({"args": ["1", "2"]});
        let modified = json!({"args": ["1", "3"]});
        let current = original.clone();
        assert_eq!(
            three_way(&original, &modified, &current, Some(Pod)),
            json!({"args": ["1", "3"]})
        );
        assert!(is_empty(&three_way(
            &original,
            &original,
            &current,
            Some(Pod)
        )));
    }

    #[test]
    fn retain_keys_lists_the_keys_kept() {
        let original =
            json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}});
        let modified = json!({"strategy": {"type": "Recreate"}});
        let current = original.clone();
        let p = three_way(&original, &modified, &current, Some(Pod));
        assert_eq!(
            p,
            json!({"strategy": {"type": "Recreate", "rollingUpdate": null, "$retainKeys": ["type"]}})
        );
    }

    #[test]
    fn merge_patch_is_two_way() {
        let a = json!({"spec": {"x": 1, "y": {"z": 2}}, "k": [1]});
        let b = json!({"spec": {"x": 2, "y": {"z": 2}}, "k": [1, 2]});
        assert_eq!(merge_patch(&a, &b), json!({"spec": {"x": 2}, "k": [1, 2]}));
        assert_eq!(merge_patch(&b, &a), json!({"spec": {"x": 1}, "k": [1]}));
        assert!(is_empty(&merge_patch(&a, &a)));
        assert_eq!(
            merge_patch(&json!({"a": 1, "b": 2}), &json!({"a": 1})),
            json!({"b": null})
        );
    }

    #[test]
    fn three_way_merge_patch_reverts_drift_and_keeps_foreign_fields() {
        let original = json!({"spec": {"size": 1, "mode": "a", "old": true}});
        let modified = json!({"spec": {"size": 1, "mode": "b"}, "extra": {}});
        // someone scaled it and added a field of their own
        let current = json!({"spec": {"size": 5, "mode": "a", "old": true, "theirs": 1},
                             "status": {"ok": true}});
        let patch = three_way_merge_patch(&original, &modified, &current);
        assert_eq!(
            patch,
            json!({"spec": {"size": 1, "mode": "b", "old": null}, "extra": {}}),
            "drift on the chart's fields reverted, the chart's deletion sent, foreign fields left"
        );
        // Helm 3's two-way patch leaves the drift alone
        assert_eq!(
            merge_patch(&original, &modified),
            json!({"spec": {"mode": "b", "old": null}, "extra": {}})
        );
        // deletions come from the original alone (as apimachinery's), changes from the live
        // object: once it matches, only the deletion is left
        let live = json!({"spec": {"size": 1, "mode": "b", "theirs": 1}, "extra": {}});
        assert_eq!(
            three_way_merge_patch(&original, &modified, &live),
            json!({"spec": {"old": null}})
        );
        assert!(is_empty(&three_way_merge_patch(
            &modified, &modified, &live
        )));
    }
}
