//! [`ZeroedPages`]: a buffer of zero-filled pages straight from the kernel.

use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// An anonymous private mapping of `len` bytes: zero-filled by the kernel and resident only
/// where written, whatever the process's allocator (a heap buffer of the same size would be
/// cleared, every page of it, by an allocator that does not map large blocks itself).
pub(crate) struct ZeroedPages {
    ptr: NonNull<u8>,
    len: usize,
}

impl ZeroedPages {
    /// Maps `len` (> 0) bytes.
    pub(crate) fn new(len: usize) -> io::Result<ZeroedPages> {
        // SAFETY: a new anonymous private mapping at an address of the kernel's choice: it
        // aliases no memory of the process; MAP_FAILED is checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned 0"))?;
        Ok(ZeroedPages { ptr, len })
    }
}

impl Deref for ZeroedPages {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is a readable mapping of `len` bytes (zero-filled, or written through
        // `deref_mut`) that lives until `drop`, and `&self` excludes a `&mut` borrow meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for ZeroedPages {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and the mapping is writable; `&mut self` makes this borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for ZeroedPages {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, which no borrow outlives (`drop`
        // takes `&mut self`).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::ZeroedPages;

    #[test]
    fn zero_filled_writable_and_of_the_asked_length() {
        let mut p = ZeroedPages::new(3 * 4096 + 5).unwrap();
        assert_eq!(p.len(), 3 * 4096 + 5);
        assert!(p.iter().all(|&b| b == 0));
        p[3 * 4096 + 4] = 7;
        p[0] = 1;
        assert_eq!((p[0], p[3 * 4096 + 4], p[1]), (1, 7, 0));
    }
}
