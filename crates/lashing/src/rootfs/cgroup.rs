//! The `cgroup` mount: on a v1/hybrid host a tmpfs with a bind of each hierarchy of the
//! container; on a v2 host a fresh `cgroup2` mount, falling back to a bind of the container's
//! cgroup (or a read-only bind of the whole hierarchy), as runc's `mountCgroupV1`/`V2`.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::error::{Result, RootfsError};
use super::inroot::is_errno;
use super::mounts::{Ctx, dir_mountpoint, mount_bind, mount_fs_at, mount_tmpfs, propagate};
use super::options::MS_RDONLY;
use crate::config::{Mount, MsFlags, RecAttr};
use crate::sys::mount::{AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, MountAttr, mount_setattr};

/// A bind mount entry derived from another mount (cgroup emulation).
fn derived_bind(source: &Path, dest: PathBuf, m: &Mount) -> Mount {
    Mount {
        source: source.display().to_string(),
        destination: dest,
        device: "bind".into(),
        flags: MsFlags::BIND | MsFlags::REC | m.flags,
        cleared_flags: m.cleared_flags,
        propagation_flags: m.propagation_flags.clone(),
        data: String::new(),
        rec_attr: None,
        extensions: 0,
        id_mapping: None,
    }
}

/// `cgroup`: on a v1/hybrid host a tmpfs with a bind of each hierarchy; on a v2 host a fresh
/// `cgroup2` mount, falling back to a bind of the container's cgroup.
pub(crate) fn mount_cgroup(ctx: &mut Ctx<'_>, m: &Mount, dest: &Path) -> Result<()> {
    let root = ctx.root;
    let p = ctx.params;
    if !p.cgroup_v1_sources.is_empty() {
        let tmpfs = Mount {
            source: "tmpfs".into(),
            destination: dest.to_path_buf(),
            device: "tmpfs".into(),
            flags: MsFlags::NOSUID | MsFlags::NODEV | MsFlags::NOEXEC,
            cleared_flags: MsFlags::empty(),
            propagation_flags: m.propagation_flags.clone(),
            data: "mode=755".into(),
            rec_attr: None,
            extensions: 0,
            id_mapping: None,
        };
        mount_tmpfs(ctx, &tmpfs, dest)?;
        for src in p.cgroup_v1_sources {
            let sub = dest.join(&src.name);
            mount_bind(ctx, &derived_bind(&src.host_dir, sub.clone(), m), &sub)?;
            if src.name.contains(',') {
                let dir = root.mkdir_all(dest, 0o755)?;
                for part in src.name.split(',').filter(|s| !s.is_empty()) {
                    match rustix::fs::symlinkat(src.name.as_str(), &dir, part) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => {
                            return Err(RootfsError::sys(
                                "cgroup symlink",
                                dest.join(part).display(),
                                e,
                            ));
                        }
                    }
                }
            }
        }
        if m.flags.contains(MsFlags::RDONLY) {
            let fd = root
                .open_path(dest)
                .map_err(|e| RootfsError::sys("remount read-only", dest.display(), e))?;
            let attr = MountAttr {
                attr_set: MOUNT_ATTR_RDONLY,
                ..MountAttr::default()
            };
            mount_setattr(fd.as_fd(), c"", AT_EMPTY_PATH, &attr)
                .map_err(|e| RootfsError::sys("remount read-only", dest.display(), e))?;
        }
        return Ok(());
    }
    let (target, cpath) = dir_mountpoint(root, dest)?;
    let source = if m.source.is_empty() {
        "cgroup2"
    } else {
        &m.source
    };
    match mount_fs_at("cgroup2", source, &m.data, m.flags.bits(), target.as_fd()) {
        Ok(()) => propagate(root, m, dest, &cpath),
        Err(e) if is_errno(&e, libc::EPERM) || is_errno(&e, libc::EBUSY) => {
            // As runc: with a cgroup namespace, emulate it by binding the container's cgroup;
            // without one, bind the whole hierarchy.
            let (src, whole_host) = match (p.cgroup_ns, p.cgroup_v2_dir) {
                (true, Some(dir)) => (dir, false),
                _ => (Path::new("/sys/fs/cgroup"), true),
            };
            let mut bind = derived_bind(src, dest.to_path_buf(), m);
            if whole_host {
                // The host's whole hierarchy: never writable from the container, nor any
                // hierarchy mounted below it (a hybrid host's, or a v1 one a rootless caller
                // was delegated): recursively read-only (CVE-2023-25809).
                bind.flags |= MsFlags::RDONLY;
                bind.cleared_flags.remove(MsFlags::RDONLY);
                bind.rec_attr = Some(RecAttr {
                    attr_set: MOUNT_ATTR_RDONLY,
                    attr_clr: 0,
                });
            }
            match mount_bind(ctx, &bind, dest) {
                Err(e) if e.errno() == Some(libc::ENOENT) => {
                    // CVE-2023-25809: never leave the host's cgroupfs writable; mask instead.
                    mount_fs_at("tmpfs", "tmpfs", "", MS_RDONLY, target.as_fd())
                        .map_err(|e| RootfsError::sys("mount", dest.display(), e))
                }
                r => r,
            }
        }
        Err(e) => Err(RootfsError::sys("mount", dest.display(), e)),
    }
}
