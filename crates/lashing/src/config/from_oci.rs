//! Conversion of an OCI runtime spec into the validated model: runc's `specconv`
//! (`CreateLibcontainerConfig`) plus the process fields that runc's CLI maps in `newProcess`.
//!
//! This is the only module of lashing that sees `oci-spec` types.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime as oci;
use serde::Serialize;

use super::capabilities::{cap_from_lenient_name, cap_from_name};
use super::error::ConfigError;
use super::model::*;
use super::mount_opts::{ms, parse_mount_options, propagation_flags};
use super::rlimits::rlimit_from_name;
use super::validate::check_hook_timeout;

/// Options of `create`/`run` that shape the configuration (runc's `specconv.CreateOpts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOpts {
    /// The bundle directory (holding `config.json`); relative paths are taken from the current
    /// directory.
    pub bundle: PathBuf,
    /// `--no-pivot`: use `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot_root: bool,
    /// `--no-new-keyring`: do not create a session keyring.
    pub no_new_keyring: bool,
}

/// The device nodes runc always creates (runc's `AllowedDevices` that have a path), as
/// `(path, major, minor)`; all are char devices, mode 0666, owned by root.
const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/random", 1, 8),
    ("/dev/full", 1, 7),
    ("/dev/tty", 5, 0),
    ("/dev/zero", 1, 5),
    ("/dev/urandom", 1, 9),
];

/// runc's default device-cgroup rules (`AllowedDevices`), in runc's order: `(path of the node,
/// type, major, minor, permissions)`. A rule with a path is dropped when the spec declares a
/// device node at that path (the spec's device takes priority, as in runc's `createDevices`).
const DEFAULT_RULES: [(Option<&str>, char, i64, i64, &str); 11] = [
    (None, 'c', -1, -1, "m"),
    (None, 'b', -1, -1, "m"),
    (Some("/dev/null"), 'c', 1, 3, "rwm"),
    (Some("/dev/random"), 'c', 1, 8, "rwm"),
    (Some("/dev/full"), 'c', 1, 7, "rwm"),
    (Some("/dev/tty"), 'c', 5, 0, "rwm"),
    (Some("/dev/zero"), 'c', 1, 5, "rwm"),
    (Some("/dev/urandom"), 'c', 1, 9, "rwm"),
    (None, 'c', 136, -1, "rwm"), // /dev/pts/*
    (None, 'c', 5, 2, "rwm"),    // /dev/ptmx
    (None, 'c', 10, 200, "rwm"), // /dev/net/tun, kept for compatibility
];

impl Config {
    /// Reads `<bundle>/config.json` and converts it with [`Config::from_oci`].
    ///
    /// A missing or unreadable file gives [`ConfigError::Read`]; malformed or truncated JSON, or
    /// JSON that does not fit the OCI schema, gives [`ConfigError::Parse`] with the line and
    /// column. Unknown capability names are dropped with a warning (as runc does) rather than
    /// failing the parse.
    pub fn from_bundle(opts: &CreateOpts) -> Result<Config, ConfigError> {
        let path = opts.bundle.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let spec = parse_spec(&path, &text)?;
        // Two more parses of the file: only when someone reads debug output (`--debug`).
        if tracing::enabled!(tracing::Level::DEBUG) {
            warn_unknown_fields(&text, &spec);
        }
        Config::from_oci(&spec, opts)
    }

    /// Converts an OCI runtime spec into the model (runc's specconv).
    ///
    /// Relative paths (the rootfs, bind-mount sources) are taken relative to `opts.bundle`.
    /// Fields that lashing does not implement yet give [`ConfigError::Unsupported`] rather than
    /// being dropped. The result still has to pass [`Config::validate`].
    pub fn from_oci(spec: &oci::Spec, opts: &CreateOpts) -> Result<Config, ConfigError> {
        let bundle = clean_path(&std::path::absolute(&opts.bundle).map_err(|source| {
            ConfigError::Access {
                field: "bundle".into(),
                path: opts.bundle.clone(),
                source,
            }
        })?);
        let root = spec.root().as_ref().ok_or_else(|| {
            ConfigError::invalid("root", "missing: a root file system is required")
        })?;
        if root.path().as_os_str().is_empty() {
            return Err(ConfigError::invalid("root.path", "empty"));
        }
        check_nul("root.path", root.path().as_os_str())?;

        let mut c = Config {
            oci_version: spec.version().clone(),
            rootfs: clean_path(&bundle.join(root.path())),
            readonly_rootfs: root.readonly().unwrap_or(false),
            no_pivot_root: opts.no_pivot_root,
            no_new_keyring: opts.no_new_keyring,
            hostname: non_empty(spec.hostname()),
            domainname: non_empty(spec.domainname()),
            annotations: spec
                .annotations()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            bundle: bundle.clone(),
            ..Config::default()
        };
        warn_other_platforms(spec);

        if let Some(linux) = spec.linux() {
            convert_linux(linux, opts, &mut c)?;
        }
        if let Some(mounts) = spec.mounts() {
            for (i, m) in mounts.iter().enumerate() {
                c.mounts.push(convert_mount(i, m, &bundle)?);
            }
        }
        // idmap/ridmap mounts without mappings of their own use the container's.
        for m in &mut c.mounts {
            if let Some(idm) = &mut m.id_mapping
                && idm.uid_mappings.is_empty()
                && idm.gid_mappings.is_empty()
            {
                idm.uid_mappings = c.uid_mappings.clone();
                idm.gid_mappings = c.gid_mappings.clone();
            }
        }
        convert_devices(spec.linux().as_ref(), &mut c)?;
        if let Some(hooks) = spec.hooks() {
            c.hooks = convert_hooks(hooks)?;
        }
        if let Some(p) = spec.process() {
            c.process = convert_process(p)?;
        }
        Ok(c)
    }
}

/// Parses the text of a `config.json`.
pub(super) fn parse_spec(path: &Path, text: &str) -> Result<oci::Spec, ConfigError> {
    parse_normalized(path, text, |v| {
        if let Some(p) = v.get_mut("process") {
            normalize_process(p);
        }
    })
}

/// Parses `text` as a `T` after `normalize` has fixed up the JSON for oci-spec (names that
/// oci-spec spells differently from the OCI spec, names runc only warns about). A schema error
/// is located in the text (line and column) when parsing the text as it is gives the same error.
fn parse_normalized<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    normalize: impl FnOnce(&mut serde_json::Value),
) -> Result<T, ConfigError> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| parse_error(path, &e))?;
    normalize(&mut value);
    let err = match serde_json::from_value::<T>(value) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let message = strip_position(&err);
    match serde_json::from_str::<T>(text) {
        Err(located) if located.line() > 0 && strip_position(&located) == message => {
            Err(parse_error(path, &located))
        }
        _ => Err(ConfigError::Schema {
            path: path.to_path_buf(),
            message,
        }),
    }
}

/// The scheduler flags of the OCI spec and the oci-spec variants that stand for them (oci-spec
/// serialises some under other names, e.g. `SCHED_RESET_ON_FORK`).
const SCHED_FLAGS: [(&str, oci::LinuxSchedulerFlag); 7] = [
    (
        "SCHED_FLAG_RESET_ON_FORK",
        oci::LinuxSchedulerFlag::SchedResetOnFork,
    ),
    (
        "SCHED_FLAG_RECLAIM",
        oci::LinuxSchedulerFlag::SchedFlagReclaim,
    ),
    (
        "SCHED_FLAG_DL_OVERRUN",
        oci::LinuxSchedulerFlag::SchedFlagDLOverrun,
    ),
    (
        "SCHED_FLAG_KEEP_POLICY",
        oci::LinuxSchedulerFlag::SchedFlagKeepPolicy,
    ),
    (
        "SCHED_FLAG_KEEP_PARAMS",
        oci::LinuxSchedulerFlag::SchedFlagKeepParams,
    ),
    (
        "SCHED_FLAG_UTIL_CLAMP_MIN",
        oci::LinuxSchedulerFlag::SchedFlagUtilClampMin,
    ),
    (
        "SCHED_FLAG_UTIL_CLAMP_MAX",
        oci::LinuxSchedulerFlag::SchedFlagUtilClampMax,
    ),
];

