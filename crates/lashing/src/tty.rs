//! Terminals of container processes and the fd-passing sockets of the caller.
//!
//! - [`alloc_pty`]: allocates a pseudo-terminal *inside* the container, from its own devpts
//!   (`/dev/pts/ptmx`), checked to be the real thing (devpts magic, inode 2, rdev 5:2), with the
//!   peer taken by `TIOCGPTPEER` instead of a path (CVE-2025-52565: a path `/dev/pts/N` can be
//!   swapped for a symlink).
//! - [`mount_console`]: bind-mounts the peer onto `/dev/console` through fds.
//! - [`install_console`]: makes the peer stdin/stdout/stderr and the controlling terminal.
//! - [`send_fd`]: passes an fd over a unix socket (`SCM_RIGHTS`) with a name as payload, as runc's
//!   console socket (`/dev/pts/ptmx` + the master) and pidfd socket (`standard`/`setns` + a pidfd).

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{MoveMountFlags, OpenTreeFlags};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
use rustix::pty::OpenptFlags;

use crate::procfs::{ProcFs, ProcPolicy};

/// The path of the pty multiplexer of the container's devpts instance.
pub(crate) const PTMX: &str = "/dev/pts/ptmx";
/// The payload sent with the master on the console socket (the master's name, as runc).
pub(crate) const CONSOLE_NAME: &str = PTMX;
/// `DEVPTS_SUPER_MAGIC` from `linux/magic.h`.
const DEVPTS_SUPER_MAGIC: u64 = 0x1cd1;
/// The ptmx of a devpts instance is always inode 2.
const PTMX_INO: u64 = 2;
/// The ptmx device numbers, 5:2.
const PTMX_RDEV: (u32, u32) = (5, 2);

/// A failure to set up a terminal or to pass an fd: which step, on which path, and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{step}{}", path.as_deref().map(|p| format!(" {p}")).unwrap_or_default())]
pub(crate) struct TtyError {
    /// What was being done.
    pub step: &'static str,
    /// The path concerned, if any.
    pub path: Option<String>,
    /// The cause.
    #[source]
    pub source: io::Error,
}

impl TtyError {
    fn new(step: &'static str, path: Option<&str>, source: impl Into<io::Error>) -> TtyError {
        TtyError {
            step,
            path: path.map(str::to_string),
            source: source.into(),
        }
    }
}

/// A pseudo-terminal: the master (for the caller) and the peer (for the process).
#[derive(Debug)]
pub(crate) struct Pty {
    /// The master end, sent to the console socket.
    pub master: OwnedFd,
    /// The terminal the process uses.
    pub peer: OwnedFd,
}

/// Why a handle is not the ptmx of a devpts instance, if it is not.
fn check_ptmx(fd: BorrowedFd<'_>) -> Result<(u64, u64), String> {
    let sfs = rustix::fs::fstatfs(fd).map_err(|e| format!("fstatfs: {e}"))?;
    if sfs.f_type as u64 != DEVPTS_SUPER_MAGIC {
        return Err(format!(
            "not on a devpts file system (magic {:#x})",
            sfs.f_type
        ));
    }
    let st = rustix::fs::fstat(fd).map_err(|e| format!("fstat: {e}"))?;
    let rdev = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::CharacterDevice
        || st.st_ino != PTMX_INO
        || rdev != PTMX_RDEV
    {
        return Err(format!(
            "inode {} device {}:{} (want inode 2, character device 5:2)",
            st.st_ino, rdev.0, rdev.1
        ));
    }
    Ok((st.st_dev, st.st_ino))
}

