//! Hardened access to cgroup files (runc's `file.go`, GHSA-5g49-rx9x-qfc6): every file is opened
//! with `openat2` relative to an fd of its hierarchy's mount root, with `RESOLVE_BENEATH`,
//! `RESOLVE_NO_MAGICLINKS`, `RESOLVE_NO_SYMLINKS` and `RESOLVE_NO_XDEV`, so nothing mounted or
//! linked inside a cgroup tree can redirect a write outside it. The root fd is checked to be a
//! cgroup file system once (and `RESOLVE_NO_XDEV` keeps every open on that same mount); file
//! names with `/`, or equal to `.`/`..`, are rejected.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::hierarchy::{CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, fs_magic};

/// The root of a mounted hierarchy, opened once per process.
#[derive(Debug)]
pub(crate) struct Root {
    mount: PathBuf,
    fd: OwnedFd,
    unified: bool,
}

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_XDEV);

/// An errno as an I/O error (the `source` of this crate's errors). `EXDEV` is what every open
/// beneath a hierarchy gets when the path crosses another mount (say, a read-only bind mount over
/// part of the cgroup tree): it is said in those words, not as "Invalid cross-device link".
pub(crate) fn io_err(e: Errno) -> std::io::Error {
    if e == Errno::XDEV {
        return std::io::Error::new(
            std::io::ErrorKind::CrossesDevices,
            "the path crosses another mount than the cgroup hierarchy's own (something is mounted \
             over the cgroup tree); cgroup files are only opened on the hierarchy's mount",
        );
    }
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

#[cfg(test)]
mod io_err_tests {
    use super::*;

    /// A crossing into another mount is said as such (scripts/faults' read-only cgroup parent
    /// read "Invalid cross-device link").
    #[test]
    fn crossing_a_mount_is_named() {
        let e = io_err(Errno::XDEV);
        assert_eq!(e.kind(), std::io::ErrorKind::CrossesDevices);
        assert!(e.to_string().contains("crosses another mount"), "{e}");
        assert_eq!(io_err(Errno::NOENT).raw_os_error(), Some(libc::ENOENT));
    }
}

/// Opens (or returns the cached) root fd of the hierarchy mounted at `mount`.
pub(crate) fn root(mount: &Path) -> Result<Arc<Root>> {
    static ROOTS: Mutex<Vec<Arc<Root>>> = Mutex::new(Vec::new());
    let mut roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = roots.iter().find(|r| r.mount == mount) {
        return Ok(r.clone());
    }
    let fd = rustix::fs::open(
        mount,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Io {
        op: "open hierarchy root",
        path: mount.to_owned(),
        source: io_err(e),
    })?;
    let magic = rustix::fs::fstatfs(&fd)
        .map(|s| fs_magic(&s))
        .map_err(|e| Error::Io {
            op: "statfs",
            path: mount.to_owned(),
            source: io_err(e),
        })?;
    let unified = match magic {
        CGROUP2_SUPER_MAGIC => true,
        CGROUP_SUPER_MAGIC => false,
        magic => {
            return Err(Error::NotCgroupFs {
                path: mount.to_owned(),
                magic,
            });
        }
    };
    let r = Arc::new(Root {
        mount: mount.to_owned(),
        fd,
        unified,
    });
    roots.push(r.clone());
    Ok(r)
}

/// Rejects file names that could leave the cgroup directory.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(Error::InvalidFileName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A cgroup directory: a hierarchy root plus a relative path inside it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    root: Arc<Root>,
    rel: PathBuf,
}

