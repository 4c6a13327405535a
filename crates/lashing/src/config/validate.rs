//! Validation of a [`Config`]: runc's `configs/validate` checks, plus the process checks that
//! runc makes when it starts a process.

use std::collections::HashSet;
use std::path::{Component, Path};

use super::capabilities::CAP_LAST;
use super::error::ConfigError;
use super::from_oci::clean_path;
use super::model::*;
use super::rlimits::ALL_RLIMITS;

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
        self.check_mounts()?;
        self.check_devices()?;
        self.check_hooks()?;
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
            if m.id_mapping.is_some() {
                if !m.is_bind() {
                    return Err(ConfigError::invalid(
                        format!("{field}.options"),
                        format!(
                            "id-mapped mount of type {:?}: idmap/ridmap and uidMappings/gidMappings need a bind mount",
                            m.device
                        ),
                    ));
                }
                return Err(ConfigError::unsupported(
                    format!("{field}.options"),
                    format!("id-mapped mount of {:?}", m.source),
                ));
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
            if !matches!(d.typ, 'c' | 'b' | 'u' | 'p') {
                return Err(ConfigError::invalid(
                    format!("linux.devices[{i}].type"),
                    format!("{:?} is not a device node type (c, b, u or p)", d.typ),
                ));
            }
        }
        for (i, r) in self.cgroup.device_rules.iter().enumerate() {
            if !matches!(r.typ, 'a' | 'c' | 'b') {
                return Err(ConfigError::invalid(
                    format!("linux.resources.devices[{i}].type"),
                    format!("{:?} is not a device rule type (a, c or b)", r.typ),
                ));
            }
            if r.permissions.chars().any(|c| !"rwm".contains(c)) {
                return Err(ConfigError::invalid(
                    format!("linux.resources.devices[{i}].access"),
                    format!("{:?} is not a subset of \"rwm\"", r.permissions),
                ));
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

/// The kernel's `NGROUPS_MAX`: the most supplementary groups `setgroups(2)` accepts.
pub const NGROUPS_MAX: usize = 65536;

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

/// Checks a process about to be started (`create`, `run`, `exec`): `args` must not be empty,
/// plus everything [`Config::validate`] checks on a process: `cwd` absolute, `env` entries of
/// the form `KEY=value` with a non-empty name and (for the last entry of each name, the one that
/// counts) no NUL byte, as runc; no NUL bytes in `args`, at most [`NGROUPS_MAX`] additional gids,
/// known rlimits with soft ≤ hard, known capabilities, a umask of at most `0o777` and
/// `oom_score_adj` in -1000..=1000.
pub fn validate_process(p: &ProcessConfig) -> Result<(), ConfigError> {
    if p.args.is_empty() {
        return Err(ConfigError::invalid(
            "process.args",
            "empty: there is no program to run",
        ));
    }
    check_process(p)
}

/// runc's `prepareEnv` rules: every entry is `NAME=value` with a non-empty name; of several
/// entries with one name only the last counts (the others are dropped), and it must not contain a
/// NUL byte. The reasons carry runc's texts.
fn check_env(p: &ProcessConfig) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, e) in p.env.iter().enumerate().rev() {
        let field = || format!("process.env[{i}]");
        let Some((name, _)) = e.split_once('=') else {
            return Err(ConfigError::invalid(
                field(),
                format!("{e:?}: invalid environment variable: missing '=' (expected NAME=value)"),
            ));
        };
        if name.is_empty() {
            return Err(ConfigError::invalid(
                field(),
                format!("{e:?}: invalid environment variable: name cannot be empty"),
            ));
        }
        if seen.insert(name) && e.contains('\0') {
            return Err(ConfigError::invalid(
                field(),
                format!("invalid environment variable {name:?}: contains a NUL byte (\\x00)"),
            ));
        }
    }
    Ok(())
}

