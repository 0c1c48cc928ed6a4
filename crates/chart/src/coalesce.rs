//! Values coalescing and dependency processing, step for step as Helm.
//!
//! Helm's algorithms (`pkg/chart/common/util/coalesce.go`, `pkg/chart/v2/util/dependencies.go`)
//! mutate Go maps in place and share nested maps between parent and subchart sections; some
//! observable results depend on that sharing (globals defined by a subchart leak to siblings,
//! helm/helm#9332). To be exact, the algorithms run here on [`G`], a value with Go's reference
//! semantics for maps, and convert back to [`Value`] at the end.

use std::borrow::Cow;
use std::cell::{Ref, RefCell, RefMut};
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::load::Chart;
use crate::metadata::Dependency;
use crate::semver::is_compatible_range;
use crate::value::{Map, Value};

/// A key of a [`GMap`]: borrowed from the values coalesced, owned when made here.
type Key<'a> = Cow<'a, str>;

/// A Go map: a shared reference to entries. A map made from one of the values coalesced
/// ([`GMap::of`]) takes its entries from it when first looked into, one level at a time:
/// most of a chart's defaults are only ever copied over whole, and those are never taken
/// apart ([`gmap_to`] clones them as they are).
#[derive(Clone)]
struct GMap<'a>(Rc<RefCell<Node<'a>>>);

struct Node<'a> {
    /// The values the entries are still to be taken from (`entries` is empty meanwhile).
    from: Option<&'a Map>,
    entries: BTreeMap<Key<'a>, G<'a>>,
}

impl std::fmt::Debug for GMap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.borrow().iter()).finish()
    }
}

impl<'a> GMap<'a> {
    fn new(entries: BTreeMap<Key<'a>, G<'a>>) -> GMap<'a> {
        GMap(Rc::new(RefCell::new(Node {
            from: None,
            entries,
        })))
    }

    /// A map of `m`'s entries, taken when first looked into.
    fn of(m: &'a Map) -> GMap<'a> {
        let g = GMap(Rc::new(RefCell::new(Node {
            from: Some(m),
            entries: BTreeMap::new(),
        })));
        #[cfg(test)]
        if tests::EAGER.with(std::cell::Cell::get) {
            g.take_entries();
        }
        g
    }

    /// The values this map's entries are still to be taken from.
    fn untouched(&self) -> Option<&'a Map> {
        self.0.borrow().from
    }

    fn take_entries(&self) {
        if self.untouched().is_none() {
            return;
        }
        let mut node = self.0.borrow_mut();
        if let Some(m) = node.from.take() {
            node.entries = m
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), G::from_value(v)))
                .collect();
        }
    }

    fn borrow(&self) -> Ref<'_, BTreeMap<Key<'a>, G<'a>>> {
        self.take_entries();
        Ref::map(self.0.borrow(), |n| &n.entries)
    }

    fn borrow_mut(&self) -> RefMut<'_, BTreeMap<Key<'a>, G<'a>>> {
        self.take_entries();
        RefMut::map(self.0.borrow_mut(), |n| &mut n.entries)
    }

    fn ptr_eq(a: &GMap<'a>, b: &GMap<'a>) -> bool {
        Rc::ptr_eq(&a.0, &b.0)
    }
}

/// A value with Go's semantics: maps are shared references, everything else is a value.
/// Coalescing never changes a value that is not a map, so those are borrowed from the maps
/// coalesced (the charts' values and the user's) and copied once, by [`G::to_value`].
#[derive(Clone, Debug)]
enum G<'a> {
    Nil,
    Other(&'a Value),
    Map(GMap<'a>),
}

impl<'a> G<'a> {
    fn from_value(v: &'a Value) -> G<'a> {
        match v {
            Value::Null => G::Nil,
            Value::Map(m) => G::Map(GMap::of(m)),
            other => G::Other(other),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            G::Nil => Value::Null,
            G::Other(v) => (*v).clone(),
            G::Map(m) => Value::Map(gmap_to(m)),
        }
    }

    fn as_map(&self) -> Option<&GMap<'a>> {
        match self {
            G::Map(m) => Some(m),
            _ => None,
        }
    }

    fn is_nil(&self) -> bool {
        matches!(self, G::Nil)
    }

    fn go_fmt(&self) -> String {
        match self {
            G::Nil => "<nil>".into(),
            G::Other(Value::String(s)) => s.clone(),
            G::Other(Value::Bool(b)) => b.to_string(),
            G::Other(Value::Int(i)) => i.to_string(),
            G::Other(Value::Float(f)) => crate::value::go_format_g(*f, false),
            other => format!("{:?}", other.to_value()),
        }
    }
}

fn gmap_from(m: &Map) -> GMap<'_> {
    GMap::of(m)
}

