//! The container's file systems (runc's `rootfs_linux.go`): mounts, `/dev`, the jail
//! (`pivot_root`), read-only and masked paths, hostname and sysctls.
//!
//! Runs inside `lashing init`, in the container's namespaces, as root. Every path below the
//! rootfs is resolved by fd with `openat2(RESOLVE_IN_ROOT)` from an `O_PATH` fd of the root, and
//! every mount goes through an fd of its destination (the new mount API, or `mount(2)` on
//! `/proc/self/fd/N`).
//!
//! Order expected from the caller (runc's standard init):
//! 1. [`prepare_rootfs`] (its `before_pivot` callback runs the prestart/createRuntime hooks in the
//!    parent and the createContainer hooks, with the cwd at the rootfs);
//! 2. [`set_hostname`] and [`write_sysctls`] (runc writes sysctls before the read-only paths are
//!    made read-only; `write_sysctls` prefers a private procfs instance so it also works after);
//! 3. [`finalize_rootfs`] (read-only remounts, read-only rootfs, read-only paths, masked paths).

mod copy;
mod dev;
mod error;
mod finalize;
mod inroot;
mod jail;
mod mounts;
mod options;
#[cfg(feature = "fuzzing")]
pub(crate) use options::host_proc_sys_mounts;
mod sysctl;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub(crate) use error::RootfsError;
pub(crate) use finalize::finalize_rootfs;
pub(crate) use sysctl::{set_hostname, write_sysctls};

use crate::config::{Config, NamespaceType};

/// A cgroup v1 hierarchy to show at `<cgroup mount>/<name>` (v1 and hybrid hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMountSource {
    /// The directory name under the cgroup mount: `cpu,cpuacct`, `memory`, `systemd`, ... A name
    /// with commas also gets one symlink per controller (`cpu -> cpu,cpuacct`).
    pub name: String,
    /// The host directory of the container's cgroup in that hierarchy (bind-mounted).
    pub host_dir: PathBuf,
}

/// The inputs of [`prepare_rootfs`].
pub(crate) struct RootfsParams<'a> {
    /// The container configuration.
    pub config: &'a Config,
    /// The v1 hierarchies to emulate `/sys/fs/cgroup` with (empty on a pure v2 host).
    pub cgroup_v1_sources: &'a [CgroupMountSource],
    /// Host directory of the container's v2 cgroup: the bind source when a fresh `cgroup2` mount
    /// is refused (EPERM/EBUSY) and the container has a cgroup namespace; otherwise the whole
    /// `/sys/fs/cgroup` is bound (as runc).
    pub cgroup_v2_dir: Option<&'a Path>,
    /// The container has a cgroup namespace.
    pub cgroup_ns: bool,
}

/// Whether SELinux is enabled (only then may `context=` be added to mount data).
fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Everything of runc's `prepareRootfs` up to and including the jail: root propagation, the
/// rootfs bind, the mounts, `/dev`, then `before_pivot` (with the cwd at the rootfs), then
/// `pivot_root` (or `MS_MOVE`+`chroot` with `no_pivot_root`, or `chroot` without a mount
/// namespace), then a shared/unbindable root propagation.
pub(crate) fn prepare_rootfs(
    p: &RootfsParams<'_>,
    before_pivot: &mut dyn FnMut() -> Result<(), RootfsError>,
) -> Result<(), RootfsError> {
    let config = p.config;
    finalize::clear_deferred_ro();
    let rootfs = std::fs::canonicalize(&config.rootfs)
        .map_err(|e| RootfsError::sys("resolve rootfs", config.rootfs.display(), e))?;
    jail::prepare_root(config, &rootfs)?;
    let root = inroot::Root::open(&rootfs)?;
    let label = config
        .mount_label
        .as_deref()
        .filter(|l| !l.is_empty() && selinux_enabled());
    let ctx = mounts::Ctx {
        root: &root,
        params: p,
        label,
    };
    for m in &config.mounts {
        mounts::mount_entry(&ctx, m)?;
    }
    if dev::needs_setup_dev(config) {
        dev::setup_dev(&root, config)?;
    }
    rustix::process::fchdir(&root.fd)
        .map_err(|e| RootfsError::sys("chdir rootfs", rootfs.display(), e))?;
    before_pivot()?;
    if config.no_pivot_root {
        jail::move_root(&root)?;
    } else if config.has_namespace(NamespaceType::Mount) {
        jail::pivot_root(&root)?;
    } else {
        jail::chroot(&root)?;
    }
    jail::apply_root_propagation(config)
}
