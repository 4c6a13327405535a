//! End-to-end tests of the library on the real kernel: the libcontainer walk, namespaces, process
//! attributes, exec, signals, and bad input. The test binary is its containers' `lashing init`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use lashing::config::NamespaceType;
use lashing::{Container, Error, Process, Status, Stdio};
use libtest_mimic::{Failed, Trial};

fn main() {
    lashing::init();
    // Needs an AppArmor kernel (the cgroup-v2 guest has one) and apparmor_parser.
    let apparmor = Trial::test("lifecycle::apparmor_profile_is_applied", || {
        apparmor_profile_is_applied();
        Ok::<(), Failed>(())
    })
    .with_ignored_flag(!rustix::process::geteuid().is_root() || !apparmor_available());
    run_suite("lifecycle", TESTS, vec![apparmor]);
}

const TESTS: &[Test] = &[
    ("run_true_exits_zero", run_true_exits_zero),
    ("exit_code_is_propagated", exit_code_is_propagated),
    ("killed_by_signal_is_128_plus", killed_by_signal_is_128_plus),
    ("create_start_split", create_start_split),
    ("start_twice_is_refused", start_twice_is_refused),
    ("load_and_oci_state", load_and_oci_state),
    (
        "start_after_an_interrupted_start",
        start_after_an_interrupted_start,
    ),
    ("signal_and_destroy_running", signal_and_destroy_running),
    ("destroy_running_is_refused", destroy_running_is_refused),
    ("exec_into_running_container", exec_into_running_container),
    (
        "the_entry_point_decides_init_or_exec",
        the_entry_point_decides_init_or_exec,
    ),
    (
        "exec_joins_every_namespace_of_the_init",
        exec_joins_every_namespace_of_the_init,
    ),
    (
        "exec_after_init_died_is_refused",
        exec_after_init_died_is_refused,
    ),
    (
        "exec_missing_binary_is_clear_and_harmless",
        exec_missing_binary_is_clear_and_harmless,
    ),
    (
        "missing_binary_is_a_clear_error",
        missing_binary_is_a_clear_error,
    ),
    (
        "bad_cwd_is_created_or_reported",
        bad_cwd_is_created_or_reported,
    ),
    ("env_cwd_user_umask", env_cwd_user_umask),
    ("rlimits_are_applied", rlimits_are_applied),
    ("hostname_and_domainname", hostname_and_domainname),
    (
        "new_namespaces_differ_from_host",
        new_namespaces_differ_from_host,
    ),
    ("host_namespaces_when_absent", host_namespaces_when_absent),
    ("join_namespaces_by_path", join_namespaces_by_path),
    ("user_namespace_with_mappings", user_namespace_with_mappings),
    ("time_namespace_offsets", time_namespace_offsets),
    ("loopback_is_up", loopback_is_up),
    (
        "sysctls_are_written_and_checked",
        sysctls_are_written_and_checked,
    ),
    ("process_attributes", process_attributes),
    (
        "cpu_affinity_reset_and_exec_affinity",
        cpu_affinity_reset_and_exec_affinity,
    ),
    ("masked_and_readonly_paths", masked_and_readonly_paths),
    ("mounts_tmpfs_and_bind", mounts_tmpfs_and_bind),
    ("readonly_rootfs", readonly_rootfs),
    ("no_pivot_root", no_pivot_root),
    ("preserved_fds", preserved_fds),
    ("cgroup_is_joined_and_removed", cgroup_is_joined_and_removed),
    ("invalid_id_and_duplicates", invalid_id_and_duplicates),
    ("load_unknown_id", load_unknown_id),
    (
        "multithreaded_host_runs_50_containers",
        multithreaded_host_runs_50_containers,
    ),
    (
        "tmpfs_root_mode_is_the_kernels_or_inherited",
        tmpfs_root_mode_is_the_kernels_or_inherited,
    ),
    (
        "bind_remount_drops_unrequested_source_flags",
        bind_remount_drops_unrequested_source_flags,
    ),
    ("recursive_atime_options_work", recursive_atime_options_work),
    (
        "mount_sources_and_root_propagation_as_runc",
        mount_sources_and_root_propagation_as_runc,
    ),
    (
        "v1_cgroup_mount_has_no_unified_hierarchy",
        v1_cgroup_mount_has_no_unified_hierarchy,
    ),
    (
        "locked_bind_flags_only_in_a_user_namespace",
        locked_bind_flags_only_in_a_user_namespace,
    ),
    ("exec_into_paused_container", exec_into_paused_container),
];

fn run_true_exits_zero() {
    let (code, _) = run_with("true", &["true"], |_| {});
    assert_eq!(code, 0);
}

fn exit_code_is_propagated() {
    let (code, out) = run_with("exit", &["sh", "-c", "echo out; exit 7"], |_| {});
    assert_eq!(code, 7);
    assert_eq!(out, "out\n");
}

fn killed_by_signal_is_128_plus() {
    // Without a pid namespace the shell is not a namespace init, which would ignore the signal.
    let (code, _) = run_with("sig", &["sh", "-c", "kill -9 $$"], |c| {
        remove_ns(c, NamespaceType::Pid)
    });
    assert_eq!(code, 128 + 9);
}

fn create_start_split() {
    let env = Env::new("split");
    let config = env.config(&["sh", "-c", "echo started"]);
    let mut p = Process::from_config(&config.process);
    let out = output_pipe(&mut p);
    let mut c = env.create(config);
    assert_eq!(c.status(), Status::Stopped, "created but not started");
    c.start(&mut p).unwrap();
    assert_eq!(c.status(), Status::Created);
    assert!(env.root().join(&env.id).join("exec.fifo").exists());
    // Nothing ran yet: the pipe is still empty (init holds a write end).
    let r = rustix::fs::fcntl_setfl(&out, rustix::fs::OFlags::NONBLOCK);
    assert!(r.is_ok());
    let mut buf = [0u8; 16];
    assert!(
        rustix::io::read(&out, &mut buf).is_err(),
        "the process must not run before exec"
    );
    c.release().unwrap();
    p.stdout = Stdio::Inherit;
    let st = p.wait().unwrap();
    rustix::fs::fcntl_setfl(&out, rustix::fs::OFlags::empty()).unwrap();
    assert_eq!(read_all(out), "started\n");
    assert_eq!(st.code(), 0);
    assert_eq!(c.status(), Status::Stopped);
    assert!(!env.root().join(&env.id).join("exec.fifo").exists());
    c.destroy().unwrap();
    assert!(!env.root().join(&env.id).exists(), "state dir removed");
}

