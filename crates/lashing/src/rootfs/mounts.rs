//! The mounts of the container (runc's `mountToRootfs`): every mount goes through an fd of its
//! destination resolved inside the root; the new mount API first, `mount(2)` on
//! `/proc/self/fd/N` as the fallback.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, FileType, OFlags};
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MountPropagationFlags, MoveMountFlags,
    OpenTreeFlags,
};

use super::copy::copy_tree;
use super::error::{Result, RootfsError};
use super::inroot::{Root, fd_path, is_errno};
use super::options::{
    FsOption, MS_BIND, MS_RDONLY, MS_REC, ProcSource, append_option, bind_attr, bind_needs_remount,
    check_proc_mount, clean_path, fs_options, has_option, is_initial_uid_map, locked_retry_flags,
    ms_to_attr, rec_attr_for_kernel,
};
use crate::config::{Config, Mount, MsFlags, NamespaceType};
use crate::sys::mount::{
    AT_EMPTY_PATH, AT_RECURSIVE, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_RDONLY, MountAttr, mount_setattr,
};

/// A cgroup v1 hierarchy to show at `<cgroup mount>/<name>` (v1 and hybrid hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMountSource {
    /// The directory name under the cgroup mount: `cpu,cpuacct`, `memory`, `systemd`, ... A name
    /// with commas also gets one symlink per controller (`cpu -> cpu,cpuacct`).
    pub name: String,
    /// The host directory of the container's cgroup in that hierarchy (bind-mounted).
    pub host_dir: PathBuf,
}

/// How init gets the detached tree of an idmapped mount (index in `config.mounts`, the tree)
/// made idmapped: the parent does it (see [`super::idmap`]); the error is a message.
pub(crate) type IdmapFn<'a> = dyn Fn(usize, BorrowedFd<'_>) -> std::result::Result<(), String> + 'a;

/// The inputs of [`Mounted::mount`].
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
    /// Makes the detached tree of an idmapped mount (by its index in `config.mounts`) idmapped:
    /// the parent does it ([`super::idmap`]); `None` refuses idmapped mounts.
    pub idmap: Option<&'a IdmapFn<'a>>,
}

/// What the mount code needs besides the mount itself.
pub(crate) struct Ctx<'a> {
    /// The container root.
    pub root: &'a Root,
    /// The caller's parameters.
    pub params: &'a RootfsParams<'a>,
    /// The SELinux mount label to add as `context=` (only when SELinux is enabled).
    pub label: Option<&'a str>,
    /// The mounts made so far that become read-only at the end of the setup.
    pub deferred_ro: Vec<DeferredRo>,
    /// The index in `config.mounts` of the mount being made.
    pub index: usize,
}

/// A mount to make read-only when the rootfs is finalized: an fd of its root, taken right after
/// it was mounted (so that nothing mounted over its path later, or a symlink swapped in, can
/// redirect the remount), with its container path for errors.
pub(crate) struct DeferredRo {
    /// `O_PATH` fd of the mount's root.
    pub fd: OwnedFd,
    /// Its path in the container.
    pub dest: PathBuf,
}

/// Attaches a detached mount (from `fsmount` or `open_tree`) onto the target fd.
pub(crate) fn attach(mnt: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    rustix::mount::move_mount(
        mnt,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(io::Error::from)
}

/// Clones the mount tree at `path` (host path, relative to `dir`) as a detached mount.
pub(crate) fn clone_tree(dir: BorrowedFd<'_>, path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    if path.as_os_str().is_empty() {
        flags |= OpenTreeFlags::AT_EMPTY_PATH;
    }
    rustix::mount::open_tree(dir, path, flags).map_err(io::Error::from)
}

