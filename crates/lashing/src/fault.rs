//! A test-only fault hook (debug builds only: compiled out of release builds). With
//! `_LASHING_TEST_KILL_INIT_AT=<sync point>` in the environment of `create`/`run`/`exec`, the
//! parent SIGKILLs init (and waits until it has exited, unreaped, as a real death leaves it) as
//! soon as init's message of that name (`pid`, `mapsPlease`, `hooks`,
//! `ready`, `seccompFd`, `log`, `created`; [`crate::channel::ToParent::name`]) arrives, then goes
//! on as if nothing happened: the path that must turn init's death at that point into a clear
//! error (or a stopped container) and leave nothing `delete --force` cannot remove. Used by
//! `crates/lashing-cli/tests/faults.rs`.

/// The variable naming the sync point.
pub(crate) const KILL_INIT_AT: &str = "_LASHING_TEST_KILL_INIT_AT";

/// Whether init is to be killed at `point`.
pub(crate) fn kill_init_at(point: &str) -> bool {
    std::env::var_os(KILL_INIT_AT).is_some_and(|v| v == point)
}

/// SIGKILLs the process of `pidfd` and waits until it has exited (a zombie: not reaped).
pub(crate) fn kill_and_wait_exit(pidfd: std::os::fd::BorrowedFd<'_>) {
    use rustix::event::{PollFd, PollFlags, poll};
    let _ = crate::sys::process::pidfd_signal(pidfd, libc::SIGKILL);
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let _ = poll(&mut fds, None);
}
