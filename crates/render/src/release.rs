//! From a chart and user values to what `helm install --dry-run` / `helm template` produce:
//! dependency processing, coalescing, schema validation, rendering, hooks, notes, manifest.

use std::collections::BTreeMap;

use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_chart::{Chart, Map};

use crate::context::{Capabilities, ReleaseOptions};
use crate::engine::{Engine, TemplateError};
use crate::manifest::{Hook, INSTALL_ORDER, Manifest, ManifestError, sort_manifests};

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
}

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

/// Renders a release as `helm install --dry-run=client` does.
pub fn render_release(req: &RenderRequest<'_>) -> Result<Rendered, RenderError> {
    let chart = req.chart;
    if !matches!(chart.metadata.chart_type.as_str(), "" | "application") {
        return Err(RenderError::NotInstallable(format!(
            "{} charts are not installable",
            chart.metadata.chart_type
        )));
    }
    check_dependencies(chart)?;
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
    let files = req
        .engine
        .render(&processed, &values, &req.release, &req.caps)?;
    let root_notes = format!("{}/templates/NOTES.txt", processed.name());
    let mut notes = String::new();
    let mut templates = BTreeMap::new();
    for (k, v) in &files {
        if k.ends_with("NOTES.txt") {
            if req.sub_notes || *k == root_notes {
                if !notes.is_empty() {
                    notes.push('\n');
                }
                notes.push_str(v);
            }
            continue;
        }
        templates.insert(k.clone(), v.clone());
    }
    let (hooks, manifests) = sort_manifests(&templates, INSTALL_ORDER)?;
    let mut manifest = String::new();
    if req.include_crds {
        for (path, text) in crd_files(&processed, "") {
            manifest.push_str(&format!("---\n# Source: {path}\n{text}\n"));
        }
    }
    manifest.push_str(&crate::manifest::manifest_text(&manifests));
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
