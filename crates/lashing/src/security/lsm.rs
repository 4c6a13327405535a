//! AppArmor profile and SELinux exec label of the user process (both take effect at `execve`).
//!
//! The label files live in procfs, which a hostile image can try to fake or overmount
//! (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561, CVE-2025-52881). Writes therefore go through
//! a private procfs: a fresh, detached procfs mount (`fsopen("proc")` + `fsmount`, with
//! `subset=pid`) that no container process can reach, or, when the kernel refuses a new procfs
//! (e.g. in a user namespace without a fully visible `/proc`) and the caller runs in the
//! container's root ([`ProcPolicy::PrivateOrContainer`]), the container's mounted `/proc` checked
//! to be the root of a procfs. The host's `/proc` is never used. The file is opened with `openat2(RESOLVE_NO_XDEV |
//! RESOLVE_NO_MAGICLINKS)`, so that nothing mounted on its path is followed, and checked with
//! `fstatfs` to be a procfs file.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

/// `SELINUX_MAGIC`.
const SELINUX_MAGIC: i64 = 0xf97c_ff8c;
/// Inode number of the root directory of a procfs.
const PROC_ROOT_INO: u64 = 1;

/// An error applying an LSM label.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LsmError {
    /// The LSM is not enabled on this host, but a label was asked for.
    #[error("{lsm} is not enabled on this host: cannot apply {value:?}")]
    NotEnabled {
        /// `AppArmor` or `SELinux`.
        lsm: &'static str,
        /// The profile or label.
        value: String,
    },
    /// No procfs could be opened.
    #[error("open a private procfs ({step})")]
    Proc {
        /// What failed.
        step: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file that should be in procfs is on another file system.
    #[error("{path} is not on procfs (possible /proc overmount attack)")]
    NotProcfs {
        /// The path under `/proc`.
        path: String,
    },
    /// Opening the attribute file failed.
    #[error("open /proc/{path}")]
    Open {
        /// The path under `/proc`.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing the attribute failed.
    #[error("write {value:?} to /proc/{path}")]
    Write {
        /// The path under `/proc`.
        path: String,
        /// What was written.
        value: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// A handle on the root of a procfs that the container cannot have tampered with.
#[derive(Debug)]
pub(crate) struct ProcFs {
    root: OwnedFd,
    /// Whether it is a private (detached) mount rather than the mounted `/proc` (tests check it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub private: bool,
}

/// Where a [`ProcFs`] may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcPolicy {
    /// Only a private procfs instance (`fsopen("proc")`): anywhere, before or after the pivot.
    PrivateOnly,
    /// A private procfs, or else the `/proc` mounted in the current root, verified to be the
    /// root of a procfs. Only for callers whose root and mount namespace are the container's
    /// (after `pivot_root`, or after joining the container's mount namespace): the mounted
    /// `/proc` is then the container's, never the host's.
    PrivateOrContainer,
}

impl ProcFs {
    /// A private procfs instance (never the host's mounted `/proc`).
    pub(crate) fn open() -> Result<ProcFs, LsmError> {
        ProcFs::open_with(ProcPolicy::PrivateOnly)
    }

    /// A procfs as `policy` allows: a private instance first; the container's mounted `/proc`
    /// only with [`ProcPolicy::PrivateOrContainer`].
    pub(crate) fn open_with(policy: ProcPolicy) -> Result<ProcFs, LsmError> {
        let e = match private_procfs() {
            Ok(root) => {
                return Ok(ProcFs {
                    root,
                    private: true,
                });
            }
            Err(e) => e,
        };
        if policy == ProcPolicy::PrivateOnly {
            return Err(LsmError::Proc {
                step: "fsopen(\"proc\"); the host's /proc is never used instead",
                source: e,
            });
        }
        tracing::debug!("private procfs unavailable ({e}), using the container's /proc");
        let root = rustix::fs::open(
            "/proc",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| LsmError::Proc {
            step: "open the container's /proc",
            source: e.into(),
        })?;
        let st = rustix::fs::fstat(&root).map_err(|e| LsmError::Proc {
            step: "stat the container's /proc",
            source: e.into(),
        })?;
        if !is_procfs(&root) || st.st_ino != PROC_ROOT_INO {
            return Err(LsmError::NotProcfs {
                path: "/proc".to_string(),
            });
        }
        Ok(ProcFs {
            root,
            private: false,
        })
    }

    /// The `self/fd` directory (`O_PATH`), to reopen one of our own fds with another mode.
    pub(crate) fn self_fd_dir(&self) -> io::Result<OwnedFd> {
        let fd = rustix::fs::openat(
            &self.root,
            "self/fd",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(fd)
    }

    /// The fds of this process, from its `self/fd` (the procfs's own handles excluded).
    pub(crate) fn self_fds(&self) -> io::Result<Vec<u32>> {
        let dir = self
            .open_file("self/fd", OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(io::Error::other)?;
        let skip = [self.root.as_raw_fd(), dir.as_raw_fd()];
        let mut fds = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            if let Some(fd) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|fd| !skip.contains(&(*fd as i32)))
            {
                fds.push(fd);
            }
        }
        Ok(fds)
    }

    /// Opens `path` (relative to the procfs root) without crossing mounts or following magic
    /// links, and checks that the file is on procfs.
    pub(crate) fn open_file(&self, path: &str, flags: OFlags) -> Result<OwnedFd, LsmError> {
        let fd = rustix::fs::openat2(
            &self.root,
            path,
            flags | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
            ResolveFlags::NO_XDEV | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| LsmError::Open {
            path: path.to_string(),
            source: e.into(),
        })?;
        if !is_procfs(&fd) {
            return Err(LsmError::NotProcfs {
                path: format!("/proc/{path}"),
            });
        }
        Ok(fd)
    }

    /// Writes `value` in one `write(2)` to the first of `paths` that exists.
    pub(crate) fn write_attr(&self, paths: &[&str], value: &str) -> Result<(), LsmError> {
        let mut last = None;
        for path in paths {
            match self.open_file(path, OFlags::WRONLY) {
                Ok(fd) => {
                    let write_err = |source: io::Error| LsmError::Write {
                        path: (*path).to_string(),
                        value: value.to_string(),
                        source,
                    };
                    let n = rustix::io::write(&fd, value.as_bytes())
                        .map_err(|e| write_err(e.into()))?;
                    if n != value.len() {
                        return Err(write_err(io::Error::other("short write")));
                    }
                    return Ok(());
                }
                Err(LsmError::Open { path, source })
                    if source.raw_os_error() == Some(libc::ENOENT) =>
                {
                    last = Some(LsmError::Open { path, source });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(LsmError::Proc {
            step: "no attribute path",
            source: io::Error::from_raw_os_error(libc::ENOENT),
        }))
    }

    /// Reads a small procfs file.
    #[cfg(test)]
    pub(crate) fn read(&self, path: &str) -> Result<String, LsmError> {
        let fd = self.open_file(path, OFlags::RDONLY)?;
        let mut buf = vec![0u8; 4096];
        let n = rustix::io::read(&fd, &mut buf).map_err(|e| LsmError::Open {
            path: path.to_string(),
            source: e.into(),
        })?;
        buf.truncate(n);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn is_procfs(fd: impl AsFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|s| s.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

/// A new procfs instance as a detached mount (only the pid-related entries).
fn private_procfs() -> io::Result<OwnedFd> {
    let fs = rustix::mount::fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)?;
    // Older kernels do not know subset=pid: the full procfs is as good here.
    let _ = rustix::mount::fsconfig_set_string(&fs, "subset", "pid");
    rustix::mount::fsconfig_create(&fs)?;
    let mnt = rustix::mount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )?;
    if !is_procfs(&mnt) {
        return Err(io::Error::other("fsmount(proc) is not a procfs"));
    }
    Ok(mnt)
}

/// Whether AppArmor is enabled (`/sys/module/apparmor/parameters/enabled` is `Y`), as runc.
pub(crate) fn apparmor_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// Whether SELinux is enabled: selinuxfs is mounted on `/sys/fs/selinux` or registered in
/// `/proc/filesystems` (the kernel only registers it when SELinux is enabled at boot).
pub(crate) fn selinux_enabled() -> bool {
    let mounted = rustix::fs::statfs("/sys/fs/selinux")
        .is_ok_and(|s| s.f_type & 0xffff_ffff == SELINUX_MAGIC);
    mounted
        || std::fs::read_to_string("/proc/filesystems").is_ok_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().last() == Some("selinuxfs"))
        })
}

/// Sets the AppArmor profile the next `execve` switches to: writes `exec <profile>` to
/// `/proc/thread-self/attr/apparmor/exec` (or `attr/exec` on kernels without LSM stacking).
/// An empty profile does nothing.
pub(crate) fn apply_apparmor(profile: &str, policy: ProcPolicy) -> Result<(), LsmError> {
    if profile.is_empty() {
        return Ok(());
    }
    if !apparmor_enabled() {
        return Err(LsmError::NotEnabled {
            lsm: "AppArmor",
            value: profile.to_string(),
        });
    }
    ProcFs::open_with(policy)?.write_attr(
        &["thread-self/attr/apparmor/exec", "thread-self/attr/exec"],
        &format!("exec {profile}"),
    )
}

/// Sets the SELinux label the next `execve` switches to (`/proc/thread-self/attr/exec`). An
/// empty label does nothing.
pub(crate) fn apply_selinux_exec_label(label: &str, policy: ProcPolicy) -> Result<(), LsmError> {
    if label.is_empty() {
        return Ok(());
    }
    if !selinux_enabled() {
        return Err(LsmError::NotEnabled {
            lsm: "SELinux",
            value: label.to_string(),
        });
    }
    ProcFs::open_with(policy)?.write_attr(&["thread-self/attr/exec"], label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_procfs_reads_own_status() {
        let p = ProcFs::open().unwrap();
        assert!(p.private, "running as root, fsopen(proc) should work");
        let status = p.read("thread-self/status").unwrap();
        let pid = std::process::id().to_string();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("Tgid:") && l.ends_with(&pid)),
            "{status}"
        );
    }

    /// Without the privilege to make a private procfs, `open` fails clearly: it never falls back
    /// to the mounted `/proc` (which, before the pivot, is the host's); only a caller that runs
    /// in the container's root may use the mounted one.
    #[test]
    fn no_private_procfs_is_an_error_not_the_host_proc() {
        if !crate::security::child::in_child() {
            crate::security::child::run_in_child(
                "security::lsm::tests::no_private_procfs_is_an_error_not_the_host_proc",
            );
            return;
        }
        let mut sets = rustix::thread::capabilities(None).unwrap();
        sets.effective
            .remove(rustix::thread::CapabilitySet::SYS_ADMIN);
        rustix::thread::set_capabilities(None, sets).unwrap();
        let e = ProcFs::open().unwrap_err();
        assert!(matches!(e, LsmError::Proc { .. }), "{e}");
        assert!(e.to_string().contains("never used"), "{e}");
        let p = ProcFs::open_with(ProcPolicy::PrivateOrContainer).unwrap();
        assert!(!p.private);
    }

    #[test]
    fn magic_links_are_refused() {
        let p = ProcFs::open().unwrap();
        let e = p.open_file("self/exe", OFlags::RDONLY).unwrap_err();
        assert!(matches!(e, LsmError::Open { .. }), "{e}");
    }

    #[test]
    fn labels_fail_clearly_without_the_lsm() {
        // This host runs neither AppArmor nor SELinux (checked here, so the test cannot pass
        // vacuously on a host that does).
        if !apparmor_enabled() {
            let e = apply_apparmor("lashing-test", ProcPolicy::PrivateOnly).unwrap_err();
            assert!(matches!(e, LsmError::NotEnabled { .. }));
            assert_eq!(
                e.to_string(),
                "AppArmor is not enabled on this host: cannot apply \"lashing-test\""
            );
        }
        if !selinux_enabled() {
            let e = apply_selinux_exec_label(
                "system_u:system_r:container_t:s0",
                ProcPolicy::PrivateOnly,
            )
            .unwrap_err();
            assert!(e.to_string().starts_with("SELinux is not enabled"), "{e}");
        }
        assert!(
            apparmor_enabled() || selinux_enabled() || {
                // Neither: empty labels are still no-ops.
                apply_apparmor("", ProcPolicy::PrivateOnly).is_ok()
                    && apply_selinux_exec_label("", ProcPolicy::PrivateOnly).is_ok()
            }
        );
    }

    /// An overmount on the attribute path is not followed (the CVE-2019-16884 pattern): a file
    /// bind-mounted over `/proc/self/attr/exec` of the mounted `/proc` is invisible to the
    /// private procfs, and the fallback refuses to cross it.
    #[test]
    fn overmounted_attr_is_not_written() {
        if !crate::security::child::in_child() {
            crate::security::child::run_in_child(
                "security::lsm::tests::overmounted_attr_is_not_written",
            );
            return;
        }
        crate::sys::process::unshare(libc::CLONE_NEWNS as u64).unwrap();
        rustix::mount::mount_change(
            "/",
            rustix::mount::MountPropagationFlags::PRIVATE
                | rustix::mount::MountPropagationFlags::REC,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake");
        std::fs::write(&fake, "").unwrap();
        let target = format!("/proc/{}/attr/exec", std::process::id());
        rustix::mount::mount_bind(&fake, &target).unwrap();
        // The mounted /proc now shows the fake file...
        let via_proc = rustix::fs::statfs(target.as_str()).unwrap();
        assert_ne!(via_proc.f_type, rustix::fs::PROC_SUPER_MAGIC);
        // ... the private procfs does not.
        let p = ProcFs::open().unwrap();
        let path = format!("{}/attr/exec", std::process::id());
        assert!(is_procfs(p.open_file(&path, OFlags::RDONLY).unwrap()));
        // And the /proc fallback refuses to cross the bind mount.
        let root =
            rustix::fs::open("/proc", OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let mounted = ProcFs {
            root,
            private: false,
        };
        let e = mounted.open_file(&path, OFlags::RDONLY).unwrap_err();
        match e {
            LsmError::Open { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::EXDEV)),
            other => panic!("unexpected {other}"),
        }
    }
}
