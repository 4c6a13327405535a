//! The error of a process's standard I/O set-up ([`io`](crate::io) and the `binary://` logging
//! binaries of [`logger`](crate::logger)).

/// A failure to set up or use a process's I/O, with the path or URI.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// Opening a FIFO or log file failed.
    #[error("open {path}: {source}")]
    Open {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A log URI scheme the shim does not handle.
    #[error("unsupported stdio URI {0:?} (only FIFO paths, file:// and binary:// are supported)")]
    Scheme(String),
    /// The logging binary of a `binary://` URI could not be started.
    #[error("logging binary {uri}: {what}: {source}")]
    Logger {
        /// The URI.
        uri: String,
        /// What failed.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The terminal could not be set up or used.
    #[error("terminal: {what}: {source}")]
    Tty {
        /// What failed.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}
