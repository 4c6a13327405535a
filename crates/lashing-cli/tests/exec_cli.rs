//! `exec` as runc 1.3 does it, through the CLI on real busybox containers: every field of
//! `exec --process process.json` (capabilities and noNewPrivileges first: a security matter),
//! what process.json may leave out, runc's messages and exit statuses for programs that cannot
//! be run (which engines map to 126/127), hook and mount messages, `--debug` logs, and terminals
//! whose output is the process's byte for byte (ONLCR cleared).

mod support;

use std::path::Path;

use serde_json::json;
use support::{Out, Sandbox, log_msg, sandbox, status_field};

/// A running container `id` (`sleep 100`) in a new sandbox, with `/tmp`, `id` and `ionice` in
/// its rootfs.
fn running(id: &str) -> Sandbox {
    let sb = sandbox(&["sleep", "100"]);
    let root = sb.rootfs();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    for applet in ["id", "ionice", "grep"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    let o = sb.run(&["run", "-d", id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    sb
}

/// `lashing exec [flags] -p <file with process> id`.
fn exec_json(sb: &Sandbox, id: &str, process: &serde_json::Value, flags: &[&str]) -> Out {
    let path = sb.path("process.json");
    std::fs::write(&path, process.to_string()).unwrap();
    let mut args = vec!["exec"];
    args.extend(flags);
    args.extend(["-p", path.to_str().unwrap(), id]);
    sb.run(&args)
}

/// Issue 9.1 (security): the capabilities and noNewPrivileges of process.json are applied, not
/// the container's (runc: CapEff 0000000000200001 with [CHOWN, SYS_ADMIN], NoNewPrivs 1).
#[test]
fn exec_process_json_applies_capabilities_and_no_new_privileges() {
    let id = "ex-caps";
    let sb = running(id);
    let caps = json!(["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    let o = exec_json(
        &sb,
        id,
        &json!({"args": ["cat", "/proc/self/status"], "cwd": "/", "env": ["PATH=/bin"],
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": true}),
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(status_field(&o.stdout, k), Some("0000000000200001"), "{k}");
    }
    for k in ["CapInh", "CapAmb"] {
        assert_eq!(status_field(&o.stdout, k), Some("0000000000000000"), "{k}");
    }
    assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some("1"));
    // Without them: the container's capabilities, and noNewPrivileges false (runc's zero value,
    // though the container's process has it).
    let o = exec_json(
        &sb,
        id,
        &json!({"args": ["cat", "/proc/self/status"], "cwd": "/", "env": ["PATH=/bin"]}),
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(status_field(&o.stdout, "CapEff"), Some("0000000020000420"));
    assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some("0"));
    // The flags do not add to process.json (runc ignores them with -p).
    let o = exec_json(
        &sb,
        id,
        &json!({"args": ["cat", "/proc/self/status"], "cwd": "/", "env": ["PATH=/bin"],
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}}),
        &["--cap", "CAP_NET_ADMIN", "--no-new-privs"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(status_field(&o.stdout, "CapEff"), Some("0000000000200001"));
    assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some("0"));
}

/// Issue 9.1: user, additional gids, env, cwd, rlimits, scheduler, I/O priority and CPU affinity
/// of process.json, as runc applies them; its umask is not (runc keeps the container's), and
/// the process flags are ignored.
#[test]
fn exec_process_json_applies_every_status_field() {
    let id = "ex-fields";
    let sb = running(id);
    let script = "id; umask; pwd; echo A=$A B=$B; ulimit -Sn; ulimit -Hn; \
                  grep -E '^policy' /proc/self/sched; ionice; \
                  grep Cpus_allowed_list /proc/self/status; \
                  test -t 0 && echo tty || echo no-tty";
    let o = exec_json(
        &sb,
        id,
        &json!({"args": ["sh", "-c", script], "cwd": "/tmp", "env": ["PATH=/bin", "A=1"],
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [5, 6], "umask": 63},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 500, "soft": 400}],
            "scheduler": {"policy": "SCHED_BATCH"},
            "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0},
            "execCPUAffinity": {"final": "0"}}),
        &["-e", "B=2", "--cwd", "/", "-u", "5:5", "-g", "9", "-t"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{}", o.stdout);
    assert_eq!(lines[0], "uid=1000 gid=1000 groups=5,6");
    assert_eq!(lines[1], "0022", "the container's umask, as runc");
    assert_eq!(lines[2], "/tmp");
    assert_eq!(lines[3], "A=1 B=");
    assert_eq!((lines[4], lines[5]), ("400", "500"));
    assert!(
        lines[6].split(':').nth(1).map(str::trim) == Some("3"),
        "SCHED_BATCH is policy 3: {}",
        lines[6]
    );
    assert!(lines[7].starts_with("idle"), "{}", lines[7]);
    assert_eq!(status_field(lines[8], "Cpus_allowed_list"), Some("0"));
    assert_eq!(lines[9], "no-tty", "-t is ignored with -p, as runc");
}

/// Issue 9.2: process.json may leave out `user` (root, as runc) and every other optional field;
/// what runc refuses is refused with runc's message and status 255.
#[test]
fn exec_process_json_may_leave_out_optional_fields() {
    let id = "ex-minimal";
    let sb = running(id);
    let o = exec_json(
        &sb,
        id,
        &json!({"args": ["sh", "-c", "id -u; id -g"], "cwd": "/", "env": ["PATH=/bin"]}),
        &[],
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, "0\n0\n"), "{}", o.stderr);
    let o = exec_json(&sb, id, &json!({"args": ["/bin/true"], "cwd": "/"}), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for (process, msg) in [
        (
            json!({"args": ["/bin/true"]}),
            "Cwd property must not be empty",
        ),
        (json!(null), "Cwd property must not be empty"),
        (
            json!({"args": ["/bin/true"], "cwd": "tmp"}),
            "Cwd must be an absolute path",
        ),
        (json!({"cwd": "/"}), "args must not be empty"),
    ] {
        let o = exec_json(&sb, id, &process, &[]);
        assert_eq!(o.code, 255, "{process}: {}", o.stderr);
        assert_eq!(
            log_msg(&o.stderr),
            format!("exec failed: {msg}"),
            "{process}"
        );
    }
}

/// Writes the programs that cannot be run into the rootfs.
fn bad_programs(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let bin = root.join("bin");
    let write = |name: &str, text: &[u8], mode: u32| {
        std::fs::write(bin.join(name), text).unwrap();
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("nox", b"#!/bin/sh\necho hi\n", 0o644);
    write("badelf", b"\x7fELFgarbage", 0o755);
    write("shebang", b"#!/nonexistent/interpreter\necho hi\n", 0o755);
    std::fs::create_dir(bin.join("adir")).unwrap();
}

/// Issue 9.3: a program that cannot be run gives runc's words (Docker maps "no such file or
/// directory" and "executable file not found in $PATH" to 127, "permission denied" and "is a
/// directory" to 126) and `exec` exits 255, as every exec error does (an unwritable
/// `--pid-file` too). The container goes on.
#[test]
fn exec_of_a_program_that_cannot_run_is_worded_as_runc() {
    let id = "ex-bad";
    let sb = running(id);
    bad_programs(&sb.rootfs());
    for (prog, want) in [
        ("/x", r#"exec: "/x": stat /x: no such file or directory"#),
        ("x", r#"exec: "x": executable file not found in $PATH"#),
        ("", r#"exec: "": executable file not found in $PATH"#),
        ("/bin/nox", r#"exec: "/bin/nox": permission denied"#),
        ("/bin/adir", r#"exec: "/bin/adir": is a directory"#),
        (
            "/bin/sh/x",
            r#"exec: "/bin/sh/x": stat /bin/sh/x: not a directory"#,
        ),
        ("/bin/badelf", "exec /bin/badelf: exec format error"),
        (
            "/bin/shebang",
            "exec /bin/shebang: no such file or directory",
        ),
    ] {
        let o = sb.run(&["exec", id, prog]);
        assert_eq!(o.code, 255, "{prog:?}: {}", o.stderr);
        let msg = log_msg(&o.stderr);
        assert!(
            msg.starts_with("exec failed: ") && msg.ends_with(want),
            "{prog:?}: {msg}"
        );
    }
    for args in [
        &["exec", "nonexistent", "true"][..],
        &[
            "exec",
            "--pid-file",
            "/nonexistent/dir/pid",
            id,
            "sleep",
            "50",
        ],
        &["exec", "-u", "x", id, "true"],
        &["exec", id],
    ] {
        let o = sb.run(args);
        assert_eq!(o.code, 255, "{args:?}: {}", o.stderr);
        assert!(
            log_msg(&o.stderr).starts_with("exec failed: "),
            "{args:?}: {}",
            o.stderr
        );
    }
    assert_eq!(sb.status(id), "running");
    // The process whose pid could not be recorded was killed (runc): only the init is left.
    let pids: Vec<i32> = serde_json::from_str(&sb.ok(&["ps", "-f", "json", id])).unwrap();
    assert_eq!(pids.len(), 1, "{pids:?}");
}

/// Issue 9.3: `run` of a missing program fails at create (status 1, runc's words); one whose
/// `execve` fails (bad ELF, missing interpreter) exits 255 with runc's words on stderr.
#[test]
fn run_of_a_program_that_cannot_run_is_worded_as_runc() {
    let sb = sandbox(&["/x"]);
    bad_programs(&sb.rootfs());
    let o = sb.run(&["run", "r1"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        log_msg(&o.stderr).ends_with(r#"exec: "/x": stat /x: no such file or directory"#),
        "{}",
        o.stderr
    );
    for (prog, want) in [
        ("/bin/badelf", "exec /bin/badelf: exec format error"),
        (
            "/bin/shebang",
            "exec /bin/shebang: no such file or directory",
        ),
    ] {
        sb.edit(|v| v["process"]["args"] = json!([prog]));
        let o = sb.run(&["run", "r2"]);
        assert_eq!(o.code, 255, "{prog}: {}", o.stderr);
        // The step's prefix, then runc's words (runc's init prints them as they are).
        assert!(log_msg(&o.stderr).ends_with(want), "{prog}: {}", o.stderr);
        assert!(sb.left().is_empty(), "{:?}", sb.left());
    }
}

/// Issue 9.5: `proc` on a symlink is refused with runc's words.
#[test]
fn proc_on_a_symlink_is_refused_with_runcs_words() {
    let sb = sandbox(&["true"]);
    std::os::unix::fs::symlink("/tmp", sb.rootfs().join("proc")).unwrap();
    let o = sb.run(&["run", "r1"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        log_msg(&o.stderr).contains(r#"filesystem "proc" must be mounted on ordinary directory"#),
        "{}",
        o.stderr
    );
    assert!(sb.left().is_empty());
}

/// Issue 9.8: with a terminal in the foreground, the output is the process's byte for byte
/// (runc clears ONLCR on the pty): `run -t` and `exec -t`.
#[test]
fn terminal_output_keeps_newlines_as_written() {
    let sb = sandbox(&["printf", r"a\nb\n"]);
    sb.edit(|v| v["process"]["terminal"] = true.into());
    let o = sb.run(&["run", "t1"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "a\nb\n"), "{}", o.stderr);
    sb.edit(|v| {
        v["process"]["terminal"] = false.into();
        v["process"]["args"] = json!(["sleep", "100"]);
    });
    assert_eq!(sb.run(&["run", "-d", "t2"]).code, 0);
    for _ in 0..3 {
        let o = sb.run(&["exec", "-t", "t2", "printf", r"c\nd\n"]);
        assert_eq!((o.code, o.stdout.as_str()), (0, "c\nd\n"), "{}", o.stderr);
    }
}

/// The `msg` of every `level: debug` JSON line of a log file.
fn debug_msgs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect(l))
        .filter(|v| v["level"] == "debug")
        .map(|v| v["msg"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 9.6: `--debug` writes debug-level lines for each step of create, start and exec, to
/// `--log` in JSON (or to stderr in text); without it, none.
#[test]
fn debug_logs_each_step_of_create_start_and_exec() {
    let sb = sandbox(&["sleep", "100"]);
    let log = sb.path("debug.json");
    let l = log.to_str().unwrap();
    let quiet = sb.path("quiet.json");
    let q = quiet.to_str().unwrap();
    for args in [
        &["--log", q, "--log-format", "json", "create", "d0"][..],
        &[
            "--debug",
            "--log",
            l,
            "--log-format",
            "json",
            "create",
            "d1",
        ],
        &["--debug", "--log", l, "--log-format", "json", "start", "d1"],
        &[
            "--debug",
            "--log",
            l,
            "--log-format",
            "json",
            "exec",
            "d1",
            "true",
        ],
    ] {
        // One cgroup per container.
        let id = args.last().unwrap();
        sb.edit(|v| v["linux"]["cgroupsPath"] = sb.cgroups_path(id).into());
        let o = sb.run(args);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    }
    assert!(
        debug_msgs(&quiet).is_empty(),
        "no debug lines without --debug"
    );
    let msgs = debug_msgs(&log);
    for want in [
        "create: container d1",
        "started lashing init (standard) for container d1",
        "read sync type:ready",
        "container d1 is created",
        "start: waiting for the init on the exec fifo",
        "start: the init read the exec fifo",
        "exec: starting [\"true\"] in container d1",
        "started lashing init (setns) for container d1",
    ] {
        assert!(
            msgs.iter().any(|m| m.starts_with(want)),
            "no debug line {want:?} in {msgs:#?}"
        );
    }
    check_waterfall(&msgs);
    let o = sb.run(&["--debug", "exec", "d1", "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .lines()
            .any(|l| l.contains("level=debug msg=\"read sync type:ready\"")),
        "{}",
        o.stderr
    );
}

/// Issue 13.1: the start waterfall of `--debug` (`lashing::waterfall`): each command (create,
/// start, exec) logs every phase's stamp, the runtime's and its init's, on one clock and in
/// time order, from the command's entry (0 ms) on.
fn check_waterfall(msgs: &[String]) {
    // (milliseconds since the command's entry, side and phase), one list per command.
    let mut commands: Vec<Vec<(f64, String)>> = Vec::new();
    for m in msgs {
        let Some(rest) = m.strip_prefix("waterfall") else {
            continue;
        };
        let (ms, phase) = rest.trim_start().split_once(" ms (+").expect(m);
        let ms: f64 = ms.parse().expect(m);
        let phase = phase.split_once(") ").expect(m).1;
        let phase = phase.split_whitespace().collect::<Vec<_>>().join(" ");
        if phase == "runtime lashing main" {
            assert_eq!(ms, 0.0, "{m}");
            commands.push(Vec::new());
        }
        commands
            .last_mut()
            .expect("a waterfall starts at main")
            .push((ms, phase));
    }
    assert_eq!(commands.len(), 3, "create, start, exec: {msgs:#?}");
    for (c, want) in commands.iter().zip([
        &[
            "runtime config.json read and converted",
            "runtime clone3 returned",
            "init lashing init entered",
            "init payload received",
            "init rootfs mounted",
            "init pivot_root done",
            "init ready: cwd and program found",
            "runtime cgroup resources set",
            "runtime state saved (created)",
            "init created: waits on the exec fifo",
            "runtime init socket closed",
            "runtime command done",
        ][..],
        &["runtime start: fifo byte read", "runtime start: done"],
        &[
            "runtime clone3 returned",
            "init namespaces entered",
            "init ready: cwd and program found",
            "runtime init socket closed",
        ],
    ]) {
        for w in want {
            assert!(c.iter().any(|(_, p)| p == w), "no stamp {w:?} in {c:#?}");
        }
        assert!(
            c.windows(2).all(|w| w[0].0 <= w[1].0),
            "stamps out of order: {c:#?}"
        );
    }
}

/// Issue 9.3 (exec errors): runc's checks of the flags, with its messages and status 255, and
/// runc's parsing: everything after the container id is the command, options too.
#[test]
fn exec_flags_are_checked_and_parsed_as_runc() {
    let id = "ex-flags";
    let sb = running(id);
    let mut cases = vec![
        (&["--cwd", "tmp"][..], "Cwd must be an absolute path"),
        (
            &["-e", "=x"],
            "invalid environment variable: name cannot be empty",
        ),
        (&["-e", "FOO"], "invalid environment variable: missing '='"),
    ];
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        cases.push((
            &["--process-label", "system_u:system_r:container_t:s0"],
            "selinux label is specified in config, but selinux is disabled or not supported",
        ));
    }
    for (args, msg) in cases {
        let mut full = vec!["exec"];
        full.extend(args);
        full.extend([id, "true"]);
        let o = sb.run(&full);
        assert_eq!(o.code, 255, "{args:?}: {}", o.stderr);
        assert_eq!(
            log_msg(&o.stderr),
            format!("exec failed: {msg}"),
            "{args:?}"
        );
    }
    let o = sb.run(&["exec", id, "--cap", "CAP_SYS_ADMIN"]);
    assert_eq!(o.code, 255, "{}", o.stderr);
    assert!(
        log_msg(&o.stderr).ends_with(r#"exec: "--cap": executable file not found in $PATH"#),
        "{}",
        o.stderr
    );
    let o = sb.run(&[
        "exec",
        id,
        "sh",
        "-c",
        r#"printf '%s %s\n' "$0" "$1""#,
        "-e",
        "--tty",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "-e --tty\n"),
        "{}",
        o.stderr
    );
}
