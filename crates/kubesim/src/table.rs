//! `meta.k8s.io/v1` Table responses, so `kubectl get` prints the columns it prints
//! against a real cluster for the common kinds.

use crate::registry::ResourceType;
use crate::util::{self, int_at, str_at};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// kubectl's `HumanDuration`.
pub(crate) fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let mins = secs / 60;
    let hours = secs / 3600;
    if secs < 120 {
        format!("{secs}s")
    } else if mins < 10 {
        if secs % 60 == 0 {
            format!("{mins}m")
        } else {
            format!("{mins}m{}s", secs % 60)
        }
    } else if mins < 180 {
        format!("{mins}m")
    } else if hours < 8 {
        if mins % 60 == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{}m", mins % 60)
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

fn age(obj: &Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match util::parse_rfc3339(str_at(obj, &["metadata", "creationTimestamp"])) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn n(obj: &Value, path: &[&str]) -> i64 {
    int_at(obj, path).unwrap_or(0)
}

fn columns(rt: &ResourceType) -> Vec<&'static str> {
    match rt.kind.as_str() {
        "Deployment" => vec!["Name", "Ready", "Up-to-date", "Available", "Age"],
        "ReplicaSet" => vec!["Name", "Desired", "Current", "Ready", "Age"],
        "StatefulSet" => vec!["Name", "Ready", "Age"],
        "DaemonSet" => vec![
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Node Selector",
            "Age",
        ],
        "Pod" => vec!["Name", "Ready", "Status", "Restarts", "Age"],
        "Service" => vec![
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
        ],
        "ConfigMap" => vec!["Name", "Data", "Age"],
        "Secret" => vec!["Name", "Type", "Data", "Age"],
        "Namespace" => vec!["Name", "Status", "Age"],
        "Job" => vec!["Name", "Status", "Completions", "Duration", "Age"],
        "Node" => vec!["Name", "Status", "Roles", "Age", "Version"],
        "PersistentVolumeClaim" => vec![
            "Name",
            "Status",
            "Volume",
            "Capacity",
            "Access Modes",
            "StorageClass",
            "VolumeAttributesClass",
            "Age",
        ],
        "CustomResourceDefinition" => vec!["Name", "Created At"],
        "Event" if rt.group.is_empty() => vec!["Last Seen", "Type", "Reason", "Object", "Message"],
        _ => vec!["Name", "Age"],
    }
}

fn pod_status(p: &Value) -> String {
    if p.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    for cs in p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = cs.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return r.to_string();
        }
        if let Some(r) = cs
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
            && (p.pointer("/status/phase").and_then(Value::as_str) != Some("Succeeded")
                || r != "Completed")
        {
            return r.to_string();
        }
    }
    match str_at(p, &["status", "phase"]) {
        "Succeeded" => "Completed".into(),
        "" => "Pending".into(),
        other => other.to_string(),
    }
}

