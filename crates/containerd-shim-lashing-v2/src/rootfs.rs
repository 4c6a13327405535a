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
        if let Err(e) = containerd_shim::mount::mount_rootfs(
            Some(m.type_.as_str()),
            Some(m.source.as_str()),
            &m.options,
            &target,
        ) {
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

/// Unmounts the rootfs (lazily: nothing of the container uses it any more).
pub fn unmount(target: &Path) {
    if let Err(e) = rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH) {
        log::warn!("unmount {}: {e}", target.display());
    }
}
