//! The container side of the bootstrap as the CLI shows it: fd limits and fd hygiene, the cwd
//! and the user switch, a created container's init (its fds, its signals), and init's log lines
//! reaching `--log`. Real containers from a busybox rootfs (root and `/bin/busybox` needed; each
//! test is skipped with a message otherwise).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::{BIN, Sandbox, sandbox};

/// Runs `script` with `sh` in the sandbox's bundle dir, `$L` being `lashing --root <root>`.
fn shell(sb: &Sandbox, script: &str) -> support::Out {
    let tmp = tempfile::tempdir().unwrap();
    let (o, e) = (tmp.path().join("out"), tmp.path().join("err"));
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("L", format!("{BIN} --root {}", sb.root))
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .current_dir(sb.bundle())
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .unwrap();
    support::Out {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
    }
}

/// The fds of `pid` with what they point at.
fn fds_of(pid: i32) -> Vec<(u32, String)> {
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n: u32 = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((n, target.display().to_string()))
        })
        .collect();
    fds.sort();
    fds
}

/// Issue 8.14: with the caller's RLIMIT_NOFILE at 24 and no `process.rlimits`, a container runs
/// (runc 1.3.6 needs more than 24 here; lashing used to need 69: init moved its fds to fixed
/// numbers above 64).
#[test]
fn runs_with_a_tiny_nofile_limit() {
    let sb = sandbox(&["sh", "-c", "echo ok"]);
    sb.edit(|v| {
        v["process"].as_object_mut().unwrap().remove("rlimits");
    });
    let o = shell(&sb, "ulimit -n 24 && exec $L run nofile24");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "ok\n");
}

/// Issue 8.15: `--preserve-fds` over a range where the caller has fds closed: those stay closed
/// in the container, and no fd of the runtime's own (cgroup directories, ...) takes their place.
#[test]
fn preserve_fds_keeps_closed_fds_closed() {
    // No command substitution: its pipe would take the lowest free fd of the shell.
    let script = "for i in 3 4 5 6 7 8 9; do echo -n \"$i \"; readlink /proc/1/fd/$i || echo; done";
    let sb = sandbox(&["sh", "-c", script]);
    let (a, b) = (sb.path("a"), sb.path("b"));
    std::fs::write(&a, "a").unwrap();
    std::fs::write(&b, "b").unwrap();
    let o = shell(
        &sb,
        &format!(
            "exec 3<{} 4<&- 5<{} 6<&- 7<&- 8<&-; exec $L run --preserve-fds 5 pf",
            a.display(),
            b.display()
        ),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!("3 {}", a.display()).as_str(),
            "4 ",
            format!("5 {}", b.display()).as_str(),
            "6 ",
            "7 ",
            "8 ",
            "9 "
        ],
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("cgroup"), "{}", o.stdout);
}