fn start_twice_is_refused() {
    let env = Env::new("twice");
    let config = env.config(&["sleep", "10"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    let e = c.release().unwrap_err();
    assert_bad_status(&e, Status::Running);
    let mut p2 = Process::from_config(&c.config().process);
    let e = c.start(&mut p2).unwrap_err();
    assert!(matches!(e, Error::BadStatus { .. }), "{e}");
    c.signal(libc::SIGKILL, false).unwrap();
    p.wait().unwrap();
    c.destroy().unwrap();
}

fn load_and_oci_state() {
    let env = Env::new("load");
    let config = env.config(&["sleep", "10"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.start(&mut p).unwrap();
    let loaded = Container::load(env.root(), &env.id).unwrap();
    let st = loaded.oci_state();
    assert_eq!(st.status, Status::Created);
    assert_eq!(st.pid, p.pid().unwrap());
    assert_eq!(st.id, env.id);
    assert_eq!(st.bundle, env.bundle());
    let json = serde_json::to_value(&st).unwrap();
    for key in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(json.get(key).is_some(), "state JSON lacks {key}: {json}");
    }
    assert_eq!(json["status"], "created");
    loaded.force_destroy().unwrap();
    p.wait().unwrap();
    assert!(matches!(
        Container::load(env.root(), &env.id),
        Err(Error::NotExist(_))
    ));
}

fn signal_and_destroy_running() {
    let env = Env::new("signal");
    let config = env.config(&["sleep", "100"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    assert_eq!(c.status(), Status::Running);
    // PID 1 of a pid namespace ignores SIGTERM without a handler: SIGKILL ends it.
    c.signal(libc::SIGKILL, false).unwrap();
    let st = p.wait().unwrap();
    assert_eq!(st.code(), 128 + 9);
    assert_eq!(c.status(), Status::Stopped);
    let e = c.signal(libc::SIGTERM, false).unwrap_err();
    assert_bad_status(&e, Status::Stopped);
    c.destroy().unwrap();
}

fn destroy_running_is_refused() {
    let env = Env::new("busy");
    let config = env.config(&["sleep", "100"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    let c2 = Container::load(env.root(), &env.id).unwrap();
    let e = c2.destroy().unwrap_err();
    assert_bad_status(&e, Status::Running);
    assert_eq!(
        c.status(),
        Status::Running,
        "the refused destroy left it running"
    );
    c.force_destroy().unwrap();
    p.wait().unwrap();
}

fn exec_into_running_container() {
    let env = Env::new("exec");
    let mut config = env.config(&["sleep", "100"]);
    config.hostname = Some("exec-host".into());
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    let mut e = Process::new([
        "sh",
        "-c",
        "hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; pwd",
    ]);
    e.env = vec!["PATH=/bin".into()];
    e.cwd = "/tmp".into();
    let out = output_pipe(&mut e);
    c.exec(&mut e).unwrap();
    e.stdout = Stdio::Inherit;
    let text = read_all(out);
    assert_eq!(e.wait().unwrap().code(), 0);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "exec-host",
        "exec joins the uts namespace: {text}"
    );
    assert_ne!(lines[1], "1", "the exec'd process is not the init");
    assert!(
        lines[2].starts_with("sleep 100"),
        "exec sees the container's pid 1: {text}"
    );
    assert_eq!(lines[3], "/tmp");
    let pids = c.processes().unwrap();
    assert!(pids.contains(&p.pid().unwrap()));
    c.force_destroy().unwrap();
    p.wait().unwrap();
}

/// The namespace link of `pid` for `typ` (as seen from the host).
/// The same kind of [`Process`] (from the config's process section, as `runc exec` builds it)
/// is an init given to `start`/`run` and an additional process given to `exec`: no flag of the
/// caller's switches between the two (the process keeps the container's umask, as runc's exec).
fn the_entry_point_decides_init_or_exec() {
    let env = Env::new("entry");
    let mut config = env.config(&["sleep", "100"]);
    config.process.user.umask = Some(0o077);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    let mut e = Process::from_config(&c.config().process);
    e.args = vec!["sh".into(), "-c".into(), "umask".into()];
    e.user.umask = Some(0o002);
    let out = output_pipe(&mut e);
    c.exec(&mut e).unwrap();
    e.stdout = Stdio::Inherit;
    let text = read_all(out);
    assert_eq!(e.wait().unwrap().code(), 0);
    assert_eq!(text.trim(), "0077", "exec keeps the container's umask");
    // The init is still the only init: `start` refuses a second one.
    let mut again = Process::from_config(&c.config().process);
    assert!(matches!(
        c.start(&mut again).unwrap_err(),
        Error::BadStatus { .. }
    ));
    c.signal(libc::SIGKILL, false).unwrap();
    p.wait().unwrap();
    c.destroy().unwrap();
}

fn ns_link(pid: i32, typ: NamespaceType) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{}", typ.proc_name())).unwrap()
}

fn exec_joins_every_namespace_of_the_init() {
    let env = Env::new("exec-ns");
    let mut config = env.config(&["sleep", "100"]);
    add_ns(&mut config, NamespaceType::Cgroup);
    let types: Vec<NamespaceType> = config.namespaces.iter().map(|n| n.typ).collect();
    assert!(types.len() >= 5, "{types:?}");
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    let init = p.pid().unwrap();
    let mut e = Process::new(["sleep", "100"]);
    e.env = vec!["PATH=/bin:/usr/bin".into()];
    c.exec(&mut e).unwrap();
    let pid = e.pid().unwrap();
    for typ in types {
        let own = ns_link(pid, typ);
        assert_eq!(own, ns_link(init, typ), "exec joined the init's {typ:?}");
        assert_ne!(own, ns_link(std::process::id() as i32, typ), "{typ:?}");
    }
    e.signal(libc::SIGKILL).unwrap();
    e.wait().unwrap();
    c.force_destroy().unwrap();
    p.wait().unwrap();
}

fn exec_after_init_died_is_refused() {
    let env = Env::new("exec-dead");
    let config = env.config(&["sleep", "100"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    p.signal(libc::SIGKILL).unwrap();
    // Dead but not reaped yet (a zombie whose pid nobody can reuse), then reaped.
    let deadline = std::time::Instant::now() + WAIT;
    while c.status() != Status::Stopped && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for reaped in [false, true] {
        if reaped {
            p.wait().unwrap();
        }
        let mut e = Process::new(["true"]);
        match c.exec(&mut e) {
            Err(Error::BadStatus { status, .. }) => {
                assert_eq!(status, Status::Stopped, "reaped: {reaped}")
            }
            other => panic!("exec after the init died (reaped: {reaped}): {other:?}"),
        }
        assert!(e.pid().is_none());
    }
    c.force_destroy().unwrap();
}

fn exec_missing_binary_is_clear_and_harmless() {
    let env = Env::new("exec-missing");
    let config = env.config(&["sleep", "100"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    let mut e = Process::new(["/no/such/program"]);
    let err = c.exec(&mut e).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/no/such/program"), "{msg}");
    assert_eq!(
        c.status(),
        Status::Running,
        "a failed exec must not disturb the container"
    );
    let mut e = Process::new(["true"]);
    e.cwd = "/no/such/dir".into();
    let err = c.exec(&mut e).unwrap_err();
    assert!(err.to_string().contains("/no/such/dir"), "{err}");
    assert_eq!(c.status(), Status::Running);
    c.force_destroy().unwrap();
    p.wait().unwrap();
}

fn missing_binary_is_a_clear_error() {
    let env = Env::new("missing");
    let config = env.config(&["/nosuch"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    let e = c.start(&mut p).unwrap_err();
    match &e {
        Error::Init(f) => {
            assert_eq!(f.step, "exec");
            assert_eq!(f.path.as_deref(), Some("/nosuch"));
        }
        other => panic!("expected an init failure, got {other}"),
    }
    assert_eq!(c.status(), Status::Stopped);
    assert!(
        !env.root().join(&env.id).join("exec.fifo").exists(),
        "fifo removed"
    );
    assert!(!c.cgroup().exists(), "cgroup removed after a failed start");
    c.destroy().unwrap();
    assert!(
        host_mounts_with(env.dir.path()).is_empty(),
        "no mount leaked"
    );
}

fn bad_cwd_is_created_or_reported() {
    // runc creates a missing cwd inside the container.
    let (code, out) = run_with("cwd", &["pwd"], |c| c.process.cwd = "/made/by/init".into());
    assert_eq!((code, out.as_str()), (0, "/made/by/init\n"));
}

fn env_cwd_user_umask() {
    let (code, out) = run_with(
        "attrs",
        &[
            "sh",
            "-c",
            "echo $FOO; echo $HOME; pwd; id -u; id -g; id -G; umask",
        ],
        |c| {
            c.process.env.push("FOO=bar".into());
            c.process.cwd = "/tmp".into();
            c.process.user.uid = 65534;
            c.process.user.gid = 65534;
            c.process.user.additional_gids = vec![5, 7];
            c.process.user.umask = Some(0o027);
        },
    );
    assert_eq!(code, 0);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l,
        [
            "bar",
            "/nonexistent",
            "/tmp",
            "65534",
            "65534",
            "65534 5 7",
            "0027"
        ],
        "{out}"
    );
}

fn rlimits_are_applied() {
    let (code, out) = run_with("rlimit", &["sh", "-c", "ulimit -n; ulimit -Hn"], |c| {
        c.process.rlimits = vec![lashing::config::Rlimit {
            resource: libc::RLIMIT_NOFILE,
            soft: 512,
            hard: 1000,
        }];
    });
    assert_eq!(code, 0);
    assert_eq!(out, "512\n1000\n");
}

fn hostname_and_domainname() {
    let (code, out) = run_with(
        "uts",
        &["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"],
        |c| {
            c.hostname = Some("lashed".into());
            c.domainname = Some("example.org".into());
        },
    );
    assert_eq!(code, 0);
    assert_eq!(out, "lashed\nexample.org\n");
}

fn ns_inode(pid: &str, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

const NS_LIST: &str = "for n in ipc uts net pid mnt cgroup; do readlink /proc/self/ns/$n; done";

fn new_namespaces_differ_from_host() {
    let (code, out) = run_with("ns", &["sh", "-c", NS_LIST], |c| {
        add_ns(c, NamespaceType::Cgroup)
    });
    assert_eq!(code, 0);
    let inside: Vec<&str> = out.lines().collect();
    for (i, n) in ["ipc", "uts", "net", "pid", "mnt", "cgroup"]
        .iter()
        .enumerate()
    {
        assert_ne!(inside[i], ns_inode("self", n), "{n} must be new");
    }
}

fn host_namespaces_when_absent() {
    let (code, out) = run_with("hostns", &["sh", "-c", NS_LIST], |c| {
        for t in [
            NamespaceType::Ipc,
            NamespaceType::Uts,
            NamespaceType::Network,
            NamespaceType::Cgroup,
        ] {
            remove_ns(c, t);
        }
        c.hostname = None;
        c.sysctl.clear();
    });
    assert_eq!(code, 0);
    let inside: Vec<&str> = out.lines().collect();
    for (i, n) in ["ipc", "uts", "net"].iter().enumerate() {
        assert_eq!(inside[i], ns_inode("self", n), "{n} must be the host's");
    }
    assert_ne!(inside[3], ns_inode("self", "pid"));
}

fn join_namespaces_by_path() {
    // A first container provides the namespaces; a second joins its net, uts, ipc and pid.
    let env = Env::new("provider");
    let mut config = env.config(&["sleep", "100"]);
    config.hostname = Some("provider".into());
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    let pid = p.pid().unwrap().to_string();
    let (code, out) = run_with(
        "joiner",
        &[
            "sh",
            "-c",
            "for n in net uts ipc pid; do readlink /proc/self/ns/$n; done; hostname; echo $$",
        ],
        |cfg| {
            cfg.hostname = None;
            for (t, name) in [
                (NamespaceType::Network, "net"),
                (NamespaceType::Uts, "uts"),
                (NamespaceType::Ipc, "ipc"),
                (NamespaceType::Pid, "pid"),
            ] {
                remove_ns(cfg, t);
                cfg.namespaces.push(lashing::config::Namespace {
                    typ: t,
                    path: Some(format!("/proc/{pid}/ns/{name}").into()),
                });
            }
        },
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(code, 0, "{out}");
    assert_eq!(l[0], ns_inode(&pid, "net"));
    assert_eq!(l[1], ns_inode(&pid, "uts"));
    assert_eq!(l[2], ns_inode(&pid, "ipc"));
    assert_eq!(l[3], ns_inode(&pid, "pid"));
    assert_eq!(l[4], "provider");
    assert_ne!(l[5], "1", "joined pid namespace: not its init");
    c.force_destroy().unwrap();
    p.wait().unwrap();
}

fn user_namespace_with_mappings() {
    let (code, out) = run_with(
        "userns",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /proc/1; cat /proc/self/oom_score_adj",
        ],
        |c| {
            add_ns(c, NamespaceType::User);
            c.uid_mappings = vec![lashing::config::IdMap {
                container_id: 0,
                host_id: 100000,
                size: 65536,
            }];
            c.gid_mappings = vec![lashing::config::IdMap {
                container_id: 0,
                host_id: 100000,
                size: 65536,
            }];
            // Written by the runtime: init, non-dumpable in a user namespace, could not.
            c.process.oom_score_adj = Some(300);
        },
    );
    assert_eq!(code, 0, "{out}");
    let l: Vec<String> = out
        .lines()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(l[0], "0 100000 65536");
    assert_eq!(l[1], "0 100000 65536");
    assert_eq!(l[2], "0");
    assert_eq!(l[4], "300", "oom_score_adj with a user namespace: {out}");
}

fn time_namespace_offsets() {
    time_namespace_offsets_with(false);
    // With a user namespace too: init writes the offsets while it is non-dumpable.
    time_namespace_offsets_with(true);
}

fn time_namespace_offsets_with(userns: bool) {
    let (code, out) = run_with("timens", &["cat", "/proc/uptime"], |c| {
        if userns {
            add_ns(c, NamespaceType::User);
            let m = lashing::config::IdMap {
                container_id: 0,
                host_id: 100000,
                size: 65536,
            };
            c.uid_mappings = vec![m];
            c.gid_mappings = vec![m];
        }
        add_ns(c, NamespaceType::Time);
        c.time_offsets.insert("boottime".into(), (86400 * 365, 0));
    });
    assert_eq!(code, 0);
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(up > 86400.0 * 365.0, "boottime offset applied: {out}");
}

fn loopback_is_up() {
    let (code, out) = run_with(
        "lo",
        &[
            "cat",
            "/sys/class/net/lo/operstate",
            "/sys/class/net/lo/flags",
        ],
        |_| {},
    );
    assert_eq!(code, 0);
    let flags = out.lines().nth(1).unwrap();
    let v = u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(v & 1, 1, "IFF_UP set: {out}");
}

fn masked_and_readonly_paths() {
    let (code, out) = run_with(
        "mask",
        &[
            "sh",
            "-c",
            "stat -c '%F %t:%T' /proc/timer_list; cat /proc/keys | wc -c; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo rofile",
        ],
        |_| {},
    );
    assert_eq!(code, 0, "{out}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l[0], "character special file 1:3",
        "/proc/timer_list masked by /dev/null: {out}"
    );
    assert_eq!(l[1].trim(), "0", "/proc/keys reads empty: {out}");
    assert_eq!(
        l[2].trim(),
        "0",
        "/proc/acpi masked by an empty tmpfs: {out}"
    );
    assert!(out.contains("rofile"), "/proc/sys read-only: {out}");
}

fn mounts_tmpfs_and_bind() {
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("f"), "from host\n").unwrap();
    let (code, out) = run_with(
        "mounts",
        &[
            "sh",
            "-c",
            "grep ' /data ' /proc/self/mountinfo | cut -d' ' -f6; cat /data/f; touch /data/g 2>/dev/null || echo rofs; grep ' /scratch ' /proc/self/mountinfo | cut -d' ' -f6; stat -c %a /scratch",
        ],
        |c| {
            let bind = lashing::config::parse_mount_options(&["rbind", "ro", "nosuid"]);
            c.mounts.push(lashing::config::Mount {
                source: host_dir.path().display().to_string(),
                destination: "/data".into(),
                device: "bind".into(),
                flags: bind.flags,
                cleared_flags: bind.cleared_flags,
                propagation_flags: bind.propagation_flags.clone(),
                data: bind.data.clone(),
                rec_attr: bind.rec_attr,
                extensions: bind.extensions,
                id_mapping: None,
            });
            let t = lashing::config::parse_mount_options(&["noexec", "mode=1770", "size=1m"]);
            c.mounts.push(lashing::config::Mount {
                source: "tmpfs".into(),
                destination: "/scratch".into(),
                device: "tmpfs".into(),
                flags: t.flags,
                cleared_flags: t.cleared_flags,
                propagation_flags: vec![],
                data: t.data.clone(),
                rec_attr: None,
                extensions: 0,
                id_mapping: None,
            });
        },
    );
    assert_eq!(code, 0, "{out}");
    let l: Vec<&str> = out.lines().collect();
    assert!(
        l[0].split(',').any(|o| o == "ro") && l[0].contains("nosuid"),
        "{out}"
    );
    assert_eq!(l[1], "from host");
    assert_eq!(l[2], "rofs");
    assert!(l[3].contains("noexec"), "{out}");
    assert_eq!(l[4], "1770");
    assert!(!host_dir.path().join("g").exists());
}

fn readonly_rootfs() {
    let (code, out) = run_with(
        "rofs",
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null || echo ro; touch /tmp/y 2>/dev/null || echo ro2",
        ],
        |c| {
            c.readonly_rootfs = true;
        },
    );
    assert_eq!(code, 0);
    assert_eq!(
        out, "ro\nro2\n",
        "the root and its plain dirs are read-only"
    );
}

fn no_pivot_root() {
    let (code, out) = run_with(
        "nopivot",
        &[
            "sh",
            "-c",
            "ls /bin/busybox && cat /proc/self/mountinfo | wc -l",
        ],
        |c| {
            c.no_pivot_root = true;
        },
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("/bin/busybox\n"));
}

fn preserved_fds() {
    let env = Env::new("fds");
    let config = env.config(&["sh", "-c", "cat <&3; ls /proc/self/fd | wc -l"]);
    let mut p = Process::from_config(&config.process);
    let out = output_pipe(&mut p);
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    rustix::io::write(&w, b"through fd 3\n").unwrap();
    drop(w);
    p.extra_files.push(r);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    p.stdout = Stdio::Inherit;
    p.extra_files.clear();
    let text = read_all(out);
    assert_eq!(p.wait().unwrap().code(), 0);
    let l: Vec<&str> = text.lines().collect();
    assert_eq!(l[0], "through fd 3");
    // 0, 1, 2, 3 and the fd `ls` opens for the directory: nothing leaked from the runtime.
    assert_eq!(l[1].trim(), "5", "{text}");
    c.destroy().unwrap();
}

fn cgroup_is_joined_and_removed() {
    let env = Env::new("cg");
    let mut config = env.config(&["cat", "/proc/self/cgroup"]);
    // Without a cgroup namespace the container sees its full cgroup path.
    remove_ns(&mut config, NamespaceType::Cgroup);
    let mut p = Process::from_config(&config.process);
    let out = output_pipe(&mut p);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    p.stdout = Stdio::Inherit;
    let text = read_all(out);
    p.wait().unwrap();
    let want = env.cgroup_dir();
    assert!(
        text.lines().all(|l| l.ends_with(&want) || l.ends_with('/')),
        "every hierarchy: {text}"
    );
    assert!(text.lines().any(|l| l.ends_with(&want)));
    let cg = Container::load(env.root(), &env.id).unwrap();
    // A systemd scope (and its cgroup) goes when its last process exits, as with runc's driver.
    assert!(cg.cgroup().exists() || lashing_testsupport::systemd::enabled());
    c.destroy().unwrap();
    assert!(!cg.cgroup().exists(), "cgroup removed at destroy");
    // With a cgroup namespace, every hierarchy is rooted at the container's cgroup.
    let (code, out) = run_with("cgns", &["cat", "/proc/self/cgroup"], |c| {
        add_ns(c, NamespaceType::Cgroup)
    });
    assert_eq!(code, 0);
    assert!(out.lines().all(|l| l.ends_with(":/")), "{out}");
}

fn invalid_id_and_duplicates() {
    let env = Env::new("ids");
    for bad in ["", "..", "a/b", "with space"] {
        let e = Container::create(env.root(), bad, env.config(&["true"])).unwrap_err();
        assert!(matches!(e, Error::InvalidId(_)), "{bad:?}: {e}");
    }
    let c = env.create(env.config(&["true"]));
    let e = Container::create(env.root(), &env.id, env.config(&["true"])).unwrap_err();
    assert!(matches!(e, Error::Exists(_)), "{e}");
    c.destroy().unwrap();
    let mut cfg = env.config(&["true"]);
    cfg.namespaces.push(lashing::config::Namespace {
        typ: NamespaceType::Pid,
        path: None,
    });
    let e = Container::create(env.root(), &env.id, cfg).unwrap_err();
    assert!(
        e.to_string().contains("pid"),
        "duplicate namespace named: {e}"
    );
    let mut cfg = env.config(&["true"]);
    if lashing_testsupport::systemd::enabled() {
        // The systemd driver's form is checked before anything exists.
        cfg.cgroup.path = "system.slice:only-two".into();
        let e = Container::create(env.root(), &env.id, cfg).unwrap_err();
        assert!(e.to_string().contains("slice:prefix:name"), "{e}");
    } else {
        // A cgroup path naming the hierarchy root would let `delete` kill the whole host.
        cfg.cgroup.path = "/".into();
        let e = Container::create(env.root(), &env.id, cfg).unwrap_err();
        assert!(e.to_string().contains("cgroup root"), "{e}");
    }
    assert!(!env.root().join(&env.id).exists(), "nothing left behind");
}

fn load_unknown_id() {
    let env = Env::new("unknown");
    assert!(matches!(
        Container::load(env.root(), "nosuch"),
        Err(Error::NotExist(_))
    ));
}

fn multithreaded_host_runs_50_containers() {
    // Busy threads allocate and free in a loop while other threads create and run containers:
    // the child between clone3 and exec must never touch a lock or the allocator.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut noise = Vec::new();
    for _ in 0..4 {
        let stop = stop.clone();
        noise.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let v: Vec<u8> = vec![1; 4096 + (n as usize % 8192)];
                n = n.wrapping_add(v.iter().map(|b| *b as u64).sum::<u64>());
                let s = format!("{n}");
                std::hint::black_box(s);
            }
        }));
    }
    let workers: Vec<_> = (0..10)
        .map(|w| {
            std::thread::spawn(move || {
                for i in 0..5 {
                    let (code, out) =
                        run_with(&format!("mt{w}"), &["echo", &format!("{w}-{i}")], |_| {});
                    assert_eq!((code, out), (0, format!("{w}-{i}\n")));
                }
            })
        })
        .collect();
    let mut failed = 0;
    for w in workers {
        if w.join().is_err() {
            failed += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for n in noise {
        n.join().unwrap();
    }
    assert_eq!(failed, 0, "every worker ran its 5 containers");
    let _ = Duration::from_secs(0);
}

fn allowed_list(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn cpu_affinity_reset_and_exec_affinity() {
    // This test thread runs on one CPU only, as a runtime started under `taskset` would; the
    // container must still get every CPU of its cpuset.
    let all = allowed_list(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
    let mut one = rustix::thread::CpuSet::new();
    one.set(0);
    rustix::thread::sched_setaffinity(None, &one).unwrap();
    let env = Env::new("affinity");
    let mut config = env.config(&["sleep", "100"]);
    config.process.exec_cpu_affinity = Some(lashing::config::CpuAffinity {
        initial: Some("0".into()),
        final_: Some("0".into()),
    });
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    let r = c.run(&mut p);
    let mut full = rustix::thread::CpuSet::new();
    (0..rustix::thread::CpuSet::MAX_CPU).for_each(|i| full.set(i));
    rustix::thread::sched_setaffinity(None, &full).unwrap();
    r.unwrap();
    let init = std::fs::read_to_string(format!("/proc/{}/status", p.pid().unwrap())).unwrap();
    assert_eq!(
        allowed_list(&init),
        all,
        "init's affinity reset to every CPU"
    );
    let mut e = Process::new(["grep", "Cpus_allowed_list", "/proc/self/status"]);
    let out = output_pipe(&mut e);
    c.exec(&mut e).unwrap();
    e.stdout = Stdio::Inherit;
    let text = read_all(out);
    assert_eq!(e.wait().unwrap().code(), 0);
    assert_eq!(
        allowed_list(&text),
        "0",
        "execCPUAffinity.final applies to exec: {text}"
    );
    c.force_destroy().unwrap();
    p.wait().unwrap();
}

fn apparmor_available() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
        && std::path::Path::new("/sys/kernel/security/apparmor").is_dir()
        && ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
}

fn apparmor_profile_is_applied() {
    let name = format!("lashing-test-aa-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");
    std::fs::write(
        &profile,
        format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  capability,\n  network,\n  mount,\n  umount,\n  pivot_root,\n  signal,\n  ptrace,\n  unix,\n  deny /tmp/forbidden w,\n}}\n"
        ),
    )
    .unwrap();
    let load = std::process::Command::new("apparmor_parser")
        .arg("-r")
        .arg(&profile)
        .status()
        .unwrap();
    assert!(
        load.success(),
        "apparmor_parser could not load the test profile"
    );
    struct Unload(std::path::PathBuf);
    impl Drop for Unload {
        fn drop(&mut self) {
            let _ = std::process::Command::new("apparmor_parser")
                .arg("-R")
                .arg(&self.0)
                .status();
        }
    }
    let _unload = Unload(profile.clone());
    let (code, out) = run_with(
        "apparmor",
        &[
            "sh",
            "-c",
            "cat /proc/self/attr/current; echo; touch /tmp/forbidden 2>/dev/null || echo denied; touch /tmp/allowed && echo allowed",
        ],
        |c| c.process.apparmor_profile = Some(name.clone()),
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{name} (enforce)")),
        "the profile is the process's label: {out}"
    );
    assert!(
        out.contains("denied"),
        "the profile's deny rule acts: {out}"
    );
    assert!(out.contains("allowed"), "{out}");
}

fn process_attributes() {
    let (code, out) = run_with(
        "attrs",
        &[
            "sh",
            "-c",
            "uname -m; grep '^policy' /proc/self/sched; cat /proc/self/oom_score_adj; ionice -p $$",
        ],
        |c| {
            c.personality = Some(lashing::config::Personality {
                domain: "LINUX32".into(),
                flags: vec![],
            });
            c.process.scheduler = Some(lashing::config::Scheduler {
                policy: "SCHED_BATCH".into(),
                ..Default::default()
            });
            c.process.oom_score_adj = Some(500);
            c.process.io_priority = Some(lashing::config::IoPriority {
                class: "IOPRIO_CLASS_BE".into(),
                priority: 6,
            });
        },
    );
    assert_eq!(code, 0, "{out}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "i686", "personality LINUX32: {out}");
    assert!(l[1].ends_with(" 3"), "SCHED_BATCH is policy 3: {out}");
    assert_eq!(l[2], "500");
    assert!(l[3].contains("best-effort") && l[3].contains('6'), "{out}");
}

fn sysctls_are_written_and_checked() {
    let (code, out) = run_with(
        "sysctl",
        &[
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/msgmax",
        ],
        |c| {
            c.sysctl.insert("net.ipv4.ip_forward".into(), "1".into());
            c.sysctl.insert("kernel/msgmax".into(), "4096".into());
        },
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "1\n4096\n");
    // runc's rules: kernel.hostname is never allowed; a net.* sysctl needs a private netns.
    let env = Env::new("sysctl-bad");
    let mut c = env.config(&["true"]);
    c.sysctl.insert("kernel.hostname".into(), "x".into());
    let e = Container::create(env.root(), &env.id, c).unwrap_err();
    assert!(e.to_string().contains("kernel.hostname"), "{e}");
    let mut c = env.config(&["true"]);
    remove_ns(&mut c, NamespaceType::Network);
    c.sysctl.insert("net.ipv4.ip_forward".into(), "1".into());
    let e = Container::create(env.root(), &env.id, c).unwrap_err();
    assert!(e.to_string().contains("net.ipv4.ip_forward"), "{e}");
    assert!(!env.root().join(&env.id).exists(), "nothing left behind");
}

fn start_after_an_interrupted_start() {
    // An earlier `start` read the fifo's byte and died before removing the fifo: the next start
    // must say the container runs, not wait forever.
    let env = Env::new("interrupted");
    let config = env.config(&["sleep", "100"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.start(&mut p).unwrap();
    let fifo = env.root().join(&env.id).join("exec.fifo");
    let mut f = std::fs::File::open(&fifo).unwrap();
    let mut b = [0u8; 1];
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    drop(f);
    let deadline = std::time::Instant::now() + WAIT;
    while std::fs::read(format!("/proc/{}/cmdline", p.pid().unwrap())).unwrap_or_default()
        == b"lashing\0init\0"
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let e = c.release().unwrap_err();
    assert_bad_status(&e, Status::Running);
    assert_eq!(c.status(), Status::Running);
    c.force_destroy().unwrap();
    p.wait().unwrap();
}

/// `e` is a refusal because the container is in `want`.
fn assert_bad_status(e: &Error, want: Status) {
    assert!(
        matches!(e, Error::BadStatus { status, .. } if *status == want),
        "expected {want}: {e}"
    );
}

/// Runs `args` with the spec JSON edited by `edit`; (exit code, stdout+stderr), or the error.
fn run_json(
    prefix: &str,
    args: &[&str],
    edit: impl FnOnce(&mut serde_json::Value, &Env),
) -> lashing::Result<(i32, String)> {
    let env = Env::new(prefix);
    let config = env.config_json(args, |spec| edit(spec, &env))?;
    try_run(&env, config)
}

/// Issue 9.13: a tmpfs on a path missing from the image keeps the kernel's root mode (1777:
/// Docker's `--tmpfs /newdir` is writable by a non-root user); on an existing directory it
/// inherits that directory's mode; an explicit `mode=` wins (runc's `createMountpoint`).
fn tmpfs_root_mode_is_the_kernels_or_inherited() {
    let env = Env::new("tmpfs-mode");
    let exist = env.rootfs().join("exist");
    std::fs::create_dir(&exist).unwrap();
    std::fs::set_permissions(&exist, std::os::unix::fs::PermissionsExt::from_mode(0o2750)).unwrap();
    std::fs::create_dir(env.rootfs().join("exist2")).unwrap();
    let config = env
        .config_json(
            &[
                "sh",
                "-c",
                "stat -c '%n %a' /newdir /exist /exist2; touch /newdir/x && echo written",
            ],
            |spec| {
                spec["process"]["user"] = serde_json::json!({"uid": 65534, "gid": 65534});
                let mounts = spec["mounts"].as_array_mut().unwrap();
                for (dest, opts) in [
                    ("/newdir", serde_json::json!(["nosuid", "nodev"])),
                    ("/exist", serde_json::json!([])),
                    ("/exist2", serde_json::json!(["mode=700"])),
                ] {
                    mounts.push(serde_json::json!({
                        "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts
                    }));
                }
            },
        )
        .unwrap();
    let (code, out) = try_run(&env, config).unwrap();
    assert_eq!(
        out, "/newdir 1777\n/exist 2750\n/exist2 700\nwritten\n",
        "exit {code}"
    );
    assert_eq!(code, 0);
}

/// A host directory with a tmpfs mounted on it (unmounted on drop, also when a test fails).
struct HostMount {
    dir: tempfile::TempDir,
}

impl HostMount {
    /// A tmpfs with `busybox` in it, then bind-remounted with `flags` (e.g. `ro,noexec`).
    fn tmpfs(flags: &str) -> HostMount {
        let dir = tempfile::tempdir().unwrap();
        let m = HostMount { dir };
        let p = m.path().display().to_string();
        sh_ok(&format!("mount -t tmpfs -o size=8m tmpfs {p}"));
        std::fs::copy("/bin/busybox", m.path().join("busybox")).unwrap();
        std::fs::create_dir(m.path().join("sub")).unwrap();
        sh_ok(&format!(
            "mount -t tmpfs -o size=1m,strictatime tmpfs {p}/sub"
        ));
        sh_ok(&format!("mount -o remount,bind,{flags} {p}"));
        m
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let p = self.path().display().to_string();
        let _ = std::process::Command::new("umount")
            .args(["-R", "-l", &p])
            .status();
    }
}

fn sh_ok(cmd: &str) {
    let st = std::process::Command::new("sh")
        .args(["-c", cmd])
        .status()
        .unwrap();
    assert!(st.success(), "{cmd}: {st}");
}

/// The per-mount options of the mount at `mp` in mountinfo text.
fn mount_opts_of(mountinfo: &str, mp: &str) -> Vec<String> {
    mountinfo
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f.len() > 5 && f[4] == mp)
        .map(|f| f[5].to_string())
        .collect()
}

/// Issue 9.15: as runc 1.3, a bind mount with any flag set *or cleared* is remounted with exactly
/// the requested flags: the source's `ro`, `noexec`, `nodev`, `nosymfollow` that the config does
/// not ask for are dropped (its atime mode is kept unless one is given); a bind without any flag
/// keeps the source's flags. As root in the initial user namespace nothing is "locked".
fn bind_remount_drops_unrequested_source_flags() {
    let src = HostMount::tmpfs("ro,noexec,nodev,nosymfollow,noatime");
    let script = "grep ' /data ' /proc/self/mountinfo | cut -d' ' -f6; \
                  touch /data/x 2>/dev/null && rm /data/x && echo writable; /data/busybox echo exec";
    /// Options; flags wanted; flags not wanted; writable.
    type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], bool);
    let cases: [Case; 4] = [
        // options; flags wanted; flags not wanted; writable
        (
            &["rbind", "rw"],
            &["rw", "noatime"],
            &["noexec", "nodev", "nosymfollow"],
            true,
        ),
        (
            &["rbind", "exec"],
            &["rw", "noatime"],
            &["ro", "nodev", "nosymfollow"],
            true,
        ),
        (
            &["bind", "nosuid", "strictatime"],
            &["rw", "nosuid"],
            &["noatime", "noexec"],
            true,
        ),
        (
            &["rbind"],
            &["ro", "noexec", "nodev", "nosymfollow", "noatime"],
            &[],
            false,
        ),
    ];
    for (opts, want, not, writable) in cases {
        let (code, out) = run_json("bindflags", &["sh", "-c", script], |spec, _| {
            spec["mounts"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "destination": "/data", "type": "bind",
                    "source": src.path(), "options": opts
                }));
        })
        .unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        let l: Vec<&str> = out.lines().collect();
        let flags: Vec<&str> = l[0].split(',').collect();
        for w in want {
            assert!(flags.contains(w), "{opts:?}: want {w}: {out}");
        }
        for n in not {
            assert!(!flags.contains(n), "{opts:?}: do not want {n}: {out}");
        }
        assert_eq!(l.contains(&"writable"), writable, "{opts:?}: {out}");
        assert_eq!(
            l.contains(&"exec"),
            !flags.contains(&"noexec"),
            "{opts:?}: {out}"
        );
        assert_eq!(code, if writable { 0 } else { 126 }, "{opts:?}: {out}");
        assert!(!src.path().join("x").exists(), "{opts:?}");
    }
}

/// Issue 9.15: every recursive atime option works (`ratime`, `rnostrictatime`, `rnorelatime`
/// failed with EINVAL: the kernel wants the whole MOUNT_ATTR__ATIME field in attr_clr) and
/// gives runc 1.3.6's result on the mount and its submounts.
fn recursive_atime_options_work() {
    // The source is noatime, its submount strictatime.
    let src = HostMount::tmpfs("noatime");
    for (opt, want) in [
        ("ratime", "relatime"),
        ("rnostrictatime", "relatime"),
        ("rnorelatime", "relatime"),
        ("rrelatime", "relatime"),
        ("rnoatime", "noatime"),
        ("rstrictatime", "strictatime"),
        ("rnodiratime", "nodiratime"),
    ] {
        let (code, out) = run_json("ratime", &["cat", "/proc/self/mountinfo"], |spec, _| {
            spec["mounts"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "destination": "/data", "type": "bind",
                    "source": src.path(), "options": ["rbind", opt]
                }));
        })
        .unwrap_or_else(|e| panic!("{opt}: {e}"));
        assert_eq!(code, 0, "{opt}: {out}");
        for mp in ["/data", "/data/sub"] {
            let o = mount_opts_of(&out, mp);
            assert_eq!(o.len(), 1, "{opt} {mp}: {out}");
            let o: Vec<&str> = o[0].split(',').collect();
            match want {
                // strictatime shows as neither relatime nor noatime.
                "strictatime" => {
                    assert!(
                        !o.contains(&"relatime") && !o.contains(&"noatime"),
                        "{opt} {mp}: {o:?}"
                    )
                }
                "nodiratime" => assert!(o.contains(&"nodiratime"), "{opt} {mp}: {o:?}"),
                w => {
                    assert!(o.contains(&w), "{opt} {mp}: {o:?}");
                    assert!(
                        !o.contains(&"noatime") || w == "noatime",
                        "{opt} {mp}: {o:?}"
                    );
                }
            }
        }
    }
}

/// Issue 9.16, each checked against runc 1.3.6: a bind source under the rootfs that an earlier
/// mount of the same config provides; a source through a dangling symlink (a component or the
/// last one) is a clear error that creates nothing; `rootfsPropagation: shared` makes `/`
/// shared.
fn mount_sources_and_root_propagation_as_runc() {
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir(host.path().join("sub")).unwrap();
    std::fs::write(host.path().join("sub/f"), "content\n").unwrap();
    let (code, out) = run_json("order", &["cat", "/b/f"], |spec, env| {
        let m = spec["mounts"].as_array_mut().unwrap();
        m.push(serde_json::json!({"destination": "/a", "type": "bind",
            "source": host.path(), "options": ["rbind"]}));
        m.push(serde_json::json!({"destination": "/b", "type": "bind",
            "source": env.rootfs().join("a/sub"), "options": ["rbind"]}));
    })
    .unwrap();
    assert_eq!((code, out.as_str()), (0, "content\n"));

    let links = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(links.path().join("nothing"), links.path().join("dangling"))
        .unwrap();
    for source in [
        links.path().join("dangling/x"),
        links.path().join("dangling"),
    ] {
        let env = Env::new("dangling");
        let config = env
            .config_json(&["true"], |spec| {
                spec["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "destination": "/d", "type": "bind", "source": source, "options": ["rbind"]
                    }));
            })
            .unwrap();
        let e = try_run(&env, config).unwrap_err().to_string();
        assert!(
            e.contains(&source.display().to_string())
                && e.to_lowercase().contains("no such file or directory"),
            "{e}"
        );
        assert!(
            !links.path().join("nothing").exists(),
            "nothing created on the host"
        );
        assert!(!env.root().join(&env.id).exists(), "nothing left behind");
    }

    let (code, out) = run_json("rootprop", &["cat", "/proc/self/mountinfo"], |spec, _| {
        spec["linux"]["rootfsPropagation"] = "shared".into();
    })
    .unwrap();
    assert_eq!(code, 0, "{out}");
    let root = out
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / mount: {out}"));
    assert!(root.contains(" shared:"), "{root}");
}

