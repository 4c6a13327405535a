//! Checkpoint and restore through `containerd-shim-lashing-v2` (`ctr container checkpoint
//! --task`, then `ctr container restore --live` with the container gone): the shim dumps the
//! task with the library's CRIU support into containerd's image directory, leaving it running,
//! and restores it at `Start` with the new task's stdio. CRIU cannot dump on this host's kernel
//! (Debian's 3.17 fails on kernels since 6.13): `#[ignore]`d here, run by `scripts/test-guest`
//! (`--run-ignored all`), where a failing `criu check` fails it.

mod support;

use lashing_testsupport::containerd::{COUNTING, counter};
use support::Containerd;

#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn ctr_checkpoints_and_restores_a_task() {
    if !Containerd::installed() {
        lashing_testsupport::missing(lashing_testsupport::containerd::MISSING);
        return;
    }
    if !lashing_testsupport::require_criu() {
        return;
    }
    let c = Containerd::start("checkpoint");
    let long = lashing_testsupport::WAIT * lashing_testsupport::time_factor();
    let ok = |args: &[&str]| {
        let o = c.ctr(args);
        assert_eq!(o.code, 0, "ctr {args:?}: {}", o.stderr);
    };
    let image = support::busybox_image(&c);
    ok(&["image", "import", image.to_str().unwrap()]);
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mount = format!("type=bind,src={},dst=/out,options=rbind:rw", out.display());
    let o = c.run_image(
        &["-d", "--null-io", "--mount", &mount],
        "lashing-test/busybox:1",
        "ck1",
        &["/bin/sh", "-c", COUNTING],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    lashing_testsupport::wait_for("the counter", long, || counter(&out) >= 2);

    let before = counter(&out);
    ok(&[
        "container",
        "checkpoint",
        "--task",
        "ck1",
        "lashing-test/ck1:ckpt",
    ]);
    c.wait_status("ck1", "RUNNING");
    ok(&["task", "kill", "-s", "SIGKILL", "ck1"]);
    c.wait_status("ck1", "STOPPED");
    ok(&["task", "delete", "ck1"]);
    ok(&["container", "delete", "ck1"]);
    assert!(c.left().is_empty(), "state left: {:?}", c.left());

    std::fs::write(out.join("n"), "0\n").unwrap();
    ok(&[
        "container",
        "restore",
        "--live",
        "ck1",
        "lashing-test/ck1:ckpt",
    ]);
    c.wait_status("ck1", "RUNNING");
    // The restored loop goes on from its value in memory (a new one would write 1 first).
    let mut first = 0;
    lashing_testsupport::wait_for("the restored counter", long, || {
        first = counter(&out);
        first != 0
    });
    assert!(first > before, "restored counter {first}, {before} before");
    ok(&["task", "kill", "-s", "SIGKILL", "ck1"]);
    c.wait_status("ck1", "STOPPED");
    ok(&["task", "delete", "ck1"]);
    ok(&["container", "delete", "ck1"]);
    assert!(c.left().is_empty(), "state left: {:?}", c.left());
}
