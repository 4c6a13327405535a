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

/// The container's loop: a counter appended to /tmp/counter, 10 times a second (appended, so
/// that it is never read half-written: see [`lashing_testsupport::counting_loop`]).
const LOOP: &str = "i=0; while true; do i=$((i+1)); echo $i >> /tmp/counter; sleep 0.1; done";

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
    lashing_testsupport::last_count(&sb.rootfs().join("tmp/counter"))
}

#[test]
#[ignore = "needs a CRIU that works with this kernel (Debian's 3.17 fails on kernels >= 6.13): \
            run by scripts/test-guest"]
fn checkpoint_stops_and_restore_resumes_the_counter() {
    if !lashing_testsupport::require_criu() {
        return;
    }
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
    if !lashing_testsupport::require_criu() {
        return;
    }
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
    if lashing_testsupport::criu_installed() && !lashing_testsupport::criu_works() {
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

/// The applets the CRIU tests use (`nc`: TCP).
const CRIU_APPLETS: &[&str] = &["sh", "true", "sleep", "echo", "cat", "test", "kill", "nc"];

/// A sandbox for CRIU: `args` in a writable rootfs with `/tmp`, and the [`CRIU_APPLETS`].
fn criu_sandbox(args: &[&str]) -> Sandbox {
    let sb = Sandbox::new(std::path::Path::new(support::BIN), args, CRIU_APPLETS);
    // In a cgroup of its own below the sandbox's, so that a second bundle's is a sibling (a
    // v2 cgroup with processes cannot have children that take processes).
    sb.edit(|v| {
        v["root"]["readonly"] = false.into();
        v["linux"]["cgroupsPath"] = sb.cgroups_path("b1").into();
    });
    std::fs::create_dir_all(sb.rootfs().join("tmp")).unwrap();
    sb
}

/// A second bundle `name` in the sandbox for the same rootfs (absolute path), in its own
/// cgroup: a restore under a new id goes there. `edit` changes its config.json.
fn new_bundle(sb: &Sandbox, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let dir = sb.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(sb.bundle().join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["root"]["path"] = sb.rootfs().to_str().unwrap().into();
    v["linux"]["cgroupsPath"] = sb.cgroups_path(name).into();
    edit(&mut v);
    std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
    dir.to_str().unwrap().to_string()
}

/// Runs `lashing ARGS` with piped stdio and fails the test when it fails.
fn ok_piped(sb: &Sandbox, args: &[&str]) {
    let mut c = spawn_piped(sb, args);
    wait_ok(&mut c, &args.join(" "));
}

/// Waits for the counter to reach `n`.
fn wait_counter(sb: &Sandbox, n: u64) {
    let limit = lashing_testsupport::WAIT * time_factor();
    support::wait_for(&format!("the counter to reach {n}"), limit, || {
        counter(sb).is_some_and(|c| c >= n)
    });
}

/// Deletes `id` and reaps its init.
fn delete(sb: &Sandbox, id: &str) {
    let pid = sb.pid(id);
    sb.ok(&["delete", "-f", id]);
    sb.reap_blocking(pid);
}

#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn pre_dump_then_dump_with_parent_path() {
    if !lashing_testsupport::require_criu() {
        return;
    }
    let sb = criu_sandbox(&["sh", "-c", LOOP]);
    let id = "crp";
    ok_piped(&sb, &["run", "-d", id]);
    wait_counter(&sb, 3);
    let pre = sb.path("img/pre");
    let fin = sb.path("img/final");
    sb.ok(&[
        "checkpoint",
        "--pre-dump",
        "--image-path",
        pre.to_str().unwrap(),
        id,
    ]);
    // A pre-dump leaves the container running and writes the memory only.
    assert_eq!(sb.status(id), "running");
    let names: Vec<String> = std::fs::read_dir(&pre)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("pages-")), "{names:?}");
    assert!(!names.iter().any(|n| n == "descriptors.json"), "{names:?}");
    let at_pre = counter(&sb).unwrap();
    wait_counter(&sb, at_pre + 3);
    // An absolute or missing parent is refused before anything is dumped.
    for (parent, want) in [
        ("/abs", "--parent-path must be relative"),
        ("../nope", "invalid --parent-path"),
    ] {
        let o = sb.run(&[
            "checkpoint",
            "--image-path",
            fin.to_str().unwrap(),
            "--parent-path",
            parent,
            id,
        ]);
        assert_eq!(o.code, 1, "{}", o.stderr);
        assert!(o.stderr.contains(want), "{}", o.stderr);
        assert_eq!(sb.status(id), "running");
    }
    sb.ok(&[
        "checkpoint",
        "--image-path",
        fin.to_str().unwrap(),
        "--parent-path",
        "../pre",
        id,
    ]);
    assert_eq!(sb.status(id), "");
    // CRIU links the dump to its parent: only the pages changed since go to the final image.
    let link = std::fs::read_link(fin.join("parent")).expect("a parent link");
    assert_eq!(link, std::path::Path::new("../pre"));
    let stopped_at = counter(&sb).unwrap();
    ok_piped(
        &sb,
        &["restore", "-d", "--image-path", fin.to_str().unwrap(), id],
    );
    assert_eq!(sb.status(id), "running");
    wait_counter(&sb, stopped_at + 5);
    delete(&sb, id);
}

