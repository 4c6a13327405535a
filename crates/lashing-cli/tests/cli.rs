//! Tests of the `lashing` command line, run as a program.
//!
//! The first group needs no container (parse errors, `spec`, `features`, unknown ids, empty
//! lists, log lines). The second runs real containers from a busybox rootfs; it needs root and
//! `/bin/busybox` (static) and fails without them. Each container test has its
//! own `--root` and an absolute cgroups path `/lashing-test-cli-<pid>-<n>`, removed at the end
//! even when the test fails.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{BIN, lashing, lashing_in, sandbox, wait_for_file};

/// A state root in a fresh temporary directory (not created: `list` must not create it).
fn root() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("root").to_str().unwrap().to_string();
    (d, r)
}

/// Checks a logrus text line `time="..." level=error msg="..."` and returns msg's text.
fn text_log_msg(line: &str) -> String {
    let rest = line
        .strip_prefix("time=\"")
        .unwrap_or_else(|| panic!("no time: {line:?}"));
    let (time, rest) = rest.split_once('"').unwrap();
    check_time(time);
    let rest = rest
        .strip_prefix(" level=error msg=\"")
        .unwrap_or_else(|| panic!("no level/msg: {line:?}"));
    rest.strip_suffix('"')
        .unwrap_or_else(|| panic!("msg not quoted: {line:?}"))
        .to_string()
}

/// `YYYY-MM-DDThh:mm:ssZ`.
fn check_time(t: &str) {
    let b = t.as_bytes();
    assert_eq!(b.len(), 20, "{t}");
    for (i, c) in b.iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*c, b'-', "{t}"),
            10 => assert_eq!(*c, b'T', "{t}"),
            13 | 16 => assert_eq!(*c, b':', "{t}"),
            19 => assert_eq!(*c, b'Z', "{t}"),
            _ => assert!(c.is_ascii_digit(), "{t}"),
        }
    }
}

// ---------------------------------------------------------------- no container needed

#[test]
fn parse_errors_exit_like_runc() {
    let o = lashing(&["--bogus"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("--bogus"), "{}", o.stderr);

    let o = lashing(&["bogus"]);
    assert_eq!(o.code, 3, "unknown command: {}", o.stderr);

    let o = lashing(&["state"]);
    assert_eq!(o.code, 1, "missing id: {}", o.stderr);
    assert!(o.stderr.contains("container-id"), "{}", o.stderr);

    let o = lashing(&["state", "a", "b"]);
    assert_eq!(o.code, 1, "two ids: {}", o.stderr);

    let o = lashing(&["--log-format", "xml", "list"]);
    assert_eq!(o.code, 1, "{}", o.stderr);

    let o = lashing(&["list", "--format", "yaml"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
}

#[test]
fn help_and_version() {
    let o = lashing(&["--help"]);
    assert_eq!(o.code, 0);
    for cmd in [
        "create", "start", "run", "state", "kill", "delete", "list", "spec", "features", "exec",
        "ps",
    ] {
        assert!(o.stdout.contains(cmd), "help lacks {cmd}");
    }
    assert!(!o.stdout.contains("\n  init "), "init must be hidden");
    let o = lashing(&["--version"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .starts_with(&format!("lashing version {}\n", env!("CARGO_PKG_VERSION"))),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("\nspec: 1.2.1\n"), "{}", o.stdout);
    assert_eq!(lashing(&["-v"]).stdout, o.stdout);
}

#[test]
fn spec_writes_example_and_refuses_to_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let o = lashing_in(d.path(), &["spec"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let path = d.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\n\t\""),
        "tab indent like runc: {:?}",
        &text[..10]
    );
    assert!(text.ends_with('}'), "no final newline, like runc");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ociVersion"], "1.2.1");
    assert_eq!(v["process"]["terminal"], true);
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network")
    );

    std::fs::write(&path, "mine").unwrap();
    let o = lashing_in(d.path(), &["spec"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "File config.json exists. Remove it first"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "mine",
        "must not be overwritten"
    );
}

#[test]
fn spec_bundle_and_rootless() {
    let d = tempfile::tempdir().unwrap();
    let b = d.path().to_str().unwrap();
    let o = lashing(&["spec", "--rootless", "-b", b]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("config.json")).unwrap())
            .unwrap();
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n["type"] == "user"), "{ns:?}");
    assert!(!ns.iter().any(|n| n["type"] == "network"), "{ns:?}");
    assert!(v["linux"]["uidMappings"].is_array());

    let o = lashing(&["spec", "-b", &format!("{b}/missing")]);
    assert_eq!(o.code, 1);
    assert!(!Path::new(&format!("{b}/missing")).exists());
}

