//! What the seccomp support of lashing knows and what this kernel supports, for `features`
//! (re-exported as `lashing::seccomp`).

use super::profile::FOREIGN_ARCHES;

/// The action names a profile may use (`defaultAction`, `syscalls[].action`).
pub fn known_actions() -> Vec<&'static str> {
    vec![
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ]
}

/// The comparison operators of `syscalls[].args[].op`.
pub fn known_operators() -> Vec<&'static str> {
    vec![
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_LE",
        "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_CMP_NE",
    ]
}

/// The architecture names a profile may list: the x86 ABIs, which get filter sections, and
/// those of other hosts, which are accepted and ignored (they cannot run on x86_64).
pub fn known_archs() -> Vec<&'static str> {
    let mut v = vec!["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"];
    v.extend(FOREIGN_ARCHES);
    v.sort_unstable();
    v
}

/// The filter flag names lashing accepts (`SECCOMP_FILTER_FLAG_TSYNC` is accepted and
/// ignored: init is single-threaded).
pub fn known_flags() -> Vec<&'static str> {
    vec![
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
}

/// The flags of [`known_flags`] that the running kernel supports, from its version (TSYNC
/// 3.17, LOG 4.14, SPEC_ALLOW 4.17, WAIT_KILLABLE_RECV 5.19).
pub fn supported_flags() -> Vec<&'static str> {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let Some(version) = parse_release(&release) else {
        return Vec::new();
    };
    [
        ("SECCOMP_FILTER_FLAG_TSYNC", (3, 17)),
        ("SECCOMP_FILTER_FLAG_LOG", (4, 14)),
        ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", (4, 17)),
        ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", (5, 19)),
    ]
    .into_iter()
    .filter(|(_, min)| version >= *min)
    .map(|(f, _)| f)
    .collect()
}

/// `6.1.0-18-amd64` → (6, 1).
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Seccomp, SeccompArg, SeccompRule};

    #[test]
    fn releases() {
        assert_eq!(parse_release("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_release("6.18.2"), Some((6, 18)));
        assert_eq!(parse_release("4.9"), Some((4, 9)));
        assert_eq!(parse_release("x"), None);
    }

    fn profile(default: &str, rules: Vec<SeccompRule>) -> Seccomp {
        Seccomp {
            default_action: default.into(),
            default_errno_ret: None,
            architectures: Vec::new(),
            flags: Vec::new(),
            listener_path: Some("/run/agent.sock".into()),
            listener_metadata: None,
            syscalls: rules,
        }
    }

    fn rule(action: &str, args: Vec<SeccompArg>) -> SeccompRule {
        SeccompRule {
            names: vec!["mkdir".into()],
            action: action.into(),
            errno_ret: None,
            args,
        }
    }

    /// Every listed name is accepted by the compiler (the lists cannot drift from it).
    #[test]
    fn every_known_name_compiles() {
        let compile = super::super::compile;
        for a in known_actions() {
            let p = profile("SCMP_ACT_ALLOW", vec![rule(a, Vec::new())]);
            assert!(compile(&p).is_ok(), "{a}");
        }
        for op in known_operators() {
            let arg = SeccompArg {
                index: 0,
                value: 1,
                value_two: 1,
                op: op.into(),
            };
            let p = profile("SCMP_ACT_ALLOW", vec![rule("SCMP_ACT_ERRNO", vec![arg])]);
            assert!(compile(&p).is_ok(), "{op}");
        }
        let mut p = profile("SCMP_ACT_ALLOW", Vec::new());
        p.architectures = known_archs().iter().map(|s| s.to_string()).collect();
        p.flags = known_flags().iter().map(|s| s.to_string()).collect();
        assert!(compile(&p).is_ok());
        assert!(compile(&profile("SCMP_ACT_NOPE", Vec::new())).is_err());
        let arg = SeccompArg {
            index: 0,
            value: 1,
            value_two: 1,
            op: "SCMP_CMP_NOPE".into(),
        };
        let p = profile("SCMP_ACT_ALLOW", vec![rule("SCMP_ACT_ERRNO", vec![arg])]);
        assert!(compile(&p).is_err());
    }

    #[test]
    fn supported_is_a_subset_of_known() {
        let known = known_flags();
        assert!(supported_flags().iter().all(|f| known.contains(f)));
    }
}