/// Issue 9.14: on a v1/hybrid host the container's `/sys/fs/cgroup` shows the v1 hierarchies
/// only, as runc 1.3.6 on this host does (no `unified`).
fn v1_cgroup_mount_has_no_unified_hierarchy() {
    let hybrid = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup/unified ") && l.contains(" - cgroup2 "));
    if !hybrid {
        eprintln!("not a hybrid host: nothing to check");
        return;
    }
    let (code, out) = run_json("cgmount", &["ls", "/sys/fs/cgroup"], |spec, _| {
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
            }));
    })
    .unwrap();
    assert_eq!(code, 0, "{out}");
    let names: Vec<&str> = out.lines().collect();
    assert!(
        names.contains(&"memory") && names.contains(&"pids"),
        "{out}"
    );
    assert!(!names.contains(&"unified"), "{out}");
}

/// Issue 9.15, the other side: in a user namespace the source's flags really are locked: asking
/// to clear one (`rw` on a read-only source) is refused with "cannot clear flags that are
/// locked", and a bind that does not touch them keeps them (runc 1.3.6 does both).
fn locked_bind_flags_only_in_a_user_namespace() {
    let src = HostMount::tmpfs("ro,noexec,nodev");
    for (opts, ok) in [(["rbind", "nosuid"], true), (["rbind", "rw"], false)] {
        let env = Env::new("locked");
        let mut config = env
            .config_json(
                &["sh", "-c", "grep ' /data ' /proc/self/mountinfo"],
                |spec| {
                    spec["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                    "destination": "/data", "type": "bind", "source": src.path(), "options": opts
                }));
                },
            )
            .unwrap();
        add_ns(&mut config, NamespaceType::User);
        let map = lashing::config::IdMap {
            container_id: 0,
            host_id: 100000,
            size: 65536,
        };
        config.uid_mappings = vec![map];
        config.gid_mappings = vec![map];
        // The host-owned rootfs is not writable by the mapped root: the mount point exists.
        std::fs::create_dir(env.rootfs().join("data")).unwrap();
        let r = try_run(&env, config);
        if ok {
            let (code, out) = r.unwrap_or_else(|e| panic!("{opts:?}: {e}"));
            assert_eq!(code, 0, "{out}");
            let flags = out.split(' ').nth(5).unwrap_or_default();
            for f in ["ro", "nosuid", "nodev", "noexec"] {
                assert!(flags.split(',').any(|x| x == f), "{opts:?}: {f}: {out}");
            }
        } else {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("cannot clear flags that are locked"), "{e}");
            assert!(!env.root().join(&env.id).exists(), "nothing left behind");
        }
    }
}

