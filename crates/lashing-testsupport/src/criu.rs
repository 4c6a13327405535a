//! CRIU for the checkpoint/restore tests: whether it is installed and works on this kernel.
//! Debian's CRIU 3.17 cannot dump on kernels since 6.13 (this host's), so the tests that need a
//! working CRIU are `#[ignore]`d on the host and run in the pure cgroup v2 guest
//! (`scripts/test-guest`, `--run-ignored all`): where they run, CRIU must work.

use std::process::{Command, Stdio};

/// Whether `criu check` passes here (CRIU installed and usable on this kernel). For the tests
/// that also run where CRIU does not work and check what fails then.
pub fn criu_works() -> bool {
    Command::new("criu")
        .arg("check")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether `criu` runs at all (`criu --version`).
pub fn criu_installed() -> bool {
    Command::new("criu")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// For a test that needs a working CRIU: `false` when CRIU is not installed (reported by
/// [`crate::missing`]: skipped locally, a failure in CI; the test returns), `true` when
/// `criu check` passes; panics with CRIU's own message when it is installed but `criu check`
/// fails (such a test runs only where CRIU must work, see the module doc).
pub fn require_criu() -> bool {
    if !criu_installed() {
        crate::missing("criu is not installed (Debian package `criu`)");
        return false;
    }
    let o = Command::new("criu")
        .arg("check")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `criu check`: {e}"));
    assert!(
        o.status.success(),
        "`criu check` fails here (CRIU must work where this test runs): {}{}",
        String::from_utf8_lossy(&o.stdout).trim(),
        String::from_utf8_lossy(&o.stderr).trim()
    );
    true
}
