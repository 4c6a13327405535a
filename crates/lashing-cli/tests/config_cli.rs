//! The configuration as runc 1.3 takes it, through the `lashing` program: `spec`, help topics,
//! flag values, and config.json fields checked at `create` or applied in a real container
//! (environment and `HOME`, supplementary groups, hook timeouts, rlimits, scheduler flags, device
//! access letters, relative masked and read-only paths). Each expectation is runc 1.3.6's
//! output for the same input.

mod support;

use std::path::Path;

use support::{Sandbox, lashing, lashing_in, log_msg, sandbox};

/// `/etc/passwd` of the containers here: a user with a home, one with an empty home field.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      u1:x:1000:1000::/home/u1:/bin/sh\n\
                      nohome:x:1001:1001:::/bin/sh\n";

/// A sandbox running `args` with `/etc/passwd` and `/tmp` in its rootfs.
fn passwd_sandbox(args: &[&str]) -> Sandbox {
    let sb = sandbox(args);
    let root = sb.rootfs();
    for d in ["etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    sb
}

/// `lashing run` of the sandbox's bundle as container `id`.
fn run(sb: &Sandbox, id: &str) -> support::Out {
    sb.run(&["run", id])
}

/// Checks that a failed `create`/`run` left neither a container record nor a cgroup.
#[track_caller]
fn nothing_left(sb: &Sandbox) {
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
    assert!(!sb.cgroup_exists(), "cgroup left behind");
}

// ---------------------------------------------------------------- no container needed

/// `lashing spec` writes exactly what `runc-1.3.6 spec` writes (fixture made by runc 1.3.6).
#[test]
fn spec_is_runcs_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let o = lashing_in(d.path(), &["spec"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let got = std::fs::read_to_string(d.path().join("config.json")).unwrap();
    assert_eq!(got, include_str!("fixtures/runc-1.3.6-spec.json"));

    // --rootless maps the caller's ids: the fixture was made as root.
    let d = tempfile::tempdir().unwrap();
    let o = lashing_in(d.path(), &["spec", "--rootless"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let got: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("config.json")).unwrap())
            .unwrap();
    let mut want: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/runc-1.3.6-spec-rootless.json")).unwrap();
    want["linux"]["uidMappings"][0]["hostID"] = rustix::process::geteuid().as_raw().into();
    want["linux"]["gidMappings"][0]["hostID"] = rustix::process::getegid().as_raw().into();
    assert_eq!(got, want);
    if rustix::process::geteuid().is_root() && rustix::process::getegid().as_raw() == 0 {
        let text = std::fs::read_to_string(d.path().join("config.json")).unwrap();
        assert_eq!(text, include_str!("fixtures/runc-1.3.6-spec-rootless.json"));
    }
}

/// runc: an unknown command, with or without `-h`, and `help <unknown>` log "No help topic for
/// 'x'" (with urfave/cli's newline inside the message) and exit 3.
#[test]
fn unknown_help_topics_as_runc() {
    for args in [
        &["foo", "-h"][..],
        &["foo", "--help"],
        &["help", "foo"],
        &["h", "foo"],
        &["foo"],
    ] {
        let o = lashing(args);
        assert_eq!(o.code, 3, "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
        assert_eq!(o.stderr.lines().count(), 1, "{args:?}: {}", o.stderr);
        assert_eq!(
            log_msg(&o.stderr),
            "No help topic for 'foo'\\n",
            "{args:?}: {}",
            o.stderr
        );
        assert!(o.stderr.contains(" level=error "), "{}", o.stderr);
    }
    let o = lashing(&["--log-format", "json", "foo"]);
    assert_eq!(o.code, 3);
    let v: serde_json::Value = serde_json::from_str(o.stderr.trim_end()).unwrap();
    assert_eq!(v["msg"], "No help topic for 'foo'\n");
    assert_eq!(v["level"], "error");

    // With --log the line goes to the file and the bare message to stderr, as runc.
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let o = lashing(&["--log", log.to_str().unwrap(), "foo"]);
    assert_eq!(o.code, 3);
    assert_eq!(o.stderr, "No help topic for 'foo'\n");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("No help topic")
    );
}

/// `help <command>` (and its alias `h`, extra words ignored) and `<command> -h` print the
/// command's help and exit 0, for every command.
#[test]
fn help_on_every_command() {
    let top = lashing(&["help"]);
    assert_eq!(top.code, 0, "{}", top.stderr);
    assert_eq!(top.stdout, lashing(&["--help"]).stdout);
    for cmd in [
        "checkpoint",
        "create",
        "delete",
        "events",
        "exec",
        "kill",
        "list",
        "pause",
        "ps",
        "restore",
        "resume",
        "run",
        "spec",
        "start",
        "state",
        "update",
        "features",
    ] {
        let o = lashing(&[cmd, "-h"]);
        assert_eq!(o.code, 0, "{cmd} -h: {}", o.stderr);
        assert!(
            o.stdout.contains(&format!("Usage: lashing {cmd}")),
            "{cmd}: {}",
            o.stdout
        );
        let o = lashing(&[cmd, "--help"]);
        assert_eq!(o.code, 0, "{cmd} --help: {}", o.stderr);
        for args in [&["help", cmd][..], &["h", cmd], &["help", cmd, "extra"]] {
            let h = lashing(args);
            assert_eq!(h.code, 0, "{args:?}: {}", h.stderr);
            assert_eq!(h.stdout, o.stdout, "{args:?}");
        }
    }
}

/// `events --interval` values Go cannot represent are refused as runc refuses them, before the
/// container is looked up; none makes lashing panic.
#[test]
fn events_interval_values() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let root = root.to_str().unwrap();
    for bad in ["999999999999999999999h", "2562048h", "5", "1e9s", ""] {
        let o = lashing(&["--root", root, "events", "--interval", bad, "x"]);
        assert_eq!(o.code, 1, "{bad}: {}", o.stderr);
        assert_eq!(
            log_msg(&o.stderr),
            format!("invalid value \"{bad}\" for flag -interval: parse error"),
            "{bad}"
        );
    }
    // Zero or less: runc looks the container up first.
    for zero in ["0", "0s", "-5s"] {
        let flag = format!("--interval={zero}");
        let o = lashing(&["--root", root, "events", &flag, "x"]);
        assert_eq!(o.code, 1, "{zero}: {}", o.stderr);
        assert_eq!(log_msg(&o.stderr), "container does not exist");
    }
    // The longest interval Go has: accepted (then the container is missing).
    let o = lashing(&["--root", root, "events", "--interval", "2562047h", "x"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert!(!o.stderr.contains("interval"), "{}", o.stderr);
}

// ---------------------------------------------------------------- containers

/// Environment entries runc refuses are refused at create, with runc's text, leaving nothing.
#[test]
fn bad_env_entries_refused_at_create() {
    let sb = passwd_sandbox(&["true"]);
    for (entry, text) in [
        ("=x", "invalid environment variable: name cannot be empty"),
        ("=", "invalid environment variable: name cannot be empty"),
        ("NOEQUALS", "invalid environment variable: missing '='"),
        (
            "A=x\u{0}y",
            "invalid environment variable \"A\": contains a NUL byte",
        ),
    ] {
        sb.edit(|v| {
            v["process"]["env"] = serde_json::json!(["PATH=/bin", entry]);
        });
        let o = sb.run(&["create", "envbad"]);
        assert_eq!(o.code, 1, "{entry:?}: {}", o.stderr);
        let msg = log_msg(&o.stderr);
        assert!(msg.contains("process.env[1]"), "{msg}");
        assert!(msg.contains(text), "{entry:?}: {msg}");
        nothing_left(&sb);
    }
}

/// More than NGROUPS_MAX supplementary groups: `create` fails naming the field and the limit
/// (it used to succeed, and `start` then said "stopped").
#[test]
fn too_many_additional_gids_refused_at_create() {
    let sb = passwd_sandbox(&["true"]);
    sb.edit(|v| {
        v["process"]["user"]["additionalGids"] = (0..=65536u32).collect::<Vec<_>>().into();
    });
    let o = sb.run(&["create", "gids"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let msg = log_msg(&o.stderr);
    assert!(msg.contains("process.user.additionalGids"), "{msg}");
    assert!(msg.contains("65536"), "{msg}");
    nothing_left(&sb);

    // 65536 groups are fine.
    sb.edit(|v| {
        v["process"]["user"]["additionalGids"] = (0..65536u32).collect::<Vec<_>>().into();
        v["process"]["args"] = serde_json::json!(["echo", "ok"]);
    });
    let o = run(&sb, "gids");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "ok\n");
}

/// A hook timeout near i64::MAX is refused at create, naming the field (it used to overflow
/// `Instant + Duration` in the middle of create).
#[test]
fn absurd_hook_timeout_refused_at_create() {
    let sb = passwd_sandbox(&["true"]);
    sb.edit(|v| {
        v["hooks"] = serde_json::json!({
            "prestart": [{"path": "/bin/true"}, {"path": "/bin/true", "timeout": i64::MAX}]
        });
    });
    let o = sb.run(&["create", "hooktime"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let msg = log_msg(&o.stderr);
    assert!(msg.starts_with("hooks.prestart[1].timeout: "), "{msg}");
    assert!(msg.contains("maximum"), "{msg}");
    nothing_left(&sb);

    // A long but representable timeout runs the hook.
    sb.edit(|v| {
        v["hooks"] =
            serde_json::json!({"prestart": [{"path": "/bin/true", "timeout": 9_223_372_036u64}]});
    });
    let o = run(&sb, "hooktime");
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// HOME as runc sets it: an empty HOME (the last of several entries counts) or none gets the
/// home of the user in the container's /etc/passwd, `/` for a user not listed there.
#[test]
fn home_from_passwd_as_runc() {
    let sb = passwd_sandbox(&["sh", "-c", "env | grep ^HOME= ; env | grep -c ^HOME="]);
    for (uid, env, want) in [
        (0, &["HOME="][..], "/root"),
        (0, &[], "/root"),
        (0, &["HOME=", "HOME=/x"], "/x"),
        (0, &["HOME=/x", "HOME="], "/root"),
        (0, &["HOME=/x"], "/x"),
        (1000, &[], "/home/u1"),
        (1000, &["HOME="], "/home/u1"),
        (1001, &[], ""),
        (4242, &["HOME="], "/"),
        (4242, &[], "/"),
    ] {
        sb.edit(|v| {
            let mut e = vec!["PATH=/bin".to_string()];
            e.extend(env.iter().map(|s| s.to_string()));
            v["process"]["env"] = e.into();
            v["process"]["user"]["uid"] = uid.into();
        });
        let o = run(&sb, "home");
        assert_eq!(o.code, 0, "{uid} {env:?}: {}", o.stderr);
        assert_eq!(o.stdout, format!("HOME={want}\n1\n"), "{uid} {env:?}");
    }
}

/// A soft RLIMIT_NOFILE below the hard one stays the configured soft value.
#[test]
fn rlimit_soft_and_hard_as_configured() {
    let sb = passwd_sandbox(&["sh", "-c", "cat /proc/self/limits"]);
    sb.edit(|v| {
        v["process"]["rlimits"] = serde_json::json!([
            {"type": "RLIMIT_NOFILE", "hard": 4000, "soft": 3000},
            {"type": "RLIMIT_NPROC", "hard": 4000, "soft": 3000}
        ]);
    });
    let o = run(&sb, "limits");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = |name: &str| -> Vec<String> {
        let l = o.stdout.lines().find(|l| l.starts_with(name)).unwrap();
        l[name.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        line("Max open files")[..2],
        ["3000", "4000"],
        "{}",
        o.stdout
    );
    assert_eq!(line("Max processes")[..2], ["3000", "4000"], "{}", o.stdout);
}

/// Scheduler flags under the OCI spec's names are accepted (they used to be a parse error).
#[test]
fn scheduler_flags_with_spec_names() {
    let sb = passwd_sandbox(&["true"]);
    sb.edit(|v| {
        v["process"]["scheduler"] = serde_json::json!({
            "policy": "SCHED_BATCH",
            "flags": ["SCHED_FLAG_RESET_ON_FORK"]
        });
        v["process"]["args"] = serde_json::json!(["sh", "-c", "grep -w policy /proc/1/sched"]);
    });
    let o = run(&sb, "sched");
    assert_eq!(o.code, 0, "{}", o.stderr);
    // SCHED_BATCH is policy 3.
    assert!(
        o.stdout.split_whitespace().last() == Some("3"),
        "{}",
        o.stdout
    );
}

/// Device access letters in any order, repeated, or with letters runc ignores; the rule that
/// reaches the devices cgroup is runc's.
#[test]
fn device_access_letters_as_runc() {
    let sb = passwd_sandbox(&["sh", "-c", "cat /sys/fs/cgroup/devices/devices.list"]);
    if !Path::new("/sys/fs/cgroup/devices").is_dir() {
        lashing_testsupport::missing("no v1 devices hierarchy");
        return;
    }
    for (access, want) in [
        ("rwa", "c 7:0 rw"),
        ("mrw", "c 7:0 rwm"),
        ("wr", "c 7:0 rw"),
    ] {
        sb.edit(|v| {
            v["linux"]["resources"]["devices"] = serde_json::json!([
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 7, "minor": 0, "access": access}
            ]);
        });
        let o = run(&sb, "devacc");
        assert_eq!(o.code, 0, "{access}: {}", o.stderr);
        assert!(
            o.stdout.lines().any(|l| l == want),
            "{access}: {}",
            o.stdout
        );
    }
    for bad in ["", "x"] {
        sb.edit(|v| {
            v["linux"]["resources"]["devices"] = serde_json::json!([
                {"allow": true, "type": "c", "major": 7, "minor": 0, "access": bad}
            ]);
        });
        let o = sb.run(&["create", "devacc"]);
        assert_eq!(o.code, 1, "{bad:?}: {}", o.stderr);
        assert!(
            log_msg(&o.stderr).contains("linux.resources.devices[0].access"),
            "{}",
            o.stderr
        );
        nothing_left(&sb);
    }
}

/// Relative `linux.readonlyPaths`/`maskedPaths` entries are taken from the container's `/`.
#[test]
fn relative_readonly_and_masked_paths() {
    let sb = passwd_sandbox(&[
        "sh",
        "-c",
        "wc -c < /proc/cpuinfo; touch /tmp/x 2>/dev/null && echo writable || echo read-only",
    ]);
    sb.edit(|v| {
        v["root"]["readonly"] = false.into();
        v["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push("tmp".into());
        v["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push("../proc/cpuinfo".into());
    });
    let o = run(&sb, "relpaths");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "0\nread-only\n");
}

/// Hostile values of the command line's flags (numbers at and beyond their types' limits,
/// signals with huge offsets, sizes that overflow) against a running container: each is an
/// error or works; none makes lashing panic.
#[test]
fn no_flag_value_panics() {
    let sb = passwd_sandbox(&["sleep", "100"]);
    let o = sb.run(&["run", "-d", "flags"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let huge = [
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "99999999999999999999999",
    ];
    let mut runs: Vec<Vec<String>> = Vec::new();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for n in huge {
        runs.push(v(&["exec", "--preserve-fds", n, "flags", "true"]));
        runs.push(v(&["exec", "--user", &format!("{n}:{n}"), "flags", "true"]));
        runs.push(v(&["exec", "--additional-gids", n, "flags", "true"]));
        runs.push(v(&["kill", "flags", &format!("RTMIN+{n}")]));
        runs.push(v(&["kill", "flags", n]));
        runs.push(v(&["events", "--interval", &format!("{n}h"), "flags"]));
        runs.push(v(&["create", "--preserve-fds", n, "flags2"]));
        for flag in [
            "--memory",
            "--memory-swap",
            "--cpu-period",
            "--cpu-quota",
            "--cpu-share",
            "--pids-limit",
            "--blkio-weight",
            "--cpu-rt-runtime",
        ] {
            runs.push(v(&["update", flag, n, "flags"]));
            runs.push(v(&["update", flag, &format!("{n}g"), "flags"]));
        }
    }
    runs.push(v(&["kill", "flags", "RTMAX-2147483647"]));
    runs.push(v(&["kill", "flags", "RTMIN+2147483647"]));
    runs.push(v(&["kill", "flags", "SIGRTMIN+2147483647"]));
    runs.push(v(&["update", "--memory", "1e400", "flags"]));
    runs.push(v(&["update", "--cpuset-cpus", "0-4294967295", "flags"]));
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = sb.run(&args);
        assert!(
            o.code >= 0 && o.code != 101 && !o.stderr.contains("panicked"),
            "{args:?}: {} {}",
            o.code,
            o.stderr
        );
    }
    // The container is still there and usable.
    assert_eq!(sb.status("flags"), "running");
    for zero in ["0", "0s", "-5s"] {
        let flag = format!("--interval={zero}");
        let o = sb.run(&["events", &flag, "flags"]);
        assert_eq!(o.code, 1, "{zero}: {}", o.stderr);
        assert_eq!(
            log_msg(&o.stderr),
            "duration interval must be greater than 0"
        );
    }
    sb.ok(&["delete", "-f", "flags"]);
}

/// `exec` applies the same environment rules as `create` (it used to run a process with an
/// `=x` entry) and the same HOME rule.
#[test]
fn exec_env_rules_and_home() {
    let sb = passwd_sandbox(&["sleep", "100"]);
    let o = sb.run(&["run", "-d", "execenv"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for (entry, text) in [
        ("=x", "invalid environment variable: name cannot be empty"),
        ("NOEQ", "invalid environment variable: missing '='"),
    ] {
        let o = sb.run(&["exec", "--env", entry, "execenv", "true"]);
        assert_eq!(o.code, 255, "{entry}: {}", o.stderr);
        assert!(log_msg(&o.stderr).contains(text), "{entry}: {}", o.stderr);
    }
    let home = |args: &[&str]| {
        let mut full = vec!["exec"];
        full.extend(args);
        full.extend(["execenv", "sh", "-c", "echo $HOME"]);
        sb.ok(&full)
    };
    assert_eq!(home(&["--env", "HOME="]), "/root\n");
    assert_eq!(home(&["--user", "1000"]), "/home/u1\n");
    assert_eq!(home(&["--user", "1000", "--env", "HOME=/x"]), "/x\n");
    assert_eq!(home(&["--user", "4242"]), "/\n");
    sb.ok(&["delete", "-f", "execenv"]);
}
