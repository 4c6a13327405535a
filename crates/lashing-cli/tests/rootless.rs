//! Rootless: `lashing` run by an unprivileged user (made by the harness, with subordinate id
//! ranges) from a bundle of `lashing spec --rootless`, with its own `XDG_RUNTIME_DIR`: the
//! default state root, the lifecycle, id maps of one and several ranges, cgroup rules without
//! delegation, and the CVE-2023-25809 regression.

mod support;

use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lashing_testsupport::unprivileged::{UserSandbox, find_tool};
use lashing_testsupport::{Cleanup, log_msg, wait_for};
use support::{APPLETS, BIN, accept_fd, listener, read_until};

/// A rootless sandbox, or `None` when the test user cannot be made here.
fn sandbox(args: &[&str]) -> Option<UserSandbox> {
    // On `None`, `UserSandbox::new` has reported the skip with `lashing_testsupport::missing(..)`
    // (a failure in CI).
    let mut applets = APPLETS.to_vec();
    applets.extend(["id", "mkdir", "touch", "grep"]);
    UserSandbox::new(Path::new(BIN), args, &applets)
}

fn state_json(sb: &UserSandbox, id: &str) -> serde_json::Value {
    let path = sb.xdg().join("lashing").join(id).join("state.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[test]
fn rootless_run_maps_the_callers_ids_and_uses_xdg_runtime_dir() {
    let Some(sb) = sandbox(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g",
    ]) else {
        return;
    };
    let out = sb.ok(&["run", "r1"]);
    let (uid, gid) = (sb.user.uid, sb.user.gid);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "0",
            &uid.to_string(),
            "1",
            "0",
            &gid.to_string(),
            "1",
            "0",
            "0"
        ],
        "{out}"
    );
    // runc's default root for a non-root user: $XDG_RUNTIME_DIR/<name>, 0700 with the sticky bit.
    let root = sb.xdg().join("lashing");
    let mode = std::fs::metadata(&root)
        .unwrap_or_else(|e| panic!("no default state root {}: {e}", root.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o1700, "{}", root.display());
    assert!(sb.left().is_empty(), "run left {:?}", sb.left());
    // An XDG_RUNTIME_DIR the user cannot write: runc's two lines, status 1; `--root` skips it.
    let unwritable = sb.bundle().join("rootfs/proc");
    let mut c = sb.command(&["list"]);
    c.env("XDG_RUNTIME_DIR", &unwritable);
    std::fs::set_permissions(&unwritable, std::fs::Permissions::from_mode(0o500)).unwrap();
    let o = lashing_testsupport::run_command(c, "lashing list");
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .starts_with("the path in $XDG_RUNTIME_DIR must be writable by the user\n"),
        "{}",
        o.stderr
    );
    assert!(log_msg(&o.stderr).starts_with("mkdir "), "{}", o.stderr);
    let mut c = sb.command(&["--root", sb.xdg().join("lashing").to_str().unwrap(), "list"]);
    c.env("XDG_RUNTIME_DIR", &unwritable);
    let o = lashing_testsupport::run_command(c, "lashing --root list");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let f: serde_json::Value = serde_json::from_str(&sb.ok(&["features"])).unwrap();
    assert_eq!(
        f["annotations"]["io.github.lashing.rootless"], "true",
        "{f}"
    );
    let f: serde_json::Value =
        serde_json::from_str(&sb.ok(&["--rootless", "false", "features"])).unwrap();
    assert_eq!(
        f["annotations"]["io.github.lashing.rootless"], "true",
        "euid: {f}"
    );
}

