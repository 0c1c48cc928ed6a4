//! The HTTP front: routing, content negotiation, and the REST verbs over the store.

use crate::error::ApiError;
use crate::faults::Faults;
use crate::registry::ResourceType;
use crate::schema;
use crate::selector::{FieldSelector, LabelSelector};
use crate::ssa;
use crate::store::{EvType, Event, State, WriteOpts, at_version};
use crate::util::{self, str_at};
use crate::{Config, patch, proto, table};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, mpsc};

/// What every request handler and controller shares.
pub(crate) struct Shared {
    pub state: RwLock<State>,
    pub config: Config,
    pub notify: Notify,
    pub faults: Faults,
    /// Closed when the simulator stops; ends watches.
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// Requests served so far (for benchmarks: how many calls a client made).
    pub requests: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A response body: a full buffer, or a stream of chunks (watches).
pub(crate) enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => hyper::body::SizeHint::with_exact(0),
            Body::Stream(_) => hyper::body::SizeHint::default(),
        }
    }
}

type Resp = Response<Body>;

fn json_resp(code: u16, v: &Value) -> Resp {
    json_resp_ct(code, v, "application/json")
}

fn json_resp_ct(code: u16, v: &Value, ct: &str) -> Resp {
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .header("Content-Type", ct)
        .header("Cache-Control", "no-cache, private")
        .body(Body::Full(Some(Bytes::from(body))))
        .expect("valid response")
}