fn gmap_to(m: &GMap<'_>) -> Map {
    // a map never looked into is the values it was made of
    if let Some(from) = m.untouched() {
        return from.clone();
    }
    m.borrow()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_value()))
        .collect()
}

fn new_map<'a>() -> GMap<'a> {
    GMap::new(BTreeMap::new())
}

/// copystructure.Copy: a deep copy that breaks all sharing (of maps: the rest never changes).
fn deep_copy<'a>(m: &GMap<'a>) -> GMap<'a> {
    // a map never looked into shares nothing: another made of the same values is a copy
    if let Some(from) = m.untouched() {
        return GMap::of(from);
    }
    GMap::new(
        m.borrow()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    G::Map(sub) => G::Map(deep_copy(sub)),
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

fn copy_map<'a>(m: &GMap<'a>) -> GMap<'a> {
    GMap::new(m.borrow().clone())
}

fn concat_prefix(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// Collects the warnings Helm prints while coalescing.
#[derive(Debug, Default)]
pub struct Warnings(pub Vec<String>);

impl Warnings {
    fn push(&mut self, s: String) {
        self.0.push(s);
    }
}

struct Co<'w> {
    warn: &'w mut Warnings,
}

impl Co<'_> {
    fn coalesce<'a>(
        &mut self,
        ch: &'a Chart,
        dest: &GMap<'a>,
        prefix: &str,
        merge: bool,
    ) -> Result<GMap<'a>> {
        self.coalesce_values(ch, dest, prefix, merge);
        self.coalesce_deps(ch, dest, prefix, merge)
    }

    fn coalesce_deps<'a>(
        &mut self,
        ch: &'a Chart,
        dest: &GMap<'a>,
        prefix: &str,
        merge: bool,
    ) -> Result<GMap<'a>> {
        for sub in &ch.dependencies {
            let name: Key<'a> = Cow::Borrowed(sub.name());
            let existing = dest.borrow().get(&*name).cloned();
            let dvmap = match existing {
                None => {
                    let m = new_map();
                    dest.borrow_mut().insert(name.clone(), G::Map(m.clone()));
                    m
                }
                Some(G::Map(m)) => m,
                Some(other) => {
                    return Err(Error::Coalesce(format!(
                        "type mismatch on {name}: %!t({}={})",
                        other.to_value().go_type(),
                        other.go_fmt()
                    )));
                }
            };
            let sub_prefix = concat_prefix(prefix, ch.name());
            self.coalesce_globals(&dvmap, dest, &sub_prefix);
            let r = self.coalesce(sub, &dvmap, &sub_prefix, merge)?;
            dest.borrow_mut().insert(name, G::Map(r));
        }
        Ok(dest.clone())
    }

    fn coalesce_globals<'a>(&mut self, dest: &GMap<'a>, src: &GMap<'a>, prefix: &str) {
        let dg = match dest.borrow().get("global") {
            None => new_map(),
            Some(G::Map(m)) => m.clone(),
            Some(_) => {
                self.warn.push(
                    "warning: skipping globals because destination global is not a table.".into(),
                );
                return;
            }
        };
        let sg = match src.borrow().get("global") {
            None => new_map(),
            Some(G::Map(m)) => m.clone(),
            Some(_) => {
                self.warn
                    .push("warning: skipping globals because source global is not a table.".into());
                return;
            }
        };
        let entries: Vec<(Key<'a>, G<'a>)> = sg
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, val) in entries {
            if let G::Map(vm) = &val {
                let vv = copy_map(vm);
                let destv = dg.borrow().get(&*key).cloned();
                match destv {
                    None => {
                        dg.borrow_mut().insert(key, G::Map(vv));
                    }
                    Some(G::Map(destvmap)) => {
                        let sub_prefix = concat_prefix(prefix, &key);
                        self.coalesce_tables(&vv, &destvmap, &sub_prefix, true);
                        dg.borrow_mut().insert(key, G::Map(vv));
                    }
                    Some(_) => self.warn.push(format!(
                        "Conflict: cannot merge map onto non-map for {key:?}. Skipping."
                    )),
                }
            } else if dg.borrow().get(&*key).is_some_and(|d| d.as_map().is_some()) {
                self.warn.push(format!("key {key} is table. Skipping"));
            } else {
                dg.borrow_mut().insert(key, val);
            }
        }
        dest.borrow_mut().insert("global".into(), G::Map(dg));
    }

    fn coalesce_values<'a>(&mut self, c: &'a Chart, v: &GMap<'a>, prefix: &str, merge: bool) {
        let sub_prefix = concat_prefix(prefix, c.name());
        let vc = gmap_from(&c.values);
        let entries: Vec<(Key<'a>, G<'a>)> = vc
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, val) in entries {
            let value = v.borrow().get(&*key).cloned();
            match value {
                Some(value) => {
                    if value.is_nil() && !merge {
                        v.borrow_mut().remove(&*key);
                    } else if let G::Map(dest) = &value {
                        match &val {
                            G::Map(src) => {
                                let merge = child_chart_merge_true(c, &key, merge);
                                if !merge {
                                    clean_nil_values(src);
                                }
                                self.coalesce_tables(
                                    dest,
                                    src,
                                    &concat_prefix(&sub_prefix, &key),
                                    merge,
                                );
                            }
                            G::Nil => {}
                            _ => self.warn.push(format!(
                                "warning: skipped value for {sub_prefix}.{key}: Not a table."
                            )),
                        }
                    }
                }
                None => {
                    if !merge {
                        if val.is_nil() {
                            continue;
                        }
                        if let G::Map(sub) = &val {
                            clean_nil_values(sub);
                        }
                    }
                    v.borrow_mut().insert(key, val);
                }
            }
        }
    }

    fn coalesce_tables<'a>(&mut self, dst: &GMap<'a>, src: &GMap<'a>, prefix: &str, merge: bool) {
        if GMap::ptr_eq(dst, src) {
            // Go would walk the same map twice; nothing changes.
            return;
        }
        let dst_nils: Vec<Key<'a>> = dst
            .borrow()
            .iter()
            .filter(|(_, v)| v.is_nil())
            .map(|(k, _)| k.clone())
            .collect();
        // what `src` held before the nils were copied in (read only for a nil of `dst`)
        let src_non_nil: std::collections::HashSet<Key<'a>> = if merge || dst_nils.is_empty() {
            Default::default()
        } else {
            src.borrow()
                .iter()
                .filter(|(_, v)| !v.is_nil())
                .map(|(k, _)| k.clone())
                .collect()
        };
        for k in dst_nils {
            src.borrow_mut().insert(k, G::Nil);
        }
        let entries: Vec<(Key<'a>, G<'a>)> = src
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, val) in entries {
            let dv = dst.borrow().get(&*key).cloned();
            match dv {
                Some(G::Nil) if !merge && src_non_nil.contains(&key) => {
                    dst.borrow_mut().remove(&*key);
                }
                None => {
                    dst.borrow_mut().insert(key, val);
                }
                Some(dv) => match (&val, &dv) {
                    (G::Map(vm), G::Map(dm)) => {
                        self.coalesce_tables(dm, vm, &concat_prefix(prefix, &key), merge)
                    }
                    (G::Map(_), _) => self.warn.push(format!(
                        "warning: cannot overwrite table with non table for {} ({})",
                        concat_prefix(prefix, &key),
                        val.go_fmt()
                    )),
                    (v, G::Map(_)) if !v.is_nil() => self.warn.push(format!(
                        "warning: destination for {} is a table. Ignoring non-table value ({})",
                        concat_prefix(prefix, &key),
                        v.go_fmt()
                    )),
                    _ => {}
                },
            }
        }
    }
}

