//! ferry's apply/wait engine: maps manifests to API resources, applies them (server-side apply
//! or Helm 3's three-way merge), deletes what a release dropped, and waits for readiness by
//! watching.

pub mod apply;
pub mod lookup;
pub mod patch;
pub mod progress;
pub mod wait;

pub use apply::{Cluster, ClusterError, Obj};
pub use lookup::ClusterLookup;
pub use progress::{Event, Progress};
pub use wait::{State, WaitRules};
