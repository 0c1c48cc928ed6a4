//! The release lock: one operation at a time on a release, across processes and machines.
//!
//! An operation holds a `coordination.k8s.io/v1` Lease named `sh.ferry.lock.<release>` in the
//! release's namespace, next to its release Secrets, and renews it while it works. A second
//! operation either waits for it (`--wait-for-lock`) or fails at once with a message naming the
//! holder. A lease that was not renewed within its duration belongs to a process that died
//! (killed CI job, lost node): the next operation takes it over and is told so, so it can recover
//! the release the dead process left pending. Helm does not know the lease and is not affected.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use ferry_release::retry::retry;

/// Annotation on the lease naming the operation that holds it.
pub const OPERATION_ANNOTATION: &str = "ferry.dev/operation";

/// How to take the lock.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// Wait up to this long for another holder to finish (`--wait-for-lock`); `None` fails at once.
    pub wait: Option<Duration>,
    /// How long the lease is valid without renewal (the time a crashed holder blocks others).
    pub lease_duration: Duration,
    /// How often the holder renews it.
    pub renew_every: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            wait: None,
            lease_duration: Duration::from_secs(30),
            renew_every: Duration::from_secs(10),
        }
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live operation holds it.
    #[error(
        "another operation ({operation}) is in progress on release \"{release}\": lease {namespace}/{lease} is held by {holder} (renewed {renewed_ago}s ago); wait for it with --wait-for-lock"
    )]
    Held {
        /// The release.
        release: String,
        /// Its namespace.
        namespace: String,
        /// The lease's name.
        lease: String,
        /// Who holds it.
        holder: String,
        /// What the holder is doing.
        operation: String,
        /// Seconds since the holder last renewed it.
        renewed_ago: i64,
    },
    /// Waited `--wait-for-lock` and it is still held.
    #[error(
        "timed out after {waited:?} waiting for the lock of release \"{release}\" (held by {holder})"
    )]
    Timeout {
        /// The release.
        release: String,
        /// Who still holds it.
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The API refused.
    #[error("release lock of \"{release}\": {source}")]
    Api {
        /// The release.
        release: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// A holder that stopped renewing before us: its operation was interrupted.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    /// Its identity.
    pub holder: String,
    /// The operation it was running.
    pub operation: String,
}

/// A held lock; renewed in the background until [`ReleaseLock::release`].
pub struct ReleaseLock {
    api: Api<Lease>,
    name: String,
    holder: String,
    stop: watch::Sender<bool>,
    lost: watch::Receiver<bool>,
    renewer: JoinHandle<()>,
}

/// The lease's name for a release.
pub fn lease_name(release: &str) -> String {
    format!("sh.ferry.lock.{release}")
}

/// A holder identity: `ferry/<host>/<pid>/<n>`, unique per lock taken by this process.
pub fn holder_identity() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into());
    format!("ferry/{host}/{}/{n}", std::process::id())
}

fn seconds_since(t: Option<&MicroTime>) -> i64 {
    t.map(|t| (Timestamp::now().as_second() - t.0.as_second()).max(0))
        .unwrap_or(i64::MAX)
}

fn millis_since(t: Option<&MicroTime>) -> i64 {
    t.map(|t| (Timestamp::now().as_millisecond() - t.0.as_millisecond()).max(0))
        .unwrap_or(i64::MAX)
}

/// Expired: not renewed for its whole duration (millisecond precision; the lease's times are
/// microseconds).
fn expired(l: &Lease) -> bool {
    let spec = l.spec.clone().unwrap_or_default();
    let dur_ms = i64::from(spec.lease_duration_seconds.unwrap_or(0)) * 1000;
    spec.holder_identity.as_deref().unwrap_or("").is_empty()
        || millis_since(spec.renew_time.as_ref().or(spec.acquire_time.as_ref())) >= dur_ms
}

fn operation_of(l: &Lease) -> String {
    l.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(OPERATION_ANNOTATION).cloned())
        .unwrap_or_else(|| "unknown".into())
}

