//! The suites with the systemd cgroup driver forced on: `LASHING_TEST_CGROUP_DRIVER=systemd`
//! (set by `scripts/test-guest-systemd` in the systemd guest) makes the harnesses give their
//! containers a systemd cgroups path, `system.slice:lashing-test:<name>` (a transient unit
//! `lashing-test-<name>.scope` in `system.slice`), and run them with the driver
//! (`--systemd-cgroup`, or `config.cgroup.systemd` through the library). A test that cannot
//! apply then (it names absolute cgroupfs paths on purpose, it makes cgroups by hand) reports it
//! with [`not_with_systemd`] and returns. The harnesses check after each test (each is its own
//! process under nextest) that systemd lists no unit of theirs ([`leftover_units`]), stop and
//! reset what is left ([`remove_units`]) and fail the run.

use std::process::Command;

/// The environment variable that selects the cgroup driver of the harnesses: `systemd`, or
/// `fs` (the default when unset).
pub const DRIVER_ENV: &str = "LASHING_TEST_CGROUP_DRIVER";

/// The slice the harnesses' units go in.
pub const SLICE: &str = "system.slice";

/// The unit prefix of the harnesses' containers (`lashing-test-<name>.scope`).
pub const PREFIX: &str = "lashing-test";

/// Whether the harnesses use the systemd driver ([`DRIVER_ENV`] is `systemd`). Panics on a value
/// that is neither `systemd` nor `fs`, and when `systemd` is asked on a host without systemd as
/// PID 1 (a mode that cannot run must not look green).
pub fn enabled() -> bool {
    match std::env::var(DRIVER_ENV).as_deref() {
        Err(_) | Ok("" | "fs" | "cgroupfs") => false,
        Ok("systemd") => {
            assert!(
                lashing_cgroups::systemd::is_running_systemd(),
                "{DRIVER_ENV}=systemd needs systemd as PID 1 (tools/vm-run --systemd)"
            );
            true
        }
        Ok(other) => panic!("{DRIVER_ENV}={other:?}: expected `systemd` or `fs`"),
    }
}

/// The systemd cgroups path of a container named `name`: `system.slice:lashing-test:<name>`.
pub fn cgroups_path(name: &str) -> String {
    format!("{SLICE}:{PREFIX}:{name}")
}

/// The unit of [`cgroups_path`]`(name)`: `lashing-test-<name>.scope`.
pub fn unit(name: &str) -> String {
    format!("{PREFIX}-{name}.scope")
}

/// The cgroup of that unit relative to every hierarchy's root: `/system.slice/<unit>` (the
/// unit's `ControlGroup`, the same on v2 and on the legacy hierarchy when systemd is PID 1).
pub fn cgroup(name: &str) -> String {
    format!("/{SLICE}/{}", unit(name))
}

/// A test that does not apply with the systemd driver: prints why (a decision of the mode, not a
/// missing tool: it runs in the fs-driver suites) and returns true when the driver is on. The
/// caller returns at once then.
pub fn not_with_systemd(why: &str) -> bool {
    if !enabled() {
        return false;
    }
    eprintln!("not with the systemd cgroup driver: {why}");
    true
}

/// The units systemd lists (any state) whose name matches one of the glob `patterns`.
pub fn leftover_units(patterns: &[String]) -> Vec<String> {
    let o = Command::new("systemctl")
        .args(["list-units", "--all", "--plain", "--no-legend", "--full"])
        .args(patterns)
        .output()
        .unwrap_or_else(|e| panic!("cannot run systemctl list-units: {e}"));
    assert!(
        o.status.success(),
        "systemctl list-units {patterns:?}: {o:?}"
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// `systemctl show UNIT -p P1,P2,...` as a map of property to value.
pub fn show(unit: &str, props: &[&str]) -> std::collections::BTreeMap<String, String> {
    let o = Command::new("systemctl")
        .args(["show", unit, "-p", &props.join(",")])
        .output()
        .unwrap_or_else(|e| panic!("cannot run systemctl show: {e}"));
    assert!(o.status.success(), "systemctl show {unit}: {o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Whether systemd lists `unit` (in any state).
pub fn listed(unit: &str) -> bool {
    leftover_units(&[unit.to_owned()]).iter().any(|u| u == unit)
}

/// Stops and resets `units` (what a failed test left behind); errors are printed, not raised
/// (this runs in drops).
pub fn remove_units(units: &[String]) {
    for u in units {
        for args in [["stop", u.as_str()], ["reset-failed", u.as_str()]] {
            match Command::new("systemctl").args(args).output() {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "systemctl {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => eprintln!("cannot run systemctl {args:?}: {e}"),
            }
        }
    }
}

/// The units matching `patterns` that are left ([`leftover_units`]), after removing them
/// ([`remove_units`]): empty when the tests cleaned up after themselves.
pub fn sweep(patterns: &[String]) -> Vec<String> {
    let left = leftover_units(patterns);
    remove_units(&left);
    left
}

/// Checks what an engine's systemd driver made for a container: `unit` is an active,
/// delegated scope in `slice`, with the memory limit `memory` in bytes (`MemoryMax` on the
/// unified hierarchy, `MemoryLimit` on v1), and process `pid` is in its cgroup.
pub fn assert_scope(unit: &str, slice: &str, memory: &str, pid: i32) {
    let p = show(
        unit,
        &[
            "ActiveState",
            "Slice",
            "Delegate",
            "MemoryMax",
            "MemoryLimit",
        ],
    );
    assert_eq!(p["ActiveState"], "active", "{p:?}");
    assert_eq!(p["Slice"], slice, "{p:?}");
    assert_eq!(p["Delegate"], "yes", "{p:?}");
    let limit = if crate::unified() {
        &p["MemoryMax"]
    } else {
        &p["MemoryLimit"]
    };
    assert_eq!(limit, memory, "{p:?}");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&format!("/{slice}/{unit}")), "{cg}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_runcs_expansion() {
        assert_eq!(cgroups_path("1-c"), "system.slice:lashing-test:1-c");
        assert_eq!(unit("1-c"), "lashing-test-1-c.scope");
        assert_eq!(cgroup("1-c"), "/system.slice/lashing-test-1-c.scope");
        // The driver's own parser agrees with these names.
        let p = lashing_cgroups::systemd::path::parse(&cgroups_path("1-c"), "c", "x", false, "/")
            .expect("a valid systemd path");
        assert_eq!(p.unit, unit("1-c"));
        assert_eq!(p.cgroup, cgroup("1-c"));
    }
}
