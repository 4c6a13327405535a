//! The smoke test of `tools/vm-run --systemd`: the guest that `scripts/test-guest-systemd` boots
//! (systemd as PID 1, the tests running as `vm-run.service`) really is a systemd host: the manager
//! finished booting, it answers on the system bus, it runs transient units (a service and a scope,
//! what the systemd cgroup driver creates), its cgroup hierarchy is the one asked for, and the
//! user manager of the unprivileged user answers on its own bus.
//!
//! Every test is `#[ignore]`d (the host has no systemd as PID 1); the script runs them with
//! `--run-ignored all`. Outside such a guest they report what is missing (and fail under CI).

use std::fs::File;
use std::io::{Read, Seek};
use std::process::{Command, Stdio};

use lashing_testsupport::{WAIT, missing, time_factor, wait_exit, wait_for};

/// `$VM_RUN_SYSTEMD` (`v2`, `v1` or `hybrid`), set by `vm-run --systemd` for its command; `None`
/// (after reporting it) outside the systemd guest.
fn guest() -> Option<String> {
    let mode = std::env::var("VM_RUN_SYSTEMD").ok();
    if mode.is_none() {
        missing("not in the systemd guest (run scripts/test-guest-systemd)");
    }
    mode
}

/// Runs `prog args` to its end (bounded by WAIT times the time factor) and returns its exit code
/// and its stdout and stderr together.
fn run(prog: &str, args: &[&str]) -> (i32, String) {
    let mut out = tempfile::tempfile().expect("a temporary file for the output");
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup the output file"))
        .stderr(out.try_clone().expect("dup the output file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    let what = format!("{prog} {}", args.join(" "));
    let code = wait_exit(&mut child, &what, WAIT * time_factor());
    let mut text = String::new();
    out.rewind().expect("rewind the output file");
    out.read_to_string(&mut text).expect("read the output");
    (code, text)
}

/// Like [`run`], and fails the test (with the output) unless it exits 0.
fn ok(prog: &str, args: &[&str]) -> String {
    let (code, text) = run(prog, args);
    assert_eq!(code, 0, "{prog} {}: exit {code}: {text}", args.join(" "));
    text
}

/// The mounts of this process: (mount point, file system type).
fn mounts() -> Vec<(String, String)> {
    let mut text = String::new();
    File::open("/proc/self/mountinfo")
        .and_then(|mut f| f.read_to_string(&mut text))
        .expect("read /proc/self/mountinfo");
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let fstype = right.split(' ').next()?;
            Some((point.to_string(), fstype.to_string()))
        })
        .collect()
}

#[test]
#[ignore = "needs the systemd guest: run by scripts/test-guest-systemd"]
fn systemd_is_pid1_and_finished_booting() {
    if guest().is_none() {
        return;
    }
    let comm = std::fs::read_to_string("/proc/1/comm").expect("read /proc/1/comm");
    assert_eq!(comm.trim(), "systemd", "PID 1 is {comm}");
    // `--wait`: until the boot's jobs are done; "running" means none failed either.
    let state = ok("systemctl", &["is-system-running", "--wait"]);
    assert_eq!(state.trim(), "running", "systemctl is-system-running");
    let me = std::fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
    assert!(
        me.lines()
            .any(|l| l.ends_with(":/system.slice/vm-run.service")),
        "the command does not run in vm-run.service: {me}"
    );
}

#[test]
#[ignore = "needs the systemd guest: run by scripts/test-guest-systemd"]
fn cgroup_hierarchy_is_the_one_asked_for() {
    let Some(mode) = guest() else { return };
    let m = mounts();
    let fstype = |point: &str| {
        m.iter()
            .find(|(p, _)| p == point)
            .map(|(_, t)| t.as_str())
            .unwrap_or("(not mounted)")
    };
    let cgroup2: Vec<_> = m.iter().filter(|(_, t)| t == "cgroup2").collect();
    match mode.as_str() {
        "v2" => {
            assert_eq!(fstype("/sys/fs/cgroup"), "cgroup2");
            assert!(
                !m.iter().any(|(_, t)| t == "cgroup"),
                "a v1 hierarchy is mounted"
            );
            // systemd enabled the controllers the driver's units need.
            let ctl = std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control")
                .expect("read the root's cgroup.subtree_control");
            for c in ["memory", "pids"] {
                assert!(ctl.split_whitespace().any(|x| x == c), "{c} not in {ctl}");
            }
        }
        "v1" | "hybrid" => {
            assert_eq!(fstype("/sys/fs/cgroup"), "tmpfs");
            for c in [
                "memory",
                "cpu,cpuacct",
                "pids",
                "devices",
                "freezer",
                "systemd",
            ] {
                assert_eq!(fstype(&format!("/sys/fs/cgroup/{c}")), "cgroup", "{c}");
            }
            if mode == "v1" {
                assert!(cgroup2.is_empty(), "legacy mode with cgroup2: {cgroup2:?}");
            } else {
                assert_eq!(fstype("/sys/fs/cgroup/unified"), "cgroup2");
            }
        }
        other => panic!("VM_RUN_SYSTEMD={other}: not v2, v1 or hybrid"),
    }
}