fn cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let name = json!(str_at(o, &["metadata", "name"]));
    match rt.kind.as_str() {
        "Deployment" => vec![
            name,
            json!(format!(
                "{}/{}",
                n(o, &["status", "readyReplicas"]),
                n(o, &["spec", "replicas"])
            )),
            json!(n(o, &["status", "updatedReplicas"])),
            json!(n(o, &["status", "availableReplicas"])),
            json!(age(o)),
        ],
        "ReplicaSet" => vec![
            name,
            json!(n(o, &["spec", "replicas"])),
            json!(n(o, &["status", "replicas"])),
            json!(n(o, &["status", "readyReplicas"])),
            json!(age(o)),
        ],
        "StatefulSet" => vec![
            name,
            json!(format!(
                "{}/{}",
                n(o, &["status", "readyReplicas"]),
                n(o, &["spec", "replicas"])
            )),
            json!(age(o)),
        ],
        "DaemonSet" => {
            let sel = o
                .pointer("/spec/template/spec/nodeSelector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            vec![
                name,
                json!(n(o, &["status", "desiredNumberScheduled"])),
                json!(n(o, &["status", "currentNumberScheduled"])),
                json!(n(o, &["status", "numberReady"])),
                json!(n(o, &["status", "updatedNumberScheduled"])),
                json!(n(o, &["status", "numberAvailable"])),
                json!(if sel.is_empty() {
                    "<none>".to_string()
                } else {
                    sel
                }),
                json!(age(o)),
            ]
        }
        "Pod" => {
            let total = o
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|a| a.len())
                .unwrap_or(0);
            let statuses = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ready = statuses
                .iter()
                .filter(|c| c["ready"] == json!(true))
                .count();
            let restarts: i64 = statuses
                .iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                json!(age(o)),
            ]
        }
        "Service" => {
            let ty = str_at(o, &["spec", "type"]);
            let ext = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|s| !s.is_empty());
            let ext = match (ty, ext) {
                (_, Some(e)) => e,
                ("LoadBalancer", None) => "<pending>".into(),
                ("ExternalName", None) => str_at(o, &["spec", "externalName"]).to_string(),
                _ => "<none>".into(),
            };
            let ports = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let np = p["nodePort"]
                                .as_i64()
                                .map(|x| format!(":{x}"))
                                .unwrap_or_default();
                            format!(
                                "{}{np}/{}",
                                p["port"],
                                p["protocol"].as_str().unwrap_or("TCP")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let cip = str_at(o, &["spec", "clusterIP"]);
            vec![
                name,
                json!(ty),
                json!(if cip.is_empty() { "<none>" } else { cip }),
                json!(ext),
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports
                }),
                json!(age(o)),
            ]
        }
        "ConfigMap" => {
            let d = o
                .get("data")
                .and_then(Value::as_object)
                .map(|m| m.len())
                .unwrap_or(0)
                + o.get("binaryData")
                    .and_then(Value::as_object)
                    .map(|m| m.len())
                    .unwrap_or(0);
            vec![name, json!(d), json!(age(o))]
        }
        "Secret" => vec![
            name,
            json!(str_at(o, &["type"])),
            json!(
                o.get("data")
                    .and_then(Value::as_object)
                    .map(|m| m.len())
                    .unwrap_or(0)
            ),
            json!(age(o)),
        ],
        "Namespace" => vec![name, json!(str_at(o, &["status", "phase"])), json!(age(o))],
        "Job" => {
            let conds = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let has = |t: &str| {
                conds
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else {
                "Running"
            };
            let dur = match (
                util::parse_rfc3339(str_at(o, &["status", "startTime"])),
                util::parse_rfc3339(str_at(o, &["status", "completionTime"])),
            ) {
                (Some(s), Some(e)) => human_duration(e - s),
                (Some(s), None) => human_duration(
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(0)
                        - s,
                ),
                _ => String::new(),
            };
            vec![
                name,
                json!(status),
                json!(format!(
                    "{}/{}",
                    n(o, &["status", "succeeded"]),
                    n(o, &["spec", "completions"])
                )),
                json!(dur),
                json!(age(o)),
            ]
        }
        "Node" => vec![
            name,
            json!("Ready"),
            json!("<none>"),
            json!(age(o)),
            json!(str_at(o, &["status", "nodeInfo", "kubeletVersion"])),
        ],
        "PersistentVolumeClaim" => {
            let modes = o
                .pointer("/spec/accessModes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(|m| match m {
                            "ReadWriteOnce" => "RWO",
                            "ReadOnlyMany" => "ROX",
                            "ReadWriteMany" => "RWX",
                            "ReadWriteOncePod" => "RWOP",
                            x => x,
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            vec![
                name,
                json!(str_at(o, &["status", "phase"])),
                json!(str_at(o, &["spec", "volumeName"])),
                json!(
                    o.pointer("/status/capacity/storage")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
                json!(modes),
                json!(str_at(o, &["spec", "storageClassName"])),
                json!("<unset>"),
                json!(age(o)),
            ]
        }
        "CustomResourceDefinition" => {
            vec![name, json!(str_at(o, &["metadata", "creationTimestamp"]))]
        }
        "Event" if rt.group.is_empty() => {
            let last = util::parse_rfc3339(str_at(o, &["lastTimestamp"]));
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let obj = format!(
                "{}/{}",
                str_at(o, &["involvedObject", "kind"]).to_lowercase(),
                str_at(o, &["involvedObject", "name"])
            );
            vec![
                json!(
                    last.map(|t| human_duration(now - t))
                        .unwrap_or_else(|| "<unknown>".into())
                ),
                json!(str_at(o, &["type"])),
                json!(str_at(o, &["reason"])),
                json!(obj),
                json!(str_at(o, &["message"])),
            ]
        }
        _ => vec![name, json!(age(o))],
    }
}

/// A Table of objects.
pub(crate) fn table(rt: &ResourceType, objs: &[&Value], rv: &str) -> Value {
    let defs: Vec<Value> = columns(rt)
        .into_iter()
        .map(|c| {
            let (ty, format) = match c {
                "Name" => ("string", "name"),
                "Created At" => ("date", ""),
                "Data" | "Desired" | "Current" | "Up-to-date" | "Available" | "Restarts" => {
                    ("integer", "")
                }
                _ => ("string", ""),
            };
            json!({"name": c, "type": ty, "format": format, "description": "", "priority": 0})
        })
        .collect();
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let mut meta = o["metadata"].clone();
            if let Some(m) = meta.as_object_mut() {
                m.remove("managedFields");
            }
            json!({"cells": cells(rt, o), "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv}, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(72 * 3600), "3d");
    }
}
