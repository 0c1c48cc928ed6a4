//! The release lock against the API simulator: one holder at a time, waiting, and taking over
//! the lease of a holder that died.

use std::time::Duration;

use ferry::lock::{LockError, LockOptions, acquire, lease_name};

async fn client(sim: &kubesim::Sim) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(cfg).unwrap()
}

fn quick() -> LockOptions {
    LockOptions {
        wait: None,
        lease_duration: Duration::from_secs(2),
        renew_every: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn a_second_operation_fails_naming_the_holder_then_gets_the_lock() {
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let c = client(&sim).await;
    let (first, stale) = acquire(c.clone(), "default", "web", "upgrade", &quick())
        .await
        .unwrap();
    assert_eq!(stale, None, "a fresh lease has no previous holder");
    let lease = sim
        .get(
            "coordination.k8s.io",
            "leases",
            "default",
            &lease_name("web"),
        )
        .expect("the lease exists while held");
    assert_eq!(lease["spec"]["holderIdentity"], first.holder());

    // Held and renewed: even after longer than the lease duration, a second try fails.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let err = acquire(c.clone(), "default", "web", "rollback", &quick())
        .await
        .err()
        .expect("the lock is held");
    let msg = err.to_string();
    assert!(matches!(err, LockError::Held { .. }), "{msg}");
    assert!(
        msg.contains("another operation (upgrade) is in progress on release \"web\""),
        "{msg}"
    );
    assert!(msg.contains(first.holder()), "{msg}");
    assert!(!first.is_lost());

    // Another release is not blocked.
    let (other, _) = acquire(c.clone(), "default", "api", "install", &quick())
        .await
        .unwrap();
    other.release().await;

    // A waiter gets it once the holder releases.
    let waiter = tokio::spawn({
        let c = c.clone();
        async move {
            let opts = LockOptions {
                wait: Some(Duration::from_secs(10)),
                ..quick()
            };
            acquire(c, "default", "web", "rollback", &opts).await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiter.is_finished(),
        "the waiter waits while the lock is held"
    );
    first.release().await;
    let (second, stale) = waiter.await.unwrap().unwrap();
    assert_eq!(stale, None, "a released lease is not a crash");
    second.release().await;
    assert!(
        sim.get(
            "coordination.k8s.io",
            "leases",
            "default",
            &lease_name("web")
        )
        .is_none(),
        "release deletes the lease"
    );
}

#[tokio::test]
async fn waiting_is_bounded() {
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let c = client(&sim).await;
    let (held, _) = acquire(c.clone(), "default", "web", "upgrade", &quick())
        .await
        .unwrap();
    let opts = LockOptions {
        wait: Some(Duration::from_millis(800)),
        ..quick()
    };
    let err = acquire(c, "default", "web", "upgrade", &opts)
        .await
        .err()
        .expect("still held");
    assert!(matches!(err, LockError::Timeout { .. }), "{err}");
    held.release().await;
}

#[tokio::test]
async fn an_expired_lease_of_a_dead_holder_is_taken_over_and_reported() {
    let sim = kubesim::Sim::start(kubesim::Config::default())
        .await
        .unwrap();
    let c = client(&sim).await;
    let (dead, _) = acquire(c.clone(), "default", "web", "upgrade", &quick())
        .await
        .unwrap();
    let dead_holder = dead.holder().to_string();
    dead.abandon().await; // stops renewing, as a SIGKILLed process would
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let (lock, stale) = acquire(c.clone(), "default", "web", "rollback", &quick())
        .await
        .unwrap();
    let stale = stale.expect("the previous holder is reported");
    assert_eq!(stale.holder, dead_holder);
    assert_eq!(stale.operation, "upgrade");
    let lease = sim
        .get(
            "coordination.k8s.io",
            "leases",
            "default",
            &lease_name("web"),
        )
        .unwrap();
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert_eq!(
        lease["metadata"]["annotations"]["ferry.dev/operation"],
        "rollback"
    );
    lock.release().await;
}