/// A new, detached file system: `fsopen`, `fsconfig` (source, data options, superblock flags),
/// `fsconfig_create`, `fsmount` with the per-mount attributes of `flags`.
fn new_fs(fstype: &str, source: &str, data: &str, flags: u64) -> io::Result<OwnedFd> {
    use rustix::mount::{fsconfig_create, fsconfig_set_flag, fsconfig_set_string};
    let fs = rustix::mount::fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC)?;
    if !source.is_empty() {
        fsconfig_set_string(&fs, "source", source)?;
    }
    for opt in fs_options(data) {
        match opt {
            FsOption::Flag(k) => fsconfig_set_flag(&fs, k)?,
            FsOption::Value(k, v) => fsconfig_set_string(&fs, k, v)?,
        }
    }
    for (ms, key) in [
        (libc::MS_SYNCHRONOUS, "sync"),
        (libc::MS_DIRSYNC, "dirsync"),
        (libc::MS_LAZYTIME, "lazytime"),
    ] {
        if flags & ms != 0 {
            fsconfig_set_flag(&fs, key)?;
        }
    }
    fsconfig_create(&fs)?;
    let attr = MountAttrFlags::from_bits_retain(ms_to_attr(flags) as u32);
    Ok(rustix::mount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        attr,
    )?)
}

/// `mount(2)` through `/proc/self/fd/N` of the target (runc's `mountViaFds`).
fn mount_legacy(
    source: &str,
    target: BorrowedFd<'_>,
    fstype: &str,
    flags: u64,
    data: &str,
) -> io::Result<()> {
    let data = CString::new(data).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    rustix::mount::mount(
        source,
        fd_path(target),
        fstype,
        MountFlags::from_bits_retain(flags as u32),
        (!data.as_bytes().is_empty()).then_some(data.as_c_str()),
    )
    .map_err(io::Error::from)
}

/// Mounts a new file system of type `fstype` onto the target fd: the new mount API, falling back
/// to `mount(2)` through the fd when it fails (the error of the fallback is reported).
pub(crate) fn mount_fs_at(
    fstype: &str,
    source: &str,
    data: &str,
    flags: u64,
    target: BorrowedFd<'_>,
) -> io::Result<()> {
    match new_fs(fstype, source, data, flags).and_then(|m| attach(m.as_fd(), target)) {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::debug!("new mount API failed for {fstype} ({e}), falling back to mount(2)");
            mount_legacy(source, target, fstype, flags, data)
        }
    }
}

/// Re-resolves `dest` after a mount and checks that it still is the same container path.
fn reopen(root: &Root, dest: &Path, cpath: &Path, flags: OFlags) -> Result<OwnedFd> {
    let fd = root
        .open_at(dest, flags)
        .map_err(|e| RootfsError::sys("reopen mount", dest.display(), e))?;
    let now = root.mount_target("reopen mount", dest, fd.as_fd())?;
    if now != cpath {
        return Err(RootfsError::invalid(
            "reopen mount",
            dest.display(),
            format!(
                "resolved to {} after the mount, {} before",
                now.display(),
                cpath.display()
            ),
        ));
    }
    Ok(fd)
}

/// Applies the propagation flags of a mount to its (re-opened) destination.
pub(crate) fn propagate(root: &Root, m: &Mount, dest: &Path, cpath: &Path) -> Result<()> {
    if m.propagation_flags.is_empty() {
        return Ok(());
    }
    let fd = reopen(root, dest, cpath, OFlags::PATH)?;
    for &f in &m.propagation_flags {
        rustix::mount::mount_change(
            fd_path(fd.as_fd()),
            MountPropagationFlags::from_bits_retain(f.bits() as u32),
        )
        .map_err(|e| RootfsError::sys("mount propagation", dest.display(), e))?;
    }
    Ok(())
}

