//! Real resource tests: `Manager::set` writes, read back, enforcement and `stats`, on whatever the
//! host has (v1/hybrid here, v2 in the test guest). Cgroups live under
//! `/lashing-test-cgres-<pid>-<name>` and are removed even on failure.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use lashing_cgroups::{Error, Manager, Resources};
use support::{Guard, block_device, missing, unified};

fn res(json: &str) -> Resources {
    serde_json::from_str(json).unwrap()
}

#[test]
fn set_writes_and_reads_back() {
    let g = Guard::created("cgres", "set");
    g.leaf
        .set(&res(r#"{
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 17}
        }"#))
        .unwrap();
    assert_eq!(g.read("pids", "pids.max"), "17");
    assert_eq!(g.read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(g.read("cpuset", "cpuset.mems"), "0");
    if unified() {
        assert_eq!(g.read("memory", "memory.max"), "67108864");
        assert_eq!(g.read("memory", "memory.low"), "33554432");
        // memory+swap 128 MiB with memory 64 MiB: 64 MiB of swap.
        if g.dir("memory").join("memory.swap.max").exists() {
            assert_eq!(g.read("memory", "memory.swap.max"), "67108864");
        }
        assert_eq!(g.read("cpu", "cpu.max"), "50000 100000");
        // runc's formula (runc PR 4785): 512 shares -> ceil(10^((9²+125·9)/612 - 7/34)) = 59.
        assert_eq!(g.read("cpu", "cpu.weight"), "59");
    } else {
        assert_eq!(g.read("memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(g.read("memory", "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(g.read("memory", "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(g.read("cpu", "cpu.shares"), "512");
        assert_eq!(g.read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(g.read("cpu", "cpu.cfs_period_us"), "100000");
    }
    // Raising memory above the old memory+swap needs the swap written first: both orders work.
    g.leaf
        .set(&res(
            r#"{"memory": {"limit": 268435456, "swap": 536870912}}"#,
        ))
        .unwrap();
    g.leaf
        .set(&res(r#"{"memory": {"limit": 16777216, "swap": 33554432}}"#))
        .unwrap();
    if !unified() {
        assert_eq!(g.read("memory", "memory.limit_in_bytes"), "16777216");
        assert_eq!(g.read("memory", "memory.memsw.limit_in_bytes"), "33554432");
    } else {
        assert_eq!(g.read("memory", "memory.max"), "16777216");
    }
    // Unlimited.
    g.leaf
        .set(&res(
            r#"{"memory": {"limit": -1}, "pids": {"limit": 0}, "cpu": {"quota": -1}}"#,
        ))
        .unwrap();
    assert_eq!(g.read("pids", "pids.max"), "max");
    if unified() {
        assert_eq!(g.read("memory", "memory.max"), "max");
        assert_eq!(g.read("cpu", "cpu.max"), "max 100000");
    } else {
        assert_eq!(
            g.read("memory", "memory.limit_in_bytes"),
            "9223372036854771712"
        );
        assert_eq!(g.read("cpu", "cpu.cfs_quota_us"), "-1");
    }
}

#[test]
fn invalid_values_are_rejected() {
    let g = Guard::created("cgres", "invalid");
    let err = g
        .leaf
        .set(&res(r#"{"memory": {"limit": 67108864, "swap": 1048576}}"#))
        .unwrap_err();
    if unified() {
        assert!(matches!(err, Error::InvalidResource { .. }), "{err:?}");
    } else {
        // The kernel refuses memsw below the memory limit.
        assert!(matches!(err, Error::Write { .. }), "{err:?}");
    }
    let err = g.leaf.set(&res(r#"{"memory": {"swappiness": 101}}"#)).err();
    if !unified() {
        assert!(
            matches!(err, Some(Error::InvalidResource { .. })),
            "{err:?}"
        );
    }
    // `unified` is v2 only; on v2 a missing controller file is named.
    let err = g
        .leaf
        .set(&res(r#"{"unified": {"nosuchctl.max": "1"}}"#))
        .unwrap_err();
    assert!(
        matches!(err, Error::Unsupported { .. } | Error::InvalidConfig { .. }),
        "{err:?}"
    );
    let err = g
        .leaf
        .set(&res(r#"{"unified": {"../x": "1"}}"#))
        .unwrap_err();
    if unified() {
        assert!(matches!(err, Error::InvalidFileName { .. }), "{err:?}");
    }
}

/// Pure cgroup v2 only: ignored (reported as skipped) on the hybrid hosts, run in the v2 guest
/// (`scripts/test-guest` runs ignored tests).
#[test]
#[ignore = "needs a pure cgroup v2 host: run by scripts/test-guest"]
fn unified_map_is_written_on_v2() {
    assert!(unified(), "this test needs a pure cgroup v2 host");
    let g = Guard::created("cgres", "unified");
    g.leaf
        .set(&res(
            r#"{"unified": {"pids.max": "23", "memory.high": "100000000"}}"#,
        ))
        .unwrap();
    assert_eq!(g.read("pids", "pids.max"), "23");
    assert_eq!(g.read("memory", "memory.high"), "99999744");
}

#[test]
fn block_io_throttle_is_written() {
    let Some((major, minor, _)) = block_device() else {
        missing("no block device");
        return;
    };
    let g = Guard::created("cgres", "blkio");
    g.leaf
        .set(&res(&format!(
            r#"{{"blockIO": {{"throttleReadBpsDevice": [{{"major": {major}, "minor": {minor}, "rate": 1048576}}],
                "throttleWriteIOPSDevice": [{{"major": {major}, "minor": {minor}, "rate": 77}}]}}}}"#
        )))
        .unwrap();
    if unified() {
        let io_max = g.read("io", "io.max");
        assert!(
            io_max.contains(&format!("{major}:{minor} rbps=1048576")),
            "{io_max}"
        );
        assert!(io_max.contains("wiops=77"), "{io_max}");
    } else {
        assert_eq!(
            g.read("blkio", "blkio.throttle.read_bps_device"),
            format!("{major}:{minor} 1048576")
        );
        assert_eq!(
            g.read("blkio", "blkio.throttle.write_iops_device"),
            format!("{major}:{minor} 77")
        );
    }
}

#[test]
fn pids_limit_is_enforced_and_stats_report_it() {
    let mut g = Guard::created("cgres", "enforce");
    g.leaf
        .set(&res(
            r#"{"pids": {"limit": 2}, "memory": {"limit": 104857600}}"#,
        ))
        .unwrap();
    // A shell that waits for a line before forking three sleeps. Its stderr goes to a file,
    // read while it runs: the refused fork's message is written after the kernel counts the
    // refusal, so the test waits for it before killing the shell.
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read go; for i in 1 2 3; do sleep 5 & done; echo forked; wait")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().unwrap();
    g.children.push(child);
    g.leaf.add_pid(pid, false).unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    // Let the shell try its forks.
    let deadline = std::time::Instant::now() + support::WAIT;
    let events_max = loop {
        let events = g.read("pids", "pids.events");
        let max: u64 = events
            .lines()
            .find_map(|l| l.strip_prefix("max "))
            .unwrap()
            .parse()
            .unwrap();
        if max > 0 || std::time::Instant::now() > deadline {
            break max;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(events_max > 0, "no fork was refused");
    let pids = g.leaf.pids().unwrap();
    assert!(!pids.is_empty() && pids.len() <= 2, "{pids:?}");

    let st = g.leaf.stats().unwrap();
    assert_eq!(st.pids_stats.limit, 2);
    assert!(st.pids_stats.current >= 1 && st.pids_stats.current <= 2);
    assert_eq!(st.memory_stats.usage.limit, 104_857_600);
    assert!(st.memory_stats.usage.usage > 0);
    assert!(!st.memory_stats.stats.is_empty());
    assert!(st.cpu_stats.cpu_usage.total_usage > 0);
    let json = serde_json::to_value(&st).unwrap();
    for key in ["cpu_stats", "memory_stats", "pids_stats", "blkio_stats"] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert!(json["cpu_stats"]["cpu_usage"]["total_usage"].is_u64());
    assert!(json["memory_stats"]["usage"]["max_usage"].is_u64());

    let stderr = || std::fs::read_to_string(err.path()).unwrap().to_lowercase();
    lashing_testsupport::wait_for("the shell's fork error", support::WAIT, || {
        stderr().contains("fork")
    });
    g.leaf.kill_all(libc::SIGKILL).unwrap();
    g.children.pop().unwrap().wait().unwrap();
    assert!(stderr().contains("fork"), "stderr: {}", stderr());
}

/// Runs a shell in `m` that writes to /dev/null and reads /dev/zero; returns its stdout.
fn probe_devices(m: &Manager) -> String {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read go; echo hi > /dev/null && echo null-ok; head -c 1 /dev/zero >/dev/null || echo zero-denied")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Err(e) = m.add_pid(child.id() as i32, false) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("add_pid: {e}");
    }
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const ONLY_NULL: &str = r#"{"devices": [
    {"allow": false, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
]}"#;

#[test]
fn device_rules_are_enforced() {
    let g = Guard::created("cgres", "devices");
    let rules: Resources = res(ONLY_NULL);
    g.leaf.set_devices(&rules.devices).unwrap();
    if unified() {
        assert_eq!(g.leaf.device_programs().unwrap().len(), 1);
    } else {
        assert_eq!(g.read("devices", "devices.list"), "c 1:3 rwm");
    }
    assert_eq!(probe_devices(&g.leaf), "null-ok\nzero-denied\n");
    // Setting the same rules again changes nothing and keeps one program.
    g.leaf.set_devices(&rules.devices).unwrap();
    if unified() {
        assert_eq!(g.leaf.device_programs().unwrap().len(), 1);
    }
    // Allow-all: still a filter on v2 (never a no-op), and /dev/zero opens again.
    let all = res(r#"{"devices": [{"allow": true, "access": "rwm"}]}"#);
    g.leaf.set_devices(&all.devices).unwrap();
    if unified() {
        assert_eq!(g.leaf.device_programs().unwrap().len(), 1);
    } else {
        assert_eq!(g.read("devices", "devices.list"), "a *:* rwm");
    }
    assert_eq!(probe_devices(&g.leaf), "null-ok\n");
    // A hole in a wildcard exception is refused, naming the rule.
    let hole = res(r#"{"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "access": "rw"},
        {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "r"}
    ]}"#);
    let err = g.leaf.set_devices(&hole.devices).unwrap_err().to_string();
    assert!(err.contains("c 1:5 r"), "{err}");
}

/// The eBPF filter on a cgroup2 directory, also on a hybrid host (its `unified` hierarchy).
#[test]
fn ebpf_device_filter_on_cgroup2() {
    let Some(top) = Manager::new("/lashing-test-cgres-bpf", "x")
        .unwrap()
        .path("")
        .map(|p| p.parent().unwrap().to_owned())
    else {
        missing("no cgroup2 hierarchy");
        return;
    };
    let base = top.join(format!("lashing-test-cgres-{}-bpf", std::process::id()));
    let m = Manager::from_paths([(String::new(), base.join("x"))].into());
    struct Clean(Manager);
    impl Drop for Clean {
        fn drop(&mut self) {
            let _ = self.0.destroy();
            if let Some(p) = self.0.path("").and_then(|p| p.parent()) {
                let _ = std::fs::remove_dir(p);
            }
        }
    }
    let m = Clean(m);
    m.0.create().unwrap();
    m.0.set_devices(&res(ONLY_NULL).devices).unwrap();
    assert_eq!(m.0.device_programs().unwrap().len(), 1);
    assert_eq!(probe_devices(&m.0), "null-ok\nzero-denied\n");
}

#[test]
fn missing_resources_are_named() {
    let g = Guard::created("cgres", "badinput");
    let err = g
        .leaf
        .set(&res(
            r#"{"hugepageLimits": [{"pageSize": "3MB", "limit": 1048576}]}"#,
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hugetlb") && err.contains("hugetlb.3MB."),
        "{err}"
    );
    let err = g
        .leaf
        .set(&res(r#"{"rdma": {"lashing_nodev0": {"hcaHandles": 1}}}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rdma"), "{err}");
    if !unified() {
        let err = g
            .leaf
            .set(&res(r#"{"unified": {"memory.high": "max"}}"#))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err, "invalid configuration: cannot use unified on cgroup v1",
            "runc's wording"
        );
    } else {
        let err = g
            .leaf
            .set(&res(r#"{"unified": {"lashingnope.max": "1"}}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lashingnope"), "{err}");
    }
    // Out of range.
    if !unified() {
        let e = g
            .leaf
            .set(&res(r#"{"memory": {"swappiness": 101}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("swappiness"), "{e}");
    }
    let e = g
        .leaf
        .set(&res(r#"{"cpu": {"cpus": "4096"}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cpuset.cpus"), "{e}");
}

#[test]
fn oom_is_notified() {
    let mut g = Guard::created("cgres", "oom");
    g.leaf
        .set(&res(r#"{"memory": {"limit": 33554432, "swap": 33554432}}"#))
        .unwrap();
    let before = g.leaf.oom_kill_count().unwrap();
    // A hog allocating 64 MiB in a shell variable, in a subshell that makes itself the OOM
    // killer's first choice (it weighs memory: under load the shell could be picked first).
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            "read go; (echo 1000 >/proc/self/oom_score_adj; x=$(head -c 67108864 /dev/zero | tr '\\0' a)); \
             echo survived; sleep 30",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    g.leaf.add_pid(child.id() as i32, false).unwrap();
    g.children.push(child);
    // Registered while the cgroup is populated: no event yet (an empty v2 cgroup is `Gone`).
    let mut n = g.leaf.notify_oom().unwrap();
    assert!(
        n.wait(Some(std::time::Duration::from_millis(50)))
            .unwrap()
            .is_none()
    );
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let ev = n.wait(Some(support::WAIT)).unwrap();
    assert!(
        matches!(ev, Some(lashing_cgroups::OomEvent::Oom { count }) if count >= 1),
        "{ev:?}"
    );
    // The v1 event can fire before the kill is counted in memory.oom_control: give it a moment.
    let deadline = std::time::Instant::now() + support::WAIT;
    while g.leaf.oom_kill_count().unwrap() <= before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(g.leaf.oom_kill_count().unwrap() > before);
    // The subshell was killed, the shell went on.
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "survived\n");
    g.leaf.kill_all(libc::SIGKILL).unwrap();
}

/// Issue 9.11: a v1 resource whose controller the host does not have is refused before anything
/// is written (runc: `cannot set net_cls limit: container could not join or create cgroup`);
/// values of zero are "not set" and need no controller.
#[test]
fn missing_v1_controller_is_refused_before_any_write() {
    if unified() {
        missing("v1 controllers only: a unified host");
        return;
    }
    let g = Guard::created("cgres", "missing");
    let have = |c: &str| g.leaf.paths().keys().any(|k| k.split(',').any(|x| x == c));
    for (ctl, json) in [
        ("net_cls", r#""network": {"classID": 1048577}"#),
        (
            "net_prio",
            r#""network": {"priorities": [{"name": "lo", "priority": 1}]}"#,
        ),
        ("rdma", r#""rdma": {"mlx5_1": {"hcaHandles": 3}}"#),
    ] {
        if have(ctl) {
            continue;
        }
        let err = g
            .leaf
            .set(&res(&format!(r#"{{"pids": {{"limit": 23}}, {json}}}"#)))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "cannot set {ctl} limit: container could not join or create cgroup"
            )),
            "{err}"
        );
        assert_eq!(g.read("pids", "pids.max"), "max", "{ctl}: nothing written");
    }
    // classID 0 is "not set" (runc): no controller needed.
    g.leaf
        .set(&res(r#"{"network": {"classID": 0}, "pids": {"limit": 9}}"#))
        .unwrap();
    assert_eq!(g.read("pids", "pids.max"), "9");
}

/// A timeout too long for an `Instant` (e.g. `Duration::MAX`) means no deadline instead of an
/// overflow: the notifier of a removed cgroup reports `Gone` at once.
#[test]
fn oom_wait_with_a_huge_timeout() {
    let g = Guard::created("cgres", "oomwait");
    let mut n = g.leaf.notify_oom().unwrap();
    g.leaf.destroy().unwrap();
    let ev = n.wait(Some(std::time::Duration::MAX)).unwrap();
    assert!(
        matches!(ev, Some(lashing_cgroups::OomEvent::Gone)),
        "{ev:?}"
    );
}
