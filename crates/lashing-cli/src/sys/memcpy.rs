//! `memcpy` and `memmove` of the musl build on x86_64 (`scripts/release-env`), in place of
//! musl's own.
//!
//! musl's x86_64 `memcpy` moves bytes one by one (`movsb`) until the destination is 8-byte
//! aligned, then starts `rep movsq` (a microcoded loop with a start-up cost of tens of cycles),
//! then moves the tail byte by byte: ~50-150 cycles for the copies of a few bytes that make up
//! almost all of a start's. The size-optimized build (`opt-level = "z"`) inlines no copy, so
//! serde's writers call it for every token: ~13,000 calls per `run` in the runtime alone (most
//! under 16 bytes), 5-7 % of its CPU time (`perf record -e cpu-clock`). Here a copy of up to 32
//! bytes is two overlapping loads and two stores (no loop, no branch on alignment); a longer
//! one is one `rep movsb` (fast strings: ERMS, every x86_64 CPU since 2013).
//!
//! [`copy`] is the whole implementation and is what the tests check (on every build, against
//! `ptr::copy`); the exported symbols exist in the musl build only. Nothing here may call
//! `memcpy` or `memmove` itself: straight-line loads and stores of integers and an `asm!` block
//! are all it uses, so no loop the compiler could turn back into a call.

/// Copies `n` bytes from `src` to `dst` as `memmove` does: the two ranges may overlap.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes.
#[inline(always)]
pub unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) {
    if n <= 32 {
        // SAFETY: the caller's contract, for n <= 32.
        unsafe { copy_small(dst, src, n) };
        return;
    }
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // `dst` is below `src` or past the end of the source: a forward copy never overwrites
        // a byte it has yet to read.
        // SAFETY: `rep movsb` moves `rcx` bytes from `rsi` to `rdi` upwards (the direction flag
        // is clear, as the ABI requires at every call); the caller vouches for both ranges.
        unsafe {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags)
            );
        }
    } else {
        // `dst` overlaps the source from above: downwards, from the last byte, then the
        // direction flag is cleared again.
        // SAFETY: as above, moving downwards from the last byte of each range; the flag is
        // restored before the block ends.
        unsafe {
            core::arch::asm!(
                "std",
                "rep movsb",
                "cld",
                inout("rcx") n => _,
                inout("rdi") dst.add(n - 1) => _,
                inout("rsi") src.add(n - 1) => _,
                options(nostack)
            );
        }
    }
}

/// [`copy`] of at most 32 bytes: every load before any store, so overlapping ranges are fine.
///
/// # Safety
/// As [`copy`], with `n <= 32`.
#[inline(always)]
unsafe fn copy_small(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: each load reads inside `src..src + n` and each store writes inside
    // `dst..dst + n` (the second of each pair ends at the last byte), unaligned accesses.
    unsafe {
        if n >= 16 {
            let a = src.cast::<u128>().read_unaligned();
            let b = src.add(n - 16).cast::<u128>().read_unaligned();
            dst.cast::<u128>().write_unaligned(a);
            dst.add(n - 16).cast::<u128>().write_unaligned(b);
        } else if n >= 8 {
            let a = src.cast::<u64>().read_unaligned();
            let b = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if n >= 4 {
            let a = src.cast::<u32>().read_unaligned();
            let b = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(b);
        } else if n >= 2 {
            let a = src.cast::<u16>().read_unaligned();
            let b = src.add(n - 2).cast::<u16>().read_unaligned();
            dst.cast::<u16>().write_unaligned(a);
            dst.add(n - 2).cast::<u16>().write_unaligned(b);
        } else if n == 1 {
            dst.write(src.read());
        }
    }
}

/// The C library's `memcpy`, for the whole program (the static link takes this definition
/// before the C library's archive).
///
/// # Safety
/// The C contract: `src` valid for reads and `dst` for writes of `n` bytes.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the C contract (non-overlapping ranges are a case of `copy`'s).
    unsafe { copy(dst, src, n) };
    dst
}

/// The C library's `memmove` (defined here as well: musl's refers to its own `memcpy`'s
/// object, which would then be linked twice).
///
/// # Safety
/// The C contract: `src` valid for reads and `dst` for writes of `n` bytes.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the C contract.
    unsafe { copy(dst, src, n) };
    dst
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// `copy` against `ptr::copy` in one buffer: every length from 0 to 300 and offsets that
    /// make the ranges disjoint, overlapping from below and from above, and equal.
    fn check(len: usize, from: usize, to: usize) {
        let mut want: Vec<u8> = (0..len + 64).map(|i| (i * 7 + 3) as u8).collect();
        let mut got = want.clone();
        let n = len;
        // SAFETY: `from + n` and `to + n` are within the buffers (64 spare bytes, offsets < 64).
        unsafe {
            std::ptr::copy(want.as_ptr().add(from), want.as_mut_ptr().add(to), n);
            super::copy(got.as_mut_ptr().add(to), got.as_ptr().add(from), n);
        }
        assert_eq!(got, want, "len {len} from {from} to {to}");
    }

    #[test]
    fn every_length_and_overlap() {
        for len in 0..=300 {
            for (from, to) in [
                (0, 0),
                (0, 1),
                (1, 0),
                (0, 33),
                (33, 0),
                (5, 37),
                (63, 0),
                (0, 63),
            ] {
                check(len, from, to);
            }
        }
    }

    /// Disjoint buffers, as `memcpy` sees them: unaligned starts and sizes across the 32-byte
    /// boundary.
    #[test]
    fn disjoint_copies() {
        for n in 0..=100 {
            for off in 0..8 {
                let src: Vec<u8> = (0..n + 8).map(|i| i as u8 ^ 0x5a).collect();
                let mut dst = vec![0u8; n + 8];
                // SAFETY: both buffers hold `off + n` bytes (off < 8) and do not overlap.
                unsafe { super::copy(dst.as_mut_ptr().add(off), src.as_ptr().add(7 - off), n) };
                assert_eq!(
                    &dst[off..off + n],
                    &src[7 - off..7 - off + n],
                    "n {n} off {off}"
                );
                assert!(dst[..off].iter().all(|&b| b == 0), "nothing before");
                assert!(dst[off + n..].iter().all(|&b| b == 0), "nothing after");
            }
        }
    }

    proptest! {
        #[test]
        fn copies_as_ptr_copy(len in 0usize..5000, from in 0usize..64, to in 0usize..64) {
            check(len, from, to);
        }
    }
}
