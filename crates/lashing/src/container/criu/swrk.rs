//! One CRIU RPC session (runc's `criuSwrk`): `criu swrk 3` started with one end of a
//! `SOCK_SEQPACKET` socketpair at fd 3 (and the caller's extra fds at 4, 5, ...), one request
//! sent, notifications answered until the final response, then CRIU waited for.

use std::fs;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendFlags, Shutdown, SocketFlags, SocketType,
};

use super::error::CriuError;
use super::rpc::{Notify, ReqType, Request, Response};

/// The largest response lashing accepts (runc's buffer: 10 pages).
const MAX_RESP: usize = 10 * 4096;

/// What runs once CRIU is started, with its pid, before the request is sent.
pub type OnSpawn<'a> = dyn FnMut(i32, &mut Request) -> Result<(), CriuError> + 'a;
/// What handles a notification, with the fd that came with it.
pub type OnNotify<'a> = dyn FnMut(&Notify, Option<OwnedFd>) -> Result<(), CriuError> + 'a;

/// Where CRIU's stdio goes.
pub enum CriuStdio<'a> {
    /// `/dev/null` (dump, checks).
    Null,
    /// The caller's own stdio (restore: the restored process inherits pipes through it).
    Inherit,
    /// These as stdin, stdout and stderr (a restore for a caller whose own stdio is not the
    /// process's: containerd's shim).
    Fds([BorrowedFd<'a>; 3]),
}

/// What a session needs besides the request.
pub struct Session<'a> {
    /// `dump`, `restore`, ... (for messages).
    pub action: &'static str,
    /// CRIU's log, quoted in errors (none for version and feature checks).
    pub log: Option<PathBuf>,
    /// CRIU's stdio.
    pub stdio: CriuStdio<'a>,
    /// Fds for CRIU at 4, 5, ... (external namespaces).
    pub extra_fds: Vec<BorrowedFd<'a>>,
}

/// Runs one request. `spawned` gets CRIU's pid before the request is sent (restore puts CRIU
/// into the container's cgroup and names the cgroup roots); `notify` handles each notification
/// with the fd that came with it (`orphan-pts-master`). The final response is returned when it
/// reports success and CRIU exited cleanly (a pre-dump's CRIU may exit non-zero, as runc allows).
pub fn call(
    s: &Session<'_>,
    req: &mut Request,
    spawned: &mut OnSpawn<'_>,
    notify: &mut OnNotify<'_>,
) -> Result<Response, CriuError> {
    let rpc = |op: &'static str| move |e: io::Error| CriuError::Rpc { op, source: e };
    let (ours, theirs) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| rpc("create the CRIU socketpair")(e.into()))?;
    let mut cmd = Command::new("criu");
    cmd.args(["swrk", "3"]);
    match &s.stdio {
        CriuStdio::Null => {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        }
        CriuStdio::Inherit => {}
        CriuStdio::Fds([i, o, e]) => {
            let dup = |fd: &BorrowedFd<'_>| {
                fd.try_clone_to_owned()
                    .map(Stdio::from)
                    .map_err(rpc("duplicate the restored process's stdio"))
            };
            cmd.stdin(dup(i)?).stdout(dup(o)?).stderr(dup(e)?);
        }
    }
    let mut fds = vec![theirs.as_fd()];
    fds.extend(s.extra_fds.iter().copied());
    let mut child = crate::sys::spawn::spawn_with_fds(&mut cmd, &fds).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            CriuError::NotFound
        } else {
            CriuError::Spawn {
                action: s.action,
                source: e,
            }
        }
    })?;
    // Only CRIU holds its end from here: if it dies, we read EOF instead of hanging.
    drop(theirs);
    let r = converse(s, &ours, child.id() as i32, req, spawned, notify);
    let _ = rustix::net::shutdown(&ours, Shutdown::Write);
    drop(ours);
    let status = child.wait().map_err(rpc("wait for criu"))?;
    let resp = r?;
    if !status.success() && req.typ != ReqType::PreDump {
        return Err(s.failed(format!("criu exited with {status}"), None));
    }
    Ok(resp)
}

impl Session<'_> {
    /// A failure of the action, quoting CRIU's log.
    fn failed(&self, what: String, errno: Option<i32>) -> CriuError {
        let (log, quote) = match &self.log {
            Some(p) => (p.display().to_string(), log_quote(p)),
            None => (String::new(), String::new()),
        };
        CriuError::Failed {
            action: self.action,
            what,
            errno: errno.map(|e| io::Error::from_raw_os_error(e).to_string()),
            log,
            quote,
        }
    }
}

