//! The validated container configuration: what every other module of lashing sees.
//!
//! These types are the Rust counterpart of libcontainer's `configs.Config`. They are built by
//! [`Config::from_oci`](crate::Config::from_oci) from an OCI bundle, or by hand (see [`Config::builder`]),
//! and checked by [`Config::validate`]. They are serialisable so that the parent can hand the resolved
//! configuration to `lashing init` and keep it in `state.json`; no module other than `config::from_oci`
//! ever sees an `oci-spec` type.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::device::{Device, DeviceRule};
use super::mount::{Mount, MsFlags};
use super::namespace::{IdMap, Namespace, NamespaceType};

/// A cgroup resource set (OCI `linux.resources`): the cgroup crate's model.
pub use lashing_cgroups::Resources;

/// A resource limit (`RLIMIT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// The `RLIMIT_*` resource number.
    pub resource: u32,
    /// Hard limit.
    pub hard: u64,
    /// Soft limit.
    pub soft: u64,
}

/// Capability sets, as capability numbers (`CAP_CHOWN` = 0, ...). Unknown names were dropped with a
/// warning by `from_oci`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Bounding set.
    pub bounding: Vec<u32>,
    /// Effective set.
    pub effective: Vec<u32>,
    /// Inheritable set.
    pub inheritable: Vec<u32>,
    /// Permitted set.
    pub permitted: Vec<u32>,
    /// Ambient set.
    pub ambient: Vec<u32>,
}

/// The user a process runs as (numeric only, as in libcontainer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// uid inside the container.
    pub uid: u32,
    /// gid inside the container.
    pub gid: u32,
    /// Supplementary gids.
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    /// umask; `None` means 0022.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
}

/// Hook kinds of the OCI runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HookKind {
    /// `prestart` (deprecated): runtime namespace, after the mounts, before pivot_root.
    Prestart,
    /// `createRuntime`: same place as prestart.
    CreateRuntime,
    /// `createContainer`: in the container, before pivot_root.
    CreateContainer,
    /// `startContainer`: in the container, before the user process.
    StartContainer,
    /// `poststart`: after `start`.
    Poststart,
    /// `poststop`: at delete.
    Poststop,
}

impl HookKind {
    /// The OCI name of this kind (`prestart`, `createRuntime`, ...).
    pub fn oci_name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }
}

/// A hook command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// Absolute path of the program.
    pub path: PathBuf,
    /// argv (including argv\[0\]).
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment (`KEY=value`).
    #[serde(default)]
    pub env: Vec<String>,
    /// Timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// Seccomp profile, as given by the OCI spec (compiled to BPF by the security module).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seccomp {
    /// Default action name (`SCMP_ACT_ERRNO`, ...).
    pub default_action: String,
    /// errno for the default action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Architectures (`SCMP_ARCH_X86_64`, ...).
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Flags (`SECCOMP_FILTER_FLAG_LOG`, ...).
    #[serde(default)]
    pub flags: Vec<String>,
    /// Path of the seccomp agent socket for `SCMP_ACT_NOTIFY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<PathBuf>,
    /// Opaque metadata sent to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    /// The rules.
    #[serde(default)]
    pub syscalls: Vec<SeccompRule>,
}

/// One seccomp rule: several syscall names sharing an action and conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompRule {
    /// Syscall names.
    pub names: Vec<String>,
    /// Action name.
    pub action: String,
    /// errno for `SCMP_ACT_ERRNO` / `SCMP_ACT_TRACE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument conditions.
    #[serde(default)]
    pub args: Vec<SeccompArg>,
}

/// One seccomp argument condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompArg {
    /// Argument index (0-5).
    pub index: u32,
    /// Value.
    pub value: u64,
    /// Second value (mask of `SCMP_CMP_MASKED_EQ`).
    #[serde(default)]
    pub value_two: u64,
    /// Operator name (`SCMP_CMP_EQ`, ...).
    pub op: String,
}

/// Cgroup configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupConfig {
    /// The cgroup path as given in `linux.cgroupsPath` (absolute, relative, or empty: then the
    /// container id under the caller's cgroup, as runc).
    pub path: String,
    /// Resources (OCI `linux.resources`), applied by the cgroup manager. `from_oci` replaces its
    /// `devices` list by [`CgroupConfig::device_rules`] in OCI form (the spec's rules followed by
    /// runc's default allow rules), as runc's `Resources.Devices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Device rules, in order: the spec's `linux.resources.devices`, then runc's default allow
    /// rules (last, so that a leading "deny all" cannot remove them).
    #[serde(default)]
    pub device_rules: Vec<DeviceRule>,
    /// Use the systemd cgroup driver (runc's `--systemd-cgroup`): `path` is then
    /// `slice:prefix:name` (or empty), and the cgroup is a transient systemd unit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub systemd: bool,
}