impl Node {
    /// The node for the absolute directory `path` of the hierarchy mounted at `mount`.
    pub(crate) fn new(mount: &Path, path: &Path) -> Result<Node> {
        let rel = path
            .strip_prefix(mount)
            .map_err(|_| Error::NotInHierarchy {
                path: path.to_owned(),
            })?
            .to_owned();
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::NotInHierarchy {
                path: path.to_owned(),
            });
        }
        Ok(Node {
            root: root(mount)?,
            rel,
        })
    }

    /// Whether this is a cgroup2 directory.
    pub(crate) fn unified(&self) -> bool {
        self.root.unified
    }

    /// The absolute path of the directory.
    pub(crate) fn path(&self) -> PathBuf {
        if self.rel.as_os_str().is_empty() {
            self.root.mount.clone()
        } else {
            self.root.mount.join(&self.rel)
        }
    }

    /// Whether this is the root of its hierarchy.
    pub(crate) fn is_root(&self) -> bool {
        self.rel.as_os_str().is_empty()
    }

    /// The parent directory (`None` at the hierarchy root).
    pub(crate) fn parent(&self) -> Option<Node> {
        if self.is_root() {
            return None;
        }
        Some(Node {
            root: self.root.clone(),
            rel: self.rel.parent().map(Path::to_owned).unwrap_or_default(),
        })
    }

    /// This directory opened as a root of its own: the nodes under it are then opened relative
    /// to it (fewer path components for the kernel to walk, each a kernfs revalidation), with
    /// the same `openat2` rules, on the same mount (it was opened beneath the hierarchy's root
    /// with `RESOLVE_NO_XDEV`). For a caller that reads many sibling cgroups.
    pub(crate) fn as_root(&self) -> std::result::Result<Node, Errno> {
        let fd = self.open_dir(OFlags::PATH)?;
        Ok(Node {
            root: Arc::new(Root {
                mount: self.path(),
                fd,
                unified: self.root.unified,
            }),
            rel: PathBuf::new(),
        })
    }

    /// The child directory `name`.
    pub(crate) fn child(&self, name: &str) -> Result<Node> {
        check_name(name)?;
        Ok(Node {
            root: self.root.clone(),
            rel: self.rel.join(name),
        })
    }

    fn rel_of(&self, name: Option<&str>) -> PathBuf {
        match name {
            Some(n) if self.is_root() => PathBuf::from(n),
            Some(n) => self.rel.join(n),
            None if self.is_root() => PathBuf::from("."),
            None => self.rel.clone(),
        }
    }

    fn open_rel(&self, rel: &Path, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
        match rustix::fs::openat2(
            &self.root.fd,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE,
        ) {
            Err(Errno::NOSYS) => {
                // Kernels before 5.6: no openat2. Open without following a final symlink and
                // check that the result is on a cgroup file system.
                let fd = rustix::fs::openat(
                    &self.root.fd,
                    rel,
                    flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                    Mode::empty(),
                )?;
                let magic = fs_magic(&rustix::fs::fstatfs(&fd)?);
                if magic != CGROUP_SUPER_MAGIC && magic != CGROUP2_SUPER_MAGIC {
                    return Err(Errno::XDEV);
                }
                Ok(fd)
            }
            r => r,
        }
    }

    /// Opens the file `name` of this directory.
    pub(crate) fn open_file(&self, name: &str, flags: OFlags) -> Result<OwnedFd> {
        check_name(name)?;
        self.open_rel(&self.rel_of(Some(name)), flags)
            .map_err(|e| Error::Io {
                op: "open",
                path: self.path().join(name),
                source: io_err(e),
            })
    }

    /// Opens this directory itself.
    pub(crate) fn open_dir(&self, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
        self.open_rel(&self.rel_of(None), flags | OFlags::DIRECTORY)
    }

    /// Whether this directory exists.
    pub(crate) fn exists(&self) -> bool {
        self.open_dir(OFlags::PATH).is_ok()
    }

    /// Whether the file `name` exists in this directory.
    pub(crate) fn has_file(&self, name: &str) -> bool {
        check_name(name).is_ok()
            && self
                .open_rel(&self.rel_of(Some(name)), OFlags::PATH)
                .is_ok()
    }

    /// Reads the file `name` whole.
    pub(crate) fn read(&self, name: &str) -> Result<String> {
        let fd = self.open_file(name, OFlags::RDONLY)?;
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 4096];
        loop {
            match rustix::io::read(&fd, &mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(Errno::INTR) => {}
                Err(e) => {
                    return Err(Error::Read {
                        path: self.path().join(name),
                        source: io_err(e),
                    });
                }
            }
        }
        String::from_utf8(buf).map_err(|e| Error::Parse {
            path: self.path().join(name),
            value: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "not UTF-8".to_owned(),
        })
    }

    /// Reads the file `name`, which holds one short record (`freezer.state`, `cgroup.freeze`),
    /// or `None` if it (or this directory) does not exist. Such a file is produced whole at the
    /// first `read`: one that does not fill the buffer has returned all of it, so no second
    /// `read` is made to see its end.
    pub(crate) fn read_record_opt(&self, name: &str) -> Result<Option<String>> {
        let fd = match self.open_file(name, OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut buf = [0u8; 64];
        let mut text = Vec::new();
        loop {
            match rustix::io::read(&fd, &mut buf) {
                Ok(n) => {
                    text.extend_from_slice(&buf[..n]);
                    if n < buf.len() {
                        break;
                    }
                }
                Err(Errno::INTR) => {}
                Err(e) => {
                    return Err(Error::Read {
                        path: self.path().join(name),
                        source: io_err(e),
                    });
                }
            }
        }
        String::from_utf8(text).map(Some).map_err(|e| Error::Parse {
            path: self.path().join(name),
            value: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "not UTF-8".to_owned(),
        })
    }

    /// Reads the file `name`, or `None` if it does not exist.
    pub(crate) fn read_opt(&self, name: &str) -> Result<Option<String>> {
        match self.read(name) {
            Ok(s) => Ok(Some(s)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `value` into the file `name` with a single `write` (as cgroupfs requires).
    pub(crate) fn write(&self, name: &str, value: &str) -> Result<()> {
        let werr = |e: std::io::Error| Error::Write {
            path: self.path().join(name),
            value: value.to_owned(),
            source: e,
        };
        check_name(name)?;
        let fd = self
            .open_rel(&self.rel_of(Some(name)), OFlags::WRONLY | OFlags::TRUNC)
            .map_err(|e| werr(io_err(e)))?;
        loop {
            match rustix::io::write(&fd, value.as_bytes()) {
                Ok(n) if n == value.len() => return Ok(()),
                Ok(_) => return Err(werr(std::io::ErrorKind::WriteZero.into())),
                Err(Errno::INTR) => {}
                Err(e) => return Err(werr(io_err(e))),
            }
        }
    }

    /// Writes each of `values` into the file `name`, in order, one `write` each, through one
    /// open file (a v1 `devices.allow` takes one rule per write).
    pub(crate) fn write_each<'v>(
        &self,
        name: &str,
        values: impl IntoIterator<Item = &'v str>,
    ) -> Result<()> {
        check_name(name)?;
        let mut fd = None;
        for value in values {
            let werr = |e: std::io::Error| Error::Write {
                path: self.path().join(name),
                value: value.to_owned(),
                source: e,
            };
            let fd = match &mut fd {
                Some(fd) => fd,
                None => fd.insert(
                    self.open_rel(&self.rel_of(Some(name)), OFlags::WRONLY | OFlags::TRUNC)
                        .map_err(|e| werr(io_err(e)))?,
                ),
            };
            loop {
                match rustix::io::write(&*fd, value.as_bytes()) {
                    Ok(n) if n == value.len() => break,
                    Ok(_) => return Err(werr(std::io::ErrorKind::WriteZero.into())),
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(werr(io_err(e))),
                }
            }
        }
        Ok(())
    }

    /// Creates this directory if needed, with every missing ancestor. Returns the directories
    /// created, outermost first.
    pub(crate) fn mkdir_all(&self) -> Result<Vec<Node>> {
        // The common case first: the parent exists (one open and one mkdir, not two per level).
        if let (Some(parent), Some(name)) = (self.parent(), self.rel.file_name())
            && let Ok(parent_fd) = parent.open_dir(OFlags::PATH)
        {
            return match rustix::fs::mkdirat(&parent_fd, name, Mode::from_raw_mode(0o755)) {
                Ok(()) => Ok(vec![self.clone()]),
                Err(Errno::EXIST) => Ok(Vec::new()),
                Err(e) => Err(Error::Io {
                    op: "mkdir",
                    path: self.path(),
                    source: io_err(e),
                }),
            };
        }
        let mut created = Vec::new();
        let mut cur = Node {
            root: self.root.clone(),
            rel: PathBuf::new(),
        };
        for comp in self.rel.components() {
            let name = comp.as_os_str().to_string_lossy();
            let parent_fd = cur.open_dir(OFlags::PATH).map_err(|e| Error::Io {
                op: "open",
                path: cur.path(),
                source: io_err(e),
            })?;
            cur = cur.child(&name)?;
            match rustix::fs::mkdirat(&parent_fd, &*name, Mode::from_raw_mode(0o755)) {
                Ok(()) => created.push(cur.clone()),
                Err(Errno::EXIST) => {}
                Err(e) => {
                    return Err(Error::Io {
                        op: "mkdir",
                        path: cur.path(),
                        source: io_err(e),
                    });
                }
            }
        }
        Ok(created)
    }

    /// The names of the child cgroups of this directory.
    pub(crate) fn children(&self) -> Result<Vec<String>> {
        let fd = match self.open_dir(OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Io {
                    op: "open",
                    path: self.path(),
                    source: io_err(e),
                });
            }
        };
        let derr = |e: Errno| Error::Io {
            op: "read directory",
            path: self.path(),
            source: io_err(e),
        };
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::new(fd).map_err(derr)? {
            let entry = entry.map_err(derr)?;
            if entry.file_type() != rustix::fs::FileType::Directory {
                continue;
            }
            let name = entry.file_name().to_string_lossy();
            if name != "." && name != ".." {
                out.push(name.into_owned());
            }
        }
        Ok(out)
    }

    /// Removes this (empty) directory; `Ok(false)` if it did not exist.
    pub(crate) fn rmdir(&self) -> std::result::Result<bool, Errno> {
        let Some(parent) = self.parent() else {
            return Err(Errno::PERM);
        };
        let parent_fd = match parent.open_dir(OFlags::PATH) {
            Err(Errno::NOENT) => return Ok(false),
            r => r?,
        };
        let name = self.rel.file_name().unwrap_or_default();
        match rustix::fs::unlinkat(parent_fd.as_fd(), name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_checked() {
        for bad in ["", ".", "..", "a/b", "../x", "/x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("cgroup.procs").is_ok());
    }

    #[test]
    fn non_cgroup_roots_are_refused() {
        assert!(matches!(
            root(Path::new("/tmp")),
            Err(Error::NotCgroupFs { .. })
        ));
    }
}