/// `proc` and `sysfs`: the destination must not exist or be a real directory (never a symlink,
/// CVE-2023-27561/28642).
pub(crate) fn mount_proc_sys(ctx: &mut Ctx<'_>, m: &Mount, dest: &Path) -> Result<()> {
    let root = ctx.root;
    let target = match root.open_at(dest, OFlags::PATH | OFlags::NOFOLLOW) {
        Ok(fd) => {
            let st =
                rustix::fs::fstat(&fd).map_err(|e| RootfsError::sys("mount", dest.display(), e))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                return Err(RootfsError::invalid(
                    "mount",
                    dest.display(),
                    // runc's words (a symlink or a file alike).
                    format!(
                        "filesystem {:?} must be mounted on ordinary directory",
                        m.device
                    ),
                ));
            }
            fd
        }
        Err(e) if is_errno(&e, libc::ENOENT) => root.mkdir_all(dest, 0o755)?,
        Err(e) => return Err(RootfsError::sys("mount", dest.display(), e)),
    };
    let cpath = root.mount_target("mount", dest, target.as_fd())?;
    let src = if m.device == "proc" {
        ProcSource::FreshProc
    } else {
        ProcSource::Other
    };
    proc_check(&cpath, src)?;
    let flags = m.flags.bits();
    match mount_fs_at(&m.device, &m.source, &m.data, flags, target.as_fd()) {
        Ok(()) => {}
        // A user namespace may mount sysfs only in a network namespace it owns: without one,
        // the host's /sys is bound read-only instead (what runc's `spec --rootless` writes).
        Err(e) if m.device == "sysfs" && is_errno(&e, libc::EPERM) && sysfs_needs_bind(ctx) => {
            tracing::debug!(
                "sysfs on {}: {e}; binding the host's /sys read-only",
                dest.display()
            );
            bind_host_sys(target.as_fd())
                .map_err(|e| RootfsError::sys("mount", dest.display(), e))?;
        }
        Err(e) => return Err(RootfsError::sys("mount", dest.display(), e)),
    }
    propagate(root, m, dest, &cpath)
}

/// Whether a refused sysfs mount is the user-namespace case a read-only bind replaces: a user
/// namespace and no network namespace of the container's own.
fn sysfs_needs_bind(ctx: &Ctx<'_>) -> bool {
    let c = ctx.params.config;
    c.has_namespace(NamespaceType::User) && !c.new_namespace(NamespaceType::Network)
}

/// Binds the host's `/sys` (recursively, read-only, nosuid, nodev, noexec) onto `target`.
fn bind_host_sys(target: BorrowedFd<'_>) -> io::Result<()> {
    let tree = clone_tree(CWD, Path::new("/sys"), true)?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        attr_clr: 0,
        propagation: 0,
    };
    mount_setattr(tree.as_fd(), c"", AT_EMPTY_PATH | AT_RECURSIVE, &attr)?;
    attach(tree.as_fd(), target)
}

fn proc_check(cpath: &Path, src: ProcSource) -> Result<()> {
    check_proc_mount(cpath, src).map_err(|reason| RootfsError::ProcMount {
        path: cpath.display().to_string(),
        reason,
    })
}

/// Opens (creating when missing) a directory mount point and checks it.
pub(crate) fn dir_mountpoint(root: &Root, dest: &Path) -> Result<(OwnedFd, PathBuf)> {
    let target = root.mkdir_all(dest, 0o755)?;
    let cpath = root.mount_target("mount", dest, target.as_fd())?;
    proc_check(&cpath, ProcSource::Other)?;
    Ok((target, cpath))
}

/// Whether a mount is mounted read-write first and made read-only by `finalize_rootfs` (tmpfs
/// and `/dev`, which the setup still writes into).
fn ro_deferred(m: &Mount, dest: &Path) -> bool {
    m.device == "tmpfs" || dest == Path::new("/dev")
}

/// Flags of the first mount: tmpfs and `/dev` are mounted read-write, and remounted read-only by
/// `finalize_rootfs`.
fn initial_flags(m: &Mount, dest: &Path) -> u64 {
    if ro_deferred(m, dest) {
        m.flags.bits() & !MS_RDONLY
    } else {
        m.flags.bits()
    }
}

/// For a read-only tmpfs or `/dev`: keeps an fd of the mount just made (re-resolved and checked
/// to be the same container path) for `finalize_rootfs` to make read-only through it.
fn defer_ro(ctx: &mut Ctx<'_>, m: &Mount, dest: &Path, cpath: &Path) -> Result<()> {
    if m.flags.contains(MsFlags::RDONLY) && ro_deferred(m, dest) {
        let fd = reopen(ctx.root, dest, cpath, OFlags::PATH)?;
        ctx.deferred_ro.push(DeferredRo {
            fd,
            dest: dest.to_path_buf(),
        });
    }
    Ok(())
}

