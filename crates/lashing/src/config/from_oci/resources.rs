//! `linux.resources`: the cgroup resources and the device-cgroup rules of the spec.

use oci_spec::runtime as oci;

use super::super::error::ConfigError;
use super::devices::device_type_char;
use crate::config::{Config, DeviceRule, DeviceRuleType, Resources};

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
    // The cgroup crate reads the OCI form: the same JSON, typed.
    let resources = serde_json::to_value(r)
        .and_then(serde_json::from_value::<Resources>)
        .map_err(|e| ConfigError::invalid("linux.resources", e.to_string()))?;
    c.cgroup.resources = Some(resources);
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let access = device_access(i, d.access().as_deref().unwrap_or(""))?;
        let typ = match d.typ() {
            None | Some(oci::LinuxDeviceType::A) => DeviceRuleType::All,
            Some(oci::LinuxDeviceType::C) => DeviceRuleType::Char,
            Some(oci::LinuxDeviceType::B) => DeviceRuleType::Block,
            Some(t) => {
                return Err(ConfigError::invalid(
                    format!("linux.resources.devices[{i}].type"),
                    format!(
                        "{:?}: a device rule applies to \"a\", \"b\" or \"c\"",
                        device_type_char(t)
                    ),
                ));
            }
        };
        c.cgroup.device_rules.push(DeviceRule {
            typ,
            // A negative number stands for "any", as no number at all (runc: -1 is a wildcard).
            major: d.major().filter(|n| *n >= 0),
            minor: d.minor().filter(|n| *n >= 0),
            permissions: access,
            allow: d.allow(),
        });
    }
    Ok(())
}
