//! The helpers against a reference runtime: a default `Bundle` must run under runc (the behaviour
//! lashing copies), testinit's probes must see the container, and the cleanup guard must leave
//! no cgroup behind. Skipped (with a message) when runc is not installed.

use std::path::Path;
use std::process::{Command, Output};

use lashing_testsupport::{Bundle, StateRoot, become_subreaper, hierarchies, require_root};

/// runc, or the runtime named by `$TESTSUPPORT_RUNTIME` (to check another runtime the same way).
fn runc() -> Option<String> {
    if let Ok(rt) = std::env::var("TESTSUPPORT_RUNTIME") {
        return Some(rt);
    }
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .map(str::to_string)
}

fn run(runc: &str, root: &StateRoot, bundle: &Bundle) -> Output {
    Command::new(runc)
        .arg("--root")
        .arg(root.path())
        .args(["run", "-b"])
        .arg(bundle.write())
        .arg(&bundle.id)
        .output()
        .expect("runc runs")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "runc failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn default_bundle_runs_under_runc_and_is_cleaned_up() {
    let Some(runc) = runc() else {
        lashing_testsupport::missing("runc is not installed (Debian package `runc`)");
        return;
    };
    require_root();
    become_subreaper();
    let runc = runc.as_str();
    let root = StateRoot::new();
    let mut b = Bundle::new();
    let cgroup = b.cgroups_path().unwrap().to_string();
    let top = cgroup.split('/').nth(1).unwrap().to_string();

    b.args(&["/init", "echo", "hello"]);
    assert_eq!(stdout(&run(runc, &root, &b)), "hello\n");

    b.args(&["/init", "pid"]);
    assert_eq!(stdout(&run(runc, &root, &b)), "1\n", "a new pid namespace");

    b.args(&["/init", "hostname"]);
    assert_eq!(stdout(&run(runc, &root, &b)), "lashing\n");

    b.args(&["/init", "ls", "/bin"]);
    assert!(stdout(&run(runc, &root, &b)).contains("\nsh\n"));

    // The cgroup path the bundle chose is the container's (v1 pids or the v2 root).
    b.args(&["/init", "cgroup"]);
    let cg = stdout(&run(runc, &root, &b));
    assert!(
        cg.lines().any(|l| l.ends_with(&cgroup)),
        "{cgroup} not in:\n{cg}"
    );

    b.args(&["/init", "exit", "3"]);
    assert_eq!(run(runc, &root, &b).status.code(), Some(3));

    assert!(b.cleanup.leaked_mounts().is_empty());
    // runc removes the leaf; the guard removes the rest of the test tree.
    drop(b);
    for h in hierarchies() {
        assert!(
            !h.join(&top).exists(),
            "{} left behind",
            h.join(&top).display()
        );
    }
}