fn err_resp(e: &ApiError) -> Resp {
    let mut r = json_resp(e.code, &e.to_status());
    for (k, v) in &e.headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn not_found_path() -> ApiError {
    let mut e = ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    e.details = Some(Box::new(json!({})));
    e
}

/// An injected connection reset: hyper closes the connection without answering.
#[derive(Debug)]
pub(crate) struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for Reset {}

/// Decoded query parameters.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        let mut m = HashMap::new();
        for part in q.unwrap_or("").split('&') {
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            m.insert(pct_decode(k), pct_decode(v));
        }
        Query(m)
    }

    fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), "true" | "1")
    }

    fn dry_run(&self) -> bool {
        self.get("dryRun") == "All"
    }
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(x) => {
                        out.push(x);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed resource path.
struct Target {
    rt: ResourceType,
    version: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

/// Entry point for one request.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, Reset> {
    if !req.uri().path().starts_with("/_sim") {
        shared
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let mut drop_watch_after = None;
    if let Some(action) = shared.faults.check(method.as_str(), &path) {
        if !action.latency.is_zero() {
            tokio::time::sleep(action.latency).await;
        }
        if action.reset {
            return Err(Reset);
        }
        if let Some(e) = action.error {
            return Ok(err_resp(&e));
        }
        drop_watch_after = action.drop_watch_after;
    }
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let resp = route(
        &shared,
        &method,
        &path,
        &query,
        &accept,
        &ct,
        &ua,
        &body,
        drop_watch_after,
    )
    .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => err_resp(&e),
    };
    Ok(resp)
}

#[allow(clippy::too_many_arguments)] // the parts of one request
async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    q: &Query,
    accept: &str,
    ct: &str,
    ua: &str,
    body: &Bytes,
    drop_watch_after: Option<Duration>,
) -> Result<Resp, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => return Ok(json_resp(200, &version())),
        ["healthz"] | ["livez"] | ["readyz"] => {
            return Ok(Response::builder()
                .status(200)
                .header("Content-Type", "text/plain")
                .body(Body::Full(Some(Bytes::from_static(b"ok"))))
                .expect("response"));
        }
        ["_sim", "faults"] => {
            return shared
                .faults
                .admin(method, body)
                .map(|v| json_resp(200, &v));
        }
        ["api"] if *method == Method::GET => {
            let st = shared.read();
            return Ok(if wants_aggregated(accept) {
                json_resp_ct(200, &st.registry.aggregated(true), AGGREGATED_CT)
            } else {
                json_resp(200, &st.registry.api_versions())
            });
        }
        ["apis"] if *method == Method::GET => {
            let st = shared.read();
            return Ok(if wants_aggregated(accept) {
                json_resp_ct(200, &st.registry.aggregated(false), AGGREGATED_CT)
            } else {
                json_resp(200, &st.registry.api_group_list())
            });
        }
        ["api", "v1"] if *method == Method::GET => {
            return shared
                .read()
                .registry
                .resource_list("", "v1")
                .map(|v| json_resp(200, &v))
                .ok_or_else(not_found_path);
        }
        ["apis", g] if *method == Method::GET => {
            return shared
                .read()
                .registry
                .api_group(g)
                .map(|v| json_resp(200, &v))
                .ok_or_else(not_found_path);
        }
        ["apis", g, v] if *method == Method::GET => {
            return shared
                .read()
                .registry
                .resource_list(g, v)
                .map(|v| json_resp(200, &v))
                .ok_or_else(not_found_path);
        }
        ["openapi", "v3"] => return Ok(json_resp(200, &shared.read().registry.openapi_root())),
        ["openapi", "v3", "api", v] => {
            return Ok(json_resp(200, &shared.read().registry.openapi_gv("", v)));
        }
        ["openapi", "v3", "apis", g, v] => {
            let st = shared.read();
            if st.registry.at(g, v).is_empty() {
                return Err(not_found_path());
            }
            return Ok(json_resp(200, &st.registry.openapi_gv(g, v)));
        }
        _ => {}
    }
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found_path()),
    };
    let target = {
        let st = shared.read();
        resolve(&st, group, version, rest).ok_or_else(not_found_path)?
    };
    let t = &target;
    match (method.clone(), &t.name) {
        (Method::GET, None) => {
            if q.flag("watch") {
                watch(shared.clone(), t, q, wants_table(accept), drop_watch_after)
            } else {
                list(shared, t, q, accept)
            }
        }
        (Method::GET, Some(name)) => get(shared, t, name, q, accept),
        (Method::POST, None) => create(shared, t, q, ct, ua, body),
        (Method::PUT, Some(name)) => update(shared, t, name, q, ct, ua, body),
        (Method::PATCH, Some(name)) => patch_obj(shared, t, name, q, ct, ua, body),
        (Method::DELETE, Some(name)) => delete(shared, t, name, q, ct, body),
        (Method::DELETE, None) => delete_collection(shared, t, q, ct, body),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn resolve(st: &State, group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let mk =
        |plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| -> Option<Target> {
            let rt = st.registry.lookup(group, version, plural)?.clone();
            if ns.is_some() && !rt.namespaced {
                return None;
            }
            if let Some(s) = sub {
                let ok = (s == "status" && rt.status)
                    || (s == "scale" && rt.scale)
                    || (s == "log" && rt.kind == "Pod" && rt.group.is_empty());
                if !ok {
                    return None;
                }
            }
            Some(Target {
                rt,
                version: version.to_string(),
                namespace: ns.map(str::to_string),
                name: name.map(str::to_string),
                sub: sub.map(str::to_string),
            })
        };
    match rest {
        ["namespaces", ns, plural, tail @ ..]
            if st
                .registry
                .lookup(group, version, plural)
                .is_some_and(|r| r.namespaced) =>
        {
            match tail {
                [] => mk(plural, Some(ns), None, None),
                [name] => mk(plural, Some(ns), Some(name), None),
                [name, sub] => mk(plural, Some(ns), Some(name), Some(sub)),
                _ => None,
            }
        }
        [plural] => mk(plural, None, None, None),
        [plural, name] => mk(plural, None, Some(name), None),
        [plural, name, sub] => mk(plural, None, Some(name), Some(sub)),
        _ => None,
    }
}

const AGGREGATED_CT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
            && params.contains(&"as=APIGroupDiscoveryList")
    })
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|p| p.contains("as=Table"))
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "37", "emulationMajor": "1", "emulationMinor": "37",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "36",
        "gitVersion": "v1.37.0", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0", "compiler": "gc", "platform": "linux/amd64"
    })
}

