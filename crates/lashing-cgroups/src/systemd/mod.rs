//! The systemd cgroup driver (runc's `systemd` managers): a container's cgroup is a transient
//! unit (`<prefix>-<name>.scope` in a slice) that systemd creates over D-Bus with the container
//! init in it; the resources systemd knows are unit properties, and everything is also written
//! to the cgroup files through the fs [`Manager`] on the unit's cgroup, as runc does.
//!
//! Nothing here runs for a container that does not use the driver: the connection is opened
//! by [`Systemd::connect`] only.

pub mod annotations;
pub mod dbus;
pub mod path;
pub mod props;

use std::path::{Path, PathBuf};
use std::time::Duration;

use dbus::{Connection, DbusError, Value};
pub use path::{UnitSpec, expand_slice};
pub use props::Property;

use crate::Manager;
use crate::error::{Error, Result};
use crate::freezer::FreezerState;
use crate::hierarchy::{self, CgroupMode};
use crate::resources::{DeviceCgroup, Resources};

const DEST: &str = "org.freedesktop.systemd1";
const OBJ: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a job (start, stop) is waited for, as runc.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether this host was booted with systemd (`/run/systemd/system` is a directory, as
/// `sd_booted(3)`).
pub fn is_running_systemd() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The sockets to try, in order, with whether a bus daemon is behind each: for root, systemd's
/// private socket then the system bus; for a user, the session bus of its user manager.
pub fn sockets(user: bool) -> Vec<(PathBuf, bool)> {
    let from_address = |var: &str| {
        std::env::var(var).ok().and_then(|a| {
            a.split(';').find_map(|one| {
                let rest = one.strip_prefix("unix:")?;
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix("path="))
                    .map(PathBuf::from)
            })
        })
    };
    let mut out = Vec::new();
    if user {
        if let Some(p) = from_address("DBUS_SESSION_BUS_ADDRESS") {
            out.push((p, true));
        }
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
            out.push((PathBuf::from(dir).join("bus"), true));
        }
        let uid = rustix::process::geteuid().as_raw();
        out.push((PathBuf::from(format!("/run/user/{uid}/bus")), true));
    } else {
        out.push((PathBuf::from("/run/systemd/private"), false));
        out.push((
            from_address("DBUS_SYSTEM_BUS_ADDRESS")
                .unwrap_or_else(|| PathBuf::from("/run/dbus/system_bus_socket")),
            true,
        ));
    }
    out
}

/// A connection to a systemd manager (the system one, or a user's).
#[derive(Debug)]
pub struct Systemd {
    conn: Connection,
    user: bool,
    subscribed: bool,
    version: Option<i64>,
}

fn sd_err(op: &str, unit: &str) -> impl FnOnce(DbusError) -> Error {
    let (op, unit) = (op.to_owned(), unit.to_owned());
    move |source| Error::Systemd { op, unit, source }
}

fn prop_values(props: Vec<Property>) -> Value {
    Value::Array(
        "(sv)".into(),
        props
            .into_iter()
            .map(|(n, v)| Value::Struct(vec![Value::Str(n), Value::variant(v)]))
            .collect(),
    )
}

