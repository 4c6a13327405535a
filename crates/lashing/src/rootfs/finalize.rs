//! After the pivot: read-only remounts, read-only paths and masked paths.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use super::error::{Result, RootfsError};
use super::inroot::{Root, fd_path, is_errno};
use super::mounts::{DeferredRo, attach, clone_tree, mount_fs_at};
use super::options::{
    MS_BIND, MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_RELATIME,
    MS_REMOUNT, MS_STRICTATIME, clean_path,
};
use crate::config::Config;
use crate::sys::mount::{AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, MountAttr, mount_setattr};

const RDONLY: MountAttr = MountAttr {
    attr_set: MOUNT_ATTR_RDONLY,
    attr_clr: 0,
    propagation: 0,
};

/// Makes the mount whose root `fd` is read-only (keeping its other flags).
fn remount_ro(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let err = |e: io::Error| RootfsError::sys("remount read-only", path.display(), e);
    match mount_setattr(fd, c"", AT_EMPTY_PATH, &RDONLY) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::ENOSYS) => {
            // Old kernels: MS_REMOUNT|MS_BIND|MS_RDONLY with the mount's current flags, retried on
            // EBUSY as runc does.
            let sv = rustix::fs::fstatvfs(fd).map_err(|e| err(e.into()))?;
            let keep = sv.f_flag.bits()
                & (MS_NOSUID
                    | MS_NODEV
                    | MS_NOEXEC
                    | MS_NOATIME
                    | MS_NODIRATIME
                    | MS_RELATIME
                    | MS_STRICTATIME);
            let flags = rustix::mount::MountFlags::from_bits_retain(
                (MS_REMOUNT | MS_BIND | MS_RDONLY | keep) as u32,
            );
            let mut tries = 0;
            loop {
                match rustix::mount::mount("", fd_path(fd), "", flags, None) {
                    Ok(()) => return Ok(()),
                    Err(rustix::io::Errno::BUSY) if tries < 5 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    Err(e) => return Err(err(e.into())),
                }
            }
        }
        Err(e) => Err(err(e)),
    }
}

/// runc's `finalizeRootfs` followed by its read-only paths and masked paths (see the module doc
/// of [`super`] for the order relative to hostname and sysctls).
pub(crate) fn finalize_rootfs(config: &Config, deferred_ro: Vec<DeferredRo>) -> Result<()> {
    let root = Root::open(Path::new("/"))?;
    // The tmpfs (and /dev) mounts flagged read-only, through the fds taken when they were
    // mounted: never re-resolved by path, so a later mount over the same path (or a symlink
    // swapped in) cannot redirect the remount to another mount.
    for d in deferred_ro {
        remount_ro(d.fd.as_fd(), &d.dest)?;
    }
    if config.readonly_rootfs {
        remount_ro(root.fd.as_fd(), Path::new("/"))?;
    }
    for p in &config.readonly_paths {
        readonly_path(&root, &clean_path(p))?;
    }
    mask_paths(&root, &config.masked_paths)
}

/// Bind-mounts `path` onto itself (recursively) and makes the top mount read-only, keeping
/// nosuid/nodev/noexec. A missing path is skipped.
fn readonly_path(root: &Root, path: &Path) -> Result<()> {
    let err = |e: io::Error| RootfsError::sys("readonly path", path.display(), e);
    let fd = match root.open_path(path) {
        Ok(fd) => fd,
        Err(e) if is_errno(&e, libc::ENOENT) => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    let tree = clone_tree(fd.as_fd(), Path::new(""), true).map_err(err)?;
    mount_setattr(tree.as_fd(), c"", AT_EMPTY_PATH, &RDONLY).map_err(err)?;
    attach(tree.as_fd(), fd.as_fd()).map_err(err)
}

/// Opens the container's `/dev/null` and checks that it is the real one (char 1:3,
/// CVE-2025-31133).
fn open_dev_null(root: &Root) -> Result<OwnedFd> {
    let fd = root
        .open_path(Path::new("/dev/null"))
        .map_err(|e| RootfsError::sys("mask paths", "/dev/null", e))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| RootfsError::sys("mask paths", "/dev/null", e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice
        || rustix::fs::major(st.st_rdev) != 1
        || rustix::fs::minor(st.st_rdev) != 3
    {
        return Err(RootfsError::invalid(
            "mask paths",
            "/dev/null",
            "is not the null device (char 1:3)",
        ));
    }
    Ok(fd)
}

/// Masks each path: files get `/dev/null` bind-mounted through its fd, directories a read-only
/// tmpfs (`nr_blocks=1,nr_inodes=1`; the first one is cloned for the others). Missing paths and
/// duplicates are skipped.
fn mask_paths(root: &Root, paths: &[PathBuf]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let dev_null = open_dev_null(root)?;
    let mut seen = HashSet::new();
    let mut first_dir: Option<PathBuf> = None;
    for p in paths {
        let path = clean_path(p);
        if !seen.insert(path.clone()) {
            continue;
        }
        let err = |e: io::Error| RootfsError::sys("mask path", path.display(), e);
        let fd = match root.open_path(&path) {
            Ok(fd) => fd,
            // Missing (or under a file, ENOTDIR): nothing to mask, as runc.
            Err(e) if is_errno(&e, libc::ENOENT) || is_errno(&e, libc::ENOTDIR) => continue,
            Err(e) => return Err(err(e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| err(e.into()))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let cloned = first_dir
                .as_ref()
                .and_then(|first| root.open_path(first).ok())
                .and_then(|f| clone_tree(f.as_fd(), Path::new(""), false).ok());
            match cloned {
                Some(tree) => attach(tree.as_fd(), fd.as_fd()).map_err(err)?,
                None => {
                    mount_fs_at(
                        "tmpfs",
                        "tmpfs",
                        "nr_blocks=1,nr_inodes=1",
                        MS_RDONLY,
                        fd.as_fd(),
                    )
                    .or_else(|_| {
                        mount_fs_at(
                            "tmpfs",
                            "tmpfs",
                            "nr_blocks=1,nr_inodes=2",
                            MS_RDONLY,
                            fd.as_fd(),
                        )
                    })
                    .map_err(err)?;
                    first_dir = Some(path.clone());
                }
            }
        } else {
            let tree = clone_tree(dev_null.as_fd(), Path::new(""), false).map_err(err)?;
            attach(tree.as_fd(), fd.as_fd()).map_err(err)?;
        }
    }
    Ok(())
}