/// The process that runs in the container (or is executed in it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfig {
    /// argv.
    pub args: Vec<String>,
    /// Environment (`KEY=value`).
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory (absolute, inside the container).
    pub cwd: PathBuf,
    /// User.
    #[serde(default)]
    pub user: User,
    /// Allocate a terminal.
    #[serde(default)]
    pub terminal: bool,
    /// `[height, width]` of the terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<(u16, u16)>,
    /// Resource limits.
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// Capabilities; `None` keeps the defaults of the runtime (all caps of a root process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// Set `PR_SET_NO_NEW_PRIVS`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// AppArmor profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor_profile: Option<String>,
    /// SELinux process label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux_label: Option<String>,
    /// `/proc/self/oom_score_adj`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// Scheduling policy (`sched_setattr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Scheduler>,
    /// I/O priority (`ioprio_set`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_priority: Option<IoPriority>,
    /// CPU affinity of processes run with `exec` (`process.execCPUAffinity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_cpu_affinity: Option<CpuAffinity>,
}

/// `process.execCPUAffinity`: CPU lists (`"0-3,7"`) for an exec'd process while it joins the
/// container (`initial`) and once it is in the container's cgroup (`final`). Without one, the
/// affinity is reset to every CPU (the kernel clamps it to the cgroup's cpuset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuAffinity {
    /// Affinity while joining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<String>,
    /// Affinity afterwards.
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_: Option<String>,
}

/// Parses a CPU list such as `"0-3,5"` (at most CPU 65535, as runc).
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n < 65536)
                .ok_or_else(|| format!("invalid CPU {s:?} in {list:?}"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("invalid CPU range {part:?} in {list:?}"));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(num(part)?),
        }
    }
    if cpus.is_empty() {
        return Err(format!("empty CPU list {list:?}"));
    }
    Ok(cpus)
}

/// The whole validated configuration of a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Execution domain (`personality(2)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<Personality>,
    /// NUMA memory policy (`set_mempolicy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<MemoryPolicy>,
    /// OCI version of the bundle.
    #[serde(default)]
    pub oci_version: String,
    /// Absolute path of the root file system.
    pub rootfs: PathBuf,
    /// Make the root file system read-only.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// Propagation of the root mount (empty: runc's default `MS_SLAVE|MS_REC`).
    #[serde(default)]
    pub root_propagation: MsFlags,
    /// Use `MS_MOVE` + `chroot` instead of `pivot_root` (`--no-pivot`).
    #[serde(default)]
    pub no_pivot_root: bool,
    /// Do not create a new session keyring (`--no-new-keyring`).
    #[serde(default)]
    pub no_new_keyring: bool,
    /// Namespaces, at most one per type.
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    /// uid mappings of a new user namespace.
    #[serde(default)]
    pub uid_mappings: Vec<IdMap>,
    /// gid mappings of a new user namespace.
    #[serde(default)]
    pub gid_mappings: Vec<IdMap>,
    /// Mounts, in order.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Device nodes to create in `/dev` (the defaults plus the spec's).
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Paths masked with `/dev/null` (files) or a read-only tmpfs (directories).
    #[serde(default)]
    pub masked_paths: Vec<PathBuf>,
    /// Paths remounted read-only.
    #[serde(default)]
    pub readonly_paths: Vec<PathBuf>,
    /// Hostname (needs a new UTS namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Domain name (needs a new UTS namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// Sysctls (`net.ipv4.ip_forward` = `1`).
    #[serde(default)]
    pub sysctl: BTreeMap<String, String>,
    /// Cgroup.
    #[serde(default)]
    pub cgroup: CgroupConfig,
    /// The container's process (`process` of config.json).
    #[serde(default)]
    pub process: ProcessConfig,
    /// Seccomp profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
    /// SELinux mount label (`context=` of the container's mounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_label: Option<String>,
    /// Hooks by kind.
    #[serde(default)]
    pub hooks: BTreeMap<HookKind, Vec<Hook>>,
    /// Time namespace offsets: clock name (`monotonic`, `boottime`) → (secs, nanosecs).
    #[serde(default)]
    pub time_offsets: BTreeMap<String, (i64, u32)>,
    /// `linux.netDevices`: host network interfaces moved into the container's network
    /// namespace, by their name in the runtime's namespace → their name in the container
    /// (the same when `name` is not given).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub net_devices: BTreeMap<String, String>,
    /// Parent death signal of the init process (0 = none).
    #[serde(default)]
    pub parent_death_signal: i32,
    /// Annotations of the bundle (`key=value` labels in runc).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Absolute path of the bundle directory (empty when built by hand).
    #[serde(default)]
    pub bundle: PathBuf,
    /// Intel RDT (`linux.intelRdt`): the resctrl groups of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<crate::rdt::IntelRdt>,
    /// The runtime runs with a non-root effective uid (runc's `RootlessEUID`): the container
    /// needs a user namespace, id maps beyond the caller's own ids go through
    /// `newuidmap`/`newgidmap`, and device nodes are bind-mounted. See [`crate::rootless`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rootless_euid: bool,
    /// Cgroup permission errors are tolerated when no resources are asked for (runc's
    /// `RootlessCgroups`). See [`crate::rootless`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rootless_cgroups: bool,
}

