//! Validation of a [`Config`]: runc's `configs/validate` checks, plus the process checks that
//! runc makes when it starts a process.

use std::collections::HashSet;
use std::path::{Component, Path};

use super::error::ConfigError;
use super::paths::clean_path;
use crate::config::{Config, HookKind, Namespace, NamespaceType, ProcessConfig};

/// IPC-namespaced sysctls (besides `fs.mqueue.*`), from runc's validator.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The clocks whose offsets a time namespace can shift.
const TIME_CLOCKS: [&str; 2] = ["monotonic", "boottime"];

impl Config {
    /// Checks the configuration as runc's validator does: the rootfs (absolute, an existing
    /// directory, no symlink in its path), namespaces (no duplicates, absolute paths, user
    /// namespace mappings, time offsets), hostname and domain name, masked and read-only paths,
    /// sysctls, mounts, devices, hooks and, when the config has a process, the process fields
    /// (see [`validate_process`], except that an empty `args` is accepted here).
    ///
    /// Errors name the field and the value, e.g. `linux.namespaces[1]: duplicate namespace "pid"`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_rootfs()?;
        self.check_namespaces()?;
        self.check_uts()?;
        self.check_paths()?;
        self.check_sysctl()?;
        self.check_rootless()?;
        self.check_mounts()?;
        self.check_devices()?;
        self.check_net_devices()?;
        self.check_hooks()?;
        if let Some(rdt) = &self.intel_rdt {
            rdt.validate()
                .map_err(|e| ConfigError::invalid("linux.intelRdt", e.to_string()))?;
        }
        if self.process != ProcessConfig::default() {
            check_process(&self.process)?;
        }
        Ok(())
    }

    fn check_rootfs(&self) -> Result<(), ConfigError> {
        let root = &self.rootfs;
        if root.as_os_str().is_empty() {
            return Err(ConfigError::invalid("root.path", "empty"));
        }
        if !root.is_absolute() {
            return Err(ConfigError::invalid(
                "root.path",
                format!("{root:?} is not an absolute path"),
            ));
        }
        let access = |source| ConfigError::Access {
            field: "root.path".into(),
            path: root.clone(),
            source,
        };
        let meta = std::fs::metadata(root).map_err(access)?;
        if !meta.is_dir() {
            return Err(ConfigError::invalid(
                "root.path",
                format!("{root:?} is not a directory"),
            ));
        }
        let real = std::fs::canonicalize(root).map_err(access)?;
        if real != clean_path(root) {
            return Err(ConfigError::invalid(
                "root.path",
                format!("{root:?} resolves to {real:?}: the path must not contain symlinks"),
            ));
        }
        Ok(())
    }

    fn check_namespaces(&self) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for (i, ns) in self.namespaces.iter().enumerate() {
            if !seen.insert(ns.typ) {
                return Err(ConfigError::invalid(
                    format!("linux.namespaces[{i}]"),
                    format!("duplicate namespace {:?}", ns.typ.oci_name()),
                ));
            }
            if let Some(p) = &ns.path
                && !p.is_absolute()
            {
                return Err(ConfigError::invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{p:?} is not an absolute path"),
                ));
            }
        }
        for (typ, probe) in [
            (NamespaceType::User, "/proc/self/ns/user"),
            (NamespaceType::Cgroup, "/proc/self/ns/cgroup"),
            (NamespaceType::Time, "/proc/self/timens_offsets"),
        ] {
            if self.has_namespace(typ) && !Path::new(probe).exists() {
                return Err(ConfigError::unsupported(
                    "linux.namespaces",
                    format!(
                        "{:?} namespaces are not enabled in this kernel",
                        typ.oci_name()
                    ),
                ));
            }
        }

        let maps = [
            ("linux.uidMappings", &self.uid_mappings),
            ("linux.gidMappings", &self.gid_mappings),
        ];
        match self.namespace(NamespaceType::User) {
            None => {
                for (field, m) in maps {
                    if !m.is_empty() {
                        return Err(ConfigError::invalid(
                            field,
                            "mappings are given but the config has no user namespace",
                        ));
                    }
                }
            }
            Some(ns) => {
                if ns.path.is_none() {
                    for (field, m) in maps {
                        if m.is_empty() {
                            return Err(ConfigError::invalid(
                                field,
                                "a new user namespace needs uid and gid mappings (or a namespace path to join)",
                            ));
                        }
                    }
                }
                for (field, m) in maps {
                    for (i, map) in m.iter().enumerate() {
                        let ok = map.size > 0
                            && map.container_id.checked_add(map.size - 1).is_some()
                            && map.host_id.checked_add(map.size - 1).is_some();
                        if !ok {
                            return Err(ConfigError::invalid(
                                format!("{field}[{i}]"),
                                format!(
                                    "invalid mapping {} {} {}",
                                    map.container_id, map.host_id, map.size
                                ),
                            ));
                        }
                    }
                }
            }
        }

        if !self.time_offsets.is_empty() {
            match self.namespace(NamespaceType::Time) {
                None => {
                    return Err(ConfigError::invalid(
                        "linux.timeOffsets",
                        "offsets are given but the config has no time namespace",
                    ));
                }
                Some(Namespace { path: Some(p), .. }) => {
                    return Err(ConfigError::invalid(
                        "linux.timeOffsets",
                        format!("offsets cannot be applied to the joined time namespace {p:?}"),
                    ));
                }
                Some(_) => {}
            }
            for (clock, (_, nanos)) in &self.time_offsets {
                if !TIME_CLOCKS.contains(&clock.as_str()) {
                    return Err(ConfigError::invalid(
                        "linux.timeOffsets",
                        format!("unknown clock {clock:?} (expected \"monotonic\" or \"boottime\")"),
                    ));
                }
                if *nanos >= 1_000_000_000 {
                    return Err(ConfigError::invalid(
                        format!("linux.timeOffsets.{clock}.nanosecs"),
                        format!("{nanos} is not below one second"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// runc's `rootlessEUIDCheck`: a runtime without root needs a user namespace with maps (or
    /// one to join), and `uid=`/`gid=` mount options must name mapped ids.
    fn check_rootless(&self) -> Result<(), ConfigError> {
        if !self.rootless_euid {
            return Ok(());
        }
        let Some(ns) = self.namespace(NamespaceType::User) else {
            return Err(ConfigError::invalid(
                "linux.namespaces",
                "rootless container requires user namespaces",
            ));
        };
        if ns.path.is_none() {
            if self.uid_mappings.is_empty() {
                return Err(ConfigError::invalid(
                    "linux.uidMappings",
                    "rootless containers requires at least one UID mapping",
                ));
            }
            if self.gid_mappings.is_empty() {
                return Err(ConfigError::invalid(
                    "linux.gidMappings",
                    "rootless containers requires at least one GID mapping",
                ));
            }
        }
        for (i, m) in self.mounts.iter().enumerate() {
            for opt in m.data.split(',') {
                let (kind, id) = match (opt.strip_prefix("uid="), opt.strip_prefix("gid=")) {
                    (Some(v), _) => ("uid", v),
                    (_, Some(v)) => ("gid", v),
                    _ => continue,
                };
                // Unknown values are left to the kernel, as runc does.
                let Ok(id) = id.parse::<u32>() else { continue };
                let mapped = if kind == "uid" {
                    self.host_uid(id)
                } else {
                    self.host_gid(id)
                };
                if mapped.is_none() {
                    return Err(ConfigError::invalid(
                        format!("mounts[{i}].options"),
                        format!(
                            "cannot specify {kind}={id} mount option for rootless container: \
                             {kind} {id} is not mapped in the user namespace"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_uts(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("hostname", &self.hostname),
            ("domainname", &self.domainname),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty())
                && !self.has_namespace(NamespaceType::Uts)
            {
                return Err(ConfigError::invalid(
                    field,
                    format!("cannot set {v:?} without a private UTS namespace"),
                ));
            }
        }
        Ok(())
    }

    fn check_paths(&self) -> Result<(), ConfigError> {
        for (field, list) in [
            ("linux.maskedPaths", &self.masked_paths),
            ("linux.readonlyPaths", &self.readonly_paths),
        ] {
            if !list.is_empty() && !self.has_namespace(NamespaceType::Mount) {
                return Err(ConfigError::invalid(
                    field,
                    format!("{:?}: needs a private mount namespace", list[0]),
                ));
            }
            for (i, p) in list.iter().enumerate() {
                if !p.is_absolute() {
                    return Err(ConfigError::invalid(
                        format!("{field}[{i}]"),
                        format!("{p:?} is not an absolute path"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_sysctl(&self) -> Result<(), ConfigError> {
        let mut host_net: Option<bool> = None;
        for key in self.sysctl.keys() {
            let s = sysctl_dots(key);
            let field = format!("linux.sysctl[{key:?}]");
            if IPC_SYSCTLS.contains(&s.as_str()) || s.starts_with("fs.mqueue.") {
                if self.has_namespace(NamespaceType::Ipc) {
                    continue;
                }
                return Err(ConfigError::invalid(
                    field,
                    format!("sysctl {s:?} is not allowed in the host's IPC namespace"),
                ));
            }
            if s.starts_with("net.") {
                let host = match host_net {
                    Some(h) => h,
                    None => {
                        let h = self.uses_host_netns()?;
                        host_net = Some(h);
                        h
                    }
                };
                if host {
                    return Err(ConfigError::invalid(
                        field,
                        format!("sysctl {s:?} is not allowed in the host's network namespace"),
                    ));
                }
                continue;
            }
            if self.has_namespace(NamespaceType::Uts) {
                match s.as_str() {
                    "kernel.domainname" => continue,
                    "kernel.hostname" => {
                        return Err(ConfigError::invalid(
                            field,
                            "sysctl \"kernel.hostname\" conflicts with the \"hostname\" field: use that",
                        ));
                    }
                    _ => {}
                }
            }
            if s.starts_with("user.") && self.has_namespace(NamespaceType::User) {
                continue;
            }
            return Err(ConfigError::invalid(
                field,
                format!("sysctl {s:?} is not in a separate kernel namespace of the container"),
            ));
        }
        Ok(())
    }

    /// Whether the container's network namespace is the caller's ("host" means "current").
    fn uses_host_netns(&self) -> Result<bool, ConfigError> {
        let Some(ns) = self.namespace(NamespaceType::Network) else {
            return Ok(true);
        };
        let Some(path) = &ns.path else {
            return Ok(false);
        };
        let idx = self
            .namespaces
            .iter()
            .position(|n| n.typ == NamespaceType::Network)
            .unwrap_or(0);
        let stat = |p: &Path| {
            rustix::fs::stat(p).map_err(|e| ConfigError::Access {
                field: format!("linux.namespaces[{idx}].path"),
                path: p.to_path_buf(),
                source: e.into(),
            })
        };
        let mine = stat(Path::new("/proc/self/ns/net"))?;
        let theirs = stat(path)?;
        Ok(mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino)
    }

    fn check_mounts(&self) -> Result<(), ConfigError> {
        for (i, m) in self.mounts.iter().enumerate() {
            let field = format!("mounts[{i}]");
            let dest = &m.destination;
            if !dest.is_absolute() {
                return Err(ConfigError::invalid(
                    format!("{field}.destination"),
                    format!("{dest:?} is not an absolute path"),
                ));
            }
            if escapes_root(dest) {
                return Err(ConfigError::invalid(
                    format!("{field}.destination"),
                    format!("{dest:?} climbs out of the container's root with \"..\""),
                ));
            }
            for (what, s) in [
                ("source", m.source.as_str()),
                ("type", m.device.as_str()),
                ("options", m.data.as_str()),
            ] {
                if s.contains('\0') {
                    return Err(ConfigError::invalid(
                        format!("{field}.{what}"),
                        format!("{s:?} contains a NUL byte"),
                    ));
                }
            }
            if m.is_bind() && !Path::new(&m.source).is_absolute() {
                return Err(ConfigError::invalid(
                    format!("{field}.source"),
                    format!(
                        "{:?}: the source of a bind mount must be an absolute path",
                        m.source
                    ),
                ));
            }
            if let Some(ra) = &m.rec_attr
                && (ra.attr_set | ra.attr_clr) & libc::MOUNT_ATTR_IDMAP != 0
            {
                return Err(ConfigError::invalid(
                    format!("{field}.options"),
                    "MOUNT_ATTR_IDMAP cannot be set as a recursive attribute: use idmap/ridmap",
                ));
            }
            if let Some(idm) = &m.id_mapping {
                // The tree is idmapped by the parent, which needs CAP_SYS_ADMIN over the source's
                // file system: a rootless caller has not (runc refuses them too).
                if self.rootless_euid {
                    return Err(ConfigError::invalid(
                        format!("{field}.options"),
                        "id-mapped mounts are not supported for rootless containers",
                    ));
                }
                if !m.is_bind() {
                    return Err(ConfigError::invalid(
                        format!("{field}.options"),
                        format!(
                            "id-mapped mount of type {:?}: idmap/ridmap and uidMappings/gidMappings need a bind mount",
                            m.device
                        ),
                    ));
                }
                // runc: "id-mapped mounts must have both uid and gid mappings specified" (an
                // idmap/ridmap mount without maps of its own takes the container's).
                if idm.userns_path.is_none()
                    && (idm.uid_mappings.is_empty() || idm.gid_mappings.is_empty())
                {
                    return Err(ConfigError::invalid(
                        format!("{field}.uidMappings"),
                        "id-mapped mounts must have both uid and gid mappings specified (idmap/ridmap without them take the container's, which has none)",
                    ));
                }
                for (what, maps) in [
                    ("uidMappings", &idm.uid_mappings),
                    ("gidMappings", &idm.gid_mappings),
                ] {
                    if let Some(bad) = maps.iter().find(|m| m.size == 0) {
                        return Err(ConfigError::invalid(
                            format!("{field}.{what}"),
                            format!("mapping of size 0 at container id {}", bad.container_id),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_devices(&self) -> Result<(), ConfigError> {
        for (i, d) in self.devices.iter().enumerate() {
            if !d.path.is_absolute() {
                return Err(ConfigError::invalid(
                    format!("linux.devices[{i}].path"),
                    format!("{:?} is not an absolute path", d.path),
                ));
            }
        }
        for (i, r) in self.cgroup.device_rules.iter().enumerate() {
            if r.permissions.chars().any(|c| !"rwm".contains(c)) {
                return Err(ConfigError::invalid(
                    format!("linux.resources.devices[{i}].access"),
                    format!("{:?} is not a subset of \"rwm\"", r.permissions),
                ));
            }
        }
        Ok(())
    }

    /// `linux.netDevices` (runc's checks and messages): a network namespace of the container's
    /// own to move them into, and valid interface names.
    fn check_net_devices(&self) -> Result<(), ConfigError> {
        if self.net_devices.is_empty() {
            return Ok(());
        }
        if !self.has_namespace(NamespaceType::Network) {
            return Err(ConfigError::invalid(
                "linux.netDevices",
                "unable to move network devices without a NET namespace",
            ));
        }
        for (host, name) in &self.net_devices {
            for n in [host, name] {
                if !valid_netdev_name(n) {
                    return Err(ConfigError::invalid(
                        format!("linux.netDevices[{host:?}]"),
                        format!("invalid network device name {n:?}"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_hooks(&self) -> Result<(), ConfigError> {
        for (kind, hooks) in &self.hooks {
            let kind = hook_field(*kind);
            for (i, h) in hooks.iter().enumerate() {
                if !h.path.is_absolute() {
                    return Err(ConfigError::invalid(
                        format!("hooks.{kind}[{i}].path"),
                        format!("{:?} is not an absolute path", h.path),
                    ));
                }
                if let Some(t) = h.timeout {
                    check_hook_timeout(&format!("hooks.{kind}[{i}].timeout"), t)?;
                }
            }
        }
        Ok(())
    }
}

/// The longest hook timeout accepted, in seconds: the longest duration Go (and so runc) can
/// represent (`i64::MAX` nanoseconds, about 292 years). Anything longer is a mistake, not a wait.
pub const MAX_HOOK_TIMEOUT: u64 = (i64::MAX as u64) / 1_000_000_000;

/// Checks a hook timeout (seconds): greater than zero and at most [`MAX_HOOK_TIMEOUT`].
pub(crate) fn check_hook_timeout(field: &str, t: u64) -> Result<(), ConfigError> {
    if t == 0 {
        return Err(ConfigError::invalid(field, "0: must be greater than zero"));
    }
    if t > MAX_HOOK_TIMEOUT {
        return Err(ConfigError::invalid(
            field,
            format!("{t}: more than the maximum of {MAX_HOOK_TIMEOUT} seconds (about 292 years)"),
        ));
    }
    Ok(())
}

fn hook_field(kind: HookKind) -> &'static str {
    kind.oci_name()
}

/// runc's `convertSysctlVariableToDotsSeparator`: a name whose first separator is `/` uses `/`
/// between components, so `.` and `/` are swapped (`net/ipv4/conf/eno2.100/rp_filter` →
/// `net.ipv4.conf.eno2/100.rp_filter`).
fn sysctl_dots(name: &str) -> String {
    match name.find(['.', '/']) {
        Some(i) if name.as_bytes()[i] == b'/' => name
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => name.to_string(),
    }
}

/// Whether a path's `..` components climb above its root (`/a/../../b`).
fn escapes_root(p: &Path) -> bool {
    let mut depth = 0usize;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                if depth == 0 {
                    return true;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    false
}

mod process;
#[cfg(test)]
mod tests;

use process::check_process;
pub use process::{NGROUPS_MAX, validate_process};

/// The kernel's `dev_valid_name`: 1 to 15 bytes (`IFNAMSIZ` - 1), not `.` or `..`, no `/`,
/// `:` or white space.
pub(crate) fn valid_netdev_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() < 16
        && n != "."
        && n != ".."
        && !n
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}