/// Allocates a pty from `/dev/pts/ptmx` of the current root and mount namespace: opened
/// `O_PATH` without following symlinks, checked, reopened read-write (`O_NOCTTY`) through
/// `self/fd` of a verified procfs and checked again; the peer comes from `TIOCGPTPEER`. `size` is
/// `(height, width)`.
pub(crate) fn alloc_pty(size: Option<(u16, u16)>) -> Result<Pty, TtyError> {
    let how = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let handle = rustix::fs::openat2(
        rustix::fs::CWD,
        PTMX,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        how,
    )
    .map_err(|e| TtyError::new("open", Some(PTMX), e))?;
    let want = check_ptmx(handle.as_fd())
        .map_err(|m| TtyError::new("check", Some(PTMX), io::Error::other(m)))?;
    // Reopened through `self/fd` of a verified procfs (a private one, or the container's
    // `/proc` checked to be a procfs root): never whatever is mounted at `/proc`.
    let master = ProcFs::open_with(ProcPolicy::PrivateOrContainer)
        .and_then(|p| p.reopen(handle.as_fd(), OFlags::RDWR | OFlags::NOCTTY))
        .map_err(|e| TtyError::new("reopen", Some(PTMX), e.into_io()))?;
    drop(handle);
    let got = check_ptmx(master.as_fd())
        .map_err(|m| TtyError::new("check", Some(PTMX), io::Error::other(m)))?;
    if got != want {
        return Err(TtyError::new(
            "check",
            Some(PTMX),
            io::Error::other("the reopened handle is another file"),
        ));
    }
    rustix::pty::unlockpt(&master).map_err(|e| TtyError::new("unlockpt", Some(PTMX), e))?;
    let peer = rustix::pty::ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )
    .map_err(|e| TtyError::new("ioctl(TIOCGPTPEER)", Some(PTMX), e))?;
    if let Some((height, width)) = size {
        resize(master.as_fd(), height, width)
            .map_err(|e| TtyError::new("set console size", Some(PTMX), e))?;
    }
    Ok(Pty { master, peer })
}

/// Sets the window size of a terminal.
pub(crate) fn resize(fd: BorrowedFd<'_>, height: u16, width: u16) -> io::Result<()> {
    rustix::termios::tcsetwinsize(
        fd,
        rustix::termios::Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok(())
}

/// Bind-mounts the pty peer onto `/dev/console` (created as an empty file when missing), through
/// fds: a detached clone of the peer's mount (`open_tree`) moved onto an `O_PATH` handle of the
/// target opened without following any symlink.
pub(crate) fn mount_console(peer: BorrowedFd<'_>) -> Result<(), TtyError> {
    const CONSOLE: &str = "/dev/console";
    let how = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let target = match rustix::fs::openat2(
        rustix::fs::CWD,
        CONSOLE,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        how,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => {
            let created = rustix::fs::openat2(
                rustix::fs::CWD,
                CONSOLE,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o666),
                how,
            )
            .map_err(|e| TtyError::new("create", Some(CONSOLE), e))?;
            drop(created);
            rustix::fs::openat2(
                rustix::fs::CWD,
                CONSOLE,
                OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::empty(),
                how,
            )
            .map_err(|e| TtyError::new("open", Some(CONSOLE), e))?
        }
        Err(e) => return Err(TtyError::new("open", Some(CONSOLE), e)),
    };
    let st = rustix::fs::fstat(&target).map_err(|e| TtyError::new("stat", Some(CONSOLE), e))?;
    let ft = rustix::fs::FileType::from_raw_mode(st.st_mode);
    if !matches!(
        ft,
        rustix::fs::FileType::RegularFile | rustix::fs::FileType::CharacterDevice
    ) {
        return Err(TtyError::new(
            "check",
            Some(CONSOLE),
            io::Error::other(format!("is a {ft:?}, not a file or a device")),
        ));
    }
    let tree = rustix::mount::open_tree(
        peer,
        "",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| TtyError::new("open_tree of the console", Some(CONSOLE), e))?;
    rustix::mount::move_mount(
        &tree,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| TtyError::new("bind-mount the console onto", Some(CONSOLE), e))?;
    Ok(())
}

/// Makes `peer` the process's terminal: owned by `uid` (its group is kept, as runc), installed
/// at 0, 1 and 2, and the controlling terminal of the session (the caller must be a session
/// leader without one: init calls `setsid` first).
pub(crate) fn install_console(
    init: &crate::sys::process::InitThread,
    peer: OwnedFd,
    uid: u32,
) -> Result<(), TtyError> {
    let owner = rustix::process::Uid::from_raw(uid);
    rustix::fs::fchown(&peer, Some(owner), None)
        .map_err(|e| TtyError::new("chown the console to", Some(&format!("uid {uid}")), e))?;
    for target in 0..3 {
        init.dup_to(peer.as_fd(), target).map_err(|e| {
            TtyError::new("install the console at", Some(&format!("fd {target}")), e)
        })?;
    }
    drop(peer);
    // fd 0 is the peer now.
    let stdin = std::io::stdin();
    rustix::process::ioctl_tiocsctty(stdin.as_fd())
        .map_err(|e| TtyError::new("ioctl(TIOCSCTTY)", None, e))?;
    Ok(())
}

