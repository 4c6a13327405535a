//! The error type of the rootfs setup.

use std::io;

/// A failure while setting up the container's file systems. Every variant names the step, the
/// path inside the container (or the value) concerned and, for system calls, the errno.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RootfsError {
    /// A system call failed.
    #[error("{step} {path:?}")]
    Sys {
        /// The step (`"mount"`, `"mkdir"`, `"pivot_root"`, ...).
        step: &'static str,
        /// The container path (or host path / value) concerned.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A path resolved to a location outside the rootfs.
    #[error("{step} {path:?}: resolves to {resolved:?}, outside of the rootfs")]
    OutsideRoot {
        /// The step.
        step: &'static str,
        /// The container path.
        path: String,
        /// Where it resolved (host view).
        resolved: String,
    },
    /// A mount destination resolved to the rootfs itself.
    #[error("{step} {path:?}: the destination is the rootfs itself")]
    IsRoot {
        /// The step.
        step: &'static str,
        /// The container path.
        path: String,
    },
    /// A mount on or under `/proc` that `checkProcMount` forbids.
    #[error("mount on {path:?} refused: {reason}")]
    ProcMount {
        /// The resolved container path.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A procfs could not be opened or verified ([`crate::procfs`]).
    #[error("{step} {path:?}")]
    Proc {
        /// The step.
        step: &'static str,
        /// The container path or value.
        path: String,
        /// The cause.
        #[source]
        source: Box<crate::procfs::ProcError>,
    },
    /// A check that is not a system call failed (wrong file type, wrong device numbers, invalid
    /// key, ...).
    #[error("{step} {path:?}: {reason}")]
    Invalid {
        /// The step.
        step: &'static str,
        /// The container path or value.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl RootfsError {
    /// A system-call failure.
    pub(crate) fn sys(
        step: &'static str,
        path: impl std::fmt::Display,
        source: impl Into<io::Error>,
    ) -> Self {
        RootfsError::Sys {
            step,
            path: path.to_string(),
            source: source.into(),
        }
    }

    /// A failed check.
    pub(crate) fn invalid(
        step: &'static str,
        path: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        RootfsError::Invalid {
            step,
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    /// The errno of a failed system call, if that is the cause.
    pub fn errno(&self) -> Option<i32> {
        match self {
            RootfsError::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The step that failed.
    pub fn step(&self) -> &'static str {
        match self {
            RootfsError::Sys { step, .. }
            | RootfsError::OutsideRoot { step, .. }
            | RootfsError::IsRoot { step, .. }
            | RootfsError::Invalid { step, .. }
            | RootfsError::Proc { step, .. } => step,
            RootfsError::ProcMount { .. } => "mount",
        }
    }

    /// The container path (or value) concerned, if any.
    pub fn path(&self) -> Option<String> {
        match self {
            RootfsError::Sys { path, .. }
            | RootfsError::OutsideRoot { path, .. }
            | RootfsError::IsRoot { path, .. }
            | RootfsError::ProcMount { path, .. }
            | RootfsError::Invalid { path, .. }
            | RootfsError::Proc { path, .. } => Some(path.clone()),
        }
    }
}

/// The result type of the rootfs module.
pub(crate) type Result<T> = std::result::Result<T, RootfsError>;
