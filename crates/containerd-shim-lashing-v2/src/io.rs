//! A process's standard I/O as containerd gives it: FIFO paths (or `file://` / `binary://` URIs)
//! for stdin, stdout and stderr, or a terminal.
//!
//! Without a terminal the process gets the FIFOs themselves (no copy, no thread): its stdout and
//! stderr are the write ends, so containerd's readers see EOF when the process and whatever
//! inherited them close them. For stdin the shim keeps a read-write handle of the FIFO, so that
//! the process never reads a premature EOF before containerd's writer is there; `CloseIO`
//! drops it, and the process then reads EOF once containerd has closed its end.
//!
//! With a terminal the pty is allocated inside the container (the library's console socket):
//! the shim receives its master and relays stdin to it and it to stdout, one thread each.
//!
//! A `binary://PATH?K=V&...` stdout is a logging binary, as with the runc v2 shim
//! ([`logger`](crate::logger)): started per process, it reads the process's stdout and stderr
//! from pipes on its fds 3 and 4; the process gets the pipes' write ends.

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use rustix::fs::{Mode, OFlags};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketFlags, SocketType,
};

pub use crate::io_error::IoError;

/// The stdio paths of a process, as containerd sent them.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// The stdin FIFO ("" for none).
    pub stdin: String,
    /// The stdout FIFO or URI ("" for none).
    pub stdout: String,
    /// The stderr FIFO or URI ("" for none).
    pub stderr: String,
    /// Whether the process has a terminal.
    pub terminal: bool,
}

/// What the shim keeps of a process's I/O once it is started.
#[derive(Default)]
pub struct Io {
    /// The shim's read-write handle of the stdin FIFO (dropped by `CloseIO`).
    stdin_keep: Mutex<Option<OwnedFd>>,
    /// The terminal's master.
    master: Mutex<Option<std::sync::Arc<OwnedFd>>>,
    /// Until dropped, the stdin relay of a terminal keeps going.
    relay_stop: Mutex<Option<OwnedFd>>,
    /// Our end of the console socket, until the master came through it.
    console: Mutex<Option<OwnedFd>>,
    /// With a terminal and a logging binary: the pipe the terminal's output is relayed to.
    term_out: Mutex<Option<OwnedFd>>,
}

fn open(path: &str, flags: OFlags) -> Result<OwnedFd, IoError> {
    rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::from_raw_mode(0o640)).map_err(|e| {
        IoError::Open {
            path: path.into(),
            source: e.into(),
        }
    })
}

/// An output stream's fd: /dev/null, a file:// file (appended) or the FIFO.
fn output(uri: &str) -> Result<OwnedFd, IoError> {
    if uri.is_empty() {
        return open("/dev/null", OFlags::WRONLY);
    }
    if let Some(path) = uri.strip_prefix("file://") {
        return open(path, OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE);
    }
    // (`binary://` is handled before: a logging binary takes both streams.)
    if uri.contains("://") && !uri.starts_with("fifo://") {
        return Err(IoError::Scheme(uri.into()));
    }
    // Read-write: never blocks on a reader that is not there yet.
    open(uri.trim_start_matches("fifo://"), OFlags::RDWR)
}

impl Io {
    /// Sets up `p`'s stdio from `paths` (before the process is started). `id` and `namespace`
    /// are the process's (the container id, or the exec id) for a logging binary.
    pub fn prepare(
        &self,
        paths: &Paths,
        p: &mut lashing::Process,
        id: &str,
        namespace: &str,
    ) -> Result<(), IoError> {
        let io = self;
        // The logging binary reads both streams; containerd names it as stdout (and stderr).
        let logged = if paths.stdout.starts_with("binary://") {
            Some(crate::logger::start(&paths.stdout, id, namespace)?)
        } else {
            None
        };
        if paths.terminal {
            if let Some((out, _)) = logged {
                *io.term_out.lock().unwrap_or_else(|e| e.into_inner()) = Some(out);
            }
            let (ours, theirs) = rustix::net::socketpair(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::CLOEXEC,
                None,
            )
            .map_err(|e| IoError::Tty {
                what: "socketpair",
                source: e.into(),
            })?;
            p.terminal = true;
            p.console_socket = Some(theirs);
            *io.console.lock().unwrap_or_else(|e| e.into_inner()) = Some(ours);
            return Ok(());
        }
        p.stdin = lashing::Stdio::Fd(if paths.stdin.is_empty() {
            open("/dev/null", OFlags::RDONLY)?
        } else {
            let keep = open(&paths.stdin, OFlags::RDWR)?;
            let fd = open(&paths.stdin, OFlags::RDONLY)?;
            *io.stdin_keep.lock().unwrap_or_else(|e| e.into_inner()) = Some(keep);
            fd
        });
        p.terminal = false;
        let (out, err) = match logged {
            Some(pair) => pair,
            None => (output(&paths.stdout)?, output(&paths.stderr)?),
        };
        p.stdout = lashing::Stdio::Fd(out);
        p.stderr = lashing::Stdio::Fd(err);
        Ok(())
    }

