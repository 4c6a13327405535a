//! Security at the CLI level: `exec --cap` never grants inheritable capabilities
//! (CVE-2022-29162), an unknown capability name in config.json is warned about and dropped, and
//! `features` reports the seccomp support of the library.

mod support;

use support::{sandbox, status_field};

/// CVE-2022-29162: `exec --cap CAP_SYS_ADMIN` adds the capability to the bounding, effective and
/// permitted sets only; inheritable and ambient stay empty (the spec has no inheritable caps).
#[test]
fn exec_cap_adds_no_inheritable_capabilities() {
    let sb = sandbox(&["sleep", "100"]);
    let id = format!("seccli-cap-{}", std::process::id());
    let o = sb.run(&["run", "-d", &id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let plain = sb.run(&["exec", &id, "cat", "/proc/self/status"]);
    let more = sb.run(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "cat",
        "/proc/self/status",
    ]);
    let bad = sb.run(&["exec", "--cap", "CAP_LASHING_NOPE", &id, "true"]);
    let k = sb.run(&["delete", "--force", &id]);
    assert_eq!(k.code, 0, "{}", k.stderr);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(more.code, 0, "{}", more.stderr);
    assert_eq!(
        status_field(&plain.stdout, "CapEff"),
        Some("0000000020000420")
    );
    // CAP_SYS_ADMIN is bit 21.
    let with_admin = format!("{:016x}", 0x2000_0420u64 | 1 << 21);
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&more.stdout, k),
            Some(with_admin.as_str()),
            "{k}: {}",
            more.stdout
        );
    }
    for k in ["CapInh", "CapAmb"] {
        assert_eq!(
            status_field(&more.stdout, k),
            Some("0000000000000000"),
            "{k}"
        );
        assert_eq!(
            status_field(&plain.stdout, k),
            Some("0000000000000000"),
            "{k}"
        );
    }
    // runc: an unknown name is dropped with a warning, and the process runs.
    assert_eq!(bad.code, 0, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("level=warning")
            && bad
                .stderr
                .contains("ignoring unknown or unavailable capabilities: [CAP_LASHING_NOPE]"),
        "{}",
        bad.stderr
    );
}

/// An unknown capability name in config.json is dropped with a warning naming it; the known
/// ones are applied.
#[test]
fn unknown_capability_is_warned_and_dropped() {
    let sb = sandbox(&["cat", "/proc/self/status"]);
    sb.edit(|v| {
        for set in ["bounding", "effective", "permitted"] {
            v["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push("CAP_LASHING_FUTURE".into());
        }
    });
    let id = format!("seccli-unknown-{}", std::process::id());
    let o = sb.run(&["run", &id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("CAP_LASHING_FUTURE"),
        "warning: {}",
        o.stderr
    );
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&o.stdout, k),
            Some("0000000020000420"),
            "{}",
            o.stdout
        );
    }
}

/// `features` lists the seccomp support, and the LSMs as compiled in (not as this host has them).
#[test]
fn features_reports_seccomp_and_lsms() {
    let o = support::lashing_in(std::path::Path::new("/"), &["features"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let s = &v["linux"]["seccomp"];
    assert_eq!(s["enabled"], true);
    let has = |key: &str, name: &str| {
        s[key]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str() == Some(name))
    };
    assert!(has("actions", "SCMP_ACT_KILL_PROCESS"));
    assert!(has("actions", "SCMP_ACT_NOTIFY"));
    assert!(has("operators", "SCMP_CMP_MASKED_EQ"));
    assert!(has("archs", "SCMP_ARCH_X86_64"));
    assert!(has("knownFlags", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
    // This machine's kernel (6.x) supports every flag lashing knows.
    assert_eq!(s["supportedFlags"], s["knownFlags"]);
    // Compiled in, whatever the host has (the runtime spec; runc says the same).
    assert_eq!(v["linux"]["apparmor"]["enabled"], true);
    assert_eq!(v["linux"]["selinux"]["enabled"], true);
}
