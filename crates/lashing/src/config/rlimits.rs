//! `RLIMIT_*` names and numbers (`<sys/resource.h>`), as runc's `rlimit_linux.go`.

/// The names of all resource limits, indexed by resource number (`ALL_RLIMITS[7]` is
/// `RLIMIT_NOFILE`).
pub const ALL_RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// The resource number of an `RLIMIT_*` name (`"RLIMIT_NOFILE"` → 7); `None` for an unknown name.
pub fn rlimit_from_name(name: &str) -> Option<u32> {
    ALL_RLIMITS
        .iter()
        .position(|r| *r == name)
        .map(|n| n as u32)
}

/// The `RLIMIT_*` name of a resource number.
pub fn rlimit_name(resource: u32) -> Option<&'static str> {
    ALL_RLIMITS.get(resource as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_libc() {
        let expected = [
            ("RLIMIT_CPU", libc::RLIMIT_CPU),
            ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
            ("RLIMIT_DATA", libc::RLIMIT_DATA),
            ("RLIMIT_STACK", libc::RLIMIT_STACK),
            ("RLIMIT_CORE", libc::RLIMIT_CORE),
            ("RLIMIT_RSS", libc::RLIMIT_RSS),
            ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
            ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
            ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
            ("RLIMIT_AS", libc::RLIMIT_AS),
            ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
            ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
            ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
            ("RLIMIT_NICE", libc::RLIMIT_NICE),
            ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
            ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
        ];
        assert_eq!(expected.len(), ALL_RLIMITS.len());
        for (name, num) in expected {
            assert_eq!(rlimit_from_name(name), Some(num), "{name}");
            assert_eq!(rlimit_name(num), Some(name));
        }
    }

    #[test]
    fn unknown() {
        assert_eq!(rlimit_from_name("RLIMIT_FOO"), None);
        assert_eq!(rlimit_from_name("rlimit_nofile"), None);
        assert_eq!(rlimit_from_name("NOFILE"), None);
        assert_eq!(rlimit_name(16), None);
    }

    #[test]
    fn agrees_with_oci_spec() {
        for name in ALL_RLIMITS {
            let t: oci_spec::runtime::PosixRlimitType =
                serde_json::from_value(serde_json::Value::from(name)).expect(name);
            assert_eq!(serde_json::to_value(t).unwrap().as_str(), Some(name));
        }
    }
}
