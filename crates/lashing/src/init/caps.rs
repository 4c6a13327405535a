//! Applying the capability sets of the process (bounding before the uid switch, the others after).

use std::io;

use rustix::thread::{CapabilitySet, CapabilitySets};

use crate::config::Capabilities;
use crate::sys::process as sysp;

/// The highest capability number the running kernel knows: asked of the kernel itself
/// (`PR_CAPBSET_READ` fails with `EINVAL` past the last one), not read from a procfs the
/// container may lack, so that no capability of a newer kernel stays in the bounding set.
pub(crate) fn last_cap() -> u32 {
    last_valid(|cap| sysp::capbset_read(cap).is_ok())
}

/// The highest `n` in 0..64 for which `valid(n)` holds, `valid` being true from 0 up to some
/// number and false past it: a binary search (6 questions, not 41 `PR_CAPBSET_READ`s).
fn last_valid(valid: impl Fn(u32) -> bool) -> u32 {
    let (mut lo, mut hi) = (0u32, 64u32);
    // Invariant: `valid(lo)` (0 always is), everything at or past `hi` is not.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if valid(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

fn set_of(caps: &[u32]) -> CapabilitySet {
    CapabilitySet::from_bits_retain(
        caps.iter()
            .filter(|c| **c < 64)
            .fold(0u64, |acc, c| acc | (1u64 << c)),
    )
}

/// Drops every capability not in `keep` from the bounding set.
pub(crate) fn drop_bounding(keep: &[u32]) -> io::Result<()> {
    for cap in 0..=last_cap() {
        if !keep.contains(&cap) {
            match sysp::capbset_drop(cap) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Sets effective, permitted and inheritable, then raises the ambient ones.
pub(crate) fn apply(c: &Capabilities) -> io::Result<()> {
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: set_of(&c.effective),
            permitted: set_of(&c.permitted),
            inheritable: set_of(&c.inheritable),
        },
    )?;
    // As runc: an ambient capability that cannot be raised (not in the inheritable or permitted
    // set) is a warning, forwarded to the parent's log, and the process runs without it.
    for cap in &c.ambient {
        if let Err(e) = sysp::ambient_raise(*cap) {
            tracing::warn!("{}", ambient_warning(*cap, &e));
        }
    }
    Ok(())
}

/// runc's warning text: `can't raise ambient capability CAP_CHOWN: operation not permitted`.
fn ambient_warning(cap: u32, e: &io::Error) -> String {
    let name = crate::config::cap_name(cap).map_or_else(|| cap.to_string(), str::to_string);
    format!(
        "can't raise ambient capability {name}: {}",
        crate::error::go_error_text(e)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambient_warning_is_runcs() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(
            ambient_warning(0, &e),
            "can't raise ambient capability CAP_CHOWN: operation not permitted"
        );
    }

    #[test]
    fn last_valid_finds_the_boundary() {
        for last in 0..64 {
            assert_eq!(last_valid(|n| n <= last), last);
        }
    }

    /// `last_cap` is the kernel's, even where no procfs shows `cap_last_cap` (a container without
    /// `/proc`): checked in a child whose `/proc` is hidden under an empty tmpfs.
    #[test]
    fn last_cap_needs_no_procfs() {
        if !crate::security::child::in_child() {
            crate::security::child::run_in_child("init::caps::tests::last_cap_needs_no_procfs");
            return;
        }
        let want: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        sysp::unshare(libc::CLONE_NEWNS as u64).unwrap();
        rustix::mount::mount_change(
            "/",
            rustix::mount::MountPropagationFlags::PRIVATE
                | rustix::mount::MountPropagationFlags::REC,
        )
        .unwrap();
        rustix::mount::mount(
            "none",
            "/proc",
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .unwrap();
        assert!(std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").is_err());
        assert_eq!(last_cap(), want);
        let e = sysp::capbset_read(want + 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "past the last cap");
    }
}
