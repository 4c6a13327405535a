//! `linux.resources`: the cgroup resources and the device-cgroup rules of the spec.

use oci_spec::runtime as oci;

use super::super::error::ConfigError;
use super::super::model::*;
use super::devices::device_type_char;

/// The access of a device rule in canonical form (`"rwm"` order, each letter once), as runc takes
/// it: letters in any order and repeated are fine, letters other than `r`, `w` and `m` are
/// ignored (with a warning); an access that is empty or has none of them is an error.
pub(super) fn device_access(i: usize, access: &str) -> Result<String, ConfigError> {
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

/// `linux.resources`: kept for the cgroup manager, and the spec's device rules (before runc's
/// defaults, which `devices` appends).
pub(super) fn convert_resources(
    r: &oci::LinuxResources,
    c: &mut Config,
) -> Result<(), ConfigError> {
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
    Ok(())
}
