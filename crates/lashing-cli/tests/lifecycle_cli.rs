//! The lifecycle through the `lashing` program, against runc 1.3's behaviour: failures of init
//! after `create` returned reported by `start`, `start` racing `kill`/`delete --force`, an
//! OOM-killed init, a pre-frozen cgroup, `kill` of stopped containers, `exec` into a paused one.
//!
//! Every test runs real busybox containers (root and a static `/bin/busybox` needed, skipped with
//! a message otherwise) in a [`Sandbox`] of its own, removed even when the test fails.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use support::{Out, Sandbox, log_msg, sandbox, wait_exit, wait_for};

/// Runs `lashing --root <root> ARGS` (stdin /dev/null, output in files) and fails the test if
/// it has not exited after `limit`.
fn run_bounded(sb: &Sandbox, args: &[&str], limit: Duration) -> Out {
    let tmp = tempfile::tempdir().unwrap();
    let (o, e) = (tmp.path().join("out"), tmp.path().join("err"));
    let mut child = sb
        .command(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let code = wait_exit(&mut child, &format!("lashing {args:?}"), limit);
    Out {
        code,
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
    }
}

/// The freezer state file of a cgroups path (v1 freezer hierarchy, or v2 `cgroup.freeze`), and
/// the value that freezes it.
fn freezer_file(cgroups_path: &str) -> (PathBuf, &'static str) {
    let rel = cgroups_path.trim_start_matches('/');
    let v1 = PathBuf::from("/sys/fs/cgroup/freezer");
    if v1.is_dir() {
        (v1.join(rel).join("freezer.state"), "FROZEN")
    } else {
        (
            PathBuf::from("/sys/fs/cgroup")
                .join(rel)
                .join("cgroup.freeze"),
            "1",
        )
    }
}

// ---------------------------------------------------------------- 8.4: failures after Ready

/// A failure of init after `create` returned (here a startContainer hook, which runs once
/// `start` opened the fifo) is reported by `start` with its cause, not as "stopped" or success.
#[test]
fn start_reports_init_failure_after_create() {
    let sb = sandbox(&["sleep", "100"]);
    sb.edit(|v| {
        v["linux"]["cgroupsPath"] = sb.cgroups_path("c1").into();
        v["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/false"}]});
    });
    sb.ok(&["create", "c1"]);
    assert_eq!(sb.status("c1"), "created");
    let o = run_bounded(&sb, &["start", "c1"], Duration::from_secs(30));
    assert_ne!(o.code, 0, "start must fail: {}", o.stderr);
    let msg = log_msg(&o.stderr);
    assert!(msg.contains("startContainer hook"), "{msg}");
    assert!(!msg.contains("stopped"), "{msg}");
    sb.wait_status("c1", "stopped");
    sb.ok(&["delete", "c1"]);
}

/// `run` (init goes straight on, no exec fifo): a startContainer hook that fails is the start's
/// failure, as runc's: in the foreground exit 255 with the cause said, detached a failed `run`;
/// either way nothing is left behind.
#[test]
fn run_reports_a_start_failure_as_runc() {
    let sb = sandbox(&["true"]);
    sb.edit(|v| {
        v["linux"]["cgroupsPath"] = sb.cgroups_path("r1").into();
        v["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/false"}]});
    });
    let o = run_bounded(&sb, &["run", "r1"], Duration::from_secs(30));
    assert_eq!(o.code, 255, "{}", o.stderr);
    assert!(
        log_msg(&o.stderr).contains("startContainer hook"),
        "{}",
        o.stderr
    );
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
    let o = run_bounded(&sb, &["run", "-d", "r2"], Duration::from_secs(30));
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(
        log_msg(&o.stderr).contains("startContainer hook"),
        "{}",
        o.stderr
    );
    sb.run(&["delete", "--force", "r2"]);
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
}

/// An init that dies after `Ready` without reporting (a seccomp profile kills it at the
/// `setgroups` of its user switch): `create` fails and says so, and leaves nothing behind;
/// before, `create` succeeded and `start` said the container had stopped.
#[test]
fn init_killed_after_ready_fails_create() {
    let sb = sandbox(&["sleep", "100"]);
    sb.edit(|v| {
        v["linux"]["cgroupsPath"] = sb.cgroups_path("c1").into();
        // Without NNP the filter is loaded before the user switch (while init may still).
        v["process"]["noNewPrivileges"] = false.into();
        v["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["setgroups"], "action": "SCMP_ACT_KILL_PROCESS"}],
        });
    });
    let o = run_bounded(&sb, &["create", "c1"], Duration::from_secs(30));
    assert_ne!(o.code, 0, "create must fail: {}", o.stderr);
    let msg = log_msg(&o.stderr);
    assert!(msg.contains("killed by signal 31"), "{msg}");
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
}

