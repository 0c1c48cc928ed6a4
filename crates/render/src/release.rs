//! From a chart and user values to what `helm install --dry-run` / `helm template` produce:
//! dependency processing, coalescing, schema validation, rendering, hooks, notes, manifest.

use std::collections::BTreeMap;

use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_chart::{Chart, Map};

use crate::context::{Capabilities, ReleaseOptions};
use crate::engine::{Engine, Preparse, TemplateError};
use crate::manifest::{
    Hook, INSTALL_ORDER, Manifest, ManifestError, ReadAhead, sort_manifests, sort_manifests_ahead,
    split_manifests,
};

/// What to render.
#[derive(Debug, Clone)]
pub struct RenderRequest<'a> {
    /// The chart as loaded (dependency processing happens here).
    pub chart: &'a Chart,
    /// User values (`-f`, `--set`, ...), before coalescing.
    pub user_values: &'a Map,
    /// `.Release`.
    pub release: ReleaseOptions,
    /// `.Capabilities`.
    pub caps: Capabilities,
    /// The engine (strict mode, lookup).
    pub engine: Engine,
    /// Put `crds/` files at the head of the manifest (`--include-crds`).
    pub include_crds: bool,
    /// Keep subcharts' NOTES.txt too (`--render-subchart-notes`).
    pub sub_notes: bool,
    /// Skip `values.schema.json` validation.
    pub skip_schema_validation: bool,
}

/// The result of a render.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Helm's render map `{template path: output}`, NOTES.txt included.
    pub files: BTreeMap<String, String>,
    /// Non-hook documents in install order.
    pub manifests: Vec<Manifest>,
    /// Hook documents in kind order.
    pub hooks: Vec<Hook>,
    /// The manifest text Helm stores in the release (CRDs first with `include_crds`).
    pub manifest: String,
    /// Rendered NOTES.txt (root, or all with `sub_notes`, joined by newlines).
    pub notes: String,
    /// The coalesced values the root templates saw.
    pub values: Map,
    /// Warnings from coalescing (Helm prints them).
    pub warnings: Vec<String>,
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// Values, dependencies or schema.
    #[error(transparent)]
    Chart(#[from] ferry_chart::Error),
    /// The chart cannot be installed (library chart, missing dependencies, kubeVersion).
    #[error("{0}")]
    NotInstallable(String),
    /// A template failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A rendered document is not valid YAML.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The post-renderer failed, or its output is not a YAML stream of objects (Helm's
    /// wording, e.g. `error while running post render on files: ...`).
    #[error("{0}")]
    PostRender(String),
}

/// A post-renderer (Helm's `postrenderer.PostRenderer`): gets every rendered document (hooks
/// included) as one YAML stream and returns the stream to use instead. Running a program is
/// the caller's business (`render` does no I/O); see `ferry template --post-renderer`.
pub trait PostRenderer {
    /// Runs the post-renderer on `manifests`; an `Err` carries Helm's wording of the failure
    /// (`failed to invoke post-renderer plugin "x": ...`, `post-renderer "x" produced empty
    /// output`).
    fn run(&self, manifests: &str) -> Result<String, String>;
}

/// The annotation Helm 4 puts on every document it hands to a post-renderer, naming the
/// template it came from, so the output can be split back into files.
pub const POSTRENDER_FILENAME: &str = "postrenderer.helm.sh/postrender-filename";

/// Helm's `CheckDependencies`: every dependency of Chart.yaml must be present in charts/.
fn check_dependencies(chart: &Chart) -> Result<(), RenderError> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.name() == d.name))
        .map(|d| d.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RenderError::NotInstallable(format!(
            "found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        )))
    }
}

/// What a render needs before its templates run: the engine (with the templates parsing on a
/// second core meanwhile), the chart after dependency processing, and the values.
struct Prepared<'r> {
    engine: std::borrow::Cow<'r, Engine>,
    processed: Chart,
    values: Map,
    warnings: Warnings,
}