impl Config {
    /// The namespace entry of a type, if the config has one.
    pub fn namespace(&self, typ: NamespaceType) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.typ == typ)
    }

    /// Whether the container has a namespace of this type (new or joined).
    pub fn has_namespace(&self, typ: NamespaceType) -> bool {
        self.namespace(typ).is_some()
    }

    /// Whether the container gets a *new* namespace of this type.
    pub fn new_namespace(&self, typ: NamespaceType) -> bool {
        self.namespace(typ).is_some_and(|n| n.path.is_none())
    }

    /// Maps a container uid to the host uid through the uid mappings (identity without a user
    /// namespace). `None` when the id is not mapped.
    pub fn host_uid(&self, id: u32) -> Option<u32> {
        map_id(
            &self.uid_mappings,
            self.has_namespace(NamespaceType::User),
            id,
        )
    }

    /// Maps a container gid to the host gid through the gid mappings.
    pub fn host_gid(&self, id: u32) -> Option<u32> {
        map_id(
            &self.gid_mappings,
            self.has_namespace(NamespaceType::User),
            id,
        )
    }
}

fn map_id(maps: &[IdMap], userns: bool, id: u32) -> Option<u32> {
    if !userns {
        return Some(id);
    }
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id)?;
        // checked: the mappings may not have been validated yet (from_oci maps device owners).
        (off < m.size).then(|| m.host_id.checked_add(off)).flatten()
    })
}

/// `linux.personality`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Personality {
    /// `LINUX` or `LINUX32`.
    pub domain: String,
    /// Flags (none is supported, as with runc).
    #[serde(default)]
    pub flags: Vec<String>,
}

/// `process.scheduler`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scheduler {
    /// `SCHED_OTHER`, `SCHED_FIFO`, `SCHED_RR`, `SCHED_BATCH`, `SCHED_ISO`, `SCHED_IDLE`,
    /// `SCHED_DEADLINE`.
    pub policy: String,
    /// Nice value.
    #[serde(default)]
    pub nice: i32,
    /// Static priority.
    #[serde(default)]
    pub priority: i32,
    /// `SCHED_FLAG_*` names.
    #[serde(default)]
    pub flags: Vec<String>,
    /// DEADLINE runtime (ns).
    #[serde(default)]
    pub runtime: u64,
    /// DEADLINE deadline (ns).
    #[serde(default)]
    pub deadline: u64,
    /// DEADLINE period (ns).
    #[serde(default)]
    pub period: u64,
}

/// `process.ioPriority`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IoPriority {
    /// `IOPRIO_CLASS_RT`, `IOPRIO_CLASS_BE` or `IOPRIO_CLASS_IDLE`.
    pub class: String,
    /// Priority within the class (0-7).
    #[serde(default)]
    pub priority: i32,
}

/// `linux.memoryPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryPolicy {
    /// `MPOL_DEFAULT`, `MPOL_BIND`, ...
    pub mode: String,
    /// Node list (`0-3,7`).
    #[serde(default)]
    pub nodes: String,
    /// `MPOL_F_*` names.
    #[serde(default)]
    pub flags: Vec<String>,
}