fn child_chart_merge_true(c: &Chart, key: &str, merge: bool) -> bool {
    if c.dependencies.iter().any(|d| d.name() == key) {
        true
    } else {
        merge
    }
}

/// Whether a `null` is among `m`'s entries or those of the maps in it.
fn holds_nil(m: &Map) -> bool {
    m.values().any(|v| match v {
        Value::Null => true,
        Value::Map(sub) => holds_nil(sub),
        _ => false,
    })
}

fn clean_nil_values(m: &GMap<'_>) {
    // values without a `null` have nothing to clean: left untouched
    if m.untouched().is_some_and(|from| !holds_nil(from)) {
        return;
    }
    // one look at the entries (no value copied): the nils go, the tables are cleaned
    let mut nils = Vec::new();
    let mut tables = Vec::new();
    for (k, v) in m.borrow().iter() {
        match v {
            G::Nil => nils.push(k.clone()),
            G::Map(sub) if !GMap::ptr_eq(sub, m) => tables.push(sub.clone()),
            _ => {}
        }
    }
    for k in nils {
        m.borrow_mut().remove(&k);
    }
    for sub in tables {
        clean_nil_values(&sub);
    }
}

fn run_coalesce<'a>(
    chart: &'a Chart,
    vals: &'a Map,
    merge: bool,
    warn: &mut Warnings,
) -> Result<GMap<'a>> {
    let dest = gmap_from(vals);
    Co { warn }.coalesce(chart, &dest, "", merge)
}

