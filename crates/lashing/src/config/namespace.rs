//! Namespaces of the model: their kinds, new or joined, and the id mappings of a user namespace.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A kind of Linux namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceType {
    /// User namespace (`CLONE_NEWUSER`).
    User,
    /// IPC namespace (`CLONE_NEWIPC`).
    Ipc,
    /// UTS namespace (`CLONE_NEWUTS`).
    Uts,
    /// Network namespace (`CLONE_NEWNET`).
    Network,
    /// PID namespace (`CLONE_NEWPID`).
    Pid,
    /// Mount namespace (`CLONE_NEWNS`).
    Mount,
    /// Cgroup namespace (`CLONE_NEWCGROUP`).
    Cgroup,
    /// Time namespace (`CLONE_NEWTIME`).
    Time,
}

impl NamespaceType {
    /// All namespace types, in the order in which lashing joins namespaces given by path
    /// (user first, as runc does).
    pub const ALL: [NamespaceType; 8] = [
        NamespaceType::User,
        NamespaceType::Ipc,
        NamespaceType::Uts,
        NamespaceType::Network,
        NamespaceType::Pid,
        NamespaceType::Mount,
        NamespaceType::Cgroup,
        NamespaceType::Time,
    ];

    /// The `CLONE_NEW*` flag of this namespace type.
    pub fn clone_flag(self) -> u64 {
        (match self {
            NamespaceType::User => libc::CLONE_NEWUSER,
            NamespaceType::Ipc => libc::CLONE_NEWIPC,
            NamespaceType::Uts => libc::CLONE_NEWUTS,
            NamespaceType::Network => libc::CLONE_NEWNET,
            NamespaceType::Pid => libc::CLONE_NEWPID,
            NamespaceType::Mount => libc::CLONE_NEWNS,
            NamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
            NamespaceType::Time => libc::CLONE_NEWTIME,
        }) as u64
    }

    /// The name of this namespace in `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceType::User => "user",
            NamespaceType::Ipc => "ipc",
            NamespaceType::Uts => "uts",
            NamespaceType::Network => "net",
            NamespaceType::Pid => "pid",
            NamespaceType::Mount => "mnt",
            NamespaceType::Cgroup => "cgroup",
            NamespaceType::Time => "time",
        }
    }

    /// The OCI name of this namespace type (`"network"`, `"mount"`, ...).
    pub fn oci_name(self) -> &'static str {
        match self {
            NamespaceType::User => "user",
            NamespaceType::Ipc => "ipc",
            NamespaceType::Uts => "uts",
            NamespaceType::Network => "network",
            NamespaceType::Pid => "pid",
            NamespaceType::Mount => "mount",
            NamespaceType::Cgroup => "cgroup",
            NamespaceType::Time => "time",
        }
    }
}

/// A namespace of the container: new (no path) or joined (a path such as `/proc/42/ns/net`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// The kind of namespace.
    #[serde(rename = "type")]
    pub typ: NamespaceType,
    /// Join this existing namespace instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// One line of a uid or gid map: `container_id host_id size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// First id inside the container.
    pub container_id: u32,
    /// First id on the host.
    pub host_id: u32,
    /// Number of ids mapped.
    pub size: u32,
}
