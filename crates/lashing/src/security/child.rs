//! Test helper: runs one test again in a child process (the test binary re-executed with a
//! filter), for tests that change the state of their process (seccomp filters, personality,
//! keyrings, I/O priority) and so must not run inside the shared test process.

use std::process::Command;

/// Set in the child: the test body runs there.
const CHILD_ENV: &str = "LASHING_SECURITY_TEST_CHILD";

/// Whether this process is the child of [`run_in_child`].
pub(crate) fn in_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Re-executes the test binary running only the test `name` (its full path, e.g.
/// `security::seccomp::tests::load_errno`) in a new process group, and asserts that it ran and
/// passed. Returns its stdout.
pub(crate) fn run_in_child(name: &str) -> String {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .process_group(0)
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child test {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}
