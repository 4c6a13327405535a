//! [`CriuError`]: what can go wrong in a checkpoint or a restore.

use std::io;

use super::wire::WireError;
use crate::error::Error;

/// What can go wrong in a checkpoint or a restore.
#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    /// The `criu` program is not installed.
    #[error("criu not found in PATH")]
    NotFound,
    /// `criu swrk` could not be started.
    #[error("start criu swrk for {action}")]
    Spawn {
        /// `dump`, `restore`, `version check`, ...
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The RPC socket failed.
    #[error("criu rpc: {op}")]
    Rpc {
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// CRIU sent a message that is not a valid `criu_resp`.
    #[error("criu rpc: bad response")]
    Decode(#[source] WireError),
    /// CRIU ran and failed; the error quotes the lines of its log around each `Error` (as runc
    /// logs them) or, without any, its last lines.
    #[error("criu {action} failed: {what}{}{}", errno.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(),
        if log.is_empty() { String::new() } else { format!("; quoting {log}:\n{quote}") })]
    Failed {
        /// `dump`, `pre-dump`, `restore`, ...
        action: &'static str,
        /// What CRIU reported.
        what: String,
        /// CRIU's errno, as text.
        errno: Option<String>,
        /// Its log file (empty for checks).
        log: String,
        /// The quoted lines.
        quote: String,
    },
    /// The installed CRIU is too old for what is asked.
    #[error("CRIU version {have} must be {need} or higher{}", if what.is_empty() { String::new() } else { format!(" ({what})") })]
    Version {
        /// The installed version (runc's number: 3.17.1 is 31701).
        have: i32,
        /// The version needed.
        need: i32,
        /// What needs it.
        what: &'static str,
    },
    /// The installed CRIU (or kernel) lacks features the options need.
    #[error("criu is missing features: {0:?}")]
    MissingFeatures(Vec<&'static str>),
    /// An option is invalid.
    #[error("{0}")]
    Option(String),
    /// The rootfs could not be prepared for the restore (mountpoints, binds).
    #[error("prepare the rootfs for restore: {0}")]
    Prepare(String),
    /// The restored process could not be found after the restore.
    #[error("criu restore reported no usable pid: {0}")]
    RestoredPid(String),
    /// A container or file operation failed.
    #[error(transparent)]
    Container(#[from] Error),
}
