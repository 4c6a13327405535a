//! `/dev` setup (runc's `createDevices`, `setupPtmx`, `setupDevSymlinks`), all fd-relative inside
//! the root (CVE-2026-41579: an image whose `/dev` is a symlink cannot make us touch the host).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::fs::{AtFlags, CWD, FileType, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;

use super::error::{Result, RootfsError};
use super::inroot::{Root, create_file_at, fd_path, openat2_retry};
use super::mounts::{attach, clone_tree};
use super::options::clean_path;
use crate::config::{Config, Device, DeviceType, NamespaceType};

/// Whether `/dev` must be populated: no bind mount has the destination `/dev`.
pub(crate) fn needs_setup_dev(config: &Config) -> bool {
    !config
        .mounts
        .iter()
        .any(|m| m.is_bind() && clean_path(&m.destination) == Path::new("/dev"))
}

/// Creates the device nodes, the `/dev/ptmx` symlink and the standard `/dev` symlinks.
pub(crate) fn setup_dev(root: &Root, config: &Config) -> Result<()> {
    let userns = config.has_namespace(NamespaceType::User);
    for d in &config.devices {
        let path = clean_path(&d.path);
        if path == Path::new("/dev/ptmx") {
            continue;
        }
        create_device(root, d, &path, userns)?;
    }
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    match rustix::fs::unlinkat(&dev, "ptmx", AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(RootfsError::sys("unlink", "/dev/ptmx", e)),
    }
    symlink(dev.as_fd(), "pts/ptmx", "ptmx")?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        symlink(dev.as_fd(), target, name)?;
    }
    Ok(())
}

/// `symlinkat(target, dev, name)`; an existing entry is kept (as runc).
fn symlink(dev: BorrowedFd<'_>, target: &str, name: &str) -> Result<()> {
    match rustix::fs::symlinkat(target, dev, name) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(RootfsError::sys("symlink", format!("/dev/{name}"), e)),
    }
}

fn file_type(d: &Device) -> FileType {
    match d.typ {
        DeviceType::Char | DeviceType::Unbuffered => FileType::CharacterDevice,
        DeviceType::Block => FileType::BlockDevice,
        DeviceType::Fifo => FileType::Fifo,
    }
}

fn create_device(root: &Root, d: &Device, path: &Path, userns: bool) -> Result<()> {
    let shown = path.display().to_string();
    let ft = file_type(d);
    let (major, minor) = match (u32::try_from(d.major), u32::try_from(d.minor)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            return Err(RootfsError::invalid(
                "mknod",
                &shown,
                format!("invalid device number {}:{}", d.major, d.minor),
            ));
        }
    };
    let (dir, name) = root.parent_of("mknod", path)?;
    if userns {
        return bind_device(dir.as_fd(), &name, d, path);
    }
    let dev = rustix::fs::makedev(major, minor);
    let mode = Mode::from_raw_mode(d.file_mode & 0o7777);
    match rustix::fs::mknodat(&dir, name.as_os_str(), ft, mode, dev) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Ok(()),
        Err(Errno::PERM) => return bind_device(dir.as_fd(), &name, d, path),
        Err(e) => return Err(RootfsError::sys("mknod", &shown, e)),
    }
    let fd = openat2_retry(
        dir.as_fd(),
        Path::new(&name),
        OFlags::PATH | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
    )
    .map_err(|e| RootfsError::sys("mknod", &shown, e))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| RootfsError::sys("mknod", &shown, e))?;
    if FileType::from_raw_mode(st.st_mode) != ft || (ft != FileType::Fifo && st.st_rdev != dev) {
        return Err(RootfsError::invalid(
            "mknod",
            &shown,
            format!(
                "created node is {:?} {}:{}, expected {ft:?} {major}:{minor}",
                FileType::from_raw_mode(st.st_mode),
                rustix::fs::major(st.st_rdev),
                rustix::fs::minor(st.st_rdev)
            ),
        ));
    }
    // fchmod does not take O_PATH fds: go through the fd's magic link (the node itself).
    rustix::fs::chmodat(CWD, fd_path(fd.as_fd()), mode, AtFlags::empty())
        .map_err(|e| RootfsError::sys("chmod device", &shown, e))?;
    rustix::fs::chownat(
        &fd,
        "",
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        AtFlags::EMPTY_PATH,
    )
    .map_err(|e| RootfsError::sys("chown device", &shown, e))?;
    Ok(())
}

/// Bind-mounts the host's node `d.path` onto an empty file (user namespaces, or mknod EPERM).
fn bind_device(dir: BorrowedFd<'_>, name: &OsStr, d: &Device, path: &Path) -> Result<()> {
    let shown = path.display().to_string();
    let target =
        create_file_at(dir, name, 0).map_err(|e| RootfsError::sys("bind device", &shown, e))?;
    let r: io::Result<()> =
        clone_tree(CWD, &d.path, false).and_then(|t| attach(t.as_fd(), target.as_fd()));
    r.map_err(|e| RootfsError::sys("bind device", shown, e))
}
