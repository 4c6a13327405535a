//! The guard of the process a bootstrap started, and a spawned init with its socket.

use std::os::fd::{AsFd, OwnedFd};

use crate::error::{Error, Result};
use crate::sys;

/// The process a [`Bootstrap`](super::Bootstrap) started: killed (`SIGKILL` through its pidfd) and reaped when
/// dropped, unless [`ChildGuard::release`]d once the container is created or the exec done
/// (runc's `defer p.terminate()`). After init forked ([`ToParent::Pid`](crate::channel::ToParent::Pid)) it guards the real
/// container process, the intermediate one being reaped.
pub(super) struct ChildGuard(pub(super) Option<(i32, OwnedFd)>);

impl ChildGuard {
    /// The guarded pid (0 once it is reaped or released).
    pub(super) fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |(pid, _)| *pid)
    }

    /// Guards `pid`, the process init forked into its pid or time namespace (parent's view),
    /// instead of the intermediate process, which exits after sending it and is reaped here.
    pub(super) fn adopt(&mut self, pid: i32) -> Result<()> {
        if let Some((inter, _)) = self.0.take() {
            let _ = crate::process::wait_pid(inter);
        }
        let p = rustix::process::Pid::from_raw(pid).ok_or_else(|| {
            Error::io(
                "adopt",
                format!("pid {pid}"),
                std::io::Error::from_raw_os_error(libc::ESRCH),
            )
        })?;
        match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => {
                self.0 = Some((pid, fd));
                Ok(())
            }
            Err(e) => {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                let _ = crate::process::wait_pid(pid);
                Err(Error::io("pidfd_open", format!("pid {pid}"), e))
            }
        }
    }

    /// Reaps the process, which closed its socket without reporting, and says how it ended.
    pub(super) fn died(&mut self) -> Error {
        let Some((pid, _pidfd)) = self.0.take() else {
            return Error::InitDied {
                pid: 0,
                what: "vanished before it reported".into(),
            };
        };
        let what = match crate::process::wait_pid(pid) {
            Ok(crate::process::ExitStatus::Exited(c)) => {
                format!("exited with status {c} before it reported")
            }
            Ok(crate::process::ExitStatus::Signaled(s)) => {
                format!("was killed by signal {s} before it reported")
            }
            Err(e) => format!("vanished before it reported ({e})"),
        };
        Error::InitDied { pid, what }
    }

    /// Hands the process over (pid and pidfd): it is no longer killed on drop.
    pub(super) fn release(mut self) -> Option<(i32, OwnedFd)> {
        self.0.take()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some((pid, pidfd)) = self.0.take() {
            let _ = sys::process::pidfd_signal(pidfd.as_fd(), libc::SIGKILL);
            let _ = crate::process::wait_pid(pid);
        }
    }
}

/// A spawned `lashing init`: the guarded process and the parent's end of its socket.
pub(super) struct Spawned {
    pub(super) child: ChildGuard,
    pub(super) sock: OwnedFd,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state;

    #[expect(
        clippy::zombie_processes,
        reason = "the ChildGuard under test (or the test) reaps it"
    )]
    fn guarded_sleep() -> (i32, ChildGuard) {
        let child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        (pid, ChildGuard(Some((pid, pidfd))))
    }

    #[test]
    fn child_guard_kills_and_reaps_on_drop() {
        let (pid, guard) = guarded_sleep();
        assert!(state::proc_stat(pid).is_some());
        drop(guard);
        // Killed and reaped: no process, not even a zombie, is left.
        assert!(state::proc_stat(pid).is_none(), "pid {pid} left behind");
    }

    #[test]
    fn released_child_is_left_running() {
        let (pid, guard) = guarded_sleep();
        let (got, pidfd) = guard.release().unwrap();
        assert_eq!(got, pid);
        assert!(state::proc_stat(pid).is_some_and(|(s, _)| s != 'Z'));
        sys::process::pidfd_signal(pidfd.as_fd(), libc::SIGKILL).unwrap();
        crate::process::wait_pid(pid).unwrap();
    }

    #[test]
    fn child_guard_died_reaps_and_says_how() {
        let (pid, mut guard) = guarded_sleep();
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        match guard.died() {
            Error::InitDied { pid: p, what } => {
                assert_eq!(p, pid);
                assert!(what.contains("signal 15"), "{what}");
            }
            e => panic!("unexpected {e:?}"),
        }
        assert_eq!(guard.pid(), 0);
        assert!(state::proc_stat(pid).is_none());
    }
}
