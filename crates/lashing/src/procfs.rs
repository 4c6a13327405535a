//! The runtime's only way into procfs: which procfs a caller may use, and how it is verified.
//!
//! Files in procfs steer the kernel (LSM labels, sysctls, `oom_score_adj`) or hand out fds
//! (`self/fd/N`), so a hostile image that fakes or overmounts `/proc` could redirect the
//! runtime's writes (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561, CVE-2025-52881). The policy:
//!
//! - **Which procfs**: a private instance first: a fresh, detached procfs mount
//!   (`fsopen("proc")` + `fsmount`, `nosuid,nodev,noexec`, `subset=pid` unless the caller needs
//!   `sys/`) that no other process can reach or mount over. When the kernel refuses one (no
//!   `CAP_SYS_ADMIN` over the pid namespace, or a procfs that is not fully visible in a user
//!   namespace), the caller's [`ProcPolicy`] says whether the mounted `/proc` may be used
//!   instead: never before the pivot (it is the host's, seen from the container's namespaces);
//!   the container's after the pivot; the host's only in the runtime's own process on the host.
//!   There is no silent fallback: a refused private instance under [`ProcPolicy::PrivateOnly`]
//!   is an error.
//! - **Verified how**: the private mount is checked with `fstatfs` to be a procfs; a mounted
//!   `/proc` is opened without following symlinks and must be the *root* of a procfs
//!   (`PROC_SUPER_MAGIC`, inode 1: nothing mounted over it). Every file is opened with
//!   `openat2(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS)` from that root (nothing mounted on its
//!   path is crossed) and checked with `fstatfs` to be a procfs file. An fd reopened through
//!   `self/fd/N` must be the same file (device and inode) as the fd it came from.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

/// Inode number of the root directory of a procfs.
const PROC_ROOT_INO: u64 = 1;

/// A failure to open or use a verified procfs: which step, which path under the procfs root,
/// and the cause.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcError {
    /// No private procfs instance, and the policy allows nothing else.
    #[error("open a private procfs (fsopen(\"proc\")); the host's /proc is never used instead")]
    NoPrivate {
        /// Why `fsopen`/`fsmount` failed.
        #[source]
        source: io::Error,
    },
    /// The mounted `/proc` could not be opened or examined.
    #[error("{step} /proc")]
    Mounted {
        /// What failed (`open`, `stat`, `statfs`).
        step: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The mounted `/proc` is not the root of a procfs (something is mounted over it).
    #[error("/proc is not the root of a procfs (possible /proc overmount attack)")]
    NotProcRoot,
    /// A file that should be in procfs is on another file system.
    #[error("/proc/{path} is not on procfs (possible /proc overmount attack)")]
    NotProcfs {
        /// The path under the procfs root.
        path: String,
    },
    /// Opening a file under the procfs root failed.
    #[error("open /proc/{path}")]
    Open {
        /// The path under the procfs root.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading a file failed.
    #[error("read /proc/{path}")]
    Read {
        /// The path under the procfs root.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing a value failed.
    #[error("write {value:?} to /proc/{path}")]
    Write {
        /// The path under the procfs root.
        path: String,
        /// What was written.
        value: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// What `self/fd/N` opened is not the file fd `N` refers to.
    #[error("/proc/self/fd/{fd} is not the file of fd {fd} (was /proc replaced?)")]
    NotSameFile {
        /// The fd that was reopened.
        fd: i32,
    },
}

impl ProcError {
    /// The failure as an `io::Error` for callers that report an errno: the error of the system
    /// call on the file (its errno kept), else this error (which names the procfs step).
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            ProcError::Open { source, .. }
            | ProcError::Read { source, .. }
            | ProcError::Write { source, .. } => source,
            e => io::Error::other(e),
        }
    }
}

/// Which procfs a caller may use when a private instance is refused. Chosen by where the
/// caller runs, never by what happens to be mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Every policy tries a private instance first; the names say what, if anything, comes next.
#[allow(clippy::enum_variant_names)]
pub(crate) enum ProcPolicy {
    /// Only a private procfs instance: anywhere, before or after the pivot (init before the
    /// pivot, or without a mount namespace, where the mounted `/proc` is not the container's).
    PrivateOnly,
    /// A private procfs, or else the `/proc` mounted in the current root, verified to be the
    /// root of a procfs. Only for callers whose root and mount namespace are the container's
    /// (init after `pivot_root`, or a process that joined the container's mount namespace).
    PrivateOrContainer,
    /// A private procfs, or else the host's `/proc`, verified to be the root of a procfs. Only
    /// for the runtime's own process on the host (the parent side of the bootstrap), never in
    /// a container's init.
    PrivateOrHost,
}

impl ProcPolicy {
    /// The policy of a process in the container's root: past `pivot_root` (or the join of the
    /// container's mount namespace) the mounted `/proc` is the container's; without a mount
    /// namespace it could be anything of the host's, so only a private instance.
    pub(crate) fn in_container_root(has_mount_ns: bool) -> ProcPolicy {
        if has_mount_ns {
            ProcPolicy::PrivateOrContainer
        } else {
            ProcPolicy::PrivateOnly
        }
    }
}

/// What a procfs handle shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contents {
    /// The process directories only (`subset=pid` where the kernel knows it): `self`,
    /// `thread-self`, `<pid>`.
    Pids,
    /// Everything, `sys/` included (sysctls).
    All,
}

