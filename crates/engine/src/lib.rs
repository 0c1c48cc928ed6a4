//! ferry's apply/wait engine: maps manifests to API resources, applies them (server-side apply
//! or Helm 3's three-way merge), deletes what a release dropped, and waits for readiness by
//! watching.

pub mod apply;
pub mod object;
pub mod patch;
pub mod wait;

pub use object::{Object, Target};
