//! OCI hooks: programs run with the container's state JSON on stdin, with an optional timeout.

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::{Hook, HookKind};
use crate::container::{Container, OciState};
use crate::error::{Error, Result};

fn kind_name(kind: HookKind) -> &'static str {
    kind.oci_name()
}

/// Runs the hooks of `kind` with the container's current OCI state.
pub(crate) fn run_all(c: &Container, kind: HookKind) -> Result<()> {
    let Some(list) = c.config().hooks.get(&kind).filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let mut st = c.oci_state();
    if kind == HookKind::Poststop {
        st.status = crate::Status::Stopped;
        st.pid = 0;
    }
    let json = serde_json::to_string(&st).unwrap_or_default();
    for h in list {
        run(h, kind, &json)?;
    }
    Ok(())
}

/// Runs prestart/createRuntime hooks: status `creating`, pid of init.
pub(crate) fn run_creating(c: &Container, pid: i32, kind: HookKind) -> Result<()> {
    let Some(list) = c.config().hooks.get(&kind).filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let mut st: OciState = c.oci_state();
    st.pid = pid;
    let mut v = serde_json::to_value(&st).unwrap_or_default();
    v["status"] = "creating".into();
    let json = v.to_string();
    for h in list {
        run(h, kind, &json)?;
    }
    Ok(())
}

/// Runs one hook with `state` on its stdin.
pub(crate) fn run(h: &Hook, kind: HookKind, state: &str) -> Result<()> {
    let fail = |reason: String| Error::Hook {
        kind: kind_name(kind).into(),
        path: h.path.clone(),
        reason,
    };
    let out = rustix::fs::memfd_create("hook-output", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| fail(format!("cannot capture output: {e}")))?;
    let mut out = std::fs::File::from(out);
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
    let err = out.try_clone().map_err(|e| fail(e.to_string()))?;
    let so = out.try_clone().map_err(|e| fail(e.to_string()))?;
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
        .stderr(Stdio::from(err));
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run: {e}")))?;
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
                "timed out after {} s",
                h.timeout.unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        let mut text = String::new();
        let _ = out.rewind();
        let _ = out.read_to_string(&mut text);
        return Err(fail(format!("{status}, output: {}", text.trim())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timeout too long for an `Instant` (a config built by hand skips validation) waits for the
    /// hook instead of overflowing.
    #[test]
    fn huge_timeout_does_not_overflow() {
        for timeout in [Some(u64::MAX), Some(u64::MAX / 2), Some(i64::MAX as u64)] {
            let h = Hook {
                path: "/bin/true".into(),
                args: vec!["true".into()],
                env: vec![],
                timeout,
            };
            run(&h, HookKind::Poststop, "{}").unwrap();
        }
    }
}