#[test]
fn rootless_lifecycle_create_start_exec_kill_delete() {
    let Some(sb) = sandbox(&["sleep", "1000"]) else {
        return;
    };
    sb.ok(&["create", "l1"]);
    let st = state_json(&sb, "l1");
    assert_eq!(st["rootless"], true, "state.json: {st}");
    let state: serde_json::Value = serde_json::from_str(&sb.ok(&["state", "l1"])).unwrap();
    assert_eq!(state["status"], "created");
    sb.ok(&["start", "l1"]);
    // No cgroup of its own (hybrid host, no delegation): runc's error for a new limit, and no
    // process list (runc: `unable to get all container pids`).
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let o = sb.run(&["ps", "l1"]);
        assert_ne!(o.code, 0);
        assert!(
            log_msg(&o.stderr).contains("has no cgroup of its own"),
            "{}",
            o.stderr
        );
        let o = sb.run(&["update", "--pids-limit", "10", "l1"]);
        assert_ne!(o.code, 0);
        assert_eq!(
            log_msg(&o.stderr),
            "cannot set pids limit: container could not join or create cgroup"
        );
    }
    let out = sb.ok(&["exec", "l1", "sh", "-c", "echo exec-as-$(id -u)"]);
    assert_eq!(out.trim(), "exec-as-0");
    sb.ok(&["kill", "l1", "KILL"]);
    wait_for("l1 to stop", lashing_testsupport::WAIT, || {
        let o = sb.run(&["state", "l1"]);
        o.stdout.contains("\"stopped\"")
    });
    sb.ok(&["delete", "l1"]);
    assert!(sb.left().is_empty(), "delete left {:?}", sb.left());
}

#[test]
fn rootless_user_namespace_with_several_ranges_uses_newuidmap() {
    let Some(sb) = sandbox(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
    ]) else {
        return;
    };
    let (uid, gid) = (sb.user.uid, sb.user.gid);
    let (su, sg) = (sb.user.subuid, sb.user.subgid);
    sb.edit(|v| {
        v["linux"]["uidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": uid, "size": 1},
            {"containerID": 1, "hostID": su.0, "size": 1000},
        ]);
        v["linux"]["gidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": gid, "size": 1},
            {"containerID": 1, "hostID": sg.0, "size": 1000},
        ]);
    });
    let out = sb.ok(&["run", "m1"]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let u = |a: u32, b: u32, c: u32| vec![a.to_string(), b.to_string(), c.to_string()];
    let got: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(
        got,
        vec![
            u(0, uid, 1),
            u(1, su.0, 1000),
            u(0, gid, 1),
            u(1, sg.0, 1000),
            vec!["0".to_string()]
        ],
        "{out}"
    );

    // A range the user was not given (right past its own): newuidmap refuses it, the error
    // says so, nothing is left.
    sb.edit(|v| {
        v["linux"]["uidMappings"][1]["hostID"] = (su.0 + su.1).into();
    });
    let o = sb.run(&["run", "m2"]);
    assert_ne!(o.code, 0);
    let msg = log_msg(&o.stderr);
    assert!(
        msg.contains("uid_map") && msg.contains("newuidmap") && msg.contains("/etc/subuid"),
        "{msg}"
    );
    assert!(sb.left().is_empty(), "a failed run left {:?}", sb.left());
    assert!(
        !sb.xdg().join("lashing/m2").exists(),
        "a failed run left its state directory"
    );
}

#[test]
fn rootless_limits_without_a_cgroup_of_its_own_fail_clearly() {
    let Some(sb) = sandbox(&["true"]) else {
        return;
    };
    // No limits: the cgroups the user may not create are skipped (runc's rule).
    sb.ok(&["run", "c1"]);
    sb.edit(|v| v["linux"]["resources"] = serde_json::json!({"pids": {"limit": 100}}));
    let o = sb.run(&["run", "c2"]);
    assert_ne!(o.code, 0, "a pids limit without a pids cgroup must fail");
    assert_eq!(
        log_msg(&o.stderr),
        "cannot set pids limit: container could not join or create cgroup"
    );
    assert!(sb.left().is_empty(), "a failed run left {:?}", sb.left());
    // --rootless false: cgroup permission errors are errors.
    sb.edit(|v| v["linux"]["resources"] = serde_json::json!({}));
    let o = sb.run(&["--rootless", "false", "run", "c3"]);
    assert_ne!(o.code, 0, "--rootless false must not skip the cgroups");
    assert!(
        log_msg(&o.stderr).contains("ermission denied"),
        "{}",
        o.stderr
    );
    assert!(sb.left().is_empty(), "a failed run left {:?}", sb.left());
}

