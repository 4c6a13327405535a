//! OCI hooks through the command line: the six kinds in order with the state on stdin, timeouts,
//! failures of each kind and what they leave behind. Real busybox containers (root and
//! /bin/busybox).

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::{Sandbox, log_msg, sandbox};

/// The hooks directory of a sandbox (bind-mounted at `/hooks` in the container) with `log.sh`,
/// which appends `KIND <stdin>` as one line to `$2`.
fn hooks_dir(sb: &Sandbox) -> PathBuf {
    let dir = sb.path("hooks");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("log.sh");
    std::fs::write(
        &script,
        // One write per hook: startContainer and poststart run at the same time.
        "#!/bin/sh\ns=$(cat)\nprintf '%s %s\\n' \"$1\" \"$s\" >> \"$2\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("env.sh"), "#!/bin/sh\nenv > \"$1\"\n").unwrap();
    for f in ["log.sh", "env.sh"] {
        let p = dir.join(f);
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    sb.edit(|v| {
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/hooks", "type": "bind", "source": dir.to_str().unwrap(),
            "options": ["rbind", "rw"]
        }))
    });
    dir
}

/// A hook running `log.sh KIND LOG` from `dir` (its path as the hook sees it).
fn log_hook(dir: &Path, kind: &str, log: &Path) -> Value {
    json!({
        "path": dir.join("log.sh").to_str().unwrap(),
        "args": ["log.sh", kind, log.to_str().unwrap()]
    })
}

/// A hook running `sh -c SCRIPT` on the host.
fn sh_hook(script: &str, timeout: Option<u64>) -> Value {
    let mut h = json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
    if let Some(t) = timeout {
        h["timeout"] = t.into();
    }
    h
}

/// Checks that nothing of the container is left: no state, no cgroup.
fn assert_nothing_left(sb: &Sandbox) {
    assert!(sb.left().is_empty(), "state left: {:?}", sb.left());
    assert!(!sb.cgroup_exists(), "cgroup {} left", sb.cgroup);
}

#[test]
fn all_six_kinds_run_in_order_with_the_state_on_stdin() {
    // The process lives until the poststart hook has run, so that hook sees it running (a
    // process that had already exited would be reported `stopped`, by runc too).
    let sb = sandbox(&[
        "sh",
        "-c",
        "until grep -q '^poststart ' /hooks/log; do sleep 0.05; done",
    ]);
    let dir = hooks_dir(&sb);
    let log = dir.join("log");
    let inside = Path::new("/hooks");
    sb.edit(|v| {
        // An older spec version than lashing's: the hooks' state must not repeat it.
        v["ociVersion"] = json!("1.0.0");
        v["hooks"] = json!({
            "prestart": [log_hook(&dir, "prestart", &log)],
            "createRuntime": [log_hook(&dir, "createRuntime", &log)],
            "createContainer": [log_hook(&dir, "createContainer", &log)],
            "startContainer": [log_hook(inside, "startContainer", &inside.join("log"))],
            "poststart": [log_hook(&dir, "poststart", &log)],
            "poststop": [log_hook(&dir, "poststop", &log)],
        })
    });
    let o = sb.run(&["create", "h1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let init = sb.pid("h1");
    assert_eq!(sb.run(&["start", "h1"]).code, 0);
    sb.wait_status("h1", "stopped");
    sb.reap(init);
    assert_eq!(sb.run(&["delete", "h1"]).code, 0);

    let text = std::fs::read_to_string(&log).unwrap();
    let entries: Vec<(String, Value)> = text
        .lines()
        .map(|l| {
            let (kind, json) = l.split_once(' ').unwrap();
            let st = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("{kind}: state on stdin is not JSON ({e}): {text}"));
            (kind.to_string(), st)
        })
        .collect();
    let kinds: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.len(), 6, "{text}");
    assert_eq!(
        &kinds[..3],
        &["prestart", "createRuntime", "createContainer"],
        "{text}"
    );
    // startContainer runs in init before its execve, poststart once `start` saw the execve.
    assert_eq!(&kinds[3..5], &["startContainer", "poststart"], "{text}");
    assert_eq!(kinds[5], "poststop");
    let bundle = sb.bundle();
    for (kind, st) in &entries {
        assert_eq!(st["id"], "h1", "{kind}");
        assert_eq!(st["bundle"], bundle.to_str().unwrap(), "{kind}");
        // The runtime's spec version, whatever the bundle says (runc: its own specs.Version).
        assert_eq!(
            st["ociVersion"],
            lashing::config::OCI_VERSION,
            "{kind}: {st}"
        );
        let want = match kind.as_str() {
            "prestart" | "createRuntime" | "createContainer" => "creating",
            "startContainer" => "created",
            "poststart" => "running",
            _ => "stopped",
        };
        assert_eq!(st["status"], want, "{kind}: {st}");
    }
    let pid = |k: &str| entries.iter().find(|(x, _)| x == k).unwrap().1["pid"].clone();
    assert_eq!(pid("prestart"), json!(init), "host pid of init");
    assert_eq!(pid("createRuntime"), json!(init));
    assert_eq!(
        pid("startContainer"),
        json!(1),
        "in-container hooks see the container's pid"
    );
    assert_eq!(pid("poststop"), json!(0));
}

