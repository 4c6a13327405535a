//! The cgroup side of a container's life: pause/resume (freezer), live resource updates with
//! rollback, statistics and OOM notifications (runc's `Pause`, `Resume`, `Set`, `Stats`,
//! `NotifyOOM`).

use std::path::PathBuf;

use lashing_cgroups::{OomNotifier, Resources, Stats};

use super::{Container, Status};
use crate::config::{Config, DeviceRule};
use crate::error::{Error, Result};
use crate::state;

/// The device rules of `config` in OCI form (the spec's rules followed by the defaults), or
/// `None` when the configuration has none (it was not made from an OCI spec).
pub(crate) fn device_rules(
    config: &Config,
) -> Option<Vec<lashing_cgroups::resources::DeviceCgroup>> {
    if config.cgroup.device_rules.is_empty() {
        return None;
    }
    Some(
        config
            .cgroup
            .device_rules
            .iter()
            .map(DeviceRule::to_cgroup)
            .collect(),
    )
}

/// The `linux.resources` of `config` as the cgroup crate's model (empty when absent).
pub(crate) fn resources_of(config: &Config) -> Result<Resources> {
    Ok(config.cgroup.resources.clone().unwrap_or_default())
}

/// The freezer directory of `cgroup` when its processes would be frozen, by its own state or
/// an ancestor's (v1 `freezer.state` `FROZEN`/`FREEZING`, v2 `cgroup.events` `frozen 1`);
/// `None` when they would run (or it cannot tell: no freezer, no cgroup).
pub(crate) fn effectively_frozen(cgroup: &lashing_cgroups::Manager) -> Option<PathBuf> {
    if let Some(dir) = cgroup.path("freezer") {
        let state = std::fs::read_to_string(dir.join("freezer.state")).ok()?;
        return matches!(state.trim(), "FROZEN" | "FREEZING").then(|| dir.to_path_buf());
    }
    let dir = cgroup.path("")?;
    let events = std::fs::read_to_string(dir.join("cgroup.events")).ok()?;
    events
        .lines()
        .any(|l| l.trim() == "frozen 1")
        .then(|| dir.to_path_buf())
}

impl Container {
    /// `update` of a stopped container is runc's error (called under the state lock).
    pub(crate) fn refuse_stopped_update(&self) -> Result<()> {
        match self.status() {
            Status::Stopped => Err(Error::BadStatus {
                id: self.state.id.clone(),
                status: Status::Stopped,
                op: "update its resources (it is stopped)",
            }),
            _ => Ok(()),
        }
    }

    /// Freezes every process of the container (`runc pause`). Only a running or created
    /// container can be paused.
    pub fn pause(&self) -> Result<()> {
        let _lock = state::lock(&self.dir)?;
        let status = self.status();
        if !matches!(status, Status::Running | Status::Created) {
            return Err(Error::BadStatus {
                id: self.state.id.clone(),
                status,
                op: "pause it (it is not running)",
            });
        }
        self.cgroup.freeze(true)?;
        Ok(())
    }

    /// Thaws a paused container (`runc resume`).
    pub fn resume(&self) -> Result<()> {
        let _lock = state::lock(&self.dir)?;
        let status = self.status();
        if status != Status::Paused {
            return Err(Error::BadStatus {
                id: self.state.id.clone(),
                status,
                op: "resume it (it is not paused)",
            });
        }
        self.cgroup.freeze(false)?;
        Ok(())
    }

    /// The resources the container runs with (its configuration's `linux.resources`).
    pub fn resources(&self) -> Result<Resources> {
        resources_of(&self.state.config)
    }

    /// Applies new resource limits to a created, running or paused container (`runc update`)
    /// and saves them in its state. Device rules in `r` (if any) replace the current ones. If
    /// applying fails, the previous resources are applied again (as runc) and the error is
    /// returned.
    ///
    /// ```no_run
    /// let mut c = lashing::Container::load("/run/my-runtime", "demo")?;
    /// let r: lashing_cgroups::Resources =
    ///     serde_json::from_str(r#"{"memory": {"limit": 268435456}, "pids": {"limit": 100}}"#).unwrap();
    /// c.set(&r)?;
    /// c.pause()?;
    /// println!("{}", serde_json::to_string(&c.stats()?).unwrap());
    /// c.resume()?;
    /// # Ok::<(), lashing::Error>(())
    /// ```
    pub fn set(&mut self, r: &Resources) -> Result<()> {
        let _lock = state::lock(&self.dir)?;
        self.refuse_stopped_update()?;
        // Rootless: a limit for a controller the container has no cgroup of is runc's error.
        if self.state.config.rootless_cgroups
            && let Some(controller) = missing_controller(self, r)
        {
            return Err(Error::RootlessCgroup {
                controller: controller.to_owned(),
            });
        }
        let old = self.resources()?;
        let apply = |res: &Resources| -> Result<()> {
            if let Some(unit) = &self.state.systemd {
                return super::systemd::set(unit, &self.cgroup, res);
            }
            self.cgroup.set(res)?;
            if !res.devices.is_empty() {
                self.cgroup.set_devices(&res.devices)?;
            }
            Ok(())
        };
        if let Err(e) = apply(r) {
            if let Err(re) = apply(&old) {
                tracing::warn!(error = %re, "rolling back the previous resources failed");
            }
            return Err(e);
        }
        let st = self.state_mut();
        st.config.cgroup.resources = Some(r.clone());
        self.state.save(&self.dir)
    }