/// The `mode=` option a tmpfs on `dest` inherits (runc's `createMountpoint`): the mode of the
/// directory that exists there before the mount, `None` when nothing exists yet (the kernel's
/// default root mode of a tmpfs, 1777, then applies: Docker's `--tmpfs /newdir` is writable
/// by every user). Called before the mount point is created.
fn inherited_tmpfs_mode(root: &Root, dest: &Path) -> Result<Option<u32>> {
    match root.open_at(dest, OFlags::PATH) {
        Ok(fd) => {
            let st =
                rustix::fs::fstat(&fd).map_err(|e| RootfsError::sys("mount", dest.display(), e))?;
            Ok(Some(st.st_mode & 0o7777))
        }
        Err(e) if is_errno(&e, libc::ENOENT) => Ok(None),
        Err(e) => Err(RootfsError::sys("mount", dest.display(), e)),
    }
}

/// tmpfs: `mode=` of the existing directory unless given, the SELinux context, `tmpcopyup`.
pub(crate) fn mount_tmpfs(ctx: &mut Ctx<'_>, m: &Mount, dest: &Path) -> Result<()> {
    let root = ctx.root;
    let mut data = m.data.clone();
    if !has_option(&data, "mode")
        && let Some(mode) = inherited_tmpfs_mode(root, dest)?
    {
        data = append_option(&data, &format!("mode={mode:04o}"));
    }
    let (target, cpath) = dir_mountpoint(root, dest)?;
    if let Some(label) = ctx.label {
        data = append_option(&data, &format!("context=\"{label}\""));
    }
    let copy_src = if m.extensions & Mount::EXT_COPYUP != 0 {
        Some(
            root.open_at(dest, OFlags::RDONLY | OFlags::DIRECTORY)
                .map_err(|e| RootfsError::sys("tmpcopyup", dest.display(), e))?,
        )
    } else {
        None
    };
    let source = if m.source.is_empty() {
        "tmpfs"
    } else {
        &m.source
    };
    mount_fs_at(
        "tmpfs",
        source,
        &data,
        initial_flags(m, dest),
        target.as_fd(),
    )
    .map_err(|e| RootfsError::sys("mount", dest.display(), e))?;
    if let Some(src) = copy_src {
        let dst = reopen(root, dest, &cpath, OFlags::RDONLY | OFlags::DIRECTORY)?;
        copy_tree(src.as_fd(), dst.as_fd())
            .map_err(|e| RootfsError::sys("tmpcopyup", dest.display(), e))?;
    }
    defer_ro(ctx, m, dest, &cpath)?;
    propagate(root, m, dest, &cpath)
}

/// devpts, mqueue and any other file system.
pub(crate) fn mount_generic(ctx: &mut Ctx<'_>, m: &Mount, dest: &Path) -> Result<()> {
    let root = ctx.root;
    let (target, cpath) = dir_mountpoint(root, dest)?;
    let mut data = m.data.clone();
    if let (Some(label), "mqueue") = (ctx.label, m.device.as_str()) {
        data = append_option(&data, &format!("context=\"{label}\""));
    }
    mount_fs_at(
        &m.device,
        &m.source,
        &data,
        initial_flags(m, dest),
        target.as_fd(),
    )
    .map_err(|e| RootfsError::sys("mount", dest.display(), e))?;
    defer_ro(ctx, m, dest, &cpath)?;
    propagate(root, m, dest, &cpath)
}

/// Whether this process may be refused a bind remount because of locked mount flags: only
/// outside the initial user namespace (the kernel locks the flags of mounts it copies into a
/// mount namespace of a less privileged user namespace). In the initial namespace an EPERM is
/// reported as it is, never as "locked flags".
fn flags_may_be_locked() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").map_or(true, |m| !is_initial_uid_map(&m))
}