/// Where a [`ProcFs`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A private, detached procfs instance.
    Private,
    /// The `/proc` mounted in the current root, verified (as the policy allowed).
    Mounted,
}

/// A verified handle on the root of a procfs (see the module doc).
#[derive(Debug)]
pub(crate) struct ProcFs {
    root: OwnedFd,
    /// Where it came from (tests check it).
    #[cfg_attr(not(test), allow(dead_code))]
    source: Source,
}

impl ProcFs {
    /// A private procfs instance of the process directories (never the mounted `/proc`).
    pub(crate) fn open() -> Result<ProcFs, ProcError> {
        ProcFs::open_with(ProcPolicy::PrivateOnly)
    }

    /// A procfs of the process directories as `policy` allows.
    pub(crate) fn open_with(policy: ProcPolicy) -> Result<ProcFs, ProcError> {
        ProcFs::open_as(policy, Contents::Pids)
    }

    /// A procfs showing `contents` as `policy` allows: a private instance first, the mounted
    /// `/proc` (verified) only when the policy names it.
    pub(crate) fn open_as(policy: ProcPolicy, contents: Contents) -> Result<ProcFs, ProcError> {
        let e = match private_procfs(contents) {
            Ok(root) => {
                return Ok(ProcFs {
                    root,
                    source: Source::Private,
                });
            }
            Err(e) => e,
        };
        if policy == ProcPolicy::PrivateOnly {
            return Err(ProcError::NoPrivate { source: e });
        }
        tracing::debug!("private procfs unavailable ({e}), using the mounted /proc ({policy:?})");
        Ok(ProcFs {
            root: open_mounted_root()?,
            source: Source::Mounted,
        })
    }

    /// The `/proc` mounted in the current root, verified to be the root of a procfs, with no
    /// private instance tried first: only for the runtime's own process on the host reading
    /// (never writing) its own files, where a private instance would cost a mount, and its
    /// release an expedited RCU grace period of the kernel, for nothing. What it reads is as
    /// verified as through a private instance (the root is a procfs root, nothing mounted on
    /// the path is crossed, the file is on procfs); only the pid namespace differs where the
    /// runtime's `/proc` is not of its own (then `self` is missing: the caller falls back to
    /// [`ProcFs::open_with`]).
    pub(crate) fn mounted() -> Result<ProcFs, ProcError> {
        Ok(ProcFs {
            root: open_mounted_root()?,
            source: Source::Mounted,
        })
    }

    /// Where this handle came from.
    #[cfg(test)]
    pub(crate) fn source(&self) -> Source {
        self.source
    }