    /// Resource usage of the container's cgroup.
    pub fn stats(&self) -> Result<Stats> {
        if !self.cgroup.exists() {
            return Err(Error::BadStatus {
                id: self.state.id.clone(),
                status: self.status(),
                op: "read its statistics (its cgroup does not exist)",
            });
        }
        Ok(self.cgroup.stats()?)
    }

    /// Registers for the container's OOM events: poll the notifier's fd, or call its `wait`.
    /// It reports [`lashing_cgroups::OomEvent::Gone`] once the cgroup is empty or removed.
    pub fn notify_oom(&self) -> Result<OomNotifier> {
        Ok(self.cgroup.notify_oom()?)
    }
}

/// Applies the `linux.resources` of the config and its device rules to the container's cgroup:
/// v1 `devices.allow`/`devices.deny`, or on cgroup v2 an eBPF device filter (always attached,
/// so a failure to filter devices is an error, never a warning).
///
/// Rootless (runc's rules): a limit for a controller whose hierarchy could not be created is
/// [`Error::RootlessCgroup`]; device rules that cannot be applied (no devices hierarchy of our
/// own, or an eBPF program refused in a user namespace) are ignored with a debug line.
pub(crate) fn apply_resources(c: &Container) -> Result<()> {
    let (cgroup, config) = (&c.cgroup, &c.state.config);
    let res = resources_of(config)?;
    if config.rootless_cgroups
        && let Some(controller) = missing_controller(c, &res)
    {
        return Err(Error::RootlessCgroup {
            controller: controller.to_owned(),
        });
    }
    cgroup.set(&res)?;
    let rules =
        device_rules(config).or_else(|| (!res.devices.is_empty()).then(|| res.devices.clone()));
    if let Some(rules) = rules {
        match cgroup.set_devices(&rules) {
            Err(e) if config.rootless_cgroups => {
                tracing::debug!("rootless: device rules not applied: {e}");
            }
            r => r?,
        }
    }
    Ok(())
}

/// The first controller `res` needs whose hierarchy was dropped as not ours (rootless).
fn missing_controller(c: &Container, res: &lashing_cgroups::Resources) -> Option<&'static str> {
    let unified_host = lashing_cgroups::detect() == lashing_cgroups::CgroupMode::Unified;
    let paths = c.cgroup.paths();
    let has = |ctrl: &str| {
        paths.contains_key("") && (unified_host || ctrl == "unified")
            || paths.keys().any(|k| k.split(',').any(|p| p == ctrl))
    };
    res.controllers_wanted().into_iter().find(|w| !has(w))
}

/// Rootless: logs the hierarchies [`lashing_cgroups::Manager::tolerate`] dropped (debug lines;
/// runc's one warning when the container has no private pid namespace either, so that nothing
/// can kill all its processes) and records the paths that are left.
pub(crate) fn forget_dropped(
    c: &mut Container,
    dropped: Vec<(String, lashing_cgroups::Error)>,
) -> Result<()> {
    if dropped.is_empty() {
        return Ok(());
    }
    for (key, e) in &dropped {
        let name = if key.is_empty() { "unified" } else { key };
        tracing::debug!(
            "rootless: running without the {name} cgroup: {}",
            crate::error::chain(e)
        );
    }
    if !c
        .state
        .config
        .new_namespace(crate::config::NamespaceType::Pid)
    {
        tracing::warn!(
            "Creating a rootless container with no cgroup and no private pid namespace. Such \
             configuration is strongly discouraged (as it is impossible to properly kill all \
             container's processes) and will result in an error in a future runc version."
        );
    }
    c.state.cgroup_paths = c.cgroup.paths().clone();
    c.state.save(&c.dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DeviceRuleType;

    #[test]
    fn device_rules_convert_to_oci_form() {
        let mut c = Config::default();
        assert!(device_rules(&c).is_none());
        c.cgroup.device_rules = vec![
            DeviceRule {
                typ: DeviceRuleType::All,
                major: None,
                minor: None,
                permissions: "rwm".into(),
                allow: false,
            },
            DeviceRule {
                typ: DeviceRuleType::Char,
                major: Some(1),
                minor: None,
                permissions: "rw".into(),
                allow: true,
            },
        ];
        let r = device_rules(&c).unwrap();
        assert_eq!(r[0].typ, None);
        assert!(!r[0].allow);
        assert_eq!(r[1].typ.as_deref(), Some("c"));
        assert_eq!((r[1].major, r[1].minor), (Some(1), None));
        assert_eq!(r[1].access.as_deref(), Some("rw"));
        assert_eq!(resources_of(&c).unwrap(), Resources::default());
        c.cgroup.resources = Some(serde_json::from_str(r#"{"pids": {"limit": 5}}"#).unwrap());
        assert_eq!(resources_of(&c).unwrap().pids.unwrap().limit, Some(5));
    }
}