fn ns_of(t: &Target) -> &str {
    t.namespace.as_deref().unwrap_or("")
}

fn decode_body(ct: &str, body: &Bytes) -> Result<Value, ApiError> {
    if ct.starts_with(proto::CONTENT_TYPE) {
        return proto::decode(body).map_err(|e| {
            ApiError::bad_request(format!("unable to decode protobuf body: {}", e.0))
        });
    }
    if ct.contains("cbor") {
        return Err(ApiError::unsupported_media(ct));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

fn manager(q: &Query, ua: &str) -> String {
    let m = q.get("fieldManager");
    if !m.is_empty() {
        return m.to_string();
    }
    ua.split('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// Field validation: unknown fields are dropped (built-ins: not in the type; custom
/// resources: pruned by the CRD's structural schema); `Strict` makes them an error, and
/// otherwise they come back as warnings (none with `Ignore`).
fn validate_fields(t: &Target, obj: &mut Value, q: &Query) -> Result<Vec<String>, ApiError> {
    let mode = q.get("fieldValidation");
    let unknown = if t.rt.crd {
        match t.rt.crd_schemas.as_ref().and_then(|s| s.get(&t.version)) {
            Some(schema) => schema::prune_structural(obj, schema),
            None => Vec::new(),
        }
    } else {
        match schema::kind_type(&t.rt.group, &t.version, &t.rt.kind) {
            Some(ty) => schema::prune_unknown(obj, ty),
            None => Vec::new(),
        }
    };
    if unknown.is_empty() || mode == "Ignore" {
        return Ok(Vec::new());
    }
    let msgs: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == "Strict" {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
            t.version,
            msgs.join(", "),
            kind = t.rt.kind,
        )));
    }
    Ok(msgs)
}

fn with_warnings(mut r: Resp, warnings: &[String]) -> Resp {
    for w in warnings {
        if let Ok(v) =
            hyper::header::HeaderValue::from_str(&format!("299 - \"{}\"", w.replace('"', "\\\"")))
        {
            r.headers_mut().append("Warning", v);
        }
    }
    r
}

fn check_kind(t: &Target, obj: &Value) -> Result<(), ApiError> {
    let kind = str_at(obj, &["kind"]);
    if !kind.is_empty()
        && kind != t.rt.kind
        && !(t.sub.as_deref() == Some("scale") && kind == "Scale")
    {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; kind {kind:?} does not match",
            t.rt.kind
        )));
    }
    Ok(())
}

fn root_type(t: &Target) -> Option<&'static schema::TypeDef> {
    if t.rt.crd {
        None
    } else {
        schema::kind_type(&t.rt.group, &t.version, &t.rt.kind)
    }
}

fn get(
    shared: &Arc<Shared>,
    t: &Target,
    name: &str,
    q: &Query,
    accept: &str,
) -> Result<Resp, ApiError> {
    let st = shared.read();
    let obj = st
        .get(&t.rt, ns_of(t), name)
        .ok_or_else(|| ApiError::not_found(&t.rt.group, &t.rt.plural, name))?;
    if t.sub.as_deref() == Some("scale") {
        return Ok(json_resp(200, &scale_of(&t.rt, obj)));
    }
    if t.sub.as_deref() == Some("log") {
        return Ok(pod_log(obj, q.get("container")));
    }
    let obj = at_version(obj, &t.rt, &t.version);
    if wants_table(accept) {
        return Ok(json_resp(
            200,
            &table::table(&t.rt, &[&obj], &st.rv.to_string()),
        ));
    }
    Ok(json_resp(200, &obj))
}