/// The OCI spec's name of a scheduler flag.
fn sched_flag_name(f: oci::LinuxSchedulerFlag) -> &'static str {
    SCHED_FLAGS
        .iter()
        .find(|(_, v)| *v == f)
        .map_or("SCHED_FLAG_RESET_ON_FORK", |(n, _)| n)
}

/// Fixes up an OCI `process` object for oci-spec: drops unknown capability names (with a
/// warning, as runc) and spells the spec's scheduler flag names as oci-spec expects them.
fn normalize_process(process: &mut serde_json::Value) {
    drop_unknown_capabilities(process);
    if let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(|f| f.as_array_mut())
    {
        for f in flags.iter_mut() {
            if let Some((_, v)) = SCHED_FLAGS.iter().find(|(n, _)| Some(*n) == f.as_str()) {
                *f = serde_json::Value::String(serde_name(v));
            }
        }
    }
}

/// Warns about the fields of `text` that the OCI spec types do not know (and so dropped): a typo,
/// or a field newer than lashing.
fn warn_unknown_fields(text: &str, spec: &oci::Spec) {
    let (Ok(original), Ok(parsed)) = (
        serde_json::from_str::<serde_json::Value>(text),
        serde_json::to_value(spec),
    ) else {
        return;
    };
    for field in unknown_fields(&original, &parsed) {
        tracing::warn!("config.json: unknown field {field} ignored");
    }
}

/// The keys of `original` (as dotted paths) that are missing from `parsed`; `null` values do not
/// count.
fn unknown_fields(original: &serde_json::Value, parsed: &serde_json::Value) -> Vec<String> {
    fn walk(o: &serde_json::Value, p: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        use serde_json::Value;
        match (o, p) {
            (Value::Object(o), Value::Object(p)) => {
                for (k, v) in o {
                    let here = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    match p.get(k) {
                        Some(pv) => walk(v, pv, &here, out),
                        None if !v.is_null() => out.push(here),
                        None => {}
                    }
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                for (i, (ov, pv)) in o.iter().zip(p).enumerate() {
                    walk(ov, pv, &format!("{at}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(original, parsed, "", &mut out);
    out
}

fn parse_error(path: &Path, err: &serde_json::Error) -> ConfigError {
    ConfigError::Parse {
        path: path.to_path_buf(),
        line: err.line(),
        column: err.column(),
        message: strip_position(err),
    }
}

/// serde_json's message without its ` at line L column C` suffix.
fn strip_position(err: &serde_json::Error) -> String {
    let msg = err.to_string();
    match msg.rfind(" at line ") {
        Some(i) if err.line() > 0 => msg[..i].to_string(),
        _ => msg,
    }
}

/// Removes capability names unknown to lashing from `capabilities.*` of a process object, with a
/// warning for each; returns how many were removed.
fn drop_unknown_capabilities(process: &mut serde_json::Value) -> usize {
    let mut dropped = 0;
    let Some(caps) = process
        .get_mut("capabilities")
        .and_then(|c| c.as_object_mut())
    else {
        return 0;
    };
    for (set, list) in caps.iter_mut() {
        if let Some(list) = list.as_array_mut() {
            list.retain(|name| match name.as_str() {
                Some(n) if cap_from_lenient_name(n).is_none() => {
                    tracing::warn!("process.capabilities.{set}: unknown capability {n:?} ignored");
                    dropped += 1;
                    false
                }
                _ => true,
            });
        }
    }
    dropped
}

fn warn_other_platforms(spec: &oci::Spec) {
    for (name, present) in [
        ("solaris", spec.solaris().is_some()),
        ("windows", spec.windows().is_some()),
        ("vm", spec.vm().is_some()),
        ("zos", spec.zos().is_some()),
    ] {
        if present {
            tracing::warn!("{name}: configuration for another platform ignored");
        }
    }
}

fn convert_linux(linux: &oci::Linux, opts: &CreateOpts, c: &mut Config) -> Result<(), ConfigError> {
    // Fields lashing does not implement yet.
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(ConfigError::unsupported(
            "linux.netDevices",
            "moving network devices into the container",
        ));
    }
    if linux.intel_rdt().is_some() {
        return Err(ConfigError::unsupported("linux.intelRdt", "Intel RDT"));
    }
    c.memory_policy = via_json("linux.memoryPolicy", linux.memory_policy())?;
    c.personality = via_json("linux.personality", linux.personality())?;

    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let typ = namespace_type(ns.typ());
        if c.has_namespace(typ) {
            return Err(ConfigError::invalid(
                format!("linux.namespaces[{i}]"),
                format!("duplicate namespace {:?}", typ.oci_name()),
            ));
        }
        let path = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = path {
            check_nul(&format!("linux.namespaces[{i}].path"), p.as_os_str())?;
        }
        c.namespaces.push(Namespace {
            typ,
            path: path.cloned(),
        });
    }
    c.uid_mappings = id_maps(linux.uid_mappings());
    c.gid_mappings = id_maps(linux.gid_mappings());

    c.cgroup.path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(r) = linux.resources() {
        c.cgroup.resources = Some(serde_json::to_value(r).map_err(|e| {
            ConfigError::invalid("linux.resources", format!("cannot be represented: {e}"))
        })?);
        for (i, d) in r.devices().iter().flatten().enumerate() {
            let typ = match d.typ() {
                None => 'a',
                Some(t) => device_type_char(t),
            };
            let access = device_access(i, d.access().as_deref().unwrap_or(""))?;
            if typ != 'a' && typ != 'b' && typ != 'c' {
                return Err(ConfigError::invalid(
                    format!("linux.resources.devices[{i}].type"),
                    format!("{typ:?}: a device rule applies to \"a\", \"b\" or \"c\""),
                ));
            }
            c.cgroup.device_rules.push(DeviceRule {
                typ,
                major: d.major().unwrap_or(-1),
                minor: d.minor().unwrap_or(-1),
                permissions: access,
                allow: d.allow(),
            });
        }
    }

    if let Some(prop) = linux.rootfs_propagation() {
        let flags = propagation_flags(prop).ok_or_else(|| {
            ConfigError::invalid(
                "linux.rootfsPropagation",
                format!("unknown propagation {prop:?}"),
            )
        })?;
        if opts.no_pivot_root && flags & ms(libc::MS_PRIVATE) != 0 {
            return Err(ConfigError::invalid(
                "linux.rootfsPropagation",
                format!("{prop:?} is not safe without pivot_root (--no-pivot)"),
            ));
        }
        c.root_propagation = flags;
    }

    c.masked_paths = paths(linux.masked_paths());
    c.readonly_paths = paths(linux.readonly_paths());
    c.mount_label = non_empty(linux.mount_label());
    c.sysctl = linux
        .sysctl()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    c.time_offsets = linux
        .time_offsets()
        .iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                (v.secs().unwrap_or(0), v.nanosecs().unwrap_or(0)),
            )
        })
        .collect();
    if let Some(s) = linux.seccomp() {
        c.seccomp = Some(convert_seccomp(s)?);
    }
    Ok(())
}

/// The access of a device rule in canonical form (`"rwm"` order, each letter once), as runc takes
/// it: letters in any order and repeated are fine, letters other than `r`, `w` and `m` are
/// ignored (with a warning); an access that is empty or has none of them is an error.
fn device_access(i: usize, access: &str) -> Result<String, ConfigError> {
    let field = || format!("linux.resources.devices[{i}].access");
    if access.is_empty() {
        return Err(ConfigError::invalid(
            field(),
            "cannot be empty (expected letters of \"rwm\")",
        ));
    }
    let canonical: String = "rwm".chars().filter(|c| access.contains(*c)).collect();
    if canonical.is_empty() {
        return Err(ConfigError::invalid(
            field(),
            format!("{access:?} has none of the permissions \"r\", \"w\" and \"m\""),
        ));
    }
    if let Some(bad) = access.chars().find(|c| !"rwm".contains(*c)) {
        tracing::warn!(
            "{}: {access:?}: unknown permission {bad:?} ignored",
            field()
        );
    }
    Ok(canonical)
}

fn namespace_type(t: oci::LinuxNamespaceType) -> NamespaceType {
    match t {
        oci::LinuxNamespaceType::Mount => NamespaceType::Mount,
        oci::LinuxNamespaceType::Cgroup => NamespaceType::Cgroup,
        oci::LinuxNamespaceType::Uts => NamespaceType::Uts,
        oci::LinuxNamespaceType::Ipc => NamespaceType::Ipc,
        oci::LinuxNamespaceType::User => NamespaceType::User,
        oci::LinuxNamespaceType::Pid => NamespaceType::Pid,
        oci::LinuxNamespaceType::Network => NamespaceType::Network,
        oci::LinuxNamespaceType::Time => NamespaceType::Time,
    }
}

fn device_type_char(t: oci::LinuxDeviceType) -> char {
    match t {
        oci::LinuxDeviceType::A => 'a',
        oci::LinuxDeviceType::B => 'b',
        oci::LinuxDeviceType::C => 'c',
        oci::LinuxDeviceType::U => 'u',
        oci::LinuxDeviceType::P => 'p',
    }
}

fn id_maps(maps: &Option<Vec<oci::LinuxIdMapping>>) -> Vec<IdMap> {
    maps.iter()
        .flatten()
        .map(|m| IdMap {
            container_id: m.container_id(),
            host_id: m.host_id(),
            size: m.size(),
        })
        .collect()
}

/// `linux.maskedPaths` / `linux.readonlyPaths`: as runc, which applies them after it has entered
/// the root with `/` as its working directory, a relative entry is taken from `/` (and cannot
/// climb above it); an empty entry names nothing and is dropped.
fn paths(list: &Option<Vec<String>>) -> Vec<PathBuf> {
    list.iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                clean_path(&Path::new("/").join(p))
            }
        })
        .collect()
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.is_empty()).cloned()
}

