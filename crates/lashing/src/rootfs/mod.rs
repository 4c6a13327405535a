//! The container's file systems (runc's `rootfs_linux.go`): mounts, `/dev`, the jail
//! (`pivot_root`), read-only and masked paths, hostname and sysctls.
//!
//! Runs inside `lashing init`, in the container's namespaces, as root. Every path below the
//! rootfs is resolved by fd with `openat2(RESOLVE_IN_ROOT)` from an `O_PATH` fd of the root, and
//! every mount goes through an fd of its destination (the new mount API, or `mount(2)` on
//! `/proc/self/fd/N`).
//!
//! The setup is a sequence of typed values, each step consuming the previous one and owning
//! what is still to do (runc's standard init):
//! 1. [`Mounted::mount`]: root propagation, the rootfs bind, the mounts and `/dev`; the cwd is at
//!    the rootfs. The read-only remounts of tmpfs and `/dev` are deferred (held as fds).
//! 2. [`Mounted::hooks_synced`]: the caller has met the parent at the `Hooks` sync point (the
//!    prestart/createRuntime hooks ran there) and run the createContainer hooks, with the cwd at
//!    the rootfs. A failure there just drops the [`Mounted`] (its fds close).
//! 3. [`HooksSynced::pivot`]: `pivot_root` (or `MS_MOVE`+`chroot`, or `chroot`).
//! 4. [`Pivoted::set_hostname`] and [`Pivoted::write_sysctls`] (runc writes sysctls before the
//!    read-only paths are made read-only; the sysctls go through a verified procfs, so they also
//!    work after), then [`Pivoted::finalize`]: the deferred read-only remounts, the read-only
//!    rootfs, read-only paths and masked paths ([`Finalized`]).

mod cgroup;
mod copy;
mod dev;
mod error;
mod finalize;
pub(crate) mod idmap;
mod inroot;
mod jail;
mod mounts;
mod options;
#[cfg(feature = "fuzzing")]
pub(crate) use options::host_proc_sys_mounts;
mod sysctl;
#[cfg(test)]
mod tests;

use std::path::Path;

pub(crate) use error::RootfsError;
pub(crate) use inroot::fd_path;
pub(crate) use mounts::{CgroupMountSource, RootfsParams, attach, clone_tree};
pub(crate) use options::clean_path;

use error::Result;
pub(crate) use inroot::Root;
use mounts::DeferredRo;

use crate::config::{Config, NamespaceType};

/// Sets up one mount of the config, by kind.
fn mount_entry(ctx: &mut mounts::Ctx<'_>, m: &crate::config::Mount) -> Result<()> {
    let dest = options::clean_path(&m.destination);
    if m.is_bind() {
        return mounts::mount_bind(ctx, m, &dest);
    }
    match m.device.as_str() {
        "proc" | "sysfs" => mounts::mount_proc_sys(ctx, m, &dest),
        "tmpfs" => mounts::mount_tmpfs(ctx, m, &dest),
        "cgroup" => cgroup::mount_cgroup(ctx, m, &dest),
        _ => mounts::mount_generic(ctx, m, &dest),
    }
}

/// Whether SELinux is enabled (only then may `context=` be added to mount data).
fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Step 1: the container's mounts are made, the cwd is at the rootfs (runc's `prepareRootfs` up
/// to the jail). Owns the read-only remounts still to do.
#[must_use = "the rootfs setup continues with `hooks_synced`, `pivot` and `finalize`"]
pub(crate) struct Mounted<'a> {
    config: &'a Config,
    root: Root,
    deferred_ro: Vec<DeferredRo>,
}

/// Step 2: the `Hooks` sync point is passed (the parent's prestart/createRuntime hooks and the
/// createContainer hooks ran with the cwd at the rootfs); next is the jail.
#[must_use = "the rootfs setup continues with `pivot` and `finalize`"]
pub(crate) struct HooksSynced<'a>(Mounted<'a>);

/// Step 3: the process is inside the container's root (`/` is the rootfs). Hostname and sysctls
/// go here, then [`Pivoted::finalize`].
#[must_use = "the rootfs setup ends with `finalize`"]
pub(crate) struct Pivoted<'a> {
    config: &'a Config,
    deferred_ro: Vec<DeferredRo>,
}

/// Step 4: the rootfs is final (read-only remounts, read-only paths and masked paths applied).
#[derive(Debug)]
pub(crate) struct Finalized;

