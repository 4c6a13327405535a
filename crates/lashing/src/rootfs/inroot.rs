//! Path resolution inside the container root, by fd: every lookup is an `openat2` with
//! `RESOLVE_IN_ROOT` from the root's `O_PATH` fd, every creation is an `*at` call relative to the
//! directory fd that was just opened (CVE-2021-30465, CVE-2024-45310, CVE-2026-41579).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::error::{Result, RootfsError};
use super::options::{clean_components, clean_path, rel_path};

/// The resolve flags of every lookup inside the root.
const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);
/// The resolve flags of a lookup of one just-created component.
const BENEATH_NOFOLLOW: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// `openat2`, retried on the EAGAIN the kernel returns when a rename or mount raced with a
/// `RESOLVE_IN_ROOT`/`RESOLVE_BENEATH` lookup.
pub(crate) fn openat2_retry(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
) -> io::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dir, path, flags | OFlags::CLOEXEC, mode, resolve) {
            Err(Errno::AGAIN) if tries < 64 => tries += 1,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// The `/proc/self/fd/N` path of a descriptor (the magic link runc mounts through).
pub(crate) fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Whether an io::Error is this errno.
pub(crate) fn is_errno(e: &io::Error, errno: i32) -> bool {
    e.raw_os_error() == Some(errno)
}

/// The container's root directory: an `O_PATH` fd and its path in the current mount namespace
/// (`/` after the pivot).
pub(crate) struct Root {
    /// `O_PATH|O_DIRECTORY` fd of the root.
    pub fd: OwnedFd,
    /// The root's path (host view before the pivot).
    pub host: PathBuf,
}

impl Root {
    /// Opens the root at `host` (a trusted, canonical path).
    pub(crate) fn open(host: &Path) -> Result<Root> {
        let fd = rustix::fs::open(
            host,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RootfsError::sys("open rootfs", host.display(), e))?;
        Ok(Root {
            fd,
            host: host.to_path_buf(),
        })
    }

    /// Opens the container path `path` inside the root (`openat2` `RESOLVE_IN_ROOT`).
    pub(crate) fn open_at(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        openat2_retry(
            self.fd.as_fd(),
            &rel_path(path),
            flags,
            Mode::empty(),
            IN_ROOT,
        )
    }

    /// `O_PATH` open of `path` inside the root.
    pub(crate) fn open_path(&self, path: &Path) -> io::Result<OwnedFd> {
        self.open_at(path, OFlags::PATH)
    }

    /// Creates every missing directory of `path` inside the root, component by component, and
    /// returns an `O_PATH` fd of the last one. A dangling symlink on the way gets its target
    /// created (inside the root), as securejoin's `MkdirAll` does.
    pub(crate) fn mkdir_all(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        self.mkdir_all_depth(path, mode, 0)
    }

    fn mkdir_all_depth(&self, path: &Path, mode: u32, depth: u32) -> Result<OwnedFd> {
        let shown = clean_path(path);
        let err = |e: io::Error| RootfsError::sys("mkdir", shown.display(), e);
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY;
        match self.open_at(path, dir_flags) {
            Ok(fd) => return Ok(fd),
            Err(e) if is_errno(&e, libc::ENOENT) => {}
            Err(e) => return Err(err(e)),
        }
        let comps = clean_components(path);
        let mut dir = self.fd.try_clone().map_err(err)?;
        let mut i = 0;
        while i < comps.len() {
            let prefix: PathBuf = comps[..=i].iter().collect();
            match self.open_at(&prefix, dir_flags) {
                Ok(fd) => dir = fd,
                Err(e) if is_errno(&e, libc::ENOENT) => break,
                Err(e) => return Err(err(e)),
            }
            i += 1;
        }
        for (j, c) in comps.iter().enumerate().skip(i) {
            match rustix::fs::mkdirat(&dir, *c, Mode::from_raw_mode(mode)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(err(e.into())),
            }
            match openat2_retry(
                dir.as_fd(),
                Path::new(c),
                dir_flags | OFlags::NOFOLLOW,
                Mode::empty(),
                BENEATH_NOFOLLOW,
            ) {
                Ok(fd) => dir = fd,
                Err(e) => {
                    // Only a dangling symlink is followed; anything else is an error.
                    let Ok(target) = rustix::fs::readlinkat(&dir, *c, Vec::new()) else {
                        return Err(err(e));
                    };
                    if depth >= 40 {
                        return Err(err(io::Error::from_raw_os_error(libc::ELOOP)));
                    }
                    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                    let mut next = if target.is_absolute() {
                        target.to_path_buf()
                    } else {
                        self.container_path("mkdir", &shown, dir.as_fd())?
                            .join(target)
                    };
                    next.extend(&comps[j + 1..]);
                    return self.mkdir_all_depth(&next, mode, depth + 1);
                }
            }
        }
        Ok(dir)
    }

    /// The parent directory of `path` (created if missing) and the last component's name.
    pub(crate) fn parent_of(&self, step: &'static str, path: &Path) -> Result<(OwnedFd, OsString)> {
        let comps = clean_components(path);
        let Some((name, parent)) = comps.split_last() else {
            return Err(RootfsError::IsRoot {
                step,
                path: path.display().to_string(),
            });
        };
        let parent: PathBuf = parent.iter().collect();
        Ok((self.mkdir_all(&parent, 0o755)?, name.to_os_string()))
    }

    /// Creates an empty regular file at `path` inside the root (with its parents) unless
    /// something exists there, and returns an `O_PATH` fd of it.
    pub(crate) fn create_file(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        let shown = clean_path(path);
        match self.open_path(path) {
            Ok(fd) => return Ok(fd),
            Err(e) if is_errno(&e, libc::ENOENT) => {}
            Err(e) => return Err(RootfsError::sys("open", shown.display(), e)),
        }
        let (dir, name) = self.parent_of("create", path)?;
        create_file_at(dir.as_fd(), &name, mode)
            .map_err(|e| RootfsError::sys("create", shown.display(), e))
    }

    /// Opens `path` (`O_PATH`), creating it (a directory, or an empty file when `dir` is false)
    /// when missing.
    pub(crate) fn open_or_create(&self, path: &Path, dir: bool) -> Result<OwnedFd> {
        if dir {
            self.mkdir_all(path, 0o755)
        } else {
            self.create_file(path, 0o644)
        }
    }

    /// The container path an fd of this root refers to, checked to be inside the root (runc reads
    /// `/proc/self/fd/N`; the kernel keeps the link up to date with renames and mounts).
    pub(crate) fn container_path(
        &self,
        step: &'static str,
        path: &Path,
        fd: BorrowedFd<'_>,
    ) -> Result<PathBuf> {
        let link = rustix::fs::readlink(fd_path(fd), Vec::new())
            .map_err(|e| RootfsError::sys(step, path.display(), e))?;
        let host = PathBuf::from(OsStr::from_bytes(link.as_bytes()));
        match host.strip_prefix(&self.host) {
            Ok(rest) => Ok(Path::new("/").join(rest)),
            Err(_) => Err(RootfsError::OutsideRoot {
                step,
                path: path.display().to_string(),
                resolved: host.display().to_string(),
            }),
        }
    }

    /// [`Root::container_path`] for a mount target: it must also not be the root itself.
    pub(crate) fn mount_target(
        &self,
        step: &'static str,
        path: &Path,
        fd: BorrowedFd<'_>,
    ) -> Result<PathBuf> {
        let c = self.container_path(step, path, fd)?;
        if c == Path::new("/") {
            return Err(RootfsError::IsRoot {
                step,
                path: path.display().to_string(),
            });
        }
        Ok(c)
    }
}

/// Creates an empty regular file `name` in `dir` (kept if it exists, never following a symlink)
/// and returns an `O_PATH` fd of it.
pub(crate) fn create_file_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<OwnedFd> {
    // O_EXCL: never open (and so never trigger) an existing node; an existing entry is kept.
    match openat2_retry(
        dir,
        Path::new(name),
        OFlags::CREATE | OFlags::EXCL | OFlags::RDONLY | OFlags::NOFOLLOW,
        Mode::from_raw_mode(mode),
        BENEATH_NOFOLLOW,
    ) {
        Ok(f) => drop(f),
        Err(e) if is_errno(&e, libc::EEXIST) => {}
        Err(e) => return Err(e),
    }
    openat2_retry(
        dir,
        Path::new(name),
        OFlags::PATH | OFlags::NOFOLLOW,
        Mode::empty(),
        BENEATH_NOFOLLOW,
    )
}