/// Restore under another id from another bundle (own cgroup), with the OCI hooks runc runs on
/// restore: prestart and createRuntime, with the restored init's pid in the state.
#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn restore_under_a_new_id_into_a_new_bundle_runs_the_hooks() {
    if !lashing_testsupport::require_criu() {
        return;
    }
    let sb = criu_sandbox(&["sh", "-c", LOOP]);
    ok_piped(&sb, &["run", "-d", "cro"]);
    wait_counter(&sb, 3);
    let img = sb.path("img");
    sb.ok(&["checkpoint", "--image-path", img.to_str().unwrap(), "cro"]);
    let stopped_at = counter(&sb).unwrap();
    let out = sb.path("hooks");
    std::fs::create_dir_all(&out).unwrap();
    let hook = |name: &str| {
        let f = out.join(name);
        serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", f.display())]})
    };
    let b2 = new_bundle(&sb, "b2", |v| {
        v["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "poststop": [hook("poststop")],
        });
    });
    ok_piped(
        &sb,
        &[
            "restore",
            "-d",
            "-b",
            &b2,
            "--image-path",
            img.to_str().unwrap(),
            "crn",
        ],
    );
    assert_eq!(sb.status("crn"), "running");
    assert_eq!(sb.status("cro"), "", "the checkpointed container is gone");
    let state: serde_json::Value = serde_json::from_str(&sb.ok(&["state", "crn"])).unwrap();
    assert_eq!(state["bundle"], b2.as_str());
    let pid = sb.pid("crn");
    for kind in ["prestart", "createRuntime"] {
        let text =
            std::fs::read_to_string(out.join(kind)).unwrap_or_else(|e| panic!("{kind} hook: {e}"));
        let st: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(st["id"], "crn", "{kind}: {text}");
        assert_eq!(st["pid"], pid, "{kind}: {text}");
    }
    // The restored init is in the new bundle's cgroup.
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&sb.cgroups_path("b2")), "{cg}");
    wait_counter(&sb, stopped_at + 5);
    delete(&sb, "crn");
    assert!(out.join("poststop").is_file(), "poststop ran at delete");
}

