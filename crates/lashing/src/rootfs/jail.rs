//! Root preparation and the jail: `pivot_root`, `MS_MOVE`+`chroot`, or `chroot`.

use std::os::fd::BorrowedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, MoveMountFlags, UnmountFlags};

use super::error::{Result, RootfsError};
use super::inroot::Root;
use super::options::{
    MS_PRIVATE, MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE, host_proc_sys_mounts,
};
use crate::config::Config;

fn propagation(flags: u64) -> MountPropagationFlags {
    MountPropagationFlags::from_bits_retain(flags as u32)
}

/// runc's `prepareRoot`: the root propagation (default `rslave`) on `/`, the rootfs's parent
/// mount private, and the rootfs bind-mounted onto itself (so that it is a mount point).
pub(crate) fn prepare_root(config: &Config, rootfs: &Path) -> Result<()> {
    let flags = if !config.root_propagation.is_empty() {
        config.root_propagation.bits()
    } else {
        MS_SLAVE | MS_REC
    };
    rustix::mount::mount_change("/", propagation(flags))
        .map_err(|e| RootfsError::sys("root propagation", "/", e))?;
    let mut p = rootfs;
    loop {
        match rustix::mount::mount_change(p, propagation(MS_PRIVATE)) {
            Ok(()) => break,
            Err(Errno::INVAL) if p != Path::new("/") => {
                p = p.parent().unwrap_or(Path::new("/"));
            }
            Err(e) => {
                return Err(RootfsError::sys(
                    "rootfs parent propagation",
                    p.display(),
                    e,
                ));
            }
        }
    }
    rustix::mount::mount_bind_recursive(rootfs, rootfs)
        .map_err(|e| RootfsError::sys("bind rootfs", rootfs.display(), e))
}

/// Attaches the protected executable's detached mount `exe` at `target` (the binary's path, on a
/// mount made a slave or private by [`prepare_root`]), outside the rootfs, so that
/// [`pivot_root`]'s unmount of the old root takes it too (`container::exe`). A target inside the
/// rootfs, where the container would see it, is refused with `EXDEV` (nothing is attached).
pub(crate) fn attach_exe(
    root: &Root,
    exe: BorrowedFd<'_>,
    target: &Path,
) -> rustix::io::Result<()> {
    if target.starts_with(&root.host) || !target.is_absolute() {
        return Err(Errno::XDEV);
    }
    rustix::mount::move_mount(
        exe,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
}

/// `pivot_root(".", ".")` from the root, then detach the old root stacked on top.
pub(crate) fn pivot_root(root: &Root) -> Result<()> {
    let err = |step: &'static str| move |e: Errno| RootfsError::sys(step, root.host.display(), e);
    let oldroot = rustix::fs::open(
        "/",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err("open old root"))?;
    rustix::process::fchdir(&root.fd).map_err(err("chdir rootfs"))?;
    rustix::process::pivot_root(".", ".").map_err(err("pivot_root"))?;
    // "." is now the old root, stacked on top of the new one.
    rustix::process::fchdir(&oldroot).map_err(err("chdir old root"))?;
    rustix::mount::mount_change(".", propagation(MS_SLAVE | MS_REC))
        .map_err(err("old root propagation"))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(err("unmount old root"))?;
    rustix::process::chdir("/").map_err(err("chdir /"))
}

/// `--no-pivot`: hide the full host proc/sysfs mounts, `MS_MOVE` the rootfs onto `/` and chroot.
pub(crate) fn move_root(root: &Root) -> Result<()> {
    let err = |step: &'static str| move |e: Errno| RootfsError::sys(step, root.host.display(), e);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| RootfsError::sys("read mountinfo", "/proc/self/mountinfo", e))?;
    for mp in host_proc_sys_mounts(&mountinfo, &root.host) {
        // A slave first (as runc's msMoveRoot): with a shared root propagation the unmount or the
        // cover would otherwise propagate to the host's own /proc and /sys.
        match rustix::mount::mount_change(&mp, propagation(MS_SLAVE | MS_REC)) {
            Ok(()) => {}
            Err(Errno::NOENT) => continue,
            Err(e) => {
                return Err(RootfsError::sys(
                    "make host procfs a slave",
                    mp.display(),
                    e,
                ));
            }
        }
        match rustix::mount::unmount(&mp, UnmountFlags::DETACH) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(Errno::INVAL | Errno::PERM) => {
                rustix::mount::mount("tmpfs", &mp, "tmpfs", MountFlags::empty(), None)
                    .map_err(|e| RootfsError::sys("cover host procfs", mp.display(), e))?;
            }
            Err(e) => return Err(RootfsError::sys("unmount host procfs", mp.display(), e)),
        }
    }
    rustix::process::fchdir(&root.fd).map_err(err("chdir rootfs"))?;
    rustix::mount::mount_move(".", "/").map_err(err("move rootfs"))?;
    rustix::process::chroot(".").map_err(err("chroot"))?;
    rustix::process::chdir("/").map_err(err("chdir /"))
}

/// No mount namespace: plain `chroot`.
pub(crate) fn chroot(root: &Root) -> Result<()> {
    let err = |step: &'static str| move |e: Errno| RootfsError::sys(step, root.host.display(), e);
    rustix::process::fchdir(&root.fd).map_err(err("chdir rootfs"))?;
    rustix::process::chroot(".").map_err(err("chroot"))?;
    rustix::process::chdir("/").map_err(err("chdir /"))
}

/// After the jail: a shared or unbindable root propagation is applied to the new `/`.
pub(crate) fn apply_root_propagation(config: &Config) -> Result<()> {
    let f = config.root_propagation.bits();
    if f & (MS_SHARED | MS_UNBINDABLE) != 0 {
        rustix::mount::mount_change("/", propagation(f))
            .map_err(|e| RootfsError::sys("root propagation", "/", e))?;
    }
    Ok(())
}
