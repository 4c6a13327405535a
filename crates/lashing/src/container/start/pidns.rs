//! `exec` into a container with a pid namespace, without the extra fork of init: the runtime's
//! thread joins the init's pid namespace for its children (`setns(CLONE_NEWPID)` sets only the
//! thread's `pid_for_children`, never its own pid namespace, and is allowed in a multithreaded
//! process), so that `clone3` starts `lashing init` in that namespace directly; the thread's
//! previous `pid_for_children` is put back right after. Where the kernel refuses the join (no
//! privilege over the namespace: a rootless runtime), and for a time namespace (whose join needs a
//! single-threaded caller), init joins and forks with `CLONE_PARENT` as before.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};

use crate::sys::process as sysp;

/// The calling thread's children are born in another pid namespace until this is dropped, which
/// puts the thread's own `pid_for_children` back.
pub(super) struct PidNsForChildren {
    restore: OwnedFd,
}

impl PidNsForChildren {
    /// Makes the calling thread's next children be born in the pid namespace `ns`; `None` (the
    /// reason logged) when it cannot, and nothing changed.
    pub(super) fn enter(ns: BorrowedFd<'_>) -> Option<PidNsForChildren> {
        let own = rustix::fs::open(
            "/proc/thread-self/ns/pid_for_children",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        );
        let restore = match own {
            Ok(fd) => fd,
            Err(e) => {
                tracing::debug!(
                    "exec: cannot open our pid namespace for children ({e}): init forks"
                );
                return None;
            }
        };
        match sysp::setns(ns, libc::CLONE_NEWPID as u64) {
            Ok(()) => Some(PidNsForChildren { restore }),
            Err(e) => {
                tracing::debug!(
                    "exec: cannot join the pid namespace for children ({e}): init forks"
                );
                None
            }
        }
    }
}

impl Drop for PidNsForChildren {
    fn drop(&mut self) {
        // Our own previous namespace (the active one or a descendant of it): always allowed.
        if let Err(e) = sysp::setns(self.restore.as_fd(), libc::CLONE_NEWPID as u64) {
            tracing::error!(
                "exec: cannot restore this thread's pid namespace for children: {e} \
                 (processes it starts now are born in the container's)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The pids of `pid` in each pid namespace it is in (`NSpid`), outermost first.
    fn nspids(pid: u32) -> Vec<String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
        line.split_whitespace().skip(1).map(String::from).collect()
    }

    /// A child started by this (multithreaded) test thread while it is entered is born in the
    /// other pid namespace; after the drop, one is born in ours again.
    #[test]
    fn children_are_born_in_the_joined_pid_namespace_until_drop() {
        let mut holder = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "sleep", "100"])
            .spawn()
            .unwrap();
        let children = format!("/proc/{0}/task/{0}/children", holder.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        let inner = loop {
            let text = std::fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = text.split_whitespace().next() {
                break pid.parse::<u32>().unwrap();
            }
            assert!(Instant::now() < deadline, "unshare started no child");
            std::thread::sleep(Duration::from_millis(5));
        };
        let ns = rustix::fs::open(
            format!("/proc/{inner}/ns/pid"),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let joined = PidNsForChildren::enter(ns.as_fd()).expect("root may join");
        let mut born_inside = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        drop(joined);
        let mut born_outside = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let (inside, outside) = (nspids(born_inside.id()), nspids(born_outside.id()));
        for c in [&mut born_inside, &mut born_outside, &mut holder] {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert_eq!(inside.len(), outside.len() + 1, "{inside:?} {outside:?}");
    }
}
