//! Init killed at each sync point of `create` (issue 14, item 3), through the test-only fault
//! hook of debug builds (`_LASHING_TEST_KILL_INIT_AT`, `crates/lashing/src/fault.rs`): `create`
//! either fails with an error that names init's death or leaves a stopped container, and
//! `delete --force` then removes everything (state, cgroups in every hierarchy, processes).
//! The wider fault matrix (ENOSPC, fd limits, read-only cgroups, hooks, hostile rootfs) is
//! `scripts/faults`; SIGKILL of the CLI itself is `state.rs` and `scripts/sigkill-sweep`.

mod support;

use std::path::Path;

use support::sandbox;

/// Every message init sends while a container is created, in order (`pid` and `mapsPlease`
/// come only with a joined pid namespace or a user namespace; a point that never comes is a
/// normal create).
const POINTS: &[&str] = &[
    "pid",
    "mapsPlease",
    "hooks",
    "seccompFd",
    "ready",
    "created",
];

#[test]
fn init_killed_at_each_sync_point_leaves_nothing_delete_cannot_remove() {
    let sb = sandbox(&["sleep", "100"]);
    for (n, point) in POINTS.iter().enumerate() {
        let id = format!("f{n}");
        let hooks = sb.path(&format!("hooks-{n}"));
        sb.edit(|v| {
            v["linux"]["cgroupsPath"] = sb.cgroups_path(&id).into();
            // A createRuntime hook makes init stop at `hooks` (without hooks it does not).
            v["hooks"] = serde_json::json!({"poststop": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("echo poststop >> {}", hooks.display())],
            }], "createRuntime": [{"path": "/bin/true"}]});
        });
        let o = sb.run_env(&["create", &id], &[("_LASHING_TEST_KILL_INIT_AT", point)]);
        eprintln!(
            "init killed at {point}: create exit {}: {}",
            o.code,
            support::log_msg(&o.stderr)
        );
        if o.code == 0 {
            let status = sb.status(&id);
            assert!(
                status == "stopped"
                    || *point == "pid"
                    || *point == "mapsPlease"
                    || *point == "seccompFd",
                "init killed at {point}: create succeeded and the container is {status:?}"
            );
        } else {
            // Init's death named with its cause, not the broken pipe it left ("write to lashing
            // init: Broken pipe" before).
            assert!(
                o.stderr.contains("container init (pid") && o.stderr.contains("signal 9"),
                "init killed at {point}: the error does not say what happened: {}",
                o.stderr
            );
        }
        let d = sb.run(&["delete", "--force", &id]);
        assert_eq!(
            d.code, 0,
            "init killed at {point}: delete --force: {}",
            d.stderr
        );
        assert!(
            !Path::new(&sb.root).join(&id).exists(),
            "init killed at {point}: state left"
        );
        for h in lashing_testsupport::hierarchies() {
            let dir = h.join(sb.cgroups_path(&id).trim_start_matches('/'));
            assert!(
                !dir.is_dir(),
                "init killed at {point}: {} left",
                dir.display()
            );
        }
    }
}
