//! A private containerd with its CRI plugin enabled, for the CRI suite (on
//! `lashing_testsupport::containerd`).
//!
//! Nothing touches the host's containerd: the daemon gets a private root, state, grpc and ttrpc
//! sockets in a temp dir, a streaming server on an ephemeral loopback port, AppArmor off (the CRI
//! plugin would otherwise load its profile into the host's kernel), `restrict_oom_score_adj` (no
//! pod's score below containerd's: a sandbox may lack CAP_SYS_RESOURCE, which lowering it
//! needs, for lashing as for runc), no CNI (the pods use the
//! host's network) and, as its only runtime handler, either the lashing shim
//! (`io.containerd.lashing.v2`, found on containerd's PATH) or containerd's runc v2 shim with
//! lashing as its `BinaryName` and a private `Root`. The sandbox image and the containers' image
//! are busybox images built locally as OCI tarballs and imported with `ctr -n k8s.io` (no registry
//! is reachable). Every pod's cgroup parent is `/lashing-test-cri-<pid>-<name>`. On drop: the
//! pods left are stopped and removed through CRI, containerd and the shims (orphaned to the
//! test process, a child subreaper) are killed by pid, and what is still there (lashing state,
//! cgroups, mounts under the temp dir, the host directories containerd 1.6 creates) is removed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lashing_cri_test::{Cri, v1};

/// The namespace of containerd the CRI plugin uses.
pub const NS: &str = "k8s.io";
/// The image of the containers.
pub const BUSYBOX: &str = "docker.io/lashing-test/busybox:1";
/// The sandbox (pause) image.
pub const PAUSE: &str = "docker.io/lashing-test/pause:1";

/// Which shim the CRI plugin's runtime handler uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shim {
    /// `io.containerd.lashing.v2`, the lashing shim.
    Lashing,
    /// `io.containerd.runc.v2` with `BinaryName` = the lashing CLI.
    RuncV2,
    /// The same with `SystemdCgroup = true` (systemd as PID 1): the pods' parent is the slice
    /// [`SLICE`], every container a transient unit `cri-containerd-<id>.scope`.
    RuncV2Systemd,
}

/// The units of the CRI plugin's containers with the systemd driver.
pub const UNITS: &str = "cri-containerd-*.scope";

/// The pods' slice with the systemd driver.
pub const SLICE: &str = "lashing-cri.slice";

/// A private containerd with CRI, stopped and cleaned up on drop.
pub struct Containerd {
    inner: lashing_testsupport::containerd::Containerd,
    /// The runtime handler's shim.
    pub shim: Shim,
    /// The CRI client, connected.
    pub cri: Cri,
}

impl std::ops::Deref for Containerd {
    type Target = lashing_testsupport::containerd::Containerd;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// The workspace binary `name` (built by `cargo nextest run --workspace`; built here otherwise).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let path = dir.join(name);
    if !path.is_file() {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "-p",
            "lashing-cli",
            "-p",
            "containerd-shim-lashing-v2",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let st = cmd.status().unwrap();
        assert!(st.success(), "building the lashing binaries failed");
    }
    assert!(path.is_file(), "no {}", path.display());
    path
}

