//! Hostname, domain name and sysctls (after the pivot).

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

use super::error::{Result, RootfsError};
use super::inroot::openat2_retry;
use super::options::sysctl_path;
use crate::config::Config;

/// Sets the hostname and the NIS domain name of the container's UTS namespace.
pub(crate) fn set_hostname(config: &Config) -> Result<()> {
    if let Some(h) = &config.hostname {
        rustix::system::sethostname(h.as_bytes())
            .map_err(|e| RootfsError::sys("sethostname", h, e))?;
    }
    if let Some(d) = &config.domainname {
        rustix::system::setdomainname(d.as_bytes())
            .map_err(|e| RootfsError::sys("setdomainname", d, e))?;
    }
    Ok(())
}

/// Resolve flags of every lookup below `/proc/sys`: no symlinks, no crossing into another mount
/// (so nothing mounted over a sysctl file can receive the write).
const SYSCTL_RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

fn is_procfs(fd: &OwnedFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|s| s.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

/// An `O_PATH` fd of `/proc/sys`: of a private, detached procfs instance when the kernel allows
/// one (nothing the container mounted can interfere with it), else of the container's `/proc`;
/// verified to be procfs either way.
fn open_proc_sys() -> Result<OwnedFd> {
    let private = || -> rustix::io::Result<OwnedFd> {
        let fs = rustix::mount::fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)?;
        rustix::mount::fsconfig_create(&fs)?;
        rustix::mount::fsmount(
            &fs,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
    };
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY;
    let fd = match private() {
        Ok(mnt) => openat2_retry(
            mnt.as_fd(),
            Path::new("sys"),
            dir_flags,
            Mode::empty(),
            SYSCTL_RESOLVE,
        ),
        Err(e) => {
            tracing::debug!("private procfs for sysctls unavailable ({e}), using /proc/sys");
            openat2_retry(
                rustix::fs::CWD,
                Path::new("/proc/sys"),
                dir_flags,
                Mode::empty(),
                ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            )
        }
    }
    .map_err(|e| RootfsError::sys("sysctl", "/proc/sys", e))?;
    if !is_procfs(&fd) {
        return Err(RootfsError::invalid(
            "sysctl",
            "/proc/sys",
            "is not on a procfs",
        ));
    }
    Ok(fd)
}

/// Writes the config's sysctls through a verified procfs handle, each file resolved with
/// `RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV`.
pub(crate) fn write_sysctls(config: &Config) -> Result<()> {
    if config.sysctl.is_empty() {
        return Ok(());
    }
    let sys = open_proc_sys()?;
    for (key, value) in &config.sysctl {
        let Some(rel) = sysctl_path(key) else {
            return Err(RootfsError::invalid("sysctl", key, "invalid sysctl name"));
        };
        let fd = openat2_retry(
            sys.as_fd(),
            &rel,
            OFlags::WRONLY | OFlags::NOFOLLOW,
            Mode::empty(),
            SYSCTL_RESOLVE,
        )
        .map_err(|e| RootfsError::sys("sysctl", key, e))?;
        if !is_procfs(&fd) {
            return Err(RootfsError::invalid("sysctl", key, "is not a procfs file"));
        }
        // A sysctl value must be written in one write(2).
        let n = std::fs::File::from(fd)
            .write(value.as_bytes())
            .map_err(|e| RootfsError::sys("sysctl", key, e))?;
        if n != value.len() {
            return Err(RootfsError::invalid("sysctl", key, "short write"));
        }
    }
    Ok(())
}