#[test]
fn features_json_shape() {
    let o = lashing(&["features"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .starts_with("{\n    \"ociVersionMin\": \"1.0.0\",\n    \"ociVersionMax\": "),
        "{}",
        o.stdout
    );
    assert!(o.stdout.ends_with("}\n"));
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["ociVersionMax"], "1.2.1");
    assert_eq!(v["hooks"].as_array().unwrap().len(), 6);
    let opts: Vec<&str> = v["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for o in [
        "bind",
        "rbind",
        "ro",
        "nosuid",
        "rprivate",
        "tmpcopyup",
        "defaults",
    ] {
        assert!(opts.contains(&o), "mountOptions lacks {o}");
    }
    let caps = v["linux"]["capabilities"].as_array().unwrap();
    assert_eq!(caps[0], "CAP_CHOWN");
    assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
    assert!(caps.iter().any(|c| c == "CAP_CHECKPOINT_RESTORE"));
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n == "mount") && ns.iter().any(|n| n == "user"));
    assert_eq!(
        v["linux"]["cgroup"],
        serde_json::json!({"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true})
    );
    // The seccomp compiler's lists (x86_64 only).
    assert_eq!(
        v["linux"]["seccomp"]["enabled"],
        cfg!(target_arch = "x86_64")
    );
    // Compiled in (the spec: unrelated to the host's support), as runc says.
    assert_eq!(v["linux"]["apparmor"]["enabled"], true);
    assert_eq!(v["linux"]["selinux"]["enabled"], true);
    assert_eq!(
        v["potentiallyUnsafeConfigAnnotations"],
        serde_json::json!(["bundle", "org.systemd.property.", "org.criu.config"])
    );
    assert!(
        o.stdout.trim_end().ends_with("]\n}"),
        "runc's field order: {}",
        o.stdout
    );
    assert_eq!(v["linux"]["intelRdt"], serde_json::json!({"enabled": true}));
    assert_eq!(
        v["annotations"]["io.github.lashing.version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn unknown_id_state_kill_delete() {
    let (_d, r) = root();
    for args in [
        vec!["state", "nosuch"],
        vec!["kill", "nosuch"],
        vec!["kill", "nosuch", "KILL"],
        vec!["delete", "nosuch"],
    ] {
        let mut full = vec!["--root", &r];
        full.extend(&args);
        let o = lashing(&full);
        assert_eq!(o.code, 1, "{args:?}");
        assert_eq!(o.stdout, "", "{args:?}");
        assert_eq!(
            text_log_msg(o.stderr.trim_end()),
            "container does not exist",
            "{args:?}"
        );
    }
    // As runc: --force makes an unknown id a silent success.
    let o = lashing(&["--root", &r, "delete", "-f", "nosuch"]);
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    // An invalid id is refused.
    let o = lashing(&["--root", &r, "state", "../x"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("invalid container id"), "{}", o.stderr);
}

#[test]
fn delete_removes_a_stale_directory() {
    let (_d, r) = root();
    let stale = Path::new(&r).join("half");
    std::fs::create_dir_all(stale.join("sub")).unwrap();
    let o = lashing(&["--root", &r, "delete", "--force", "half"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!stale.exists());
}

#[test]
fn list_empty_root_in_every_format() {
    let (_d, r) = root();
    // A `--root` that does not exist: runc's error (`open ROOT: no such file or directory`),
    // in every format, and the root is not created.
    for args in [&["list"][..], &["list", "-f", "json"], &["list", "--quiet"]] {
        let o = lashing(&[&["--root", r.as_str()][..], args].concat());
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (1, ""),
            "{args:?}: {}",
            o.stderr
        );
        let msg = text_log_msg(o.stderr.trim());
        assert!(msg.starts_with(&format!("open {r}: ")), "{msg}");
        assert!(!Path::new(&r).exists(), "list must not create the root");
    }
    // An existing empty root: nothing listed.
    std::fs::create_dir(&r).unwrap();
    let o = lashing(&["--root", &r, "list"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    );
    let o = lashing(&["--root", &r, "list", "-f", "json"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "null\n"),
        "runc prints null for no containers"
    );
    let o = lashing(&["--root", &r, "list", "--quiet"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
}

/// A `--log-format` other than `text` (or empty) or `json` (case-sensitive): runc's logrus line
/// on stderr, status 1, no log file made, nothing run.
#[test]
fn a_bad_log_format_is_reported_as_runc_does() {
    let (d, r) = root();
    let log = d.path().join("log");
    for bad in ["yaml", "JSON"] {
        let o = lashing(&[
            "--root",
            &r,
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            bad,
            "list",
        ]);
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
        assert_eq!(
            text_log_msg(o.stderr.trim_end()),
            format!("invalid log-format: {bad}")
        );
        assert!(!log.exists());
        assert!(!Path::new(&r).exists());
    }
    // Empty is text, as with runc.
    let o = lashing(&["--root", &r, "--log-format", "", "state", "nosuch"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "container does not exist"
    );
}

#[test]
fn log_lines_json_text_and_file() {
    let (d, r) = root();
    let o = lashing(&["--root", &r, "--log-format", "json", "state", "nosuch"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(o.stderr.trim_end()).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["level", "msg", "time"]);
    assert_eq!(v["level"], "error");
    assert_eq!(v["msg"], "container does not exist");
    check_time(v["time"].as_str().unwrap());
    assert!(
        o.stderr.starts_with("{\"level\":\"error\",\"msg\":"),
        "key order as logrus: {}",
        o.stderr
    );

    // --log: the line goes to the file, and the bare message to stderr (runc does the same).
    let log = d.path().join("log.json");
    let kill_with_log = || {
        lashing(&[
            "--root",
            &r,
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "kill",
            "nosuch",
        ])
    };
    let o = kill_with_log();
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "container does not exist\n");
    let text = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(v["msg"], "container does not exist");
    // Appended, not truncated.
    kill_with_log();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}

#[test]
fn criu_flags_are_all_accepted() {
    // Every CRIU flag of runc is implemented: none is refused as unsupported, and a missing
    // container or bundle is the error.
    let (_d, r) = root();
    for (args, want) in [
        (
            vec!["checkpoint", "--pre-dump", "--parent-path", "p", "c"],
            "container does not exist",
        ),
        (
            vec![
                "checkpoint",
                "--lazy-pages",
                "--page-server",
                "127.0.0.1:1",
                "--auto-dedup",
                "c",
            ],
            "container does not exist",
        ),
        (
            vec![
                "restore",
                "--lazy-pages",
                "--empty-ns",
                "network",
                "-d",
                "-b",
                "/x",
                "c",
            ],
            "/x/config.json",
        ),
    ] {
        let mut full = vec!["--root", &r];
        full.extend(&args);
        let o = lashing(&full);
        assert_eq!(o.code, 1, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(want), "{args:?}: {}", o.stderr);
        assert!(
            !o.stderr.contains("not supported yet"),
            "{args:?}: {}",
            o.stderr
        );
    }
    let o = lashing(&["init"]);
    assert_eq!(o.code, 1);
}

#[test]
fn create_failures_leave_nothing_behind() {
    let (d, r) = root();
    // No config.json in the bundle.
    let o = lashing(&[
        "--root",
        &r,
        "create",
        "-b",
        d.path().to_str().unwrap(),
        "c1",
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("config.json"), "{}", o.stderr);
    // The example spec asks for a terminal: refused when detached without a console socket.
    let b = d.path().join("bundle");
    std::fs::create_dir(&b).unwrap();
    assert_eq!(lashing(&["spec", "-b", b.to_str().unwrap()]).code, 0);
    let o = lashing(&["--root", &r, "create", "-b", b.to_str().unwrap(), "c1"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "cannot allocate tty if lashing will detach without setting console socket"
    );
    // The systemd driver: a cgroupsPath not of the form slice:prefix:name, then (on a host
    // without systemd as PID 1) the host itself, are refused before anything exists.
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    spec["process"]["terminal"] = false.into();
    spec["linux"]["cgroupsPath"] = "/not/systemd".into();
    std::fs::create_dir(b.join("rootfs")).unwrap();
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let sd_run = || {
        lashing(&[
            "--root",
            &r,
            "--systemd-cgroup",
            "run",
            "-b",
            b.to_str().unwrap(),
            "c1",
        ])
    };
    let o = sd_run();
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("slice:prefix:name"), "{}", o.stderr);
    if !lashing_cgroups::systemd::is_running_systemd() {
        spec["linux"]["cgroupsPath"] = "system.slice:lashing-test:c1".into();
        std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
        let o = sd_run();
        assert_eq!(o.code, 1);
        assert!(
            o.stderr.contains("systemd not running on this host"),
            "{}",
            o.stderr
        );
    }
    let left: Vec<_> = std::fs::read_dir(&r)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

// ---------------------------------------------------------------- real containers

#[test]
fn run_true_exits_zero_and_is_deleted() {
    let sb = sandbox(&["true"]);
    let o = sb.run(&["run", "c1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(sb.run(&["list", "-q"]).stdout, "", "deleted after the run");
}

#[test]
fn run_propagates_exit_code_and_output() {
    let sb = sandbox(&["sh", "-c", "echo out; echo err >&2; exit 42"]);
    let o = sb.run(&["run", "c1"]);
    assert_eq!(o.code, 42, "{}", o.stderr);
    assert_eq!(o.stdout, "out\n");
    assert!(o.stderr.contains("err\n"), "{}", o.stderr);
}

#[test]
fn run_keep_then_delete_and_killed_status() {
    let sb = sandbox(&["sleep", "30"]);
    let mut child = sb
        .command(&["run", "--keep", "-b", sb.bundle().to_str().unwrap(), "c1"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    sb.wait_status("c1", "running");
    assert_eq!(sb.run(&["kill", "c1", "SIGKILL"]).code, 0);
    assert_eq!(
        child.wait().unwrap().code(),
        Some(128 + 9),
        "killed by SIGKILL: 128+9"
    );
    assert_eq!(sb.status("c1"), "stopped", "--keep keeps the container");
    assert_eq!(sb.run(&["delete", "c1"]).code, 0);
    assert_eq!(sb.run(&["list", "-q"]).stdout, "");
}

/// Runs `sh -c SCRIPT` (which prints `ready` once its traps are set) in the foreground, sends
/// `sig` to the `lashing run` process once it is ready, and returns how `run` exited.
fn run_and_signal(script: &str, sig: i32) -> std::process::ExitStatus {
    let sb = sandbox(&["sh", "-c", script]);
    let out = sb.path("out");
    let mut child = sb
        .command(&["run", "-b", sb.bundle().to_str().unwrap(), "c1"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_for_file(&out, "ready\n");
    // kill(1): rustix names no real-time signal.
    let k = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success(), "kill -{sig}: {k:?}");
    child.wait().unwrap()
}

#[test]
fn run_forwards_signals_to_the_container() {
    let st = run_and_signal(
        "trap 'exit 7' TERM; echo ready; sleep 30 & wait",
        libc::SIGTERM,
    );
    assert_eq!(
        st.code(),
        Some(7),
        "the container's trap decides the exit status"
    );
}

/// The real-time signals too: SIGRTMIN (34) is one the C library of the musl build keeps for
/// itself (installed straight through `rt_sigaction`), SIGRTMAX (64) the last one.
#[test]
fn run_forwards_the_real_time_signals() {
    for sig in [34, 64] {
        let st = run_and_signal(
            "trap 'exit 34' 34; trap 'exit 64' 64; echo ready; sleep 30 & wait",
            sig,
        );
        assert_eq!(st.code(), Some(sig), "signal {sig}: {st:?}");
    }
}

#[test]
fn run_preserves_fds() {
    let sb = sandbox(&["sh", "-c", "echo three >&3"]);
    let file = sb.path("fd3");
    let script = format!(
        "exec {BIN} --root {} run --preserve-fds 1 -b {} c1 3>{}",
        sb.root,
        sb.bundle().display(),
        file.display()
    );
    let st = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert_eq!(st.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "three\n");
}

#[test]
fn create_start_state_kill_delete_walk() {
    let sb = sandbox(&["sleep", "30"]);
    let pid_file = sb.path("pid");
    let o = sb.run(&["create", "--pid-file", pid_file.to_str().unwrap(), "c1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();

    let o = sb.run(&["state", "c1"]);
    assert!(
        o.stdout.starts_with("{\n  \"ociVersion\": "),
        "{}",
        o.stdout
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    // As runc: the runtime's spec version (not the bundle's), and no owner in `state`.
    assert_eq!(
        (v["ociVersion"].as_str(), v["owner"].as_str()),
        (Some("1.2.1"), Some(""))
    );
    assert_eq!(
        (v["id"].as_str(), v["pid"].as_i64(), v["status"].as_str()),
        (Some("c1"), Some(pid.into()), Some("created"))
    );
    assert_eq!(v["bundle"], sb.bundle().to_str().unwrap());

    let o = sb.run(&["create", "c1"]);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "container with given ID already exists"
    );
    assert_eq!(
        sb.status("c1"),
        "created",
        "a refused create must not touch the existing container"
    );

    let o = sb.run(&["list"]);
    let line = o.stdout.lines().nth(1).unwrap();
    assert!(
        line.starts_with(&format!("c1          {pid:<12}created     ")),
        "{line:?}"
    );
    let o = sb.run(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0]["id"], "c1");
    assert_eq!(v[0]["owner"], "root");

    assert_eq!(sb.run(&["start", "c1"]).code, 0);
    assert_eq!(sb.status("c1"), "running");
    let o = sb.run(&["start", "c1"]);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "cannot start an already running container"
    );
    let o = sb.run(&["delete", "c1"]);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "cannot delete container c1 that is not stopped: running"
    );
    let o = sb.run(&["ps", "--format", "json", "c1"]);
    assert_eq!(o.stdout.trim_end(), format!("[{pid}]"));
    // ps options mean nothing to the json list: ignored, as runc does.
    let o = sb.run(&["ps", "-f", "json", "c1", "-o", "pid"]);
    assert_eq!(
        (o.code, o.stdout.trim_end()),
        (0, format!("[{pid}]").as_str())
    );
    assert_eq!(sb.run(&["kill", "c1", "FOO"]).code, 1);
    // As runc: a negative number goes to the kernel, which refuses it; an empty signal is
    // SIGTERM (which init, pid 1 of its namespace without a handler, does not get).
    let o = sb.run(&["kill", "c1", "-9"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "unable to signal init: invalid argument"
    );
    assert_eq!(sb.run(&["kill", "c1", ""]).code, 0);
    assert_eq!(sb.status("c1"), "running");

    assert_eq!(sb.run(&["kill", "c1", "KILL"]).code, 0, "kill");
    sb.reap_blocking(pid);
    assert_eq!(sb.status("c1"), "stopped");
    let o = sb.run(&["kill", "c1"]);
    assert_eq!(text_log_msg(o.stderr.trim_end()), "container not running");
    let o = sb.run(&["start", "c1"]);
    assert_eq!(
        text_log_msg(o.stderr.trim_end()),
        "cannot start a container that has stopped"
    );
    assert_eq!(sb.run(&["delete", "c1"]).code, 0);
    assert_eq!(sb.run(&["state", "c1"]).code, 1);
}

#[test]
fn delete_of_created_and_force_delete_of_running() {
    let sb = sandbox(&["sleep", "30"]);
    assert_eq!(sb.run(&["create", "c1"]).code, 0);
    let p1 = sb.pid("c1");
    assert_eq!(
        sb.run(&["delete", "c1"]).code,
        0,
        "a created container is killed and removed"
    );
    assert_eq!(sb.run(&["run", "-d", "c2"]).code, 0);
    assert_eq!(sb.status("c2"), "running");
    let p2 = sb.pid("c2");
    assert_eq!(sb.run(&["delete", "--force", "c2"]).code, 0);
    assert_eq!(sb.run(&["list", "-q"]).stdout, "");
    // Reap our orphans by pid (never wait for any child: that would steal other tests' children).
    for p in [p1, p2] {
        sb.reap_blocking(p);
    }
}
