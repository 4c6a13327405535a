//! The shim's only unsafe code: process-wide libc settings made once at start.

/// Limits glibc's malloc to its main arena. Every thread that allocates would otherwise get an
/// arena of its own (up to 8 per core), each a heap mapping with its own touched pages; the
/// shim's threads (the TTRPC server's, the reaper, the relays) allocate little, and rarely at
/// the same time, so one arena costs no contention worth measuring and saves that memory per pod
/// (docs/benchmarks.md). Must run before the first thread starts.
pub fn one_malloc_arena() {
    // SAFETY: mallopt only changes the allocator's tunables; it is called from `main` before any
    // other thread exists, and its failure (a 0 return) just leaves the default.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Makes `fds` the child's fds 3, 4, 5... when `cmd` is spawned (the logging binary's pipes).
/// `cmd` owns them from here: they are closed in this process when it is dropped.
pub fn pass_fds<const N: usize>(cmd: &mut std::process::Command, fds: [std::os::fd::OwnedFd; N]) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw: [i32; N] = std::array::from_fn(|i| fds[i].as_raw_fd());
    // SAFETY: the closure runs in the forked child before exec and only calls fcntl and dup2,
    // which are async-signal-safe; it allocates nothing and takes no lock. The fds it reads are
    // kept open until `cmd` is dropped (moved into the closure), so they are valid in the child.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &fds;
            // First above every target, so that a source already numbered 3..3+N is not
            // overwritten before it is moved; dup2 then clears close-on-exec on the target.
            let mut high = [0i32; N];
            for (h, fd) in high.iter_mut().zip(raw) {
                *h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3 + N as i32);
                if *h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, h) in high.into_iter().enumerate() {
                if libc::dup2(h, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Returns the allocator's free memory to the kernel (`malloc_trim`): after a container is
/// created or deleted, the heap holds the freed parse trees of its configuration, in pages that
/// would otherwise stay resident in a shim that then idles for the container's lifetime.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists under its locks; it is safe
    // to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
