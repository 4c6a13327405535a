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
        let flags = spec.clone_flags | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64;
        // SAFETY: a fork-like clone (no CLONE_VM, no new stack) whose child only runs
        // `child_after_clone` (below), as after clone3; with CLONE_PIDFD the kernel stores the
        // pidfd at `pidfd`, which outlives the call.
        unsafe { raw_clone(flags, &mut pidfd) }
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

/// The classic `clone(2)` with no new stack, returning what the system call returns; with
/// `CLONE_PIDFD` in `flags` the kernel stores a pidfd at `pidfd` (the `parent_tid` argument).
/// The argument order of `clone` differs between architectures: x86_64, aarch64, riscv64,
/// powerpc64 and loongarch64 take `(flags, stack, parent_tid, ...)` (on x86_64 `child_tid`
/// comes fourth, on the others `tls`; both are unused here); s390x swaps `flags` and `stack`
/// (`CLONE_BACKWARDS2`). On other architectures the fallback reports `ENOSYS`.
///
/// # Safety
/// The caller must handle the child as after `fork` (see [`fork_parent`]): `flags` must not
/// contain `CLONE_VM`, `CLONE_THREAD` or `CLONE_SETTLS`.
unsafe fn raw_clone(flags: u64, pidfd: &mut RawFd) -> libc::c_long {
    let pidfd = pidfd as *mut RawFd;
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "loongarch64"
    ))]
    // SAFETY: the caller's contract; `pidfd` points at a live RawFd.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0usize,
            pidfd,
            0usize,
            0usize,
        )
    };
    #[cfg(target_arch = "s390x")]
    // SAFETY: the caller's contract; `pidfd` points at a live RawFd.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            0usize,
            flags as libc::c_ulong,
            pidfd,
            0usize,
            0usize,
        )
    };
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "loongarch64",
        target_arch = "s390x"
    )))]
    let r = {
        let _ = (flags, pidfd);
        // SAFETY: sets errno only.
        unsafe { *libc::__errno_location() = libc::ENOSYS };
        -1
    };
    r
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