/// `exec` of a process in a paused container is refused; `exec_ignore_paused` (runc's
/// `exec --ignore-paused`) runs it once the container is resumed.
fn exec_into_paused_container() {
    let env = Env::new("exec-paused");
    let config = env.config(&["sleep", "100"]);
    let mut p = Process::from_config(&config.process);
    let mut c = env.create(config);
    c.run(&mut p).unwrap();
    c.pause().unwrap();
    let exec = || {
        let mut e = Process::new(["sh", "-c", "exit 3"]);
        e.env = vec!["PATH=/bin".into()];
        e
    };
    let mut e = exec();
    assert_bad_status(&c.exec(&mut e).unwrap_err(), Status::Paused);
    assert!(e.pid().is_none());
    let (root, id) = (env.root(), env.id.clone());
    let t = std::thread::spawn(move || {
        let mut c = Container::load(root, &id).unwrap();
        let mut e = exec();
        c.exec_ignore_paused(&mut e).unwrap();
        e.wait().unwrap().code()
    });
    // Frozen with the container: it shows up in the cgroup, and nothing finishes until resume.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.processes().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no exec'd process");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!t.is_finished());
    assert_eq!(c.status(), Status::Paused);
    c.resume().unwrap();
    assert_eq!(t.join().unwrap(), 3);
    c.force_destroy().unwrap();
    p.wait().unwrap();
}
