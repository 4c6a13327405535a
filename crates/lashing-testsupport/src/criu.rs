//! CRIU for the checkpoint/restore tests: whether it is installed and works on this kernel.
//! Debian's CRIU 3.17 cannot dump on kernels since 6.13 (this host's), so the tests that need a
//! working CRIU are `#[ignore]`d on the host and run in the pure cgroup v2 guest
//! (`scripts/test-guest`, `--run-ignored all`): where they run, CRIU must work.

use std::path::Path;
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

/// A shell loop for the checkpoint tests' containers: appends 1, 2, 3, ... to `file`, one line
/// every `period` (a `sleep` argument). It appends rather than rewrites: `echo $i > file`
/// truncates before it writes, so a reader (or a checkpoint that freezes the loop between the
/// two) could find the file empty. Read it with [`last_count`].
pub fn counting_loop(file: &str, period: &str) -> String {
    format!("i=0; while true; do i=$((i+1)); echo $i >> {file}; sleep {period}; done")
}

/// The last count a [`counting_loop`] (or testinit's `lock-count`) appended to `file`: its last
/// complete line; `None` while the file is missing or holds no complete line yet.
pub fn last_count(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let complete = &text[..=text.rfind('\n')?];
    complete.trim_end().rsplit('\n').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_count_reads_the_last_complete_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("n");
        assert_eq!(last_count(&f), None);
        for (text, want) in [
            ("", None),
            ("1", None),
            ("1\n", Some(1)),
            ("1\n2\n3\n", Some(3)),
            ("1\n2\n3\n1", Some(3)),
            ("7\n8\n", Some(8)),
        ] {
            std::fs::write(&f, text).unwrap();
            assert_eq!(last_count(&f), want, "{text:?}");
        }
    }

    #[test]
    fn counting_loop_appends() {
        let s = counting_loop("/out/n", "0.5");
        assert!(s.contains("echo $i >> /out/n;"), "{s}");
        assert!(s.contains("sleep 0.5;"), "{s}");
    }
}