#[test]
fn hook_timeout_kills_the_hook_and_fails_create() {
    let sb = sandbox(&["true"]);
    // The hook would run for 10 minutes: `create` returns only because it kills it (a create that
    // waited for it would hang: `Sandbox::run` fails a command that hangs).
    let pidfile = sb.path("hook-pid");
    let script = format!("echo $$ > {}; exec sleep 600", pidfile.display());
    sb.edit(|v| v["hooks"] = json!({"createRuntime": [sh_hook(&script, Some(1))]}));
    let o = sb.run(&["create", "h1"]);
    assert_eq!(o.code, 1);
    let msg = log_msg(&o.stderr);
    assert!(
        msg == "error running createRuntime hook #0: hook ran past specified timeout of 1.0s",
        "{msg}"
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the hook (pid {}) was killed and reaped",
        pid.trim()
    );
    assert_nothing_left(&sb);
}

#[test]
fn failing_create_runtime_fails_create_and_leaves_nothing() {
    let sb = sandbox(&["true"]);
    sb.edit(|v| v["hooks"] = json!({"createRuntime": [sh_hook("echo boom >&2; exit 3", None)]}));
    let o = sb.run(&["create", "h1"]);
    assert_eq!(o.code, 1);
    let msg = log_msg(&o.stderr);
    assert!(
        msg == r"error running createRuntime hook #0: exit status 3, stdout: , stderr: boom\n",
        "{msg}"
    );
    assert_nothing_left(&sb);
    // Also through `run`.
    let o = sb.run(&["run", "h2"]);
    assert_eq!(o.code, 1);
    assert_nothing_left(&sb);
}

#[test]
fn failing_create_container_hook_fails_create_and_leaves_nothing() {
    let sb = sandbox(&["true"]);
    sb.edit(|v| {
        v["hooks"] = json!({"createContainer": [sh_hook("echo inside >&2; exit 4", None)]})
    });
    let o = sb.run(&["create", "h1"]);
    assert_eq!(o.code, 1);
    let msg = log_msg(&o.stderr);
    assert!(
        msg.contains(
            r"error running createContainer hook #0: exit status 4, stdout: , stderr: inside\n"
        ),
        "{msg}"
    );
    assert_nothing_left(&sb);
}

#[test]
fn failing_poststart_kills_the_container() {
    let sb = sandbox(&["sleep", "30"]);
    sb.edit(|v| v["hooks"] = json!({"poststart": [sh_hook("exit 7", None)]}));
    assert_eq!(sb.run(&["create", "h1"]).code, 0);
    let init = sb.pid("h1");
    let o = sb.run(&["start", "h1"]);
    assert_eq!(o.code, 1);
    assert!(
        log_msg(&o.stderr).contains("error running poststart hook #0: exit status 7"),
        "{}",
        o.stderr
    );
    sb.wait_status("h1", "stopped");
    sb.reap(init);
    assert_eq!(sb.run(&["delete", "h1"]).code, 0);
    assert_nothing_left(&sb);
}

#[test]
fn failing_poststop_is_only_a_warning() {
    let sb = sandbox(&["true"]);
    sb.edit(|v| v["hooks"] = json!({"poststop": [sh_hook("echo late >&2; exit 2", None)]}));
    let o = sb.run(&["run", "h1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("level=warning")
            && o.stderr
                .contains("error running poststop hook #0: exit status 2"),
        "{}",
        o.stderr
    );
    assert_nothing_left(&sb);
}

#[test]
fn start_container_hook_without_env_gets_the_process_env() {
    let sb = sandbox(&["true"]);
    let dir = hooks_dir(&sb);
    sb.edit(|v| {
        v["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push("HOOK_TEST=from-process".into());
        v["hooks"] = json!({
            "startContainer": [{"path": "/hooks/env.sh", "args": ["env.sh", "/hooks/env-start"]}],
            "createContainer": [{"path": dir.join("env.sh").to_str().unwrap(),
                "args": ["env.sh", dir.join("env-create").to_str().unwrap()],
                "env": ["ONLY=this"]}],
        })
    });
    let o = sb.run(&["run", "h1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let env = std::fs::read_to_string(dir.join("env-start")).unwrap();
    assert!(env.lines().any(|l| l == "HOOK_TEST=from-process"), "{env}");
    let env = std::fs::read_to_string(dir.join("env-create")).unwrap();
    assert!(env.lines().any(|l| l == "ONLY=this"), "{env}");
    assert!(
        !env.contains("HOOK_TEST"),
        "a hook with env gets only its own: {env}"
    );
}

#[test]
fn missing_hook_program_is_a_clear_error() {
    let sb = sandbox(&["true"]);
    sb.edit(|v| v["hooks"] = json!({"prestart": [{"path": "/nonexistent/hook"}]}));
    let o = sb.run(&["create", "h1"]);
    assert_eq!(o.code, 1);
    let msg = log_msg(&o.stderr);
    assert!(
        msg == "error running prestart hook #0: fork/exec /nonexistent/hook: no such file or directory",
        "{msg}"
    );
    assert_nothing_left(&sb);
}