/// CVE-2023-25809: without a cgroup namespace, a rootless container's `/sys/fs/cgroup` (the
/// host's, bound) must be read-only throughout, even where the user owns a cgroup.
#[test]
fn rootless_sys_fs_cgroup_is_not_writable_without_cgroupns() {
    let Some(sb) = sandbox(&["true"]) else {
        return;
    };
    let name = format!("lashing-test-rootless-{}", std::process::id());
    let cleanup = Cleanup::new();
    cleanup.cgroup(&format!("/{name}"));
    // A cgroup the user owns, in the first hierarchy: writable for the user on the host.
    let hierarchy = lashing_testsupport::hierarchies()
        .into_iter()
        .find(|h| h.ends_with("pids") || h == Path::new("/sys/fs/cgroup"))
        .expect("a pids or v2 hierarchy");
    let own = hierarchy.join(&name);
    std::fs::create_dir(&own).unwrap_or_else(|e| panic!("mkdir {}: {e}", own.display()));
    std::os::unix::fs::chown(&own, Some(sb.user.uid), Some(sb.user.gid)).expect("chown");
    let inside = Path::new("/sys/fs/cgroup")
        .join(hierarchy.strip_prefix("/sys/fs/cgroup").unwrap())
        .join(&name)
        .join("x");
    let script = format!(
        "mkdir {} && echo WRITABLE; mkdir /sys/fs/cgroup/y && echo WRITABLE-TOP; true",
        inside.display()
    );
    sb.edit(|v| {
        v["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "cgroup");
    });
    let o = sb.run(&["run", "cve"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        !o.stdout.contains("WRITABLE"),
        "writable cgroupfs: {}",
        o.stdout
    );
    assert!(
        o.stderr.to_lowercase().contains("read-only file system"),
        "the owned cgroup must be refused as read-only: {}",
        o.stderr
    );
    assert!(!own.join("x").exists());
}

#[test]
fn rootless_terminal_through_a_console_socket() {
    let Some(sb) = sandbox(&["sh", "-c", "tty; read x; echo got:$x"]) else {
        return;
    };
    sb.edit(|v| v["process"]["terminal"] = true.into());
    let sock = sb.path("console.sock");
    let l = listener(&sock);
    // The user's runtime connects to it.
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    sb.ok(&["create", "--console-socket", sock.to_str().unwrap(), "t1"]);
    let (name, master) = accept_fd(&l);
    assert_eq!(name, "/dev/pts/ptmx", "runc's payload");
    sb.ok(&["start", "t1"]);
    let text = read_until(master.as_fd(), "/dev/pts/0", lashing_testsupport::WAIT);
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    rustix::io::write(&master, b"xyz\n").unwrap();
    let text = read_until(master.as_fd(), "got:xyz", lashing_testsupport::WAIT);
    assert!(text.contains("got:xyz"), "{text:?}");
    wait_for("t1 to stop", lashing_testsupport::WAIT, || {
        sb.run(&["state", "t1"]).stdout.contains("\"stopped\"")
    });
    sb.ok(&["delete", "t1"]);
    // exec -t in the foreground: the runtime relays (stdin is /dev/null here).
    sb.edit(|v| {
        v["process"]["terminal"] = false.into();
        v["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    sb.ok(&["run", "-d", "t2"]);
    let o = sb.run(&["exec", "-t", "t2", "sh", "-c", "tty; exit 4"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stdout.contains("/dev/pts/"), "{}", o.stdout);
    sb.ok(&["delete", "--force", "t2"]);
}

/// As root: a container joining another's user namespace by path; maps in its config must be
/// that namespace's (runc's check), and a multi-range map works as root.
#[test]
fn joined_user_namespace_maps_are_checked_against_the_config() {
    let sb = support::sandbox(&["sleep", "1000"]);
    for d in ["proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(sb.rootfs().join(d)).unwrap();
    }
    let maps = serde_json::json!([
        {"containerID": 0, "hostID": 100000, "size": 1000},
        {"containerID": 1000, "hostID": 200000, "size": 1000},
    ]);
    sb.edit(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        v["linux"]["uidMappings"] = maps.clone();
        v["linux"]["gidMappings"] = maps.clone();
        v["linux"]["cgroupsPath"] = sb.cgroups_path("owner").into();
    });
    sb.ok(&["run", "-d", "owner"]);
    let pid = sb.pid("owner");
    let joined = format!("/proc/{pid}/ns/user");
    let set = |id: &str, uid: serde_json::Value| {
        sb.edit(|v| {
            v["linux"]["cgroupsPath"] = sb.cgroups_path(id).into();
            v["process"]["args"] = serde_json::json!(["sh", "-c", "cat /proc/self/uid_map"]);
            for ns in v["linux"]["namespaces"].as_array_mut().unwrap() {
                if ns["type"] == "user" {
                    ns["path"] = joined.clone().into();
                }
            }
            v["linux"]["uidMappings"] = uid.clone();
            v["linux"]["gidMappings"] = uid;
        })
    };
    // Other maps than the namespace's: runc's error, nothing created.
    set(
        "j1",
        serde_json::json!([{"containerID": 0, "hostID": 300000, "size": 1000}]),
    );
    let o = sb.run(&["run", "j1"]);
    assert_ne!(o.code, 0, "mismatching maps must be refused");
    assert!(
        log_msg(&o.stderr).contains("non-matching mapping specified"),
        "{}",
        o.stderr
    );
    assert!(!sb.left().contains(&"j1".to_string()), "{:?}", sb.left());
    // The same ranges in another order: accepted (with runc's warning).
    let mut reversed = maps.clone();
    reversed.as_array_mut().unwrap().reverse();
    set("j2", reversed);
    let o = sb.run(&["run", "j2"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("you may only provide one"),
        "{}",
        o.stderr
    );
    let lines: Vec<&str> = o.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines.len(),
        2,
        "the joined namespace's two ranges: {}",
        o.stdout
    );
    // No maps: the namespace's are used.
    set("j3", serde_json::Value::Null);
    let o = sb.run(&["run", "j3"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    sb.ok(&["delete", "--force", "owner"]);
}

/// cgroup v2 with delegation: the user owns a cgroup and runs the runtime from a child of it
/// (its session scope). On a pure v2 host (the guest) the container's cgroup is made next to
/// that scope (runc's fs2 rule) with the controllers the owner enabled, and gets its limit; the
/// device eBPF program, which a user namespace may not load, is skipped as runc does. On a
/// hybrid host the v2 hierarchy holds no limits: the container's cgroup is made below the scope
/// (runc's v1 manager rule for it) and holds the init, while the v1 hierarchies are skipped.
#[test]
fn rootless_v2_delegated_cgroup_is_used() {
    let Some(sb) = sandbox(&["sleep", "1000"]) else {
        return;
    };
    let pure = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let base = if pure {
        Path::new("/sys/fs/cgroup")
    } else {
        Path::new("/sys/fs/cgroup/unified")
    };
    let name = format!("lashing-test-rootless-deleg-{}", std::process::id());
    let cleanup = Cleanup::new();
    cleanup.cgroup(&format!("/{name}"));
    let deleg = base.join(&name);
    let scope = deleg.join("session.scope");
    std::fs::create_dir(&deleg).unwrap();
    if pure {
        std::fs::write(deleg.join("cgroup.subtree_control"), "+pids +memory").unwrap();
        sb.edit(|v| v["linux"]["resources"] = serde_json::json!({"pids": {"limit": 42}}));
    }
    std::fs::create_dir(&scope).unwrap();
    let (uid, gid) = (sb.user.uid, sb.user.gid);
    for p in [
        deleg.clone(),
        deleg.join("cgroup.procs"),
        deleg.join("cgroup.subtree_control"),
        deleg.join("cgroup.threads"),
        scope.clone(),
        scope.join("cgroup.procs"),
        scope.join("cgroup.threads"),
    ] {
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
    }
    let o = sb.run_in_cgroup(&scope, &["run", "-d", "d1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let ctr = if pure {
        deleg.join("d1")
    } else {
        scope.join("d1")
    };
    if pure {
        let max = std::fs::read_to_string(ctr.join("pids.max"))
            .unwrap_or_else(|e| panic!("no container cgroup next to the scope: {e}"));
        assert_eq!(max.trim(), "42");
    }
    let procs = std::fs::read_to_string(ctr.join("cgroup.procs"))
        .unwrap_or_else(|e| panic!("no container cgroup {}: {e}", ctr.display()));
    assert!(!procs.trim().is_empty(), "the init is in its cgroup");
    let o = sb.run_in_cgroup(&scope, &["delete", "--force", "d1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!ctr.exists(), "delete removes the container's cgroup");
}

/// Rootless podman's pause process (the holder of its user namespace), ended on drop, also when
/// the test fails: started by the test, re-parented to it (a subreaper).
struct PausePid(PathBuf);

impl Drop for PausePid {
    fn drop(&mut self) {
        // No pid file: podman never started its pause process.
        let text = std::fs::read_to_string(&self.0).unwrap_or_default();
        if let Some(pid) = text
            .trim()
            .parse()
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            // ECHILD: not re-parented to us (then not ours to wait for).
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
    }
}

/// Rootless podman with lashing as its runtime: podman makes the user namespace itself (from the
/// user's subordinate ranges) and runs lashing inside it as root of that namespace, so this is
/// the in-userns path (rootless cgroups detected from the uid map). Private storage (vfs),
/// runroot and containers.conf (ulimits within this machine's hard limits), no network, an
/// image imported from the busybox rootfs.
#[test]
fn rootless_podman_runs_execs_stops_and_removes_with_lashing() {
    let Some(sb) = sandbox(&["true"]) else {
        return;
    };
    let Some(podman) = find_tool("podman") else {
        lashing_testsupport::missing("podman is not installed (Debian package `podman`)");
        return;
    };
    let d = sb.path("podman");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(
        d.join("containers.conf"),
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
         [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )
    .unwrap();
    let tar = d.join("busybox.tar");
    let o = Command::new("tar")
        .arg("-C")
        .arg(sb.bundle().join("rootfs"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let owner = format!("{}:{}", sb.user.uid, sb.user.gid);
    assert!(
        Command::new("chown")
            .arg("-R")
            .arg(owner)
            .arg(&d)
            .status()
            .unwrap()
            .success()
    );
    let _pause = PausePid(d.join("tmp/pause.pid"));
    let dir = |name: &str| d.join(name).to_string_lossy().into_owned();
    let (root, runroot, tmp) = (dir("root"), dir("runroot"), dir("tmp"));
    let run = |args: &[&str]| {
        let mut full = vec![
            "--root",
            &root,
            "--runroot",
            &runroot,
            "--tmpdir",
            &tmp,
            "--storage-driver",
            "vfs",
            "--runtime",
            BIN,
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ];
        full.extend(args);
        let mut c = sb.as_user(&podman, &full);
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("XDG_CONFIG_HOME", d.join("config"));
        lashing_testsupport::run_command(c, &format!("podman {args:?}"))
    };
    let ok = |args: &[&str]| {
        let o = run(args);
        assert_eq!(o.code, 0, "podman {args:?}: {}\n{}", o.stdout, o.stderr);
        o.stdout
    };
    ok(&["import", tar.to_str().unwrap(), "localhost/lashing-bb"]);
    let out = ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "localhost/lashing-bb",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (uid, su) = (sb.user.uid.to_string(), sb.user.subuid.0.to_string());
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], ["0"], "{out}");
    assert_eq!(lines[1], ["0", uid.as_str(), "1"], "{out}");
    assert_eq!(
        lines[2][1],
        su.as_str(),
        "podman maps the subordinate range: {out}"
    );
    // --userns=keep-id: the user's own uid inside.
    let out = ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--userns=keep-id",
        "localhost/lashing-bb",
        "id",
        "-u",
    ]);
    assert_eq!(out.trim(), uid, "keep-id");
    // -d, exec (plain and with a terminal), stop, rm.
    ok(&[
        "run",
        "-d",
        "--name",
        "rl1",
        "--network",
        "none",
        "localhost/lashing-bb",
        "sleep",
        "1000",
    ]);
    let out = ok(&["exec", "rl1", "sh", "-c", "echo exec-ok"]);
    assert_eq!(out.trim(), "exec-ok");
    let out = ok(&[
        "exec",
        "-t",
        "rl1",
        "sh",
        "-c",
        "test -t 0 && echo is-a-tty",
    ]);
    assert!(out.contains("is-a-tty"), "{out}");
    ok(&["stop", "-t", "1", "rl1"]);
    ok(&["rm", "rl1"]);
    let out = ok(&["ps", "-a", "-q"]);
    assert!(out.trim().is_empty(), "left: {out}");
}