/// A simulated container log: one line per lifecycle step the simulated kubelet took.
fn pod_log(pod: &Value, container: &str) -> Resp {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let c = containers
        .iter()
        .find(|c| container.is_empty() || c["name"] == container)
        .cloned()
        .unwrap_or(json!({}));
    let image = c["image"].as_str().unwrap_or("");
    let mut text = format!(
        "kubesim: container {} (image {image}) started on {}\n",
        c["name"].as_str().unwrap_or(""),
        str_at(pod, &["spec", "nodeName"])
    );
    if image.rsplit(':').next() == Some("fail") {
        text.push_str("kubesim: image tag `fail`: exiting with code 1\n");
    }
    Response::builder()
        .status(200)
        .header("Content-Type", "text/plain")
        .body(Body::Full(Some(Bytes::from(text))))
        .expect("response")
}

fn list(shared: &Arc<Shared>, t: &Target, q: &Query, accept: &str) -> Result<Resp, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector"))?;
    let fields = FieldSelector::parse(q.get("fieldSelector"))?;
    let st = shared.read();
    let ns = t.namespace.as_deref();
    let matching = st
        .list(&t.rt, ns)
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o));
    let rv = st.rv.to_string();
    if wants_table(accept) {
        let items: Vec<Value> = matching.map(|o| at_version(o, &t.rt, &t.version)).collect();
        let refs: Vec<&Value> = items.iter().collect();
        return Ok(json_resp(200, &table::table(&t.rt, &refs, &rv)));
    }
    // serialize straight from the store: no copies of the objects
    let head = json!({
        "kind": format!("{}List", t.rt.kind),
        "apiVersion": t.rt.api_version(&t.version),
        "metadata": {"resourceVersion": rv},
    })
    .to_string();
    let mut body = Vec::with_capacity(4096);
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(b",\"items\":[");
    let same_version = t.version == t.rt.storage_version();
    for (i, o) in matching.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let written = if same_version {
            serde_json::to_writer(&mut body, o)
        } else {
            serde_json::to_writer(&mut body, &at_version(o, &t.rt, &t.version))
        };
        written.map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    }
    body.extend_from_slice(b"]}\n");
    Ok(Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(Body::Full(Some(Bytes::from(body))))
        .expect("valid response"))
}

fn create(
    shared: &Arc<Shared>,
    t: &Target,
    q: &Query,
    ct: &str,
    ua: &str,
    body: &Bytes,
) -> Result<Resp, ApiError> {
    if t.sub.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let mut obj = decode_body(ct, body)?;
    check_kind(t, &obj)?;
    let warnings = validate_fields(t, &mut obj, q)?;
    let mgr = manager(q, ua);
    ssa::track_update(
        None,
        &mut obj,
        &mgr,
        root_type(t),
        &t.rt.api_version(&t.version),
    );
    let created = {
        let mut st = shared.write();
        st.create(
            &t.rt,
            ns_of(t),
            obj,
            &WriteOpts {
                dry_run: q.dry_run(),
                ..Default::default()
            },
        )?
    };
    shared.notify.notify_one();
    Ok(with_warnings(
        json_resp(201, &at_version(&created, &t.rt, &t.version)),
        &warnings,
    ))
}

