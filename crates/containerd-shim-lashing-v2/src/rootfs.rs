//! The container's root file system from containerd's mounts (`CreateTaskRequest.rootfs`):
//! mounted on `<bundle>/rootfs` at create, unmounted at delete, as the runc v2 shim does.

use std::path::{Path, PathBuf};

use containerd_shim::protos::types::mount::Mount;

/// A failure to mount the rootfs, with the mount.
#[derive(Debug, thiserror::Error)]
#[error("mount rootfs {typ} {source_path} on {target}: {cause}")]
pub struct MountError {
    typ: String,
    source_path: String,
    target: PathBuf,
    cause: String,
}

/// Mounts `mounts` on `<bundle>/rootfs`, in order; `None` when there is none (the bundle's
/// rootfs is used as it is). A failure unmounts what was mounted.
pub fn mount(bundle: &Path, mounts: &[Mount]) -> Result<Option<PathBuf>, MountError> {
    if mounts.is_empty() {
        return Ok(None);
    }
    let target = bundle.join("rootfs");
    let _ = std::fs::create_dir_all(&target);
    for (i, m) in mounts.iter().enumerate() {
        if let Err(e) = mount_one(m, &target) {
            for _ in 0..i {
                unmount(&target);
            }
            return Err(MountError {
                typ: m.type_.clone(),
                source_path: m.source.clone(),
                target,
                cause: e.to_string(),
            });
        }
    }
    Ok(Some(target))
}

/// One mount of containerd's (an overlay of the snapshot's layers, or a bind mount of a
/// directory), its options parsed as runc parses mount options; in this process, no fork.
fn mount_one(m: &Mount, target: &Path) -> std::io::Result<()> {
    use rustix::mount::MountFlags;
    let o = lashing::config::parse_mount_options(&m.options);
    let flags = MountFlags::from_bits_retain(o.flags.bits() as _);
    let data = std::ffi::CString::new(o.data).map_err(std::io::Error::other)?;
    let fstype = if m.type_ == "bind" {
        "none"
    } else {
        m.type_.as_str()
    };
    rustix::mount::mount(
        m.source.as_str(),
        target,
        fstype,
        flags,
        Some(data.as_c_str()),
    )?;
    // A bind mount takes its read-only (and other) flags at a remount.
    if flags.contains(MountFlags::BIND) && flags.contains(MountFlags::RDONLY) {
        rustix::mount::mount_remount(target, flags | MountFlags::BIND, "")?;
    }
    for p in &o.propagation_flags {
        rustix::mount::mount_change(
            target,
            rustix::mount::MountPropagationFlags::from_bits_retain(p.bits() as _),
        )?;
    }
    Ok(())
}

/// Unmounts the rootfs (lazily: nothing of the container uses it any more).
pub fn unmount(target: &Path) {
    if let Err(e) = rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH) {
        log::warn!("unmount {}: {e}", target.display());
    }
}
