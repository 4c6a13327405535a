//! `lashing checkpoint` / `lashing restore` through CRIU: a detached busybox counter loop is
//! checkpointed (and thereby stopped), then restored, and its counter goes on from where it
//! stopped. CRIU works only where `criu check` passes (the pure cgroup v2 guest: Debian's CRIU 3.17
//! fails on kernels since 6.13, like the hosts'), so the tests that need it are `#[ignore]`d:
//! nextest reports them as skipped on the host, and `scripts/test-guest` runs them
//! (`--run-ignored all`), where a failing `criu check` fails them.

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Sandbox, sandbox, time_factor};

/// The container's loop: a counter in /tmp/counter, 10 times a second.
const LOOP: &str = "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done";

/// Whether CRIU works on this kernel (`criu check`).
fn criu_works() -> bool {
    Command::new("criu")
        .arg("check")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Panics unless CRIU works on this kernel: the tests that call this are ignored where it does
/// not (see the module doc), so running them means CRIU must work.
fn require_criu() {
    match Command::new("criu")
        .arg("check")
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) => assert!(
            o.status.success(),
            "`criu check` fails here: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("criu cannot run (Debian package `criu`): {e}"),
    }
}

/// Runs `lashing ARGS` with stdin, stdout and stderr on anonymous pipes (CRIU cannot dump a
/// process whose stdio is /dev/null, a host file or a fifo); the returned child keeps our ends.
fn spawn_piped(sb: &Sandbox, args: &[&str]) -> Child {
    sb.command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `lashing` spawned with [`spawn_piped`] to exit; fails the test (with its stderr)
/// when it failed.
fn wait_ok(child: &mut Child, what: &str) {
    let status = child.wait().unwrap();
    if !status.success() {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("lashing {what} failed ({status}): {err}");
    }
}

/// The counter, when the file holds a whole number.
fn counter(sb: &Sandbox) -> Option<u64> {
    std::fs::read_to_string(sb.rootfs().join("tmp/counter"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
#[ignore = "needs a CRIU that works with this kernel (Debian's 3.17 fails on kernels >= 6.13): \
            run by scripts/test-guest"]
fn checkpoint_stops_and_restore_resumes_the_counter() {
    require_criu();
    let sb = sandbox(&["sh", "-c", LOOP]);
    let limit = lashing_testsupport::WAIT * time_factor();
    // The loop writes into the rootfs (runc's example spec has a read-only one).
    sb.edit(|v| v["root"]["readonly"] = false.into());
    std::fs::create_dir_all(sb.rootfs().join("tmp")).unwrap();
    let id = "cr1";

    let mut run = spawn_piped(&sb, &["run", "-d", id]);
    wait_ok(&mut run, "run -d");
    let pid1 = sb.pid(id);
    support::wait_for("the counter to reach 3", limit, || {
        counter(&sb).is_some_and(|n| n >= 3)
    });

    let image = sb.path("image");
    let image_arg = image.to_str().unwrap();
    let started = Instant::now();
    sb.ok(&["checkpoint", "--image-path", image_arg, id]);
    eprintln!("checkpoint took {:?}", started.elapsed());
    assert!(image.join("inventory.img").is_file(), "no CRIU image");
    assert!(image.join("descriptors.json").is_file());
    // As runc: the checkpointed container is gone, its init is dead and the counter stands still.
    assert_eq!(sb.status(id), "", "the container still exists");
    sb.reap(pid1);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid1}/stat")).exists(),
        "init {pid1} still exists"
    );
    let stopped_at = counter(&sb).expect("a counter value at checkpoint");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        counter(&sb),
        Some(stopped_at),
        "the counter moved after checkpoint"
    );

    let started = Instant::now();
    let mut restore = spawn_piped(
        &sb,
        &["restore", "-d", "-b", ".", "--image-path", image_arg, id],
    );
    wait_ok(&mut restore, "restore -d");
    eprintln!("restore took {:?}", started.elapsed());
    assert_eq!(sb.status(id), "running");
    let pid2 = sb.pid(id);
    assert_ne!(pid2, pid1, "the restored init is a new host process");
    // The loop goes on from where it stopped: never below the value at checkpoint, and past it.
    let mut seen = Vec::new();
    support::wait_for("the counter to grow past the checkpoint", limit, || {
        let n = counter(&sb);
        if let Some(n) = n {
            seen.push(n);
        }
        n.is_some_and(|n| n >= stopped_at + 5)
    });
    assert!(
        seen.iter().all(|&n| n >= stopped_at),
        "the counter restarted below {stopped_at}: {seen:?}"
    );

    sb.ok(&["delete", "-f", id]);
    sb.reap_blocking(pid2);
    assert_eq!(sb.status(id), "");
    drop((run, restore));
}

#[test]
#[ignore = "needs a CRIU that works with this kernel (Debian's 3.17 fails on kernels >= 6.13): \
            run by scripts/test-guest"]
fn checkpoint_refuses_a_created_container() {
    require_criu();
    let sb = sandbox(&["sh", "-c", LOOP]);
    let mut create = spawn_piped(&sb, &["create", "cr2"]);
    wait_ok(&mut create, "create");
    let image = sb.path("image");
    let o = sb.run(&["checkpoint", "--image-path", image.to_str().unwrap(), "cr2"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("created"), "{}", o.stderr);
    assert_eq!(sb.status("cr2"), "created");
    let o = sb.run(&[
        "restore",
        "-d",
        "--image-path",
        image.to_str().unwrap(),
        "cr3",
    ]);
    assert_ne!(o.code, 0, "a restore without an image must fail");
    assert!(!sb.left().contains(&"cr3".to_string()), "cr3 left behind");
    sb.ok(&["delete", "-f", "cr2"]);
}

/// Error paths that need no working CRIU (they run on the host too): without `criu` in PATH the
/// command says so; where `criu` is installed but fails (the host kernel), the error carries the
/// end of CRIU's log. Either way the container keeps running.
#[test]
fn checkpoint_errors_leave_the_container_running() {
    let sb = sandbox(&["sh", "-c", LOOP]);
    sb.edit(|v| v["root"]["readonly"] = false.into());
    let mut run = spawn_piped(&sb, &["run", "-d", "cr4"]);
    wait_ok(&mut run, "run -d");
    let image = sb.path("image");
    let image_arg = image.to_str().unwrap();
    let o = sb.run_env(
        &["checkpoint", "--image-path", image_arg, "cr4"],
        &[("PATH", "/nonexistent")],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("criu not found in PATH"), "{}", o.stderr);
    assert_eq!(sb.status("cr4"), "running");
    // Bad options are refused with runc's messages, before CRIU is asked anything.
    for (flags, want) in [
        (
            &["--page-server", "nohost"][..],
            "Use --page-server ADDRESS:PORT to specify page server",
        ),
        (&["--page-server", "h:x"], "Invalid port number"),
        (
            &["--manage-cgroups-mode", "bogus"],
            "Invalid manage-cgroups-mode value",
        ),
        (&["--empty-ns", "pid"], "is not supported"),
        (&["--status-fd", "999"], "invalid --status-fd argument 999"),
    ] {
        let mut args = vec!["checkpoint", "--image-path", image_arg];
        args.extend(flags);
        args.push("cr4");
        let o = sb.run(&args);
        assert_eq!(o.code, 1, "{flags:?}: {}", o.stderr);
        assert!(o.stderr.contains(want), "{flags:?}: {}", o.stderr);
        assert_eq!(sb.status("cr4"), "running");
    }
    let installed = Command::new("criu")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed && !criu_works() {
        let o = sb.run(&["checkpoint", "--image-path", image_arg, "cr4"]);
        assert_ne!(o.code, 0);
        assert!(o.stderr.contains("criu dump failed"), "{}", o.stderr);
        assert!(o.stderr.contains("dump.log"), "{}", o.stderr);
        assert!(o.stderr.contains("Error"), "no log tail: {}", o.stderr);
        assert_eq!(sb.status("cr4"), "running");
    }
    let pid = sb.pid("cr4");
    sb.ok(&["delete", "-f", "cr4"]);
    sb.reap_blocking(pid);
    drop(run);
}