/// Checks the chart can be installed, computes and validates its values.
fn prepare<'r>(req: &'r RenderRequest<'_>) -> Result<Prepared<'r>, RenderError> {
    let chart = req.chart;
    if !matches!(chart.metadata.chart_type.as_str(), "" | "application") {
        return Err(RenderError::NotInstallable(format!(
            "{} charts are not installable",
            chart.metadata.chart_type
        )));
    }
    check_dependencies(chart)?;
    // The templates parse on a second core while the values are computed (unless the caller
    // parsed them already, or adds functions of its own, which the trees must be parsed with)
    let engine = match &req.engine {
        e if e.preparsed.is_some() || e.custom.is_some() => std::borrow::Cow::Borrowed(e),
        e => {
            let pre = Preparse::start();
            pre.offer_chart(chart);
            std::borrow::Cow::Owned(Engine {
                preparsed: Some(pre),
                ..e.clone()
            })
        }
    };
    let mut warnings = Warnings::default();
    let (processed, values) = computed_values(chart, req.user_values, &mut warnings)?;
    if !req.skip_schema_validation {
        ferry_chart::schema::validate(&processed, &values)?;
    }
    if !chart.metadata.kube_version.is_empty()
        && !ferry_chart::semver::is_compatible_range(
            &chart.metadata.kube_version,
            &req.caps.kube_version,
        )
    {
        return Err(RenderError::NotInstallable(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {}",
            chart.metadata.kube_version, req.caps.kube_version
        )));
    }
    Ok(Prepared {
        engine,
        processed,
        values,
        warnings,
    })
}

/// Helm's engine map of a release (`{template path: rendered text}`, `NOTES.txt` included)
/// and the values' warnings: what [`render_release`] renders, before its manifest stage, so
/// a text that is not valid YAML is shown rather than refused (`ferry template --raw-json`).
pub fn render_map(
    req: &RenderRequest<'_>,
) -> Result<(BTreeMap<String, String>, Vec<String>), RenderError> {
    let Prepared {
        engine,
        processed,
        values,
        warnings,
    } = prepare(req)?;
    let files = engine.render(&processed, &values, &req.release, &req.caps)?;
    if req.engine.exit_after {
        std::mem::forget(processed);
    }
    Ok((files, warnings.0))
}

/// Renders a release as `helm install --dry-run=client` does.
pub fn render_release(req: &RenderRequest<'_>) -> Result<Rendered, RenderError> {
    render_release_with(req, None)
}

/// [`render_release`] with a post-renderer, as Helm 4 applies one (its default `combined`
/// strategy): after rendering, NOTES.txt set aside, every document of every template (hooks
/// included) goes to the post-renderer as one stream, each annotated with
/// [`POSTRENDER_FILENAME`]; its output is split back into templates by that annotation (which
/// is removed; documents without it become `generated-by-postrender-N.yaml`), and hooks and
/// manifests are separated from the result. CRDs of `crds/` are not post-rendered.
pub fn render_release_with(
    req: &RenderRequest<'_>,
    post: Option<&dyn PostRenderer>,
) -> Result<Rendered, RenderError> {
    let Prepared {
        engine,
        processed,
        values,
        warnings,
    } = prepare(req)?;
    let is_notes = |path: &str| path.ends_with("NOTES.txt");
    // without a post-renderer, the documents are read while later templates still render
    let mut ahead = ReadAhead::default();
    let files = match post {
        Some(_) => engine.render(&processed, &values, &req.release, &req.caps)?,
        None => engine.render_observed(
            &processed,
            &values,
            &req.release,
            &req.caps,
            // what waited until the render was done is read after it, on all cores
            &mut |path, text, late| {
                if !late && !is_notes(path) {
                    ahead.read(path, text);
                }
            },
        )?,
    };
    let root_notes = format!("{}/templates/NOTES.txt", processed.name());
    let mut notes = String::new();
    for (k, v) in &files {
        if is_notes(k) && (req.sub_notes || *k == root_notes) {
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(v);
        }
    }
    // the render map without NOTES.txt, borrowed (the post-renderer's output is a map of its own)
    let not_notes = |(k, _): &(&String, &String)| !is_notes(k);
    let (hooks, manifests) = match post {
        Some(pr) => {
            let templates: BTreeMap<String, String> = files
                .iter()
                .filter(not_notes)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            sort_manifests(&post_render(&templates, pr)?, INSTALL_ORDER)?
        }
        None => sort_manifests_ahead(files.iter().filter(not_notes), INSTALL_ORDER, ahead)?,
    };
    let mut manifest = String::new();
    if req.include_crds {
        for (path, text) in crd_files(&processed, "") {
            manifest.push_str(&format!("---\n# Source: {path}\n{text}\n"));
        }
    }
    if manifest.is_empty() {
        // no CRDs before it: the text itself, not a copy; with room for the hooks, which
        // `helm template` prints after it (so printing them does not copy the text again)
        let hooks_len = hooks
            .iter()
            .map(|h| crate::manifest::entry_len(&h.path, &h.manifest))
            .sum();
        manifest = crate::manifest::manifest_text_with_room(&manifests, hooks_len);
    } else {
        manifest.push_str(&crate::manifest::manifest_text(&manifests));
    }
    if req.engine.exit_after {
        // the processed chart tree is many small allocations the operating system reclaims
        std::mem::forget(processed);
    }
    Ok(Rendered {
        files,
        manifests,
        hooks,
        manifest,
        notes,
        values,
        warnings: warnings.0,
    })
}

