//! Thin safe wrappers over the few libc calls std does not offer. The only module with `unsafe`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// The real user id.
pub fn getuid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The real group id.
pub fn getgid() -> u32 {
    // SAFETY: getgid has no preconditions and cannot fail.
    unsafe { libc::getgid() }
}

/// The supplementary group ids.
pub fn getgroups() -> io::Result<Vec<u32>> {
    // SAFETY: size 0 with a null list only asks for the count.
    let n = cvt(unsafe { libc::getgroups(0, std::ptr::null_mut()) })?;
    let mut groups = vec![0 as libc::gid_t; n as usize];
    // SAFETY: `groups` has room for `n` entries, as we pass.
    let n = cvt(unsafe { libc::getgroups(n, groups.as_mut_ptr()) })?;
    groups.truncate(n as usize);
    Ok(groups)
}

/// The current umask (set to 0 and restored at once; this process is single-threaded).
pub fn umask() -> u32 {
    // SAFETY: umask cannot fail; we restore the old value right away.
    let old = unsafe { libc::umask(0) };
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    old
}

/// The (soft, hard) limits of an `RLIMIT_*` resource; `None` means unlimited.
pub fn getrlimit(resource: i32) -> io::Result<(Option<u64>, Option<u64>)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit struct.
    cvt(unsafe { libc::getrlimit(resource as _, &mut rl) })?;
    let f = |v: libc::rlim_t| (v != libc::RLIM_INFINITY).then_some(v);
    Ok((f(rl.rlim_cur), f(rl.rlim_max)))
}

/// (nodename, domainname) from uname(2).
pub fn uname() -> io::Result<(String, String)> {
    // SAFETY: utsname is plain old data; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname struct.
    cvt(unsafe { libc::uname(&mut u) })?;
    // SAFETY: the kernel NUL-terminates both fields, which live as long as `u`.
    let node = unsafe { CStr::from_ptr(u.nodename.as_ptr()) };
    // SAFETY: as above.
    let domain = unsafe { CStr::from_ptr(u.domainname.as_ptr()) };
    Ok((
        node.to_string_lossy().into_owned(),
        domain.to_string_lossy().into_owned(),
    ))
}

/// The parent's pid.
pub fn getppid() -> i32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::getppid() }
}

/// Whether `fd` refers to a terminal.
pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty accepts any integer; an invalid fd just yields 0.
    unsafe { libc::isatty(fd) == 1 }
}

/// mknod(2).
pub fn mknod(path: &Path, mode: u32, dev: u64) -> io::Result<()> {
    let p = cpath(path)?;
    // SAFETY: `p` is a valid NUL-terminated string.
    cvt(unsafe { libc::mknod(p.as_ptr(), mode, dev) }).map(drop)
}

/// makedev(3).
pub fn makedev(major: u32, minor: u32) -> u64 {
    libc::makedev(major, minor)
}

/// What to do in a forked child: it never returns.
#[derive(Clone, Copy)]
pub enum ChildKind {
    /// Sleep until killed; die with the parent (PR_SET_PDEATHSIG SIGKILL).
    SleepTiedToParent,
    /// Close stdio, start a new session and sleep forever (outlives the parent).
    SleepDetached,
}

/// Fork a child that sleeps as `kind` says. Returns the child's pid in the parent.
pub fn fork_sleeper(kind: ChildKind) -> io::Result<i32> {
    // SAFETY: this program is single-threaded, and the child only makes async-signal-safe calls
    // (prctl, setsid, pause, _exit) before it dies.
    let pid = cvt(unsafe { libc::fork() })?;
    if pid == 0 {
        match kind {
            // SAFETY: prctl with these integer arguments has no memory effects.
            ChildKind::SleepTiedToParent => unsafe {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
            },
            // SAFETY: close and setsid have no memory effects; closing stdio keeps the
            // caller's pipes from staying open because of this child.
            ChildKind::SleepDetached => unsafe {
                for fd in 0..3 {
                    libc::close(fd);
                }
                libc::setsid();
            },
        }
        loop {
            // SAFETY: pause only waits for a signal.
            unsafe { libc::pause() };
        }
    }
    Ok(pid)
}

/// kill(2).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory effects.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// waitpid(2) for one child; returns the raw wait status.
pub fn waitpid(pid: i32) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid, writable int.
        match cvt(unsafe { libc::waitpid(pid, &mut status, 0) }) {
            Ok(_) => return Ok(status),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Block SIGTERM and SIGINT, then wait for one of them; returns the signal number.
///
/// Blocking first makes this work as PID 1 of a pid namespace, where signals without a handler
/// are ignored.
pub fn wait_for_term() -> io::Result<i32> {
    // SAFETY: sigset_t is plain old data; sigemptyset initializes it right after.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t and the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
    }
    // SAFETY: `set` is initialized; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let mut sig = 0;
    // SAFETY: `set` is initialized and `sig` is a valid, writable int.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(sig)
}
