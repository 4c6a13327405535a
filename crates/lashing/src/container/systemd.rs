//! The systemd cgroup driver's part of a container's life (runc's systemd managers): the unit
//! is planned and recorded at `create` (before it exists), started once the init is in the
//! cgroup, updated with `SetUnitProperties` plus the cgroup files, and stopped at `delete`.
//! Only containers that use the driver reach this module: no D-Bus otherwise.

use lashing_cgroups::resources::DeviceCgroup;
use lashing_cgroups::systemd::{self as sd, Systemd, annotations, props};
use lashing_cgroups::{Manager, Resources};

use crate::config::Config;
use crate::error::Result;
use crate::state::SystemdUnit;

/// The unit name prefix when `cgroupsPath` is empty (runc's is `runc`).
pub(crate) const DEFAULT_PREFIX: &str = "lashing";

/// Whether the unit belongs to the caller's user manager (a non-root caller, as runc's
/// rootless systemd driver).
fn user_manager() -> bool {
    !rustix::process::geteuid().is_root()
}

/// Plans the unit of a new container from its `cgroupsPath`: its record and the cgroup path
/// the fs manager works on. Annotations are checked here, so that a bad one fails `create`
/// before anything exists.
pub(crate) fn plan(config: &Config, id: &str) -> Result<(SystemdUnit, String)> {
    // The path's form first (runc's order), then the host.
    sd::path::parse(&config.cgroup.path, id, DEFAULT_PREFIX, false, "/")?;
    annotations::properties(&config.annotations)?;
    if !sd::is_running_systemd() {
        return Err(lashing_cgroups::Error::SystemdNotRunning.into());
    }
    // runc's legacy manager refuses rootless cgroups (nothing is delegated on v1).
    if config.rootless_cgroups && sd::legacy() {
        return Err(lashing_cgroups::Error::SystemdRootlessV1.into());
    }
    let user = user_manager();
    let manager_cgroup = if user {
        Systemd::connect(true)?.manager_cgroup()?
    } else {
        "/".to_owned()
    };
    let spec = sd::path::parse(
        &config.cgroup.path,
        id,
        DEFAULT_PREFIX,
        user,
        &manager_cgroup,
    )?;
    tracing::debug!(unit = %spec.unit, cgroup = %spec.cgroup, "systemd: planned unit");
    Ok((
        SystemdUnit {
            unit: spec.unit,
            user,
        },
        spec.cgroup,
    ))
}

/// Starts the container's unit with `pid` (the init, already in the unit's cgroup) in it:
/// runc's `Apply` properties, the annotations, `OOMPolicy`, and the resources as properties
/// (runc sets those with `SetUnitProperties` right after the start; here they go with it, one
/// round trip less). The cgroup files are written afterwards as without systemd.
/// `devices`: the container's device rules in OCI form.
pub(crate) fn start_unit(
    config: &Config,
    id: &str,
    unit: &SystemdUnit,
    pid: i32,
    devices: Option<&[DeviceCgroup]>,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    let spec = sd::path::parse(&config.cgroup.path, id, DEFAULT_PREFIX, unit.user, "/")?;
    let mut m = Systemd::connect(unit.user)?;
    let legacy = sd::legacy();
    let pid = (!spec.is_slice()).then_some(pid as u32);
    let mut p = props::unit_properties(&spec, &spec.name, pid, legacy);
    p.extend(annotations::properties(&config.annotations)?);
    let res = config.cgroup.resources.clone().unwrap_or_default();
    if !legacy {
        p.extend(props::oom_policy(&res)?);
    }
    p.extend(m.resource_properties(&res, devices)?);
    m.start_unit(&unit.unit, p)?;
    tracing::debug!(unit = %unit.unit, elapsed = ?t0.elapsed(), "systemd: unit started");
    Ok(())
}

/// Applies new resources (runc's `Set`): unit properties, then the cgroup files.
pub(crate) fn set(unit: &SystemdUnit, cgroup: &Manager, r: &Resources) -> Result<()> {
    let devices = (!r.devices.is_empty()).then_some(&r.devices[..]);
    Systemd::connect(unit.user)?.set(&unit.unit, cgroup, r, devices)?;
    Ok(())
}

/// Stops the unit and resets it if it failed (runc's `Destroy`, before the cgroup directories
/// left are removed). A host whose systemd is gone (not booted with it any more) only warns.
pub(crate) fn stop(unit: &SystemdUnit) -> Result<()> {
    let mut m = match Systemd::connect(unit.user) {
        Ok(m) => m,
        Err(e) if !sd::is_running_systemd() => {
            tracing::warn!(unit = %unit.unit, error = %e, "systemd is not running: unit not stopped");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    m.stop_unit(&unit.unit)?;
    Ok(())
}
