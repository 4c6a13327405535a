//! Idmapped mounts (OCI `mounts[].uidMappings`/`gidMappings`, the `idmap`/`ridmap` options;
//! runc 1.2+): the bind source is cloned by init (`open_tree(OPEN_TREE_CLONE)`, inside the
//! container's mount namespace, resolved as every bind source is), the detached tree goes to the
//! parent (`ToParent::IdmapPlease`), which, as host root, makes it idmapped with
//! `mount_setattr(MOUNT_ATTR_IDMAP)` through a user namespace carrying the mount's maps (held by
//! a short-lived child, [`crate::sys::userns`]), recursively for `ridmap`; init then applies the
//! mount's flags and `move_mount`s it onto its destination.
//!
//! The parent does the `mount_setattr` because the kernel asks for `CAP_SYS_ADMIN` in the user
//! namespace of the source's file system (the host's), which an init in a user namespace lacks.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};

use crate::config::{IdMap, MountIdMapping};
use crate::error::{Error, Result};
use crate::sys;

/// A user namespace whose maps are those of an idmapped mount.
pub(crate) fn userns_for(m: &MountIdMapping) -> Result<OwnedFd> {
    let op = "create the user namespace of an idmapped mount";
    let child = sys::userns::UsernsChild::spawn().map_err(|e| Error::Sys { op, source: e })?;
    let pid = child.pid();
    let proc = crate::procfs::ProcFs::open_with(crate::procfs::ProcPolicy::PrivateOrHost)
        .map_err(|e| Error::io(op, format!("/proc/{pid}"), e.into_io()))?;
    for (file, maps) in [("uid_map", &m.uid_mappings), ("gid_map", &m.gid_mappings)] {
        proc.write_pid_file(pid, file, &map_text(maps))
            .map_err(|e| Error::io(op, format!("/proc/{pid}/{file}"), e.into_io()))?;
    }
    let path = PathBuf::from(format!("/proc/{pid}/ns/user"));
    // The child lives (unreaped) until `child` is dropped: the pid is its own.
    let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::io(op, &path, e))?;
    drop(child);
    Ok(fd)
}

/// `container_id host_id size` lines, as `uid_map` takes them.
fn map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Makes the detached mount `tree` (cloned from `source`) idmapped through `userns`, every mount
/// below it too when `recursive` (`ridmap`). A kernel or file system that cannot idmap is named
/// in the error, with the file system type of the mount.
pub(crate) fn idmap_tree(
    tree: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
    source: &str,
) -> Result<()> {
    sys::mount::mount_setattr_idmap(tree, userns, recursive).map_err(|e| {
        let fs = rustix::fs::fstatfs(tree)
            // `f_type` is a C long: 32 bits on some targets.
            .map(|s| {
                #[allow(clippy::unnecessary_cast)]
                let magic = s.f_type as i64;
                fs_name(magic)
            })
            .unwrap_or_else(|_| "unknown".into());
        let why = match e.raw_os_error() {
            Some(libc::EINVAL) => format!(
                "the kernel refused MOUNT_ATTR_IDMAP ({e}): file system {fs} (or one mounted \
                 below it, with ridmap) does not support idmapped mounts on this kernel"
            ),
            Some(libc::ENOSYS) => {
                format!("this kernel has no mount_setattr (Linux >= 5.12 is needed): {e}")
            }
            Some(libc::EPERM) => format!(
                "the kernel refused MOUNT_ATTR_IDMAP ({e}): {source} is already idmapped, or \
                 the runtime lacks CAP_SYS_ADMIN over its {fs} file system"
            ),
            _ => format!("{fs}: {e}"),
        };
        Error::io(
            "make an idmapped mount of",
            format!("{source} ({fs})"),
            std::io::Error::new(e.kind(), why),
        )
    })
}

/// The name of a file system type (`statfs.f_type`), for errors.
fn fs_name(magic: i64) -> String {
    let name = match magic {
        0xEF53 => "ext2/3/4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlay",
        0x6969 => "nfs",
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x2FC1_2FC1 => "zfs",
        0x4d44 => "vfat",
        0x6573_5546 => "fuse",
        0x858458f6 => "ramfs",
        0x7372_6F6F => "squashfs",
        0x0102_1997 => "9p",
        0x1CD1 => "devpts",
        0x6367_7270 => "cgroup2",
        0x0027_e0eb => "cgroup",
        _ => return format!("of type {magic:#x}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_file_systems() {
        assert_eq!(fs_name(0x0102_1994), "tmpfs");
        assert_eq!(fs_name(0xEF53), "ext2/3/4");
        assert_eq!(fs_name(0x1234), "of type 0x1234");
    }

    #[test]
    fn maps_render() {
        let m = [IdMap {
            container_id: 0,
            host_id: 100000,
            size: 65536,
        }];
        assert_eq!(map_text(&m), "0 100000 65536\n");
    }
}