/// A failure whose value is too large for one message (65,538 additional gids, refused by
/// `setgroups` or by validation): `create` fails naming it, nothing is left behind.
#[test]
fn huge_init_failure_is_reported_by_create() {
    let sb = sandbox(&["sleep", "100"]);
    sb.edit(|v| {
        v["linux"]["cgroupsPath"] = sb.cgroups_path("c1").into();
        v["process"]["user"]["additionalGids"] = (1..=65_538u32).collect::<Vec<_>>().into();
    });
    let o = run_bounded(&sb, &["create", "c1"], Duration::from_secs(60));
    assert_ne!(o.code, 0, "create must fail: {}", o.stderr);
    let msg = log_msg(&o.stderr);
    assert!(
        msg.contains("setgroups") || msg.contains("additionalGids"),
        "{msg}"
    );
    assert!(
        msg.len() < 16 * 1024,
        "unbounded message: {} bytes",
        msg.len()
    );
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
}

// ---------------------------------------------------------------- 8.11: start racing kill/delete

/// `start` racing `kill KILL` or `delete --force` on a created container: whatever wins, a
/// failing `start` never claims that the container runs (nothing else started it).
#[test]
fn start_racing_kill_or_delete_reports_the_real_state() {
    let sb = sandbox(&["sleep", "100"]);
    for i in 0..20 {
        let id = format!("r{i}");
        sb.edit(|v| v["linux"]["cgroupsPath"] = sb.cgroups_path(&id).into());
        sb.ok(&["create", &id]);
        let racer: &[&str] = if i % 2 == 0 {
            &["kill", &id, "KILL"]
        } else {
            &["delete", "--force", &id]
        };
        let start = sb
            .command(&["start", &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut other = sb
            .command(racer)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let o = start.wait_with_output().unwrap();
        wait_exit(&mut other, "the racing command", Duration::from_secs(30));
        let err = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() {
            assert!(
                !err.contains("running") && !err.contains("start it again"),
                "round {i} ({racer:?}): start claims the container runs: {err}"
            );
        }
        let _ = sb.run(&["delete", "--force", &id]);
    }
}

// ---------------------------------------------------------------- 8.18: OOM-killed init

/// The OOM killer acting in the container's cgroup while init is set up (a createContainer
/// hook that runs in it allocates past the memory limit): `create` says so in runc's words.
#[test]
fn oom_killed_init_is_named() {
    let sb = sandbox(&["sleep", "100"]);
    sb.edit(|v| {
        v["linux"]["cgroupsPath"] = sb.cgroups_path("c1").into();
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 16 << 20}});
        v["hooks"] = serde_json::json!({"createContainer": [{
            "path": "/bin/busybox",
            "args": ["sh", "-c", "x=$(/bin/busybox head -c 268435456 /dev/zero | /bin/busybox tr '\\0' a)"],
        }]});
    });
    let o = run_bounded(&sb, &["create", "c1"], Duration::from_secs(60));
    assert_ne!(o.code, 0, "create must fail: {}", o.stderr);
    let msg = log_msg(&o.stderr);
    assert!(
        msg.contains("container init was OOM-killed (memory limit too low?)"),
        "{msg}"
    );
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
}

// ---------------------------------------------------------------- 9.18: pre-frozen cgroup

/// A container whose cgroup is already frozen: `create` and `run -d` refuse it at once with
/// runc's message (before, `run -d` hung forever), and nothing is left behind.
#[test]
fn frozen_cgroup_is_refused_not_hung() {
    let sb = sandbox(&["sleep", "100"]);
    let path = sb.cgroups_path("c1");
    sb.edit(|v| v["linux"]["cgroupsPath"] = path.clone().into());
    let (file, frozen) = freezer_file(&path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, frozen).unwrap();
    for cmd in [&["run", "-d", "c1"][..], &["create", "c1"][..]] {
        let o = run_bounded(&sb, cmd, Duration::from_secs(30));
        assert_eq!(o.code, 1, "{cmd:?}: {}", o.stderr);
        let msg = log_msg(&o.stderr);
        assert!(
            msg.contains("container's cgroup unexpectedly frozen"),
            "{cmd:?}: {msg}"
        );
        assert!(sb.left().is_empty(), "{cmd:?} left: {:?}", sb.left());
    }
    // The cgroup is the caller's: still there, still frozen.
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), frozen);

    // A new cgroup under a frozen parent is frozen too (runc hangs there): refused, and the
    // cgroup made for it removed.
    let parent = sb.cgroups_path("p");
    let (pfile, frozen) = freezer_file(&parent);
    std::fs::create_dir_all(pfile.parent().unwrap()).unwrap();
    std::fs::write(&pfile, frozen).unwrap();
    let child = format!("{parent}/c2");
    sb.edit(|v| v["linux"]["cgroupsPath"] = child.clone().into());
    let o = run_bounded(&sb, &["run", "-d", "c2"], Duration::from_secs(30));
    assert_eq!(o.code, 1, "{}", o.stderr);
    let msg = log_msg(&o.stderr);
    assert!(
        msg.contains("container's cgroup unexpectedly frozen"),
        "{msg}"
    );
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
    assert!(!freezer_file(&child).0.parent().unwrap().exists());
}

// ---------------------------------------------------------------- 9.19: kill of stopped containers