    /// Opens `path` (relative to the procfs root) without crossing mounts or following magic
    /// links, and checks that the file is on procfs.
    pub(crate) fn open_file(&self, path: &str, flags: OFlags) -> Result<OwnedFd, ProcError> {
        self.open_resolved(path, flags, ResolveFlags::empty())
    }

    /// [`ProcFs::open_file`] with more resolve flags (`RESOLVE_BENEATH`, `RESOLVE_NO_SYMLINKS`).
    pub(crate) fn open_resolved(
        &self,
        path: &str,
        flags: OFlags,
        resolve: ResolveFlags,
    ) -> Result<OwnedFd, ProcError> {
        let fd =
            open_beneath(self.root.as_fd(), path, flags, resolve).map_err(|e| ProcError::Open {
                path: path.to_string(),
                source: e,
            })?;
        if !is_procfs(&fd) {
            return Err(ProcError::NotProcfs {
                path: path.to_string(),
            });
        }
        Ok(fd)
    }

    /// The `self/fd` directory (`O_PATH`), to reopen fds of this process later.
    pub(crate) fn self_fd_dir(&self) -> Result<SelfFdDir, ProcError> {
        self.open_file("self/fd", OFlags::PATH | OFlags::DIRECTORY)
            .map(SelfFdDir)
    }

    /// Reopens one of this process's fds (usually `O_PATH`) with `flags` through `self/fd/N`;
    /// the result must be the same file.
    pub(crate) fn reopen(&self, fd: BorrowedFd<'_>, flags: OFlags) -> Result<OwnedFd, ProcError> {
        self.self_fd_dir()?.reopen(fd, flags)
    }

