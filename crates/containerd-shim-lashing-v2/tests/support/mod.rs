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

/// Starts the shim for container `id` of `bundle` as containerd does (`containerd-shim-lashing-v2
/// -namespace NS -address SOCK -publish-binary containerd -id ID start` in the bundle, with
/// `TTRPC_ADDRESS`), for the tests that drive its task API directly (what ctr cannot ask for),
/// and connects to it. The `log` FIFO containerd would read the shim's log from is made in the
/// bundle and copied to the test's stderr by a thread. The shim is the test's child (the
/// harness is a subreaper): the harness kills it at the end if it still runs.
pub fn start_shim(
    c: &Containerd,
    bundle: &Path,
    id: &str,
) -> containerd_shim::protos::shim::shim_ttrpc::TaskClient {
    use containerd_shim::protos::ttrpc;
    let log = bundle.join("log");
    mkfifo(&log);
    // Read-write: the open does not wait for the shim (the thread then ends with the test).
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
    std::thread::spawn(move || {
        use std::io::BufRead;
        let lines = std::io::BufReader::new(f).lines().map_while(Result::ok);
        for line in lines.filter(|l| !l.is_empty()) {
            eprintln!("shim log: {line}");
        }
    });
    let mut cmd = std::process::Command::new(SHIM);
    cmd.current_dir(bundle)
        .env("TTRPC_ADDRESS", c.dir.path().join("containerd.ttrpc.sock"))
        .arg("-namespace")
        .arg(&c.namespace)
        .arg("-address")
        .arg(c.sock())
        .args(["-publish-binary", "containerd", "-id", id, "start"]);
    let o = c.collect(&mut cmd, "containerd-shim-lashing-v2 start");
    assert_eq!(o.code, 0, "shim start: {}", o.stderr);
    let address = o.stdout.trim();
    assert!(address.starts_with("unix://"), "shim address {address:?}");
    let client = ttrpc::Client::connect(address)
        .unwrap_or_else(|e| panic!("connect to the shim at {address}: {e}"));
    containerd_shim::protos::shim::shim_ttrpc::TaskClient::new(client)
}

/// Makes a FIFO at `path` (as containerd makes a task's stdio FIFOs).
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}
