//! Mount system calls that rustix does not wrap: `mount_setattr(2)`.
//!
//! Everything else of the new mount API (`open_tree`, `fsopen`, `fsconfig`, `fsmount`, `move_mount`)
//! comes from `rustix::mount`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `MOUNT_ATTR_RDONLY`: read-only mount.
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
/// `MOUNT_ATTR_NOSUID`: ignore set-user-id and set-group-id bits.
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
/// `MOUNT_ATTR_NODEV`: no access to device nodes.
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
/// `MOUNT_ATTR_NOEXEC`: no program execution.
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
/// `MOUNT_ATTR__ATIME`: the mask of the atime mode.
pub(crate) const MOUNT_ATTR_ATIME_MASK: u64 = 0x0000_0070;
/// `MOUNT_ATTR_RELATIME`: relative atime (the value 0 inside the atime mask).
pub(crate) const MOUNT_ATTR_RELATIME: u64 = 0x0000_0000;
/// `MOUNT_ATTR_NOATIME`: no atime updates.
pub(crate) const MOUNT_ATTR_NOATIME: u64 = 0x0000_0010;
/// `MOUNT_ATTR_STRICTATIME`: always update atime.
pub(crate) const MOUNT_ATTR_STRICTATIME: u64 = 0x0000_0020;
/// `MOUNT_ATTR_NODIRATIME`: no atime updates on directories.
pub(crate) const MOUNT_ATTR_NODIRATIME: u64 = 0x0000_0080;
/// `MOUNT_ATTR_NOSYMFOLLOW`: do not follow symlinks.
pub(crate) const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// `AT_RECURSIVE`: apply `mount_setattr` to the whole subtree.
pub(crate) const AT_RECURSIVE: u32 = 0x8000;
/// `AT_EMPTY_PATH`: operate on the fd itself.
pub(crate) const AT_EMPTY_PATH: u32 = 0x1000;

/// The kernel's `struct mount_attr` (version 0, 32 bytes).
#[repr(C)]
struct RawMountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A change of mount attributes for [`mount_setattr`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MountAttr {
    /// `MOUNT_ATTR_*` bits to set.
    pub attr_set: u64,
    /// `MOUNT_ATTR_*` bits to clear (must contain the whole atime mask when an atime mode is set).
    pub attr_clr: u64,
    /// A propagation type (`MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`, `MS_UNBINDABLE`) or 0.
    pub propagation: u64,
}

/// `mount_setattr(dirfd, path, flags, attr)`: changes the attributes of the mount at `path`
/// (relative to `dirfd`; use an empty path and [`AT_EMPTY_PATH`] for the fd itself, and
/// [`AT_RECURSIVE`] for the whole subtree).
pub(crate) fn mount_setattr(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u32,
    attr: &MountAttr,
) -> io::Result<()> {
    let raw = RawMountAttr {
        attr_set: attr.attr_set,
        attr_clr: attr.attr_clr,
        propagation: attr.propagation,
        userns_fd: 0,
    };
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call, `raw` is a properly
    // initialised `struct mount_attr` whose exact size is passed, and `dirfd` is a live descriptor
    // borrowed for the duration of the call. The kernel only reads these arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags as libc::c_uint,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `MOUNT_ATTR_IDMAP`: the mount's ids are mapped through a user namespace.
pub(crate) const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `mount_setattr(tree, "", AT_EMPTY_PATH [| AT_RECURSIVE], {MOUNT_ATTR_IDMAP, userns})`: makes the
/// detached mount `tree` (and, with `recursive`, every mount below it) idmapped through the
/// user namespace `userns`.
pub(crate) fn mount_setattr_idmap(
    tree: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> io::Result<()> {
    let raw = RawMountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the empty path is a valid NUL-terminated string, `raw` is a properly initialised
    // `struct mount_attr` whose exact size is passed, and both descriptors are live for the
    // duration of the call. The kernel only reads these arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_attr_layout_matches_kernel_abi() {
        // MOUNT_ATTR_SIZE_VER0 is 32 bytes.
        assert_eq!(std::mem::size_of::<RawMountAttr>(), 32);
    }

    #[test]
    fn mount_setattr_rejects_a_non_mount_root() {
        // A fresh temporary file is never the root of a mount: the call must reach the kernel and
        // fail (EINVAL, or EPERM without CAP_SYS_ADMIN).
        use std::os::fd::AsFd;
        let file = tempfile::tempfile().unwrap();
        let err = mount_setattr(
            file.as_fd(),
            c"",
            AT_EMPTY_PATH,
            &MountAttr {
                attr_set: MOUNT_ATTR_RDONLY,
                ..MountAttr::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::EPERM)),
            "{err}"
        );
    }
}
