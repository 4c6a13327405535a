//! Terminals on the CLI side (runc's `tty.go`) and the fd-passing sockets.
//!
//! - [`connect`]: dials the unix socket of `--console-socket` / `--pidfd-socket`; the connected
//!   socket goes to the library, which sends the terminal's master / a pidfd over it.
//! - [`ConsolePair`]: for a terminal in the foreground (`run`, `exec -t` without a console
//!   socket): a socketpair whose other end is the process's console socket; [`ConsolePair::master`]
//!   receives the master once the process is set up.
//! - [`Relay`]: copies stdin to the master and the master to stdout with `poll` (no threads),
//!   with the host terminal in raw mode (restored on drop) and window-size changes
//!   ([`Relay::resize`] on `SIGWINCH`).

use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};
use rustix::termios::{OptionalActions, Termios};

use crate::error::CliError;

/// Connects to the unix socket at `path` (`what` names the flag in errors): the path must exist
/// and be a socket.
pub fn connect(path: &Path, what: &'static str) -> Result<OwnedFd, CliError> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(what, path, e))?;
    if !meta.file_type().is_socket() {
        return Err(CliError::Refused(format!(
            "{what} {}: not a unix socket",
            path.display()
        )));
    }
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| CliError::sys("create a unix socket", e))?;
    let addr = SocketAddrUnix::new(path).map_err(|e| CliError::io(what, path, e))?;
    rustix::net::connect(&sock, &addr).map_err(|e| CliError::io(what, path, e))?;
    Ok(sock)
}

/// Receives one fd (`SCM_RIGHTS`) from `sock`, with the name that came with it.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<(String, OwnedFd)> {
    let mut buf = [0u8; 4096];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(r) => break r,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut fds: Vec<OwnedFd> = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            fds.extend(r);
        }
    }
    let name = String::from_utf8_lossy(&buf[..got.bytes]).into_owned();
    match fds.len() {
        1 => Ok((name, fds.pop().expect("one"))),
        0 => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "no file descriptor was received",
        )),
        n => Err(io::Error::other(format!(
            "{n} file descriptors received, expected one"
        ))),
    }
}

/// A socketpair for a terminal in the foreground: [`ConsolePair::theirs`] is the process's
/// console socket; the master arrives on ours.
#[derive(Debug)]
pub struct ConsolePair {
    ours: OwnedFd,
    theirs: Option<OwnedFd>,
}

impl ConsolePair {
    /// A new pair (both ends close-on-exec).
    pub fn new() -> Result<ConsolePair, CliError> {
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| CliError::sys("create the console socketpair", e))?;
        Ok(ConsolePair {
            ours,
            theirs: Some(theirs),
        })
    }

    /// The end to give to the process as its console socket (once).
    pub fn theirs(&mut self) -> Option<OwnedFd> {
        self.theirs.take()
    }

    /// The master of the process's terminal (the process must be set up: the library sends it
    /// before `start`/`run` returns), with `ONLCR` cleared as runc's `recvtty` does: what the
    /// process writes reaches our stdout byte for byte (`\n`, not `\r\n`).
    pub fn master(&self) -> Result<OwnedFd, CliError> {
        let fd = recv_fd(self.ours.as_fd())
            .map(|(_, fd)| fd)
            .map_err(|e| CliError::sys("receive the terminal master from the container", e))?;
        clear_onlcr(fd.as_fd()).map_err(|e| CliError::sys("clear ONLCR on the terminal", e))?;
        Ok(fd)
    }
}

/// Clears `ONLCR` (newline to CR-NL on output) on a terminal, as runc's `console.ClearONLCR`.
pub fn clear_onlcr(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut t = rustix::termios::tcgetattr(fd)?;
    t.output_modes.remove(rustix::termios::OutputModes::ONLCR);
    rustix::termios::tcsetattr(fd, OptionalActions::Now, &t)?;
    Ok(())
}

/// The host terminal in raw mode; restored on drop.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        if !rustix::termios::isatty(&stdin) {
            return None;
        }
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// Copies between the caller's stdio and a terminal master, without threads.
pub struct Relay {
    master: OwnedFd,
    stdin_open: bool,
    master_open: bool,
    _raw: Option<RawMode>,
}

impl Relay {
    /// Starts relaying `master`: the host terminal (if stdin is one) goes to raw mode and its
    /// size is copied to the container's terminal.
    pub fn new(master: OwnedFd) -> Relay {
        let relay = Relay {
            master,
            stdin_open: true,
            master_open: true,
            _raw: RawMode::enter(),
        };
        relay.resize();
        relay
    }

    /// Copies the host terminal's window size to the container's (on `SIGWINCH`); nothing when
    /// stdin is not a terminal.
    pub fn resize(&self) {
        if let Ok(ws) = rustix::termios::tcgetwinsize(io::stdin()) {
            let _ = rustix::termios::tcsetwinsize(&self.master, ws);
        }
    }

    /// Whether the container's side of the terminal is still open.
    pub fn is_open(&self) -> bool {
        self.master_open
    }

