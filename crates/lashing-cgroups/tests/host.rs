//! Real cgroup tests on the host (hybrid v1 here, pure v2 in the test guest). They create cgroups
//! only under `/lashing-test-cg-<pid>-<name>` and remove them, even on failure.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use lashing_cgroups::{CgroupMode, Error, FreezerReader, FreezerState, Manager};
use support::Guard;

fn wait_empty(m: &Manager) {
    let deadline = Instant::now() + support::WAIT;
    while !m.is_empty().unwrap() {
        assert!(Instant::now() < deadline, "cgroup never emptied");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn mode_matches_mounts() {
    let mode = lashing_cgroups::detect();
    let m = Manager::new("/lashing-test-cg-mode/x", "x").unwrap();
    match mode {
        CgroupMode::Unified => assert_eq!(m.paths().keys().collect::<Vec<_>>(), [""]),
        CgroupMode::Hybrid => {
            assert!(m.paths().contains_key(""));
            assert!(m.paths().len() > 1);
            assert_eq!(
                m.path("").unwrap(),
                std::path::Path::new("/sys/fs/cgroup/unified/lashing-test-cg-mode/x")
            );
        }
        CgroupMode::V1 => assert!(!m.paths().contains_key("")),
    }
    for p in m.paths().values() {
        assert!(p.ends_with("lashing-test-cg-mode/x"), "{p:?}");
    }
}

#[test]
fn lifecycle_add_list_freeze_kill_destroy() {
    let mut g = Guard::new("cg", "life");
    assert!(!g.leaf.exists());
    g.leaf.create().unwrap();
    assert!(g.leaf.exists());
    for p in g.leaf.paths().values() {
        assert!(p.is_dir(), "{p:?} not created");
    }
    assert!(g.leaf.is_empty().unwrap());
    let pid = g.spawn_sleep();
    g.leaf.add_pid(pid, false).unwrap();
    for p in g.leaf.paths().values() {
        let procs = std::fs::read_to_string(p.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{pid} not in {p:?}"
        );
    }
    assert_eq!(g.leaf.pids().unwrap(), vec![pid]);
    // The parent lists it too (recursive walk).
    assert_eq!(g.parent.pids().unwrap(), vec![pid]);

    // A second create of a populated cgroup is refused.
    assert!(matches!(
        Manager::from_paths(g.leaf.paths().clone()).create(),
        Err(Error::NotEmpty { count: 1, .. })
    ));

    assert_eq!(g.leaf.freezer_state().unwrap(), FreezerState::Thawed);
    g.leaf.freeze(true).unwrap();
    assert_eq!(g.leaf.freezer_state().unwrap(), FreezerState::Frozen);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(stat.contains(") S ") || stat.contains(") D "), "{stat}");
    g.leaf.freeze(false).unwrap();
    assert_eq!(g.leaf.freezer_state().unwrap(), FreezerState::Thawed);

    g.leaf.kill_all(libc::SIGKILL).unwrap();
    let status = g.children[0].wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    wait_empty(&g.leaf);
    g.leaf.destroy().unwrap();
    assert!(!g.leaf.exists());
    for p in g.leaf.paths().values() {
        assert!(!p.exists(), "{p:?} left behind");
    }
    assert_eq!(g.leaf.freezer_state().unwrap(), FreezerState::Undefined);
    // Destroying twice is fine.
    g.leaf.destroy().unwrap();
    g.parent.destroy().unwrap();
    for p in g.parent.paths().values() {
        assert!(!p.exists(), "{p:?} left behind");
    }
}

#[test]
fn kill_all_other_signal_freezes_and_thaws() {
    let mut g = Guard::new("cg", "term");
    g.leaf.create().unwrap();
    let a = g.spawn_sleep();
    let b = g.spawn_sleep();
    g.leaf.add_pid(a, false).unwrap();
    g.leaf.add_pid(b, false).unwrap();
    let mut pids = g.leaf.pids().unwrap();
    pids.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(pids, want);
    g.leaf.kill_all(libc::SIGTERM).unwrap();
    for c in &mut g.children {
        assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGTERM));
    }
    assert_eq!(g.leaf.freezer_state().unwrap(), FreezerState::Thawed);
    wait_empty(&g.leaf);
}

#[test]
fn sub_cgroups_are_listed_and_removed() {
    let mut g = Guard::new("cg", "sub");
    g.leaf.create().unwrap();
    let sub_paths = g
        .leaf
        .paths()
        .iter()
        .map(|(k, p)| (k.clone(), p.join("sub")))
        .collect();
    let sub = Manager::from_paths(sub_paths);
    sub.create().unwrap();
    let pid = g.spawn_sleep();
    sub.add_pid(pid, false).unwrap();
    assert_eq!(g.leaf.pids().unwrap(), vec![pid]);
    g.leaf.kill_all(libc::SIGKILL).unwrap();
    g.children[0].wait().unwrap();
    wait_empty(&g.leaf);
    g.leaf.destroy().unwrap();
    for p in sub.paths().values().chain(g.leaf.paths().values()) {
        assert!(!p.exists(), "{p:?} left behind");
    }
}

