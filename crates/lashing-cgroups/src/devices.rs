//! Device cgroup rules for cgroup v1 (`devices.allow` / `devices.deny`). The v2 eBPF program is
//! not implemented yet.

use crate::error::{Error, Result};
use crate::fs::Node;
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

/// Whether `rule` matches every device with every access (`a *:* rwm`).
fn is_wildcard(rule: &DeviceCgroup) -> bool {
    matches!(rule.typ.as_deref(), None | Some("a"))
        && rule.major.is_none_or(|m| m < 0)
        && rule.minor.is_none_or(|m| m < 0)
        && rule
            .access
            .as_deref()
            .is_none_or(|a| ["r", "w", "m"].iter().all(|c| a.contains(c)))
}

/// Applies OCI device rules (in order, later rules win) to a v1 devices cgroup: the last
/// all-devices rule resets the default (`a` into `devices.deny` or `devices.allow`), then each
/// following rule is written as an exception.
pub(crate) fn set_v1(node: &Node, rules: &[DeviceCgroup]) -> Result<()> {
    let start = rules.iter().rposition(is_wildcard);
    if let Some(i) = start {
        let file = if rules[i].allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        node.write(file, "a")?;
    }
    let rest = match start {
        Some(i) => &rules[i + 1..],
        None => rules,
    };
    for rule in rest {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        node.write(file, &rule_string(rule)?)?;
    }
    Ok(())
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
        assert!(is_wildcard(&rule(false, None, None, None, Some("rwm"))));
        assert!(!is_wildcard(&rule(false, None, None, None, Some("rw"))));
        assert!(!is_wildcard(&rule(false, Some("c"), None, None, None)));
    }
}