impl Systemd {
    /// Connects to the system manager (`user == false`: `/run/systemd/private`, then the system
    /// bus) or to the caller's user manager (its session bus).
    pub fn connect(user: bool) -> Result<Systemd> {
        let uid = rustix::process::geteuid().as_raw();
        let mut last = None;
        for (path, bus) in sockets(user) {
            match Connection::open(&path, uid, bus) {
                Ok(conn) => {
                    tracing::debug!(socket = %path.display(), "systemd: connected");
                    return Ok(Systemd {
                        conn,
                        user,
                        subscribed: false,
                        version: None,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Error::Systemd {
            op: "connect to".into(),
            unit: if user {
                "the user manager"
            } else {
                "the system manager"
            }
            .into(),
            source: last.expect("at least one socket"),
        })
    }

    /// Whether this is a user manager.
    pub fn is_user(&self) -> bool {
        self.user
    }

    /// A `Manager` property (`Version`, `ControlGroup`, ...).
    pub fn manager_property(&mut self, name: &str) -> Result<Value> {
        let r = self
            .conn
            .call(
                DEST,
                OBJ,
                "org.freedesktop.DBus.Properties",
                "Get",
                vec![Value::Str(MANAGER.into()), Value::Str(name.into())],
            )
            .map_err(sd_err(&format!("read property {name} of"), "the manager"))?;
        Ok(r.into_iter()
            .next()
            .map(|v| v.unvariant().clone())
            .unwrap_or(Value::Str(String::new())))
    }

    /// The manager's version number (`252` of `252.22-1~deb12u1`), -1 if unknown; read once.
    pub fn version(&mut self) -> i64 {
        if let Some(v) = self.version {
            return v;
        }
        let v = match self.manager_property("Version") {
            Ok(v) => parse_version(v.as_str().unwrap_or("")),
            Err(e) => {
                tracing::warn!(error = %e, "unable to get the systemd version");
                -1
            }
        };
        self.version = Some(v);
        v
    }

    /// The cgroup units of this manager are placed under: `/` for the system manager, the
    /// manager's own `ControlGroup` (`/user.slice/user-1000.slice/user@1000.service`) for a
    /// user's.
    pub fn manager_cgroup(&mut self) -> Result<String> {
        if !self.user {
            return Ok("/".into());
        }
        let v = self.manager_property("ControlGroup")?;
        Ok(v.as_str().unwrap_or("/").to_owned())
    }

    fn subscribe(&mut self) -> Result<()> {
        if self.subscribed || !self.conn.is_bus() {
            return Ok(());
        }
        let rule = "type='signal',sender='org.freedesktop.systemd1',\
                    interface='org.freedesktop.systemd1.Manager',member='JobRemoved',\
                    path='/org/freedesktop/systemd1'";
        self.conn
            .call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                vec![Value::Str(rule.into())],
            )
            .map_err(sd_err("subscribe to job signals of", "the manager"))?;
        match self.conn.call(DEST, OBJ, MANAGER, "Subscribe", vec![]) {
            Ok(_) => {}
            Err(e) if e.remote_name() == Some("org.freedesktop.systemd1.AlreadySubscribed") => {}
            Err(e) => return Err(sd_err("subscribe to", "the manager")(e)),
        }
        self.subscribed = true;
        Ok(())
    }

    /// Calls a method that queues a job (`StartTransientUnit`, `StopUnit`) and waits for the
    /// job's result (`done`, `failed`, `canceled`, `timeout`, `dependency`, `skipped`).
    fn job(&mut self, op: &str, unit: &str, method: &str, body: Vec<Value>) -> Result<String> {
        self.subscribe()?;
        let r = self
            .conn
            .call(DEST, OBJ, MANAGER, method, body)
            .map_err(sd_err(op, unit))?;
        let job = match r.first() {
            Some(Value::ObjectPath(p)) => p.clone(),
            _ => {
                return Err(sd_err(op, unit)(DbusError::BadReply {
                    method: method.into(),
                    reason: "no job object path".into(),
                }));
            }
        };
        let sig = self
            .conn
            .wait_signal(MANAGER, "JobRemoved", JOB_TIMEOUT, |b| {
                b.get(1).and_then(Value::as_str) == Some(job.as_str())
            })
            .map_err(sd_err(&format!("wait for the job of {op}"), unit))?;
        Ok(sig.get(3).and_then(Value::as_str).unwrap_or("").to_owned())
    }

    /// Starts transient unit `unit` with `props` (`StartTransientUnit`, mode `replace`) and
    /// waits for its job. A unit of that name that exists already (a failed leftover) is reset
    /// and the start retried once; a job that is not `done` is an error (the unit is reset).
    pub fn start_unit(&mut self, unit: &str, props: Vec<Property>) -> Result<()> {
        let body = |props: Vec<Property>| {
            vec![
                Value::Str(unit.into()),
                Value::Str("replace".into()),
                prop_values(props),
                Value::Array("(sa(sv))".into(), vec![]),
            ]
        };
        let result = match self.job("start", unit, "StartTransientUnit", body(props.clone())) {
            Err(Error::Systemd { source, .. })
                if source.remote_name() == Some("org.freedesktop.systemd1.UnitExists") =>
            {
                if let Err(e) = self.reset_failed(unit) {
                    tracing::warn!(error = %e, "unable to reset failed unit");
                }
                self.job("start", unit, "StartTransientUnit", body(props))?
            }
            r => r?,
        };
        if result != "done" {
            let _ = self.reset_failed(unit);
            return Err(Error::SystemdJob {
                unit: unit.into(),
                op: "creating".into(),
                result,
            });
        }
        Ok(())
    }

    /// Sets runtime properties of `unit` (`SetUnitProperties`).
    pub fn set_properties(&mut self, unit: &str, props: Vec<Property>) -> Result<()> {
        self.conn
            .call(
                DEST,
                OBJ,
                MANAGER,
                "SetUnitProperties",
                vec![
                    Value::Str(unit.into()),
                    Value::Bool(true),
                    prop_values(props),
                ],
            )
            .map(drop)
            .map_err(sd_err("set properties of", unit))
    }

    /// Stops `unit` and waits for it (a unit that is not loaded is not an error), then resets
    /// it if it failed, so that systemd forgets it (runc's `stopUnit`).
    pub fn stop_unit(&mut self, unit: &str) -> Result<()> {
        let body = vec![Value::Str(unit.into()), Value::Str("replace".into())];
        match self.job("stop", unit, "StopUnit", body) {
            Ok(r) if r != "done" => {
                tracing::warn!(unit, result = %r, "error removing the unit; continuing");
            }
            Ok(_) => {}
            Err(Error::Systemd { ref source, .. })
                if source.remote_name() == Some("org.freedesktop.systemd1.NoSuchUnit") => {}
            Err(
                e @ Error::Systemd {
                    source: DbusError::Timeout { .. },
                    ..
                },
            ) => return Err(e),
            Err(e) => tracing::warn!(unit, error = %e, "unable to stop the unit; continuing"),
        }
        let _ = self.reset_failed(unit);
        Ok(())
    }

    /// `ResetFailedUnit`.
    pub fn reset_failed(&mut self, unit: &str) -> Result<()> {
        self.conn
            .call(
                DEST,
                OBJ,
                MANAGER,
                "ResetFailedUnit",
                vec![Value::Str(unit.into())],
            )
            .map(drop)
            .map_err(sd_err("reset", unit))
    }

    /// The resource properties of `r` (and the device rules, when given) for this host's cgroup
    /// version and this manager's version.
    pub fn resource_properties(
        &mut self,
        r: &Resources,
        devices: Option<&[DeviceCgroup]>,
    ) -> Result<Vec<Property>> {
        let proc_devices = match devices {
            Some(d)
                if d.iter()
                    .any(|d| d.major.is_some_and(|m| m >= 0) && d.minor.is_none_or(|m| m < 0)) =>
            {
                std::fs::read_to_string("/proc/devices").unwrap_or_default()
            }
            _ => String::new(),
        };
        let version = self.version();
        if legacy() {
            props::v1_properties(r, devices, &proc_devices, version)
        } else {
            props::v2_properties(r, devices, &proc_devices, version)
        }
    }

    /// Applies new resources to a running unit (runc's `Set`): `SetUnitProperties` (on a v1
    /// host with the cgroup frozen meanwhile, unless it is frozen already, so that systemd's
    /// rewrite of the device rules cannot fail an access in the container), then the cgroup
    /// files through `fs`.
    pub fn set(
        &mut self,
        unit: &str,
        fs: &Manager,
        r: &Resources,
        devices: Option<&[DeviceCgroup]>,
    ) -> Result<()> {
        let props = self.resource_properties(r, devices)?;
        let mut thaw = false;
        if legacy() && fs.freezer_state()? != FreezerState::Frozen {
            match fs.freeze(true) {
                Ok(()) => thaw = true,
                Err(e @ Error::NoFreezer { .. }) => {
                    tracing::info!(error = %e, "freeze before SetUnitProperties failed");
                }
                Err(e) => {
                    let _ = fs.freeze(false);
                    return Err(e);
                }
            }
        }
        let r_set = self.set_properties(unit, props);
        if thaw && let Err(e) = fs.freeze(false) {
            tracing::info!(error = %e, "thaw after SetUnitProperties failed");
        }
        r_set?;
        fs.set(r)?;
        if let Some(d) = devices {
            fs.set_devices(d)?;
        }
        Ok(())
    }
}

/// Whether the host's cgroups are v1 or hybrid (runc's legacy manager).
pub fn legacy() -> bool {
    hierarchy::detect() != CgroupMode::Unified
}

/// The number at the start of a systemd version string (`"v245.4-1.fc32"` is 245), -1 when
/// there is none (runc's `systemdVersionAtoi`).
pub fn parse_version(s: &str) -> i64 {
    let s = s.trim_start_matches(['"', 'v']);
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_as_runc() {
        for (s, v) in [
            ("252.22-1~deb12u1", 252),
            ("v245.4-1.fc32", 245),
            ("245", 245),
            ("\"v245-1.fc32\"", 245),
            ("", -1),
            ("abc", -1),
        ] {
            assert_eq!(parse_version(s), v, "{s}");
        }
    }

    #[test]
    fn socket_order_root_private_first() {
        let s = sockets(false);
        assert_eq!(s[0], (PathBuf::from("/run/systemd/private"), false));
        assert!(s[1].1);
        assert!(sockets(true).iter().all(|(_, bus)| *bus));
    }
}
