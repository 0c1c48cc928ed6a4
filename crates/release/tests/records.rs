//! Release records: Helm's encoding, lenient decoding of Helm v3/v4 records, unknown fields
//! preserved, and the in-memory driver's queries and pruning.

use ferry_release::codec::{decode, encode};
use ferry_release::model::{Release, Status, ZERO_TIME};
use ferry_release::storage::{Storage, key};
use serde_json::json;

use base64::Engine as _;
use std::io::Write;

fn gzip_b64(json: &str) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json.as_bytes()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

/// A record shaped as Helm v3 writes it (from the fact sheet: zero times written out, no
/// apply_method, `last_run.phase` always present).
const V3_RECORD: &str = r#"{"name":"web","info":{"first_deployed":"2024-05-01T10:00:00.123456+02:00","last_deployed":"2024-05-01T10:00:00.123456+02:00","deleted":"0001-01-01T00:00:00Z","description":"Install complete","status":"deployed","notes":"hello"},"chart":{"metadata":{"name":"web","version":"1.2.3","appVersion":"2.0","apiVersion":"v2"},"lock":null,"templates":[{"name":"templates/cm.yaml","data":"a2luZDogQ29uZmlnTWFw"}],"values":{"replicas":2},"schema":null,"files":[]},"config":{"image":{"tag":"v1"}},"manifest":"---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n","hooks":[{"name":"db-init","kind":"Job","path":"web/templates/job.yaml","manifest":"kind: Job","events":["pre-install","pre-upgrade"],"last_run":{"started_at":"0001-01-01T00:00:00Z","completed_at":"0001-01-01T00:00:00Z","phase":""},"weight":-5,"delete_policies":["before-hook-creation"]}],"version":1,"namespace":"prod"}"#;

#[test]
fn decodes_a_helm_v3_record_gzipped_or_plain() {
    for payload in [
        gzip_b64(V3_RECORD),
        base64::engine::general_purpose::STANDARD.encode(V3_RECORD),
    ] {
        let r = decode(payload.as_bytes()).unwrap();
        assert_eq!(r.name, "web");
        assert_eq!(r.version, 1);
        assert_eq!(r.info.status, Status::Deployed);
        assert_eq!(r.info.deleted, ZERO_TIME);
        assert_eq!(r.apply_method, "", "v3 records are client-side");
        assert_eq!(r.chart_label(), "web-1.2.3");
        assert_eq!(r.chart_metadata("appVersion"), "2.0");
        assert_eq!(r.hooks[0].weight, -5);
        assert_eq!(r.hooks[0].events, ["pre-install", "pre-upgrade"]);
        assert_eq!(
            r.chart_file("templates", "templates/cm.yaml").unwrap(),
            b"kind: ConfigMap"
        );
        assert_eq!(r.config["image"]["tag"], "v1");
    }
}

#[test]
fn writes_as_helm_v4_and_keeps_unknown_fields() {
    let mut v: serde_json::Value = serde_json::from_str(V3_RECORD).unwrap();
    v["info"]["rollback_revision"] = json!(3);
    v["future_field"] = json!({"x": 1});
    v["hooks"][0]["future_hook_field"] = json!(true);
    let r: Release = serde_json::from_value(v).unwrap();
    let back: serde_json::Value = serde_json::from_slice(
        &{
            let raw = base64::engine::general_purpose::STANDARD
                .decode(encode(&r))
                .unwrap();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
                .unwrap();
            out
        }[..],
    )
    .unwrap();
    assert_eq!(back["info"]["rollback_revision"], 3);
    assert_eq!(back["future_field"], json!({"x": 1}));
    assert_eq!(back["hooks"][0]["future_hook_field"], true);
    // v4 omits zero times; phase is always written.
    assert!(back["info"].get("deleted").is_none(), "{}", back["info"]);
    assert!(back["hooks"][0]["last_run"].get("started_at").is_none());
    assert_eq!(back["hooks"][0]["last_run"]["phase"], "");
    // Helm's top-level key order.
    let keys: Vec<&str> = back
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        &keys[..8],
        [
            "name",
            "info",
            "chart",
            "config",
            "manifest",
            "hooks",
            "version",
            "namespace"
        ]
    );
}

#[test]
fn rejects_garbage_with_a_reason() {
    let e = decode(b"%%%").unwrap_err().to_string();
    assert!(e.contains("not base64"), "{e}");
    let e = decode(
        base64::engine::general_purpose::STANDARD
            .encode("{\"version\":\"x\"}")
            .as_bytes(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not a release record"), "{e}");
}

fn rel(name: &str, version: i64, status: Status) -> Release {
    let mut r = Release {
        name: name.into(),
        version,
        namespace: "default".into(),
        ..Release::default()
    };
    r.info.status = status;
    r
}

#[tokio::test]
async fn memory_driver_history_last_deployed_and_pruning() {
    let s = Storage::memory(Some("default"));
    for (v, st) in [
        (1, Status::Superseded),
        (2, Status::Superseded),
        (3, Status::Deployed),
        (4, Status::Failed),
        (5, Status::Failed),
    ] {
        s.create(&rel("web", v, st)).await.unwrap();
    }
    s.create(&rel("other", 1, Status::Deployed)).await.unwrap();
    assert!(
        matches!(
            s.create(&rel("web", 5, Status::Failed)).await,
            Err(ferry_release::StorageError::Exists)
        ),
        "a revision is written once"
    );
    let h = s.history("web").await.unwrap();
    assert_eq!(
        h.iter().map(|r| r.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(s.last("web").await.unwrap().unwrap().version, 5);
    assert_eq!(s.deployed("web").await.unwrap().unwrap().version, 3);
    assert_eq!(s.list_all().await.unwrap().len(), 6);
    // --history-max 3 before writing revision 6: keep 2 old ones, never the deployed v3.
    let deleted = s.prune("web", 3).await.unwrap();
    assert_eq!(deleted, [1, 2, 4]);
    let left: Vec<i64> = s
        .history("web")
        .await
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(left, [3, 5]);
    assert_eq!(key("web", 5), "sh.helm.release.v1.web.v5");
}
