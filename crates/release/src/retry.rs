//! Retrying transient API failures: 5xx, 429 (after its `Retry-After`, capped) and connection
//! errors, with bounded exponential backoff. Conflicts and client errors are returned at once.

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

/// Runs `f` until it succeeds, fails for good, or 8 attempts were made.
pub async fn retry<T, F, Fut>(mut f: F) -> Result<T, kube::Error>
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
