use std::path::PathBuf;

use crate::yaml::YamlError;

/// Everything that can go wrong while loading charts, values and dependencies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A YAML file is not valid YAML, or does not type as Helm needs.
    #[error("{}", yaml_display(file, source))]
    Yaml {
        /// The file (inside its chart, e.g. `mychart/values.yaml`).
        file: String,
        /// What the YAML layer said, with line and column.
        #[source]
        source: YamlError,
    },
    /// A chart archive is broken or unsafe.
    #[error("{file}: {message}")]
    Archive {
        /// The archive.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A chart's metadata or layout is invalid.
    #[error("{file}: {message}")]
    InvalidChart {
        /// The file or chart at fault.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A `.helmignore` rule is invalid.
    #[error("{file}:{line}: {message}")]
    Ignore {
        /// The `.helmignore` file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A `--set`-style expression could not be parsed.
    #[error("failed parsing {flag} data: {message}")]
    SetValue {
        /// The flag (`--set`, `--set-string`, ...).
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Values could not be combined (e.g. a subchart key holds a scalar).
    #[error("{0}")]
    Coalesce(String),
    /// Values do not satisfy a chart's `values.schema.json`.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Schema(String),
    /// Dependencies are missing, out of sync or cannot be resolved.
    #[error("{0}")]
    Dependency(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(file: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidChart {
            file: file.into(),
            message: message.into(),
        }
    }

    pub(crate) fn archive(file: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Archive {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn yaml_display(file: &str, e: &YamlError) -> String {
    if e.line > 0 {
        format!("{file}:{}:{}: {}", e.line, e.col, e.message)
    } else {
        format!("{file}: {}", e.message)
    }
}
