//! `NOTIFY_SOCKET` (systemd's sd_notify) relay, as runc's `notify_socket.go`.
//!
//! When `NOTIFY_SOCKET` is set for `create`/`run`, the container gets a bind mount (read-only)
//! of `<root>/<id>/notify` on `/run/notify` and `NOTIFY_SOCKET=/run/notify/notify.sock`. The
//! runtime binds a datagram socket at `<root>/<id>/notify/notify.sock` (at `run`, or at `start`
//! after `create`), waits for the container's `READY=...` message and relays it to the host's
//! socket, followed by `MAINPID=<pid>` and a `BARRIER=1` handshake (the host closes the pipe fd
//! that comes with it).

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::Mode;
use rustix::net::{
    AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};

use crate::error::CliError;

/// The directory of the socket inside the container.
pub const CONTAINER_DIR: &str = "/run/notify";
/// The socket's file name.
pub const SOCKET_NAME: &str = "notify.sock";
/// How long the host has to acknowledge `BARRIER=1`.
const BARRIER_TIMEOUT: Duration = Duration::from_secs(5);

/// The host's notify socket from the environment (`NOTIFY_SOCKET`, non-empty).
pub fn host_socket() -> Option<String> {
    std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())
}

/// `<state dir>/notify`: the host side of `/run/notify`.
pub fn state_socket_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("notify")
}

/// Adds the bind mount of `host_dir` on `/run/notify` (ro, nosuid, nodev, noexec) and the
/// container's `NOTIFY_SOCKET` to `config`.
pub fn setup_spec(config: &mut lashing::Config, host_dir: &Path) {
    use lashing::config::MsFlags;
    let flags =
        MsFlags::BIND | MsFlags::RDONLY | MsFlags::NOSUID | MsFlags::NODEV | MsFlags::NOEXEC;
    config.mounts.push(lashing::config::Mount {
        source: host_dir.display().to_string(),
        destination: PathBuf::from(CONTAINER_DIR),
        device: "bind".into(),
        flags,
        cleared_flags: MsFlags::empty(),
        propagation_flags: Vec::new(),
        data: String::new(),
        rec_attr: None,
        extensions: 0,
        id_mapping: None,
    });
    config
        .process
        .env
        .push(format!("NOTIFY_SOCKET={CONTAINER_DIR}/{SOCKET_NAME}"));
}

/// Creates `<state dir>/notify` (0755) so that the bind mount has a source.
pub fn create_dir(state_dir: &Path) -> Result<PathBuf, CliError> {
    let dir = state_socket_dir(state_dir);
    std::fs::create_dir(&dir).map_err(|e| CliError::io("create notify directory", &dir, e))?;
    let _ = rustix::fs::chmod(&dir, Mode::from_raw_mode(0o755));
    Ok(dir)
}

/// The runtime's end: a datagram socket bound in the container's notify directory.
#[derive(Debug)]
pub struct NotifySocket {
    sock: OwnedFd,
    host: String,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds `<state dir>/notify/notify.sock` (mode 0777, so that any user of the container can
    /// send), for relaying to `host`. `None` when the container was created without a notify
    /// directory.
    pub fn bind(state_dir: &Path, host: String) -> Result<Option<NotifySocket>, CliError> {
        let dir = state_socket_dir(state_dir);
        if !dir.is_dir() {
            return Ok(None);
        }
        let path = dir.join(SOCKET_NAME);
        let _ = std::fs::remove_file(&path);
        let sock = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| CliError::sys("create the notify socket", e))?;
        let addr =
            SocketAddrUnix::new(&path).map_err(|e| CliError::io("bind notify socket", &path, e))?;
        rustix::net::bind(&sock, &addr)
            .map_err(|e| CliError::io("bind notify socket", &path, e))?;
        rustix::fs::chmod(&path, Mode::from_raw_mode(0o777))
            .map_err(|e| CliError::io("chmod notify socket", &path, e))?;
        Ok(Some(NotifySocket { sock, host, path }))
    }