fn update(
    shared: &Arc<Shared>,
    t: &Target,
    name: &str,
    q: &Query,
    ct: &str,
    ua: &str,
    body: &Bytes,
) -> Result<Resp, ApiError> {
    let mut obj = decode_body(ct, body)?;
    check_kind(t, &obj)?;
    let warnings = if t.sub.is_none() {
        validate_fields(t, &mut obj, q)?
    } else {
        Vec::new()
    };
    let mgr = manager(q, ua);
    let result = {
        let mut st = shared.write();
        let ns = ns_of(t).to_string();
        let existing = st
            .get(&t.rt, &ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&t.rt.group, &t.rt.plural, name))?;
        let opts = WriteOpts {
            dry_run: q.dry_run(),
            subresource: t.sub.clone(),
            internal: false,
        };
        if t.sub.as_deref() == Some("scale") {
            let replicas = util::int_at(&obj, &["spec", "replicas"])
                .ok_or_else(|| ApiError::bad_request("spec.replicas is required"))?;
            let want_rv = str_at(&obj, &["metadata", "resourceVersion"]);
            if !want_rv.is_empty() && want_rv != str_at(&existing, &["metadata", "resourceVersion"])
            {
                return Err(ApiError::conflict(&t.rt.group, &t.rt.plural, name));
            }
            let updated = set_replicas(&mut st, t, &ns, name, &existing, replicas, &mgr, &opts)?;
            return Ok(json_resp(200, &scale_of(&t.rt, &updated)));
        }
        let mut new = obj;
        if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        if t.sub.is_none() {
            ssa::track_update(
                Some(&existing),
                &mut new,
                &mgr,
                root_type(t),
                &t.rt.api_version(&t.version),
            );
        } else if let Some(mf) = existing.pointer("/metadata/managedFields") {
            util::obj_mut(&mut new, &["metadata"]).insert("managedFields".into(), mf.clone());
        }
        st.update(&t.rt, &ns, name, new, &opts)?
    };
    shared.notify.notify_one();
    Ok(with_warnings(
        json_resp(200, &at_version(&result, &t.rt, &t.version)),
        &warnings,
    ))
}

#[allow(clippy::too_many_arguments)] // the parts of one scale write
fn set_replicas(
    st: &mut State,
    t: &Target,
    ns: &str,
    name: &str,
    existing: &Value,
    replicas: i64,
    mgr: &str,
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    let mut new = existing.clone();
    let path = spec_replicas_path(&t.rt);
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    util::set_path(&mut new, &parts, json!(replicas));
    ssa::track_update(
        Some(existing),
        &mut new,
        mgr,
        root_type(t),
        &t.rt.api_version(&t.version),
    );
    let opts = WriteOpts {
        subresource: None,
        ..opts.clone()
    };
    st.update(&t.rt, ns, name, new, &opts)
}

fn spec_replicas_path(rt: &ResourceType) -> String {
    rt.scale_paths
        .as_ref()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| ".spec.replicas".into())
}