/// The whole console setup of a process with a terminal, in the container (after the root is
/// set up, or after joining the namespaces for `exec`): allocates the pty, bind-mounts the peer
/// onto `/dev/console` when `mount` (a new container only), sends the master to `socket`
/// (then closed) and installs the peer as the process's terminal.
pub(crate) fn setup_console(
    init: &crate::sys::process::InitThread,
    socket: OwnedFd,
    size: Option<(u16, u16)>,
    uid: u32,
    mount: bool,
) -> Result<(), TtyError> {
    let pty = alloc_pty(size)?;
    if mount {
        mount_console(pty.peer.as_fd())?;
    }
    send_fd(socket.as_fd(), CONSOLE_NAME, pty.master.as_fd())
        .map_err(|e| TtyError::new("send the terminal master to", Some("the console socket"), e))?;
    drop(socket);
    drop(pty.master);
    install_console(init, pty.peer, uid)
}

/// Sends `fd` over the connected unix socket `sock` with `name` as the payload (`SCM_RIGHTS`).
pub(crate) fn send_fd(sock: BorrowedFd<'_>, name: &str, fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("cannot pack the file descriptor"));
    }
    let data = name.as_bytes();
    loop {
        match sendmsg(
            sock,
            &[IoSlice::new(data)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(n) if n == data.len() => return Ok(()),
            Ok(_) => return Err(io::Error::other("short write on the socket")),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{
        AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketFlags,
        SocketType, recvmsg, socketpair,
    };

    #[test]
    fn send_fd_carries_name_and_fd() {
        let (a, b) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        send_fd(a.as_fd(), "standard", w.as_fd()).unwrap();
        drop(w);
        let mut buf = [0u8; 64];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            &b,
            &mut [std::io::IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .unwrap();
        assert_eq!(&buf[..got.bytes], b"standard");
        let mut fds = Vec::new();
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(r) = m {
                fds.extend(r);
            }
        }
        assert_eq!(fds.len(), 1);
        rustix::io::write(&fds[0], b"x").unwrap();
        let mut one = [0u8; 1];
        assert_eq!(rustix::io::read(&r, &mut one).unwrap(), 1);
        assert_eq!(&one, b"x");
    }

    #[test]
    fn host_ptmx_passes_the_check_and_other_files_do_not() {
        // The host's /dev/pts/ptmx is a devpts ptmx (when /dev/pts is mounted).
        match rustix::fs::open(PTMX, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => assert!(check_ptmx(fd.as_fd()).is_ok()),
            Err(e) => lashing_testsupport::missing(&format!("{PTMX}: {e} (no devpts here)")),
        }
        let f =
            rustix::fs::open("/dev/null", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap();
        let e = check_ptmx(f.as_fd()).unwrap_err();
        assert!(e.contains("devpts"), "{e}");
    }

    #[test]
    fn pty_from_the_host_devpts_resizes() {
        let pty = match alloc_pty(Some((33, 101))) {
            Ok(pty) => pty,
            // No devpts here: nothing to test, but CI machines have one (CI=true or 1: fail).
            Err(e) if !matches!(std::env::var("CI").as_deref(), Ok("true" | "TRUE" | "1")) => {
                eprintln!("skipped: no pty from the host devpts: {e}");
                return;
            }
            Err(e) => panic!("no pty from the host devpts: {e}"),
        };
        let ws = rustix::termios::tcgetwinsize(&pty.peer).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (33, 101));
        rustix::io::write(&pty.master, b"hi\n").unwrap();
        let mut buf = [0u8; 8];
        let n = rustix::io::read(&pty.peer, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi\n");
    }
}