    /// Reads what datagrams are queued; returns the first `READY=` line if one came.
    pub fn try_read_ready(&self) -> Option<String> {
        let mut buf = [0u8; 4096];
        loop {
            match rustix::net::recv(&self.sock, &mut buf, rustix::net::RecvFlags::empty()) {
                Ok((n, _)) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if let Some(line) = ready_line(&text) {
                        return Some(line.to_string());
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return None,
            }
        }
    }

    /// Waits until the container sends `READY=` (relayed with `MAINPID=main_pid`) or until
    /// `alive` says the container is gone (then returns without relaying).
    pub fn wait_and_relay(&self, main_pid: i32, alive: impl Fn() -> bool) -> Result<(), CliError> {
        let ts = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        loop {
            if let Some(line) = self.try_read_ready() {
                return self.relay(&line, main_pid);
            }
            if !alive() {
                return Ok(());
            }
            let mut fds = [PollFd::new(&self.sock, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(CliError::sys("wait on the notify socket", e)),
            }
        }
    }

    /// Sends `line`, `MAINPID=main_pid` and a barrier to the host socket.
    pub fn relay(&self, line: &str, main_pid: i32) -> Result<(), CliError> {
        let host = self.host.as_str();
        let err = |e: io::Error| CliError::io("notify the host socket", host, e);
        let client = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| err(e.into()))?;
        let addr = host_addr(host).map_err(|e| err(e.into()))?;
        rustix::net::connect(&client, &addr).map_err(|e| err(e.into()))?;
        for msg in [format!("{line}\n"), format!("MAINPID={main_pid}\n")] {
            rustix::net::send(&client, msg.as_bytes(), SendFlags::NOSIGNAL)
                .map_err(|e| err(e.into()))?;
        }
        if let Err(e) = barrier(&client) {
            tracing::warn!("notify socket {host}: BARRIER=1 was not acknowledged: {e}");
        }
        Ok(())
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The first line of a datagram that starts with `READY=`.
pub fn ready_line(text: &str) -> Option<&str> {
    text.lines().find(|l| l.starts_with("READY="))
}

/// A socket address for `NOTIFY_SOCKET`: a path, or `@name` for an abstract socket.
fn host_addr(host: &str) -> rustix::io::Result<SocketAddrUnix> {
    match host.strip_prefix('@') {
        Some(name) => SocketAddrUnix::new_abstract_name(name.as_bytes()),
        None => SocketAddrUnix::new(Path::new(host).as_os_str().as_bytes()),
    }
}

/// sd_notify_barrier: sends `BARRIER=1` with the write end of a pipe and waits until the receiver
/// has closed it (our copy is closed first), so that it has read everything before.
fn barrier(client: &OwnedFd) -> io::Result<()> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let fds = [w.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("cannot pack the barrier fd"));
    }
    rustix::net::sendmsg(
        client,
        &[IoSlice::new(b"BARRIER=1")],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    drop(w);
    let deadline = Instant::now() + BARRIER_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let ts = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut pfd = [PollFd::new(&r, PollFlags::IN)];
        match rustix::event::poll(&mut pfd, Some(&ts)) {
            Ok(0) => return Err(io::ErrorKind::TimedOut.into()),
            Ok(_) => {
                if pfd[0].revents().contains(PollFlags::HUP) {
                    return Ok(());
                }
                let mut b = [0u8; 1];
                if rustix::io::read(&r, &mut b)? == 0 {
                    return Ok(());
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_is_found_in_a_multi_line_datagram() {
        assert_eq!(ready_line("STATUS=x\nREADY=1\n"), Some("READY=1"));
        assert_eq!(ready_line("READY=1"), Some("READY=1"));
        assert_eq!(ready_line("STATUS=starting"), None);
    }

    #[test]
    fn spec_gets_a_readonly_bind_and_the_env() {
        let mut c = lashing::Config::default();
        setup_spec(&mut c, Path::new("/run/x/id/notify"));
        let m = c.mounts.last().unwrap();
        assert_eq!(m.destination, Path::new("/run/notify"));
        assert_eq!(m.source, "/run/x/id/notify");
        assert!(
            m.flags
                .contains(lashing::config::MsFlags::RDONLY | lashing::config::MsFlags::BIND)
        );
        assert_eq!(
            c.process.env.last().unwrap(),
            "NOTIFY_SOCKET=/run/notify/notify.sock"
        );
    }

    #[test]
    fn relay_sends_ready_mainpid_and_a_barrier() {
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("state");
        std::fs::create_dir(&state).unwrap();
        assert!(NotifySocket::bind(&state, "x".into()).unwrap().is_none());
        create_dir(&state).unwrap();
        let host_path = d.path().join("host.sock");
        let host = std::os::unix::net::UnixDatagram::bind(&host_path).unwrap();
        let n = NotifySocket::bind(&state, host_path.display().to_string())
            .unwrap()
            .unwrap();
        let inner = std::os::unix::net::UnixDatagram::unbound().unwrap();
        inner
            .send_to(b"STATUS=a", state.join("notify/notify.sock"))
            .unwrap();
        inner
            .send_to(b"READY=1\nSTATUS=b", state.join("notify/notify.sock"))
            .unwrap();
        // The host side reads (and drops the barrier fd) while we relay.
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            for _ in 0..3 {
                let n = host.recv(&mut buf).unwrap();
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            got
        });
        n.wait_and_relay(4242, || true).unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got, vec!["READY=1\n", "MAINPID=4242\n", "BARRIER=1"]);
        let sock = state.join("notify/notify.sock");
        assert!(sock.exists());
        drop(n);
        assert!(!sock.exists(), "removed on drop");
    }
}