/// As runc: `kill --all` of a stopped container succeeds; `kill` of its init is refused with
/// "container not running".
#[test]
fn kill_all_of_stopped_container_succeeds() {
    let sb = sandbox(&["true"]);
    sb.edit(|v| v["linux"]["cgroupsPath"] = sb.cgroups_path("c1").into());
    sb.ok(&["run", "-d", "c1"]);
    sb.wait_status("c1", "stopped");
    for sig in ["KILL", "TERM"] {
        let o = sb.run(&["kill", "--all", "c1", sig]);
        assert_eq!(o.code, 0, "kill --all {sig}: {}", o.stderr);
        let o = sb.run(&["kill", "c1", sig]);
        assert_eq!(o.code, 1, "kill {sig}: {}", o.stderr);
        assert_eq!(log_msg(&o.stderr), "container not running");
    }
    sb.ok(&["delete", "c1"]);
}

/// Without a pid namespace, processes outlive the init: once it is gone, `kill KILL` still
/// kills what is left in the container's cgroup (runc does), `kill TERM` is refused.
#[test]
fn sigkill_without_pid_namespace_kills_leftovers_of_stopped_container() {
    let sb = sandbox(&["sh", "-c", "sleep 1000 & exit 0"]);
    let path = sb.cgroups_path("c1");
    sb.edit(|v| {
        v["linux"]["cgroupsPath"] = path.clone().into();
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    sb.ok(&["run", "-d", "c1"]);
    sb.wait_status("c1", "stopped");
    let procs = || -> Vec<i32> {
        lashing_testsupport::hierarchies()
            .iter()
            .filter_map(|h| {
                std::fs::read_to_string(h.join(path.trim_start_matches('/')).join("cgroup.procs"))
                    .ok()
            })
            .flat_map(|t| {
                t.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    };
    wait_for("the leftover sleep", Duration::from_secs(10), || {
        !procs().is_empty()
    });
    let left = procs()[0];
    let o = sb.run(&["kill", "c1", "TERM"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(log_msg(&o.stderr), "container not running");
    assert!(!procs().is_empty(), "TERM must not reach the leftovers");
    sb.ok(&["kill", "c1", "KILL"]);
    wait_for("the leftovers to die", Duration::from_secs(10), || {
        sb.reap(left);
        procs().is_empty()
    });
    sb.ok(&["delete", "c1"]);
}

// ---------------------------------------------------------------- 8.6 + 9.21: exec and pause

/// `exec` into a paused container: refused with runc's message and status 255; with
/// `--ignore-paused` the process runs once the container is resumed.
#[test]
fn exec_into_paused_container() {
    let sb = sandbox(&["sleep", "100"]);
    sb.edit(|v| v["linux"]["cgroupsPath"] = sb.cgroups_path("c1").into());
    sb.ok(&["run", "-d", "c1"]);
    sb.ok(&["pause", "c1"]);
    let o = run_bounded(&sb, &["exec", "c1", "true"], Duration::from_secs(30));
    assert_eq!(o.code, 255, "{}", o.stderr);
    assert_eq!(
        log_msg(&o.stderr),
        "exec failed: cannot exec in a paused container (use --ignore-paused to override)"
    );
    let out = sb.path("exec.out");
    let mut exec = sb
        .command(&["exec", "--ignore-paused", "c1", "echo", "hi"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Frozen with the container: nothing runs until `resume`.
    wait_for(
        "the exec'd process in the cgroup",
        Duration::from_secs(10),
        || sb.run(&["ps", "c1"]).stdout.lines().count() > 2,
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
    sb.ok(&["resume", "c1"]);
    assert_eq!(
        wait_exit(&mut exec, "exec --ignore-paused", Duration::from_secs(30)),
        0
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hi\n");
    sb.ok(&["kill", "c1", "KILL"]);
    sb.wait_status("c1", "stopped");
    let o = sb.run(&["exec", "c1", "true"]);
    assert_eq!(o.code, 255, "{}", o.stderr);
    assert_eq!(
        log_msg(&o.stderr),
        "exec failed: cannot exec in a stopped container"
    );
    sb.ok(&["delete", "c1"]);
}

/// `start` waits for the user process to be executed, but a container frozen by someone while
/// init is between the fifo and `execve` (here in a long startContainer hook) does not keep it
/// waiting until a resume: it is started, as runc reports it.
#[test]
fn start_does_not_wait_for_a_frozen_container() {
    let sb = sandbox(&["sleep", "100"]);
    let path = sb.cgroups_path("c1");
    sb.edit(|v| {
        v["linux"]["cgroupsPath"] = path.clone().into();
        v["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "100"]}]});
    });
    sb.ok(&["create", "c1"]);
    let mut start = sb
        .command(&["start", "c1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The hook runs: init is past the fifo.
    wait_for("the startContainer hook", Duration::from_secs(10), || {
        sb.run(&["ps", "c1"]).stdout.lines().count() > 2
    });
    let (file, frozen) = freezer_file(&path);
    std::fs::write(&file, frozen).unwrap();
    assert_eq!(wait_exit(&mut start, "start", Duration::from_secs(30)), 0);
    let thawed = if frozen == "1" { "0" } else { "THAWED" };
    std::fs::write(&file, thawed).unwrap();
    sb.ok(&["delete", "--force", "c1"]);
}
