//! Device cgroup rules: the [`emulator`] of runc's rule semantics, whose minimal transition
//! `v1::devices` writes to `devices.allow` / `devices.deny`, and the eBPF program ([`ebpf`])
//! that `v2::devices` builds from the same rule set.

pub mod ebpf;
pub mod emulator;

pub use emulator::{Access, DevType, Emulator, Rule};

use crate::error::{Error, Result};
use crate::resources::DeviceCgroup;

fn num(n: Option<i64>) -> String {
    match n {
        Some(v) if v >= 0 => v.to_string(),
        _ => "*".to_owned(),
    }
}

/// The v1 rule text of `rule`: `TYPE MAJOR:MINOR ACCESS` with `*` wildcards.
pub fn rule_string(rule: &DeviceCgroup) -> Result<String> {
    let typ = rule.typ.as_deref().unwrap_or("a");
    let access = rule.access.as_deref().unwrap_or("rwm");
    if !matches!(typ, "a" | "b" | "c")
        || access.is_empty()
        || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
    {
        return Err(Error::InvalidResource {
            resource: "devices".to_owned(),
            value: format!("{rule:?}"),
            reason: "type must be a, b or c and access a subset of rwm".to_owned(),
        });
    }
    Ok(format!(
        "{typ} {}:{} {access}",
        num(rule.major),
        num(rule.minor)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        typ: Option<&str>,
        major: Option<i64>,
        minor: Option<i64>,
        access: Option<&str>,
    ) -> DeviceCgroup {
        DeviceCgroup {
            allow,
            typ: typ.map(str::to_owned),
            major,
            minor,
            access: access.map(str::to_owned),
        }
    }

    #[test]
    fn rule_strings() {
        assert_eq!(
            rule_string(&rule(true, Some("c"), Some(1), Some(3), Some("rw"))).unwrap(),
            "c 1:3 rw"
        );
        assert_eq!(
            rule_string(&rule(false, None, None, Some(-1), None)).unwrap(),
            "a *:* rwm"
        );
        assert!(rule_string(&rule(true, Some("x"), None, None, None)).is_err());
        assert!(rule_string(&rule(true, Some("c"), None, None, Some("rx"))).is_err());
    }
}