/// The `autoscaling/v1` Scale of an object.
fn scale_of(rt: &ResourceType, obj: &Value) -> Value {
    let (spec_path, status_path, sel_path) = rt.scale_paths.clone().unwrap_or((
        ".spec.replicas".into(),
        ".status.replicas".into(),
        None,
    ));
    let at = |p: &str| -> Option<&Value> {
        let parts: Vec<&str> = p.trim_start_matches('.').split('.').collect();
        util::get_path(obj, &parts)
    };
    let selector = match sel_path {
        Some(p) => at(&p).and_then(Value::as_str).unwrap_or("").to_string(),
        None => obj
            .pointer("/spec/selector")
            .map(|s| {
                if s.get("matchLabels").is_some() || s.get("matchExpressions").is_some() {
                    LabelSelector::from_object(s).to_query()
                } else {
                    // ReplicationController: a plain map
                    s.as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default()
                }
            })
            .unwrap_or_default(),
    };
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": at(&spec_path).cloned().unwrap_or(json!(0))},
        "status": {"replicas": at(&status_path).cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

fn patch_obj(
    shared: &Arc<Shared>,
    t: &Target,
    name: &str,
    q: &Query,
    ct: &str,
    ua: &str,
    body: &Bytes,
) -> Result<Resp, ApiError> {
    let media = ct.split(';').next().unwrap_or("").trim();
    let is_apply = media == "application/apply-patch+yaml";
    if media == "application/apply-patch+cbor" {
        return Err(ApiError::unsupported_media(ct));
    }
    let mut p: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let mgr_param = q.get("fieldManager");
    if is_apply && mgr_param.is_empty() {
        let mut e = ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
        e.details = Some(Box::new(
            json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]}),
        ));
        return Err(e);
    }
    if !is_apply && !q.get("force").is_empty() {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let mgr = manager(q, ua);
    let api_version = t.rt.api_version(&t.version);
    let ns = ns_of(t).to_string();
    let opts = WriteOpts {
        dry_run: q.dry_run(),
        subresource: t.sub.clone(),
        internal: false,
    };
    let (code, result, warnings) = {
        let mut st = shared.write();
        let existing = st.get(&t.rt, &ns, name).cloned();
        if is_apply {
            if t.sub.as_deref() == Some("scale") {
                return Err(ApiError::unsupported_media(ct));
            }
            check_kind(t, &p)?;
            let pname = str_at(&p, &["metadata", "name"]);
            if !pname.is_empty() && pname != name {
                return Err(ApiError::bad_request(
                    "the name of the object does not match the name on the URL",
                ));
            }
            let warnings = validate_fields(t, &mut p, q)?;
            let new = ssa::apply(
                existing.as_ref(),
                &p,
                &mgr,
                q.flag("force"),
                root_type(t),
                &api_version,
                &t.rt.plural,
                &t.rt.group,
            )?;
            match existing {
                None => {
                    let mut new = new;
                    util::obj_mut(&mut new, &["metadata"]).insert("name".into(), json!(name));
                    (201, st.create(&t.rt, &ns, new, &opts)?, warnings)
                }
                Some(_) => (200, st.update(&t.rt, &ns, name, new, &opts)?, warnings),
            }
        } else {
            let existing =
                existing.ok_or_else(|| ApiError::not_found(&t.rt.group, &t.rt.plural, name))?;
            if t.sub.as_deref() == Some("scale") {
                let mut scale = scale_of(&t.rt, &existing);
                apply_patch(media, ct, &mut scale, &p, None)?;
                let replicas = util::int_at(&scale, &["spec", "replicas"]).unwrap_or(0);
                let updated =
                    set_replicas(&mut st, t, &ns, name, &existing, replicas, &mgr, &opts)?;
                drop(st);
                shared.notify.notify_one();
                return Ok(json_resp(200, &scale_of(&t.rt, &updated)));
            }
            let mut new = at_version(&existing, &t.rt, &t.version);
            let root = if t.rt.crd { None } else { root_type(t) };
            if media == "application/strategic-merge-patch+json" && root.is_none() {
                return Err(ApiError::unsupported_media(ct));
            }
            apply_patch(media, ct, &mut new, &p, root)?;
            let warnings = if t.sub.is_none() {
                validate_fields(t, &mut new, q)?
            } else {
                Vec::new()
            };
            if t.sub.is_none() {
                ssa::track_update(Some(&existing), &mut new, &mgr, root_type(t), &api_version);
            }
            (200, st.update(&t.rt, &ns, name, new, &opts)?, warnings)
        }
    };
    shared.notify.notify_one();
    Ok(with_warnings(
        json_resp(code, &at_version(&result, &t.rt, &t.version)),
        &warnings,
    ))
}

fn apply_patch(
    media: &str,
    ct: &str,
    doc: &mut Value,
    p: &Value,
    root: Option<&'static schema::TypeDef>,
) -> Result<(), ApiError> {
    match media {
        "application/json-patch+json" => patch::json_patch(doc, p),
        "application/merge-patch+json" => {
            patch::merge_patch(doc, p);
            Ok(())
        }
        "application/strategic-merge-patch+json" => match root {
            Some(r) => patch::strategic_merge(doc, p, r),
            None => {
                patch::merge_patch(doc, p);
                Ok(())
            }
        },
        _ => Err(ApiError::unsupported_media(ct)),
    }
}

fn delete_options(q: &Query, ct: &str, body: &Bytes) -> Result<Value, ApiError> {
    let mut opts = if body.is_empty() {
        json!({})
    } else {
        decode_body(ct, body)?
    };
    if !q.get("propagationPolicy").is_empty() {
        opts["propagationPolicy"] = json!(q.get("propagationPolicy"));
    }
    if q.get("orphanDependents") == "true" && opts.get("propagationPolicy").is_none() {
        opts["propagationPolicy"] = json!("Orphan");
    }
    if q.dry_run() {
        opts["dryRun"] = json!(["All"]);
    }
    Ok(opts)
}

