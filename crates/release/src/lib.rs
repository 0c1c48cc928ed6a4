//! Helm's release records (`release.v1`) and their storage, so that releases ferry writes are
//! read and continued by Helm (v3 and v4) and releases Helm wrote are read and continued by
//! ferry.
//!
//! - [`model`]: the record with Helm's JSON field names; unknown fields survive a read/write.
//! - [`codec`]: Helm's payload encoding, `base64(gzip(json))`, and its lenient decoding.
//! - [`storage`]: the Secret (default), ConfigMap and in-memory drivers with Helm's object
//!   names and labels, history queries and `--history-max` pruning.

pub mod codec;
pub mod model;
pub mod retry;
pub mod storage;

pub use model::{Hook, HookExecution, Info, Release, Status};
pub use storage::{Driver, Storage, StorageError};