impl<'a> Mounted<'a> {
    /// Root propagation, the rootfs bind, the mounts of the config, `/dev`, then a `chdir` into
    /// the rootfs (where the createContainer hooks run).
    pub(crate) fn mount(p: &RootfsParams<'a>) -> Result<Mounted<'a>> {
        let config = p.config;
        let rootfs = std::fs::canonicalize(&config.rootfs)
            .map_err(|e| RootfsError::sys("resolve rootfs", config.rootfs.display(), e))?;
        jail::prepare_root(config, &rootfs)?;
        let root = Root::open(&rootfs)?;
        let label = config
            .mount_label
            .as_deref()
            .filter(|l| !l.is_empty() && selinux_enabled());
        let mut ctx = mounts::Ctx {
            root: &root,
            params: p,
            label,
            deferred_ro: Vec::new(),
            index: 0,
        };
        for (i, m) in config.mounts.iter().enumerate() {
            ctx.index = i;
            mount_entry(&mut ctx, m)?;
        }
        let deferred_ro = ctx.deferred_ro;
        if dev::needs_setup_dev(config) {
            dev::setup_dev(&root, config)?;
        }
        rustix::process::fchdir(&root.fd)
            .map_err(|e| RootfsError::sys("chdir rootfs", rootfs.display(), e))?;
        Ok(Mounted {
            config,
            root,
            deferred_ro,
        })
    }

    /// The caller has passed the `Hooks` sync point with the parent and run the createContainer
    /// hooks (with the cwd at the rootfs, where [`Mounted::mount`] left it).
    pub(crate) fn hooks_synced(self) -> HooksSynced<'a> {
        HooksSynced(self)
    }
}

impl<'a> HooksSynced<'a> {
    /// Attaches the protected executable's detached mount at `target` in the container's new
    /// mount namespace, right before the jail, where nothing of the setup binds or reuses it:
    /// [`HooksSynced::pivot`] unmounts it with the old root (`container::exe`). Returns whether it
    /// is attached; when not (a target inside the rootfs, a kernel that refuses), the caller
    /// only closes it, which releases it as a detached mount, as the parent would have.
    pub(crate) fn attach_exe(&self, exe: std::os::fd::BorrowedFd<'_>, target: &Path) -> bool {
        let Mounted { config, root, .. } = &self.0;
        if config.no_pivot_root || !config.new_namespace(NamespaceType::Mount) {
            return false;
        }
        match jail::attach_exe(root, exe, target) {
            Ok(()) => {
                tracing::debug!(
                    "protected executable attached at {} until the pivot",
                    target.display()
                );
                true
            }
            Err(e) => {
                tracing::debug!(
                    "protected executable not attached at {} ({e}): released detached",
                    target.display()
                );
                false
            }
        }
    }

    /// The jail: `pivot_root` (or `MS_MOVE`+`chroot` with `no_pivot_root`, or `chroot` without a
    /// mount namespace), then a shared/unbindable root propagation.
    pub(crate) fn pivot(self) -> Result<Pivoted<'a>> {
        let Mounted {
            config,
            root,
            deferred_ro,
        } = self.0;
        if config.no_pivot_root {
            jail::move_root(&root)?;
        } else if config.has_namespace(NamespaceType::Mount) {
            jail::pivot_root(&root)?;
        } else {
            jail::chroot(&root)?;
        }
        jail::apply_root_propagation(config)?;
        Ok(Pivoted {
            config,
            deferred_ro,
        })
    }
}

impl Pivoted<'_> {
    /// Sets the hostname and the NIS domain name of the container's UTS namespace.
    pub(crate) fn set_hostname(&self) -> Result<()> {
        sysctl::set_hostname(self.config)
    }

    /// Writes the config's sysctls through a verified procfs (see [`sysctl::write_sysctls`]).
    pub(crate) fn write_sysctls(&self) -> Result<()> {
        sysctl::write_sysctls(self.config, self.proc_policy())
    }

    /// Which procfs the process may use now: past `pivot_root` (or `MS_MOVE`) in the container's
    /// mount namespace, the mounted `/proc` is the container's; without a mount namespace it
    /// could be anything of the host, so only a private instance.
    pub(crate) fn proc_policy(&self) -> crate::procfs::ProcPolicy {
        crate::procfs::ProcPolicy::in_container_root(
            self.config.has_namespace(NamespaceType::Mount),
        )
    }

    /// runc's `finalizeRootfs` and its read-only and masked paths: the deferred read-only
    /// remounts, then the read-only rootfs, the read-only paths and the masked paths. Without a
    /// mount namespace nothing is remounted (the mounts would be the host's).
    pub(crate) fn finalize(self) -> Result<Finalized> {
        if self.config.has_namespace(NamespaceType::Mount) {
            finalize::finalize_rootfs(self.config, self.deferred_ro)?;
        }
        Ok(Finalized)
    }
}
