//! `recvtty`: a console-socket receiver for tests (like runc's `tests/cmd/recvtty`).
//!
//! ```text
//! recvtty [--mode single|null] [--pid-file FILE] [--no-stdin] SOCKET-PATH
//! ```
//!
//! Listens on the unix socket `SOCKET-PATH` and receives terminal masters sent with
//! `SCM_RIGHTS` (what `lashing create --console-socket` sends).
//! - `single` (default): accepts one connection, then copies the terminal's output to stdout and
//!   stdin to the terminal until the container side is closed.
//! - `null`: accepts connections forever and discards the output of every terminal (keeps
//!   containers from blocking on a full terminal).
//!
//! The pid file is written once the socket listens. No threads: one `poll` loop.

use std::io::{self, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::ExitCode;

use rustix::event::{PollFd, PollFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

const USAGE: &str =
    "usage: recvtty [--mode single|null] [--pid-file FILE] [--no-stdin] SOCKET-PATH";

/// The options.
#[derive(Debug, PartialEq, Eq)]
struct Opts {
    null: bool,
    pid_file: Option<String>,
    stdin: bool,
    path: String,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        null: false,
        pid_file: None,
        stdin: true,
        path: String::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--mode" | "-m" => match it.next().map(String::as_str) {
                Some("single") => o.null = false,
                Some("null") => o.null = true,
                other => return Err(format!("unknown mode {other:?}")),
            },
            "--pid-file" => o.pid_file = Some(it.next().ok_or("--pid-file needs a value")?.clone()),
            "--no-stdin" => o.stdin = false,
            p if !p.starts_with('-') && o.path.is_empty() => o.path = p.to_string(),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if o.path.is_empty() {
        return Err("missing SOCKET-PATH".into());
    }
    Ok(o)
}

/// Receives one fd and its name from a connected socket.
fn recv_master(sock: BorrowedFd<'_>) -> io::Result<(String, OwnedFd)> {
    let mut buf = [0u8; 1024];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
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
    let name = String::from_utf8_lossy(&buf[..got.bytes]).into_owned();
    match fds.pop() {
        Some(fd) if fds.is_empty() => Ok((name, fd)),
        Some(_) => Err(io::Error::other("more than one fd received")),
        None => Err(io::Error::other("no fd received")),
    }
}

fn accept_master(l: &UnixListener) -> io::Result<OwnedFd> {
    let (conn, _) = l.accept()?;
    recv_master(conn.as_fd()).map(|(_, fd)| fd)
}

/// Reads once from `fd`; `None` at the end (EOF or EIO: every peer of a terminal closed).
fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        return match rustix::io::read(fd, &mut *buf) {
            Ok(0) | Err(rustix::io::Errno::IO) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => Err(e.into()),
        };
    }
}

/// `single`: relays one terminal with stdin/stdout until it is closed.
fn single(master: OwnedFd, use_stdin: bool) -> io::Result<()> {
    let stdin = io::stdin();
    let mut stdin_open = use_stdin;
    let mut buf = [0u8; 16384];
    let mut out = io::stdout();
    loop {
        let mut fds = vec![PollFd::new(&master, PollFlags::IN)];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<PollFlags> = fds.iter().map(|f| f.revents()).collect();
        drop(fds);
        if !ready[0].is_empty() {
            match read_some(master.as_fd(), &mut buf)? {
                Some(n) => {
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
                None => return Ok(()),
            }
        }
        if ready.len() > 1 && !ready[1].is_empty() {
            match read_some(stdin.as_fd(), &mut buf)? {
                Some(n) => rustix::io::write(&master, &buf[..n]).map(drop)?,
                None => stdin_open = false,
            }
        }
    }
}

/// `null`: accepts terminals forever and discards their output.
fn null(l: &UnixListener) -> io::Result<()> {
    let mut masters: Vec<OwnedFd> = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let mut fds = vec![PollFd::new(l, PollFlags::IN)];
        fds.extend(masters.iter().map(|m| PollFd::new(m, PollFlags::IN)));
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<PollFlags> = fds.iter().map(|f| f.revents()).collect();
        drop(fds);
        let mut closed = Vec::new();
        for (i, r) in ready.iter().enumerate().skip(1) {
            if !r.is_empty() && read_some(masters[i - 1].as_fd(), &mut buf)?.is_none() {
                closed.push(i - 1);
            }
        }
        for i in closed.into_iter().rev() {
            masters.remove(i);
        }
        if !ready[0].is_empty() {
            match accept_master(l) {
                Ok(m) => masters.push(m),
                Err(e) => eprintln!("recvtty: {e}"),
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("recvtty: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let l = match UnixListener::bind(&opts.path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("recvtty: listen on {}: {e}", opts.path);
            return ExitCode::FAILURE;
        }
    };
    if let Some(p) = &opts.pid_file
        && let Err(e) = std::fs::write(p, std::process::id().to_string())
    {
        eprintln!("recvtty: write pid file {p}: {e}");
        return ExitCode::FAILURE;
    }
    let res = if opts.null {
        null(&l)
    } else {
        accept_master(&l).and_then(|m| single(m, opts.stdin))
    };
    let _ = std::fs::remove_file(&opts.path);
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("recvtty: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse(&s(&["--mode", "null", "--pid-file", "/p", "/sock"])).unwrap();
        assert_eq!(
            o,
            Opts {
                null: true,
                pid_file: Some("/p".into()),
                stdin: true,
                path: "/sock".into()
            }
        );
        assert!(!parse(&s(&["/sock"])).unwrap().null);
        assert!(!parse(&s(&["--no-stdin", "/sock"])).unwrap().stdin);
        assert!(parse(&s(&["--mode", "double", "/sock"])).is_err());
        assert!(parse(&s(&[])).is_err());
        assert!(parse(&s(&["/a", "/b"])).is_err());
    }

    #[test]
    fn receives_a_master_and_relays_until_the_peer_closes() {
        use rustix::pty::OpenptFlags;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sock");
        let l = UnixListener::bind(&path).unwrap();
        let master = match rustix::pty::openpt(
            OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
        ) {
            Ok(m) => m,
            Err(e) => {
                lashing_testsupport::missing(&format!("/dev/ptmx: {e} (no pty here)"));
                return;
            }
        };
        rustix::pty::unlockpt(&master).unwrap();
        let peer = rustix::pty::ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY)
            .unwrap();
        let c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let fds = [master.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
        assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
        rustix::net::sendmsg(
            &c,
            &[io::IoSlice::new(b"/dev/pts/ptmx")],
            &mut control,
            rustix::net::SendFlags::empty(),
        )
        .unwrap();
        let (conn, _) = l.accept().unwrap();
        let (name, got) = recv_master(conn.as_fd()).unwrap();
        assert_eq!(name, "/dev/pts/ptmx");
        drop(master);
        rustix::io::write(&peer, b"x").unwrap();
        let mut b = [0u8; 4];
        assert_eq!(read_some(got.as_fd(), &mut b).unwrap(), Some(1));
        drop(peer);
        assert_eq!(
            read_some(got.as_fd(), &mut b).unwrap(),
            None,
            "EIO once the peer is closed"
        );
        // single() ends at once on a closed terminal.
        single(got, false).unwrap();
    }
}