/// `CRDObjects`: `crds/*.{yaml,yml,json}` of the chart and its subcharts, with their paths as
/// Helm names them (`chart/crds/x.yaml`, `chart/charts/sub/crds/y.yaml`).
pub fn crd_files(chart: &Chart, prefix: &str) -> Vec<(String, String)> {
    let base = if prefix.is_empty() {
        chart.name().to_string()
    } else {
        format!("{prefix}/charts/{}", chart.name())
    };
    let mut out: Vec<(String, String)> = chart
        .crds()
        .filter(|f| {
            [".yaml", ".yml", ".json"]
                .iter()
                .any(|e| f.name.ends_with(e))
        })
        .map(|f| (format!("{base}/{}", f.name), f.text().into_owned()))
        .collect();
    for d in &chart.dependencies {
        out.extend(crd_files(d, &base));
    }
    out
}

/// Helm 4's post-render step over the render map (NOTES.txt removed): annotate and merge,
/// run, split and de-annotate.
fn post_render(
    files: &BTreeMap<String, String>,
    pr: &dyn PostRenderer,
) -> Result<BTreeMap<String, String>, RenderError> {
    let merged = annotate_and_merge(files)
        .map_err(|e| RenderError::PostRender(format!("error merging manifests: {e}")))?;
    let out = pr.run(&merged).map_err(|e| {
        RenderError::PostRender(format!("error while running post render on files: {e}"))
    })?;
    split_and_deannotate(&out).map_err(|e| {
        RenderError::PostRender(format!("error while parsing post rendered output: {e}"))
    })
}

/// Helm's `annotateAndMerge`: the documents of every template (partials and blank files
/// skipped) in path order, each annotated with the template's path, as one YAML stream.
/// Documents keep their text; the annotation goes at the end of `metadata.annotations` (created
/// at the end of `metadata`, or of the document), where Helm's kyaml puts it.
pub fn annotate_and_merge(files: &BTreeMap<String, String>) -> Result<String, String> {
    let mut docs = Vec::new();
    for (name, content) in files {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            if doc.trim().is_empty() {
                continue;
            }
            let v = ferry_chart::yaml::parse(&doc).map_err(|e| format!("parsing {name}: {e}"))?;
            match v {
                ferry_chart::Value::Null => continue,
                ferry_chart::Value::Map(_) => {}
                other => {
                    return Err(format!(
                        "annotating {name}: wrong node kind: expected MappingNode but got {}",
                        node_kind(&other)
                    ));
                }
            }
            let mut text = annotate(&doc, name).unwrap_or_else(|| annotate_value(&doc, name));
            if !text.ends_with('\n') {
                text.push('\n');
            }
            docs.push(text);
        }
    }
    Ok(docs.join("---\n"))
}

fn node_kind(v: &ferry_chart::Value) -> &'static str {
    match v {
        ferry_chart::Value::List(_) => "SequenceNode",
        ferry_chart::Value::Map(_) => "MappingNode",
        _ => "ScalarNode",
    }
}

