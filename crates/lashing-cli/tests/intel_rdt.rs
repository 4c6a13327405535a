//! `linux.intelRdt` through the `lashing` program on a host without RDT (this machine's CPU has
//! none: the kernel makes no `/sys/fs/resctrl`). The resctrl handling itself is tested against a
//! directory laid out as resctrl in the library's unit tests (`rdt::tests`); here: a container
//! that asks for Intel RDT fails `create`/`run` with a clear error and leaves nothing behind
//! (no state, no cgroup), a bad `closID` is refused by validation, and a container without
//! `intelRdt` never looks for resctrl.

mod support;

use std::path::Path;

use support::{log_msg, sandbox};

/// A host without resctrl, or the test reports what it needs.
fn no_rdt() -> bool {
    if Path::new("/sys/fs/resctrl").exists() {
        lashing_testsupport::missing("a host without Intel RDT (this one has /sys/fs/resctrl)");
        return false;
    }
    true
}

#[test]
fn intel_rdt_without_resctrl_fails_create_clearly_and_leaves_nothing() {
    if !no_rdt() {
        return;
    }
    let none = "intelRdt is specified in config, but Intel RDT is not supported by this CPU or \
                kernel (no resctrl: /sys/fs/resctrl is missing)";
    for (rdt, want) in [
        // runc 1.3 ignores intelRdt without a schema when there is no resctrl: lashing refuses
        // it (the spec: no resctrl is an error).
        (serde_json::json!({"closID": "gold"}), none),
        (serde_json::json!({"enableMonitoring": true}), none),
        // runc 1.3.6's texts.
        (
            serde_json::json!({"l3CacheSchema": "L3:0=f", "enableMonitoring": true}),
            "intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled",
        ),
        (
            serde_json::json!({"memBwSchema": "MB:0=50"}),
            "intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled",
        ),
    ] {
        let sb = sandbox(&["true"]);
        sb.edit(|v| v["linux"]["intelRdt"] = rdt.clone());
        for cmd in ["create", "run"] {
            let o = sb.run(&[cmd, "c1"]);
            assert_eq!(o.code, 1, "{cmd} {rdt}: {}", o.stderr);
            assert_eq!(log_msg(&o.stderr), want, "{cmd} {rdt}");
            assert!(sb.left().is_empty(), "{cmd} left {:?}", sb.left());
            assert!(!sb.cgroup_exists(), "{cmd} left the cgroup");
        }
    }
}

#[test]
fn a_bad_clos_id_is_refused_by_validation() {
    for id in ["..", "a/b"] {
        let sb = sandbox(&["true"]);
        sb.edit(|v| v["linux"]["intelRdt"] = serde_json::json!({"closID": id}));
        let o = sb.run(&["run", "c1"]);
        assert_eq!(o.code, 1, "{}", o.stderr);
        let msg = log_msg(&o.stderr);
        assert!(
            msg.contains(&format!("invalid intelRdt.ClosID {id:?}")),
            "{id}: {msg}"
        );
        assert!(sb.left().is_empty() && !sb.cgroup_exists());
    }
}

#[test]
fn a_container_without_intel_rdt_runs_on_a_host_without_it() {
    let sb = sandbox(&["true"]);
    let o = sb.run(&["run", "c1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(sb.left().is_empty());
}

#[test]
fn update_of_intel_rdt_schemas_is_refused_with_runcs_texts() {
    if !no_rdt() {
        return;
    }
    let sb = sandbox(&["true"]);
    sb.ok(&["create", "c1"]);
    for (flag, want) in [
        (
            "--l3-cache-schema",
            "Intel RDT/CAT: l3 cache schema is not enabled",
        ),
        (
            "--mem-bw-schema",
            "Intel RDT/MBA: memory bandwidth schema is not enabled",
        ),
    ] {
        let o = sb.run(&["update", flag, "L3:0=f", "--pids-limit", "40", "c1"]);
        assert_eq!(o.code, 1, "{flag}: {}", o.stderr);
        assert_eq!(log_msg(&o.stderr), want, "{flag}");
    }
    // Refused before anything changed: the pids limit was not applied.
    let state: serde_json::Value = serde_json::from_str(&sb.ok(&["state", "c1"])).unwrap();
    assert_eq!(state["status"], "created");
    let pids_max = || {
        lashing_testsupport::hierarchies()
            .iter()
            .map(|h| h.join(sb.cgroup.trim_start_matches('/')).join("pids.max"))
            .find(|p| p.exists())
            .map(|p| std::fs::read_to_string(p).unwrap().trim().to_string())
            .expect("the container's pids.max")
    };
    assert_ne!(pids_max(), "40");
    // An empty schema is no Intel RDT update (as runc): the rest applies.
    sb.ok(&[
        "update",
        "--l3-cache-schema",
        "",
        "--pids-limit",
        "40",
        "c1",
    ]);
    assert_eq!(pids_max(), "40");
    sb.ok(&["delete", "--force", "c1"]);
    assert!(sb.left().is_empty());
}
