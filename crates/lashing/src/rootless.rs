//! Rootless mode (runc's `rootless_linux.go` and `libcontainer/userns`): whether this process
//! runs without the host's root, and what follows from it.
//!
//! Two separate facts, as in runc's `configs.Config`: [`Config::rootless_euid`] (the runtime's
//! effective uid is not 0: the id maps are limited to what the caller may write or
//! `newuidmap`/`newgidmap` allow, and the container must have a user namespace) and
//! [`Config::rootless_cgroups`] (cgroup permission errors are tolerated when the container asks
//! for no resources). [`detect`] gives both as runc's CLI computes them for `--rootless auto`.
//!
//! [`Config::rootless_euid`]: crate::Config::rootless_euid
//! [`Config::rootless_cgroups`]: crate::Config::rootless_cgroups

use crate::procfs::{ProcFs, ProcPolicy};

/// The uid map of the initial user namespace: every id mapped to itself.
const FULL_MAP: (u64, u64, u64) = (0, 0, 4_294_967_295);

/// Whether this process runs in a user namespace other than the initial one: its
/// `/proc/self/uid_map` is not the single full-range identity mapping (runc's
/// `userns.RunningInUserNS`). An unreadable map counts as the initial namespace.
///
/// The map is read through the host's `/proc` (verified: `ProcFs::mounted`), which costs no
/// mount; a private procfs instance only when that `/proc` cannot show it (not a procfs root,
/// or of another pid namespace).
pub fn running_in_userns() -> bool {
    let read = |p: ProcFs| p.read("self/uid_map");
    let text = ProcFs::mounted().and_then(read).or_else(|e| {
        tracing::debug!("/proc/self/uid_map of the mounted /proc: {e}");
        ProcFs::open_with(ProcPolicy::PrivateOrHost).and_then(read)
    });
    match text {
        Ok(t) => !is_full_map(&t),
        Err(e) => {
            tracing::debug!(
                "cannot read /proc/self/uid_map ({e}): assuming the initial user namespace"
            );
            false
        }
    }
}

/// Whether a `uid_map` text is the initial namespace's identity map of every id.
pub fn is_full_map(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != 1 {
        return false;
    }
    let nums: Vec<u64> = lines[0]
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    nums.len() == 3 && (nums[0], nums[1], nums[2]) == FULL_MAP
}

/// What `--rootless` asks for: `true`, `false` or `auto` (detect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootlessFlag {
    /// `--rootless true`.
    Yes,
    /// `--rootless false`.
    No,
    /// `--rootless auto` (the default): see [`detect`].
    #[default]
    Auto,
}

/// The rootless facts of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rootless {
    /// The effective uid is not 0 (runc's `RootlessEUID`).
    pub euid: bool,
    /// Cgroup permission errors are tolerated (runc's `RootlessCgroups`).
    pub cgroups: bool,
}

/// runc's rules: the euid part is always the effective uid; the cgroup part is the flag when it
/// is `true`/`false`, else (`auto`) rootless for a non-root euid and for root inside a user
/// namespace that is not the initial one (which may not own the cgroup it starts in).
pub fn detect(flag: RootlessFlag) -> Rootless {
    let euid = !rustix::process::geteuid().is_root();
    let cgroups = match flag {
        RootlessFlag::Yes => true,
        RootlessFlag::No => false,
        RootlessFlag::Auto => euid || running_in_userns(),
    };
    Rootless { euid, cgroups }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_map_is_the_initial_namespace_only() {
        assert!(is_full_map("         0          0 4294967295\n"));
        assert!(!is_full_map("0 1000 1\n"));
        assert!(!is_full_map("0 0 4294967294\n"));
        assert!(!is_full_map("0 0 4294967295\n0 0 1\n"));
        assert!(!is_full_map(""));
    }

    #[test]
    fn detection_follows_the_flag_for_cgroups() {
        assert!(detect(RootlessFlag::Yes).cgroups);
        assert!(!detect(RootlessFlag::No).cgroups);
        let euid = !rustix::process::geteuid().is_root();
        assert_eq!(detect(RootlessFlag::No).euid, euid);
        if euid {
            assert!(detect(RootlessFlag::Auto).cgroups);
        }
    }
}
