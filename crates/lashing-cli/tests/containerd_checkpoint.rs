//! containerd's checkpoint and restore with lashing as the runtime binary of its runc v2 shim
//! (`io.containerd.runc.v2`, ctr's `--runc-binary`): `ctr container checkpoint --task` (ctr
//! pauses the task, the shim runs `lashing checkpoint --leave-running --image-path ...
//! --work-path ...`, ctr resumes it), then, with the container gone, `ctr container restore
//! --live` (the shim runs `lashing restore --image-path ... --work-path ... --detach --pid-file
//! ... -no-subreaper --bundle ...` at `Start`: go-runc's `-no-subreaper` has one dash, Go's
//! option syntax, which lashing takes as runc does; with its stdio pipes as the restored
//! process's stdio). The task's counter goes on from where it was.
//!
//! CRIU cannot dump on this host's kernel (Debian's 3.17 fails on kernels since 6.13), so the
//! test is `#[ignore]`d here and run by `scripts/test-guest` (`--run-ignored all`; CI phase
//! guest-v2-criu). The private containerd is `containerd.rs`'s (`support/containerd.rs`); the
//! checkpoint is a locally built busybox image's container (ctr checkpoints only containers
//! with an image). The staging directories containerd leaves in /tmp (`ctrd-checkpoint*`)
//! are removed.

#[path = "support/containerd.rs"]
mod ctrd;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ctrd::{BIN, Containerd, busybox_image};
use lashing_testsupport::containerd::{COUNTING, counter};

/// The bound of a wait: [`lashing_testsupport::WAIT`] times the machine's time factor (CRIU
/// under the guest's emulation is slow).
fn long() -> Duration {
    lashing_testsupport::WAIT * lashing_testsupport::time_factor()
}

/// The image the test imports.
const IMAGE: &str = "lashing-test/busybox-ckpt:1";

#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn ctr_checkpoints_and_restores_a_task_with_lashing() {
    if !lashing_testsupport::require_criu() {
        return;
    }
    let Some(c) = Containerd::start("runc-shim", false) else {
        return;
    };
    // Every wait and `ctr` run bounded by `long()`.
    let c = c.limit(long());
    let image = busybox_image(&c, IMAGE);
    c.ok(&["image", "import", image.to_str().unwrap()]);
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mount = format!("type=bind,src={},dst=/out,options=rbind:rw", out.display());
    let root = c.runc_root();
    let cgroup = format!("{}/ck1", c.cgroup_parent);
    c.ok(&[
        "run",
        "-d",
        "--runc-binary",
        BIN,
        "--runc-root",
        root.to_str().unwrap(),
        "--cgroup",
        &cgroup,
        "--mount",
        &mount,
        IMAGE,
        "ck1",
        "/bin/sh",
        "-c",
        COUNTING,
    ]);
    lashing_testsupport::wait_for("the counter to start", long(), || counter(&out) >= 2);

    // Checkpoint, leaving the task running (ctr pauses it around the dump).
    let before = counter(&out);
    c.ok(&[
        "container",
        "checkpoint",
        "--task",
        "ck1",
        "lashing-test/ck1:ckpt",
    ]);
    assert_eq!(c.task_status("ck1"), "RUNNING");
    let at = counter(&out);
    lashing_testsupport::wait_for("the counter to go on", long(), || counter(&out) > at);

    // Gone: task and container; then restored from the checkpoint image.
    c.ok(&["task", "kill", "-s", "SIGKILL", "ck1"]);
    lashing_testsupport::wait_for("ck1 to stop", long(), || c.task_status("ck1") == "STOPPED");
    c.ok(&["task", "delete", "ck1"]);
    c.ok(&["container", "delete", "ck1"]);
    assert!(c.left().is_empty(), "state left: {:?}", c.left());
    std::fs::write(out.join("n"), "0\n").unwrap();
    c.ok(&[
        "container",
        "restore",
        "--live",
        "ck1",
        "lashing-test/ck1:ckpt",
    ]);
    assert_eq!(c.task_status("ck1"), "RUNNING");
    // The counter goes on from the checkpoint's value (in memory): its first write is past
    // the value before the checkpoint (a new process would write 1 first).
    let mut first = 0;
    lashing_testsupport::wait_for("the restored counter", long(), || {
        first = counter(&out);
        first != 0
    });
    assert!(
        first > before,
        "restored counter {first}, {before} before the checkpoint"
    );
    let st = Command::new(BIN)
        .arg("--root")
        .arg(root.join("default"))
        .args(["state", "ck1"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["status"], "running", "{v}");

    c.ok(&["task", "kill", "-s", "SIGKILL", "ck1"]);
    lashing_testsupport::wait_for("ck1 to stop", long(), || c.task_status("ck1") == "STOPPED");
    c.ok(&["task", "delete", "ck1"]);
    c.ok(&["container", "delete", "ck1"]);
    assert!(c.left().is_empty(), "state left: {:?}", c.left());

    // A restore that fails (the bind mount's source is gone): the shim reports lashing's error
    // from its log; the task, never started, is removed by `ctr task delete` and nothing is
    // left. (`--force` would wait for an exit that never comes, with runc as with lashing:
    // containerd's kill finds no container, reported as not found, and it then waits.)
    std::fs::remove_dir_all(&out).unwrap();
    let o = c.ctr(&[
        "container",
        "restore",
        "--live",
        "ck1",
        "lashing-test/ck1:ckpt",
    ]);
    assert_ne!(o.code, 0, "the restore without its mount source worked");
    assert!(
        o.stderr.contains("OCI runtime restore failed")
            && !o.stderr.contains("unable to retrieve OCI runtime error"),
        "{}",
        o.stderr
    );
    c.ok(&["task", "delete", "ck1"]);
    c.ok(&["container", "delete", "ck1"]);
    assert!(c.left().is_empty(), "state left: {:?}", c.left());
    let v2 = Path::new("/sys/fs/cgroup").join(cgroup.trim_start_matches('/'));
    assert!(
        !c.cgroup_exists("ck1") && !v2.exists(),
        "cgroup {cgroup} left"
    );
}
