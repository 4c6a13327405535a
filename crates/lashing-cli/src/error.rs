//! The CLI's error type and how an error becomes the one-line message runc would print.

use std::path::PathBuf;

/// Why a `lashing` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The library refused or failed.
    #[error(transparent)]
    Lashing(#[from] lashing::Error),
    /// The configuration in the bundle could not be loaded.
    #[error(transparent)]
    Config(#[from] lashing::config::ConfigError),
    /// A request that is refused as runc refuses it (the message is runc's text).
    #[error("{0}")]
    Refused(String),
    /// A signal name or number that is not known.
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// A file operation of the CLI itself failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A system call of the CLI failed.
    #[error("{op}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `exec` failed before the process ran: runc's `exec failed: ...`, exit status 255.
    #[error("exec failed: {0}")]
    Exec(Box<CliError>),
    /// Output could not be serialized.
    #[error("serialize {what}")]
    Json {
        /// What was serialized.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl CliError {
    /// An [`CliError::Io`] error.
    pub fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<std::io::Error>,
    ) -> CliError {
        CliError::Io {
            op,
            path: path.into(),
            source: source.into(),
        }
    }

    /// An [`CliError::Sys`] error.
    pub fn sys(op: &'static str, source: impl Into<std::io::Error>) -> CliError {
        CliError::Sys {
            op,
            source: source.into(),
        }
    }

    /// The message printed for this error: runc's text for the errors that tools match on
    /// (`container does not exist`, ...), otherwise the error and its whole cause chain joined
    /// with `": "`.
    pub fn message(&self) -> String {
        match self {
            CliError::Lashing(lashing::Error::NotExist(_)) => {
                "container does not exist".to_string()
            }
            CliError::Lashing(lashing::Error::Exists(_)) => {
                "container with given ID already exists".to_string()
            }
            CliError::Exec(e) => format!("exec failed: {}", e.message()),
            _ => chain(self),
        }
    }

    /// The exit status of the command that failed with this error: 255 for `exec` (as runc),
    /// 1 otherwise.
    pub fn status(&self) -> i32 {
        match self {
            CliError::Exec(_) => 255,
            _ => 1,
        }
    }
}

pub use lashing::error::chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_exist_uses_runc_text() {
        let e = CliError::from(lashing::Error::NotExist("x".into()));
        assert_eq!(e.message(), "container does not exist");
        let e = CliError::from(lashing::Error::Exists("x".into()));
        assert_eq!(e.message(), "container with given ID already exists");
    }

    #[test]
    fn chain_joins_causes_once() {
        let e = CliError::io(
            "write pid file",
            "/x/y",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(
            e.message(),
            "write pid file /x/y: no such file or directory"
        );
    }

    #[test]
    fn exec_errors_are_runcs_with_status_255() {
        let e = CliError::Exec(Box::new(lashing::Error::NotExist("x".into()).into()));
        assert_eq!(e.message(), "exec failed: container does not exist");
        assert_eq!(e.status(), 255);
        assert_eq!(CliError::Refused("x".into()).status(), 1);
    }
}
