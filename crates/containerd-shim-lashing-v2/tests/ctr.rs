//! `containerd-shim-lashing-v2` under the installed containerd (1.6 here), driven by `ctr run
//! --runtime io.containerd.lashing.v2`: output and exit status, `-t`, `-d`, `task exec`, `ps`,
//! `pause`/`resume`, `metrics`, `kill`, `delete`; an image through containerd's snapshotter (the
//! rootfs mounts the shim receives); one shim for the containers of a pod sandbox; many
//! concurrent starts and execs in one shim. Skipped with a message when containerd/ctr are not
//! installed (CI installs them), when not root, or without /bin/busybox.

mod support;

use std::process::Command;

use support::{Containerd, RUNTIME};

/// A private containerd for test `name`, or `None` once `missing` said why there is none.
fn containerd(name: &str) -> Option<Containerd> {
    if !Containerd::installed() {
        lashing_testsupport::missing(lashing_testsupport::containerd::MISSING);
        return None;
    }
    Some(Containerd::start(name))
}

#[test]
fn ctr_runs_execs_pauses_kills_and_deletes() {
    let Some(c) = containerd("basic") else {
        return;
    };
    // run --rm: output and exit status.
    let o = c.run(
        &["--rm"],
        "r1",
        &["/bin/sh", "-c", "echo hello; echo err >&2; exit 3"],
    );
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert_eq!(o.stdout, "hello\n");
    assert!(o.stderr.contains("err"), "{}", o.stderr);
    assert!(!c.cgroup_exists("r1"));
    assert!(!c.left().contains(&"r1".to_string()), "{:?}", c.left());

    // run -d, then exec (attached: output and status), ps, pause/resume, metrics.
    let o = c.run(&["-d"], "d1", &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (pid, status) = c.task("d1").expect("task d1");
    assert_eq!(status, "RUNNING");
    assert!(c.cgroup_exists("d1"));
    let o = c.exec(
        &[],
        "e1",
        "d1",
        &["/bin/sh", "-c", "echo from-exec; exit 5"],
    );
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (5, "from-exec\n"),
        "{}",
        o.stderr
    );
    let o = c.ctr(&["task", "ps", "d1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains(&pid.to_string()), "{}", o.stdout);
    assert_eq!(c.ctr(&["task", "pause", "d1"]).code, 0);
    c.wait_status("d1", "PAUSED");
    assert_eq!(c.ctr(&["task", "resume", "d1"]).code, 0);
    c.wait_status("d1", "RUNNING");
    let o = c.ctr(&["task", "metrics", "d1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("memory.usage_in_bytes") || o.stdout.contains("memory.usage"),
        "{}",
        o.stdout
    );
    // A detached exec, signalled by its exec id.
    let o = c.exec(&["-d"], "e2", "d1", &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = c.ctr(&["task", "kill", "--exec-id", "e2", "-s", "SIGKILL", "d1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    // kill: the init ends by the signal (137), delete removes everything.
    let o = c.ctr(&["task", "kill", "-s", "SIGKILL", "d1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    c.wait_status("d1", "STOPPED");
    // Killing a stopped task is refused as with the runc shim.
    let o = c.ctr(&["task", "kill", "-s", "SIGKILL", "d1"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("process already finished"),
        "{}",
        o.stderr
    );
    let o = c.ctr(&["task", "delete", "d1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(c.ctr(&["container", "delete", "d1"]).code, 0);
    assert!(!c.cgroup_exists("d1"));
    assert!(c.left().is_empty(), "{:?}", c.left());
    // Every shim exited with its last container.
    let start = std::time::Instant::now();
    while !c.shims().is_empty() {
        assert!(
            start.elapsed() < lashing_testsupport::WAIT,
            "shims left: {:?}",
            c.shims()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The container's init and an exec's process are in its cgroup in every hierarchy, and no
/// thread of the shim is: on
/// cgroup v1 the library has a thread of its own join the container's cgroups to fork init
/// there (no threadgroup-lock grace period); that thread must be gone, its membership with it,
/// before the shim answers `Create`.
#[test]
fn init_is_born_in_its_cgroups_and_no_shim_thread_stays_there() {
    let Some(c) = containerd("born") else {
        return;
    };
    let o = c.run(&["-d"], "b1", &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let pid = c.task_pid("b1");
    let path = c.cgroup("b1");
    let cgroups = |p: &str| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    let init = cgroups(&pid.to_string());
    for line in init.lines() {
        assert!(line.ends_with(&format!(":{path}")), "{init}");
    }
    // An exec's process too (its thread also joins the container's pid namespace), read from
    // here (the host's cgroup namespace: full paths).
    let o = c.exec(&["-d"], "x1", "b1", &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let ps = c.ok(&["task", "ps", "b1"]);
    let exec: Vec<i32> = ps
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .filter(|p| *p != pid)
        .collect();
    assert_eq!(exec.len(), 1, "{ps}");
    let text = cgroups(&exec[0].to_string());
    assert_eq!(text.lines().count(), init.lines().count(), "{text}");
    for line in text.lines() {
        assert!(line.ends_with(&format!(":{path}")), "{text}");
    }
    let shims = c.shims();
    assert_eq!(shims.len(), 1, "{shims:?}");
    let shim = shims[0].as_raw_nonzero().get();
    let mut threads = 0;
    for t in std::fs::read_dir(format!("/proc/{shim}/task")).unwrap() {
        let tid = t.unwrap().file_name().to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(format!("/proc/{shim}/task/{tid}/cgroup")) else {
            continue; // a thread that ended meanwhile
        };
        threads += 1;
        assert!(
            !text.lines().any(|l| l.ends_with(&format!(":{path}"))),
            "shim thread {tid} in the container's cgroup:\n{text}"
        );
    }
    assert!(threads > 1, "{threads} threads read");
    assert_eq!(c.ctr(&["task", "kill", "-s", "SIGKILL", "b1"]).code, 0);
    c.wait_status("b1", "STOPPED");
    assert_eq!(c.ctr(&["task", "delete", "b1"]).code, 0);
    assert_eq!(c.ctr(&["container", "delete", "b1"]).code, 0);
    assert!(!c.cgroup_exists("b1"));
}

/// `run -t` (a pty allocated in the container, its master relayed by the shim), under
/// `script` for the controlling terminal ctr wants.
#[test]
fn ctr_runs_with_a_terminal() {
    let Some(c) = containerd("tty") else {
        return;
    };
    if !lashing_testsupport::containerd::installed("script") {
        lashing_testsupport::missing("the `run -t` check needs `script` (Debian package bsdutils)");
        return;
    }
    let rootfs = c.rootfs("t1");
    let opts = c.run_opts("t1").join(" ");
    let line = format!(
        "ctr --address {} -n {} run --rm -t {opts} --rootfs {rootfs} t1 /bin/sh -c 'tty; exit 6'",
        c.sock().display(),
        c.namespace
    );
    let o = c.collect(
        Command::new("script").args(["-qec", &line, "/dev/null"]),
        "script ctr run -t",
    );
    assert_eq!(o.code, 6, "{}", o.stderr);
    assert!(o.stdout.contains("/dev/pts/"), "{}", o.stdout);
}

/// Containers with the same `io.kubernetes.cri.sandbox-id` share one shim (one shim per pod).
#[test]
fn containers_of_one_sandbox_share_a_shim() {
    let Some(c) = containerd("pod") else {
        return;
    };
    let sockets = || -> std::collections::BTreeSet<_> {
        std::fs::read_dir("/run/containerd/s")
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    let before = sockets();
    let pod = "--annotation=io.kubernetes.cri.sandbox-id=pod1";
    for id in ["p1", "p2", "p3"] {
        let o = c.run(&["-d", pod], id, &["/bin/sleep", "1000"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let o = c.run(&["-d"], "other", &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(c.shims().len(), 2, "one shim for the pod, one for `other`");
    for id in ["p1", "p2", "p3", "other"] {
        assert_eq!(c.task(id).map(|t| t.1).as_deref(), Some("RUNNING"));
        let o = c.exec(&[], "x", id, &["/bin/echo", id]);
        assert_eq!(o.stdout, format!("{id}\n"), "{}", o.stderr);
        assert_eq!(c.ctr(&["task", "kill", "-s", "SIGKILL", id]).code, 0);
        c.wait_status(id, "STOPPED");
        assert_eq!(c.ctr(&["task", "delete", id]).code, 0);
        assert_eq!(c.ctr(&["container", "delete", id]).code, 0);
    }
    assert!(c.left().is_empty(), "{:?}", c.left());
    // The shims end with their last container and remove their sockets (the pod's shim too,
    // whose first container's bundle is gone by then).
    let start = std::time::Instant::now();
    while !c.shims().is_empty() {
        assert!(start.elapsed() < lashing_testsupport::WAIT, "shims left");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let left: Vec<_> = sockets().difference(&before).cloned().collect();
    assert!(left.is_empty(), "shim sockets left: {left:?}");
}

/// Fork safety in practice: the shim is multithreaded (the TTRPC server's threads, the reaper,
/// the relays) and starts containers from any of them; many concurrent execs in one shim, and
/// concurrent starts of containers sharing a shim.
#[test]
fn concurrent_starts_and_execs_in_one_shim() {
    let Some(c) = containerd("load") else {
        return;
    };
    let pod = "--annotation=io.kubernetes.cri.sandbox-id=load";
    let ids: Vec<String> = (0..6).map(|i| format!("l{i}")).collect();
    // The first creates the shim; the others start at once into it.
    let o = c.run(&["-d", pod], &ids[0], &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    std::thread::scope(|s| {
        for id in &ids[1..] {
            let c = &c;
            s.spawn(move || {
                let o = c.run(&["-d", pod], id, &["/bin/sleep", "1000"]);
                assert_eq!(o.code, 0, "{id}: {}", o.stderr);
            });
        }
    });
    assert_eq!(c.shims().len(), 1);
    std::thread::scope(|s| {
        for (n, id) in ids.iter().enumerate() {
            for k in 0..4 {
                let c = &c;
                s.spawn(move || {
                    let exec_id = format!("x{k}");
                    let script = format!("echo {id}-{k}; exit {}", n + k);
                    let o = c.exec(&[], &exec_id, id, &["/bin/sh", "-c", &script]);
                    assert_eq!(o.code as usize, n + k, "{id}/{exec_id}: {}", o.stderr);
                    assert_eq!(o.stdout, format!("{id}-{k}\n"));
                });
            }
        }
    });
    for id in &ids {
        assert_eq!(c.task(id).map(|t| t.1).as_deref(), Some("RUNNING"));
        assert_eq!(c.ctr(&["task", "kill", "-s", "SIGKILL", id]).code, 0);
        c.wait_status(id, "STOPPED");
        assert_eq!(c.ctr(&["task", "delete", id]).code, 0);
    }
    assert!(c.left().is_empty(), "{:?}", c.left());
    let _ = RUNTIME;
}

/// An image through containerd's overlayfs snapshotter: the shim mounts the rootfs containerd
/// sends (overlay) on the bundle's rootfs and unmounts it at delete; the image's Cmd, Env and
/// WorkingDir; a writable rootfs.
#[test]
fn ctr_runs_an_imported_image() {
    let Some(c) = containerd("image") else {
        return;
    };
    let image = support::busybox_image(&c);
    let o = c.ctr(&["image", "import", image.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let name = "lashing-test/busybox:1";
    let o = c.run_image(&["--rm"], name, "i1", &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "image-default-cmd\n");
    let script = "echo $FROM_IMAGE $PWD; echo w > /f && cat /f; grep ' / ' /proc/self/mountinfo";
    let o = c.run_image(&["--rm"], name, "i2", &["/bin/sh", "-c", script]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("yes /bin\nw\n"), "{}", o.stdout);
    assert!(o.stdout.contains(" - overlay "), "{}", o.stdout);
    // Nothing of the rootfs stays mounted.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let state = c.dir.path().join("state").to_string_lossy().into_owned();
    assert!(
        !mounts.lines().any(|l| l.contains(&state)),
        "rootfs left mounted: {mounts}"
    );
}

/// The events containerd gets from the shim (`ctr events`): create, start, exec added and
/// started, exit, paused, resumed, delete, and an OOM kill of a container over its memory limit
/// (the library's OOM notification).
#[test]
fn events_reach_containerd_including_oom() {
    let Some(c) = containerd("events") else {
        return;
    };
    let log = c.dir.path().join("events.log");
    let mut events = c
        .ctr_command(&["events"])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `ctr events` subscribes asynchronously: wait until it sees something of ours.
    let seen = |topic: &str, id: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(topic) && l.contains(id))
    };
    let until = |topic: &str, id: &str| {
        let start = std::time::Instant::now();
        while !seen(topic, id) {
            assert!(
                start.elapsed() < lashing_testsupport::WAIT,
                "no {topic} of {id}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let start = std::time::Instant::now();
    loop {
        let _ = c.ctr(&["namespace", "label", &c.namespace, "probe=1"]);
        if seen("/namespaces/update", &c.namespace) {
            break;
        }
        assert!(
            start.elapsed() < lashing_testsupport::WAIT,
            "ctr events saw nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = c.run(&["-d"], "ev", &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(c.exec(&[], "x1", "ev", &["/bin/true"]).code, 0);
    assert_eq!(c.ctr(&["task", "pause", "ev"]).code, 0);
    assert_eq!(c.ctr(&["task", "resume", "ev"]).code, 0);
    assert_eq!(c.ctr(&["task", "kill", "-s", "SIGKILL", "ev"]).code, 0);
    c.wait_status("ev", "STOPPED");
    assert_eq!(c.ctr(&["task", "delete", "ev"]).code, 0);
    for topic in [
        "/tasks/create",
        "/tasks/start",
        "/tasks/exec-added",
        "/tasks/exec-started",
        "/tasks/paused",
        "/tasks/resumed",
        "/tasks/exit",
        "/tasks/delete",
    ] {
        until(topic, "\"ev\"");
    }
    // busybox `tail` keeps a line without a newline in memory: over a 32 MiB limit.
    let o = c.run(
        &["--rm", "--memory-limit", "33554432"],
        "oom",
        &["/bin/sh", "-c", "head -c 268435456 /dev/zero | tail"],
    );
    assert_ne!(o.code, 0, "{}", o.stdout);
    until("/tasks/oom", "\"oom\"");
    let _ = events.kill();
    let _ = events.wait();
}

/// `Update` (what CRI sends for `crictl update`/in-place resize; `ctr` 1.6 has no command for
/// it) straight to the shim over its TTRPC socket: the OCI `LinuxResources` JSON is overlaid on
/// the container's resources (runc's `update` rules) and lands in its cgroup; `Stats` answers
/// containerd's cgroup metrics type for this host.
#[test]
fn update_and_stats_over_the_shim_socket() {
    use containerd_shim::protos::protobuf::Message;
    use containerd_shim::protos::protobuf::well_known_types::any::Any;
    use containerd_shim::protos::shim::shim::{StatsRequest, UpdateTaskRequest};
    use containerd_shim::protos::shim::shim_ttrpc::TaskClient;
    use containerd_shim::protos::ttrpc;

    let Some(c) = containerd("update") else {
        return;
    };
    let o = c.run(&["-d"], "u1", &["/bin/sleep", "1000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let bundle = c
        .dir
        .path()
        .join("state/io.containerd.runtime.v2.task")
        .join(&c.namespace)
        .join("u1");
    let address = std::fs::read_to_string(bundle.join("address")).unwrap();
    let client = TaskClient::new(ttrpc::Client::connect(address.trim()).unwrap());
    let limit: i64 = 48 << 20;
    let req = UpdateTaskRequest {
        id: "u1".into(),
        resources: Some(Any {
            type_url: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources".into(),
            value: serde_json::json!({"memory": {"limit": limit}, "pids": {"limit": 77}})
                .to_string()
                .into_bytes(),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    client
        .update(ttrpc::context::with_timeout(0), &req)
        .expect("update");
    let stats = client
        .stats(
            ttrpc::context::with_timeout(0),
            &StatsRequest {
                id: "u1".into(),
                ..Default::default()
            },
        )
        .expect("stats");
    let any = stats.stats.unwrap();
    if lashing_cgroups::detect() == lashing_cgroups::CgroupMode::Unified {
        use containerd_shim::protos::cgroups_v2::metrics::Metrics;
        assert_eq!(any.type_url, "io.containerd.cgroups.v2.Metrics");
        let m = Metrics::parse_from_bytes(&any.value).unwrap();
        assert_eq!(m.memory.usage_limit, limit as u64);
        assert_eq!(m.pids.limit, 77);
        assert!(m.pids.current >= 1);
    } else {
        use containerd_shim::protos::cgroups::metrics::Metrics;
        assert_eq!(any.type_url, "io.containerd.cgroups.v1.Metrics");
        let m = Metrics::parse_from_bytes(&any.value).unwrap();
        assert_eq!(m.memory.usage.limit, limit as u64);
        assert_eq!(m.pids.limit, 77);
        assert!(m.pids.current >= 1);
    }
    // A resources document that is not JSON is refused, naming it.
    let mut bad = req.clone();
    bad.resources.as_mut().unwrap().value = b"{".to_vec();
    let e = client
        .update(ttrpc::context::with_timeout(0), &bad)
        .unwrap_err();
    assert!(e.to_string().contains("resources"), "{e}");
    assert_eq!(c.ctr(&["task", "kill", "-s", "SIGKILL", "u1"]).code, 0);
    c.wait_status("u1", "STOPPED");
    assert_eq!(c.ctr(&["task", "delete", "u1"]).code, 0);
}

/// runc's runtime options (`containerd.runc.v1.Options`) as ctr sends them (`--runc-*`, to the
/// runtime named `io.containerd.runc.v2` only: in this harness that name is this shim too).
/// `BinaryName`/`Root` are ignored (there is no runtime binary); `SystemdCgroup` selects the
/// library's systemd driver: without systemd (this host, the pure v2 guest) the create fails
/// saying so and leaves nothing behind; under systemd the container runs in its scope.
#[test]
fn runc_runtime_options_reach_the_library() {
    let Some(c) = containerd("options") else {
        return;
    };
    let fifo = c.fifo_dir();
    let run = |extra: &[&str], id: &str, cgroup: &str, cmd: &[&str]| {
        let rootfs = c.rootfs(id);
        let mut args = vec!["run", "--runtime", "io.containerd.runc.v2", "--fifo-dir"];
        args.extend([fifo.as_str(), "--cgroup", cgroup]);
        args.extend(extra);
        // `--rootfs` is a switch: the first argument is then the rootfs directory.
        args.extend(["--rootfs", &rootfs, id]);
        args.extend(cmd);
        c.ctr(&args)
    };
    let o = run(
        &[
            "--rm",
            "--runc-binary",
            "/nonexistent/runc",
            "--runc-root",
            "/nonexistent/root",
        ],
        "o1",
        &c.cgroup("o1"),
        &["/bin/echo", "ran"],
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, "ran\n"), "{}", o.stderr);

    let systemd = std::path::Path::new("/run/systemd/system").is_dir();
    let me = std::process::id();
    let unit = format!("system.slice:lashing-test:{me}");
    let o = run(
        &["-d", "--runc-systemd-cgroup"],
        "o2",
        &unit,
        &["/bin/sleep", "1000"],
    );
    if systemd {
        // Its cgroup seen from the host (inside, a cgroup namespace shows `/`).
        assert_eq!(o.code, 0, "{}", o.stderr);
        let (pid, _) = c.task("o2").expect("task o2");
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        assert!(cg.contains(&format!("lashing-test-{me}.scope")), "{cg}");
        assert_eq!(c.ctr(&["task", "kill", "-s", "SIGKILL", "o2"]).code, 0);
        c.wait_status("o2", "STOPPED");
        assert_eq!(c.ctr(&["task", "delete", "o2"]).code, 0);
    } else {
        assert_ne!(o.code, 0, "{}", o.stdout);
        assert!(
            o.stderr.contains("systemd not running on this host"),
            "{}",
            o.stderr
        );
    }
    assert!(c.left().is_empty(), "{:?}", c.left());
    assert!(c.task("o2").is_none());
}

/// `ctr run --log-uri binary://...`: the logging binary gets the container's stdout and stderr
/// on its fds 3 and 4, and `CONTAINER_ID`/`CONTAINER_NAMESPACE`, as with the runc v2 shim.
#[test]
fn binary_log_uri_starts_the_logger() {
    let Some(c) = containerd("binlog") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let logger = d.path().join("logger");
    std::fs::write(
        &logger,
        "#!/bin/sh\nexec 5>&-\necho \"$CONTAINER_ID $CONTAINER_NAMESPACE\" > \"$1/env\"\n\
         cat <&3 > \"$1/out\" &\ncat <&4 > \"$1/err\"\nwait\necho done > \"$1/done\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&logger, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let uri = format!("binary://{}?{}", logger.display(), d.path().display());
    let o = c.run(
        &["--log-uri", &uri],
        "b1",
        &["/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 4"],
    );
    assert_eq!(o.code, 4, "{}", o.stderr);
    // The logger ends once the container's streams are closed.
    let start = std::time::Instant::now();
    while !d.path().join("done").exists() {
        assert!(
            start.elapsed() < lashing_testsupport::WAIT,
            "the logger did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let read = |f: &str| std::fs::read_to_string(d.path().join(f)).unwrap();
    assert_eq!(read("out"), "to-out\n");
    assert_eq!(read("err"), "to-err\n");
    assert!(
        read("env").starts_with("b1 lashing-test-"),
        "{}",
        read("env")
    );
}