/// A free TCP port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Lazy migration: the checkpoint serves the memory from a page server, `criu lazy-pages` fetches
/// it for the restore through userfaultfd; `--status-fd` says when the server is ready.
#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn lazy_pages_through_a_page_server() {
    if !lashing_testsupport::require_criu() {
        return;
    }
    let limit = lashing_testsupport::WAIT * time_factor();
    let sb = criu_sandbox(&["sh", "-c", LOOP]);
    ok_piped(&sb, &["run", "-d", "crl"]);
    wait_counter(&sb, 3);
    let img = sb.path("img");
    let img_arg = img.to_str().unwrap();
    let port = free_port().to_string();
    let ps = format!("127.0.0.1:{port}");
    // The write end without O_CLOEXEC: the checkpoint inherits it at the same number.
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::empty()).unwrap();
    rustix::io::fcntl_setfd(&r, rustix::io::FdFlags::CLOEXEC).unwrap();
    let wfd = std::os::fd::AsRawFd::as_raw_fd(&w).to_string();
    let mut ckpt = spawn_piped(
        &sb,
        &[
            "checkpoint",
            "--lazy-pages",
            "--page-server",
            &ps,
            "--status-fd",
            &wfd,
            "--image-path",
            img_arg,
            "crl",
        ],
    );
    drop(w);
    let status = support::read_until(std::os::fd::AsFd::as_fd(&r), "\0", limit);
    assert_eq!(
        status.as_bytes(),
        b"\0",
        "no status byte from the lazy checkpoint"
    );
    let mut daemon = Command::new("criu")
        .args([
            "lazy-pages",
            "--page-server",
            "--address",
            "127.0.0.1",
            "--port",
            &port,
            "-D",
            img_arg,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("criu lazy-pages");
    let b2 = new_bundle(&sb, "b2", |_| {});
    let restored = std::panic::catch_unwind(|| {
        ok_piped(
            &sb,
            &[
                "restore",
                "-d",
                "--lazy-pages",
                "-b",
                &b2,
                "--image-path",
                img_arg,
                "crl2",
            ],
        );
    });
    if let Err(e) = restored {
        let _ = daemon.kill();
        let _ = daemon.wait();
        let _ = ckpt.kill();
        let _ = ckpt.wait();
        std::panic::resume_unwind(e);
    }
    let code = support::wait_exit(&mut ckpt, "lazy checkpoint", limit);
    if code != 0 {
        let mut err = String::new();
        let _ = ckpt.stderr.take().unwrap().read_to_string(&mut err);
        panic!("lazy checkpoint failed ({code}): {err}");
    }
    support::wait_exit(&mut daemon, "criu lazy-pages", limit);
    assert_eq!(sb.status("crl"), "");
    assert_eq!(sb.status("crl2"), "running");
    let at = counter(&sb).unwrap();
    wait_counter(&sb, at + 5);
    delete(&sb, "crl2");
}

/// Network namespace `name` with its loopback up (`ip netns`), removed on drop.
struct NetNs(String);

impl NetNs {
    fn new(name: &str) -> NetNs {
        let ns = NetNs(name.to_string());
        for args in [
            vec!["netns", "add", name],
            vec!["-n", name, "link", "set", "lo", "up"],
        ] {
            let st = Command::new("ip")
                .args(&args)
                .status()
                .expect("ip (iproute2)");
            assert!(st.success(), "ip {args:?}");
        }
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A TCP connection inside the container (a server and a client on the loopback of the
/// container's own network namespace, given by path: CRIU keeps it as an external namespace)
/// survives checkpoint and restore with `--tcp-established`, and is refused without it.
#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn tcp_established_connection_survives() {
    if !lashing_testsupport::require_criu() {
        return;
    }
    let limit = lashing_testsupport::WAIT * time_factor();
    let ns = NetNs::new(&format!("lashing-cr-{}", std::process::id()));
    // The server's stdin stays open (busybox nc ends at its EOF).
    let script = "sleep 100000 | nc -l -p 5000 > /tmp/received & sleep 1; \
        i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done | nc 127.0.0.1 5000";
    let sb = criu_sandbox(&["sh", "-c", script]);
    let path = format!("/run/netns/{}", ns.0);
    sb.edit(|v| {
        for n in v["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = path.clone().into();
            }
        }
    });
    let received = || -> Vec<u64> {
        std::fs::read_to_string(sb.rootfs().join("tmp/received"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect()
    };
    ok_piped(&sb, &["run", "-d", "crt"]);
    support::wait_for("data over the connection", limit, || received().len() >= 3);
    let img = sb.path("img");
    let img_arg = img.to_str().unwrap();
    let o = sb.run(&["checkpoint", "--image-path", img_arg, "crt"]);
    assert_ne!(
        o.code, 0,
        "an established connection needs --tcp-established"
    );
    assert!(o.stderr.contains("criu dump failed"), "{}", o.stderr);
    assert_eq!(sb.status("crt"), "running");
    sb.ok(&[
        "checkpoint",
        "--tcp-established",
        "--image-path",
        img_arg,
        "crt",
    ]);
    let before = received().len() as u64;
    ok_piped(
        &sb,
        &[
            "restore",
            "-d",
            "--tcp-established",
            "--image-path",
            img_arg,
            "crt",
        ],
    );
    support::wait_for("more data over the restored connection", limit, || {
        received().len() as u64 >= before + 5
    });
    // One stream, never restarted: 1, 2, 3, ... without a gap or a repeat (the last line may
    // be partly written).
    let got = received();
    let whole = &got[..got.len() - 1];
    assert!(
        whole.iter().enumerate().all(|(i, &n)| n == i as u64 + 1),
        "{got:?}"
    );
    delete(&sb, "crt");
}

/// A container with a terminal: checkpointed with `--shell-job`, restored with a console
/// socket that receives the new terminal's master (CRIU's `orphan-pts-master`), with the flags
/// containerd's runc v2 shim gives for a terminal task (go-runc's `RestoreOpts`: no
/// `--shell-job`, `--pid-file`, `--no-subreaper`).
#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn shell_job_restores_with_a_console_socket() {
    if !lashing_testsupport::require_criu() {
        return;
    }
    let limit = lashing_testsupport::WAIT * time_factor();
    let script =
        "i=0; while true; do i=$((i+1)); echo $i >> /tmp/counter; echo tick$i; sleep 0.1; done";
    let sb = criu_sandbox(&["sh", "-c", script]);
    sb.edit(|v| v["process"]["terminal"] = true.into());
    let sock1 = sb.path("console1.sock");
    let l1 = support::listener(&sock1);
    let mut run = spawn_piped(
        &sb,
        &[
            "run",
            "-d",
            "--console-socket",
            sock1.to_str().unwrap(),
            "crs",
        ],
    );
    let (_, master1) = support::accept_fd(&l1);
    wait_ok(&mut run, "run -d --console-socket");
    support::read_until(std::os::fd::AsFd::as_fd(&master1), "tick3", limit);
    let img = sb.path("img");
    let img_arg = img.to_str().unwrap();
    sb.ok(&["checkpoint", "--shell-job", "--image-path", img_arg, "crs"]);
    drop(master1);
    let stopped_at = counter(&sb).unwrap();
    let sock2 = sb.path("console2.sock");
    let l2 = support::listener(&sock2);
    let o = sb.run(&[
        "restore",
        "-d",
        "--shell-job",
        "--image-path",
        img_arg,
        "crs",
    ]);
    assert_ne!(o.code, 0, "a terminal needs a console socket when detached");
    assert!(o.stderr.contains("console socket"), "{}", o.stderr);
    assert!(!sb.left().contains(&"crs".to_string()));
    let pid_file = sb.path("restored.pid");
    ok_piped(
        &sb,
        &[
            "restore",
            "--image-path",
            img_arg,
            "--console-socket",
            sock2.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "--no-subreaper",
            "crs",
        ],
    );
    let (name, master2) = support::accept_fd(&l2);
    assert_eq!(name, "orphan-pts-master");
    let recorded = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(recorded.trim().parse::<i32>().unwrap(), sb.pid("crs"));
    let want = format!("tick{}", stopped_at + 3);
    let text = support::read_until(std::os::fd::AsFd::as_fd(&master2), &want, limit);
    assert!(
        text.contains(&want),
        "the restored process does not write to the new terminal: {text:?}"
    );
    delete(&sb, "crs");
}

/// Whether someone holds a lock on `path` (a non-blocking exclusive flock fails).
fn locked(path: &std::path::Path) -> bool {
    let f = std::fs::File::open(path).unwrap();
    match f.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(e)) => panic!("flock {}: {e}", path.display()),
    }
}

/// A container holding a file lock (testinit's `lock-count`: busybox has no `flock`): refused
/// without `--file-locks`, the lock released at checkpoint and held again after restore with
/// it.
#[test]
#[ignore = "needs a CRIU that works with this kernel: run by scripts/test-guest"]
fn file_locks_are_restored() {
    if !lashing_testsupport::require_criu() {
        return;
    }
    let limit = lashing_testsupport::WAIT * time_factor();
    let sb = criu_sandbox(&["/init", "lock-count", "/tmp/lock", "/tmp/counter"]);
    let init = sb.rootfs().join("init");
    std::fs::copy(lashing_testsupport::testinit_path(), &init).unwrap();
    let lock = sb.rootfs().join("tmp/lock");
    ok_piped(&sb, &["run", "-d", "crf"]);
    wait_counter(&sb, 3);
    assert!(locked(&lock), "the container holds the lock");
    let img = sb.path("img");
    let img_arg = img.to_str().unwrap();
    let o = sb.run(&["checkpoint", "--image-path", img_arg, "crf"]);
    assert_ne!(o.code, 0, "a held lock needs --file-locks");
    assert!(o.stderr.contains("criu dump failed"), "{}", o.stderr);
    assert_eq!(sb.status("crf"), "running");
    sb.ok(&["checkpoint", "--file-locks", "--image-path", img_arg, "crf"]);
    support::wait_for("the lock to be released", limit, || !locked(&lock));
    let stopped_at = counter(&sb).unwrap();
    ok_piped(
        &sb,
        &[
            "restore",
            "-d",
            "--file-locks",
            "--image-path",
            img_arg,
            "crf",
        ],
    );
    assert!(locked(&lock), "the restored container holds the lock again");
    wait_counter(&sb, stopped_at + 5);
    delete(&sb, "crf");
}

/// A stdio that is the caller's `/dev/null` (on the host's `/dev`: conmon gives one to podman's
/// containers) is reopened as the container's own `/dev/null` (runc's `reOpenDevNull`), so that
/// CRIU finds its mount in the container. Runs on the host.
#[test]
fn host_dev_null_stdio_becomes_the_containers() {
    let sb = sandbox(&[
        "sh",
        "-c",
        "cat /proc/self/fdinfo/0; echo ---; cat /proc/self/mountinfo",
    ]);
    // `run` gives the container its stdin: /dev/null of the host (the harness's).
    let out = sb.ok(&["run", "crnull"]);
    let (fdinfo, mountinfo) = out.split_once("---").expect("two parts");
    let mnt = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .expect("a mnt_id line")
        .trim()
        .to_string();
    assert!(
        mountinfo
            .lines()
            .any(|l| l.split_whitespace().next() == Some(mnt.as_str())),
        "stdin's mount {mnt} is not in the container:\n{mountinfo}"
    );
}

/// As runc, an error in `restore`'s options (one that needs no CRIU) goes to `--log` as well as
/// to stderr, with runc's words for an unknown option: containerd's runc shim reports the
/// runtime's last logged error (without it: "unable to retrieve OCI runtime error"). Go's
/// option syntax (`-no-subreaper`) is no error.
#[test]
fn restore_option_errors_are_logged_as_runc_logs_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let log_arg = log.to_str().unwrap();
    let root = dir.path().join("root");
    let root_arg = root.to_str().unwrap();
    let o = support::lashing(&[
        "--root",
        root_arg,
        "--log",
        log_arg,
        "--log-format",
        "json",
        "restore",
        "--bogus",
        "ck1",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let text = std::fs::read_to_string(&log).expect("the log file");
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error", "{text}");
    assert_eq!(v["msg"], "flag provided but not defined: -bogus", "{text}");
    // go-runc's restore line gets as far as the bundle (none here): that error is logged.
    std::fs::remove_file(&log).unwrap();
    let missing = dir.path().join("nobundle");
    let o = support::lashing(&[
        "--root",
        root_arg,
        "--log",
        log_arg,
        "--log-format",
        "json",
        "restore",
        "--detach",
        "-no-subreaper",
        "--bundle",
        missing.to_str().unwrap(),
        "ck1",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let text = std::fs::read_to_string(&log).expect("the log file");
    assert!(text.contains("nobundle"), "{text}");
    assert!(!text.contains("flag provided"), "{text}");
    assert!(!root.join("ck1").exists(), "state left");
}
