//! A protected handle of the runtime's own executable (CVE-2019-5736): `lashing init` is executed
//! from it, so that a container process that reaches `/proc/<init>/exe` can never write to the
//! host binary.
//!
//! First choice (no copy, as crun): a detached, read-only bind mount of the binary made with
//! `open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)`. Fallback: a sealed memfd copy.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};
use rustix::mount::{OpenTreeFlags, open_tree};

use crate::error::{Error, Result};
use crate::sys;

static INIT_EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Makes lashing start containers with `path` as their init instead of the calling program
/// itself: for a program that cannot call [`crate::init`] first in its `main`, `path` can be the
/// `lashing` binary. It is still executed through a protected read-only handle. Only the first
/// call has an effect; it returns whether it was that call.
///
/// ```no_run
/// lashing::set_init_executable("/usr/local/bin/lashing");
/// ```
pub fn set_init_executable(path: impl Into<std::path::PathBuf>) -> bool {
    INIT_EXE.set(path.into()).is_ok()
}

/// Which executable to run as `lashing init`.
pub(crate) fn self_exe() -> std::path::PathBuf {
    INIT_EXE
        .get()
        .cloned()
        .unwrap_or_else(|| "/proc/self/exe".into())
}

/// Opens the protected handle.
pub(crate) fn protected_exe() -> Result<OwnedFd> {
    let path = self_exe();
    match ro_bind(&path) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            tracing::debug!(
                "read-only bind of {} failed ({e}); using a sealed memfd copy",
                path.display()
            );
            sealed_copy(&path)
        }
    }
}

fn ro_bind(path: &std::path::Path) -> std::io::Result<OwnedFd> {
    let fd = open_tree(
        rustix::fs::CWD,
        path,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )?;
    sys::mount::mount_setattr(
        fd.as_fd(),
        c"",
        sys::mount::AT_EMPTY_PATH,
        &sys::mount::MountAttr {
            attr_set: libc::MOUNT_ATTR_RDONLY,
            ..Default::default()
        },
    )?;
    Ok(fd)
}

fn sealed_copy(path: &std::path::Path) -> Result<OwnedFd> {
    let err = |op, e: rustix::io::Errno| Error::io(op, path, e);
    let src = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| err("open", e))?;
    let len = rustix::fs::fstat(&src).map_err(|e| err("stat", e))?.st_size as u64;
    // MFD_EXEC: executable even with vm.memfd_noexec=1 (older kernels refuse the flag: retry).
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    let mem = rustix::fs::memfd_create("lashing-init", flags | MemfdFlags::EXEC)
        .or_else(|_| rustix::fs::memfd_create("lashing-init", flags))
        .map_err(|e| err("memfd_create for", e))?;
    let mut left = len;
    while left > 0 {
        let n =
            rustix::fs::sendfile(&mem, &src, None, left as usize).map_err(|e| err("copy", e))?;
        if n == 0 {
            break;
        }
        left -= n as u64;
    }
    rustix::fs::fchmod(&mem, Mode::from_raw_mode(0o511)).map_err(|e| err("chmod copy of", e))?;
    rustix::fs::fcntl_add_seals(
        &mem,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )
    .map_err(|e| err("seal copy of", e))?;
    Ok(mem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_copy_cannot_be_written() {
        let fd = sealed_copy(std::path::Path::new("/proc/self/exe")).unwrap();
        let st = rustix::fs::fstat(&fd).unwrap();
        assert!(st.st_size > 0);
        let w = rustix::fs::open(
            format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)),
            OFlags::WRONLY,
            Mode::empty(),
        );
        // Either the open or the write is refused: never silently nothing.
        match w {
            Ok(w) => assert_eq!(
                rustix::io::write(&w, b"x"),
                Err(rustix::io::Errno::PERM),
                "a sealed copy must refuse writes"
            ),
            Err(e) => assert!(
                matches!(e, rustix::io::Errno::PERM | rustix::io::Errno::ACCESS),
                "opening a sealed copy for writing: {e:?}"
            ),
        }
        let st2 = rustix::fs::fstat(&fd).unwrap();
        assert_eq!(st2.st_size, st.st_size, "the copy is unchanged");
    }

    #[test]
    fn ro_bind_refuses_writes() {
        lashing_testsupport::require_root();
        let fd = ro_bind(std::path::Path::new("/proc/self/exe")).unwrap();
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let r = rustix::fs::open(path, OFlags::WRONLY, Mode::empty());
        assert!(
            matches!(
                r,
                Err(rustix::io::Errno::ROFS) | Err(rustix::io::Errno::TXTBSY)
            ),
            "{r:?}"
        );
    }
}
