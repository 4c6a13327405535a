//! The CLI's raw system calls: the only module of the crate with `unsafe`.
//!
//! - [`SignalPipe`]: a self-pipe signal handler (`sigaction` + a non-blocking pipe), used by
//!   `lashing run` to forward signals to the container and to learn when children exit, without a
//!   thread and without blocking signals (a blocked mask would be inherited by the container).
//! - [`dup_inherited_fd`]: takes a copy of a file descriptor inherited from the caller
//!   (`--preserve-fds`).
//! - `alloc` (the musl build only): the global allocator, dlmalloc behind a spin lock.
//! - `memcpy` (the musl build on x86_64 only): `memcpy` and `memmove` in place of musl's, whose
//!   copies of a few bytes are slow.
//! - [`reserve_inherited_fds`]: at start, holds the numbers of the closed fds of the range the
//!   caller passes (`--preserve-fds`, `LISTEN_FDS`), so that no fd of the runtime's own can take
//!   one of them and be handed to the container.

#[cfg(target_env = "musl")]
pub mod alloc;
#[cfg(all(target_arch = "x86_64", any(test, target_env = "musl")))]
pub mod memcpy;

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::pipe::PipeFlags;

/// The write end of the current [`SignalPipe`] (-1 when none), read by the signal handler.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The signal handler: writes the signal number as one byte into the self-pipe. Only
/// async-signal-safe calls; errno is preserved for the interrupted code.
extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    let errno = unsafe { *libc::__errno_location() };
    let byte = sig as u8;
    // SAFETY: write(2) of one byte from a live stack variable to an fd we own; a full pipe gives
    // EAGAIN (the pipe is non-blocking) and the byte is dropped, which the reader tolerates.
    unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The kernel's `struct sigaction` (`rt_sigaction(2)`, x86_64 and aarch64 layout).
#[repr(C)]
#[derive(Clone, Copy)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// `rt_sigaction(sig, new, old)` straight to the kernel.
fn rt_sigaction(
    sig: i32,
    new: Option<&KernelSigaction>,
    old: Option<&mut KernelSigaction>,
) -> io::Result<()> {
    let new = new.map_or(std::ptr::null(), |n| n as *const KernelSigaction);
    let old = old.map_or(std::ptr::null_mut(), |o| o as *mut KernelSigaction);
    // SAFETY: both pointers are null or point to live KernelSigaction values of the kernel's
    // layout, whose size matches the 8-byte signal set passed as the last argument.
    let r = unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, new, old, 8usize) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Installs [`on_signal`] for `sig`, which the C library refuses, with the C library's own
/// signal-return trampoline (read back from `model`, a signal it installed the handler for: the
/// kernel needs one, `SA_RESTORER`, to return from a handler).
fn install_raw(sig: i32, model: Option<i32>) -> io::Result<()> {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return Ok(());
    }
    let Some(model) = model.filter(|&m| m != sig) else {
        return Ok(());
    };
    let mut act = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    rt_sigaction(model, None, Some(&mut act))?;
    if act.handler != on_signal as *const () as usize {
        return Ok(());
    }
    act.mask = 0;
    rt_sigaction(sig, Some(&act), None)
}

