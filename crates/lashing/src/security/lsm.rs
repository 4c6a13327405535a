//! AppArmor profile and SELinux exec label of the user process (both take effect at `execve`).
//!
//! The label files live in procfs, which a hostile image can try to fake or overmount
//! (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561, CVE-2025-52881): they are written through a
//! verified procfs handle of [`crate::procfs`] (a private instance, or the container's `/proc`
//! verified when the caller's [`ProcPolicy`] allows it; never the host's).

use crate::procfs::{ProcError, ProcFs, ProcPolicy};

/// `SELINUX_MAGIC`.
const SELINUX_MAGIC: i64 = 0xf97c_ff8c;

/// An error applying an LSM label.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LsmError {
    /// The LSM is not enabled on this host, but a label was asked for.
    #[error("{lsm} is not enabled on this host: cannot apply {value:?}")]
    NotEnabled {
        /// `AppArmor` or `SELinux`.
        lsm: &'static str,
        /// The profile or label.
        value: String,
    },
    /// The procfs write failed.
    #[error(transparent)]
    Proc(#[from] ProcError),
}

/// Whether AppArmor is enabled (`/sys/module/apparmor/parameters/enabled` is `Y`), as runc.
pub(crate) fn apparmor_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// Whether SELinux is enabled: selinuxfs is mounted on `/sys/fs/selinux` or registered in
/// `/proc/filesystems` (the kernel only registers it when SELinux is enabled at boot).
pub(crate) fn selinux_enabled() -> bool {
    let mounted = rustix::fs::statfs("/sys/fs/selinux")
        .is_ok_and(|s| s.f_type & 0xffff_ffff == SELINUX_MAGIC);
    mounted
        || std::fs::read_to_string("/proc/filesystems").is_ok_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().last() == Some("selinuxfs"))
        })
}

/// Sets the AppArmor profile the next `execve` switches to: writes `exec <profile>` to
/// `/proc/thread-self/attr/apparmor/exec` (or `attr/exec` on kernels without LSM stacking).
/// An empty profile does nothing.
pub(crate) fn apply_apparmor(profile: &str, policy: ProcPolicy) -> Result<(), LsmError> {
    if profile.is_empty() {
        return Ok(());
    }
    if !apparmor_enabled() {
        return Err(LsmError::NotEnabled {
            lsm: "AppArmor",
            value: profile.to_string(),
        });
    }
    Ok(ProcFs::open_with(policy)?.write_attr(
        &["thread-self/attr/apparmor/exec", "thread-self/attr/exec"],
        &format!("exec {profile}"),
    )?)
}

/// Sets the SELinux label the next `execve` switches to (`/proc/thread-self/attr/exec`). An
/// empty label does nothing.
pub(crate) fn apply_selinux_exec_label(label: &str, policy: ProcPolicy) -> Result<(), LsmError> {
    if label.is_empty() {
        return Ok(());
    }
    if !selinux_enabled() {
        return Err(LsmError::NotEnabled {
            lsm: "SELinux",
            value: label.to_string(),
        });
    }
    Ok(ProcFs::open_with(policy)?.write_attr(&["thread-self/attr/exec"], label)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fail_clearly_without_the_lsm() {
        // This host runs neither AppArmor nor SELinux (checked here, so the test cannot pass
        // vacuously on a host that does).
        if !apparmor_enabled() {
            let e = apply_apparmor("lashing-test", ProcPolicy::PrivateOnly).unwrap_err();
            assert!(matches!(e, LsmError::NotEnabled { .. }));
            assert_eq!(
                e.to_string(),
                "AppArmor is not enabled on this host: cannot apply \"lashing-test\""
            );
        }
        if !selinux_enabled() {
            let e = apply_selinux_exec_label(
                "system_u:system_r:container_t:s0",
                ProcPolicy::PrivateOnly,
            )
            .unwrap_err();
            assert!(e.to_string().starts_with("SELinux is not enabled"), "{e}");
        }
        assert!(
            apparmor_enabled() || selinux_enabled() || {
                // Neither: empty labels are still no-ops.
                apply_apparmor("", ProcPolicy::PrivateOnly).is_ok()
                    && apply_selinux_exec_label("", ProcPolicy::PrivateOnly).is_ok()
            }
        );
    }
}