/// With socket activation too: the `LISTEN_FDS` range counts positions, a closed one included,
/// and `--preserve-fds` comes after it.
#[test]
fn listen_fds_with_a_closed_fd_keep_their_positions() {
    let script = "echo fds=$LISTEN_FDS; for i in 3 4 5; do echo -n \"$i \"; readlink /proc/1/fd/$i || echo; done";
    let sb = sandbox(&["sh", "-c", script]);
    let (a, b) = (sb.path("a"), sb.path("b"));
    std::fs::write(&a, "a").unwrap();
    std::fs::write(&b, "b").unwrap();
    let o = shell(
        &sb,
        &format!(
            "exec 3<{} 4<&- 5<{}; export LISTEN_PID=$$ LISTEN_FDS=2; \
             exec $L run --preserve-fds 1 lf",
            a.display(),
            b.display()
        ),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let want = format!("fds=2\n3 {}\n4 \n5 {}\n", a.display(), b.display());
    assert_eq!(o.stdout, want);
}

/// The same through `exec --preserve-fds`.
#[test]
fn exec_preserve_fds_keeps_closed_fds_closed() {
    let sb = sandbox(&["sleep", "100"]);
    sb.ok(&["run", "-d", "ex"]);
    let a = sb.path("a");
    std::fs::write(&a, "a").unwrap();
    let o = shell(
        &sb,
        &format!(
            "exec 3<&- 4<{} 5<&- 6<&-; exec $L exec --preserve-fds 3 ex sh -c \
             'for i in 3 4 5 6; do echo -n \"$i \"; readlink /proc/$$/fd/$i || echo; done'",
            a.display()
        ),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let want = format!("3 \n4 {}\n5 \n6 \n", a.display());
    assert_eq!(o.stdout, want);
    sb.ok(&["delete", "--force", "ex"]);
}

/// Issue 9.23: a created container's init holds stdio and the exec fifo handle, nothing on a
/// procfs (it used to hold a private procfs and its `self/fd` while it waited).
#[test]
fn created_init_holds_no_procfs_fd() {
    let sb = sandbox(&["true"]);
    sb.ok(&["create", "fds"]);
    let pid = sb.pid("fds");
    let fds = fds_of(pid);
    for (n, target) in &fds {
        let st = rustix::fs::statfs(format!("/proc/{pid}/fd/{n}")).unwrap();
        assert_ne!(
            st.f_type,
            rustix::fs::PROC_SUPER_MAGIC,
            "fd {n} -> {target} is on a procfs: {fds:?}"
        );
    }
    let numbers: Vec<u32> = fds.iter().map(|(n, _)| *n).collect();
    assert_eq!(&numbers[..3], &[0, 1, 2], "{fds:?}");
    assert_eq!(numbers.len(), 4, "stdio and the fifo only: {fds:?}");
    assert!(fds[3].1.ends_with("/fds/exec.fifo"), "{fds:?}");
    // And it still starts.
    sb.ok(&["start", "fds"]);
    sb.wait_status("fds", "stopped");
    sb.reap(pid);
}

/// Issue 9.20: SIGTERM, SIGINT or SIGHUP to a created container's init (waiting on the exec
/// fifo) ends it, as runc's (Go's default action); pid 1 of a namespace used to ignore them.
#[test]
fn signals_end_a_created_init() {
    let sb = sandbox(&["sleep", "100"]);
    for sig in ["TERM", "INT", "HUP"] {
        let id = format!("sig{}", sig.to_lowercase());
        sb.ok(&["create", &id]);
        let pid = sb.pid(&id);
        assert_eq!(sb.status(&id), "created");
        sb.ok(&["kill", &id, sig]);
        sb.wait_status(&id, "stopped");
        sb.reap_blocking(pid);
        sb.ok(&["delete", &id]);
    }
}

/// Issue 9.20 through `--pidfd-socket`: SIGTERM sent with the pidfd to the created container's
/// init ends it.
#[test]
fn pidfd_signal_ends_a_created_init() {
    let sb = sandbox(&["sleep", "100"]);
    let sock = sb.path("pidfd.sock");
    let l = support::listener(&sock);
    sb.ok(&["create", "--pidfd-socket", sock.to_str().unwrap(), "pfd"]);
    let (_, pidfd) = support::accept_fd(&l);
    let pid = sb.pid("pfd");
    assert_eq!(sb.status("pfd"), "created");
    rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::TERM).unwrap();
    sb.wait_status("pfd", "stopped");
    sb.reap_blocking(pid);
    sb.ok(&["delete", "pfd"]);
}

/// Issues 8.7 and 9.17: a cwd that does not exist is created before the root is made
/// read-only; a user without access to the cwd starts there (runc changes into it before the
/// user switch), and the cwd is still checked to be inside the container afterwards.
#[test]
fn cwd_with_readonly_root_and_unreachable_for_the_user() {
    let sb = sandbox(&["sh", "-c", "pwd; id -u 2>/dev/null || true"]);
    sb.edit(|v| {
        v["root"]["readonly"] = true.into();
        v["process"]["cwd"] = "/does/not/exist".into();
    });
    let o = sb.run(&["run", "rocwd"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().next(), Some("/does/not/exist"));
    assert!(sb.rootfs().join("does/not/exist").is_dir());

    let root = sb.rootfs().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    sb.edit(|v| {
        v["root"]["readonly"] = false.into();
        v["process"]["cwd"] = "/root".into();
        v["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        v["process"]["args"] = serde_json::json!(["sh", "-c", "pwd; cat /proc/self/status"]);
    });
    let o = sb.run(&["run", "usercwd"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().next(), Some("/root"), "{}", o.stdout);
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("1000")),
        "{}",
        o.stdout
    );
}

/// Issues 8.17 and 9.24: a warning of init reaches `--log` in the chosen format: an ambient
/// capability that is not inheritable is not raised, with runc's warning, and the process runs
/// without it.
#[test]
fn init_warnings_reach_the_log() {
    let sb = sandbox(&["cat", "/proc/self/status"]);
    sb.edit(|v| {
        let caps = &mut v["process"]["capabilities"];
        caps["inheritable"] = serde_json::json!(["CAP_KILL"]);
        caps["ambient"] = serde_json::json!(["CAP_KILL", "CAP_CHOWN"]);
        for set in ["bounding", "effective", "permitted"] {
            caps[set] = serde_json::json!(["CAP_KILL", "CAP_CHOWN"]);
        }
    });
    let want = "can't raise ambient capability CAP_CHOWN: operation not permitted";
    for format in ["text", "json"] {
        let log = sb.path(&format!("log.{format}"));
        let id = format!("amb{format}");
        let o = sb.run(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            format,
            "run",
            &id,
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(
            o.stdout.contains("CapAmb:\t0000000000000020"),
            "{}",
            o.stdout
        );
        let text = std::fs::read_to_string(&log).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(want))
            .unwrap_or_else(|| panic!("no warning in the {format} log: {text}"));
        match format {
            "text" => assert!(line.contains("level=warning"), "{line}"),
            _ => {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["level"], "warning", "{line}");
                assert_eq!(v["msg"], want, "{line}");
            }
        }
    }
    assert!(Path::new(&sb.root).is_dir());
}
