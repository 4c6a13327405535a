//! Putting a freshly written file in place of another, atomically, without the cost of a rename
//! over an existing file on ext4.
//!
//! ext4 (`auto_da_alloc`, on by default) forces the block allocation and writeback of a file
//! that is renamed over an existing one, so each `state.json` save would start I/O (0.3-1 ms
//! per save here, tens of ms on a busy disk). Exchanging the two names (`RENAME_EXCHANGE`) is
//! just as atomic for readers and does not trigger it; the old content, now under the
//! temporary name, is then unlinked. Where the kernel or file system cannot exchange (or
//! there is nothing to exchange with yet), a plain rename does it.

use std::io;
use std::path::Path;

use rustix::fs::{CWD, RenameFlags, renameat_with};
use rustix::io::Errno;

/// Atomically makes `path` the file written at `tmp`; `tmp` is gone afterwards.
pub(crate) fn replace(tmp: &Path, path: &Path) -> io::Result<()> {
    match renameat_with(CWD, tmp, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => {
            // `tmp` now names the previous content: a leftover is harmless (the next save
            // truncates it, removal takes any file of the directory).
            if let Err(e) = std::fs::remove_file(tmp) {
                tracing::debug!("remove the previous state {}: {e}", tmp.display());
            }
            Ok(())
        }
        // Nothing to exchange with (the first save), or no RENAME_EXCHANGE here.
        Err(Errno::NOENT | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            std::fs::rename(tmp, path)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_an_existing_file_and_creates_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, path) = (dir.path().join(".s.tmp"), dir.path().join("s"));
        std::fs::write(&tmp, "one").unwrap();
        replace(&tmp, &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        assert!(!tmp.exists());
        std::fs::write(&tmp, "two").unwrap();
        replace(&tmp, &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert!(!tmp.exists(), "the previous content is removed");
        let e = replace(&tmp, &path).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "no temp file: {e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
    }
}
