//! Process-level system calls that rustix does not wrap (`clone3` with the init bootstrap and its
//! `execveat` are in [`super::clone`]): `clone(CLONE_PARENT)`, `execve`, `close_range`, `setns`/`unshare`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::clone::raw_clone;

/// Result of [`fork_parent`].
pub(crate) enum Fork {
    /// We are the new process.
    Child,
    /// We are the caller; the new process has this pid (as seen from the caller's pid namespace).
    Parent(i32),
}

/// Forks a sibling of the calling process (`clone(CLONE_PARENT)`): the new process is a child of
/// the caller's parent, which can then wait for it. Used by init when it must enter a pid or
/// time namespace. Safe callers go through [`InitThread::fork_parent`].
///
/// # Safety
/// The calling process must be single-threaded: the child is a copy of the calling thread
/// only, so a lock another thread held (the allocator's, say) would stay locked in it forever.
pub(crate) unsafe fn fork_parent() -> io::Result<Fork> {
    let mut unused: RawFd = -1;
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack) from a single-threaded process (the
    // caller's contract): the child continues with a private copy of the whole process.
    let ret = unsafe { raw_clone((libc::CLONE_PARENT | libc::SIGCHLD) as u64, &mut unused) };
    match ret {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid as i32)),
    }
}

/// `setns(fd, nstype)`.
pub(crate) fn setns(fd: BorrowedFd<'_>, nstype: u64) -> io::Result<()> {
    // SAFETY: setns with a valid borrowed fd and a flag value.
    let r = unsafe { libc::setns(fd.as_raw_fd(), nstype as libc::c_int) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `unshare(flags)`. The caller must be single-threaded when `CLONE_NEWUSER` is among the flags.
pub(crate) fn unshare(flags: u64) -> io::Result<()> {
    // SAFETY: unshare takes a flag value only.
    let r = unsafe { libc::unshare(flags as libc::c_int) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Closes every fd in `first..=last`. Safe callers go through [`InitThread::close_range`].
///
/// # Safety
/// No live [`OwnedFd`] (or other owner) of an fd in the range may be used or dropped afterwards:
/// its number may be reused by then, and its drop would close someone else's fd.
pub(crate) unsafe fn close_range(first: u32, last: u32) -> io::Result<()> {
    if first > last {
        return Ok(());
    }
    // SAFETY: close_range only closes descriptors of this process; the caller's contract says
    // nothing uses them afterwards.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Moves `fd` onto `target` (dup3 without `O_CLOEXEC`), so that it survives the next exec. Safe
/// callers go through [`InitThread::dup_to`].
///
/// # Safety
/// `fd` must be open for the duration of the call, and no live [`OwnedFd`] (or other owner) of
/// `target` may be used or dropped afterwards: `target` is replaced (closed first).
pub(crate) unsafe fn dup_to(fd: RawFd, target: RawFd) -> io::Result<()> {
    if fd == target {
        // SAFETY: fcntl on a descriptor of this process.
        let r = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        return if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        };
    }
    // SAFETY: dup2 of a descriptor of this process; `target` is replaced on purpose.
    let r = unsafe { libc::dup2(fd, target) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Duplicates `fd` to a new descriptor >= `min`, with `O_CLOEXEC`.
pub(crate) fn dup_above(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor owned by nobody else.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `r` is a fresh descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Takes ownership of an inherited descriptor number (init's socket, passed by number in the
/// environment). Fails unless `fd` is open. Safe callers go through [`InitThread::claim`] and
/// [`InitThread::close_fd`].
///
/// # Safety
/// Nothing else in the process may own `fd` (no live [`OwnedFd`], `File`, ...): the returned
/// `OwnedFd` closes it when dropped.
pub(crate) unsafe fn adopt_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only queries the descriptor.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open and, by the caller's contract, owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)?;
    Ok(owned)
}

/// The proof that the caller is `lashing init`'s only thread, in charge of the process's whole fd
/// table: the safe face of [`fork_parent`], [`close_range`], [`dup_to`] and [`adopt_fd`].
///
/// There is at most one per process ([`InitThread::claim`] succeeds once) and it cannot leave its
/// thread (`!Send`, `!Sync`). It is claimed first thing in `lashing init`, a process the runtime
/// has just `execveat`ed (so single-threaded, and owning nothing but its inherited fds); init
/// starts no thread (an invariant of ARCHITECTURE.md), so the process stays single-threaded
/// while the token lives. Its holder manages fd numbers as a whole: an fd it closes or replaces
/// through it is one no code of init holds as its own at that moment (the inherited ones at
/// entry, the numbers below the range it moved its own fds above, and at `execve` everything
/// the exec does not keep).
pub(crate) struct InitThread {
    _single_thread: std::marker::PhantomData<*const ()>,
}

/// Whether an [`InitThread`] was claimed in this process.
static INIT_CLAIMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl InitThread {
    /// Claims the process as `lashing init` and adopts `sock`, the init socket inherited by
    /// number: `None` after the first call.
    pub(crate) fn claim(sock: RawFd) -> Option<io::Result<(InitThread, OwnedFd)>> {
        if INIT_CLAIMED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        // SAFETY: the first claim in a process that was just exec'd as init: nothing owns the
        // inherited `sock` yet (the caller of `lashing::init` runs it first thing in `main`).
        let sock = match unsafe { adopt_fd(sock) } {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok((
            InitThread {
                _single_thread: std::marker::PhantomData,
            },
            sock,
        )))
    }

    /// A token for a unit test that runs in a child process of its own (`run_in_child`).
    #[cfg(test)]
    pub(crate) fn for_test_child() -> InitThread {
        InitThread {
            _single_thread: std::marker::PhantomData,
        }
    }

    /// [`fork_parent`] of the single-threaded init.
    pub(crate) fn fork_parent(&self) -> io::Result<Fork> {
        // SAFETY: the holder of an InitThread is the process's only thread (type invariant).
        unsafe { fork_parent() }
    }

    /// [`close_range`] of fds init's code does not hold (type invariant).
    pub(crate) fn close_range(&self, first: u32, last: u32) -> io::Result<()> {
        // SAFETY: the holder closes only numbers nothing of its own holds (type invariant).
        unsafe { close_range(first, last) }
    }

    /// Closes one fd init's code does not hold (an inherited one); a closed number is fine.
    pub(crate) fn close_fd(&self, fd: RawFd) {
        // SAFETY: as `close_range`: nothing of init's owns `fd`, so the OwnedFd is the only one.
        drop(unsafe { adopt_fd(fd) });
    }

    /// [`dup_to`] onto a number init's code does not hold (type invariant).
    pub(crate) fn dup_to(&self, fd: BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
        // SAFETY: `fd` is borrowed, so open; `target` is owned by nothing of init's.
        unsafe { dup_to(fd.as_raw_fd(), target) }
    }
}

/// Whether `fd` is an open descriptor of this process (`F_GETFD`), for tests.
#[cfg(test)]
pub(crate) fn adopt_fd_check(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// `execve(path, argv, envp)`: only returns on failure.
pub(crate) fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: path, argv and envp are valid NUL-terminated C strings in NUL-terminated arrays that
    // live until the call returns (it only returns on failure).
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

/// `setgroups(2)` for the whole (single-threaded) process. Not rustix's `set_thread_groups`: its
/// `Gid` cannot hold `u32::MAX` (it asserts), a value a config may carry and the kernel judges.
pub(crate) fn setgroups(gids: &[u32]) -> io::Result<()> {
    // SAFETY: raw setgroups with a valid slice; init is single-threaded so the thread-scoped raw call
    // is process-wide.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Raw `setresgid(gid, gid, gid)` then `setresuid(uid, uid, uid)` of the (single-threaded)
/// caller. Not rustix's `set_thread_res_uid`/`_gid`: its `Uid`/`Gid` cannot hold `u32::MAX`
/// (they assert), which the kernel reads as "unchanged" and a config may carry.
pub(crate) fn set_ids(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: raw id system calls with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let r = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sends `sig` to `pid` through a pidfd opened first; `still_ours` (a check of the pid's start
/// time) runs between the open and the signal, so that a pid reused in between is never
/// signalled: a `false` is `ESRCH`.
pub(crate) fn kill_pid(pid: i32, sig: i32, still_ours: impl FnOnce() -> bool) -> io::Result<()> {
    let esrch = || io::Error::from_raw_os_error(libc::ESRCH);
    let p = rustix::process::Pid::from_raw(pid).ok_or_else(esrch)?;
    let fd = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())?;
    if !still_ours() {
        return Err(esrch());
    }
    pidfd_signal(std::os::fd::AsFd::as_fd(&fd), sig)
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`: works for every signal number, real-time ones too.
pub(crate) fn pidfd_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a valid fd, a signal number, no siginfo and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Drops a capability from the bounding set (`PR_CAPBSET_DROP`). Not rustix's
/// `remove_capability_from_bounding_set`: its `Capability` is a closed enum, and init handles
/// capability numbers the kernel knows but rustix may not (up to the kernel's last one).
pub(crate) fn capbset_drop(cap: u32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether a capability is in the bounding set (`PR_CAPBSET_READ`); `EINVAL` past the last
/// capability the kernel knows (how init finds that number: rustix's closed `Capability` enum
/// cannot probe past the capabilities it names).
pub(crate) fn capbset_read(cap: u32) -> io::Result<bool> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r == 1)
    }
}

/// Raises a capability in the ambient set (`PR_CAP_AMBIENT_RAISE`), by number (rustix's
/// `configure_capability_in_ambient_set` takes its closed `Capability` enum).
pub(crate) fn ambient_raise(cap: u32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            cap as libc::c_ulong,
            0,
            0,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `setsid()`.
pub(crate) fn setsid() -> io::Result<()> {
    rustix::process::setsid().map(drop).map_err(Into::into)
}

/// `_exit(code)`.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is always safe to call.
    unsafe { libc::_exit(code) }
}

/// Resets every signal disposition to the default and unblocks all signals, so that the user
/// process does not inherit the runtime's (Rust ignores `SIGPIPE`, for one).
/// Straight to the kernel (`rt_sigaction`), as the C library refuses the signals it keeps for
/// itself (32-34), whose ignored disposition would otherwise pass to the container.
pub(crate) fn reset_signals() -> io::Result<()> {
    // The kernel's `struct sigaction`: handler SIG_DFL (0), no flags, no restorer, empty mask.
    let dfl = [0usize; 4];
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `dfl` is a kernel sigaction (4 words: handler, flags, restorer, an 8-byte mask)
        // installing SIG_DFL, which needs no restorer; the old action is not read.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<usize>(),
                8usize,
            )
        };
    }
    // SAFETY: an all-empty signal set built by sigemptyset, then SIG_SETMASK with it.
    let r = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut())
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Undoes [`set_waiting_signal_handlers`] (the default disposition of
/// [`WAITING_EXIT_SIGNALS`]) and unblocks every signal: what [`reset_signals`] would do to a
/// process that reset its signals and then installed only those handlers, without a system call
/// for each of the other signals.
pub(crate) fn reset_waiting_signal_handlers() -> io::Result<()> {
    for sig in WAITING_EXIT_SIGNALS {
        // SAFETY: installing SIG_DFL for a valid signal number.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an all-empty signal set built by sigemptyset, then SIG_SETMASK with it.
    let r = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut())
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The signals whose default action in a Go program (runc's init) is to exit: a created
/// container's init waiting on the exec fifo ends on them, as runc's does, rather than ignore
/// them as a pid namespace's init ignores signals it has no handler for.
pub(crate) const WAITING_EXIT_SIGNALS: [i32; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGQUIT,
    libc::SIGABRT,
    libc::SIGSTKFLT,
    libc::SIGSYS,
];

/// The handler of [`set_waiting_signal_handlers`]: dies of the signal where the kernel allows it
/// (not a namespace's init), else exits with status 2, as Go's runtime does.
extern "C" fn die_from_signal(sig: libc::c_int) {
    // SAFETY: signal, raise and _exit are async-signal-safe; the default disposition is restored
    // first so that the raise is not caught again.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
        libc::_exit(2)
    }
}

/// Installs [`die_from_signal`] for [`WAITING_EXIT_SIGNALS`] (undone by [`reset_signals`]).
pub(crate) fn set_waiting_signal_handlers() -> io::Result<()> {
    for sig in WAITING_EXIT_SIGNALS {
        // SAFETY: an all-zero sigaction is valid (empty mask, no flags) and is filled in below.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = die_from_signal as *const () as libc::sighandler_t;
        // SAFETY: sa_mask is a valid sigset_t owned by `sa`.
        unsafe { libc::sigfillset(&mut sa.sa_mask) };
        // SAFETY: installs a handler that only makes async-signal-safe calls.
        if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `PR_SET_PDEATHSIG` (the kernel clears it on a credential change and in a fork's child). Not
/// rustix's `set_parent_process_death_signal`: its `Signal` cannot be made safely from a
/// real-time signal number.
pub(crate) fn set_pdeathsig(sig: i32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process of the machine (the start
/// waterfall's stamps, compared across the runtime and init). A vDSO call, no system call.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use std::os::fd::IntoRawFd;

    use super::*;

    #[test]
    fn init_thread_is_claimed_once() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let raw = r.into_raw_fd();
        let (token, sock) = InitThread::claim(raw).unwrap().unwrap();
        assert_eq!(sock.as_raw_fd(), raw);
        // A second claim (a second owner of fd numbers) is refused, whatever the fd.
        let (r2, _w2) = rustix::pipe::pipe().unwrap();
        assert!(InitThread::claim(r2.as_raw_fd()).is_none());
        // The claimed socket is the token holder's: it closes it, nothing else does.
        let n = sock.as_raw_fd();
        std::mem::forget(sock);
        token.close_fd(n);
        assert!(!adopt_fd_check(n));
        drop(w);
    }
}
