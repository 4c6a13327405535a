//! The process's working directory: created before the root may become read-only, checked
//! after the user switch (runc's createCwd and verifyCwd).

use std::fs;

use crate::config::ProcessConfig;

use super::report::{Fail, R};

/// Creates the process's cwd (as runc's createCwd: 0755, as root, before the root may become
/// read-only). Runs past the pivot: the path resolves in the container's root.
pub(super) fn create_cwd(proc: &ProcessConfig) -> R<()> {
    if proc.cwd.as_os_str().is_empty() || proc.cwd.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .create(&proc.cwd)
        .map_err(|e| Fail::io("create cwd", Some(proc.cwd.display().to_string()), e))
}

/// runc's verifyCwd (CVE-2024-21626): after the user switch, the cwd must be inside the
/// container's root. The raw `getcwd(2)` reports a cwd outside the root as "(unreachable)/...",
/// which glibc turns into ENOENT but musl returns as success: both are refused here, whatever
/// the libc.
pub(super) fn verify_cwd() -> R<()> {
    match rustix::process::getcwd(Vec::new()) {
        Ok(wd) => check_cwd(wd.as_bytes()),
        Err(rustix::io::Errno::NOENT) => Err(Fail::msg(
            "verify cwd",
            None,
            "current working directory is outside of container mount namespace root -- possible \
             container breakout detected",
        )),
        Err(e) => Err(Fail::msg(
            "verify cwd",
            None,
            format!(
                "failed to verify if current working directory is safe: {}",
                std::io::Error::from(e)
            ),
        )),
    }
}

/// A `getcwd(2)` result must be an absolute path.
pub(super) fn check_cwd(wd: &[u8]) -> R<()> {
    if wd.first() == Some(&b'/') {
        Ok(())
    } else {
        Err(Fail::msg(
            "verify cwd",
            None,
            format!(
                "current working directory is not absolute -- possible container breakout \
                 detected: cwd is {:?}",
                String::from_utf8_lossy(wd)
            ),
        ))
    }
}
