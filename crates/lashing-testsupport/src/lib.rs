//! The one test harness of lashing's crates (a dev-dependency only): everything the test
//! binaries share lives here; each keeps only what is specific to it (`lashing/tests/common`:
//! containers through the library; `lashing-cli/tests/support`: the `lashing` binary;
//! `lashing-cgroups/tests/support`: a cgroup `Manager` guard).
//!
//! - [`testinit_path`]: the static `lashing-testinit` helper (built once if missing or stale).
//! - [`rootfs`] / [`TestRootfs`]: a fresh rootfs with `/init` (testinit) and a static busybox;
//!   [`populate_busybox`] (no `/init`), [`install_busybox`] (`/bin` only), [`add_applets`].
//! - [`Bundle`]: a bundle dir with a rootfs and a `runc spec`-like config for tests, with an
//!   absolute cgroup path `/lashing-test-PID-N/ID` and a [`Cleanup`] guard.
//! - [`StateRoot`]: a temp dir for `--root`; [`unique_id`]: container ids.
//! - [`become_subreaper`], [`require_root`]; [`missing`] / [`in_ci`] for tests that need a tool
//!   (podman, containerd, criu, ...): skipped with a message locally, a failure in CI;
//!   [`require_criu`] / [`criu_works`] / [`criu_installed`]: CRIU for the checkpoint tests;
//!   [`counting_loop`] / [`last_count`]: their containers' counter, never read half-written.
//! - [`WAIT`]: the bound of every poll-until-done wait of a test (generous: CI machines are
//!   loaded), [`wait_for`], [`wait_for_file`], [`wait_bounded`], [`wait_exit`], [`read_until`],
//!   [`time_factor`] (a slow guest's `$LASHING_TEST_TIME_FACTOR`);
//!   [`engine_lock`]: one container engine test at a time.
//! - [`cli`]: a runtime binary driven like runc: [`Sandbox`] (bundle, state root, cgroup, all
//!   removed on drop), bounded runs ([`run_in`]), log lines ([`log_msg`]), fd passing.
//! - [`unprivileged`]: rootless tests: the test user ([`unprivileged::test_user`], with
//!   `/etc/subuid`/`/etc/subgid` ranges) and [`unprivileged::UserSandbox`] (the runtime run as
//!   that user with a private `XDG_RUNTIME_DIR`).
//! - [`systemd`]: the suites with the systemd cgroup driver forced on
//!   (`LASHING_TEST_CGROUP_DRIVER=systemd`): units, their cgroups, the check that none is left.
//! - [`containerd`]: a private containerd for the engine tests (the shim's, the CLI's under the
//!   runc v2 shim, CRI's): started, driven with `ctr`, everything it left removed on drop.
//! - [`suite`]: the `harness = false` suites ([`run_suite`]) and their cgroup parent.
//! - Host facts: [`unified`], [`block_device`], [`status_field`] (of `/proc/PID/status`).
//!
//! How a test that cannot run reports: a root-only test calls [`require_root`] (fails without
//! root; `cargo nextest run --profile unprivileged` lists it as skipped) or, in a custom harness,
//! is marked ignored; a test that needs a tool or a kernel feature calls [`missing`] and returns
//! (`skipped: …` locally, a failure in CI). Nothing else may end a test early.
//!
//! ```no_run
//! use lashing_testsupport::{Bundle, StateRoot, become_subreaper, require_root};
//! require_root();
//! become_subreaper();
//! let mut bundle = Bundle::new();
//! bundle.args(&["/init", "echo", "hi"]).set("/linux/resources/pids/limit", 10);
//! let dir = bundle.write();
//! let root = StateRoot::new();
//! // run: lashing --root {root} run -b {dir} {bundle.id}; then, after the container:
//! assert!(bundle.cleanup.leaked_mounts().is_empty());
//! # let _ = (dir, root);
//! ```
#![deny(missing_docs)]

mod bundle;
mod cleanup;
pub mod cli;
pub mod containerd;
mod criu;
mod host;
mod rootfs;
pub mod suite;
mod sys;
pub mod systemd;
mod testinit;
pub mod unprivileged;
mod wait;

use std::path::Path;

use tempfile::TempDir;

