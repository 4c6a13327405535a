//! The OCI state of a container: its [`Status`] and the [`OciState`] that `runc state` prints
//! and hooks read on their stdin.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The status of a container, as `runc state` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The init process is set up and waits for `start`.
    Created,
    /// The user process runs.
    Running,
    /// The container's cgroup is frozen.
    Paused,
    /// No process runs (never started, or exited).
    Stopped,
}

impl Status {
    /// The status as `runc state` and `runc list` print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The OCI runtime state of a container (`runc state` output, with runc's extra fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// OCI version of the bundle.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Host pid of init (0 when stopped).
    pub pid: i32,
    /// Status.
    pub status: Status,
    /// Absolute path of the bundle.
    pub bundle: PathBuf,
    /// Absolute path of the root file system.
    pub rootfs: PathBuf,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Owner (user name of the creator; runc prints "" for root as "root").
    pub owner: String,
}