/// Takes the lock of `release` for `operation`. Returns the lock and, when it took over an
/// expired lease, who held it before (the caller should recover the release).
pub async fn acquire(
    client: kube::Client,
    namespace: &str,
    release: &str,
    operation: &str,
    opts: &LockOptions,
) -> Result<(ReleaseLock, Option<Stale>), LockError> {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    let name = lease_name(release);
    let holder = holder_identity();
    let api_err = |source| LockError::Api {
        release: release.to_string(),
        source,
    };
    let started = std::time::Instant::now();
    let mut poll = Duration::from_millis(200);
    let stale = loop {
        let now = MicroTime(Timestamp::now());
        let mut annotations = std::collections::BTreeMap::new();
        annotations.insert(OPERATION_ANNOTATION.to_string(), operation.to_string());
        let spec = LeaseSpec {
            holder_identity: Some(holder.clone()),
            lease_duration_seconds: Some(opts.lease_duration.as_secs().max(1) as i32),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..LeaseSpec::default()
        };
        let fresh = Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_string()),
                annotations: Some(annotations.clone()),
                labels: Some(
                    [
                        (
                            "app.kubernetes.io/managed-by".to_string(),
                            "ferry".to_string(),
                        ),
                        ("ferry.dev/release".to_string(), release.to_string()),
                    ]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(spec.clone()),
        };
        let pp = PostParams::default();
        match retry(|| api.create(&pp, &fresh)).await {
            Ok(_) => break None,
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(api_err(e)),
        }
        let current = match retry(|| api.get_opt(&name)).await.map_err(api_err)? {
            Some(l) => l,
            None => continue, // released in between: try to create again
        };
        if current
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(holder.as_str())
        {
            // Our own create went through although its answer was lost.
            break None;
        }
        if expired(&current) {
            let prev = Stale {
                holder: current
                    .spec
                    .as_ref()
                    .and_then(|s| s.holder_identity.clone())
                    .unwrap_or_default(),
                operation: operation_of(&current),
            };
            let mut taken = current.clone();
            taken.metadata.annotations = Some(annotations);
            let transitions = current
                .spec
                .as_ref()
                .and_then(|s| s.lease_transitions)
                .unwrap_or(0);
            taken.spec = Some(LeaseSpec {
                lease_transitions: Some(transitions + 1),
                ..spec
            });
            // resourceVersion makes this a compare-and-swap: of two takers, one gets 409.
            match retry(|| api.replace(&name, &pp, &taken)).await {
                Ok(_) => break (!prev.holder.is_empty()).then_some(prev),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(api_err(e)),
            }
        }
        let spec = current.spec.clone().unwrap_or_default();
        let holder_now = spec.holder_identity.unwrap_or_default();
        match opts.wait {
            None => {
                return Err(LockError::Held {
                    release: release.to_string(),
                    namespace: namespace.to_string(),
                    lease: name,
                    holder: holder_now,
                    operation: operation_of(&current),
                    renewed_ago: seconds_since(spec.renew_time.as_ref()),
                });
            }
            Some(limit) if started.elapsed() >= limit => {
                return Err(LockError::Timeout {
                    release: release.to_string(),
                    holder: holder_now,
                    waited: limit,
                });
            }
            Some(_) => {
                tokio::time::sleep(poll).await;
                poll = (poll * 2).min(Duration::from_secs(2));
            }
        }
    };
    let (stop, mut stop_rx) = watch::channel(false);
    let (lost_tx, lost) = watch::channel(false);
    let renew_api = api.clone();
    let renew_name = name.clone();
    let renew_holder = holder.clone();
    let every = opts.renew_every;
    let renewer = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop_rx.changed() => return,
            }
            match renew_api.get_opt(&renew_name).await {
                Ok(Some(mut l)) => {
                    let mine = l.spec.as_ref().and_then(|s| s.holder_identity.as_deref())
                        == Some(renew_holder.as_str());
                    if !mine {
                        let _ = lost_tx.send(true);
                        return;
                    }
                    if let Some(s) = l.spec.as_mut() {
                        s.renew_time = Some(MicroTime(Timestamp::now()));
                    }
                    // A failed renewal is retried at the next tick; the lease stays ours until
                    // it expires.
                    let _ = renew_api
                        .replace(&renew_name, &PostParams::default(), &l)
                        .await;
                }
                Ok(None) => {
                    let _ = lost_tx.send(true);
                    return;
                }
                Err(_) => {}
            }
        }
    });
    Ok((
        ReleaseLock {
            api,
            name,
            holder,
            stop,
            lost,
            renewer,
        },
        stale,
    ))
}

impl ReleaseLock {
    /// This holder's identity.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Whether another process took the lease (ours expired, e.g. after a long network loss).
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Stops renewing and deletes the lease (only if it is still ours).
    pub async fn release(self) {
        let _ = self.stop.send(true);
        let _ = self.renewer.await;
        if let Ok(Some(l)) = self.api.get_opt(&self.name).await
            && l.spec.as_ref().and_then(|s| s.holder_identity.as_deref())
                == Some(self.holder.as_str())
        {
            let dp = DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    resource_version: l.metadata.resource_version.clone(),
                    uid: None,
                }),
                ..DeleteParams::default()
            };
            let _ = self.api.delete(&self.name, &dp).await;
        }
    }

    /// Stops renewing without deleting the lease, as a crashed process would (tests).
    #[doc(hidden)]
    pub async fn abandon(self) {
        let _ = self.stop.send(true);
        let _ = self.renewer.await;
    }
}