/// Helm's `CoalesceValues`: the chart's defaults (subcharts and globals included) under the
/// given values; a `null` in `vals` deletes a default.
pub fn coalesce_values(chart: &Chart, vals: &Map, warn: &mut Warnings) -> Result<Map> {
    Ok(gmap_to(&run_coalesce(chart, vals, false, warn)?))
}

/// Helm's `MergeValues`: like [`coalesce_values`] but keeping `null`s.
pub fn merge_values(chart: &Chart, vals: &Map, warn: &mut Warnings) -> Result<Map> {
    Ok(gmap_to(&run_coalesce(chart, vals, true, warn)?))
}

/// Helm's `CoalesceTables(dst, src)`: `dst` wins, `src` fills the gaps.
pub fn coalesce_tables(dst: &Map, src: &Map) -> Map {
    let d = gmap_from(dst);
    let s = gmap_from(src);
    let mut w = Warnings::default();
    Co { warn: &mut w }.coalesce_tables(&d, &s, "", false);
    gmap_to(&d)
}

// ---------------------------------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------------------------------

fn table<'a>(m: &GMap<'a>, path: &str) -> Option<GMap<'a>> {
    let mut cur = m.clone();
    for part in path.split('.') {
        let next = cur.borrow().get(part).and_then(|v| v.as_map().cloned())?;
        cur = next;
    }
    Some(cur)
}

/// `Values.PathValue`: the non-table value at a dotted path.
fn path_value<'a>(m: &GMap<'a>, path: &str) -> Option<G<'a>> {
    if path.is_empty() {
        return None;
    }
    let parts: Vec<&str> = path.split('.').collect();
    let (key, head) = parts.split_last()?;
    let t = if head.is_empty() {
        m.clone()
    } else {
        table(m, &head.join("."))?
    };
    let v = t.borrow().get(*key).cloned()?;
    if v.as_map().is_some() { None } else { Some(v) }
}

