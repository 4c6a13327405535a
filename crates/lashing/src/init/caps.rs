//! Applying the capability sets of the process (bounding before the uid switch, the others after).

use std::io;

use rustix::thread::{CapabilitySet, CapabilitySets};

use crate::config::Capabilities;
use crate::sys::process as sysp;

/// The highest capability number the running kernel knows.
pub(crate) fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
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
    for cap in &c.ambient {
        if let Err(e) = sysp::ambient_raise(*cap) {
            tracing::warn!("cannot raise ambient capability {cap}: {e}");
        }
    }
    Ok(())
}
