//! Process creation and process-level system calls that rustix does not wrap: `clone3` with the
//! init bootstrap, `clone(CLONE_PARENT)`, `execveat`, `execve`, `close_range`, `setns`/`unshare`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// What the child of [`spawn_init`] does between `clone3` and `execveat`. Everything is prepared by
/// the parent: the child only makes raw, async-signal-safe system calls and never allocates, so
/// spawning is safe from a multithreaded program.
pub(crate) struct SpawnSpec<'a> {
    /// `CLONE_NEW*` flags for `clone3`.
    pub clone_flags: u64,
    /// A cgroup v2 directory fd for `CLONE_INTO_CGROUP`.
    pub cgroup_fd: Option<BorrowedFd<'a>>,
    /// The protected handle of the runtime's own executable.
    pub exe: BorrowedFd<'a>,
    /// The child's end of the init socket: it is made inheritable just before the exec.
    pub sock: BorrowedFd<'a>,
    /// Wait for a one-byte message on `sock` before going on (the parent writes the id maps first),
    /// then become root in the new user namespace.
    pub wait_for_maps: bool,
    /// Parent-death signal (0 = none).
    pub pdeathsig: i32,
    /// argv of `lashing init`, NUL-terminated pointer array (kept alive by the caller).
    pub argv: &'a [*const libc::c_char],
    /// envp of `lashing init`, NUL-terminated pointer array.
    pub envp: &'a [*const libc::c_char],
}

/// A child created by [`spawn_init`].
pub(crate) struct Spawned {
    /// Its pid.
    pub pid: i32,
    /// A pidfd of it.
    pub pidfd: OwnedFd,
}

/// `struct clone_args` of `<linux/sched.h>` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (libc's constant is deprecated: it overflows `c_int`).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Marker byte the child writes to the init socket when its exec failed, followed by the errno.
pub(crate) const EXEC_FAILED: u8 = 0xff;

/// Creates the container's first process with `clone3` and makes it exec `lashing init`.
pub(crate) fn spawn_init(spec: &SpawnSpec<'_>) -> io::Result<Spawned> {
    assert!(spec.argv.last().is_some_and(|p| p.is_null()));
    assert!(spec.envp.last().is_some_and(|p| p.is_null()));
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: spec.clone_flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(cg) = spec.cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    let sock = spec.sock.as_raw_fd();
    let exe = spec.exe.as_raw_fd();
    // Block every signal around the clone: a handler of the embedding program must not run in
    // the child before its exec (the child stays blocked across execveat; init resets the mask).
    let _blocked = BlockSignals::new();
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork: the child gets a copy
    // of the address space and continues on a copy of this stack. `args` is a valid clone_args of
    // the size passed and `pidfd` outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let ret = if ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        // clone3 is missing (kernel < 5.3) or filtered to ENOSYS (runc's seccomp stub, valgrind):
        // the classic clone has every flag but CLONE_INTO_CGROUP (the caller then joins the
        // cgroup by pid).
        if spec.cgroup_fd.is_some() {
            return Err(io::Error::from_raw_os_error(libc::ENOSYS));
        }
        let flags =
            (spec.clone_flags | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64) as libc::c_ulong;
        // SAFETY: a fork-like clone (no CLONE_VM, no new stack); with CLONE_PIDFD the kernel
        // stores the pidfd through the parent_tid argument, which points at `pidfd`.
        unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags,
                0usize,
                &mut pidfd as *mut RawFd,
                0usize,
                0usize,
            )
        }
    } else {
        ret
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if ret == 0 {
        // SAFETY: we are the child; child_after_clone only makes raw system calls and never returns.
        unsafe { child_after_clone(spec, sock, exe) }
    }
    // SAFETY: the kernel stored a new pidfd owned by nobody else into `pidfd` (CLONE_PIDFD).
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Spawned {
        pid: ret as i32,
        pidfd,
    })
}

/// Blocks all signals of the calling thread until dropped (then restores the old mask).
struct BlockSignals(Option<libc::sigset_t>);

impl BlockSignals {
    fn new() -> BlockSignals {
        // SAFETY: sigfillset fills a zeroed set; pthread_sigmask with valid pointers only changes
        // this thread's mask and stores the old one.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            if libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) == 0 {
                BlockSignals(Some(old))
            } else {
                BlockSignals(None)
            }
        }
    }
}

impl Drop for BlockSignals {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // SAFETY: restoring the mask saved by `new` on this same thread.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
        }
    }
}