fn check_nul(field: &str, s: &OsStr) -> Result<(), ConfigError> {
    if s.as_bytes().contains(&0) {
        return Err(ConfigError::invalid(
            field,
            format!("{:?} contains a NUL byte", s),
        ));
    }
    Ok(())
}

/// Go's `filepath.Clean` for absolute paths: removes `.`, empty components and resolves `..`
/// lexically (`/..` is `/`). Relative paths keep leading `..` components.
pub(crate) fn clean_path(p: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for comp in p.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(comp),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

fn convert_mount(i: usize, m: &oci::Mount, bundle: &Path) -> Result<Mount, ConfigError> {
    let field = format!("mounts[{i}]");
    check_nul(&format!("{field}.destination"), m.destination().as_os_str())?;
    if let Some(s) = m.source() {
        check_nul(&format!("{field}.source"), s.as_os_str())?;
    }
    if let Some(t) = m.typ() {
        check_nul(&format!("{field}.type"), OsStr::new(t))?;
    }
    let options = m.options().clone().unwrap_or_default();
    for (j, o) in options.iter().enumerate() {
        check_nul(&format!("{field}.options[{j}]"), OsStr::new(o))?;
    }

    let mut destination = m.destination().clone();
    if !destination.is_absolute() {
        tracing::warn!(
            "{field}.destination: relative path {:?} is deprecated, taken relative to /",
            destination
        );
        destination = Path::new("/").join(destination);
    }
    let opts = parse_mount_options(&options);
    let mut device = m.typ().clone().unwrap_or_default();
    let mut source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut flags = opts.flags;
    let bind = ms(libc::MS_BIND);
    if flags & bind != 0 || device == "bind" {
        // The "type" of a bind mount is meaningless; runc's rootfs code keys on "bind".
        device = "bind".into();
        flags |= bind;
        if !source.is_empty() && !Path::new(&source).is_absolute() {
            source = bundle.join(&source).to_string_lossy().into_owned();
        }
    }
    let mut id_mapping = opts.idmap.map(|recursive| MountIdMapping {
        recursive,
        uid_mappings: Vec::new(),
        gid_mappings: Vec::new(),
    });
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        let idm = id_mapping.get_or_insert(MountIdMapping {
            recursive: false,
            uid_mappings: Vec::new(),
            gid_mappings: Vec::new(),
        });
        idm.uid_mappings = id_maps(m.uid_mappings());
        idm.gid_mappings = id_maps(m.gid_mappings());
    }
    Ok(Mount {
        source,
        destination,
        device,
        flags,
        cleared_flags: opts.cleared_flags,
        propagation_flags: opts.propagation_flags,
        data: opts.data,
        rec_attr: opts.rec_attr,
        extensions: opts.extensions,
        id_mapping,
    })
}

/// Device nodes (runc's `createDevices`) and the default device-cgroup rules.
fn convert_devices(linux: Option<&oci::Linux>, c: &mut Config) -> Result<(), ConfigError> {
    let spec_devices: &[oci::LinuxDevice] = linux
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default();
    let in_spec = |path: &str| spec_devices.iter().any(|d| d.path() == Path::new(path));

    let mut nodes = Vec::new();
    for (path, major, minor) in DEFAULT_DEVICES {
        if !in_spec(path) {
            nodes.push(Device {
                path: path.into(),
                typ: 'c',
                major,
                minor,
                file_mode: 0o666,
                uid: 0,
                gid: 0,
            });
        }
    }
    for (i, d) in spec_devices.iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        check_nul(&format!("{field}.path"), d.path().as_os_str())?;
        let typ = device_type_char(d.typ());
        if typ == 'a' {
            return Err(ConfigError::invalid(
                format!("{field}.type"),
                "\"a\" is not a device node type (expected \"c\", \"b\", \"u\" or \"p\")",
            ));
        }
        nodes.push(Device {
            path: d.path().clone(),
            typ,
            major: d.major(),
            minor: d.minor(),
            file_mode: d.file_mode().unwrap_or(0o666) & !libc::S_IFMT,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }

    // Owners are given in the container's view: map them to the host.
    let userns = c.has_namespace(NamespaceType::User);
    let no_maps = c.uid_mappings.is_empty() && c.gid_mappings.is_empty();
    if userns && no_maps {
        if nodes.iter().any(|d| d.uid != 0 || d.gid != 0) || !nodes.is_empty() {
            tracing::debug!("joined user namespace without mappings: device owners kept as given");
        }
    } else {
        for (i, d) in nodes.iter_mut().enumerate() {
            let uid = c.host_uid(d.uid).ok_or_else(|| {
                ConfigError::invalid(
                    "linux.uidMappings",
                    format!(
                        "uid {} (owner of device {:?}, #{i}) is not mapped in the user namespace",
                        d.uid, d.path
                    ),
                )
            })?;
            let gid = c.host_gid(d.gid).ok_or_else(|| {
                ConfigError::invalid(
                    "linux.gidMappings",
                    format!(
                        "gid {} (owner of device {:?}, #{i}) is not mapped in the user namespace",
                        d.gid, d.path
                    ),
                )
            })?;
            d.uid = uid;
            d.gid = gid;
        }
    }
    c.devices = nodes;

    // The defaults come after the spec's rules, so that a leading "deny all" cannot remove them.
    for (path, typ, major, minor, perms) in DEFAULT_RULES {
        if path.is_some_and(in_spec) {
            continue;
        }
        c.cgroup.device_rules.push(DeviceRule {
            typ,
            major,
            minor,
            permissions: perms.into(),
            allow: true,
        });
    }
    // The cgroup managers apply `resources.devices`: give them the same list as runc's
    // `Resources.Devices` (the spec's rules, then the defaults).
    if let Some(serde_json::Value::Object(res)) = &mut c.cgroup.resources {
        let rules = c.cgroup.device_rules.iter().map(device_rule_json).collect();
        res.insert("devices".into(), serde_json::Value::Array(rules));
    }
    Ok(())
}

/// A device rule in the OCI `linux.resources.devices` form (no type/major/minor for wildcards).
fn device_rule_json(r: &DeviceRule) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("allow".into(), r.allow.into());
    if r.typ != 'a' {
        o.insert("type".into(), r.typ.to_string().into());
    }
    if r.major >= 0 {
        o.insert("major".into(), r.major.into());
    }
    if r.minor >= 0 {
        o.insert("minor".into(), r.minor.into());
    }
    o.insert("access".into(), r.permissions.clone().into());
    serde_json::Value::Object(o)
}

