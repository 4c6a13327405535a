//! Configuration errors.

use std::path::PathBuf;

/// An invalid or unreadable configuration: each variant names the field (or file) and the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The bundle's `config.json` could not be read (missing, unreadable, not UTF-8, ...).
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not valid JSON, is truncated, or does not match the OCI runtime spec's
    /// schema (a wrong type, an unknown namespace type or rlimit name, ...).
    #[error("{path}: invalid config at line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error (0 at the start of a line).
        column: usize,
        /// What is wrong, as serde_json reports it (without the position).
        message: String,
    },
    /// `config.json` does not match the OCI runtime spec's schema, at a place that could not be
    /// located in the file.
    #[error("{path}: not a valid OCI runtime config: {message}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A field has an invalid value.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (`linux.namespaces[2].type`, `mounts[0].destination`, ...).
        field: String,
        /// What is wrong, naming the value.
        reason: String,
    },
    /// A field asks for something lashing does not implement yet.
    #[error("{field}: not supported yet: {reason}")]
    Unsupported {
        /// The field (`linux.intelRdt`, `process.scheduler`, ...).
        field: String,
        /// What was asked for.
        reason: String,
    },
    /// A path named by a field could not be inspected.
    #[error("{field}: cannot access {path}")]
    Access {
        /// The field (`root.path`, `linux.namespaces[0].path`, ...).
        field: String,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`ConfigError::Unsupported`] error.
    pub fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Unsupported {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The field concerned, for the variants that name one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. }
            | ConfigError::Unsupported { field, .. }
            | ConfigError::Access { field, .. } => Some(field),
            _ => None,
        }
    }
}