/// A YAML single-quoted scalar.
fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank or comment-only lines do not end or start a block.
fn is_filler(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// `key:` alone on its line (maybe with a comment): a block mapping entry.
fn block_key(line: &str, key: &str) -> bool {
    let Some(rest) = line.trim_start_matches(' ').strip_prefix(key) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(':') else {
        return false;
    };
    let rest = rest.trim();
    rest.is_empty() || rest.starts_with('#')
}

/// The lines after `start` that belong to a block opened at `indent` (more indented ones,
/// with fillers in between): the index one past its last content line.
fn block_end(lines: &[&str], start: usize, indent: usize) -> usize {
    let mut end = start + 1;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        if is_filler(l) {
            continue;
        }
        if indent_of(l) <= indent {
            break;
        }
        end = i + 1;
    }
    end
}

/// Adds the annotation to a block-style document, keeping its text; `None` when its
/// `metadata` or `annotations` is not a plain block mapping.
fn annotate(doc: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = doc.lines().collect();
    let first = lines.iter().position(|l| !is_filler(l) && *l != "---")?;
    let root = indent_of(lines[first]);
    let entry = format!("{POSTRENDER_FILENAME}: {}", single_quoted(name));
    let pad = |n: usize| " ".repeat(n);
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let md = lines.iter().position(|l| {
        indent_of(l) == root && !is_filler(l) && l.trim_start().starts_with("metadata:")
    });
    let Some(md) = md else {
        // no metadata: a new one at the end of the document
        while out.last().is_some_and(|l| l.trim().is_empty()) {
            out.pop();
        }
        out.push(format!("{}metadata:", pad(root)));
        out.push(format!("{}annotations:", pad(root + 2)));
        out.push(format!("{}{entry}", pad(root + 4)));
        return Some(out.join("\n") + "\n");
    };
    if !block_key(lines[md], "metadata") {
        return None;
    }
    let md_end = block_end(&lines, md, root);
    let children: Vec<usize> = (md + 1..md_end).filter(|&i| !is_filler(lines[i])).collect();
    let Some(&c0) = children.first() else {
        // `metadata:` with no value
        out.insert(md + 1, format!("{}annotations:", pad(root + 2)));
        out.insert(md + 2, format!("{}{entry}", pad(root + 4)));
        return Some(out.join("\n") + "\n");
    };
    let ci = indent_of(lines[c0]);
    let ann = children
        .iter()
        .copied()
        .find(|&i| indent_of(lines[i]) == ci && lines[i].trim_start().starts_with("annotations:"));
    match ann {
        None => {
            out.insert(md_end, format!("{}annotations:", pad(ci)));
            out.insert(md_end + 1, format!("{}{entry}", pad(ci + 2)));
        }
        Some(a) => {
            let rest = lines[a].trim_start()["annotations:".len()..].trim();
            if rest == "{}" {
                out[a] = format!("{}annotations:", pad(ci));
                out.insert(a + 1, format!("{}{entry}", pad(ci + 2)));
            } else if block_key(lines[a], "annotations") {
                let a_end = block_end(&lines, a, ci);
                let ai = (a + 1..a_end)
                    .find(|&i| !is_filler(lines[i]))
                    .map(|i| indent_of(lines[i]))
                    .unwrap_or(ci + 2);
                out.insert(a_end, format!("{}{entry}", pad(ai)));
            } else {
                return None;
            }
        }
    }
    Some(out.join("\n") + "\n")
}

/// The fallback for flow-style heads: the document re-emitted with the annotation added.
fn annotate_value(doc: &str, name: &str) -> String {
    use ferry_chart::Value;
    let Ok(Value::Map(mut m)) = ferry_chart::yaml::parse(doc) else {
        return doc.to_string();
    };
    let mut md = match m.remove("metadata") {
        Some(Value::Map(md)) => md,
        _ => ferry_chart::Map::new(),
    };
    let mut ann = match md.remove("annotations") {
        Some(Value::Map(a)) => a,
        _ => ferry_chart::Map::new(),
    };
    ann.insert(POSTRENDER_FILENAME.into(), Value::String(name.into()));
    md.insert("annotations".into(), Value::Map(ann));
    m.insert("metadata".into(), Value::Map(md));
    ferry_chart::yaml::to_yaml(&Value::Map(m))
}