fn delete(
    shared: &Arc<Shared>,
    t: &Target,
    name: &str,
    q: &Query,
    ct: &str,
    body: &Bytes,
) -> Result<Resp, ApiError> {
    if t.sub.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let opts = delete_options(q, ct, body)?;
    let dry = opts["dryRun"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == "All"));
    let (obj, gone) = {
        let mut st = shared.write();
        st.delete(
            &t.rt,
            ns_of(t),
            name,
            opts["propagationPolicy"].as_str(),
            opts.get("preconditions"),
            dry,
        )?
    };
    shared.notify.notify_one();
    if gone || dry {
        Ok(json_resp(
            200,
            &json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": t.rt.group, "kind": t.rt.plural, "uid": str_at(&obj, &["metadata", "uid"])}
            }),
        ))
    } else {
        Ok(json_resp(200, &at_version(&obj, &t.rt, &t.version)))
    }
}

fn delete_collection(
    shared: &Arc<Shared>,
    t: &Target,
    q: &Query,
    ct: &str,
    body: &Bytes,
) -> Result<Resp, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector"))?;
    let fields = FieldSelector::parse(q.get("fieldSelector"))?;
    let opts = delete_options(q, ct, body)?;
    let dry = opts["dryRun"].as_array().is_some_and(|a| !a.is_empty());
    let mut deleted = Vec::new();
    {
        let mut st = shared.write();
        let names: Vec<(String, String)> = st
            .list(&t.rt, t.namespace.as_deref())
            .into_iter()
            .filter(|o| labels.matches(o) && fields.matches(o))
            .map(|o| {
                (
                    str_at(o, &["metadata", "namespace"]).to_string(),
                    str_at(o, &["metadata", "name"]).to_string(),
                )
            })
            .collect();
        for (ns, name) in names {
            if let Ok((obj, _)) = st.delete(
                &t.rt,
                &ns,
                &name,
                opts["propagationPolicy"].as_str(),
                None,
                dry,
            ) {
                deleted.push(at_version(&obj, &t.rt, &t.version));
            }
        }
    }
    shared.notify.notify_one();
    let rv = shared.read().rv.to_string();
    Ok(json_resp(
        200,
        &json!({
            "kind": format!("{}List", t.rt.kind), "apiVersion": t.rt.api_version(&t.version),
            "metadata": {"resourceVersion": rv}, "items": deleted,
        }),
    ))
}

