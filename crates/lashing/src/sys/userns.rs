//! A user namespace held by a short-lived child process: what `MOUNT_ATTR_IDMAP` needs (a user
//! namespace fd carrying the mount's id maps). The caller writes the child's `uid_map` and
//! `gid_map`, opens its `ns/user`, then drops the [`UsernsChild`] (killed and reaped).

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};

use super::clone::{BlockSignals, raw_clone};

/// A child process in a new user namespace that does nothing until it is killed.
pub(crate) struct UsernsChild {
    pid: i32,
    pidfd: OwnedFd,
}

impl UsernsChild {
    /// Clones the child (`CLONE_NEWUSER`): with every signal blocked it waits in `pause` until
    /// it is killed (and dies with its parent: `PR_SET_PDEATHSIG`). Safe from a multithreaded
    /// program: the child only makes raw system calls.
    pub(crate) fn spawn() -> io::Result<UsernsChild> {
        let mut pidfd: RawFd = -1;
        let flags = (libc::CLONE_NEWUSER | libc::CLONE_PIDFD) as u64;
        // `struct clone_args` version 0: flags, pidfd, child_tid, parent_tid, exit_signal,
        // stack, stack_size, tls.
        let mut args = [0u64; 8];
        args[0] = flags;
        args[1] = &mut pidfd as *mut RawFd as u64;
        args[4] = libc::SIGCHLD as u64;
        let parent = rustix::process::getpid().as_raw_nonzero().get();
        // The child must not run a handler of the embedding program.
        let blocked = BlockSignals::new();
        // SAFETY: a fork-like clone3 (no CLONE_VM, no stack): the child continues on a copy of
        // this stack and only runs `child_wait` (raw system calls, never returns). `args` is a
        // valid clone_args of the size passed and `pidfd` outlives the call.
        let mut ret = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                args.as_mut_ptr(),
                std::mem::size_of_val(&args),
            )
        };
        if ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            // SAFETY: the same fork-like clone through clone(2); the child runs `child_wait`.
            ret = unsafe { raw_clone(flags | libc::SIGCHLD as u64, &mut pidfd) };
        }
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        if ret == 0 {
            // SAFETY: we are the child of a fork-like clone.
            unsafe { child_wait(parent) }
        }
        drop(blocked);
        // SAFETY: the kernel stored a new pidfd owned by nobody else into `pidfd` (CLONE_PIDFD).
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        Ok(UsernsChild {
            pid: ret as i32,
            pidfd,
        })
    }

    /// The child's pid.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for UsernsChild {
    fn drop(&mut self) {
        let _ = super::process::pidfd_signal(self.pidfd.as_fd(), libc::SIGKILL);
        let _ = rustix::process::waitid(
            rustix::process::WaitId::PidFd(self.pidfd.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        );
    }
}

/// The child: dies with its parent, then waits to be killed.
///
/// # Safety
/// Must only be called in the child of a fork-like clone.
unsafe fn child_wait(parent: i32) -> ! {
    // SAFETY: prctl, getppid, pause and _exit with integer arguments: raw, async-signal-safe.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        // The parent died before the death signal was armed (the clone's parent pid is not
        // visible from a new pid namespace, but this one is the parent's own).
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        loop {
            // Every signal is blocked (inherited from the parent's clone): only SIGKILL ends it.
            libc::pause();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_holds_a_new_user_namespace_until_dropped() {
        let child = UsernsChild::spawn().unwrap();
        let pid = child.pid();
        let own = std::fs::read_link("/proc/self/ns/user").unwrap();
        let its = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
        assert_ne!(own, its, "a user namespace of its own");
        // No maps yet: the caller writes them.
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
        assert_eq!(map, "");
        drop(child);
        // Killed and reaped: the pid is gone (or reused by another process, never a zombie of ours).
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(stat.is_empty() || !stat.contains(") Z "), "{stat}");
    }
}