#[test]
fn frozen_cgroup_is_refused_and_serde_roundtrips() {
    let g = Guard::new("cg", "frozen");
    g.leaf.create().unwrap();
    g.leaf.freeze(true).unwrap();
    let json = serde_json::to_string(&g.leaf).unwrap();
    let back: Manager = serde_json::from_str(&json).unwrap();
    assert_eq!(back, g.leaf);
    assert!(matches!(back.create(), Err(Error::Frozen { .. })));
    back.freeze(false).unwrap();
    back.create().unwrap();
}

#[test]
fn clone_into_fd_is_a_cgroup2_directory() {
    let g = Guard::new("cg", "fd");
    g.leaf.create().unwrap();
    let fd = g.leaf.clone_into_fd().unwrap();
    if lashing_cgroups::detect() == CgroupMode::V1 {
        assert!(fd.is_none());
        return;
    }
    let fd = fd.expect("a v2 fd");
    let st = rustix::fs::fstatfs(&fd).unwrap();
    assert_eq!(
        st.f_type as u64,
        lashing_cgroups::hierarchy::CGROUP2_SUPER_MAGIC
    );
    assert!(rustix::fs::fstat(&fd).unwrap().st_mode & libc::S_IFMT == libc::S_IFDIR);
}

#[test]
fn relative_path_is_under_own_cgroup() {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let m = Manager::new("rel/x", "id").unwrap();
    let e = Manager::new("", "ctr").unwrap();
    for (k, p) in m.paths() {
        assert!(p.ends_with("rel/x"), "{p:?}");
        assert!(e.paths()[k].ends_with("ctr"));
    }
    assert!(!own.is_empty());
    // A pure v2 host: under the parent of the caller's cgroup (runc's fs2 rule).
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let own_v2 = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
        let parent = std::path::Path::new(own_v2)
            .parent()
            .unwrap_or(std::path::Path::new("/"));
        let want = std::path::Path::new("/sys/fs/cgroup")
            .join(parent.strip_prefix("/").unwrap())
            .join("rel/x");
        assert_eq!(m.paths()[""], want, "own cgroup {own_v2}");
    }
    assert!(matches!(
        Manager::new("../../etc", "id"),
        Err(Error::InvalidPath { .. })
    ));
}

/// `FreezerReader` (what `list` uses: each parent opened once, its children read relative to it)
/// answers what each cgroup's own `Manager::freezer_state` answers: thawed, frozen, a missing
/// cgroup undefined, at the first sight of a parent (read by the whole path) and after it (read
/// through the opened parent), and the current state each time (nothing of a state is kept).
#[test]
fn freezer_reader_reads_as_the_manager() {
    let mut g = Guard::new("cg", "reader");
    let name = |n: &str| {
        let top = format!("/lashing-test-cg-{}-reader", std::process::id());
        Manager::new(&format!("{top}/{n}"), n).unwrap()
    };
    let (a, b, c) = (name("a"), name("b"), name("c"));
    a.create().unwrap();
    b.create().unwrap();
    let pid = g.spawn_sleep();
    b.add_pid(pid, false).unwrap();
    b.freeze(true).unwrap();
    // Thawed before the guard kills the sleeper, even when an assertion fails.
    struct Thaw<'a>(&'a Manager);
    impl Drop for Thaw<'_> {
        fn drop(&mut self) {
            let _ = self.0.freeze(false);
        }
    }
    let thaw = Thaw(&b);
    let paths = |m: &Manager| -> Vec<(String, String)> {
        (m.paths().iter())
            .map(|(k, p)| (k.clone(), p.to_str().unwrap().to_owned()))
            .collect()
    };
    let mut reader = FreezerReader::new();
    let want = [
        FreezerState::Thawed,
        FreezerState::Frozen,
        FreezerState::Undefined,
    ];
    for round in 0..3 {
        for (m, want) in [&a, &b, &c].into_iter().zip(want) {
            assert_eq!(m.freezer_state().unwrap(), want, "round {round}");
            assert_eq!(reader.state(&paths(m)).unwrap(), want, "round {round}");
        }
    }
    b.freeze(false).unwrap();
    assert_eq!(reader.state(&paths(&b)).unwrap(), FreezerState::Thawed);
    drop(thaw);
    g.children[0].kill().unwrap();
    g.children[0].wait().unwrap();
    wait_empty(&b);
    // A path in no hierarchy is an error, as the manager's.
    let outside = [(String::from("freezer"), String::from("/tmp/x/y"))];
    assert!(reader.state(&outside).is_err());
    let m = Manager::from_paths(outside.iter().map(|(k, p)| (k.clone(), p.into())).collect());
    assert!(m.freezer_state().is_err());
    b.destroy().unwrap();
    a.destroy().unwrap();
}
