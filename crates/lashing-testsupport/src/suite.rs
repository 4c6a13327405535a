//! The harness of the `harness = false` end-to-end suites (`lashing/tests/{lifecycle,security}.rs`,
//! whose binary is also their containers' init): libtest-mimic trials ignored when not root, and
//! the suite's cgroup parent, checked for leaks and removed at the end.

use std::path::{Path, PathBuf};

/// A named test of a `harness = false` suite.
pub type Test = (&'static str, fn());

/// The cgroup parent of this test process's containers, `/lashing-test-<pid>` (under every
/// hierarchy): a test puts its container at `<parent>/<id>`.
pub fn suite_cgroup_parent() -> String {
    format!("/{}{}", crate::CGROUP_PREFIX, std::process::id())
}

/// Runs a suite with libtest-mimic (so nextest and `cargo test` filters work): each test is
/// ignored unless running as root (reported as such, never passed); `extra` trials are added as
/// they are. Afterwards this process's test cgroups (and, with the systemd driver forced on, its
/// units) are removed, and the run fails if a test left one behind.
pub fn run_suite(suite: &str, tests: &[Test], extra: Vec<libtest_mimic::Trial>) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    let root = crate::sys::geteuid() == 0;
    let mut trials: Vec<libtest_mimic::Trial> = tests
        .iter()
        .map(|&(name, f)| {
            libtest_mimic::Trial::test(format!("{suite}::{name}"), move || {
                f();
                Ok::<(), libtest_mimic::Failed>(())
            })
            .with_ignored_flag(!root)
        })
        .collect();
    trials.extend(extra);
    let listing = args.list;
    let conclusion = libtest_mimic::run(&args, trials);
    let leaked = remove_suite_cgroups();
    if !leaked.is_empty() {
        eprintln!("cgroups left behind by the tests: {leaked:?}");
        std::process::exit(101);
    }
    // With the systemd driver forced on, the units of this process's containers (ids end in
    // `-<pid>-<n>`); under nextest each test is its own process, so this runs after every test.
    if !listing && crate::systemd::enabled() {
        let pattern = crate::systemd::unit(&format!("*-{}-*", std::process::id()));
        let left = crate::systemd::sweep(&[pattern]);
        if !left.is_empty() {
            eprintln!("systemd units left behind by the tests: {left:?}");
            std::process::exit(101);
        }
    }
    conclusion.exit()
}

/// Removes this process's cgroup parent ([`suite_cgroup_parent`]) in every hierarchy, with any
/// process still in it. Returns the container cgroups that were still there (a leak: every test
/// removes its own) and what could not be removed.
pub fn remove_suite_cgroups() -> Vec<PathBuf> {
    let parent = suite_cgroup_parent();
    let mut leaked = Vec::new();
    for h in crate::hierarchies() {
        let d = h.join(parent.trim_start_matches('/'));
        let Ok(children) = std::fs::read_dir(&d) else {
            continue;
        };
        leaked.extend(
            children
                .flatten()
                .filter(|c| c.file_type().is_ok_and(|t| t.is_dir()))
                .map(|c| c.path()),
        );
    }
    if let Err(e) = crate::cleanup::remove_cgroup_tree(&parent) {
        leaked.push(PathBuf::from(e.to_string()));
    }
    leaked
}

/// The lines of this process's mountinfo that mention `needle` (mounts leaked onto the host).
pub fn host_mounts_with(needle: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").expect("/proc/self/mountinfo");
    let n = needle.to_string_lossy();
    text.lines()
        .filter(|l| l.contains(n.as_ref()))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_parent_is_a_test_cgroup() {
        let p = suite_cgroup_parent();
        assert_eq!(crate::test_cgroup_top(&p).as_deref(), Some(p.as_str()));
        assert!(
            crate::test_cgroup_top(&format!("{p}/some-id")).is_some(),
            "a container below it is cleaned up with it"
        );
    }

    #[test]
    fn no_leak_without_containers() {
        assert!(remove_suite_cgroups().is_empty());
        assert!(host_mounts_with(Path::new("/nonexistent/x")).is_empty());
        assert!(!host_mounts_with(Path::new("/proc")).is_empty());
    }
}
