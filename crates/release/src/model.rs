//! The release record, field for field as Helm's `pkg/release/v1` marshals it.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A release's status (`pkg/release/common/status.go`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// `unknown`
    #[default]
    Unknown,
    /// `deployed`
    Deployed,
    /// `uninstalled`
    Uninstalled,
    /// `superseded`
    Superseded,
    /// `failed`
    Failed,
    /// `uninstalling`
    Uninstalling,
    /// `pending-install`
    PendingInstall,
    /// `pending-upgrade`
    PendingUpgrade,
    /// `pending-rollback`
    PendingRollback,
    /// A status this version does not know, kept as written.
    Other(String),
}

impl Status {
    /// The status as Helm writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
            Status::Other(s) => s,
        }
    }

    /// Parses Helm's spelling.
    pub fn parse(s: &str) -> Status {
        match s {
            "unknown" => Status::Unknown,
            "deployed" => Status::Deployed,
            "uninstalled" => Status::Uninstalled,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            other => Status::Other(other.to_string()),
        }
    }

    /// `pending-install`, `pending-upgrade` or `pending-rollback`.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Status::parse(&String::deserialize(d)?))
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Accepts a time written as a string, as `null` or as `""` (Helm v4 reads all three).
fn lenient_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Go's zero `time.Time` as JSON: what Helm v3 writes for an unset time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn is_unset_time(s: &str) -> bool {
    s.is_empty() || s == ZERO_TIME
}

/// `Info` of a release.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Info {
    /// When revision 1 was deployed (RFC 3339).
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "is_unset_time"
    )]
    pub first_deployed: String,
    /// When this revision was deployed.
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "is_unset_time"
    )]
    pub last_deployed: String,
    /// When it was deleted (uninstall --keep-history).
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "is_unset_time"
    )]
    pub deleted: String,
    /// Human description ("Install complete", "Upgrade \"x\" failed: ...").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Status.
    #[serde(default, skip_serializing_if = "is_unknown")]
    pub status: Status,
    /// Rendered NOTES.txt.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Fields this version does not know (kept on rewrite).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_unknown(s: &Status) -> bool {
    *s == Status::Unknown
}

/// When and how a hook last ran.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HookExecution {
    /// Start time (RFC 3339).
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "is_unset_time"
    )]
    pub started_at: String,
    /// Completion time.
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "is_unset_time"
    )]
    pub completed_at: String,
    /// `Unknown`, `Running`, `Succeeded`, `Failed` (always written, may be empty).
    #[serde(default)]
    pub phase: String,
}

/// A hook of a release.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Hook {
    /// `metadata.name` of the hook object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Template path (`chart/templates/job.yaml`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The rendered object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// Events it runs on (`pre-install`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Last execution.
    #[serde(default)]
    pub last_run: HookExecution,
    /// `helm.sh/hook-weight`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy` values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_log_policies: Vec<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A release record (one revision).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Release {
    /// Release name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Status and times.
    #[serde(default)]
    pub info: Info,
    /// The root chart as Helm serialises it (`metadata`, `lock`, `templates`, `values`,
    /// `schema`, `files`; subcharts are not stored). Kept as JSON so records written by other
    /// Helm versions survive a rewrite unchanged.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub chart: Value,
    /// The user-supplied values (not the coalesced ones).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// The non-hook objects in install order, with `# Source:` headers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// Hooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// Revision, from 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    /// Namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Helm 4: `ssa` or `csa`; empty (Helm 3 records) means client-side.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apply_method: String,
    /// Custom release labels: not in the JSON, stored as labels of the storage object.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The chart as Helm stores it in a release (`pkg/chart/v2` `Chart` JSON): the root chart's
/// metadata, lock, templates, values, schema and files, file bodies base64 (Go `[]byte`).
pub fn chart_json(chart: &ferry_chart::Chart) -> Value {
    let file = |f: &ferry_chart::File| serde_json::json!({"name": f.name, "data": b64(f.data())});
    let lock = chart.lock.as_ref().map(|l| {
        serde_json::json!({
            "generated": l.generated,
            "digest": l.digest,
            "dependencies": l.dependencies.iter().map(|d| d.to_value().to_json()).collect::<Vec<_>>(),
        })
    });
    serde_json::json!({
        "metadata": chart.metadata.to_value().to_json(),
        "lock": lock,
        "templates": chart.templates.iter().map(file).collect::<Vec<_>>(),
        "values": ferry_chart::Value::Map(chart.values.clone()).to_json(),
        "schema": chart.schema.as_ref().map(|s| b64(s)),
        "schemamodtime": ZERO_TIME,
        "files": chart.files.iter().map(file).collect::<Vec<_>>(),
    })
}

impl Release {
    /// The chart's `metadata` field (name, version, appVersion...).
    pub fn chart_metadata(&self, key: &str) -> &str {
        self.chart
            .pointer(&format!("/metadata/{key}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `name-version` as `helm list`/`history` print the chart (`formatChartName`).
    pub fn chart_label(&self) -> String {
        if self.chart.is_null() || self.chart.get("metadata").is_none() {
            return "MISSING".into();
        }
        format!(
            "{}-{}",
            self.chart_metadata("name"),
            self.chart_metadata("version")
        )
    }

    /// The chart's `values.yaml` as stored (for `--reuse-values` and `get values --all`).
    pub fn chart_values(&self) -> Map<String, Value> {
        self.chart
            .get("values")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// A file of the stored chart (`templates/x.yaml`, `README.md`), decoded.
    pub fn chart_file(&self, section: &str, name: &str) -> Option<Vec<u8>> {
        self.chart
            .get(section)?
            .as_array()?
            .iter()
            .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|f| f.get("data")?.as_str())
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
    }

    /// Rebuilds a loadable chart from the stored one (root chart only, as Helm stores it).
    pub fn to_chart(&self) -> Result<ferry_chart::Chart, String> {
        let mut files = Vec::new();
        let meta = self
            .chart
            .get("metadata")
            .ok_or("the release has no chart")?;
        let meta_yaml = ferry_chart::yaml::to_yaml(&ferry_chart::Value::from_json(meta));
        files.push(ferry_chart::File::new("Chart.yaml", meta_yaml.into_bytes()));
        let values = ferry_chart::Value::from_json(
            self.chart
                .get("values")
                .unwrap_or(&Value::Object(Map::new())),
        );
        files.push(ferry_chart::File::new(
            "values.yaml",
            ferry_chart::yaml::to_yaml(&values).into_bytes(),
        ));
        if let Some(schema) = self.chart.get("schema").and_then(Value::as_str) {
            let data = base64::engine::general_purpose::STANDARD
                .decode(schema)
                .map_err(|e| format!("stored schema: {e}"))?;
            files.push(ferry_chart::File::new("values.schema.json", data));
        }
        for section in ["templates", "files"] {
            for f in self
                .chart
                .get(section)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(name), Some(data)) = (
                    f.get("name").and_then(Value::as_str),
                    f.get("data").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if section == "files" && name == "values.yaml" {
                    continue;
                }
                let data = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| format!("stored file {name}: {e}"))?;
                files.push(ferry_chart::File::new(name, data));
            }
        }
        let name = self.chart_metadata("name").to_string();
        ferry_chart::load_files(files, &name).map_err(|e| e.to_string())
    }
}
