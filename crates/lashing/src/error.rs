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
    /// A system call that works on no path failed (`clone3` of the init, `socketpair`, a send
    /// on a caller's socket, ...).
    #[error("{op}")]
    Sys {
        /// What was being done, with the object concerned (`clone3 the container's init`).
        op: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The init socket (the `SOCK_SEQPACKET` pair between the runtime and `lashing init`)
    /// failed.
    #[error("{op} the init socket")]
    InitSocket {
        /// What was being done (`read from`, `write to`, `send the payload on`, ...).
        op: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `lashing init` sent something the protocol does not allow there (a message out of
    /// order, one that does not parse, a message without its fd).
    #[error("lashing init broke the protocol: {what}")]
    InitProtocol {
        /// What was wrong.
        what: String,
        /// The cause (a parse error), if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The [`Process`](crate::Process) was never started: it cannot be waited for or signalled.
    #[error("cannot {op} a process that was not started")]
    NotStarted {
        /// The operation (`wait for`, `signal`).
        op: &'static str,
    },
    /// The [`Process`](crate::Process) asks for something it cannot have.
    #[error("invalid process: {reason}")]
    InvalidProcess {
        /// What is wrong with it.
        reason: &'static str,
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
    /// An Intel RDT (resctrl) operation failed.
    #[error(transparent)]
    IntelRdt(#[from] crate::rdt::RdtError),
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
    /// Rootless: the container asks for a limit of a controller whose cgroup it could not
    /// create or join (runc's text; the permission error was logged as a warning then).
    #[error("cannot set {controller} limit: container could not join or create cgroup")]
    RootlessCgroup {
        /// The controller (`memory`, `pids`, ...).
        controller: String,
    },
    /// Rootless: the container runs without a cgroup of its own (none could be created), so
    /// what needs one (listing its processes) cannot be done.
    #[error(
        "container {id:?} has no cgroup of its own (rootless, without permission): cannot {op}"
    )]
    NoCgroup {
        /// Container id.
        id: String,
        /// The operation that was refused.
        op: &'static str,
    },
    /// An id map of the container's user namespace could not be written, directly nor with the
    /// setuid helper (`newuidmap`/`newgidmap`).
    #[error("cannot write {file} of pid {pid} ({maps}): {reason}")]
    IdMap {
        /// `uid_map` or `gid_map`.
        file: &'static str,
        /// The container's init.
        pid: i32,
        /// The mappings, as written.
        maps: String,
        /// What failed (the direct write's error and the helper's).
        reason: String,
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
    /// [`Error::InitSocket`].
    pub(crate) fn init_socket(op: &'static str, source: impl Into<std::io::Error>) -> Self {
        Error::InitSocket {
            op,
            source: source.into(),
        }
    }

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

/// An error and its causes on one line, `error: cause: cause...` (runc's and logrus' way of
/// printing a wrapped error); a cause whose text the message already ends with (an error that
/// prints its source itself) is not repeated. Every errno is worded as Go (and so runc) words it
/// ([`go_errnos`]), wherever in the chain it is.
///
/// ```
/// let e = lashing::Error::NotStarted { op: "wait for" };
/// assert_eq!(lashing::error::chain(&e), "cannot wait for a process that was not started");
/// let io = std::io::Error::other("gone");
/// let e = lashing::Error::Sys { op: "clone3 the container's init", source: io };
/// assert_eq!(lashing::error::chain(&e), "clone3 the container's init: gone");
/// let io = std::io::Error::from_raw_os_error(2);
/// let e = lashing::Error::Sys { op: "open /x", source: io };
/// assert_eq!(lashing::error::chain(&e), "open /x: no such file or directory");
/// ```
pub fn chain(err: &(dyn std::error::Error + '_)) -> String {
    go_errnos(&chain_raw(err))
}

/// `text` with every errno as Rust prints one (`No such file or directory (os error 2)`) worded
/// as Go prints it (`no such file or directory`): engines match runc's lower-case words (Docker's
/// exit codes 126/127, containerd's "no such process"), and a message never shows a Rust-only
/// suffix. Text that merely looks alike (a different errno's words before the marker) is kept.
///
/// ```
/// assert_eq!(
///     lashing::error::go_errnos("kill 1: Operation not permitted (os error 1): x"),
///     "kill 1: operation not permitted: x"
/// );
/// ```
pub fn go_errnos(text: &str) -> String {
    const MARK: &str = " (os error ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(MARK) {
        let after = &rest[i + MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let (before, tail) = rest.split_at(i);
        let parsed = after[..digits].parse::<i32>().ok();
        let words = parsed.and_then(|n| {
            let full = std::io::Error::from_raw_os_error(n).to_string();
            let words = full.rfind(MARK).map(|j| full[..j].to_string())?;
            (after[digits..].starts_with(')') && before.ends_with(&words)).then_some(words)
        });
        match words {
            Some(words) => {
                out.push_str(&before[..before.len() - words.len()]);
                let mut chars = words.chars();
                if let Some(c) = chars.next() {
                    out.extend(c.to_lowercase());
                    out.push_str(chars.as_str());
                }
                rest = &tail[MARK.len() + digits + 1..];
            }
            None => {
                out.push_str(before);
                out.push_str(MARK);
                rest = &tail[MARK.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn chain_raw(err: &(dyn std::error::Error + '_)) -> String {
    let mut msg = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let t = e.to_string();
        if !t.is_empty() && !msg.ends_with(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        cur = e.source();
    }
    msg
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
    use super::*;

    /// The variants that replaced `Io` errors with made-up paths say what happened, and
    /// [`chain`] prints each cause once.
    #[test]
    fn errors_say_what_happened() {
        let e = Error::InitSocket {
            op: "read from",
            source: std::io::Error::from_raw_os_error(libc::ECONNRESET),
        };
        assert_eq!(
            chain(&e),
            "read from the init socket: connection reset by peer"
        );
        let bad = serde_json::from_str::<InitFailure>("{").unwrap_err();
        let e = Error::InitProtocol {
            what: "a failure report that does not parse".into(),
            source: Some(Box::new(bad)),
        };
        assert_eq!(
            chain(&e),
            "lashing init broke the protocol: a failure report that does not parse: EOF while parsing an object at line 1 column 1"
        );
        let e = Error::OomKilled {
            source: Box::new(Error::NotStarted { op: "signal" }),
        };
        assert_eq!(
            chain(&e),
            "container init was OOM-killed (memory limit too low?): cannot signal a process that was not started"
        );
        // A cause the message already ends with is not repeated.
        #[derive(Debug, thiserror::Error)]
        #[error("outer: inner")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            chain(&Outer(std::io::Error::other("inner"))),
            "outer: inner"
        );
    }

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

    #[test]
    fn every_errno_in_a_message_is_worded_as_go() {
        for n in 1..134 {
            let io = std::io::Error::from_raw_os_error(n);
            let e = Error::Sys {
                op: "op",
                source: io,
            };
            let want = format!(
                "op: {}",
                super::errno_text(rustix::io::Errno::from_raw_os_error(n))
            );
            assert_eq!(chain(&e), want);
            assert!(!want.contains("(os error"), "{want}");
        }
        // Not an errno's own words before the marker, a marker without its number or its
        // parenthesis: kept as they are.
        for s in [
            "Something else (os error 2)",
            "x (os error )",
            "No such file or directory (os error 2",
            "No such file or directory (os error 99999999999)",
            " (os error ",
        ] {
            assert_eq!(go_errnos(s), s);
        }
        assert_eq!(
            go_errnos("a: Permission denied (os error 13): b: Is a directory (os error 21)"),
            "a: permission denied: b: is a directory"
        );
    }

    proptest::proptest! {
        #[test]
        fn go_errnos_never_panics_and_keeps_plain_text(s in ".{0,80}") {
            let out = go_errnos(&s);
            if !s.contains(" (os error ") {
                proptest::prop_assert_eq!(out, s);
            }
        }
    }
}