/// The child between clone3 and execveat: raw system calls only (no allocation, no locks), so that
/// it is safe even when the parent has other threads.
///
/// # Safety
/// Must only be called in the child of a fork-like clone.
unsafe fn child_after_clone(spec: &SpawnSpec<'_>, sock: RawFd, exe: RawFd) -> ! {
    let fail = |errno: i32| -> ! {
        let mut msg = [0u8; 5];
        msg[0] = EXEC_FAILED;
        msg[1..].copy_from_slice(&errno.to_le_bytes());
        // SAFETY: raw write of a stack buffer, then _exit: both async-signal-safe.
        unsafe {
            libc::write(sock, msg.as_ptr().cast(), msg.len());
            libc::_exit(127)
        }
    };
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    if spec.pdeathsig != 0 {
        // SAFETY: prctl with integer arguments.
        if unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                spec.pdeathsig as libc::c_ulong,
                0,
                0,
                0,
            )
        } < 0
        {
            fail(errno());
        }
    }
    if spec.wait_for_maps {
        let mut b = [0u8; 1];
        // SAFETY: reading into a stack buffer of the given length.
        let n = unsafe { libc::read(sock, b.as_mut_ptr().cast(), 1) };
        if n != 1 {
            // The parent gave up: nothing to report to.
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(1) }
        }
        // SAFETY: raw id system calls with integer arguments (not glibc's set*id broadcast).
        let r = unsafe {
            if libc::syscall(libc::SYS_setresgid, 0, 0, 0) < 0 {
                -1
            } else {
                libc::syscall(libc::SYS_setresuid, 0, 0, 0)
            }
        };
        if r < 0 {
            fail(errno());
        }
    }
    // SAFETY: fcntl on a descriptor we own in this process.
    if unsafe { libc::fcntl(sock, libc::F_SETFD, 0) } < 0 {
        fail(errno());
    }
    // SAFETY: argv/envp are NUL-terminated arrays of valid C strings (checked by the caller's
    // asserts and kept alive by it); the empty path with AT_EMPTY_PATH executes `exe` itself.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            exe,
            c"".as_ptr(),
            spec.argv.as_ptr(),
            spec.envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    fail(errno())
}

/// Result of [`fork_parent`].
pub(crate) enum Fork {
    /// We are the new process.
    Child,
    /// We are the caller; the new process has this pid (as seen from the caller's pid namespace).
    Parent(i32),
}

/// Forks a sibling of the calling process (`clone(CLONE_PARENT)`): the new process is a child of the
/// caller's parent, which can then wait for it. Used by init when it must enter a pid or time
/// namespace. The caller must be single-threaded.
pub(crate) fn fork_parent() -> io::Result<Fork> {
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack) from a single-threaded process (init):
    // the child continues with a private copy of the whole process.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
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

/// Closes every fd in `first..=last`.
pub(crate) fn close_range(first: u32, last: u32) -> io::Result<()> {
    if first > last {
        return Ok(());
    }
    // SAFETY: close_range only closes descriptors of this process; the callers own every fd in the
    // range (init closes what it inherited and does not use).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Moves `fd` onto `target` (dup3 without `O_CLOEXEC`), so that it survives the next exec.
pub(crate) fn dup_to(fd: RawFd, target: RawFd) -> io::Result<()> {
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
/// environment). Fails unless `fd` is open.
pub(crate) fn adopt_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only queries the descriptor.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open and, by the init protocol, owned by nobody else in this process.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)?;
    Ok(owned)
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

/// `mount_setattr(fd, "", AT_EMPTY_PATH, {attr_set: MOUNT_ATTR_RDONLY})` on a detached mount.
pub(crate) fn mount_set_readonly(fd: BorrowedFd<'_>) -> io::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr with a valid fd, an empty C string and a properly sized mount_attr.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `PR_SET_KEEPCAPS`.
pub(crate) fn set_keepcaps(on: bool) -> io::Result<()> {
    rustix::thread::set_keep_capabilities(on).map_err(Into::into)
}

/// `setgroups(2)` for the whole (single-threaded) process.
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

/// `prlimit(pid, resource, {soft, hard})`.
pub(crate) fn prlimit(pid: i32, resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let new = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: prlimit64 with a valid new-limit struct and no old-limit output.
    let r = unsafe { libc::prlimit64(pid, resource as _, &new, std::ptr::null_mut()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Drops a capability from the bounding set (`PR_CAPBSET_DROP`).
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
/// capability the kernel knows.
pub(crate) fn capbset_read(cap: u32) -> io::Result<bool> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r == 1)
    }
}

/// Raises a capability in the ambient set (`PR_CAP_AMBIENT_RAISE`).
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

/// `PR_SET_DUMPABLE`.
pub(crate) fn set_dumpable(on: bool) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(on), 0, 0, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Raw `setresuid`/`setresgid` of the (single-threaded) caller.
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

/// `_exit(code)`.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is always safe to call.
    unsafe { libc::_exit(code) }
}

/// Resets every signal disposition to the default and unblocks all signals, so that the user
/// process does not inherit the runtime's (Rust ignores `SIGPIPE`, for one).
pub(crate) fn reset_signals() -> io::Result<()> {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL for a valid signal number; init has no handlers of its own.
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

/// `PR_SET_PDEATHSIG` (the kernel clears it on a credential change and in a fork's child).
pub(crate) fn set_pdeathsig(sig: i32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
