//! A private containerd whose PATH finds `containerd-shim-lashing-v2`, for the shim's suites
//! (on `lashing_testsupport::containerd`, which says what is isolated and what is cleaned up).
//!
//! Its tasks live in a containerd namespace of their own (`lashing-test-<pid>-<name>`), so the
//! shim's state root is `/run/containerd/lashing/<that namespace>`, and every container gets the
//! cgroups path `/lashing-test-shim-<pid>-<name>/<id>` (`ctr run --cgroup`). The containers the
//! shims did not delete are destroyed through the library at the end.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shim under test.
pub const SHIM: &str = env!("CARGO_BIN_EXE_containerd-shim-lashing-v2");
/// Its runtime name.
pub const RUNTIME: &str = "io.containerd.lashing.v2";

/// A private containerd for the shim, stopped and cleaned up on drop.
pub struct Containerd(lashing_testsupport::containerd::Containerd);

impl std::ops::Deref for Containerd {
    type Target = lashing_testsupport::containerd::Containerd;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Containerd {
    /// Whether containerd and ctr are installed.
    pub fn installed() -> bool {
        lashing_testsupport::containerd::available()
    }

    /// Starts one (containerd and ctr must be installed: [`Containerd::installed`]).
    pub fn start(name: &str) -> Containerd {
        let me = std::process::id();
        let namespace = format!("lashing-test-{me}-{name}");
        let dir = tempfile::Builder::new()
            .prefix("lashing-shim-")
            .tempdir()
            .unwrap();
        let opts = lashing_testsupport::containerd::Options {
            dir,
            cgroup_parent: format!("/lashing-test-shim-{me}-{name}"),
            state_root: Path::new("/run/containerd/lashing").join(&namespace),
            namespace: Some(namespace),
            cri: None,
            // containerd finds the shim of `io.containerd.lashing.v2` on its PATH; and by the
            // runc v2 shim's name: ctr sends its `--runc-*` options (runc's runtime options) to
            // `io.containerd.runc.v2` only.
            path: vec![
                ("containerd-shim-lashing-v2".into(), PathBuf::from(SHIM)),
                ("containerd-shim-runc-v2".into(), PathBuf::from(SHIM)),
            ],
            host_dirs: [
                "/run/containerd/s",
                "/run/containerd/fifo",
                "/run/containerd/lashing",
                "/run/containerd",
            ]
            .map(PathBuf::from)
            .to_vec(),
            run_flags: vec!["--runtime".into(), RUNTIME.into()],
            systemd: false,
            units: Vec::new(),
        };
        Containerd(lashing_testsupport::containerd::Containerd::start(opts))
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.0.stop();
        // Containers the shims did not delete.
        for id in self.0.left() {
            if let Ok(c) = lashing::Container::load(&self.0.state_root, &id) {
                let _ = c.force_destroy();
            }
            let _ = lashing::remove_remains(&self.0.state_root, &id, true);
        }
    }
}

/// A one-layer busybox OCI image tarball named `lashing-test/busybox:1`, built locally (no
/// registry), for `ctr image import`.
pub fn busybox_image(c: &Containerd) -> PathBuf {
    lashing_testsupport::containerd::busybox_image(
        c.dir.path(),
        "lashing-test/busybox:1",
        lashing_testsupport::containerd::test_image_config(),
    )
}
