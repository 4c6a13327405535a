//! `linux.devices`: the device nodes to create (runc's defaults and the spec's, owners mapped to
//! the host) and the default device-cgroup rules.

use std::path::Path;

use oci_spec::runtime as oci;

use super::super::error::ConfigError;
use super::common::check_nul;
use crate::config::{Config, Device, DeviceRule, DeviceRuleType, DeviceType, NamespaceType};

/// The device nodes runc always creates (runc's `AllowedDevices` that have a path), as
/// `(path, major, minor)`; all are char devices, mode 0666, owned by root.
pub(super) const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
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
#[allow(clippy::type_complexity)]
pub(super) const DEFAULT_RULES: [(Option<&str>, DeviceRuleType, Option<i64>, Option<i64>, &str);
    11] = {
    use DeviceRuleType::{Block, Char};
    [
        (None, Char, None, None, "m"),
        (None, Block, None, None, "m"),
        (Some("/dev/null"), Char, Some(1), Some(3), "rwm"),
        (Some("/dev/random"), Char, Some(1), Some(8), "rwm"),
        (Some("/dev/full"), Char, Some(1), Some(7), "rwm"),
        (Some("/dev/tty"), Char, Some(5), Some(0), "rwm"),
        (Some("/dev/zero"), Char, Some(1), Some(5), "rwm"),
        (Some("/dev/urandom"), Char, Some(1), Some(9), "rwm"),
        (None, Char, Some(136), None, "rwm"),     // /dev/pts/*
        (None, Char, Some(5), Some(2), "rwm"),    // /dev/ptmx
        (None, Char, Some(10), Some(200), "rwm"), // /dev/net/tun, kept for compatibility
    ]
};

/// The OCI letter of a device type (`a` only appears in device rules).
pub(super) fn device_type_char(t: oci::LinuxDeviceType) -> char {
    match t {
        oci::LinuxDeviceType::A => 'a',
        oci::LinuxDeviceType::B => 'b',
        oci::LinuxDeviceType::C => 'c',
        oci::LinuxDeviceType::U => 'u',
        oci::LinuxDeviceType::P => 'p',
    }
}

/// The node type of a device type; `None` for `a` (a rule's "all devices", not a node).
fn node_type(t: oci::LinuxDeviceType) -> Option<DeviceType> {
    match t {
        oci::LinuxDeviceType::A => None,
        oci::LinuxDeviceType::B => Some(DeviceType::Block),
        oci::LinuxDeviceType::C => Some(DeviceType::Char),
        oci::LinuxDeviceType::U => Some(DeviceType::Unbuffered),
        oci::LinuxDeviceType::P => Some(DeviceType::Fifo),
    }
}

/// Device nodes (runc's `createDevices`) and the default device-cgroup rules.
pub(super) fn convert_devices(
    linux: Option<&oci::Linux>,
    c: &mut Config,
) -> Result<(), ConfigError> {
    let spec_devices: &[oci::LinuxDevice] = linux
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default();
    let in_spec = |path: &str| spec_devices.iter().any(|d| d.path() == Path::new(path));

    let mut nodes = Vec::new();
    for (path, major, minor) in DEFAULT_DEVICES {
        if !in_spec(path) {
            nodes.push(Device {
                path: path.into(),
                typ: DeviceType::Char,
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
        let Some(typ) = node_type(d.typ()) else {
            return Err(ConfigError::invalid(
                format!("{field}.type"),
                "\"a\" is not a device node type (expected \"c\", \"b\", \"u\" or \"p\")",
            ));
        };
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
    if let Some(res) = &mut c.cgroup.resources {
        res.devices = c
            .cgroup
            .device_rules
            .iter()
            .map(DeviceRule::to_cgroup)
            .collect();
    }
    Ok(())
}
