//! Helm's rendering: from a chart and its values to the manifests Helm would apply.
//!
//! Does no I/O: chart + values + release info + capabilities in, manifests out. Today it holds
//! the manifest stage ([`manifest`]): splitting rendered files into documents, separating
//! hooks, and sorting by Helm's install order.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ferry_render::manifest::{sort_manifests, INSTALL_ORDER};
//!
//! let mut files = BTreeMap::new();
//! files.insert("c/templates/a.yaml".to_string(),
//!     "kind: Deployment\nmetadata:\n  name: d\n---\nkind: Service\nmetadata:\n  name: s\n".to_string());
//! let (hooks, manifests) = sort_manifests(&files, INSTALL_ORDER).unwrap();
//! assert!(hooks.is_empty());
//! let kinds: Vec<_> = manifests.iter().map(|m| m.head.kind.as_str()).collect();
//! assert_eq!(kinds, ["Service", "Deployment"]);
//! ```
#![warn(missing_docs)]

mod context;
mod convert;
mod engine;
mod helm;
mod jinja;
pub mod manifest;
mod release;
pub mod sprig;

pub use context::{Capabilities, DEFAULT_API_VERSIONS, ReleaseOptions, glob_match};
pub use convert::{from_tmpl, to_tmpl};
pub use engine::{CustomFuncs, Engine, FileObserver, Preparse, TemplateError, helm_funcs};
pub use helm::{Lookup, RECURSION_MAX, b64 as base64_encode};
pub use release::{
    POSTRENDER_FILENAME, PostRenderer, RenderError, RenderRequest, Rendered, annotate_and_merge,
    crd_files, render_map, render_release, render_release_with, split_and_deannotate,
};