    /// After the process started: takes the terminal's master and starts the relays.
    pub fn started(&self, paths: &Paths, p: &mut lashing::Process) -> Result<(), IoError> {
        // The process has its copies: ours are closed.
        p.stdin = lashing::Stdio::Inherit;
        p.stdout = lashing::Stdio::Inherit;
        p.stderr = lashing::Stdio::Inherit;
        p.console_socket = None;
        let Some(sock) = self
            .console
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return Ok(());
        };
        let master = std::sync::Arc::new(recv_fd(sock.as_fd()).map_err(|e| IoError::Tty {
            what: "receive the master",
            source: e,
        })?);
        *self.master.lock().unwrap_or_else(|e| e.into_inner()) = Some(master.clone());
        let logged = self
            .term_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let out = match logged {
            Some(out) => out,
            None => output(&paths.stdout)?,
        };
        let m = master.clone();
        spawn_relay(move || copy(m.as_fd(), out.as_fd(), None))?;
        if !paths.stdin.is_empty() {
            let input = open(&paths.stdin, OFlags::RDWR)?;
            let (stop_r, stop_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| IoError::Tty {
                    what: "pipe",
                    source: e.into(),
                })?;
            *self.relay_stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop_w);
            spawn_relay(move || copy(input.as_fd(), master.as_fd(), Some(stop_r.as_fd())))?;
        }
        Ok(())
    }

    /// `CloseIO` of stdin: the process reads EOF once containerd's writer is closed too.
    pub fn close_stdin(&self) {
        self.stdin_keep
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.relay_stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// The process ended: the relays stop.
    pub fn exited(&self) {
        self.close_stdin();
        self.master.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// `ResizePty`.
    pub fn resize(&self, width: u32, height: u32) -> Result<(), IoError> {
        let guard = self.master.lock().unwrap_or_else(|e| e.into_inner());
        let Some(m) = guard.as_ref() else {
            return Err(IoError::Tty {
                what: "resize",
                source: std::io::Error::other("the process has no terminal"),
            });
        };
        let ws = rustix::termios::Winsize {
            ws_row: height as u16,
            ws_col: width as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(m.as_fd(), ws).map_err(|e| IoError::Tty {
            what: "resize",
            source: e.into(),
        })
    }
}

fn spawn_relay(f: impl FnOnce() + Send + 'static) -> Result<(), IoError> {
    std::thread::Builder::new()
        .name("relay".into())
        .stack_size(64 * 1024)
        .spawn(f)
        .map(drop)
        .map_err(|e| IoError::Tty {
            what: "start a relay thread",
            source: e,
        })
}

/// Copies `from` to `to` until EOF (EIO for a terminal whose every other end closed), an error,
/// or `stop` hanging up.
fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>, stop: Option<BorrowedFd<'_>>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if let Some(stop) = stop {
            use rustix::event::{PollFd, PollFlags, poll};
            let mut fds = [
                PollFd::new(&from, PollFlags::IN),
                PollFd::new(&stop, PollFlags::IN),
            ];
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            }
            if !fds[1].revents().is_empty() {
                return;
            }
        }
        let n = match rustix::io::read(from, &mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            match rustix::io::write(to, data) {
                Ok(w) => data = &data[w..],
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }
}

/// Receives one fd (the terminal's master) from a connected socket.
fn recv_fd(sock: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    let mut buf = [0u8; 256];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            fds.extend(r);
        }
    }
    fds.pop()
        .ok_or_else(|| std::io::Error::other("no fd received on the console socket"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_null_files_or_fifos_and_other_schemes_are_refused() {
        let d = tempfile::tempdir().unwrap();
        assert!(output("").is_ok());
        let f = d.path().join("log");
        let fd = output(&format!("file://{}", f.display())).unwrap();
        rustix::io::write(&fd, b"x").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"x");
        let e = output("syslog:///dev/log").unwrap_err();
        assert!(matches!(e, IoError::Scheme(_)), "{e}");
        let e = output(d.path().join("nosuch/fifo").to_str().unwrap()).unwrap_err();
        assert!(e.to_string().contains("nosuch/fifo"), "{e}");
    }
}
