//! Retrying transient API failures: 5xx, 429 (after its `Retry-After`, capped) and connection
//! errors, with bounded exponential backoff. Conflicts and client errors are returned at once
//! by [`retry`]; [`retry_write`], for writes that carry no precondition (server-side apply,
//! a replace without resourceVersion, a patch, a delete), also retries the optimistic-
//! concurrency conflicts an apiserver may answer them with, but never a field-manager conflict
//! of server-side apply, which only the caller can resolve.

use std::time::Duration;

/// Whether an error is worth retrying, and after how long at least.
pub fn transient(e: &kube::Error) -> Option<Duration> {
    match e {
        kube::Error::Api(s) if s.code == 429 || s.code >= 500 => Some(Duration::from_secs(
            u64::from(
                s.details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .unwrap_or(0),
            )
            .min(5),
        )),
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(Duration::ZERO),
        _ => None,
    }
}

/// Whether an error is a 409 Conflict of optimistic concurrency ("the object has been
/// modified"), as opposed to server-side apply's field-manager conflicts.
pub fn stale_write(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => {
            s.code == 409
                && s.reason == "Conflict"
                && !s.message.contains("Apply failed with")
                && !s
                    .details
                    .as_ref()
                    .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"))
        }
        _ => false,
    }
}

/// Runs `f` until it succeeds, fails for good, or 8 attempts were made.
pub async fn retry<T, F, Fut>(f: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    retry_if(f, transient).await
}

/// [`retry`] for writes without preconditions: optimistic-concurrency conflicts are retried
/// too (see the module docs).
pub async fn retry_write<T, F, Fut>(f: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    retry_if(f, |e| {
        transient(e).or_else(|| stale_write(e).then_some(Duration::ZERO))
    })
    .await
}

async fn retry_if<T, F, Fut>(
    mut f: F,
    transient: impl Fn(&kube::Error) -> Option<Duration>,
) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                attempts += 1;
                let Some(at_least) = transient(&e) else {
                    return Err(e);
                };
                if attempts >= 8 {
                    return Err(e);
                }
                tokio::time::sleep(delay.max(at_least)).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
