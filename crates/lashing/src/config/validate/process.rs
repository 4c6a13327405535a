//! The checks of a process: those runc makes when it starts one (`validate_process`), also part
//! of [`Config::validate`](super::super::Config::validate).

use std::collections::HashSet;

use super::super::capabilities::CAP_LAST;
use super::super::error::ConfigError;
use super::super::rlimits::ALL_RLIMITS;
use crate::config::ProcessConfig;

/// The kernel's `NGROUPS_MAX`: the most supplementary groups `setgroups(2)` accepts.
pub const NGROUPS_MAX: usize = 65536;

/// Checks a process about to be started (`create`, `run`, `exec`): `args` must not be empty,
/// plus everything [`Config::validate`](crate::Config::validate) checks on a process: `cwd` absolute, `env` entries of
/// the form `KEY=value` with a non-empty name and (for the last entry of each name, the one that
/// counts) no NUL byte, as runc; no NUL bytes in `args`, at most [`NGROUPS_MAX`] additional gids,
/// known rlimits with soft ≤ hard, known capabilities, a umask of at most `0o777` and
/// `oom_score_adj` in -1000..=1000.
pub fn validate_process(p: &ProcessConfig) -> Result<(), ConfigError> {
    if p.args.is_empty() {
        return Err(ConfigError::invalid(
            "process.args",
            "empty: there is no program to run",
        ));
    }
    check_process(p)
}

/// runc's `prepareEnv` rules: every entry is `NAME=value` with a non-empty name; of several
/// entries with one name only the last counts (the others are dropped), and it must not contain a
/// NUL byte. The reasons carry runc's texts.
fn check_env(p: &ProcessConfig) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, e) in p.env.iter().enumerate().rev() {
        let field = || format!("process.env[{i}]");
        let Some((name, _)) = e.split_once('=') else {
            return Err(ConfigError::invalid(
                field(),
                format!("{e:?}: invalid environment variable: missing '=' (expected NAME=value)"),
            ));
        };
        if name.is_empty() {
            return Err(ConfigError::invalid(
                field(),
                format!("{e:?}: invalid environment variable: name cannot be empty"),
            ));
        }
        if seen.insert(name) && e.contains('\0') {
            return Err(ConfigError::invalid(
                field(),
                format!("invalid environment variable {name:?}: contains a NUL byte (\\x00)"),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_process(p: &ProcessConfig) -> Result<(), ConfigError> {
    if !p.cwd.is_absolute() {
        return Err(ConfigError::invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", p.cwd),
        ));
    }
    for (i, a) in p.args.iter().enumerate() {
        if a.contains('\0') {
            return Err(ConfigError::invalid(
                format!("process.args[{i}]"),
                format!("{a:?} contains a NUL byte"),
            ));
        }
    }
    check_env(p)?;
    if p.user.additional_gids.len() > NGROUPS_MAX {
        return Err(ConfigError::invalid(
            "process.user.additionalGids",
            format!(
                "{} groups: more than the kernel's limit of {NGROUPS_MAX} (NGROUPS_MAX)",
                p.user.additional_gids.len()
            ),
        ));
    }
    for (i, r) in p.rlimits.iter().enumerate() {
        let Some(name) = ALL_RLIMITS.get(r.resource as usize) else {
            return Err(ConfigError::invalid(
                format!("process.rlimits[{i}].type"),
                format!("unknown resource number {}", r.resource),
            ));
        };
        if r.soft > r.hard {
            return Err(ConfigError::invalid(
                format!("process.rlimits[{i}]"),
                format!(
                    "{name}: soft limit {} is above hard limit {}",
                    r.soft, r.hard
                ),
            ));
        }
    }
    if let Some(caps) = &p.capabilities {
        for (set, list) in [
            ("bounding", &caps.bounding),
            ("effective", &caps.effective),
            ("inheritable", &caps.inheritable),
            ("permitted", &caps.permitted),
            ("ambient", &caps.ambient),
        ] {
            if let Some(bad) = list.iter().find(|c| **c > CAP_LAST) {
                return Err(ConfigError::invalid(
                    format!("process.capabilities.{set}"),
                    format!("unknown capability number {bad}"),
                ));
            }
        }
    }
    if let Some(umask) = p.user.umask
        && umask > 0o777
    {
        return Err(ConfigError::invalid(
            "process.user.umask",
            format!("{umask:#o} is not a file mode mask"),
        ));
    }
    if let Some(adj) = p.oom_score_adj
        && !(-1000..=1000).contains(&adj)
    {
        return Err(ConfigError::invalid(
            "process.oomScoreAdj",
            format!("{adj} is outside -1000..=1000"),
        ));
    }
    Ok(())
}
