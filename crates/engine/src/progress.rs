//! What an operation reports as it goes: steps, objects applied, waited for, ready or failed.
//! The CLI prints these on stderr; a library user may consume them or not.

/// What an operation reports as it goes (the CLI prints these on stderr).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A step of the operation (`pre-upgrade hooks`, `applying 12 objects`...).
    Step(String),
    /// An object was applied (`created`, `configured`) or deleted.
    Applied {
        /// `Kind ns/name`.
        object: String,
        /// What happened.
        action: String,
    },
    /// Waiting for an object, and why it is not ready yet.
    Waiting {
        /// `Kind ns/name`.
        object: String,
        /// Why.
        reason: String,
    },
    /// The object is ready.
    Ready {
        /// `Kind ns/name`.
        object: String,
    },
    /// The object will not become ready.
    Failed {
        /// `Kind ns/name`.
        object: String,
        /// Why.
        reason: String,
    },
}

/// Where progress events go (nowhere by default).
#[derive(Clone, Default)]
pub struct Progress(Option<tokio::sync::mpsc::UnboundedSender<Event>>);

impl Progress {
    /// Events go to this channel.
    pub fn channel(tx: tokio::sync::mpsc::UnboundedSender<Event>) -> Progress {
        Progress(Some(tx))
    }

    /// Reports an event.
    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(e);
        }
    }
}