/// The serde name of an oci-spec enum (`SCMP_ACT_ERRNO`, `RLIMIT_NOFILE`, ...).
fn serde_name<T: Serialize + std::fmt::Debug>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}

fn convert_seccomp(s: &oci::LinuxSeccomp) -> Result<Seccomp, ConfigError> {
    let mut syscalls = Vec::new();
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let mut args = Vec::new();
        for (j, a) in rule.args().iter().flatten().enumerate() {
            let index = u32::try_from(a.index())
                .ok()
                .filter(|i| *i < 6)
                .ok_or_else(|| {
                    ConfigError::invalid(
                        format!("linux.seccomp.syscalls[{i}].args[{j}].index"),
                        format!("{} is not a syscall argument index (0-5)", a.index()),
                    )
                })?;
            args.push(SeccompArg {
                index,
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
                op: serde_name(&a.op()),
            });
        }
        syscalls.push(SeccompRule {
            names: rule.names().clone(),
            action: serde_name(&rule.action()),
            errno_ret: rule.errno_ret(),
            args,
        });
    }
    Ok(Seccomp {
        default_action: serde_name(&s.default_action()),
        default_errno_ret: s.default_errno_ret(),
        architectures: s.architectures().iter().flatten().map(serde_name).collect(),
        flags: s.flags().iter().flatten().map(serde_name).collect(),
        listener_path: s
            .listener_path()
            .clone()
            .filter(|p| !p.as_os_str().is_empty()),
        listener_metadata: non_empty(s.listener_metadata()),
        syscalls,
    })
}

fn convert_hooks(hooks: &oci::Hooks) -> Result<BTreeMap<HookKind, Vec<Hook>>, ConfigError> {
    #[allow(deprecated)] // prestart is deprecated by the spec but still run, as runc does
    let prestart = hooks.prestart();
    let kinds = [
        (HookKind::Prestart, "prestart", prestart),
        (
            HookKind::CreateRuntime,
            "createRuntime",
            hooks.create_runtime(),
        ),
        (
            HookKind::CreateContainer,
            "createContainer",
            hooks.create_container(),
        ),
        (
            HookKind::StartContainer,
            "startContainer",
            hooks.start_container(),
        ),
        (HookKind::Poststart, "poststart", hooks.poststart()),
        (HookKind::Poststop, "poststop", hooks.poststop()),
    ];
    let mut out = BTreeMap::new();
    for (kind, name, list) in kinds {
        let Some(list) = list else { continue };
        let mut converted = Vec::with_capacity(list.len());
        for (i, h) in list.iter().enumerate() {
            let field = format!("hooks.{name}[{i}]");
            check_nul(&format!("{field}.path"), h.path().as_os_str())?;
            let timeout = match h.timeout() {
                None => None,
                Some(t) => {
                    let field = format!("{field}.timeout");
                    let t = u64::try_from(t).map_err(|_| {
                        ConfigError::invalid(&field, format!("{t}: must be greater than zero"))
                    })?;
                    check_hook_timeout(&field, t)?;
                    Some(t)
                }
            };
            converted.push(Hook {
                path: h.path().clone(),
                args: h.args().clone().unwrap_or_default(),
                env: h.env().clone().unwrap_or_default(),
                timeout,
            });
        }
        if !converted.is_empty() {
            out.insert(kind, converted);
        }
    }
    Ok(out)
}

impl ProcessConfig {
    /// Reads an OCI `process` object from a JSON file (`runc exec -p process.json`).
    pub fn from_json_file(path: &Path) -> Result<ProcessConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let p: oci::Process = parse_normalized(path, &text, |v| {
            default_process_fields(v);
            normalize_process(v);
        })?;
        convert_process(&p)
    }
}

/// Gives the fields of a `process` object that oci-spec requires and runc does not their Go zero
/// value, as runc's JSON decoder does: no `user` (or `null`) is uid 0, gid 0; no `cwd` is empty
/// (which the caller then refuses with runc's message); `null` for the whole object is `{}`.
fn default_process_fields(v: &mut serde_json::Value) {
    if v.is_null() {
        *v = serde_json::json!({});
    }
    if let Some(o) = v.as_object_mut() {
        for (key, zero) in [
            ("user", serde_json::json!({})),
            ("cwd", serde_json::json!("")),
        ] {
            if o.get(key).is_none_or(serde_json::Value::is_null) {
                o.insert(key.to_string(), zero);
            }
        }
    }
}

/// Converts an OCI object into the model's type of the same JSON shape.
fn via_json<T: Serialize, U: serde::de::DeserializeOwned>(
    field: &str,
    v: &Option<T>,
) -> Result<Option<U>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    let json = serde_json::to_value(v).map_err(|e| ConfigError::invalid(field, e.to_string()))?;
    serde_json::from_value(json)
        .map(Some)
        .map_err(|e| ConfigError::invalid(field, e.to_string()))
}

fn convert_process(p: &oci::Process) -> Result<ProcessConfig, ConfigError> {
    let exec_cpu_affinity: Option<CpuAffinity> =
        via_json("process.execCPUAffinity", p.exec_cpu_affinity())?;
    if let Some(a) = &exec_cpu_affinity {
        for (name, list) in [("initial", &a.initial), ("final", &a.final_)] {
            if let Some(list) = list {
                parse_cpu_list(list).map_err(|reason| {
                    ConfigError::invalid(format!("process.execCPUAffinity.{name}"), reason)
                })?;
            }
        }
    }
    if p.command_line().is_some() {
        tracing::warn!("process.commandLine: Windows-only field ignored");
    }
    if p.user().username().is_some() {
        tracing::warn!("process.user.username: Windows-only field ignored");
    }

    let console_size = match p.console_size() {
        None => None,
        Some(b) => {
            let dim = |v: u64, what: &str| {
                u16::try_from(v).map_err(|_| {
                    ConfigError::invalid(
                        format!("process.consoleSize.{what}"),
                        format!("{v} is larger than {}", u16::MAX),
                    )
                })
            };
            Some((dim(b.height(), "height")?, dim(b.width(), "width")?))
        }
    };

    let mut rlimits = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let name = serde_name(&r.typ());
        let resource = rlimit_from_name(&name).ok_or_else(|| {
            ConfigError::invalid(
                format!("process.rlimits[{i}].type"),
                format!("unknown rlimit {name:?}"),
            )
        })?;
        rlimits.push(Rlimit {
            resource,
            hard: r.hard(),
            soft: r.soft(),
        });
    }

    let capabilities = p.capabilities().as_ref().map(|caps| {
        let set = |name: &str, list: &Option<oci::Capabilities>| -> Vec<u32> {
            let mut nums: Vec<u32> = list
                .iter()
                .flatten()
                .filter_map(|cap| {
                    let n = serde_name(cap);
                    let num = cap_from_name(&n);
                    if num.is_none() {
                        tracing::warn!(
                            "process.capabilities.{name}: unknown capability {n:?} ignored"
                        );
                    }
                    num
                })
                .collect();
            nums.sort_unstable();
            nums.dedup();
            nums
        };
        Capabilities {
            bounding: set("bounding", caps.bounding()),
            effective: set("effective", caps.effective()),
            inheritable: set("inheritable", caps.inheritable()),
            permitted: set("permitted", caps.permitted()),
            ambient: set("ambient", caps.ambient()),
        }
    });

    let user = p.user();
    Ok(ProcessConfig {
        args: p.args().clone().unwrap_or_default(),
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        user: User {
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
        },
        terminal: p.terminal().unwrap_or(false),
        console_size,
        rlimits,
        capabilities,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        apparmor_profile: non_empty(p.apparmor_profile()),
        selinux_label: non_empty(p.selinux_label()),
        oom_score_adj: p.oom_score_adj(),
        scheduler: p.scheduler().as_ref().map(|s| Scheduler {
            policy: serde_name(s.policy()),
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0),
            flags: s
                .flags()
                .iter()
                .flatten()
                .map(|f| sched_flag_name(*f).to_string())
                .collect(),
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
        }),
        io_priority: via_json("process.ioPriority", p.io_priority())?,
        exec_cpu_affinity,
    })
}

