//! The global allocator of the musl build (`scripts/release-env`): dlmalloc behind a spin lock.
//!
//! musl's own allocator (mallocng) maps and unmaps memory for most allocations (121 `mmap` and
//! 102 `munmap` per `run`). dlmalloc grows its heap in large segments; its `global` feature
//! guards it with a pthread mutex, whose lock and unlock calls were ~20 % of `list`'s user time
//! (musl's mutex functions are out of line). The `lashing` command is single-threaded but for
//! `list` of 128 containers or more (up to four threads, each allocating a few small strings
//! per container between system calls) and the library's short-lived helper threads, so the
//! lock is all but always free: one atomic exchange to take it, one store to release it; a
//! taker that finds it held spins briefly, then yields.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// dlmalloc's heap and the lock that serialises every use of it.
pub struct Allocator {
    locked: AtomicBool,
    heap: UnsafeCell<dlmalloc::Dlmalloc>,
}

// SAFETY: the heap is only touched while `locked` is held (`with_heap`), by one thread at a time.
unsafe impl Sync for Allocator {}

impl Allocator {
    /// An empty heap (it maps its first segment at the first allocation).
    pub const fn new() -> Allocator {
        Allocator {
            locked: AtomicBool::new(false),
            heap: UnsafeCell::new(dlmalloc::Dlmalloc::new()),
        }
    }

    /// Runs `f` on the heap with the lock held. No allocation happens in a signal handler of
    /// this program (the signal pipe's handler writes a byte), so the holder is never
    /// interrupted by a taker on its own thread.
    fn with_heap<T>(&self, f: impl FnOnce(&mut dlmalloc::Dlmalloc) -> T) -> T {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: the lock taken above makes this the only reference to the heap until it is
        // released below.
        let r = f(unsafe { &mut *self.heap.get() });
        self.locked.store(false, Ordering::Release);
        r
    }
}

// SAFETY: every method forwards to dlmalloc's matching function with the layout's size and
// alignment (as its own `GlobalDlmalloc` does), under the lock; dlmalloc returns null on failure
// and blocks aligned as asked.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: a non-zero-sized layout (GlobalAlloc's contract) passed on as it is.
        self.with_heap(|h| unsafe { h.malloc(layout.size(), layout.align()) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`; dlmalloc clears what its system memory does not already zero.
        self.with_heap(|h| unsafe { h.calloc(layout.size(), layout.align()) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator with `layout` (the caller's contract).
        self.with_heap(|h| unsafe { h.free(ptr, layout.size(), layout.align()) })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc` for `ptr` and `layout`; `new_size` is non-zero and does not
        // overflow when rounded to the alignment (the caller's contract).
        self.with_heap(|h| unsafe { h.realloc(ptr, layout.size(), layout.align(), new_size) })
    }
}
