//! What can fail: compiling a profile, handing the listener to the agent.

use std::io;
use std::path::PathBuf;

/// Why a seccomp profile could not be compiled, or the listener not handed over.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SeccompError {
    /// An action name lashing does not know.
    #[error("seccomp: unknown action {action:?} ({field})")]
    UnknownAction {
        /// The JSON field.
        field: String,
        /// The name.
        action: String,
    },
    /// An errno value that does not fit the 16 bits of `SECCOMP_RET_DATA`.
    #[error("seccomp: errno {errno} of {field} does not fit in 16 bits")]
    BadErrno {
        /// The JSON field.
        field: String,
        /// The value.
        errno: u32,
    },
    /// A comparison operator lashing does not know.
    #[error("seccomp: unknown operator {op:?} ({field})")]
    UnknownOp {
        /// The JSON field.
        field: String,
        /// The name.
        op: String,
    },
    /// An argument index above 5.
    #[error("seccomp: argument index {index} of {field} is not 0-5")]
    BadIndex {
        /// The JSON field.
        field: String,
        /// The index.
        index: u32,
    },
    /// An architecture name lashing does not know.
    #[error("seccomp: unknown architecture {0:?}")]
    UnknownArch(String),
    /// A flag name lashing does not know.
    #[error("seccomp: unknown flag {0:?}")]
    UnknownFlag(String),
    /// The host is not x86_64.
    #[error("seccomp: the native architecture {0} is not supported by the seccomp compiler")]
    UnsupportedNative(&'static str),
    /// `SCMP_ACT_NOTIFY` where runc forbids it.
    #[error("seccomp: SCMP_ACT_NOTIFY {0}")]
    Notify(&'static str),
    /// The program is larger than the kernel accepts.
    #[error("seccomp: the program has {0} instructions, more than the kernel's 4096")]
    TooLarge(usize),
    /// Internal: a jump of the generated program could not be encoded.
    #[error("seccomp: cannot assemble the program ({0})")]
    Assemble(String),
    /// Connecting to the agent's socket failed.
    #[error("seccomp: connect to the listener socket {path}")]
    Connect {
        /// `listenerPath`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Sending the state and the fd to the agent failed.
    #[error("seccomp: send the listener fd to {path}")]
    Send {
        /// `listenerPath`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}
