//! ferry: a native Rust release engine for Kubernetes that deploys Helm charts without helm.
//!
//! This crate is the facade other Rust tools embed, and it holds the `ferry` binary. It
//! re-exports chart loading and values ([`chart`]), rendering ([`render`]), release storage
//! ([`release`]) and the apply/wait engine ([`engine`]); [`action`] runs the release operations
//! on them.
//!
//! ```
//! use ferry::chart::{File, Map, load_files, coalesce::{computed_values, Warnings}};
//!
//! let chart = load_files(vec![
//!     File::new("Chart.yaml", b"apiVersion: v2\nname: demo\nversion: 0.1.0\n".to_vec()),
//!     File::new("values.yaml", b"image: {tag: stable}\n".to_vec()),
//! ], "demo").unwrap();
//! let (_, values) = computed_values(&chart, &Map::new(), &mut Warnings::default()).unwrap();
//! assert_eq!(values["image"].path("tag").and_then(|t| t.as_str()), Some("stable"));
//! ```
#![warn(missing_docs)]

pub mod action;
pub mod gotime;
pub mod lock;

pub use ferry_chart as chart;
pub use ferry_engine as engine;
pub use ferry_release as release;
pub use ferry_render as render;
