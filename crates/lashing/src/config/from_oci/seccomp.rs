//! `linux.seccomp`: the profile as the model keeps it (names; compiled by `security::seccomp`).

use oci_spec::runtime as oci;

use super::super::error::ConfigError;
use super::common::{non_empty, serde_name};
use crate::config::{Seccomp, SeccompArg, SeccompRule};

pub(super) fn convert_seccomp(s: &oci::LinuxSeccomp) -> Result<Seccomp, ConfigError> {
    let mut syscalls = Vec::new();
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let mut args = Vec::new();
        for (j, a) in rule.args().iter().flatten().enumerate() {
            let index = u32::try_from(a.index())
                .ok()
                .filter(|i| *i < 6)
                .ok_or_else(|| {
                    ConfigError::invalid(
                        format!("linux.seccomp.syscalls[{i}].args[{j}].index"),
                        format!("{} is not a syscall argument index (0-5)", a.index()),
                    )
                })?;
            args.push(SeccompArg {
                index,
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
                op: serde_name(&a.op()),
            });
        }
        syscalls.push(SeccompRule {
            names: rule.names().clone(),
            action: serde_name(&rule.action()),
            errno_ret: rule.errno_ret(),
            args,
        });
    }
    Ok(Seccomp {
        default_action: serde_name(&s.default_action()),
        default_errno_ret: s.default_errno_ret(),
        architectures: s.architectures().iter().flatten().map(serde_name).collect(),
        flags: s.flags().iter().flatten().map(serde_name).collect(),
        listener_path: s
            .listener_path()
            .clone()
            .filter(|p| !p.as_os_str().is_empty()),
        listener_metadata: non_empty(s.listener_metadata()),
        syscalls,
    })
}