/// Applies the flags of a bind mount to the detached clone, keeping locked flags of the source
/// when the kernel refuses to clear them (EPERM in a user namespace).
fn set_bind_flags(tree: BorrowedFd<'_>, m: &Mount, dest: &Path) -> Result<()> {
    let err = |e: io::Error| RootfsError::sys("bind mount flags", dest.display(), e);
    match mount_setattr(tree, c"", AT_EMPTY_PATH, &bind_attr(m.flags.bits())) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::EPERM) && flags_may_be_locked() => {
            let sv = rustix::fs::fstatvfs(tree).map_err(|e| err(e.into()))?;
            let flags =
                locked_retry_flags(m.flags.bits(), m.cleared_flags.bits(), sv.f_flag.bits())
                    .map_err(|r| RootfsError::invalid("bind mount flags", dest.display(), r))?;
            mount_setattr(tree, c"", AT_EMPTY_PATH, &bind_attr(flags)).map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

/// The container path of a bind source that lies inside the rootfs: `source` (made absolute
/// against `cwd` and cleaned lexically) under one of `rootfs` (host paths of the rootfs), or
/// `None` for a host path outside of it.
pub(crate) fn source_in_root(source: &Path, cwd: &Path, rootfs: &[&Path]) -> Option<PathBuf> {
    let abs = clean_path(&cwd.join(source));
    rootfs.iter().find_map(|r| {
        abs.strip_prefix(clean_path(r))
            .ok()
            .map(|rest| Path::new("/").join(rest))
    })
}

/// Opens the source of a bind mount when it lies inside the rootfs: resolved inside the root
/// (`RESOLVE_IN_ROOT`), so that a symlink of the image (`rootfs/data -> /etc`) stays inside it
/// instead of naming a host path. `None` for a source outside the rootfs (a host path).
fn open_source_in_root(ctx: &mut Ctx<'_>, m: &Mount) -> Result<Option<OwnedFd>> {
    let cwd =
        std::env::current_dir().map_err(|e| RootfsError::sys("bind mount source", &m.source, e))?;
    let configured = cwd.join(&ctx.params.config.rootfs);
    let rootfs = [ctx.root.host.as_path(), configured.as_path()];
    let Some(cpath) = source_in_root(Path::new(&m.source), &cwd, &rootfs) else {
        return Ok(None);
    };
    let fd = ctx
        .root
        .open_path(&cpath)
        .map_err(|e| RootfsError::sys("bind mount source", &m.source, e))?;
    Ok(Some(fd))
}

/// Bind mounts: `open_tree(OPEN_TREE_CLONE)` of the source (the host path, or an fd resolved
/// inside the root when the source lies in the rootfs), `mount_setattr` for the flags and the
/// recursive attributes, `move_mount` onto the destination fd.
pub(crate) fn mount_bind(ctx: &mut Ctx<'_>, m: &Mount, dest: &Path) -> Result<()> {
    let root = ctx.root;
    let recursive = m.flags.contains(MsFlags::REC);
    let in_root = open_source_in_root(ctx, m)?;
    let cloned = match &in_root {
        Some(fd) => clone_tree(fd.as_fd(), Path::new(""), recursive),
        None => clone_tree(CWD, Path::new(&m.source), recursive),
    };
    let tree = match cloned {
        Ok(t) => t,
        Err(e) if is_errno(&e, libc::ENOSYS) && m.id_mapping.is_some() => {
            return Err(RootfsError::sys(
                "idmapped mount source (open_tree, Linux >= 5.2, is needed)",
                &m.source,
                e,
            ));
        }
        Err(e) if is_errno(&e, libc::ENOSYS) => {
            return mount_bind_legacy(ctx, m, dest, in_root.as_ref());
        }
        Err(e) => return Err(RootfsError::sys("bind mount source", &m.source, e)),
    };
    let st = rustix::fs::fstat(&tree)
        .map_err(|e| RootfsError::sys("bind mount source", &m.source, e))?;
    let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    let target = root.open_or_create(dest, is_dir)?;
    let cpath = root.mount_target("mount", dest, target.as_fd())?;
    let sfs = rustix::fs::fstatfs(&tree)
        .map_err(|e| RootfsError::sys("bind mount source", &m.source, e))?;
    let src_kind = if sfs.f_type == rustix::fs::PROC_SUPER_MAGIC {
        if st.st_ino == 1 {
            ProcSource::ProcRootBind
        } else {
            ProcSource::ProcSubBind
        }
    } else {
        ProcSource::Other
    };
    proc_check(&cpath, src_kind)?;
    if m.id_mapping.is_some() {
        let idmap = ctx.params.idmap.ok_or_else(|| {
            RootfsError::invalid(
                "mount",
                dest.display(),
                "idmapped mounts are not supported here",
            )
        })?;
        idmap(ctx.index, tree.as_fd())
            .map_err(|r| RootfsError::invalid("idmapped mount", dest.display(), r))?;
    }
    if bind_needs_remount(m.flags.bits(), m.cleared_flags.bits()) {
        set_bind_flags(tree.as_fd(), m, dest)?;
    }
    if let Some(rec) = m.rec_attr {
        let attr = rec_attr_for_kernel(rec.attr_set, rec.attr_clr);
        mount_setattr(tree.as_fd(), c"", AT_EMPTY_PATH | AT_RECURSIVE, &attr)
            .map_err(|e| RootfsError::sys("bind mount recursive attributes", dest.display(), e))?;
    }
    attach(tree.as_fd(), target.as_fd())
        .map_err(|e| RootfsError::sys("mount", dest.display(), e))?;
    propagate(root, m, dest, &cpath)
}

/// Bind mounts on kernels without `open_tree`: `mount(2)` through the fd, then a bind remount.
/// `in_root` is the source's fd when it lies inside the rootfs (mounted through
/// `/proc/self/fd/N`).
fn mount_bind_legacy(
    ctx: &mut Ctx<'_>,
    m: &Mount,
    dest: &Path,
    in_root: Option<&OwnedFd>,
) -> Result<()> {
    let root = ctx.root;
    let source = match in_root {
        Some(fd) => fd_path(fd.as_fd()),
        None => m.source.clone(),
    };
    let st = rustix::fs::stat(source.as_str())
        .map_err(|e| RootfsError::sys("bind mount source", &m.source, e))?;
    let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    let target = root.open_or_create(dest, is_dir)?;
    let cpath = root.mount_target("mount", dest, target.as_fd())?;
    proc_check(&cpath, ProcSource::Other)?;
    mount_legacy(
        &source,
        target.as_fd(),
        "",
        MS_BIND | (m.flags.bits() & MS_REC),
        "",
    )
    .map_err(|e| RootfsError::sys("mount", dest.display(), e))?;
    if bind_needs_remount(m.flags.bits(), m.cleared_flags.bits()) {
        let fd = reopen(root, dest, &cpath, OFlags::PATH)?;
        let remount =
            |flags: u64| mount_legacy("", fd.as_fd(), "", flags | MS_BIND | libc::MS_REMOUNT, "");
        match remount(m.flags.bits() & !MS_REC) {
            Ok(()) => {}
            Err(e) if is_errno(&e, libc::EPERM) && flags_may_be_locked() => {
                let sv = rustix::fs::statvfs(source.as_str())
                    .map_err(|e| RootfsError::sys("bind mount source", &m.source, e))?;
                let flags =
                    locked_retry_flags(m.flags.bits(), m.cleared_flags.bits(), sv.f_flag.bits())
                        .map_err(|r| RootfsError::invalid("bind mount flags", dest.display(), r))?;
                remount(flags & !MS_REC)
                    .map_err(|e| RootfsError::sys("bind mount flags", dest.display(), e))?;
            }
            Err(e) => return Err(RootfsError::sys("bind mount flags", dest.display(), e)),
        }
    }
    propagate(root, m, dest, &cpath)
}