#[cfg(test)]
mod tests {
    use super::super::example::example_spec_json;
    use super::*;
    use serde_json::{Value, json};

    /// `exec -p`: runc accepts a process.json without `user` (root) or `cwd` (refused later
    /// with runc's message), and a `null` user.
    #[test]
    fn process_json_without_user_or_cwd_parses() {
        let dir = tempfile::tempdir().unwrap();
        for (text, cwd) in [
            (r#"{"args":["sh"],"cwd":"/"}"#, "/"),
            (r#"{"args":["sh"],"cwd":"/","user":null}"#, "/"),
            (r#"{"args":["sh"]}"#, ""),
            ("null", ""),
        ] {
            let f = dir.path().join("process.json");
            std::fs::write(&f, text).unwrap();
            let p = ProcessConfig::from_json_file(&f).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p.user, User::default(), "{text}");
            assert_eq!(p.cwd, Path::new(cwd), "{text}");
        }
    }

    fn bundle() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        dir
    }

    fn opts(dir: &Path) -> CreateOpts {
        CreateOpts {
            bundle: dir.to_path_buf(),
            ..CreateOpts::default()
        }
    }

    fn convert(v: Value) -> Result<Config, ConfigError> {
        let spec: oci::Spec = serde_json::from_value(v).expect("test spec must parse");
        Config::from_oci(&spec, &opts(Path::new("/bundle")))
    }

    /// The example spec with `patch` applied at JSON pointer `ptr`.
    fn example_with(ptr: &str, value: Value) -> Value {
        let mut v = example_spec_json();
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut v
        } else {
            v.pointer_mut(parent).expect(parent)
        };
        match target {
            Value::Object(o) => {
                o.insert(key.to_string(), value);
            }
            Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
            _ => panic!("bad pointer {ptr}"),
        }
        v
    }

    fn field_of(e: &ConfigError) -> &str {
        e.field().unwrap_or_else(|| panic!("no field in {e}"))
    }

    #[test]
    fn example_round_trips() {
        let dir = bundle();
        std::fs::write(
            dir.path().join("config.json"),
            serde_json::to_vec_pretty(&example_spec_json()).unwrap(),
        )
        .unwrap();
        let c = Config::from_bundle(&opts(dir.path())).unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(c.bundle, dir.path());
        assert_eq!(c.rootfs, dir.path().join("rootfs"));
        assert!(c.readonly_rootfs);
        assert_eq!(c.oci_version, "1.2.1");
        assert_eq!(c.hostname.as_deref(), Some("runc"));
        assert_eq!(c.domainname, None);
        let ns: Vec<_> = c.namespaces.iter().map(|n| n.typ).collect();
        use NamespaceType::*;
        assert_eq!(ns, [Pid, Network, Ipc, Uts, Mount]);
        assert!(c.namespaces.iter().all(|n| n.path.is_none()));

        assert_eq!(c.mounts.len(), 7);
        let dev = &c.mounts[1];
        assert_eq!(dev.destination, Path::new("/dev"));
        assert_eq!(dev.device, "tmpfs");
        assert_eq!(dev.flags, ms(libc::MS_NOSUID | libc::MS_STRICTATIME));
        assert_eq!(dev.data, "mode=755,size=65536k");
        let sys = &c.mounts[5];
        assert_eq!(
            sys.flags,
            ms(libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | libc::MS_RDONLY)
        );
        assert_eq!(
            c.mounts[2].data,
            "newinstance,ptmxmode=0666,mode=0620,gid=5"
        );
        assert!(c.mounts.iter().all(|m| !m.is_bind()));

        let paths: Vec<_> = c.devices.iter().map(|d| d.path.clone()).collect();
        assert_eq!(paths.len(), 6);
        assert!(paths.contains(&PathBuf::from("/dev/tty")));
        assert!(c.devices.iter().all(|d| d.file_mode == 0o666 && d.uid == 0));

        assert_eq!(c.cgroup.path, "");
        assert!(c.cgroup.resources.is_some());
        let rules = &c.cgroup.device_rules;
        assert_eq!(rules.len(), 12);
        assert_eq!(
            rules[0],
            DeviceRule {
                typ: 'a',
                major: -1,
                minor: -1,
                permissions: "rwm".into(),
                allow: false
            }
        );
        assert_eq!(
            (rules[1].typ, rules[1].major, rules[1].permissions.as_str()),
            ('c', -1, "m")
        );
        assert_eq!((rules[9].major, rules[9].minor), (136, -1));
        assert_eq!((rules[11].major, rules[11].minor), (10, 200));
        assert!(rules[1..].iter().all(|r| r.allow));

        let p = &c.process;
        assert_eq!(p.args, ["sh"]);
        assert_eq!(p.cwd, Path::new("/"));
        assert!(p.terminal && p.no_new_privileges);
        assert_eq!(p.env.len(), 2);
        assert_eq!(
            p.rlimits,
            [Rlimit {
                resource: 7,
                hard: 1024,
                soft: 1024
            }]
        );
        let caps = p.capabilities.as_ref().unwrap();
        assert_eq!(caps.bounding, [5, 10, 29]);
        assert_eq!(caps.effective, [5, 10, 29]);
        assert!(caps.inheritable.is_empty() && caps.ambient.is_empty());
        assert_eq!(c.masked_paths.len(), 10);
        assert_eq!(c.readonly_paths[3], Path::new("/proc/sys"));

        // The converted example is a valid configuration.
        let mut c = c;
        c.rootfs = real.join("rootfs");
        c.validate().unwrap();
        super::super::validate_process(&c.process).unwrap();
    }

