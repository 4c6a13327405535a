//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`). Thin wrappers: the code
//! under test is the binary's own.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::OnceLock;

use crate::cli::Cli;
use crate::notify_socket::NotifySocket;

/// Parses a command line (without the program name) as `lashing` does; `Err` holds clap's
/// rendered message (what the user would see).
pub fn parse_args(args: &[OsString]) -> Result<(), String> {
    let argv = std::iter::once(OsString::from("lashing")).chain(args.iter().cloned());
    match Cli::parse_from(argv) {
        Ok(cli) => {
            // What main does next with a parsed line that needs no system: the version text.
            if cli.version {
                let _ = crate::cli::version_text();
            }
            Ok(())
        }
        Err(e) => Err(e.render().to_string()),
    }
}

/// A notify socket bound once in a private directory, and a client connected to it.
struct Notify {
    _dir: std::path::PathBuf,
    server: NotifySocket,
    client: std::os::fd::OwnedFd,
}

fn notify() -> &'static Notify {
    static N: OnceLock<Notify> = OnceLock::new();
    N.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lashing-fuzz-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("notify state dir");
        let sockdir = crate::notify_socket::create_dir(&dir).expect("notify dir");
        let server = NotifySocket::bind(&dir, "/nonexistent/host.sock".into())
            .expect("bind")
            .expect("dir exists");
        let client = rustix::net::socket_with(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::DGRAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .expect("socket");
        let addr = rustix::net::SocketAddrUnix::new(sockdir.join("notify.sock")).expect("addr");
        rustix::net::connect(&client, &addr).expect("connect");
        Notify {
            _dir: dir,
            server,
            client,
        }
    })
}

/// Sends `datagrams` from a container's side of `NOTIFY_SOCKET` and reads them as `run`/`start`
/// do: the first `READY=` line found, if any.
pub fn notify_datagrams(datagrams: &[&[u8]]) -> Option<String> {
    let n = notify();
    use rustix::net::SendFlags;
    for d in datagrams {
        let _ = rustix::net::send(&n.client, d, SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
    }
    let ready = n.server.try_read_ready();
    // What a READY= line left queued must not reach the next input.
    while n.server.try_read_ready().is_some() {}
    ready
}

/// Sends `data` with `fds` on a `--console-socket` connection and receives it as the CLI's
/// receiver does: the name and the single fd, or the error.
pub fn console_message(data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<String, String> {
    use rustix::net::{
        AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags,
        SocketType, sendmsg, socketpair,
    };
    use std::mem::MaybeUninit;
    let (a, b) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| e.to_string())?;
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len().max(1)))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err("cannot pack file descriptors".into());
    }
    // An empty message with no fds would send nothing: the receiver sees EOF.
    let _ = sendmsg(
        &a,
        &[std::io::IoSlice::new(data)],
        &mut control,
        SendFlags::NOSIGNAL,
    );
    drop(a);
    crate::tty::recv_fd(b.as_fd())
        .map(|(name, _fd)| name)
        .map_err(|e| e.to_string())
}