/// Splits a YAML stream into its documents (`---` lines, `...` ends), dropping empty ones.
fn stream_documents(stream: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in stream.split_inclusive('\n') {
        let l = line.trim_end_matches(['\n', '\r']);
        let sep = l == "---" || l.starts_with("--- ") || l.starts_with("---\t");
        if sep || l == "..." {
            docs.push(std::mem::take(&mut cur));
            if sep && l.len() > 3 {
                cur.push_str(l[3..].trim_start());
                cur.push('\n');
            }
            continue;
        }
        cur.push_str(line);
    }
    docs.push(cur);
    docs.into_iter()
        .filter(|d| d.lines().any(|l| !is_filler(l)))
        .collect()
}

/// Helm's `splitAndDeannotate`: the post-renderer's output back into templates, by the
/// annotation (removed again, with `annotations`/`metadata` left empty by it), unannotated
/// documents as `generated-by-postrender-N.yaml`.
pub fn split_and_deannotate(stream: &str) -> Result<BTreeMap<String, String>, String> {
    use ferry_chart::Value;
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, doc) in stream_documents(stream).into_iter().enumerate() {
        let v = ferry_chart::yaml::parse(&doc).map_err(|e| format!("error parsing YAML: {e}"))?;
        let Value::Map(m) = &v else {
            return Err(format!(
                "getting metadata: wrong node kind: expected MappingNode but got {}",
                node_kind(&v)
            ));
        };
        let name = m
            .get("metadata")
            .and_then(|md| md.path("annotations"))
            .and_then(|a| match a {
                Value::Map(a) => a.get(POSTRENDER_FILENAME),
                _ => None,
            })
            .and_then(|n| n.as_str())
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        let text = match &name {
            Some(_) => deannotate(&doc).unwrap_or_else(|| deannotate_value(m.clone())),
            None => doc.clone(),
        };
        let name = name.unwrap_or_else(|| format!("generated-by-postrender-{i}.yaml"));
        let mut text = text;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        files.entry(name).or_default().push(text);
    }
    Ok(files
        .into_iter()
        .map(|(k, v)| (k, v.join("---\n")))
        .collect())
}

/// Removes the annotation line of a block-style document, and `annotations:` (then
/// `metadata:`) if that leaves them empty; `None` when the annotation is not on a line of its
/// own.
fn deannotate(doc: &str) -> Option<String> {
    let mut lines: Vec<&str> = doc.lines().collect();
    let at = lines.iter().position(|l| {
        let t = l.trim_start().trim_start_matches(['\'', '"']);
        t.strip_prefix(POSTRENDER_FILENAME)
            .map(|r| {
                r.trim_start_matches(['\'', '"'])
                    .trim_start()
                    .starts_with(':')
            })
            .unwrap_or(false)
    })?;
    let indent = indent_of(lines[at]);
    // a multi-line value would continue on more indented lines
    if lines
        .get(at + 1)
        .is_some_and(|l| !is_filler(l) && indent_of(l) > indent)
    {
        return None;
    }
    lines.remove(at);
    // the parents: the nearest less indented lines above
    let mut child = (at, indent);
    for key in ["annotations", "metadata"] {
        let Some(p) = (0..child.0)
            .rev()
            .find(|&i| !is_filler(lines[i]) && indent_of(lines[i]) < child.1)
        else {
            break;
        };
        if !block_key(lines[p], key) {
            break;
        }
        let pi = indent_of(lines[p]);
        if block_end(&lines, p, pi) > p + 1 {
            break;
        }
        lines.remove(p);
        child = (p, pi);
    }
    Some(lines.join("\n") + "\n")
}