    #[test]
    fn bundle_file_errors() {
        let dir = bundle();
        let o = opts(dir.path());
        match Config::from_bundle(&o).unwrap_err() {
            ConfigError::Read { path, source } => {
                assert_eq!(path, dir.path().join("config.json"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            e => panic!("{e}"),
        }

        let cfg = dir.path().join("config.json");
        std::fs::write(
            &cfg,
            "{\n  \"ociVersion\": \"1.2.0\",\n  \"root\": {\"path\": \"rootfs\"},,\n}",
        )
        .unwrap();
        match Config::from_bundle(&o).unwrap_err() {
            ConfigError::Parse {
                path,
                line,
                column,
                message,
            } => {
                assert_eq!(path, cfg);
                assert_eq!(line, 3);
                assert_eq!(column, 30);
                assert!(!message.contains("line"), "{message}");
            }
            e => panic!("{e}"),
        }

        // Truncated.
        let full = serde_json::to_string_pretty(&example_spec_json()).unwrap();
        std::fs::write(&cfg, &full[..full.len() / 2]).unwrap();
        let e = Config::from_bundle(&o).unwrap_err();
        assert!(
            matches!(e, ConfigError::Parse { line, .. } if line > 1),
            "{e}"
        );
        assert!(e.to_string().contains("config.json"), "{e}");

        // Empty.
        std::fs::write(&cfg, "").unwrap();
        assert!(matches!(
            Config::from_bundle(&o).unwrap_err(),
            ConfigError::Parse { line: 1, .. }
        ));

        // Valid JSON, wrong schema: located too.
        std::fs::write(&cfg, "{\n \"ociVersion\": \"1.2.0\",\n \"hostname\": 5\n}").unwrap();
        match Config::from_bundle(&o).unwrap_err() {
            ConfigError::Parse { line, message, .. } => {
                assert_eq!(line, 3);
                assert!(message.contains("invalid type"), "{message}");
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn unknown_names_in_file() {
        let dir = bundle();
        let o = opts(dir.path());
        let cfg = dir.path().join("config.json");

        let v = example_with(
            "/process/capabilities/bounding",
            json!(["CAP_KILL", "CAP_FOO", "CAP_SYS_ADMIN"]),
        );
        std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
        let c = Config::from_bundle(&o).unwrap();
        let caps = c.process.capabilities.unwrap();
        assert_eq!(caps.bounding, [5, 21], "unknown dropped, the rest kept");
        assert_eq!(caps.permitted, [5, 10, 29]);

        let v = example_with("/linux/namespaces/2", json!({"type": "bogusns"}));
        std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        match Config::from_bundle(&o).unwrap_err() {
            ConfigError::Parse { message, line, .. } => {
                assert!(message.contains("bogusns"), "{message}");
                assert!(line > 1);
            }
            e => panic!("{e}"),
        }

        let v = example_with(
            "/process/rlimits",
            json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
        );
        std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        let e = Config::from_bundle(&o).unwrap_err();
        assert!(e.to_string().contains("RLIMIT_BOGUS"), "{e}");
    }

    #[test]
    fn root_and_bundle() {
        let mut v = example_spec_json();
        v.as_object_mut().unwrap().remove("root");
        assert_eq!(field_of(&convert(v).unwrap_err()), "root");

        let c = convert(example_with("/root", json!({"path": "/abs/./root/"}))).unwrap();
        assert_eq!(c.rootfs, Path::new("/abs/root"));
        assert!(!c.readonly_rootfs);
        let c = convert(example_with("/root/path", json!("../x/rootfs"))).unwrap();
        assert_eq!(c.rootfs, Path::new("/x/rootfs"));
        let c = convert(example_with("/annotations", json!({"a": "b"}))).unwrap();
        assert_eq!(c.annotations.get("a").map(String::as_str), Some("b"));
        assert_eq!(c.bundle, Path::new("/bundle"));
        let o = CreateOpts {
            bundle: "rel".into(),
            no_pivot_root: true,
            no_new_keyring: true,
        };
        let spec: oci::Spec = serde_json::from_value(example_spec_json()).unwrap();
        let c = Config::from_oci(&spec, &o).unwrap();
        assert!(c.bundle.is_absolute() && c.bundle.ends_with("rel"));
        assert!(c.no_pivot_root && c.no_new_keyring);
    }

    #[test]
    fn namespaces() {
        let v = example_with(
            "/linux/namespaces",
            json!([{"type": "pid"}, {"type": "pid", "path": "/proc/1/ns/pid"}]),
        );
        let e = convert(v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.namespaces[1]: duplicate namespace \"pid\""
        );

        let v = example_with(
            "/linux/namespaces",
            json!([{"type": "network", "path": "/run/netns/x"}, {"type": "mount", "path": ""}]),
        );
        let c = convert(v).unwrap();
        assert_eq!(c.namespaces[0].typ, NamespaceType::Network);
        assert_eq!(
            c.namespaces[0].path.as_deref(),
            Some(Path::new("/run/netns/x"))
        );
        assert_eq!(
            c.namespaces[1].path, None,
            "empty path means a new namespace"
        );
    }

    #[test]
    fn mounts() {
        let v = example_with(
            "/mounts",
            json!([
                {"destination": "/data", "type": "none", "source": "data", "options": ["rbind", "ro"]},
                {"destination": "/x", "type": "bind", "source": "/host/x"},
                {"destination": "rel/dest", "type": "tmpfs", "source": "tmpfs",
                 "options": ["tmpcopyup", "rro", "rprivate", "size=1k"]},
                {"destination": "/ab", "type": "bind", "source": "/a", "options": ["ridmap"]}
            ]),
        );
        let c = convert(v).unwrap();
        let m = &c.mounts[0];
        assert_eq!(m.device, "bind");
        assert_eq!(m.source, "/bundle/data");
        assert_eq!(m.flags, ms(libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY));
        let m = &c.mounts[1];
        assert_eq!((m.device.as_str(), m.source.as_str()), ("bind", "/host/x"));
        assert_eq!(m.flags, ms(libc::MS_BIND), "type bind implies MS_BIND");
        let m = &c.mounts[2];
        assert_eq!(m.destination, Path::new("/rel/dest"));
        assert_eq!(m.source, "tmpfs", "non-bind sources are not paths");
        assert_eq!(m.extensions, Mount::EXT_COPYUP);
        assert_eq!(m.propagation_flags, [ms(libc::MS_PRIVATE | libc::MS_REC)]);
        assert_eq!(m.rec_attr.unwrap().attr_set, libc::MOUNT_ATTR_RDONLY);
        assert_eq!(m.data, "size=1k");
        let idm = c.mounts[3].id_mapping.as_ref().unwrap();
        assert!(idm.recursive && idm.uid_mappings.is_empty());

        let v = example_with(
            "/mounts",
            json!([{"destination": "/a\u{0}b", "type": "tmpfs", "source": "tmpfs"}]),
        );
        let e = convert(v).unwrap_err();
        assert_eq!(field_of(&e), "mounts[0].destination");
        let v = example_with(
            "/mounts",
            json!([{"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["x\u{0}"]}]),
        );
        assert_eq!(field_of(&convert(v).unwrap_err()), "mounts[0].options[0]");
    }

    #[test]
    fn idmapped_mounts_inherit_container_maps() {
        let mut v = example_with(
            "/mounts",
            json!([
                {"destination": "/a", "type": "bind", "source": "/a", "options": ["idmap"]},
                {"destination": "/b", "type": "bind", "source": "/b",
                 "uidMappings": [{"containerID": 0, "hostID": 5000, "size": 10}],
                 "gidMappings": [{"containerID": 0, "hostID": 6000, "size": 10}]}
            ]),
        );
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        let c = convert(v).unwrap();
        let a = c.mounts[0].id_mapping.as_ref().unwrap();
        assert!(!a.recursive);
        assert_eq!(a.uid_mappings, c.uid_mappings);
        assert_eq!(a.gid_mappings[0].host_id, 200000);
        let b = c.mounts[1].id_mapping.as_ref().unwrap();
        assert_eq!(b.uid_mappings[0].host_id, 5000);
        assert_eq!(b.gid_mappings[0].host_id, 6000);
    }

    #[test]
    fn rootfs_propagation() {
        let c = convert(example_with("/linux/rootfsPropagation", json!("rslave"))).unwrap();
        assert_eq!(c.root_propagation, ms(libc::MS_SLAVE | libc::MS_REC));
        let c = convert(example_with("/linux/rootfsPropagation", json!(""))).unwrap();
        assert_eq!(c.root_propagation, 0);
        let e = convert(example_with("/linux/rootfsPropagation", json!("sideways"))).unwrap_err();
        assert_eq!(field_of(&e), "linux.rootfsPropagation");
        assert!(e.to_string().contains("sideways"));

        let spec: oci::Spec =
            serde_json::from_value(example_with("/linux/rootfsPropagation", json!("rprivate")))
                .unwrap();
        let no_pivot = CreateOpts {
            bundle: "/b".into(),
            no_pivot_root: true,
            ..CreateOpts::default()
        };
        let e = Config::from_oci(&spec, &no_pivot).unwrap_err();
        assert!(e.to_string().contains("pivot_root"), "{e}");
        assert!(Config::from_oci(&spec, &opts(Path::new("/b"))).is_ok());
        let spec: oci::Spec =
            serde_json::from_value(example_with("/linux/rootfsPropagation", json!("shared")))
                .unwrap();
        assert!(Config::from_oci(&spec, &no_pivot).is_ok());
    }

    #[test]
    fn unsupported_fields() {
        for (ptr, value, field) in [
            ("/linux/intelRdt", json!({"closID": "x"}), "linux.intelRdt"),
            (
                "/linux/netDevices",
                json!({"eth1": {"name": "eth0"}}),
                "linux.netDevices",
            ),
        ] {
            let e = convert(example_with(ptr, value)).unwrap_err();
            assert!(matches!(e, ConfigError::Unsupported { .. }), "{ptr}: {e}");
            assert_eq!(field_of(&e), field);
            assert!(e.to_string().contains("not supported yet"), "{e}");
        }
        // The default personality is what every process has: accepted.
        convert(example_with(
            "/linux/personality",
            json!({"domain": "LINUX"}),
        ))
        .unwrap();
        convert(example_with("/linux/netDevices", json!({}))).unwrap();
    }

    #[test]
    fn devices_and_owners() {
        let mut v = example_with(
            "/linux/devices",
            json!([
                {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o20600},
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "uid": 5, "gid": 6}
            ]),
        );
        let c = convert(v.clone()).unwrap();
        let null: Vec<_> = c
            .devices
            .iter()
            .filter(|d| d.path == Path::new("/dev/null"))
            .collect();
        assert_eq!(null.len(), 1, "the spec's /dev/null replaces the default");
        assert_eq!(null[0].file_mode, 0o600, "file type bits stripped");
        assert_eq!(c.devices.len(), 7);
        let fuse = c.devices.last().unwrap();
        assert_eq!((fuse.uid, fuse.gid), (5, 6));
        // The default rule for /dev/null is dropped with the default node.
        assert_eq!(c.cgroup.device_rules.len(), 11);
        assert!(
            !c.cgroup
                .device_rules
                .iter()
                .any(|r| (r.major, r.minor) == (1, 3))
        );

        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        let c = convert(v.clone()).unwrap();
        let fuse = c.devices.last().unwrap();
        assert_eq!((fuse.uid, fuse.gid), (100005, 200006));
        assert!(
            c.devices[..6]
                .iter()
                .all(|d| d.uid == 100000 && d.gid == 200000)
        );

        v["linux"]["uidMappings"] = json!([{"containerID": 1, "hostID": 100000, "size": 10}]);
        let e = convert(v).unwrap_err();
        assert_eq!(field_of(&e), "linux.uidMappings");
        assert!(e.to_string().contains("uid 0"), "{e}");

        let v = example_with("/linux/devices", json!([{"path": "/dev/x", "type": "a"}]));
        assert_eq!(field_of(&convert(v).unwrap_err()), "linux.devices[0].type");
    }

    #[test]
    fn cgroup() {
        let v = example_with(
            "/linux/resources",
            json!({"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 4, "access": "rw"}
            ], "pids": {"limit": 10}}),
        );
        let mut v = v;
        v["linux"]["cgroupsPath"] = json!("/lashing-test/x");
        let c = convert(v).unwrap();
        assert_eq!(c.cgroup.path, "/lashing-test/x");
        assert_eq!(c.cgroup.resources.as_ref().unwrap()["pids"]["limit"], 10);
        let r = &c.cgroup.device_rules[1];
        assert_eq!((r.typ, r.major, r.minor, r.allow), ('c', 4, -1, true));
        assert_eq!(c.cgroup.device_rules.len(), 13);
        // resources.devices carries the same rules, defaults included, in OCI form.
        let devs = c.cgroup.resources.as_ref().unwrap()["devices"]
            .as_array()
            .unwrap();
        assert_eq!(devs.len(), 13);
        assert_eq!(devs[0], json!({"allow": false, "access": "rwm"}));
        assert_eq!(
            devs[1],
            json!({"allow": true, "type": "c", "major": 4, "access": "rw"})
        );
        assert_eq!(devs[2], json!({"allow": true, "type": "c", "access": "m"}));
        assert_eq!(
            devs[12],
            json!({"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"})
        );
        let back: oci::LinuxResources =
            serde_json::from_value(c.cgroup.resources.clone().unwrap()).unwrap();
        assert_eq!(back.devices().as_ref().unwrap().len(), 13);

        let mut v = example_spec_json();
        v["linux"].as_object_mut().unwrap().remove("resources");
        let c = convert(v).unwrap();
        assert!(c.cgroup.resources.is_none());
        assert_eq!(c.cgroup.device_rules.len(), 11, "defaults only");
    }

    /// runc takes the access letters in any order, repeated, and ignores other letters; an access
    /// that is missing, empty or has none of r, w, m is an error.
    #[test]
    fn device_access_as_runc() {
        let rule = |access: Value| {
            let mut d = json!({"allow": true, "type": "c", "major": 7, "minor": 0});
            if !access.is_null() {
                d["access"] = access;
            }
            convert(example_with("/linux/resources", json!({"devices": [d]})))
        };
        for (given, want) in [
            ("rwa", "rw"),
            ("mrw", "rwm"),
            ("rrw", "rw"),
            ("wr", "rw"),
            ("rw m", "rwm"),
            ("m", "m"),
            ("rwx", "rw"),
        ] {
            let c = rule(json!(given)).unwrap();
            assert_eq!(c.cgroup.device_rules[0].permissions, want, "{given:?}");
            let devs = &c.cgroup.resources.as_ref().unwrap()["devices"];
            assert_eq!(devs[0]["access"], want, "{given:?}");
        }
        for bad in [json!(""), json!("x"), json!("a"), Value::Null] {
            let e = rule(bad.clone()).unwrap_err();
            assert_eq!(field_of(&e), "linux.resources.devices[0].access", "{bad}");
        }
    }

    /// The OCI spec's scheduler flag names are accepted (oci-spec spells some differently) and
    /// reach the model under the spec's names.
    #[test]
    fn scheduler_flags_with_the_spec_names() {
        let names = [
            "SCHED_FLAG_RESET_ON_FORK",
            "SCHED_FLAG_RECLAIM",
            "SCHED_FLAG_DL_OVERRUN",
            "SCHED_FLAG_KEEP_POLICY",
            "SCHED_FLAG_KEEP_PARAMS",
            "SCHED_FLAG_UTIL_CLAMP_MIN",
            "SCHED_FLAG_UTIL_CLAMP_MAX",
        ];
        let dir = bundle();
        let cfg = dir.path().join("config.json");
        let v = example_with(
            "/process/scheduler",
            json!({"policy": "SCHED_BATCH", "nice": 5, "flags": names}),
        );
        std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        let c = Config::from_bundle(&opts(dir.path())).unwrap();
        let s = c.process.scheduler.unwrap();
        assert_eq!(s.policy, "SCHED_BATCH");
        assert_eq!(s.nice, 5);
        assert_eq!(s.flags, names);

        // process.json (exec --process) too.
        let pj = dir.path().join("process.json");
        let mut p = v["process"].clone();
        p["scheduler"]["flags"] = json!(["SCHED_FLAG_DL_OVERRUN"]);
        std::fs::write(&pj, serde_json::to_vec(&p).unwrap()).unwrap();
        let p = ProcessConfig::from_json_file(&pj).unwrap();
        assert_eq!(p.scheduler.unwrap().flags, ["SCHED_FLAG_DL_OVERRUN"]);

        // An unknown flag is a located parse error.
        let v = example_with(
            "/process/scheduler",
            json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_BOGUS"]}),
        );
        std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        let e = Config::from_bundle(&opts(dir.path())).unwrap_err();
        assert!(
            matches!(e, ConfigError::Parse { line, .. } if line > 1),
            "{e}"
        );
        assert!(e.to_string().contains("SCHED_FLAG_BOGUS"), "{e}");
    }

    /// Relative masked and read-only paths are taken from the container's `/`, as runc does;
    /// empty entries are dropped.
    #[test]
    fn relative_masked_and_readonly_paths() {
        let mut v = example_spec_json();
        v["linux"]["maskedPaths"] = json!(["proc/kcore", "../../proc/keys", "", "/sys/firmware"]);
        v["linux"]["readonlyPaths"] = json!(["./proc/sys/", "/proc/bus"]);
        let c = convert(v).unwrap();
        assert_eq!(
            c.masked_paths,
            [
                Path::new("/proc/kcore"),
                Path::new("/proc/keys"),
                Path::new("/sys/firmware")
            ]
        );
        assert_eq!(
            c.readonly_paths,
            [Path::new("/proc/sys"), Path::new("/proc/bus")]
        );
    }

    #[test]
    fn linux_misc() {
        let mut v = example_spec_json();
        let l = &mut v["linux"];
        l["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        l["timeOffsets"] = json!({"monotonic": {"secs": 10}, "boottime": {"nanosecs": 5}});
        l["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
        l["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "listenerPath": "/run/agent.sock",
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 3}]}]
        });
        v["domainname"] = json!("example.org");
        let c = convert(v).unwrap();
        assert_eq!(c.sysctl["net.ipv4.ip_forward"], "1");
        assert_eq!(c.time_offsets["monotonic"], (10, 0));
        assert_eq!(c.time_offsets["boottime"], (0, 5));
        assert!(c.mount_label.as_deref().unwrap().starts_with("system_u"));
        assert_eq!(c.domainname.as_deref(), Some("example.org"));
        let s = c.seccomp.unwrap();
        assert_eq!(s.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(s.default_errno_ret, Some(38));
        assert_eq!(s.architectures, ["SCMP_ARCH_X86_64"]);
        assert_eq!(s.flags, ["SECCOMP_FILTER_FLAG_LOG"]);
        assert_eq!(
            s.listener_path.as_deref(),
            Some(Path::new("/run/agent.sock"))
        );
        let r = &s.syscalls[0];
        assert_eq!((r.names.len(), r.action.as_str()), (2, "SCMP_ACT_ALLOW"));
        assert_eq!(
            r.args[0],
            SeccompArg {
                index: 1,
                value: 2,
                value_two: 3,
                op: "SCMP_CMP_MASKED_EQ".into()
            }
        );
        let v = example_with(
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
        );
        assert_eq!(
            field_of(&convert(v).unwrap_err()),
            "linux.seccomp.syscalls[0].args[0].index"
        );
    }

    #[test]
    fn hooks() {
        let v = example_with(
            "/hooks",
            json!({
                "prestart": [{"path": "/bin/a"}],
                "createRuntime": [{"path": "/bin/b", "args": ["b", "1"], "env": ["X=1"], "timeout": 5}],
                "createContainer": [{"path": "/bin/c"}],
                "startContainer": [{"path": "/bin/d"}],
                "poststart": [{"path": "/bin/e"}, {"path": "/bin/f"}],
                "poststop": []
            }),
        );
        let c = convert(v).unwrap();
        assert_eq!(c.hooks.len(), 5, "empty lists are not kept");
        let b = &c.hooks[&HookKind::CreateRuntime][0];
        assert_eq!(b.path, Path::new("/bin/b"));
        assert_eq!((b.args.len(), b.env.len(), b.timeout), (2, 1, Some(5)));
        assert_eq!(c.hooks[&HookKind::Poststart].len(), 2);
        assert!(c.hooks.contains_key(&HookKind::Prestart));

        let v = example_with(
            "/hooks",
            json!({"poststop": [{"path": "/x", "timeout": -1}]}),
        );
        assert_eq!(
            field_of(&convert(v).unwrap_err()),
            "hooks.poststop[0].timeout"
        );
        // Absurd timeouts are refused, naming the field (they used to overflow an Instant).
        for t in [i64::MAX, i64::MAX - 1, 9_223_372_037] {
            let v = example_with(
                "/hooks",
                json!({"prestart": [{"path": "/x", "timeout": 1}, {"path": "/x", "timeout": t}]}),
            );
            let e = convert(v).unwrap_err();
            assert_eq!(field_of(&e), "hooks.prestart[1].timeout", "{t}");
            assert!(e.to_string().contains("maximum"), "{e}");
        }
        let v = example_with(
            "/hooks",
            json!({"prestart": [{"path": "/x", "timeout": 9_223_372_036u64}]}),
        );
        assert_eq!(
            convert(v).unwrap().hooks[&HookKind::Prestart][0].timeout,
            Some(9_223_372_036)
        );
    }

    #[test]
    fn process_fields() {
        let mut v = example_spec_json();
        let p = &mut v["process"];
        p["user"] = json!({"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 0o077});
        p["consoleSize"] = json!({"height": 24, "width": 80});
        p["apparmorProfile"] = json!("my-profile");
        p["selinuxLabel"] = json!("");
        p["oomScoreAdj"] = json!(100);
        p["rlimits"] = json!([{"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
                              {"type": "RLIMIT_RTTIME", "hard": 10, "soft": 5}]);
        p["capabilities"]["ambient"] = json!(["CAP_CHECKPOINT_RESTORE", "CAP_BPF"]);
        let c = convert(v).unwrap();
        let p = &c.process;
        assert_eq!(
            p.user,
            User {
                uid: 1000,
                gid: 100,
                additional_gids: vec![5, 6],
                umask: Some(0o077)
            }
        );
        assert_eq!(p.console_size, Some((24, 80)));
        assert_eq!(p.apparmor_profile.as_deref(), Some("my-profile"));
        assert_eq!(p.selinux_label, None);
        assert_eq!(p.oom_score_adj, Some(100));
        assert_eq!(
            p.rlimits.iter().map(|r| r.resource).collect::<Vec<_>>(),
            [4, 15]
        );
        assert_eq!(p.capabilities.as_ref().unwrap().ambient, [39, 40]);

        let v = example_with("/process/consoleSize", json!({"height": 70000, "width": 1}));
        assert_eq!(
            field_of(&convert(v).unwrap_err()),
            "process.consoleSize.height"
        );

        let mut v = example_spec_json();
        v.as_object_mut().unwrap().remove("process");
        let c = convert(v).unwrap();
        assert!(c.process.args.is_empty());
        assert_eq!(c.process, ProcessConfig::default());
    }

    #[test]
    fn unknown_fields_are_found() {
        let mut v = example_spec_json();
        v["linux"]["fancyNewThing"] = json!({"x": 1});
        v["process"]["capabilities"]["bogus"] = json!(["CAP_KILL"]);
        v["mounts"][0]["extra"] = json!(true);
        v["domainname"] = Value::Null;
        let spec: oci::Spec = serde_json::from_value(v.clone()).unwrap();
        let mut found = unknown_fields(&v, &serde_json::to_value(&spec).unwrap());
        found.sort();
        assert_eq!(
            found,
            [
                "linux.fancyNewThing",
                "mounts[0].extra",
                "process.capabilities.bogus"
            ]
        );
        let spec: oci::Spec = serde_json::from_value(example_spec_json()).unwrap();
        assert!(
            unknown_fields(&example_spec_json(), &serde_json::to_value(&spec).unwrap()).is_empty()
        );
    }

    #[test]
    fn clean_paths() {
        for (input, want) in [
            ("/a/b/../c", "/a/c"),
            ("/../a", "/a"),
            ("/a/./b//c/", "/a/b/c"),
            ("a/../../b", "../b"),
            ("/", "/"),
            ("", "."),
        ] {
            assert_eq!(clean_path(Path::new(input)), Path::new(want), "{input}");
        }
    }
}