pub use bundle::{Bundle, default_config, test_cgroup_path, unique_id};
pub use cleanup::{CGROUP_PREFIX, Cleanup, hierarchies, mounts_under, test_cgroup_top};
pub use cli::{Out, Sandbox, log_msg, require_containers, run_command, run_in};
pub use criu::{counting_loop, criu_installed, criu_works, last_count, require_criu};
pub use host::{block_device, status_field, unified};
pub use rootfs::{
    BUSYBOX_APPLETS, BUSYBOX_ENV, GROUP, PASSWD, TestRootfs, add_applets, busybox_path,
    install_busybox, populate as populate_rootfs, populate_busybox, rootfs,
};
pub use suite::{Test, host_mounts_with, run_suite, suite_cgroup_parent};
pub use testinit::{
    TESTINIT_ENV, build_command as testinit_build_command, has_interp, static_target_dir,
    testinit_path, workspace_root,
};
pub use wait::{WAIT, read_until, time_factor, wait_bounded, wait_exit, wait_for, wait_for_file};

/// A temp dir to pass as a runtime's `--root` (state directory), removed on drop.
#[derive(Debug)]
pub struct StateRoot {
    dir: TempDir,
}

impl StateRoot {
    /// A fresh, empty state root in the temp dir; panics on failure.
    pub fn new() -> StateRoot {
        let dir = tempfile::Builder::new()
            .prefix("lashing-state-")
            .tempdir()
            .expect("cannot create a temp dir for a state root");
        StateRoot { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for StateRoot {
    fn default() -> Self {
        StateRoot::new()
    }
}

/// Make this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), so orphaned descendants (a
/// detached container's init after `create` returned) are re-parented to it and can be reaped;
/// this machine's PID 1 does not reap orphans. Panics on failure.
pub fn become_subreaper() {
    sys::set_child_subreaper().expect("prctl(PR_SET_CHILD_SUBREAPER) failed");
}

/// Whether this is a CI run: `CI` is set to `true` or `1` (`.ci/run` exports `CI=true`, as most
/// CI services do).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A test cannot run here because of `why` (a tool that is not installed, a kernel feature that
/// is missing). In CI ([`in_ci`]) this panics: CI installs every tool the tests use (`.ci/run`),
/// so a missing one is a broken setup that must not look green. Elsewhere it prints
/// `skipped: {why}` on stderr and the caller returns.
pub fn missing(why: &str) {
    assert!(
        !in_ci(),
        "{why}: CI must provide it (.ci/run installs the packages the tests use)"
    );
    eprintln!("skipped: {why}");
}

/// An exclusive lock held by a test while it runs a container engine (dockerd, containerd):
/// one engine at a time on the machine, across test binaries (they share host paths such as
/// `/run/containerd/s`, and each is heavy). Released when the file is dropped.
pub fn engine_lock() -> std::fs::File {
    let path = std::env::temp_dir().join("lashing-test-engines.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the engine lock {}: {e}", path.display()));
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    f
}

/// Panic with a clear message unless this process runs as root (euid 0).
pub fn require_root() {
    let euid = sys::geteuid();
    assert!(
        euid == 0,
        "this test needs root (euid 0, running as {euid}): containers need CAP_SYS_ADMIN and \
         cgroup write access; run the tests as root (CI does), or as another user with \
         `cargo nextest run --profile unprivileged`, which reports the root-only tests as skipped"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_root_is_empty_and_removed() {
        let r = StateRoot::new();
        let p = r.path().to_path_buf();
        assert_eq!(std::fs::read_dir(&p).unwrap().count(), 0);
        drop(r);
        assert!(!p.exists());
    }

    #[test]
    fn subreaper_adopts_orphans() {
        become_subreaper();
        // sh starts a background sleep and exits: the orphan must be re-parented to us.
        let out = std::process::Command::new("sh")
            .args(["-c", "sleep 5 >/dev/null 2>&1 & echo $!"])
            .output()
            .unwrap();
        let pid: i32 = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let ppid: u32 = stat[stat.rfind(')').unwrap() + 4..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let c = Cleanup::new();
        c.pid(pid);
        assert_eq!(ppid, std::process::id(), "the orphan is re-parented to us");
        drop(c);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "killed and reaped"
        );
    }

    #[test]
    fn missing_fails_in_ci_only() {
        // `missing` reads CI; this test process is alone in its own process under nextest, but
        // not under `cargo test`: do not change the variable, test both outcomes through it.
        let r = std::panic::catch_unwind(|| missing("a test tool"));
        assert_eq!(r.is_err(), in_ci());
    }

    #[test]
    fn require_root_matches_euid() {
        let r = std::panic::catch_unwind(require_root);
        assert_eq!(r.is_ok(), sys::geteuid() == 0);
    }
}
