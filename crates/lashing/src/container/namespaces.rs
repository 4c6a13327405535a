//! Namespace planning for `clone3`/init and the race-free opening of the init's namespaces for
//! `exec`, shared by the bootstrap and checkpoint/restore.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};

use crate::config::{Config, NamespaceType};
use crate::error::{Error, Result};
use crate::state;
use crate::sys;

/// How the namespaces of a config are entered.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NsPlan {
    /// Created by clone3.
    pub clone: u64,
    /// Created by init with unshare.
    pub unshare: u64,
    /// Joined by init, in order.
    pub join: Vec<(NamespaceType, PathBuf)>,
    /// Init must fork (CLONE_PARENT) to enter a pid or time namespace.
    pub fork: bool,
}

/// Plans namespace entry: the fast path (everything new, no time namespace) is a single clone3
/// with every flag; joined namespaces or a time namespace make init do the work itself (joining
/// first, as host root, then unsharing the rest, then forking once where needed), as runc/crun.
pub(crate) fn plan_namespaces(config: &Config) -> NsPlan {
    let mut plan = NsPlan::default();
    let slow = config.namespaces.iter().any(|n| n.path.is_some())
        || config.has_namespace(NamespaceType::Time);
    for typ in NamespaceType::ALL {
        let Some(ns) = config.namespace(typ) else {
            continue;
        };
        match &ns.path {
            Some(p) => plan.join.push((typ, p.clone())),
            None if slow => plan.unshare |= typ.clone_flag(),
            None => plan.clone |= typ.clone_flag(),
        }
    }
    if slow {
        plan.fork =
            config.has_namespace(NamespaceType::Pid) || config.has_namespace(NamespaceType::Time);
    }
    plan
}

/// The namespaces an `exec` joins: every namespace type of the config, through the init's
/// `/proc/<pid>/ns/*` (its own, new ones or joined ones alike).
pub(crate) fn plan_exec(config: &Config, init_pid: i32) -> NsPlan {
    let mut plan = NsPlan::default();
    for typ in NamespaceType::ALL {
        if config.has_namespace(typ) {
            let path = PathBuf::from(format!("/proc/{init_pid}/ns/{}", typ.proc_name()));
            plan.join.push((typ, path));
        }
    }
    plan.fork =
        config.has_namespace(NamespaceType::Pid) || config.has_namespace(NamespaceType::Time);
    plan
}

/// Opens the namespaces of the container's init (`pid`, started at `start`) for `exec`, without
/// a race with its death: a pidfd is taken first, then the start time is checked, then every
/// `/proc/<pid>/ns/<type>` is opened, and the pidfd must still name a live process afterwards.
/// The pid cannot be reused while it is not reaped, so the fds are the init's own namespaces
/// and never those of a process that got its pid later. A dead (or zombie) init is
/// [`Error::BadStatus`] with status stopped.
pub(crate) fn open_init_namespaces(
    id: &str,
    pid: i32,
    start: u64,
    types: &[NamespaceType],
) -> Result<Vec<(NamespaceType, OwnedFd)>> {
    let stopped = || Error::BadStatus {
        id: id.to_string(),
        status: crate::Status::Stopped,
        op: "exec a process in it",
    };
    let p = rustix::process::Pid::from_raw(pid).ok_or_else(stopped)?;
    let pidfd = match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Err(stopped()),
        Err(e) => return Err(Error::io("pidfd_open", format!("pid {pid}"), e)),
    };
    let still_ours =
        || sys::process::pidfd_signal(pidfd.as_fd(), 0).is_ok() && state::alive(pid, start);
    if !state::alive(pid, start) {
        return Err(stopped());
    }
    let mut fds = Vec::with_capacity(types.len());
    for typ in types {
        let path = PathBuf::from(format!("/proc/{pid}/ns/{}", typ.proc_name()));
        match rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fds.push((*typ, fd)),
            // Out of fds: say so (the liveness check below would need an fd too).
            Err(e @ (rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)) => {
                return Err(Error::io("open namespace", path, e));
            }
            // An init that exits drops its namespaces: that is a stopped container.
            Err(_) if !still_ours() => return Err(stopped()),
            Err(e) => return Err(Error::io("open namespace", path, e)),
        }
    }
    if !still_ours() {
        return Err(stopped());
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Namespace;

    fn ns(typ: NamespaceType, path: Option<&str>) -> Namespace {
        Namespace {
            typ,
            path: path.map(PathBuf::from),
        }
    }

    #[test]
    fn all_new_is_one_clone() {
        let config = Config {
            namespaces: vec![
                ns(NamespaceType::Pid, None),
                ns(NamespaceType::Mount, None),
                ns(NamespaceType::User, None),
            ],
            ..Default::default()
        };
        let p = plan_namespaces(&config);
        assert_eq!(
            p.clone,
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUSER) as u64
        );
        assert_eq!(p.unshare, 0);
        assert!(!p.fork && p.join.is_empty());
    }

    #[test]
    fn joined_pid_forks_and_unshares_the_rest() {
        let config = Config {
            namespaces: vec![
                ns(NamespaceType::Pid, Some("/proc/1/ns/pid")),
                ns(NamespaceType::Mount, None),
            ],
            ..Default::default()
        };
        let p = plan_namespaces(&config);
        assert_eq!(p.clone, 0);
        assert_eq!(p.unshare, libc::CLONE_NEWNS as u64);
        assert!(p.fork);
        assert_eq!(
            p.join,
            vec![(NamespaceType::Pid, PathBuf::from("/proc/1/ns/pid"))]
        );
    }

    #[test]
    fn time_namespace_forks() {
        let config = Config {
            namespaces: vec![ns(NamespaceType::Time, None)],
            ..Default::default()
        };
        let p = plan_namespaces(&config);
        assert!(p.fork);
        assert_eq!(p.unshare, libc::CLONE_NEWTIME as u64);
    }

    fn is_stopped(r: &Result<Vec<(NamespaceType, OwnedFd)>>) -> bool {
        matches!(
            r,
            Err(Error::BadStatus {
                status: crate::Status::Stopped,
                ..
            })
        )
    }

    #[test]
    fn init_namespaces_are_opened_only_while_the_init_lives() {
        let types = [
            NamespaceType::Mount,
            NamespaceType::Uts,
            NamespaceType::Network,
        ];
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let (_, start) = state::proc_stat(pid).unwrap();
        let fds = open_init_namespaces("t", pid, start, &types).unwrap();
        assert_eq!(fds.len(), types.len());
        for (typ, fd) in &fds {
            let want = rustix::fs::stat(format!("/proc/{pid}/ns/{}", typ.proc_name())).unwrap();
            let got = rustix::fs::fstat(fd).unwrap();
            assert_eq!(
                (got.st_dev, got.st_ino),
                (want.st_dev, want.st_ino),
                "{typ:?}"
            );
        }
        // Another process's start time: not the container's init (a reused pid).
        assert!(is_stopped(&open_init_namespaces(
            "t",
            pid,
            start + 1,
            &types
        )));
        child.kill().unwrap();
        // A zombie: the pid is not reused yet, but the init is dead.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while state::proc_stat(pid).is_some_and(|(s, _)| s != 'Z')
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(is_stopped(&open_init_namespaces("t", pid, start, &types)));
        child.wait().unwrap();
        assert!(is_stopped(&open_init_namespaces("t", pid, start, &types)));
        assert!(is_stopped(&open_init_namespaces("t", 0, start, &types)));
    }
}
