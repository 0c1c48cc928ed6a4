//! Loads Helm charts from a directory or archive, and computes their values exactly as Helm.
//! Renders nothing and never touches the network.
//!
//! - [`load`] reads a chart directory (honouring `.helmignore`) or a `.tgz`, with Helm's
//!   safety checks, into a [`Chart`] tree with its subcharts.
//! - [`yaml`] is ferry's one YAML module: Helm's typing on the way in (YAML 1.1 scalars,
//!   numbers as float64) and go-yaml's layout on the way out.
//! - [`coalesce`] merges values as Helm: subchart sections, globals, `null` deletion,
//!   aliases, conditions and tags, `import-values`.
//! - [`strvals`] parses `--set` and friends; [`schema`] validates `values.schema.json`;
//!   [`deps`] runs `dependency list | build | update` and writes `Chart.lock` digests as Helm.
//!
//! ```
//! use ferry_chart::{File, Map, Value, load_files, coalesce::{computed_values, Warnings}};
//!
//! let chart = load_files(vec![
//!     File::new("Chart.yaml", b"apiVersion: v2\nname: demo\nversion: 1.0.0\n".to_vec()),
//!     File::new("values.yaml", b"replicas: 2\nenabled: yes\n".to_vec()),
//! ], "demo").unwrap();
//! let (_, values) = computed_values(&chart, &Map::new(), &mut Warnings::default()).unwrap();
//! assert_eq!(values["replicas"], Value::Float(2.0)); // YAML numbers are float64, as in Helm
//! assert_eq!(values["enabled"], Value::Bool(true));  // YAML 1.1: `yes` is a boolean
//! ```
#![warn(missing_docs)]

pub mod coalesce;
pub mod deps;
mod error;
pub mod ignore;
mod load;
pub mod metadata;
pub mod schema;
pub mod semver;
pub mod strvals;
pub mod value;
pub mod yaml;

pub use error::{Error, Result};
pub use load::{
    Chart, File, ForwardStream, LAZY_FILE_SIZE, MAX_DECOMPRESSED_CHART_SIZE,
    MAX_DECOMPRESSED_FILE_SIZE, archive_files, clean_path, load, load_archive, load_archive_file,
    load_dir, load_files, load_observed, load_observed_lazily, validate_metadata,
};
pub use metadata::{Dependency, Lock, Maintainer, Metadata};
pub use value::{Map, Value};