#[test]
#[ignore = "needs the systemd guest: run by scripts/test-guest-systemd"]
fn system_bus_answers() {
    if guest().is_none() {
        return;
    }
    let version = ok(
        "busctl",
        &[
            "--system",
            "get-property",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "Version",
        ],
    );
    assert!(version.starts_with("s \""), "Manager.Version: {version}");
    let unit = ok(
        "busctl",
        &[
            "--system",
            "call",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "GetUnit",
            "s",
            "vm-run.service",
        ],
    );
    assert!(
        unit.contains("/org/freedesktop/systemd1/unit/vm_2drun_2eservice"),
        "GetUnit(vm-run.service): {unit}"
    );
}

#[test]
#[ignore = "needs the systemd guest: run by scripts/test-guest-systemd"]
fn transient_service_and_scope_run_and_go_away() {
    if guest().is_none() {
        return;
    }
    let name = format!("lashing-smoke-{}", std::process::id());
    let service = format!("{name}.service");
    let out = ok(
        "systemd-run",
        &[
            "--wait",
            "--pipe",
            "--quiet",
            "--unit",
            &service,
            "-p",
            "TasksMax=64",
            "cat",
            "/proc/self/cgroup",
        ],
    );
    assert!(
        out.contains(&format!("/system.slice/{service}")),
        "the transient service ran elsewhere: {out}"
    );
    let scope = format!("{name}.scope");
    let out = ok(
        "systemd-run",
        &[
            "--scope",
            "--quiet",
            "--unit",
            &scope,
            "--slice",
            "lashing-smoke.slice",
            "cat",
            "/proc/self/cgroup",
        ],
    );
    assert!(
        out.contains(&format!("/lashing.slice/lashing-smoke.slice/{scope}")),
        "the scope ran elsewhere: {out}"
    );
    // Both ended: systemd collects them (the scope once it has seen its cgroup empty, which it
    // learns asynchronously), and nothing is left for `list-units`.
    let listed = || {
        ok(
            "systemctl",
            &[
                "list-units",
                "--all",
                "--plain",
                "--no-legend",
                "lashing-smoke-*",
            ],
        )
    };
    wait_for(
        "systemd to collect the smoke units",
        WAIT * time_factor(),
        || listed().trim().is_empty(),
    );
}

#[test]
#[ignore = "needs the systemd guest: run by scripts/test-guest-systemd"]
fn user_manager_answers_on_its_bus() {
    if guest().is_none() {
        return;
    }
    let (Ok(user), Ok(uid), Ok(dir), Ok(bus)) = (
        std::env::var("VM_RUN_USER"),
        std::env::var("VM_RUN_USER_UID"),
        std::env::var("VM_RUN_USER_RUNTIME_DIR"),
        std::env::var("VM_RUN_USER_BUS"),
    ) else {
        missing("no user manager in this guest (vm-run --user-manager)");
        return;
    };
    let unit = format!("user@{uid}.service");
    let state = ok("systemctl", &["is-active", &unit]);
    assert_eq!(state.trim(), "active", "{unit}");
    let linger = ok("loginctl", &["show-user", &user, "--property=Linger"]);
    assert_eq!(linger.trim(), "Linger=yes", "{user}");
    let env = [
        "--reuid",
        &uid,
        "--regid",
        &uid,
        "--clear-groups",
        "env",
        &format!("XDG_RUNTIME_DIR={dir}"),
        &format!("DBUS_SESSION_BUS_ADDRESS={bus}"),
    ];
    let mut args: Vec<&str> = env.to_vec();
    args.extend([
        "busctl",
        "--user",
        "get-property",
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "Version",
    ]);
    let version = ok("setpriv", &args);
    assert!(
        version.starts_with("s \""),
        "the user manager's Version: {version}"
    );
    let mut args: Vec<&str> = env.to_vec();
    args.extend(["systemctl", "--user", "is-system-running", "--wait"]);
    let state = ok("setpriv", &args);
    assert_eq!(
        state.trim(),
        "running",
        "systemctl --user is-system-running"
    );
}