impl Containerd {
    /// A private containerd for test `name`, or `None` once `missing` said why there is none.
    pub fn start(name: &str, shim: Shim) -> Option<Containerd> {
        if !lashing_testsupport::containerd::available() {
            lashing_testsupport::missing(lashing_testsupport::containerd::MISSING);
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("lashing-cri-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        // LASHING_CRI_BINARY: another runtime for runc v2's BinaryName (to compare with runc).
        let lashing = std::env::var_os("LASHING_CRI_BINARY")
            .map(PathBuf::from)
            .unwrap_or_else(|| binary("lashing"));
        let handler = match shim {
            Shim::Lashing => "  runtime_type = \"io.containerd.lashing.v2\"\n".to_string(),
            Shim::RuncV2 | Shim::RuncV2Systemd => format!(
                "  runtime_type = \"io.containerd.runc.v2\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.test.options]\n\
                 \x20 BinaryName = \"{}\"\n  Root = \"{d}/runc-root\"\n  SystemdCgroup = {}\n",
                lashing.display(),
                shim == Shim::RuncV2Systemd
            ),
        };
        let cri = format!(
            "[plugins.\"io.containerd.grpc.v1.cri\"]\n\
             \x20 sandbox_image = \"{PAUSE}\"\n\
             \x20 stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n\
             \x20 disable_apparmor = true\n  enable_selinux = false\n\
             \x20 restrict_oom_score_adj = true\n\
             [plugins.\"io.containerd.grpc.v1.cri\".cni]\n\
             \x20 bin_dir = \"{d}/cni/bin\"\n  conf_dir = \"{d}/cni/conf\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n\
             \x20 snapshotter = \"overlayfs\"\n  default_runtime_name = \"test\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.test]\n{handler}"
        );
        let state_root = match shim {
            Shim::Lashing => Path::new("/run/containerd/lashing").join(NS),
            Shim::RuncV2 | Shim::RuncV2Systemd => dir.path().join("runc-root").join(NS),
        };
        let me = std::process::id();
        let opts = lashing_testsupport::containerd::Options {
            dir,
            cgroup_parent: if shim == Shim::RuncV2Systemd {
                SLICE.to_string()
            } else {
                format!("/lashing-test-cri-{me}-{name}")
            },
            namespace: Some(NS.into()),
            cri: Some(cri),
            path: vec![(
                "containerd-shim-lashing-v2".into(),
                binary("containerd-shim-lashing-v2"),
            )],
            host_dirs: [
                "/run/containerd/s",
                "/run/containerd/fifo",
                "/run/containerd/lashing/k8s.io",
                "/run/containerd/lashing",
                "/run/containerd",
            ]
            .map(PathBuf::from)
            .to_vec(),
            state_root,
            run_flags: Vec::new(),
            systemd: false,
            units: Vec::new(),
        };
        let inner = lashing_testsupport::containerd::Containerd::start(opts);
        let start = Instant::now();
        let cri = loop {
            if let Ok(cri) = Cri::connect(&inner.sock())
                && cri
                    .call(
                        "Version",
                        cri.runtime.clone().version(v1::VersionRequest::default()),
                    )
                    .is_ok()
            {
                break cri;
            }
            assert!(
                start.elapsed() < lashing_testsupport::WAIT,
                "containerd's CRI did not come up: {}",
                inner.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let c = Containerd { inner, shim, cri };
        for (image, cmd) in [
            (PAUSE, vec!["/bin/sleep", "1000000"]),
            (BUSYBOX, vec!["/bin/sh", "-c", "echo image-default-cmd"]),
        ] {
            let config = serde_json::json!({"Env": ["PATH=/bin"], "Cmd": cmd, "WorkingDir": "/"});
            let tar = lashing_testsupport::containerd::busybox_image(c.dir.path(), image, config);
            let o = c.ctr(&["images", "import", tar.to_str().unwrap()]);
            assert_eq!(o.code, 0, "{}", o.stderr);
        }
        Some(c)
    }

    /// The cgroup directories (in any hierarchy) under the pods' cgroup parent (with the
    /// systemd driver: the units `cri-containerd-*.scope`).
    pub fn cgroups_left(&self) -> Vec<PathBuf> {
        if self.shim == Shim::RuncV2Systemd {
            return lashing_testsupport::systemd::leftover_units(&[UNITS.to_string()])
                .into_iter()
                .map(PathBuf::from)
                .collect();
        }
        self.inner.cgroups_left()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Pods left by a failed test: stopped and removed through CRI (their containers too).
        let pods = self
            .cri
            .call(
                "ListPodSandbox",
                self.cri
                    .runtime
                    .clone()
                    .list_pod_sandbox(v1::ListPodSandboxRequest::default()),
            )
            .map(|r| r.items)
            .unwrap_or_default();
        for p in pods {
            let id = p.id;
            let _ = self.cri.call(
                "StopPodSandbox",
                self.cri
                    .runtime
                    .clone()
                    .stop_pod_sandbox(v1::StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    }),
            );
            let _ = self.cri.call(
                "RemovePodSandbox",
                self.cri
                    .runtime
                    .clone()
                    .remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: id }),
            );
        }
        self.inner.stop();
        let root = self.inner.state_root.clone();
        for id in self.inner.left() {
            if let Ok(c) = lashing::Container::load(&root, &id) {
                let _ = c.force_destroy();
            }
            let _ = lashing::remove_remains(&root, &id, true);
        }
        if self.shim == Shim::RuncV2Systemd {
            lashing_testsupport::systemd::sweep(&[UNITS.to_string(), SLICE.to_string()]);
        }
    }
}