/// Signals caught through a self-pipe: each delivered signal becomes one byte to read.
///
/// The handlers stay installed for the life of the process (dropping the pipe detaches them from
/// it). A child started with `fork`/`clone` inherits the handlers until it `exec`s, when the
/// kernel resets them to the default action.
#[derive(Debug)]
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Creates the pipe and installs the handler (with `SA_RESTART`) for every signal of `signals`
    /// that this process may catch (`EINVAL` from `sigaction`: skipped).
    pub fn install(signals: &[i32]) -> io::Result<SignalPipe> {
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        WRITE_FD.store(std::os::fd::AsRawFd::as_raw_fd(&write), Ordering::SeqCst);
        for &sig in signals {
            // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags) that is
            // filled in below.
            let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            // SAFETY: sa_mask is a valid sigset_t owned by `sa`.
            unsafe { libc::sigemptyset(&mut sa.sa_mask) };
            // SAFETY: installs a handler that only does async-signal-safe work; the old action
            // is not needed.
            let r = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
            if r != 0 {
                let e = io::Error::last_os_error();
                // The C library keeps signals 32-34 for itself (glibc 32 and 33, musl 32 to 34)
                // and refuses them; the kernel does not, and a single-threaded process does not
                // use them: installed directly (runc, in Go, catches them too).
                if e.raw_os_error() == Some(libc::EINVAL) && (32..=34).contains(&sig) {
                    install_raw(sig, signals.first().copied())?;
                    continue;
                }
                // A signal this process may not catch (reserved by a tool it runs under, such as
                // valgrind) is not forwarded, as Go's signal.Notify leaves it: not an error.
                if e.raw_os_error() == Some(libc::EINVAL) {
                    continue;
                }
                return Err(e);
            }
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// Waits up to `timeout` for signals and returns those caught (possibly none).
    pub fn wait(&self, timeout: Duration) -> io::Result<Vec<i32>> {
        let ts = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&self.read, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let mut buf = [0u8; 64];
        match rustix::io::read(self.read.as_fd(), &mut buf) {
            Ok(n) => Ok(buf[..n].iter().map(|&b| i32::from(b)).collect()),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        WRITE_FD.store(-1, Ordering::SeqCst);
    }
}

/// Returns a new close-on-exec copy (numbered above `min`) of the inherited descriptor `fd`,
/// which stays open and untouched; `EBADF` if `fd` is not open.
pub fn dup_inherited_fd(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table; an fd that is not open gives EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a descriptor that fcntl just created for us and that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The fds of the passed range that were closed when the program started (see
/// [`reserve_inherited_fds`]).
static CLOSED_AT_START: std::sync::OnceLock<Vec<RawFd>> = std::sync::OnceLock::new();

/// Records which of the fds `3 .. 3+count` are closed, before the program opens anything, and
/// holds each closed number below the soft `RLIMIT_NOFILE` with `/dev/null` (close-on-exec):
/// an fd the runtime opens later can then never land in the range and be preserved into the
/// container as if the caller had passed it. Runs once; later calls do nothing.
pub fn reserve_inherited_fds(count: u32) -> io::Result<()> {
    if CLOSED_AT_START.get().is_some() {
        return Ok(());
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let end = 3u64 + u64::from(count);
    // No fd at or above the hard limit can be handed to the container (its init cannot hold it):
    // such a range is refused up front instead of walked fd by fd.
    if end > hard.min(RawFd::MAX as u64) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "fds 3..{end} reach past the open-file limit (RLIMIT_NOFILE hard limit {hard})"
            ),
        ));
    }
    let mut closed = Vec::new();
    for fd in 3..end as RawFd {
        // SAFETY: F_GETFD only queries the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        closed.push(fd);
        if fd as u64 >= soft {
            // Nothing can be opened at this number (the kernel allocates below the limit).
            continue;
        }
        // SAFETY: opening /dev/null with a static C string; the result is a new fd or -1.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if null < 0 {
            return Err(io::Error::last_os_error());
        }
        if null != fd {
            // SAFETY: dup3 onto `fd`, which is closed (checked above); then the temporary
            // descriptor, which we own, is closed.
            let r = unsafe { libc::dup3(null, fd, libc::O_CLOEXEC) };
            let e = io::Error::last_os_error();
            // SAFETY: `null` is ours and no longer used.
            unsafe { libc::close(null) };
            if r < 0 {
                return Err(e);
            }
        }
        // The reservation stays open for the life of the program (close-on-exec).
    }
    let _ = CLOSED_AT_START.set(closed);
    Ok(())
}

/// Whether `fd` was closed when the program started ([`reserve_inherited_fds`]).
pub fn closed_at_start(fd: RawFd) -> bool {
    // Recorded in increasing order.
    CLOSED_AT_START
        .get()
        .is_some_and(|c| c.binary_search(&fd).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dup_of_closed_fd_is_ebadf() {
        let err = dup_inherited_fd(987_654, 3).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn dup_of_open_fd_is_a_new_cloexec_fd() {
        let f = std::fs::File::open("/proc/self/stat").unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
        let d = dup_inherited_fd(raw, 100).unwrap();
        let draw = std::os::fd::AsRawFd::as_raw_fd(&d);
        assert!(draw >= 100);
        let flags = rustix::io::fcntl_getfd(&d).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    #[test]
    fn caught_signal_comes_out_of_the_pipe() {
        let pipe = SignalPipe::install(&[libc::SIGUSR2]).unwrap();
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::USR2)
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..50 {
            got.extend(pipe.wait(Duration::from_millis(20)).unwrap());
            if !got.is_empty() {
                break;
            }
        }
        assert_eq!(got, vec![libc::SIGUSR2]);
        assert!(pipe.wait(Duration::from_millis(1)).unwrap().is_empty());
    }
}
