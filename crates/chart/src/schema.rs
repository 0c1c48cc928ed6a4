//! `values.schema.json` validation for a chart and every subchart, with Helm's report layout.
//!
//! Helm validates the coalesced values of each chart against its own schema, subcharts with
//! their section of the parent's values, and joins the failures as
//! `<chart>:\n- at '<pointer>': <message>\n`. Messages use the wording of the validator Helm
//! embeds (santhosh-tekuri/jsonschema) for the common keywords.

use jsonschema::error::{TypeKind, ValidationErrorKind};

use crate::error::{Error, Result};
use crate::load::Chart;
use crate::value::{Map, Value};

fn quote_list(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                serde_json::Value::String(s) => format!("'{s}'"),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                "integer"
            } else {
                "number"
            }
        }
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

fn message(e: &jsonschema::ValidationError<'_>) -> String {
    let inst = e.instance().as_ref();
    match e.kind() {
        ValidationErrorKind::Required { property } => {
            format!(
                "missing property {}",
                quote_list(&serde_json::json!([property]))
            )
        }
        ValidationErrorKind::Type { kind } => {
            let want = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            format!("got {}, want {want}", json_kind(inst))
        }
        ValidationErrorKind::Enum { options } => {
            format!("value must be one of {}", quote_list(options.as_ref()))
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!(
                "value must be {}",
                quote_list(&serde_json::json!([expected_value.as_ref()]))
            )
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => format!(
            "additional properties {} not allowed",
            unexpected
                .iter()
                .map(|u| format!("'{u}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ValidationErrorKind::Minimum { limit } => format!("minimum: got {inst}, want {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("maximum: got {inst}, want {limit}"),
        ValidationErrorKind::MinLength { limit } => format!(
            "minLength: got {}, want {limit}",
            inst.as_str().map(|s| s.chars().count()).unwrap_or(0)
        ),
        ValidationErrorKind::MaxLength { limit } => format!(
            "maxLength: got {}, want {limit}",
            inst.as_str().map(|s| s.chars().count()).unwrap_or(0)
        ),
        ValidationErrorKind::MinItems { limit } => format!(
            "minItems: got {}, want {limit}",
            inst.as_array().map(|a| a.len()).unwrap_or(0)
        ),
        ValidationErrorKind::MaxItems { limit } => format!(
            "maxItems: got {}, want {limit}",
            inst.as_array().map(|a| a.len()).unwrap_or(0)
        ),
        ValidationErrorKind::Pattern { pattern } => {
            let shown = inst
                .as_str()
                .map(str::to_string)
                .unwrap_or(inst.to_string());
            format!("'{shown}' does not match pattern '{pattern}'")
        }
        _ => e.to_string(),
    }
}

/// Validates one schema against one chart's values; the failures in Helm's list form.
pub fn validate_single(schema: &[u8], values: &Map) -> std::result::Result<(), String> {
    let mut schema: serde_json::Value = serde_json::from_slice(schema)
        .map_err(|e| format!("- values.schema.json is not valid JSON: {e}\n"))?;
    let validator = match jsonschema::validator_for(&schema) {
        Ok(v) => v,
        Err(e) => {
            // Helm's validator ignores a `$schema` it does not know (e.g. the draft-less
            // `http://json-schema.org/schema`) and uses its default draft.
            let unknown = e.to_string().contains("Unknown specification");
            let removed = unknown
                && schema
                    .as_object_mut()
                    .is_some_and(|o| o.remove("$schema").is_some());
            if !removed {
                return Err(format!("- values.schema.json is not a valid schema: {e}\n"));
            }
            jsonschema::validator_for(&schema)
                .map_err(|e| format!("- values.schema.json is not a valid schema: {e}\n"))?
        }
    };
    let instance = Value::Map(values.clone()).to_json();
    // Helm's order follows Go map iteration (it varies between runs); ours is fixed: by
    // location, the root's own failures last.
    let mut lines: Vec<(String, String)> = validator
        .iter_errors(&instance)
        .map(|e| (e.instance_path().to_string(), message(&e)))
        .collect();
    lines.sort_by(|a, b| (a.0.is_empty(), &a.0).cmp(&(b.0.is_empty(), &b.0)));
    let out: String = lines
        .iter()
        .map(|(path, msg)| format!("- at '{path}': {msg}\n"))
        .collect();
    if out.is_empty() { Ok(()) } else { Err(out) }
}

fn collect(chart: &Chart, values: &Map, out: &mut String) {
    if let Some(schema) = &chart.schema
        && let Err(e) = validate_single(schema, values)
    {
        out.push_str(&format!("{}:\n{e}", chart.name()));
    }
    for sub in &chart.dependencies {
        match values.get(sub.name()) {
            None | Some(Value::Null) => {}
            Some(Value::Map(m)) => collect(sub, m, out),
            Some(other) => out.push_str(&format!(
                "{}:\ninvalid type for values: expected object (map), got {}\n",
                sub.name(),
                other.go_type()
            )),
        }
    }
}

/// Helm's `ValidateAgainstSchema` on a processed chart tree and its coalesced values.
pub fn validate(chart: &Chart, values: &Map) -> Result<()> {
    let mut out = String::new();
    collect(chart, values, &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        Err(Error::Schema(out))
    }
}
