//! A private containerd for the engine tests (`containerd.rs`, `containerd_checkpoint.rs`) on
//! `lashing_testsupport::containerd` (which says what is isolated and what is cleaned up): its
//! tasks run through containerd's runc v2 shim with lashing as the runtime binary
//! (`--runc-binary`) and a private runtime root, `runc` on containerd's PATH a symlink to lashing
//! too (ctr drops `--runc-binary` with `--uidmap`), and the containers the shims did not delete
//! are removed with `lashing delete --force` at the end.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub use lashing_testsupport::containerd::Out;

/// The `lashing` binary under test: this package's build, or the one `LASHING_TEST_BIN` named when
/// the tests were compiled (CI runs them once more against the installed build, `scripts/build-release`).
pub const BIN: &str = match option_env!("LASHING_TEST_BIN") {
    Some(bin) => bin,
    None => env!("CARGO_BIN_EXE_lashing"),
};

/// The shim's state root when the task options name no runtime root (ctr's `--uidmap`).
pub const DEFAULT_RUNC_ROOT: &str = "/run/containerd/runc/default";

/// A private containerd whose runc v2 shim runs lashing, stopped and cleaned up on drop.
pub struct Containerd(lashing_testsupport::containerd::Containerd);

impl std::ops::Deref for Containerd {
    type Target = lashing_testsupport::containerd::Containerd;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Containerd {
    /// A private containerd for test `name`, or `None` once `missing` said why there is none;
    /// `systemd`: its shim runs lashing with the systemd driver (ctr's `--runc-systemd-cgroup`,
    /// the runc v2 shim's `SystemdCgroup = true`): cgroups paths are
    /// `system.slice:lashing-test:<name>`.
    pub fn start(name: &str, systemd: bool) -> Option<Containerd> {
        if !lashing_testsupport::containerd::available() {
            lashing_testsupport::missing(lashing_testsupport::containerd::MISSING);
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("lashing-ctr-")
            .tempdir()
            .unwrap();
        let runc_root = dir.path().join("runc-root");
        let pid = std::process::id();
        let units = if systemd {
            vec![lashing_testsupport::systemd::unit(&format!("ctr-{pid}-*"))]
        } else {
            Vec::new()
        };
        let opts = lashing_testsupport::containerd::Options {
            cgroup_parent: format!("/lashing-test-ctr-{pid}-{name}"),
            namespace: None,
            cri: None,
            path: vec![("runc".into(), PathBuf::from(BIN))],
            host_dirs: [
                "/run/containerd/s",
                "/run/containerd/fifo",
                DEFAULT_RUNC_ROOT,
                "/run/containerd/runc",
                "/run/containerd",
            ]
            .map(PathBuf::from)
            .to_vec(),
            state_root: runc_root.join("default"),
            run_flags: vec![
                "--runc-binary".into(),
                BIN.into(),
                "--runc-root".into(),
                runc_root.to_str().unwrap().into(),
            ],
            systemd,
            units,
            dir,
        };
        Some(Containerd(
            lashing_testsupport::containerd::Containerd::start(opts),
        ))
    }

    /// The same harness with `limit` for every wait and `ctr` run (longer for CRIU under
    /// emulation).
    pub fn limit(mut self, limit: Duration) -> Containerd {
        self.0.set_limit(limit);
        self
    }

    /// The runtime root the shim gives lashing (`--runc-root`): the state of ctr's `default`
    /// namespace is in its `default` directory.
    pub fn runc_root(&self) -> PathBuf {
        self.dir.path().join("runc-root")
    }

    /// `lashing --root <runc-root>/default ARGS` (what the shim runs).
    pub fn lashing(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(BIN);
        cmd.arg("--root")
            .arg(self.runc_root().join("default"))
            .args(args);
        self.collect(&mut cmd, &format!("lashing {args:?}"))
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.0.stop();
        // Containers the shims did not delete.
        for id in self.0.left() {
            let _ = self.lashing(&["delete", "--force", &id]);
        }
    }
}

/// The memory-controller line of `/proc/<pid>/cgroup`.
pub fn memory_cgroup(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
            ctl.split(',')
                .any(|c| c == "memory")
                .then(|| path.to_string())
        })
        .unwrap_or_default()
}

/// A one-layer busybox OCI image tarball named `reference`, built locally (no registry), for
/// `ctr image import`.
pub fn busybox_image(c: &Containerd, reference: &str) -> PathBuf {
    lashing_testsupport::containerd::busybox_image(
        c.dir.path(),
        reference,
        lashing_testsupport::containerd::test_image_config(),
    )
}