/// The fallback: the document re-emitted without the annotation.
fn deannotate_value(mut m: ferry_chart::Map) -> String {
    use ferry_chart::Value;
    if let Some(Value::Map(md)) = m.get_mut("metadata") {
        if let Some(Value::Map(a)) = md.get_mut("annotations") {
            a.remove(POSTRENDER_FILENAME);
            if a.is_empty() {
                md.remove("annotations");
            }
        }
        if md.is_empty() {
            m.remove("metadata");
        }
    }
    ferry_chart::yaml::to_yaml(&Value::Map(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    // the cases of Helm v4.2.3's TestAnnotateAndMerge
    #[test]
    fn annotates_as_helm() {
        let got = annotate_and_merge(&files(&[
            (
                "templates/configmap.yaml",
                "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm\ndata:\n  key: value",
            ),
            (
                "templates/secret.yaml",
                "\napiVersion: v1\nkind: Secret\nmetadata:\n  name: test-secret\ndata:\n  password: dGVzdA==",
            ),
            ("templates/_partial.tpl", "\n{{-define name}}\n"),
            ("templates/empty.yaml", "\n"),
        ]))
        .unwrap();
        assert_eq!(
            got,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'templates/configmap.yaml'\ndata:\n  key: value\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: test-secret\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'templates/secret.yaml'\ndata:\n  password: dGVzdA==\n"
        );
        let glued = annotate_and_merge(&files(&[(
            "templates/all.yaml",
            "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm\n---apiVersion: v1\nkind: Service\nmetadata:\n  name: test-svc\n",
        )]))
        .unwrap();
        assert_eq!(
            glued,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'templates/all.yaml'\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: test-svc\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'templates/all.yaml'\n"
        );
        let e = annotate_and_merge(&files(&[(
            "templates/invalid.yaml",
            "\ninvalid: yaml: content:\n  - malformed",
        )]))
        .unwrap_err();
        assert!(e.starts_with("parsing templates/invalid.yaml"), "{e}");
    }

    #[test]
    fn annotation_goes_into_existing_annotations_or_a_new_metadata() {
        let got = annotate(
            "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n  labels:\n    a: b\nspec: {}\n",
            "c/templates/j.yaml",
        )
        .unwrap();
        assert_eq!(
            got,
            "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n    postrenderer.helm.sh/postrender-filename: 'c/templates/j.yaml'\n  labels:\n    a: b\nspec: {}\n"
        );
        let got = annotate("kind: X\nspec:\n  a: 1\n", "x").unwrap();
        assert_eq!(
            got,
            "kind: X\nspec:\n  a: 1\nmetadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'x'\n"
        );
        let got = annotate("kind: X\nmetadata:\n  annotations: {}\n", "x").unwrap();
        assert_eq!(
            got,
            "kind: X\nmetadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'x'\n"
        );
        // flow style: re-emitted
        let got = annotate_and_merge(&files(&[("x", "kind: X\nmetadata: {name: a}\n")])).unwrap();
        assert!(got.contains("postrender-filename: x"), "{got}");
    }

    #[test]
    fn splits_and_deannotates_as_helm() {
        let got = split_and_deannotate(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm1\n  annotations:\n    postrenderer.helm.sh/postrender-filename: templates/multi.yaml\ndata:\n  key: value1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm2\n  annotations:\n    other: x\n    \"postrenderer.helm.sh/postrender-filename\": 'templates/multi.yaml'\ndata:\n  key: value2\n---\nkind: Extra\nmetadata:\n  name: e\n",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got["templates/multi.yaml"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm1\ndata:\n  key: value1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-cm2\n  annotations:\n    other: x\ndata:\n  key: value2\n"
        );
        assert_eq!(
            got["generated-by-postrender-2.yaml"],
            "kind: Extra\nmetadata:\n  name: e\n"
        );
        let e = split_and_deannotate("- a\n").unwrap_err();
        assert!(e.starts_with("getting metadata:"), "{e}");
    }

    #[test]
    fn round_trip_keeps_documents() {
        let f = files(&[
            (
                "c/templates/a.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    x: y\ndata:\n  k: |\n    line\n---\nkind: Secret\nmetadata:\n  name: s\n",
            ),
            (
                "c/templates/b.yaml",
                "kind: Service\nmetadata:\n  name: b\n",
            ),
        ]);
        let back = split_and_deannotate(&annotate_and_merge(&f).unwrap()).unwrap();
        assert_eq!(
            back["c/templates/a.yaml"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    x: y\ndata:\n  k: |\n    line\n---\nkind: Secret\nmetadata:\n  name: s\n"
        );
        assert_eq!(
            back["c/templates/b.yaml"],
            "kind: Service\nmetadata:\n  name: b\n"
        );
    }
}