fn converse(
    s: &Session<'_>,
    sock: &OwnedFd,
    pid: i32,
    req: &mut Request,
    spawned: &mut OnSpawn<'_>,
    notify: &mut OnNotify<'_>,
) -> Result<Response, CriuError> {
    spawned(pid, req)?;
    send(sock, &req.encode())?;
    let mut buf = vec![0u8; MAX_RESP];
    loop {
        let (n, fd) = recv(sock, &mut buf)?;
        if n == 0 {
            return Err(s.failed("criu closed its socket (unexpected EOF)".into(), None));
        }
        if n == buf.len() {
            return Err(CriuError::Rpc {
                op: "read a criu response",
                source: io::Error::other("response too large"),
            });
        }
        let resp = Response::decode(&buf[..n]).map_err(CriuError::Decode)?;
        if !resp.success {
            let mut what = format!("criu failed: type {}", resp.typ.name());
            if let Some(m) = resp
                .errmsg
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
            {
                what.push_str(&format!(": {m}"));
            }
            return Err(s.failed(what, resp.errno.filter(|&e| e > 0)));
        }
        match resp.typ {
            ReqType::Notify => {
                let Some(n) = &resp.notify else {
                    return Err(CriuError::Decode(super::wire::WireError::Field {
                        field: 5,
                        what: "NOTIFY response without criu_notify",
                    }));
                };
                tracing::debug!(script = %n.script, pid = n.pid, "criu: notify");
                notify(n, fd)?;
                let mut ack = Request::new(ReqType::Notify);
                ack.notify_success = true;
                send(sock, &ack.encode())?;
            }
            t if t == req.typ => return Ok(resp),
            t => {
                return Err(CriuError::Rpc {
                    op: "read a criu response",
                    source: io::Error::other(format!(
                        "unexpected response {} to {}",
                        t.name(),
                        req.typ.name()
                    )),
                });
            }
        }
    }
}

fn send(sock: &OwnedFd, data: &[u8]) -> Result<(), CriuError> {
    let mut control = SendAncillaryBuffer::new(&mut []);
    rustix::net::sendmsg(
        sock,
        &[IoSlice::new(data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(|e| CriuError::Rpc {
        op: "send a request to criu",
        source: e.into(),
    })?;
    Ok(())
}

/// One datagram and the fd that came with it, if any.
fn recv(sock: &OwnedFd, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>), CriuError> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(r) => break r,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(CriuError::Rpc {
                    op: "read a criu response",
                    source: e.into(),
                });
            }
        }
    };
    let mut fd = None;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            for f in r {
                fd.get_or_insert(f);
            }
        }
    }
    Ok((got.bytes, fd))
}

/// The lines of a CRIU log worth showing: each line with `Error` and up to five lines before
/// it (runc's `logCriuErrors`, with `...` for a gap), at most 60 lines; a log without any
/// `Error` shows its last 12 lines.
fn log_quote(path: &Path) -> String {
    let Ok(text) = fs::read_to_string(path) else {
        return format!("(cannot read {})", path.display());
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut printed = 0usize; // 1-based number of the last line shown
    for (i, l) in lines.iter().enumerate() {
        if !l.contains("Error") {
            continue;
        }
        let first = (i + 1).saturating_sub(5).max(printed + 1).max(1);
        if printed != 0 && first > printed + 1 {
            out.push("...".into());
        }
        for n in first..=i + 1 {
            out.push(format!("{n}:{}", lines[n - 1]));
        }
        printed = i + 1;
    }
    if out.is_empty() {
        let from = lines.len().saturating_sub(12);
        out = lines[from..].iter().map(|l| l.to_string()).collect();
    }
    if out.len() > 60 {
        out.drain(..out.len() - 60);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_quote_shows_errors_with_context() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dump.log");
        let mut text = String::new();
        for i in 1..=20 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str("Error (criu/x.c:1): boom\n");
        for i in 22..=40 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str("Error (criu/y.c:2): bang\n");
        fs::write(&p, &text).unwrap();
        let q = log_quote(&p);
        let lines: Vec<&str> = q.lines().collect();
        assert_eq!(lines[0], "16:line 16", "{q}");
        assert_eq!(lines[5], "21:Error (criu/x.c:1): boom", "{q}");
        assert_eq!(lines[6], "...", "{q}");
        assert_eq!(lines[7], "36:line 36", "{q}");
        assert_eq!(*lines.last().unwrap(), "41:Error (criu/y.c:2): bang");
        fs::write(&p, "a\nb\nc\n").unwrap();
        assert_eq!(log_quote(&p), "a\nb\nc");
        assert!(log_quote(&dir.path().join("none")).contains("cannot read"));
    }
}