    /// Waits up to `timeout` for input on stdin or output on the master and copies what is
    /// there. A signal ends the wait early (`EINTR` is not an error).
    pub fn step(&mut self, timeout: Duration) -> io::Result<()> {
        let ts = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let stdin = io::stdin();
        let mut fds = Vec::with_capacity(2);
        if self.master_open {
            fds.push(PollFd::new(&self.master, PollFlags::IN));
        }
        if self.stdin_open && self.master_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        if fds.is_empty() {
            std::thread::sleep(timeout);
            return Ok(());
        }
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<PollFlags> = fds.iter().map(|f| f.revents()).collect();
        drop(fds);
        let mut buf = [0u8; 16384];
        if self.master_open && !ready[0].is_empty() {
            self.copy_out(&mut buf)?;
        }
        if ready.len() > 1 && !ready[1].is_empty() {
            match rustix::io::read(&stdin, &mut buf) {
                Ok(0) => self.stdin_open = false,
                Ok(n) => write_all(self.master.as_fd(), &buf[..n])?,
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(_) => self.stdin_open = false,
            }
        }
        Ok(())
    }

    /// One read from the master to stdout; EOF or `EIO` (every peer closed) closes the relay.
    fn copy_out(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match rustix::io::read(&self.master, &mut *buf) {
            Ok(0) | Err(rustix::io::Errno::IO) => self.master_open = false,
            Ok(n) => write_all(io::stdout().as_fd(), &buf[..n])?,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// After the process exited: copies what is left on the master (until it is closed or
    /// nothing comes for `idle`).
    pub fn drain(&mut self, idle: Duration) {
        self.stdin_open = false;
        let ts = Timespec {
            tv_sec: idle.as_secs() as i64,
            tv_nsec: i64::from(idle.subsec_nanos()),
        };
        let mut buf = [0u8; 16384];
        while self.master_open {
            let mut fds = [PollFd::new(&self.master, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) => break,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
            if self.copy_out(&mut buf).is_err() {
                break;
            }
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                let _ = rustix::event::poll(&mut fds, None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The size (rows, columns) of the terminal on our stdin, if it is one with a size.
pub fn host_size() -> Option<(u16, u16)> {
    let ws = rustix::termios::tcgetwinsize(io::stdin()).ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_refuses_what_is_not_a_socket() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        std::fs::write(&f, "").unwrap();
        let e = connect(&f, "console socket").unwrap_err().message();
        assert!(e.ends_with("file: not a unix socket"), "{e}");
        let e = connect(&d.path().join("missing"), "console socket")
            .unwrap_err()
            .message();
        assert!(
            e.starts_with("console socket ") && e.contains("no such file"),
            "{e}"
        );
    }

    #[test]
    fn connect_reaches_a_listener_and_an_fd_goes_through() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sock");
        let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        let c = connect(&p, "console socket").unwrap();
        let (s, _) = l.accept().unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        lashing_send(&c, w.as_fd());
        drop(w);
        let (name, fd) = recv_fd(s.as_fd()).unwrap();
        assert_eq!(name, "name");
        rustix::io::write(&fd, b"k").unwrap();
        let mut b = [0u8; 1];
        assert_eq!(rustix::io::read(&r, &mut b).unwrap(), 1);
        // EOF without an fd is an error.
        drop(c);
        assert!(recv_fd(s.as_fd()).is_err());
    }

    fn lashing_send(sock: &OwnedFd, fd: BorrowedFd<'_>) {
        let fds = [fd];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
        assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
        rustix::net::sendmsg(
            sock,
            &[io::IoSlice::new(b"name")],
            &mut control,
            rustix::net::SendFlags::empty(),
        )
        .unwrap();
    }

    #[test]
    fn clearing_onlcr_keeps_newlines_as_written() {
        use rustix::pty::OpenptFlags;
        let m = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .unwrap();
        rustix::pty::unlockpt(&m).unwrap();
        let peer =
            rustix::pty::ioctl_tiocgptpeer(&m, OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        let read_back = |text: &[u8]| {
            rustix::io::write(&peer, text).unwrap();
            let mut buf = [0u8; 64];
            let n = rustix::io::read(&m, &mut buf).unwrap();
            buf[..n].to_vec()
        };
        assert_eq!(read_back(b"a\n"), b"a\r\n", "a new pty translates");
        clear_onlcr(m.as_fd()).unwrap();
        assert_eq!(read_back(b"b\n"), b"b\n");
    }

    #[test]
    fn relay_copies_pty_output_until_the_peer_closes() {
        let master = match rustix::pty::openpt(
            rustix::pty::OpenptFlags::RDWR
                | rustix::pty::OpenptFlags::NOCTTY
                | rustix::pty::OpenptFlags::CLOEXEC,
        ) {
            Ok(m) => m,
            Err(e) => {
                lashing_testsupport::missing(&format!("/dev/ptmx: {e} (no pty here)"));
                return;
            }
        };
        rustix::pty::unlockpt(&master).unwrap();
        let peer = rustix::pty::ioctl_tiocgptpeer(
            &master,
            rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY,
        )
        .unwrap();
        let mut relay = Relay::new(master);
        assert!(relay.is_open());
        drop(peer);
        relay.drain(Duration::from_millis(200));
        assert!(!relay.is_open(), "EIO after the last peer closed");
    }
}
