//! OCI hooks: programs run with the container's state JSON on stdin, with an optional timeout.

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::{Hook, HookKind};
use crate::error::{Error, Result};
use crate::status::{OciState, Status};

fn kind_name(kind: HookKind) -> &'static str {
    kind.oci_name()
}

/// Runs `hooks` (the config's hooks of `kind`) in order, each with `state` as JSON on its stdin,
/// as the OCI spec has them see it: `creating` for prestart and createRuntime (they run while
/// the container is created), `stopped` with no pid for poststop.
pub(crate) fn run_all(hooks: &[Hook], kind: HookKind, state: &OciState) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let json = state_for(kind, state).to_string();
    for (i, h) in hooks.iter().enumerate() {
        run(h, kind, i, &json)?;
    }
    Ok(())
}

/// The state JSON a hook of `kind` reads.
fn state_for(kind: HookKind, state: &OciState) -> serde_json::Value {
    let mut st = state.clone();
    if kind == HookKind::Poststop {
        st.status = Status::Stopped;
        st.pid = 0;
    }
    let mut v = serde_json::to_value(&st).unwrap_or_default();
    if matches!(kind, HookKind::Prestart | HookKind::CreateRuntime) {
        v["status"] = "creating".into();
    }
    v
}

/// Runs one hook (the `index`-th of its kind) with `state` on its stdin. Failures are worded as
/// runc's (`fork/exec <path>: no such file or directory`, `exit status 3, stdout: ..., stderr:
/// ...`, `hook ran past specified timeout of 1.0s`).
pub(crate) fn run(h: &Hook, kind: HookKind, index: usize, state: &str) -> Result<()> {
    tracing::debug!(
        "running {} hook #{index}: {}",
        kind_name(kind),
        h.path.display()
    );
    let fail = |reason: String| Error::Hook {
        kind: kind_name(kind).into(),
        index,
        path: h.path.clone(),
        reason,
    };
    let capture = |name: &str| {
        rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)
            .map(std::fs::File::from)
            .map_err(|e| fail(format!("cannot capture the output: {e}")))
    };
    let (mut out, mut err) = (capture("hook-stdout")?, capture("hook-stderr")?);
    let mut cmd = Command::new(&h.path);
    if let Some((arg0, rest)) = h.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in &h.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let so = out.try_clone().map_err(|e| fail(e.to_string()))?;
    let se = err.try_clone().map_err(|e| fail(e.to_string()))?;
    // The state on stdin comes from a memfd, not a pipe: a hook that never reads it cannot
    // block us past its timeout, whatever the size of the state.
    let input = rustix::fs::memfd_create("hook-state", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| fail(format!("cannot pass the state: {e}")))?;
    let mut input = std::fs::File::from(input);
    input
        .write_all(state.as_bytes())
        .and_then(|()| input.rewind())
        .map_err(|e| fail(format!("cannot pass the state: {e}")))?;
    cmd.stdin(Stdio::from(input))
        .stdout(Stdio::from(so))
        .stderr(Stdio::from(se));
    let mut child = cmd.spawn().map_err(|e| {
        fail(format!(
            "fork/exec {}: {}",
            h.path.display(),
            crate::error::go_error_text(&e)
        ))
    })?;
    // A deadline too far away to be represented is no deadline (validation refuses such
    // timeouts; a config built by hand must not make us panic either).
    let deadline = h
        .timeout
        .and_then(|t| Instant::now().checked_add(Duration::from_secs(t)));
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(fail(e.to_string())),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "hook ran past specified timeout of {:.1}s",
                h.timeout.unwrap_or(0) as f64
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        let read = |f: &mut std::fs::File| {
            let mut text = String::new();
            let _ = f.rewind();
            let _ = f.read_to_string(&mut text);
            text
        };
        let (stdout, stderr) = (read(&mut out), read(&mut err));
        return Err(fail(format!(
            "{}, stdout: {stdout}, stderr: {stderr}",
            status_text(status)
        )));
    }
    Ok(())
}

/// An exit status as Go prints it (`exit status 3`, `signal: killed`).
fn status_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(libc::SIGKILL) => "signal: killed".into(),
        Some(libc::SIGTERM) => "signal: terminated".into(),
        Some(libc::SIGINT) => "signal: interrupt".into(),
        Some(libc::SIGABRT) => "signal: aborted".into(),
        Some(libc::SIGSEGV) => "signal: segmentation fault".into(),
        Some(libc::SIGHUP) => "signal: hangup".into(),
        Some(libc::SIGPIPE) => "signal: broken pipe".into(),
        Some(s) => format!("signal: signal {s}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn hook(path: &str, args: &[&str], timeout: Option<u64>) -> Hook {
        Hook {
            path: PathBuf::from(path),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![],
            timeout,
        }
    }

    /// Hooks see the state the OCI spec gives their kind; they take the list and the state, not
    /// a container.
    #[test]
    fn each_kind_sees_its_state() {
        let st = OciState {
            oci_version: "1.2.0".into(),
            id: "c".into(),
            pid: 42,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            annotations: Default::default(),
            owner: "root".into(),
        };
        for kind in [HookKind::Prestart, HookKind::CreateRuntime] {
            let v = state_for(kind, &st);
            assert_eq!(
                (v["status"].as_str(), v["pid"].as_i64()),
                (Some("creating"), Some(42))
            );
        }
        let v = state_for(HookKind::Poststart, &st);
        assert_eq!(
            (v["status"].as_str(), v["pid"].as_i64()),
            (Some("created"), Some(42))
        );
        let v = state_for(HookKind::Poststop, &st);
        assert_eq!(
            (v["status"].as_str(), v["pid"].as_i64()),
            (Some("stopped"), Some(0))
        );
        // A hook that writes its stdin where the test can read it gets exactly that state.
        let out = tempfile::NamedTempFile::new().unwrap();
        let h = hook(
            "/bin/sh",
            &["sh", "-c", &format!("cat > {}", out.path().display())],
            None,
        );
        run_all(std::slice::from_ref(&h), HookKind::Prestart, &st).unwrap();
        let got: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path()).unwrap()).unwrap();
        assert_eq!(got, state_for(HookKind::Prestart, &st));
        run_all(&[], HookKind::Poststop, &st).unwrap();
    }

    /// runc's texts, which engines and users grep: `error running <kind> hook #<index>: ...`.
    #[test]
    fn failures_are_worded_as_runc() {
        let h = hook(
            "/bin/sh",
            &["sh", "-c", "echo out-text; echo err-text >&2; exit 3"],
            None,
        );
        let e = run(&h, HookKind::CreateRuntime, 1, "{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running createRuntime hook #1: exit status 3, stdout: out-text\n, stderr: err-text\n"
        );
        let e = run(
            &hook("/nonexistent/hook", &[], None),
            HookKind::Prestart,
            0,
            "{}",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running prestart hook #0: fork/exec /nonexistent/hook: no such file or directory"
        );
        let e = run(
            &hook("/bin/sh", &["sh", "-c", "kill -9 $$"], None),
            HookKind::Poststop,
            2,
            "{}",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running poststop hook #2: signal: killed, stdout: , stderr: "
        );
        let e = run(
            &hook("/bin/sh", &["sh", "-c", "sleep 5"], Some(1)),
            HookKind::Poststart,
            0,
            "{}",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running poststart hook #0: hook ran past specified timeout of 1.0s"
        );
    }
}
