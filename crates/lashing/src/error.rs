//! The library's top-level error type.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// A failure inside `lashing init` (the container side), carried back to the caller over the init
/// socket: which step failed, on which path or value, the errno and the chain of causes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitFailure {
    /// The step of the container setup that failed (`"mount"`, `"pivot_root"`, `"exec"`, ...).
    pub step: String,
    /// The path or value concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The errno, if the failure was a system call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// The whole message (with its causes).
    pub message: String,
}

impl std::fmt::Display for InitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "container init failed at {}: {}",
            self.step, self.message
        )
    }
}

impl std::error::Error for InitFailure {}

/// Errors of the lashing library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The container id is not valid (`[A-Za-z0-9_+.-]+`, not `.` or `..`).
    #[error("invalid container id {0:?}: it must match [A-Za-z0-9_+.-]+ and not be '.' or '..'")]
    InvalidId(String),
    /// A container with this id already exists.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// There is no container with this id.
    #[error("container {0:?} does not exist")]
    NotExist(String),
    /// The container is not in a state that allows the operation.
    #[error("container {id:?} is {status}: cannot {op}")]
    BadStatus {
        /// Container id.
        id: String,
        /// Its current status.
        status: crate::Status,
        /// The operation that was refused.
        op: &'static str,
    },
    /// A file or system operation of the runtime failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path or object.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state file is damaged.
    #[error("state file {path}: {reason}")]
    State {
        /// Path of state.json.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] lashing_cgroups::Error),
    /// The container's init reported a failure.
    #[error(transparent)]
    Init(#[from] InitFailure),
    /// The container's init died or broke the protocol without reporting why.
    #[error("container init (pid {pid}) {what}")]
    InitDied {
        /// pid of init.
        pid: i32,
        /// What happened (`exited with status 1`, `killed by signal 9`, ...).
        what: String,
    },
    /// The container's init failed while the OOM killer acted in the container's cgroup: the
    /// memory limit is the likely cause (runc's text); `source` is the failure as seen.
    #[error("container init was OOM-killed (memory limit too low?)")]
    OomKilled {
        /// The failure as it was seen (init died, a step failed, ...).
        #[source]
        source: Box<Error>,
    },
    /// The container's cgroup is frozen (paused) before the container exists: its init could
    /// never run (runc's text).
    #[error("container's cgroup unexpectedly frozen")]
    CgroupFrozen {
        /// The freezer directory.
        path: PathBuf,
    },
    /// A security setting (seccomp profile, LSM label, process attribute) failed.
    #[error("{what}")]
    Security {
        /// What was being set up.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A hook failed: runc's `error running <kind> hook #<index>: <reason>`.
    #[error("error running {kind} hook #{index}: {reason}")]
    Hook {
        /// Hook kind.
        kind: String,
        /// Its position in the config's list of hooks of that kind (from 0).
        index: usize,
        /// The hook program.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<std::io::Error>,
    ) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source: source.into(),
        }
    }
}

/// An errno as Go (and so runc) prints it: the C library's text with a lower-case first letter
/// and no `(os error N)` (`"no such file or directory"`, `"exec format error"`). Engines match
/// these words in runc's messages (Docker: 127 for "no such file or directory", 126 for
/// "permission denied").
pub(crate) fn errno_text(e: rustix::io::Errno) -> String {
    go_error_text(&std::io::Error::from_raw_os_error(e.raw_os_error()))
}

/// An I/O error as Go prints it: for an errno, [`errno_text`]; otherwise its own text.
pub(crate) fn go_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    if e.raw_os_error().is_none() {
        return text;
    }
    let text = text
        .rfind(" (os error ")
        .map_or(text.as_str(), |i| &text[..i]);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #[test]
    fn errno_texts_are_gos() {
        use rustix::io::Errno;
        for (e, want) in [
            (Errno::NOENT, "no such file or directory"),
            (Errno::ACCESS, "permission denied"),
            (Errno::ISDIR, "is a directory"),
            (Errno::NOTDIR, "not a directory"),
            (Errno::NOEXEC, "exec format error"),
            (Errno::LOOP, "too many levels of symbolic links"),
        ] {
            assert_eq!(super::errno_text(e), want);
        }
        assert_eq!(
            super::go_error_text(&std::io::Error::other("Custom text")),
            "Custom text"
        );
    }
}