fn check_process(p: &ProcessConfig) -> Result<(), ConfigError> {
    if !p.cwd.is_absolute() {
        return Err(ConfigError::invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", p.cwd),
        ));
    }
    for (i, a) in p.args.iter().enumerate() {
        if a.contains('\0') {
            return Err(ConfigError::invalid(
                format!("process.args[{i}]"),
                format!("{a:?} contains a NUL byte"),
            ));
        }
    }
    check_env(p)?;
    if p.user.additional_gids.len() > NGROUPS_MAX {
        return Err(ConfigError::invalid(
            "process.user.additionalGids",
            format!(
                "{} groups: more than the kernel's limit of {NGROUPS_MAX} (NGROUPS_MAX)",
                p.user.additional_gids.len()
            ),
        ));
    }
    for (i, r) in p.rlimits.iter().enumerate() {
        let Some(name) = ALL_RLIMITS.get(r.resource as usize) else {
            return Err(ConfigError::invalid(
                format!("process.rlimits[{i}].type"),
                format!("unknown resource number {}", r.resource),
            ));
        };
        if r.soft > r.hard {
            return Err(ConfigError::invalid(
                format!("process.rlimits[{i}]"),
                format!(
                    "{name}: soft limit {} is above hard limit {}",
                    r.soft, r.hard
                ),
            ));
        }
    }
    if let Some(caps) = &p.capabilities {
        for (set, list) in [
            ("bounding", &caps.bounding),
            ("effective", &caps.effective),
            ("inheritable", &caps.inheritable),
            ("permitted", &caps.permitted),
            ("ambient", &caps.ambient),
        ] {
            if let Some(bad) = list.iter().find(|c| **c > CAP_LAST) {
                return Err(ConfigError::invalid(
                    format!("process.capabilities.{set}"),
                    format!("unknown capability number {bad}"),
                ));
            }
        }
    }
    if let Some(umask) = p.user.umask
        && umask > 0o777
    {
        return Err(ConfigError::invalid(
            "process.user.umask",
            format!("{umask:#o} is not a file mode mask"),
        ));
    }
    if let Some(adj) = p.oom_score_adj
        && !(-1000..=1000).contains(&adj)
    {
        return Err(ConfigError::invalid(
            "process.oomScoreAdj",
            format!("{adj} is outside -1000..=1000"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::example::example_spec_json;
    use super::super::from_oci::CreateOpts;
    use super::*;
    use std::path::PathBuf;

    /// A valid config (the converted example spec) with a real rootfs.
    fn valid() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(real.join("rootfs")).unwrap();
        let spec: oci_spec::runtime::Spec = serde_json::from_value(example_spec_json()).unwrap();
        let c = Config::from_oci(
            &spec,
            &CreateOpts {
                bundle: real,
                ..CreateOpts::default()
            },
        )
        .unwrap();
        c.validate().expect("the example must be valid");
        (dir, c)
    }

    #[track_caller]
    fn fails(c: &Config, field: &str, needle: &str) {
        let e = c.validate().expect_err("must fail");
        assert_eq!(e.field(), Some(field), "{e}");
        assert!(e.to_string().contains(needle), "{e:?} lacks {needle:?}");
    }

    fn without_ns(c: &mut Config, typ: NamespaceType) {
        c.namespaces.retain(|n| n.typ != typ);
    }

    fn add_ns(c: &mut Config, typ: NamespaceType, path: Option<&str>) {
        without_ns(c, typ);
        c.namespaces.push(Namespace {
            typ,
            path: path.map(PathBuf::from),
        });
    }

    #[test]
    fn rootfs() {
        let (dir, c) = valid();
        let mut bad = c.clone();
        bad.rootfs = "rootfs".into();
        fails(&bad, "root.path", "not an absolute path");
        bad.rootfs = PathBuf::new();
        fails(&bad, "root.path", "empty");
        bad.rootfs = c.rootfs.join("missing");
        assert!(matches!(bad.validate(), Err(ConfigError::Access { .. })));
        let file = c.rootfs.with_file_name("file");
        std::fs::write(&file, "").unwrap();
        bad.rootfs = file;
        fails(&bad, "root.path", "not a directory");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&c.rootfs, &link).unwrap();
        bad.rootfs = std::fs::canonicalize(dir.path()).unwrap().join("link");
        fails(&bad, "root.path", "symlinks");
        // A `.` component is harmless (runc compares cleaned paths).
        let mut ok = c.clone();
        ok.rootfs = c.rootfs.parent().unwrap().join(".").join("rootfs");
        ok.validate().unwrap();
    }

    #[test]
    fn namespaces() {
        let (_d, c) = valid();
        let mut bad = c.clone();
        bad.namespaces.push(Namespace {
            typ: NamespaceType::Pid,
            path: None,
        });
        let e = bad.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.namespaces[5]: duplicate namespace \"pid\""
        );
        let mut bad = c.clone();
        bad.namespaces[1].path = Some("run/netns/x".into());
        fails(&bad, "linux.namespaces[1].path", "run/netns/x");
        let mut ok = c.clone();
        ok.namespaces[1].path = Some("/run/netns/x".into());
        ok.validate().unwrap();
    }

    #[test]
    fn user_namespace() {
        let (_d, c) = valid();
        let map = IdMap {
            container_id: 0,
            host_id: 100000,
            size: 65536,
        };
        let mut bad = c.clone();
        add_ns(&mut bad, NamespaceType::User, None);
        fails(&bad, "linux.uidMappings", "mappings");
        bad.uid_mappings = vec![map];
        fails(&bad, "linux.gidMappings", "mappings");
        bad.gid_mappings = vec![map];
        bad.validate().unwrap();
        bad.gid_mappings[0].size = 0;
        fails(&bad, "linux.gidMappings[0]", "invalid mapping 0 100000 0");
        bad.gid_mappings[0] = IdMap {
            container_id: 0,
            host_id: u32::MAX,
            size: 2,
        };
        fails(&bad, "linux.gidMappings[0]", "invalid mapping");

        let mut joined = c.clone();
        add_ns(&mut joined, NamespaceType::User, Some("/proc/1/ns/user"));
        joined.validate().unwrap();

        let mut bad = c.clone();
        bad.uid_mappings = vec![map];
        fails(&bad, "linux.uidMappings", "no user namespace");
    }

    #[test]
    fn time_namespace() {
        let (_d, c) = valid();
        let mut bad = c.clone();
        bad.time_offsets.insert("monotonic".into(), (5, 0));
        fails(&bad, "linux.timeOffsets", "no time namespace");
        add_ns(&mut bad, NamespaceType::Time, Some("/proc/1/ns/time"));
        fails(&bad, "linux.timeOffsets", "/proc/1/ns/time");
        add_ns(&mut bad, NamespaceType::Time, None);
        bad.validate().unwrap();
        bad.time_offsets.insert("realtime".into(), (1, 0));
        fails(&bad, "linux.timeOffsets", "realtime");
        bad.time_offsets.remove("realtime");
        bad.time_offsets
            .insert("boottime".into(), (1, 1_000_000_000));
        fails(&bad, "linux.timeOffsets.boottime.nanosecs", "1000000000");
    }

    #[test]
    fn uts() {
        let (_d, c) = valid();
        let mut bad = c.clone();
        without_ns(&mut bad, NamespaceType::Uts);
        fails(&bad, "hostname", "\"runc\"");
        bad.hostname = None;
        bad.validate().unwrap();
        bad.domainname = Some("example.org".into());
        fails(&bad, "domainname", "example.org");
        let mut ok = c.clone();
        ok.domainname = Some("example.org".into());
        ok.validate().unwrap();
    }

    #[test]
    fn masked_and_readonly_paths() {
        let (_d, c) = valid();
        let mut bad = c.clone();
        without_ns(&mut bad, NamespaceType::Mount);
        bad.mounts.clear();
        fails(&bad, "linux.maskedPaths", "mount namespace");
        bad.masked_paths.clear();
        fails(&bad, "linux.readonlyPaths", "mount namespace");
        bad.readonly_paths.clear();
        bad.validate().unwrap();
        let mut bad = c.clone();
        bad.masked_paths.push("proc/x".into());
        fails(&bad, "linux.maskedPaths[10]", "proc/x");
    }

    fn with_sysctl(c: &Config, key: &str) -> Config {
        let mut c = c.clone();
        c.sysctl.insert(key.into(), "1".into());
        c
    }

    #[test]
    fn sysctls() {
        let (_d, c) = valid();
        for key in ["kernel.shmmax", "fs.mqueue.msg_max", "kernel/sem"] {
            with_sysctl(&c, key).validate().unwrap();
            let mut bad = with_sysctl(&c, key);
            without_ns(&mut bad, NamespaceType::Ipc);
            fails(&bad, &format!("linux.sysctl[{key:?}]"), "IPC namespace");
        }

        for key in ["net.ipv4.ip_forward", "net/ipv4/conf/eth0.100/rp_filter"] {
            with_sysctl(&c, key).validate().unwrap();
            let mut bad = with_sysctl(&c, key);
            without_ns(&mut bad, NamespaceType::Network);
            fails(&bad, &format!("linux.sysctl[{key:?}]"), "network namespace");
            // Joining our own network namespace is the host's.
            add_ns(&mut bad, NamespaceType::Network, Some("/proc/self/ns/net"));
            fails(&bad, &format!("linux.sysctl[{key:?}]"), "network namespace");
            add_ns(&mut bad, NamespaceType::Network, Some("/nonexistent/net"));
            assert!(matches!(bad.validate(), Err(ConfigError::Access { .. })));
        }

        with_sysctl(&c, "kernel.domainname").validate().unwrap();
        fails(
            &with_sysctl(&c, "kernel.hostname"),
            "linux.sysctl[\"kernel.hostname\"]",
            "hostname",
        );
        let mut bad = with_sysctl(&c, "kernel.domainname");
        without_ns(&mut bad, NamespaceType::Uts);
        bad.hostname = None;
        fails(
            &bad,
            "linux.sysctl[\"kernel.domainname\"]",
            "not in a separate",
        );

        let mut user = with_sysctl(&c, "user.max_user_namespaces");
        fails(
            &user,
            "linux.sysctl[\"user.max_user_namespaces\"]",
            "not in a separate",
        );
        add_ns(&mut user, NamespaceType::User, Some("/proc/1/ns/user"));
        user.validate().unwrap();

        fails(
            &with_sysctl(&c, "vm.swappiness"),
            "linux.sysctl[\"vm.swappiness\"]",
            "vm.swappiness",
        );
    }

    #[test]
    fn sysctl_separators() {
        assert_eq!(sysctl_dots("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
        assert_eq!(sysctl_dots("net/ipv4/ip_forward"), "net.ipv4.ip_forward");
        assert_eq!(
            sysctl_dots("net/ipv4/conf/eno2.100/rp_filter"),
            "net.ipv4.conf.eno2/100.rp_filter"
        );
        assert_eq!(
            sysctl_dots("net.ipv4.conf.eno2/100.rp_filter"),
            "net.ipv4.conf.eno2/100.rp_filter"
        );
        assert_eq!(sysctl_dots("plain"), "plain");
        assert_eq!(sysctl_dots(""), "");
    }

    #[test]
    fn mounts() {
        let (_d, c) = valid();
        let mut bad = c.clone();
        bad.mounts[0].destination = "proc".into();
        fails(&bad, "mounts[0].destination", "\"proc\"");
        bad.mounts[0].destination = "/a/../../proc".into();
        fails(&bad, "mounts[0].destination", "..");
        let mut ok = c.clone();
        ok.mounts[0].destination = "/a/../proc".into();
        ok.validate().unwrap();

        let bind = Mount {
            source: "/host/data".into(),
            destination: "/data".into(),
            device: "bind".into(),
            flags: ms(libc::MS_BIND | libc::MS_REC),
            cleared_flags: 0,
            propagation_flags: vec![],
            data: String::new(),
            rec_attr: None,
            extensions: 0,
            id_mapping: None,
        };
        let mut ok = c.clone();
        ok.mounts.push(bind.clone());
        ok.validate().unwrap();

        let mut bad = c.clone();
        bad.mounts.push(Mount {
            source: "data".into(),
            ..bind.clone()
        });
        fails(&bad, "mounts[7].source", "absolute");

        let idmap = Some(MountIdMapping {
            recursive: false,
            uid_mappings: vec![],
            gid_mappings: vec![],
        });
        let mut bad = c.clone();
        bad.mounts[1].id_mapping = idmap.clone();
        fails(&bad, "mounts[1].options", "need a bind mount");
        let mut bad = c.clone();
        bad.mounts.push(Mount {
            id_mapping: idmap,
            ..bind.clone()
        });
        let e = bad.validate().unwrap_err();
        assert!(matches!(e, ConfigError::Unsupported { .. }), "{e}");

        let mut bad = c.clone();
        bad.mounts.push(Mount {
            rec_attr: Some(RecAttr {
                attr_set: libc::MOUNT_ATTR_IDMAP,
                attr_clr: 0,
            }),
            ..bind
        });
        fails(&bad, "mounts[7].options", "MOUNT_ATTR_IDMAP");
    }

    fn ms(f: libc::c_ulong) -> u64 {
        super::super::mount_opts::ms(f)
    }

    #[test]
    fn devices_and_hooks() {
        let (_d, c) = valid();
        let mut bad = c.clone();
        bad.devices[0].path = "dev/null".into();
        fails(&bad, "linux.devices[0].path", "dev/null");
        let mut bad = c.clone();
        bad.devices[0].typ = 'a';
        fails(&bad, "linux.devices[0].type", "'a'");
        let mut bad = c.clone();
        bad.cgroup.device_rules[0].permissions = "rwx".into();
        fails(&bad, "linux.resources.devices[0].access", "rwx");
        let mut bad = c.clone();
        bad.cgroup.device_rules[0].typ = 'p';
        fails(&bad, "linux.resources.devices[0].type", "'p'");

        let hook = Hook {
            path: "/bin/true".into(),
            args: vec![],
            env: vec![],
            timeout: Some(3),
        };
        let mut ok = c.clone();
        ok.hooks.insert(HookKind::CreateRuntime, vec![hook.clone()]);
        ok.validate().unwrap();
        let mut bad = c.clone();
        bad.hooks.insert(
            HookKind::CreateRuntime,
            vec![Hook {
                path: "true".into(),
                ..hook.clone()
            }],
        );
        fails(&bad, "hooks.createRuntime[0].path", "\"true\"");
        bad.hooks.insert(
            HookKind::CreateRuntime,
            vec![Hook {
                timeout: Some(0),
                ..hook
            }],
        );
        fails(&bad, "hooks.createRuntime[0].timeout", "greater than zero");
        bad.hooks.get_mut(&HookKind::CreateRuntime).unwrap()[0].timeout = Some(u64::MAX);
        fails(&bad, "hooks.createRuntime[0].timeout", "maximum");
        bad.hooks.get_mut(&HookKind::CreateRuntime).unwrap()[0].timeout = Some(MAX_HOOK_TIMEOUT);
        bad.validate().unwrap();
    }

    /// runc's environment rules, with runc's texts.
    #[test]
    fn env_as_runc() {
        let (_d, c) = valid();
        let with = |extra: &[&str]| {
            let mut c = c.clone();
            c.process.env.extend(extra.iter().map(|s| s.to_string()));
            c
        };
        fails(&with(&["=x"]), "process.env[2]", "name cannot be empty");
        fails(&with(&["="]), "process.env[2]", "name cannot be empty");
        fails(&with(&["NOEQ"]), "process.env[2]", "missing '='");
        fails(
            &with(&["A=x\0y"]),
            "process.env[2]",
            "\"A\": contains a NUL byte",
        );
        fails(&with(&["A\0=y"]), "process.env[2]", "NUL");
        // Only the last of several entries of one name counts (runc drops the others).
        with(&["A=x\0y", "A=1"]).validate().unwrap();
        fails(&with(&["A=1", "A=x\0y"]), "process.env[3]", "NUL");
        // But a missing '=' or name is an error wherever it is.
        fails(
            &with(&["=x", "A=1"]),
            "process.env[2]",
            "name cannot be empty",
        );
        with(&["A=", "B==", "C=a=b"]).validate().unwrap();
        let e = validate_process(&with(&["=x"]).process).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.env[2]: \"=x\": invalid environment variable: name cannot be empty"
        );
    }

    /// More supplementary groups than setgroups(2) takes is an error of validation.
    #[test]
    fn additional_gids_limit() {
        let (_d, c) = valid();
        let mut ok = c.clone();
        ok.process.user.additional_gids = (0..NGROUPS_MAX as u32).collect();
        ok.validate().unwrap();
        let mut bad = ok.clone();
        bad.process.user.additional_gids.push(7);
        fails(&bad, "process.user.additionalGids", "65537 groups");
        let e = validate_process(&bad.process).unwrap_err();
        assert!(e.to_string().contains("NGROUPS_MAX"), "{e}");
        assert!(e.to_string().contains("65536"), "{e}");
    }

    #[test]
    fn process() {
        let (_d, c) = valid();
        let check = |f: &dyn Fn(&mut ProcessConfig), field: &str, needle: &str| {
            let mut bad = c.clone();
            f(&mut bad.process);
            fails(&bad, field, needle);
            let e = validate_process(&bad.process).unwrap_err();
            assert_eq!(e.field(), Some(field));
        };
        check(&|p| p.cwd = "work".into(), "process.cwd", "\"work\"");
        check(
            &|p| p.env.push("NOEQUALS".into()),
            "process.env[2]",
            "NOEQUALS",
        );
        check(&|p| p.env.push("A=\0".into()), "process.env[2]", "NUL");
        check(&|p| p.args.push("a\0b".into()), "process.args[1]", "NUL");
        check(
            &|p| {
                p.rlimits[0].soft = 2048;
            },
            "process.rlimits[0]",
            "RLIMIT_NOFILE: soft limit 2048 is above hard limit 1024",
        );
        check(
            &|p| p.rlimits[0].resource = 16,
            "process.rlimits[0].type",
            "16",
        );
        check(
            &|p| p.oom_score_adj = Some(1001),
            "process.oomScoreAdj",
            "1001",
        );
        check(
            &|p| p.oom_score_adj = Some(-1001),
            "process.oomScoreAdj",
            "-1001",
        );
        check(
            &|p| p.user.umask = Some(0o1777),
            "process.user.umask",
            "0o1777",
        );
        check(
            &|p| p.capabilities.as_mut().unwrap().ambient.push(41),
            "process.capabilities.ambient",
            "41",
        );

        let mut ok = c.clone();
        ok.process.oom_score_adj = Some(-1000);
        ok.process.rlimits[0].soft = 1024;
        ok.process.env.push("EMPTY=".into());
        ok.validate().unwrap();
        validate_process(&ok.process).unwrap();

        // An empty argv is fine for the library's config, not for a process to start.
        let mut no_args = c.clone();
        no_args.process.args.clear();
        no_args.validate().unwrap();
        let e = validate_process(&no_args.process).unwrap_err();
        assert_eq!(e.field(), Some("process.args"));

        // A config without a process skips the process checks.
        let mut none = c.clone();
        none.process = ProcessConfig::default();
        none.validate().unwrap();
    }

    #[test]
    fn escaping_paths() {
        assert!(escapes_root(Path::new("/..")));
        assert!(escapes_root(Path::new("/a/../..")));
        assert!(escapes_root(Path::new("/a/../../b")));
        assert!(!escapes_root(Path::new("/a/..")));
        assert!(!escapes_root(Path::new("/a/./b/../c")));
        assert!(!escapes_root(Path::new("/")));
    }
}