    /// The fds of this process, from its `self/fd` (the procfs's own handles excluded).
    pub(crate) fn self_fds(&self) -> Result<Vec<u32>, ProcError> {
        let dir = self.open_file("self/fd", OFlags::RDONLY | OFlags::DIRECTORY)?;
        let read_err = |e: io::Error| ProcError::Read {
            path: "self/fd".to_string(),
            source: e,
        };
        let skip = [self.root.as_raw_fd(), dir.as_raw_fd()];
        let mut fds = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir).map_err(|e| read_err(e.into()))? {
            let entry = entry.map_err(|e| read_err(e.into()))?;
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

    /// Writes `value` in one `write(2)` to the first of `paths` that exists.
    pub(crate) fn write_attr(&self, paths: &[&str], value: &str) -> Result<(), ProcError> {
        let mut last = None;
        for path in paths {
            match self.open_file(path, OFlags::WRONLY) {
                Ok(fd) => return write_once(&fd, path, value),
                Err(ProcError::Open { path, source })
                    if source.raw_os_error() == Some(libc::ENOENT) =>
                {
                    last = Some(ProcError::Open { path, source });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(ProcError::Open {
            path: String::new(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        }))
    }

    /// Writes `value` to `<pid>/<name>` (a process of this procfs's pid namespace).
    pub(crate) fn write_pid_file(
        &self,
        pid: i32,
        name: &str,
        value: &str,
    ) -> Result<(), ProcError> {
        self.write_attr(&[&format!("{pid}/{name}")], value)
    }

    /// Reads a small procfs file (one `read(2)` of at most 4 KiB).
    pub(crate) fn read(&self, path: &str) -> Result<String, ProcError> {
        let fd = self.open_file(path, OFlags::RDONLY)?;
        let mut buf = vec![0u8; 4096];
        let n = rustix::io::read(&fd, &mut buf).map_err(|e| ProcError::Read {
            path: path.to_string(),
            source: e.into(),
        })?;
        buf.truncate(n);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

/// `self/fd` of a verified procfs (`O_PATH`), kept to reopen an fd later.
#[derive(Debug)]
pub(crate) struct SelfFdDir(OwnedFd);

impl SelfFdDir {
    /// Reopens `fd` with `flags` through `self/fd/N` and checks that the result is the same file
    /// (device and inode). Blocks as `open(2)` does (a fifo until its other end is opened).
    pub(crate) fn reopen(&self, fd: BorrowedFd<'_>, flags: OFlags) -> Result<OwnedFd, ProcError> {
        let n = fd.as_raw_fd().to_string();
        reopened(
            fd,
            rustix::fs::openat(&self.0, n.as_str(), flags | OFlags::CLOEXEC, Mode::empty()),
        )
    }
}

/// What reopening `fd` through `self/fd/N` gave, checked to be the same file as `fd`.
fn reopened(fd: BorrowedFd<'_>, opened: rustix::io::Result<OwnedFd>) -> Result<OwnedFd, ProcError> {
    let new = opened.map_err(|e| ProcError::Open {
        path: format!("self/fd/{}", fd.as_raw_fd()),
        source: e.into(),
    })?;
    check_same_file(fd, new.as_fd())?;
    Ok(new)
}

/// Reopens `fd` with `flags` through `self/fd/N` of the container's mounted `/proc`, verified
/// first to be the root of a procfs, then walked by path (`/proc/self/fd/N`), so that no procfs
/// handle is held while the open blocks (init waiting on the exec fifo). The result must be the
/// same file. Only for a caller in the container's root and mount namespace
/// ([`ProcPolicy::PrivateOrContainer`] without the private instance).
pub(crate) fn reopen_through_container_proc(
    fd: BorrowedFd<'_>,
    flags: OFlags,
) -> Result<OwnedFd, ProcError> {
    drop(open_mounted_root()?);
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    reopened(
        fd,
        rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::empty()),
    )
}

fn check_same_file(want: BorrowedFd<'_>, got: BorrowedFd<'_>) -> Result<(), ProcError> {
    match (rustix::fs::fstat(want), rustix::fs::fstat(got)) {
        (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) => Ok(()),
        _ => Err(ProcError::NotSameFile {
            fd: want.as_raw_fd(),
        }),
    }
}

/// Writes `value` in one `write(2)`.
fn write_once(fd: &OwnedFd, path: &str, value: &str) -> Result<(), ProcError> {
    let write_err = |source: io::Error| ProcError::Write {
        path: path.to_string(),
        value: value.to_string(),
        source,
    };
    let n = rustix::io::write(fd, value.as_bytes()).map_err(|e| write_err(e.into()))?;
    if n != value.len() {
        return Err(write_err(io::Error::other("short write")));
    }
    Ok(())
}

/// `openat2` below `dir` without crossing mounts or following magic links, retried on the
/// EAGAIN of a racing rename or mount.
fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &str,
    flags: OFlags,
    resolve: ResolveFlags,
) -> io::Result<OwnedFd> {
    let resolve = resolve | ResolveFlags::NO_XDEV | ResolveFlags::NO_MAGICLINKS;
    // openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
    let flags = if flags.contains(OFlags::PATH) {
        flags | OFlags::CLOEXEC
    } else {
        flags | OFlags::CLOEXEC | OFlags::NOCTTY
    };
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dir, path, flags, Mode::empty(), resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < 64 => tries += 1,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Whether `fd` is on a procfs.
pub(crate) fn is_procfs(fd: impl AsFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|s| s.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

/// The `/proc` mounted in the current root, checked to be the root of a procfs.
fn open_mounted_root() -> Result<OwnedFd, ProcError> {
    let mounted = |step| {
        move |e: rustix::io::Errno| ProcError::Mounted {
            step,
            source: e.into(),
        }
    };
    let root = rustix::fs::open(
        "/proc",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(mounted("open"))?;
    let st = rustix::fs::fstat(&root).map_err(mounted("stat"))?;
    if !is_procfs(&root) || st.st_ino != PROC_ROOT_INO {
        return Err(ProcError::NotProcRoot);
    }
    Ok(root)
}

/// A new procfs instance as a detached mount.
fn private_procfs(contents: Contents) -> io::Result<OwnedFd> {
    let fs = rustix::mount::fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)?;
    if contents == Contents::Pids {
        // Older kernels do not know subset=pid: the full procfs is as good here.
        let _ = rustix::mount::fsconfig_set_string(&fs, "subset", "pid");
    }
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

#[cfg(test)]
pub(crate) mod tests;
