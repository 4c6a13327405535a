//! Linux capability names and numbers (`<linux/capability.h>`).
//!
//! The OCI spec names capabilities (`"CAP_SYS_ADMIN"`); the model and the security module use
//! their numbers. Like runc, [`Config::from_oci`](crate::Config::from_oci) drops a name it does not
//! know with a warning instead of failing, so that a spec written for a newer kernel still runs.

/// The names of all capabilities known to lashing, indexed by capability number
/// (`ALL_CAPS[0]` is `CAP_CHOWN`, `ALL_CAPS[40]` is `CAP_CHECKPOINT_RESTORE`).
pub const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The highest capability number known to lashing (`CAP_CHECKPOINT_RESTORE`).
pub const CAP_LAST: u32 = ALL_CAPS.len() as u32 - 1;

/// The number of a capability from its canonical name (`"CAP_NET_ADMIN"` → 12), as runc matches
/// them: the exact upper-case name with its `CAP_` prefix. `None` for an unknown name.
pub fn cap_from_name(name: &str) -> Option<u32> {
    ALL_CAPS.iter().position(|c| *c == name).map(|n| n as u32)
}

/// The canonical name of a capability number (12 → `"CAP_NET_ADMIN"`), `None` beyond
/// `CAP_LAST`.
pub fn cap_name(cap: u32) -> Option<&'static str> {
    ALL_CAPS.get(cap as usize).copied()
}

/// The number of a capability written the way oci-spec accepts it: case-insensitive, with or
/// without the `CAP_` prefix (`"sys_admin"`, `"CAP_SYS_ADMIN"`, `"Sys_Admin"`).
pub(crate) fn cap_from_lenient_name(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let mut bare = upper.as_str();
    while let Some(rest) = bare.strip_prefix("CAP_") {
        bare = rest;
    }
    ALL_CAPS
        .iter()
        .position(|c| &c[4..] == bare)
        .map(|n| n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        // Values from <linux/capability.h>.
        let expected = [
            ("CAP_CHOWN", 0),
            ("CAP_KILL", 5),
            ("CAP_SETUID", 7),
            ("CAP_NET_BIND_SERVICE", 10),
            ("CAP_NET_ADMIN", 12),
            ("CAP_SYS_ADMIN", 21),
            ("CAP_SYS_RESOURCE", 24),
            ("CAP_MKNOD", 27),
            ("CAP_AUDIT_WRITE", 29),
            ("CAP_AUDIT_READ", 37),
            ("CAP_PERFMON", 38),
            ("CAP_BPF", 39),
            ("CAP_CHECKPOINT_RESTORE", 40),
        ];
        for (name, num) in expected {
            assert_eq!(cap_from_name(name), Some(num), "{name}");
            assert_eq!(cap_name(num), Some(name), "{num}");
        }
        assert_eq!(CAP_LAST, 40);
    }

    #[test]
    fn round_trip_and_unique() {
        for (i, name) in ALL_CAPS.iter().enumerate() {
            assert!(name.starts_with("CAP_"), "{name}");
            assert_eq!(cap_from_name(name), Some(i as u32));
            assert_eq!(cap_name(i as u32), Some(*name));
        }
        let mut sorted = ALL_CAPS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL_CAPS.len());
    }

    #[test]
    fn unknown_names() {
        assert_eq!(cap_from_name("CAP_FOO"), None);
        assert_eq!(cap_from_name("cap_chown"), None, "strict like runc");
        assert_eq!(cap_from_name("CHOWN"), None);
        assert_eq!(cap_from_name(""), None);
        assert_eq!(cap_name(41), None);
        assert_eq!(cap_name(u32::MAX), None);
    }

    #[test]
    fn lenient_names() {
        assert_eq!(cap_from_lenient_name("sys_admin"), Some(21));
        assert_eq!(cap_from_lenient_name("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(cap_from_lenient_name("cap_cap_bpf"), Some(39));
        assert_eq!(cap_from_lenient_name("CAP_"), None);
        assert_eq!(cap_from_lenient_name("CAP_NOPE"), None);
    }

    #[test]
    fn agrees_with_oci_spec() {
        // Every name oci-spec knows must be in the table (and map to the same name).
        for (i, name) in ALL_CAPS.iter().enumerate() {
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::from(*name)).expect(name);
            let back = serde_json::to_value(cap).unwrap();
            assert_eq!(back.as_str(), Some(*name), "cap {i}");
        }
    }
}