fn process_enabled(c: &mut Chart, v: &Map, path: &str, warn: &mut Warnings) -> Result<()> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    // which loaded subchart each new dependency is (by index), in Helm's order: first those
    // no requirement names, then each requirement's first match (a copy renamed to its alias)
    let existing = std::mem::take(&mut c.dependencies);
    let matches = |req: &Dependency, ch: &Chart| {
        ch.name() == req.name && is_compatible_range(&req.version, &ch.metadata.version)
    };
    let mut picks: Vec<(usize, Option<String>)> = existing
        .iter()
        .enumerate()
        .filter(|(_, ch)| !c.metadata.dependencies.iter().any(|req| matches(req, ch)))
        .map(|(i, _)| (i, None))
        .collect();
    for req in c.metadata.dependencies.iter_mut() {
        if let Some(i) = existing.iter().position(|ch| matches(req, ch)) {
            picks.push((i, (!req.alias.is_empty()).then(|| req.alias.clone())));
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    // each loaded subchart is moved to its last pick and copied for the others
    let mut uses = vec![0usize; existing.len()];
    for (i, _) in &picks {
        uses[*i] += 1;
    }
    let mut existing: Vec<Option<Chart>> = existing.into_iter().map(Some).collect();
    c.dependencies = picks
        .into_iter()
        .filter_map(|(i, alias)| {
            uses[i] -= 1;
            let mut ch = if uses[i] == 0 {
                existing[i].take()?
            } else {
                existing[i].clone()?
            };
            if let Some(alias) = alias {
                ch.metadata.name = alias;
            }
            Some(ch)
        })
        .collect();
    for req in c.metadata.dependencies.iter_mut() {
        req.enabled = true;
    }
    // the coalesced values borrow the chart: read what they decide, then change the chart
    let cvals = run_coalesce(c, v, false, warn)?;
    let mut enabled = vec![true; c.metadata.dependencies.len()];
    // tags
    if let Some(tags) = cvals.borrow().get("tags").and_then(|t| t.as_map().cloned()) {
        for (r, en) in c.metadata.dependencies.iter().zip(enabled.iter_mut()) {
            let (mut has_true, mut has_false) = (false, false);
            for k in &r.tags {
                match tags.borrow().get(k.as_str()) {
                    Some(G::Other(Value::Bool(true))) => has_true = true,
                    Some(G::Other(Value::Bool(false))) => has_false = true,
                    Some(_) => {
                        warn.push(format!("returned non-bool value tag={k} chart={}", r.name))
                    }
                    None => {}
                }
            }
            if !has_true && has_false {
                *en = false;
            } else if has_true || !has_false {
                *en = true;
            }
        }
    }
    // conditions
    for (r, en) in c.metadata.dependencies.iter().zip(enabled.iter_mut()) {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            match path_value(&cvals, &format!("{path}{cond}")) {
                Some(G::Other(Value::Bool(b))) => {
                    *en = *b;
                    break;
                }
                Some(_) => warn.push(format!(
                    "returned non-bool value path={cond} chart={}",
                    r.name
                )),
                None => {}
            }
        }
    }
    // the values the subcharts decide theirs by, converted only when one has dependencies
    // of its own to decide (the others read nothing of them)
    let nested = c
        .dependencies
        .iter()
        .any(|d| !d.metadata.dependencies.is_empty());
    let cv = if nested { gmap_to(&cvals) } else { Map::new() };
    drop(cvals);
    for (r, en) in c.metadata.dependencies.iter_mut().zip(enabled) {
        r.enabled = en;
    }
    let rm: std::collections::HashSet<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies.retain(|d| !rm.contains(d.name()));
    c.metadata.dependencies.retain(|d| !rm.contains(&d.name));
    for t in c.dependencies.iter_mut() {
        let sub = format!("{path}{}.", t.name());
        process_enabled(t, &cv, &sub, warn)?;
    }
    Ok(())
}

fn go_sprint(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".into(),
        Some(v) => G::from_value(v).go_fmt(),
    }
}

