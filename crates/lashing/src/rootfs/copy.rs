//! `tmpcopyup`: copies a directory tree between two directory fds (never following symlinks),
//! keeping modes and owners.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The deepest directory nesting [`copy_tree`] follows (each level holds two fds and a stack
/// frame): an image with deeper trees is refused rather than exhausting fds or the stack.
pub(crate) const MAX_COPY_DEPTH: usize = 64;

/// Opens the regular file `name` of `dir` for reading: `O_NONBLOCK` (a fifo swapped in after the
/// `statat` cannot block the open) and `O_NOFOLLOW`, then checks with `fstat` that the open file
/// still is a regular file (a fifo or device opened by the race is refused, never read).
pub(crate) fn open_regular(
    dir: BorrowedFd<'_>,
    name: &CStr,
) -> io::Result<(File, rustix::fs::Stat)> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::other(format!(
            "{name:?} is no longer a regular file once opened (replaced during the copy)"
        )));
    }
    Ok((File::from(fd), st))
}

/// Copies the contents of the directory `src` into the directory `dst`: directories, regular
/// files, symlinks, device nodes and fifos (sockets are skipped). Directories nested deeper than
/// [`MAX_COPY_DEPTH`] levels are refused.
pub(crate) fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    copy_tree_depth(src, dst, 0)
}

fn copy_tree_depth(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize) -> io::Result<()> {
    let dir = rustix::fs::Dir::read_from(src)?;
    for entry in dir {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
        let owner = (
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        );
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                if depth >= MAX_COPY_DEPTH {
                    return Err(io::Error::other(format!(
                        "directory {name:?} is nested deeper than {MAX_COPY_DEPTH} levels"
                    )));
                }
                match rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                let s = open_dir(src, name)?;
                let d = open_dir(dst, name)?;
                copy_tree_depth(s.as_fd(), d.as_fd(), depth + 1)?;
                rustix::fs::fchown(&d, owner.0, owner.1)?;
                rustix::fs::fchmod(&d, mode)?;
            }
            FileType::RegularFile => {
                let (mut s, st) = open_regular(src, name)?;
                let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
                let owner = (
                    Some(Uid::from_raw(st.st_uid)),
                    Some(Gid::from_raw(st.st_gid)),
                );
                let d = rustix::fs::openat(
                    dst,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::TRUNC
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut d = File::from(d);
                io::copy(&mut s, &mut d)?;
                rustix::fs::fchown(&d, owner.0, owner.1)?;
                rustix::fs::fchmod(&d, mode)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, name, Vec::new())?;
                match rustix::fs::symlinkat(target.as_c_str(), dst, name) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                rustix::fs::chownat(dst, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                match rustix::fs::mknodat(dst, name, t, mode, st.st_rdev) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                rustix::fs::chownat(dst, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn copies_files_dirs_and_symlinks() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("sub/f"), b"hello").unwrap();
        std::fs::set_permissions(
            src.path().join("sub/f"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::fs::set_permissions(
            src.path().join("sub"),
            std::fs::Permissions::from_mode(0o711),
        )
        .unwrap();
        symlink("/etc/nowhere", src.path().join("link")).unwrap();
        let s = File::open(src.path()).unwrap();
        let d = File::open(dst.path()).unwrap();
        copy_tree(s.as_fd(), d.as_fd()).unwrap();
        assert_eq!(std::fs::read(dst.path().join("sub/f")).unwrap(), b"hello");
        let meta = std::fs::metadata(dst.path().join("sub/f")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        let meta = std::fs::metadata(dst.path().join("sub")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o711);
        assert_eq!(
            std::fs::read_link(dst.path().join("link")).unwrap(),
            std::path::Path::new("/etc/nowhere")
        );
    }
}
