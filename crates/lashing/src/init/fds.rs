//! fds in init: the payload's fds moved to their places (no fixed numbers), and the closing of
//! every fd init does not pass on.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use crate::channel::Payload;
use crate::procfs::ProcFs;
use crate::sys::process as sysp;
use crate::sys::process::InitThread;

use super::context::Init;
use super::log;
use super::report::{Fail, R};

impl Init {
    /// Puts stdio at 0-2 and preserved fds at 3.., and keeps the fifo handle, the console socket,
    /// the namespace fds and the protected executable's mount (`O_CLOEXEC`) aside.
    pub(super) fn install_fds(&mut self, p: &Payload, fds: Vec<OwnedFd>) -> R<()> {
        if p.fds.namespaces != p.join_fds.len() {
            return Err(Fail::msg(
                "receive fds",
                None,
                format!(
                    "{} namespace fds announced for {} namespaces",
                    p.fds.namespaces,
                    p.join_fds.len()
                ),
            ));
        }
        let expected = p.fds.stdio.iter().filter(|b| **b).count()
            + usize::from(p.fds.fifo)
            + usize::from(p.fds.console)
            + p.fds.preserved
            + p.fds.namespaces
            + usize::from(p.fds.exe_mount);
        if fds.len() != expected {
            return Err(Fail::msg(
                "receive fds",
                None,
                format!("expected {expected} fds, got {}", fds.len()),
            ));
        }
        // No fixed fd numbers (any RLIMIT_NOFILE with room for a handful of fds works): every
        // fd is moved, one at a time, to the lowest free number above the range of the process's
        // fds (0-2 and the preserved ones); then stdio and the preserved fds go to their numbers.
        let slots = p.fds.preserved + p.fds.preserved_gaps.len();
        if p.fds.preserved_gaps.iter().any(|g| *g >= slots) {
            return Err(Fail::msg(
                "receive fds",
                None,
                format!(
                    "preserved fd gaps {:?} beyond {slots} positions",
                    p.fds.preserved_gaps
                ),
            ));
        }
        let floor = RawFd::try_from(3 + slots)
            .map_err(|_| Fail::msg("receive fds", None, format!("{slots} preserved fds")))?;
        let move_up = |fd: OwnedFd| {
            let moved = sysp::dup_above(fd.as_fd(), floor).map_err(|e| {
                Fail::io(
                    "move fd",
                    Some(format!("{} above {floor}", fd.as_raw_fd())),
                    e,
                )
            });
            drop(fd);
            moved
        };
        let mut moved = Vec::with_capacity(fds.len());
        for fd in fds {
            moved.push(move_up(fd)?);
        }
        let sock = self.sock.take().expect("socket");
        let sock = move_up(sock)?;
        // The log's copy too: where it is now, a dup2 below could replace it.
        log::attach(
            sysp::dup_above(sock.as_fd(), floor)
                .map_err(|e| Fail::io("move fd", Some("init socket".to_string()), e))?,
        );
        self.sock = Some(sock);
        let mut it = moved.into_iter();
        for (i, present) in p.fds.stdio.iter().enumerate() {
            if *present {
                let fd = it.next().expect("counted");
                self.thread
                    .dup_to(fd.as_fd(), i as RawFd)
                    .map_err(|e| Fail::io("install stdio", Some(format!("fd {i}")), e))?;
            }
        }
        if p.fds.fifo {
            self.fifo = it.next();
        }
        if p.fds.console {
            self.console = it.next();
        }
        for i in (0..slots).filter(|i| !p.fds.preserved_gaps.contains(i)) {
            let fd = it.next().expect("counted");
            let target = 3 + i as RawFd;
            self.thread
                .dup_to(fd.as_fd(), target)
                .map_err(|e| Fail::io("install preserved fd", Some(format!("fd {target}")), e))?;
        }
        // A gap stays closed: nothing of init's at its number survives the exec (every fd of
        // init is close-on-exec).
        self.preserved = slots;
        self.ns_fds = p.join_fds.iter().copied().zip(it.by_ref()).collect();
        if p.fds.exe_mount {
            self.exe_mount = it.next();
        }
        Ok(())
    }
}

/// Closes every fd from `first` on but `keep`: `close_range`, or, where the kernel or a seccomp
/// profile refuses it, [`close_fallback`].
pub(super) fn close_from_except(init: &InitThread, first: u32, keep: Option<u32>) {
    let ranges = match keep {
        Some(k) if k >= first => [
            (first, k.checked_sub(1)),
            (k.saturating_add(1), Some(u32::MAX)),
        ],
        _ => [(first, Some(u32::MAX)), (1, None)],
    };
    let done = ranges.iter().all(|&(lo, hi)| match hi {
        Some(hi) => lo > hi || init.close_range(lo, hi).is_ok(),
        None => true,
    });
    if !done {
        close_fallback(init, first, keep, ProcFs::open().ok().as_ref());
    }
}

/// Closes every fd from `first` on but `keep` one by one: those listed in `self/fd` of a
/// verified procfs (runc's CloseExecFrom), or, without one, every number below the hard
/// `RLIMIT_NOFILE` (an fd above it can only come from a limit lowered after it was opened).
pub(super) fn close_fallback(
    init: &InitThread,
    first: u32,
    keep: Option<u32>,
    procfs: Option<&ProcFs>,
) {
    let close = |fd: u32| {
        if Some(fd) != keep && fd >= first {
            init.close_fd(fd as RawFd);
        }
    };
    if let Some(fds) = procfs.and_then(|p| p.self_fds().ok()) {
        fds.into_iter().for_each(close);
        return;
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(1 << 20)
        .min(1 << 20) as u32;
    (first..limit).for_each(close);
}

/// runc's `reOpenDevNull`, once inside the container's root: a stdio fd that is a `/dev/null`
/// (by device number: the caller's, e.g. conmon's, on the host's `/dev`) is replaced by the
/// container's own `/dev/null`, so that no file of a host mount stays open in the container
/// (CRIU cannot dump a file whose mount is not in the container: podman's checkpoint).
pub(super) fn reopen_dev_null(thread: &InitThread) -> R<()> {
    use rustix::fs::{FileType, Mode, OFlags};
    let null_dev = rustix::fs::makedev(1, 3);
    let is_null = |n: i32| {
        let st = match n {
            0 => rustix::fs::fstat(std::io::stdin().as_fd()),
            1 => rustix::fs::fstat(std::io::stdout().as_fd()),
            _ => rustix::fs::fstat(std::io::stderr().as_fd()),
        };
        // A closed position stays closed.
        st.is_ok_and(|st| {
            FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
                && st.st_rdev == null_dev
        })
    };
    let nulls: Vec<i32> = (0..3).filter(|&n| is_null(n)).collect();
    if nulls.is_empty() {
        return Ok(());
    }
    let null = match rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
        Ok(f) => f,
        // A container without /dev (a library user's config without devices): left as it is.
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => {
            return Err(Fail::io(
                "reopen /dev/null inside the container",
                "/dev/null".to_string(),
                e,
            ));
        }
    };
    for n in nulls {
        thread
            .dup_to(null.as_fd(), n as RawFd)
            .map_err(|e| Fail::io("reopen /dev/null as stdio", format!("fd {n}"), e))?;
    }
    Ok(())
}