fn event_line(kind: &str, obj: &Value) -> Bytes {
    let mut b = serde_json::to_vec(&json!({"type": kind, "object": obj})).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn watch(
    shared: Arc<Shared>,
    t: &Target,
    q: &Query,
    as_table: bool,
    drop_after: Option<Duration>,
) -> Result<Resp, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector"))?;
    let fields = FieldSelector::parse(q.get("fieldSelector"))?;
    let send_initial = q.get("sendInitialEvents") == "true";
    let bookmarks = q.flag("allowWatchBookmarks");
    let timeout = q
        .get("timeoutSeconds")
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv_param = q.get("resourceVersion").to_string();
    let rt = t.rt.clone();
    let version = t.version.clone();
    let ns = t.namespace.clone();
    let matches = move |o: &Value| labels.matches(o) && fields.matches(o);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let (initial, start_rv, replay, sub) = {
        let st = shared.read();
        let sub = st.tx.subscribe();
        if send_initial || rv_param.is_empty() || rv_param == "0" {
            let items: Vec<Value> = st
                .list(&rt, ns.as_deref())
                .into_iter()
                .filter(|o| matches(o))
                .map(|o| at_version(o, &rt, &version))
                .collect();
            (items, st.rv, Vec::new(), sub)
        } else {
            let n: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version {rv_param:?}"))
            })?;
            if n < st.oldest_rv() {
                let gone = ApiError::new(
                    410,
                    "Expired",
                    format!("too old resource version: {n} ({})", st.oldest_rv() + 1),
                );
                let line = event_line("ERROR", &gone.to_status());
                let _ = tx.try_send(line);
                drop(tx);
                return Ok(stream_resp(rx));
            }
            let replay: Vec<Arc<Event>> = st.log.iter().filter(|e| e.rv > n).cloned().collect();
            (Vec::new(), st.rv, replay, sub)
        }
    };
    let bookmark_every = shared.config.bookmark_interval;
    let mut stop = shared.stop.clone();
    tokio::spawn(async move {
        let mut sub: broadcast::Receiver<Arc<Event>> = sub;
        let deadline = tokio::time::Instant::now() + drop_after.map_or(timeout, |d| d.min(timeout));
        let render = |o: &Value| -> Value {
            if as_table {
                table::table(&rt, &[o], str_at(o, &["metadata", "resourceVersion"]))
            } else {
                o.clone()
            }
        };
        for o in initial {
            if tx.send(event_line("ADDED", &render(&o))).await.is_err() {
                return;
            }
        }
        let bookmark = |rv: u64, end: bool| {
            let mut meta = json!({"resourceVersion": rv.to_string()});
            if end {
                meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            event_line(
                "BOOKMARK",
                &json!({"kind": rt.kind, "apiVersion": rt.api_version(&version), "metadata": meta}),
            )
        };
        if send_initial && tx.send(bookmark(start_rv, true)).await.is_err() {
            return;
        }
        let mut seen = start_rv;
        let forward = |ev: &Event| -> Option<Bytes> {
            if ev.group != rt.group || ev.plural != rt.plural {
                return None;
            }
            if let Some(ns) = &ns
                && &ev.namespace != ns
            {
                return None;
            }
            let now = matches(&ev.obj);
            let before = ev.old.as_ref().map(|o| matches(o));
            let kind = match (ev.kind, before, now) {
                (EvType::Modified, Some(false), true) => "ADDED",
                (EvType::Modified, Some(true), false) => "DELETED",
                (_, _, false) => return None,
                (k, _, true) => k.as_str(),
            };
            if !as_table && version == rt.storage_version() {
                let mut line = Vec::with_capacity(ev.encoded().len() + 32);
                line.extend_from_slice(b"{\"type\":\"");
                line.extend_from_slice(kind.as_bytes());
                line.extend_from_slice(b"\",\"object\":");
                line.extend_from_slice(ev.encoded());
                line.extend_from_slice(b"}\n");
                return Some(Bytes::from(line));
            }
            Some(event_line(
                kind,
                &render(&at_version(&ev.obj, &rt, &version)),
            ))
        };
        for ev in replay {
            seen = seen.max(ev.rv);
            if let Some(line) = forward(&ev)
                && tx.send(line).await.is_err()
            {
                return;
            }
        }
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + bookmark_every, bookmark_every);
        loop {
            tokio::select! {
                ev = sub.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= start_rv { continue; }
                        seen = seen.max(ev.rv);
                        if let Some(line) = forward(&ev)
                            && tx.send(line).await.is_err() { return; }
                    }
                    Err(_) => return,
                },
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(bookmark(seen, false)).await.is_err() { return; }
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = stop.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(stream_resp(rx))
}

fn stream_resp(rx: mpsc::Receiver<Bytes>) -> Resp {
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .header("Transfer-Encoding", "chunked")
        .body(Body::Stream(rx))
        .expect("response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&&watch=1&x"));
        assert_eq!(q.get("labelSelector"), "app=web,tier in (a)");
        assert!(q.flag("watch"));
        assert_eq!(q.get("x"), "");
        assert_eq!(pct_decode("100%"), "100%");
    }

    #[test]
    fn aggregated_accept_is_exact() {
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json"));
    }
}