fn process_import_values(c: &mut Chart, warn: &mut Warnings) -> Result<()> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    // the coalesced values borrow the chart: compute, then change the chart
    let none = Map::new();
    let cvals = run_coalesce(c, &none, true, warn)?;
    let b = new_map();
    let mut co = Co { warn };
    let mut imports = Vec::with_capacity(c.metadata.dependencies.len());
    for r in &c.metadata.dependencies {
        let mut outiv = Vec::new();
        for riv in &r.import_values {
            match riv {
                Value::Map(iv) => {
                    let child = go_sprint(iv.get("child"));
                    let parent = go_sprint(iv.get("parent"));
                    let mut o = Map::new();
                    o.insert("child".into(), child.clone().into());
                    o.insert("parent".into(), parent.clone().into());
                    outiv.push(Value::Map(o));
                    let Some(vv) = table(&cvals, &format!("{}.{child}", r.name)) else {
                        co.warn.push(format!(
                            "ImportValues missing table from chart {}: {child}",
                            r.name
                        ));
                        continue;
                    };
                    let src = if parent == "." {
                        vv
                    } else {
                        let mut cur = vv;
                        for part in parent.split('.').rev() {
                            let m = new_map();
                            m.borrow_mut()
                                .insert(Cow::Owned(part.to_string()), G::Map(cur));
                            cur = m;
                        }
                        cur
                    };
                    co.coalesce_tables(&b, &src, "", true);
                }
                Value::String(s) => {
                    let child = format!("exports.{s}");
                    let mut o = Map::new();
                    o.insert("child".into(), child.clone().into());
                    o.insert("parent".into(), ".".into());
                    outiv.push(Value::Map(o));
                    let Some(vm) = table(&cvals, &format!("{}.{child}", r.name)) else {
                        co.warn
                            .push(format!("ImportValues missing table: {}.{child}", r.name));
                        continue;
                    };
                    co.coalesce_tables(&b, &vm, "", true);
                }
                _ => {}
            }
        }
        imports.push(outiv);
    }
    // with nothing imported, coalescing `b` in changes nothing (and the copy that keeps the
    // imports from sharing maps with the values is not needed)
    let cvals = if b.borrow().is_empty() {
        cvals
    } else {
        let cvals = deep_copy(&cvals);
        co.coalesce_tables(&cvals, &b, "", true);
        cvals
    };
    let values = gmap_to(&cvals);
    drop((cvals, b));
    c.values = values;
    for (r, outiv) in c.metadata.dependencies.iter_mut().zip(imports) {
        r.import_values = outiv;
    }
    Ok(())
}

fn process_import_values_tree(c: &mut Chart, warn: &mut Warnings) -> Result<()> {
    for d in c.dependencies.iter_mut() {
        process_import_values_tree(d, warn)?;
    }
    process_import_values(c, warn)
}

/// Helm's `ProcessDependencies`: resolves aliases, disables subcharts by tags and conditions
/// (removing them), and applies `import-values`, mutating the chart tree as Helm does before
/// rendering. `vals` are the user values.
pub fn process_dependencies(c: &mut Chart, vals: &Map, warn: &mut Warnings) -> Result<()> {
    process_enabled(c, vals, "", warn)?;
    process_import_values_tree(c, warn)
}

