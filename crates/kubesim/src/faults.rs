//! Fault injection: errors, latency and throttling by path pattern or at random.

use crate::error::ApiError;
use hyper::Method;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

/// One fault rule. A request matches when its path contains `path_contains` and its method
/// equals `method` (when set).
#[derive(Debug, Clone, Default)]
pub struct FaultRule {
    /// Substring of the request path; empty matches every path.
    pub path_contains: String,
    /// HTTP method to match (`GET`, `PATCH`...), or any.
    pub method: Option<String>,
    /// Status code to answer with (500, 503, 429, 409...), or none for latency only.
    pub status: Option<u16>,
    /// `Retry-After` seconds (with 429/503).
    pub retry_after: Option<u64>,
    /// Added latency.
    pub latency: Duration,
    /// Probability in [0, 1] that a matching request is affected (1 when unset).
    pub probability: Option<f64>,
    /// How many more requests to affect; unlimited when unset.
    pub remaining: Option<u32>,
    /// Close the connection without answering (a connection reset for the client).
    pub reset: bool,
    /// End matching watches after this long, as a dropped connection would.
    pub drop_watch_after: Option<Duration>,
}

/// What a matched rule does to one request.
pub(crate) struct Action {
    pub latency: Duration,
    pub error: Option<ApiError>,
    pub reset: bool,
    pub drop_watch_after: Option<Duration>,
}

/// The fault rules in force, with a seeded random generator.
pub(crate) struct Faults {
    inner: Mutex<(Vec<FaultRule>, u64)>,
    injected: Mutex<std::collections::BTreeMap<u16, u64>>,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Faults {
            inner: Mutex::new((Vec::new(), seed | 1)),
            injected: Mutex::new(Default::default()),
        }
    }

    pub fn set(&self, rules: Vec<FaultRule>, seed: Option<u64>) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 = rules;
        if let Some(s) = seed {
            g.1 = s | 1;
        }
    }

    /// How many error answers were injected, by status code.
    pub fn injected(&self) -> std::collections::BTreeMap<u16, u64> {
        self.injected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn check(&self, method: &str, path: &str) -> Option<Action> {
        if path.starts_with("/_sim/") {
            return None;
        }
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.0.is_empty() {
            return None;
        }
        let (rules, seed) = &mut *g;
        for r in rules.iter_mut() {
            if !path.contains(&r.path_contains)
                || r.method
                    .as_deref()
                    .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            if r.remaining == Some(0) {
                continue;
            }
            if let Some(p) = r.probability {
                // xorshift64
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                if (*seed % 1_000_000) as f64 / 1_000_000.0 >= p {
                    continue;
                }
            }
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            if let Some(code) = r.status {
                *self
                    .injected
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(code)
                    .or_default() += 1;
            }
            let error = r.status.map(|code| {
                let reason = match code {
                    429 => "TooManyRequests",
                    409 => "Conflict",
                    503 => "ServiceUnavailable",
                    504 => "Timeout",
                    _ => "InternalError",
                };
                let mut e = ApiError::new(
                    code,
                    reason,
                    format!("injected fault ({code}) for {method} {path}"),
                );
                if let Some(s) = r.retry_after {
                    e.headers.push(("Retry-After".into(), s.to_string()));
                    e.details = Some(Box::new(json!({"retryAfterSeconds": s})));
                }
                e
            });
            return Some(Action {
                latency: r.latency,
                error,
                reset: r.reset,
                drop_watch_after: r.drop_watch_after,
            });
        }
        None
    }

    /// `/_sim/faults`: GET counts, POST `{"seed": N, "rules": [...]}` replaces, DELETE clears.
    /// A rule: `pathContains`, `method`, `status`, `retryAfter`, `latencyMs`, `probability`,
    /// `count`, `reset`, `dropWatchAfterMs`.
    pub fn admin(&self, method: &Method, body: &[u8]) -> Result<Value, ApiError> {
        if *method == Method::DELETE {
            self.set(Vec::new(), None);
        } else if *method == Method::POST || *method == Method::PUT {
            let v: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let rules = v["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| FaultRule {
                    path_contains: r["pathContains"].as_str().unwrap_or("").to_string(),
                    method: r["method"].as_str().map(str::to_string),
                    status: r["status"].as_u64().map(|x| x as u16),
                    retry_after: r["retryAfter"].as_u64(),
                    latency: Duration::from_millis(r["latencyMs"].as_u64().unwrap_or(0)),
                    probability: r["probability"].as_f64(),
                    remaining: r["count"].as_u64().map(|x| x as u32),
                    reset: r["reset"].as_bool().unwrap_or(false),
                    drop_watch_after: r["dropWatchAfterMs"].as_u64().map(Duration::from_millis),
                })
                .collect();
            self.set(rules, v["seed"].as_u64());
        }
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(json!({"rules": g.0.len()}))
    }
}
