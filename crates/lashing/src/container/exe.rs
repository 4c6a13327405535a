//! A protected handle of the runtime's own executable (CVE-2019-5736): `lashing init` is executed
//! from it, so that a container process that reaches `/proc/<init>/exe` can never write to the
//! host binary.
//!
//! First choice (no copy, as crun): a detached, read-only bind mount of the binary made with
//! `open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)`. Fallback: a sealed memfd copy.
//!
//! The release of a detached mount is costly: the last `close` of its fd dissolves its anonymous
//! mount namespace (`dissolve_on_fput` -> `umount_tree`), and `namespace_unlock` then waits for
//! an expedited RCU grace period, which concurrent starts queue for. For a new container that
//! can take it safely ([`attach_target`]), the parent sends the mount to init, which attaches it
//! in the container's own mount namespace just before `pivot_root` (at the binary's own path, a
//! slave there by then): it leaves with the old root in init's one `umount2(MNT_DETACH)`, and no
//! close dissolves anything (a mount that left its anonymous namespace is no longer
//! `dissolve_on_fput`'s concern, Linux 5.2 to 6.18). It is read-only in every place it ever is.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};
use rustix::mount::{OpenTreeFlags, open_tree};

use crate::config::Config;
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

/// The protected handle of the executable to run as `lashing init`.
pub(crate) struct ProtectedExe {
    /// The handle `execveat` runs.
    pub(crate) fd: OwnedFd,
    /// It is a detached read-only mount (`open_tree` clone); otherwise a sealed memfd copy.
    pub(crate) mount: bool,
}

/// Opens the protected handle.
pub(crate) fn protected_exe() -> Result<ProtectedExe> {
    let path = self_exe();
    match ro_bind(&path) {
        Ok(fd) => Ok(ProtectedExe { fd, mount: true }),
        Err(e) => {
            tracing::debug!(
                "read-only bind of {} failed ({e}); using a sealed memfd copy",
                path.display()
            );
            Ok(ProtectedExe {
                fd: sealed_copy(&path)?,
                mount: false,
            })
        }
    }
}

/// Where init may attach the protected executable's detached mount (see the module doc): the
/// binary's own path, as the container's new mount namespace (a copy of ours) sees it. `None`
/// keeps the parent's detached clone (released at its close), for every container where the
/// attach is not known to be safe:
/// - no new mount namespace (joined or none): that namespace must not get a mount;
/// - a user namespace: the mount would enter a namespace whose owner may change its flags (a
///   mount copied into it would be `MNT_LOCK_READONLY`, an attached one is not);
/// - `rootfsPropagation` other than the default `rslave`, `rprivate` or `runbindable`: with a
///   shared, or a non-recursive, propagation the mount could propagate to the host's namespace;
/// - `--no-pivot`: the old root is not unmounted, the mount would stay in the namespace;
/// - a binary whose path is not known (deleted, renamed): init would have no target.
///
/// Init also keeps the parent's way when the target lies inside the rootfs (the container would
/// see the mount) or when the kernel refuses the attach.
pub(crate) fn attach_target(config: &Config) -> Option<PathBuf> {
    use crate::config::{MsFlags, NamespaceType};
    let prop = config.root_propagation;
    let recursive_not_shared = prop.contains(MsFlags::REC)
        && prop.intersects(MsFlags::SLAVE | MsFlags::PRIVATE | MsFlags::UNBINDABLE)
        && !prop.contains(MsFlags::SHARED);
    if !config.new_namespace(NamespaceType::Mount)
        || config.has_namespace(NamespaceType::User)
        || config.no_pivot_root
        || !(prop.is_empty() || recursive_not_shared)
    {
        return None;
    }
    let path = match INIT_EXE.get() {
        Some(p) => std::fs::canonicalize(p).ok()?,
        // The kernel's own name of the running binary: canonical, " (deleted)" once unlinked.
        None => std::fs::read_link("/proc/self/exe").ok()?,
    };
    let unknown = path.to_str().is_none_or(|s| s.ends_with(" (deleted)"));
    (path.is_absolute() && !unknown).then_some(path)
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

    /// `lashing spec`'s configuration, as `create` makes it (a new mount namespace, no user
    /// namespace, the default propagation).
    fn example_config(dir: &std::path::Path) -> Config {
        let bundle = dir.join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        let spec = crate::config::example_spec_json();
        std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
        Config::from_bundle(&crate::config::CreateOpts {
            bundle,
            no_pivot_root: false,
            no_new_keyring: false,
        })
        .unwrap()
    }

    #[test]
    fn attach_target_only_where_the_mount_cannot_leak() {
        use crate::config::{MsFlags, Namespace, NamespaceType};
        let dir = tempfile::tempdir().unwrap();
        let base = example_config(dir.path());
        let me = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(attach_target(&base), Some(me.clone()), "the default config");
        let with = |f: &dyn Fn(&mut Config)| {
            let mut c = base.clone();
            f(&mut c);
            attach_target(&c)
        };
        for (name, prop, attached) in [
            ("rslave", MsFlags::SLAVE | MsFlags::REC, true),
            ("rprivate", MsFlags::PRIVATE | MsFlags::REC, true),
            ("runbindable", MsFlags::UNBINDABLE | MsFlags::REC, true),
            ("slave", MsFlags::SLAVE, false),
            ("private", MsFlags::PRIVATE, false),
            ("unbindable", MsFlags::UNBINDABLE, false),
            ("shared", MsFlags::SHARED, false),
            ("rshared", MsFlags::SHARED | MsFlags::REC, false),
        ] {
            let got = with(&|c| c.root_propagation = prop);
            assert_eq!(got.is_some(), attached, "rootfsPropagation {name}: {got:?}");
        }
        assert_eq!(with(&|c| c.no_pivot_root = true), None, "--no-pivot");
        let no_mntns = with(&|c| c.namespaces.retain(|n| n.typ != NamespaceType::Mount));
        assert_eq!(no_mntns, None, "no mount namespace");
        let joined = with(&|c| {
            for n in &mut c.namespaces {
                if n.typ == NamespaceType::Mount {
                    n.path = Some("/proc/1/ns/mnt".into());
                }
            }
        });
        assert_eq!(joined, None, "a joined mount namespace");
        let userns = with(&|c| {
            c.namespaces.push(Namespace {
                typ: NamespaceType::User,
                path: None,
            })
        });
        assert_eq!(userns, None, "a user namespace");
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