/// The values the root chart's templates see as `.Values`: dependency processing, then
/// coalescing with the user values. Returns the processed chart too (what gets rendered).
pub fn computed_values(chart: &Chart, user: &Map, warn: &mut Warnings) -> Result<(Chart, Map)> {
    let mut c = chart.clone();
    process_dependencies(&mut c, user, warn)?;
    let vals = coalesce_values(&c, user, warn)?;
    Ok((c, vals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{File, load_files};
    use proptest::prelude::*;

    thread_local! {
        /// Every map taken apart when made, as before maps were taken apart lazily.
        pub(super) static EAGER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Values with few key names (so that parent, subchart, user and `global` sections meet),
    /// nulls and nested maps.
    fn values(depth: u32) -> impl Strategy<Value = Map> {
        let key = prop_oneof![
            Just("a"),
            Just("b"),
            Just("enabled"),
            Just("global"),
            Just("s1"),
            Just("s2"),
        ]
        .prop_map(str::to_string);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..3).prop_map(|i| Value::Float(i as f64)),
            "[xy]{0,2}".prop_map(Value::String),
            Just(Value::List(vec![Value::Null, Value::Float(1.0)])),
        ];
        let value = leaf.prop_recursive(depth, 24, 4, move |inner| {
            prop::collection::btree_map(key.clone(), inner, 0..4).prop_map(Value::Map)
        });
        let key = prop_oneof![Just("a"), Just("global"), Just("s1"), Just("s2"), Just("c")]
            .prop_map(str::to_string);
        prop::collection::btree_map(key, value, 0..5)
    }

    /// A parent with subcharts `s1` (condition `s1.enabled`, its own subchart `s2`) and `s2`
    /// (tag `t`), each with the values given, and `import-values` from `s1`.
    fn tree(parent: Map, s1: Map, s1s2: Map, s2: Map) -> Chart {
        let mut c = chart(&[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: p\nversion: 1.0.0\ndependencies:\n\
                 - name: s1\n  version: 1.0.0\n  condition: s1.enabled\n  import-values:\n  \
                 - child: a\n    parent: imported\n\
                 - name: s2\n  version: 1.0.0\n  tags: [t]\n",
            ),
            (
                "charts/s1/Chart.yaml",
                "apiVersion: v2\nname: s1\nversion: 1.0.0\ndependencies:\n\
                 - name: s2\n  version: 1.0.0\n  condition: s2.enabled\n",
            ),
            (
                "charts/s1/charts/s2/Chart.yaml",
                "apiVersion: v2\nname: s2\nversion: 1.0.0\n",
            ),
            (
                "charts/s2/Chart.yaml",
                "apiVersion: v2\nname: s2\nversion: 1.0.0\n",
            ),
        ]);
        c.values = parent;
        for d in c.dependencies.iter_mut() {
            if d.name() == "s1" {
                d.values = s1.clone();
                d.dependencies[0].values = s1s2.clone();
            } else {
                d.values = s2.clone();
            }
        }
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Maps taken apart only when looked into coalesce exactly as maps taken apart
        /// up front: the same values, the same processed chart, the same warnings.
        #[test]
        fn lazy_maps_coalesce_as_eager_ones(
            parent in values(3),
            s1 in values(3),
            s1s2 in values(2),
            s2 in values(2),
            user in values(3),
        ) {
            let c = tree(parent, s1, s1s2, s2);
            let run = |eager: bool| {
                EAGER.with(|e| e.set(eager));
                let mut w = Warnings::default();
                let out = computed_values(&c, &user, &mut w);
                EAGER.with(|e| e.set(false));
                (out.map_err(|e| e.to_string()), w.0)
            };
            let (lazy, eager) = (run(false), run(true));
            prop_assert_eq!(lazy, eager);
        }
    }

    fn chart(files: &[(&str, &str)]) -> Chart {
        load_files(
            files
                .iter()
                .map(|(n, d)| File::new(*n, d.as_bytes().to_vec()))
                .collect(),
            "t",
        )
        .unwrap()
    }

    fn m(src: &str) -> Map {
        crate::yaml::parse_values(src).unwrap()
    }

    #[test]
    fn user_null_deletes_a_default_and_lists_replace() {
        let c = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: a\nversion: 1.0.0\n"),
            ("values.yaml", "x: 1\nyy: {z: 2, w: 3}\nl: [1, 2]\n"),
        ]);
        let mut w = Warnings::default();
        let v = coalesce_values(&c, &m("x: null\nyy: {w: null}\nl: [3]\n"), &mut w).unwrap();
        assert_eq!(
            Value::Map(v).to_go_json(),
            r#"{"l":[3],"yy":{"z":2}}"#.to_string()
        );
    }

    #[test]
    fn coalescing_is_idempotent() {
        let c = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: a\nversion: 1.0.0\n"),
            ("values.yaml", "x: 1\ny: {z: 2}\nglobal: {g: 1}\n"),
        ]);
        let mut w = Warnings::default();
        let once = coalesce_values(&c, &m("y: {q: 1}\n"), &mut w).unwrap();
        let twice = coalesce_values(&c, &once, &mut w).unwrap();
        assert_eq!(once, twice);
    }
}
