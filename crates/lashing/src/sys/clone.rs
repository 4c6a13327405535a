//! `clone3` with the init bootstrap: the parent's [`spawn_init`] and the child's raw,
//! async-signal-safe path to `execveat` of `lashing init`.

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

// SAFETY: the raw pointers of `argv` and `envp` point to C strings the caller keeps alive for
// the spec's lifetime `'a` and that nothing writes; they are only read (by the child of
// `spawn_init`), so the spec may be handed to another thread (one made to fork init) for `'a`.
unsafe impl Send for SpawnSpec<'_> {}

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
pub(super) unsafe fn raw_clone(flags: u64, pidfd: &mut RawFd) -> libc::c_long {
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
///
/// Straight to the kernel (`rt_sigprocmask`): the C library's full set leaves out the signals it
/// keeps for itself (musl 32-34, glibc 32-33), whose handlers (`lashing run` forwards them too)
/// must not run in the child either.
pub(super) struct BlockSignals(Option<u64>);

/// `rt_sigprocmask(SIG_SETMASK, new, old)` of the calling thread, with the kernel's 8-byte set.
fn set_thread_mask(new: &u64, old: Option<&mut u64>) -> bool {
    let old = old.map_or(std::ptr::null_mut(), |o| o as *mut u64);
    // SAFETY: `new` is a live 8-byte signal set, `old` null or a live 8-byte set to fill; the call
    // only changes this thread's mask (SIGKILL and SIGSTOP are never blocked by the kernel).
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            new as *const u64,
            old,
            8usize,
        )
    };
    r == 0
}

impl BlockSignals {
    pub(super) fn new() -> BlockSignals {
        let mut old = 0u64;
        if set_thread_mask(&u64::MAX, Some(&mut old)) {
            BlockSignals(Some(old))
        } else {
            BlockSignals(None)
        }
    }
}

impl Drop for BlockSignals {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // Restoring the mask saved by `new` on this same thread.
            set_thread_mask(old, None);
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
