//! A private containerd with its CRI plugin enabled, for the CRI suite.
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
use std::process::{Child, Command, Stdio};
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
    pub dir: tempfile::TempDir,
    daemon: Child,
    pub shim: Shim,
    pub cgroup_parent: String,
    pub cri: Cri,
    host_dirs: Vec<PathBuf>,
    _lock: std::fs::File,
}

fn installed(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
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
        if !(installed("containerd") && installed("ctr")) {
            lashing_testsupport::missing(
                "containerd and ctr are not installed (Debian package `containerd`)",
            );
            return None;
        }
        let lock = lashing_testsupport::engine_lock();
        lashing_testsupport::require_root();
        assert!(
            Path::new("/bin/busybox").is_file(),
            "needs a static /bin/busybox (Debian package busybox-static)"
        );
        lashing_testsupport::become_subreaper();
        let host_dirs: Vec<PathBuf> = [
            "/run/containerd/s",
            "/run/containerd/fifo",
            "/run/containerd/lashing/k8s.io",
            "/run/containerd/lashing",
            "/run/containerd",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| !p.exists())
        .collect();
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
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             [grpc]\n  address = \"{d}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{d}/containerd.ttrpc.sock\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n\
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
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(
            binary("containerd-shim-lashing-v2"),
            bin.join("containerd-shim-lashing-v2"),
        )
        .unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        );
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .env("PATH", path)
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let sock = dir.path().join("containerd.sock");
        let start = Instant::now();
        let cri = loop {
            if sock.exists()
                && let Ok(cri) = Cri::connect(&sock)
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
                std::fs::read_to_string(dir.path().join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let me = std::process::id();
        let c = Containerd {
            dir,
            daemon,
            shim,
            cgroup_parent: if shim == Shim::RuncV2Systemd {
                SLICE.to_string()
            } else {
                format!("/lashing-test-cri-{me}-{name}")
            },
            cri,
            host_dirs,
            _lock: lock,
        };
        for (image, cmd) in [
            (PAUSE, vec!["/bin/sleep", "1000000"]),
            (BUSYBOX, vec!["/bin/sh", "-c", "echo image-default-cmd"]),
        ] {
            let tar = c.image(image, &cmd);
            let o = c.ctr(&["images", "import", tar.to_str().unwrap()]);
            assert_eq!(o.code, 0, "{}", o.stderr);
        }
        Some(c)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// `ctr --address SOCK -n k8s.io ARGS`.
    pub fn ctr(&self, args: &[&str]) -> lashing_testsupport::Out {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.dir.path().join("containerd.sock"))
            .args(["-n", NS])
            .args(args);
        lashing_testsupport::run_command(cmd, &format!("ctr {args:?}"))
    }

    /// The lashing state root of the containers.
    pub fn state_root(&self) -> PathBuf {
        match self.shim {
            Shim::Lashing => Path::new("/run/containerd/lashing").join(NS),
            Shim::RuncV2 | Shim::RuncV2Systemd => self.dir.path().join("runc-root").join(NS),
        }
    }

    /// The ids in the lashing state root.
    pub fn left(&self) -> Vec<String> {
        std::fs::read_dir(self.state_root())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
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
        let name = self.cgroup_parent.trim_start_matches('/');
        let mut tops: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().map(|e| e.path().join(name)).collect())
            .unwrap_or_default();
        tops.push(Path::new("/sys/fs/cgroup").join(name));
        tops.into_iter()
            .filter(|t| t.is_dir())
            .flat_map(|t| std::fs::read_dir(t).into_iter().flatten().flatten())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect()
    }

    /// Mount points under the temp dir (the rootfs, /dev/shm, the sandbox's files).
    pub fn mounts_left(&self) -> Vec<String> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let ours = self.dir.path().to_str().unwrap().to_string();
        text.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&ours))
            .map(str::to_string)
            .collect()
    }

    /// Our live children named `containerd-shim*` (the orphaned shims), by pid.
    pub fn shims(&self) -> Vec<rustix::process::Pid> {
        let me = std::process::id().to_string();
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some((head, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let mut f = rest.split(' ');
            let state = f.next().unwrap_or("");
            let ppid = f.next().unwrap_or("");
            if ppid == me && head.contains("(containerd-shim") && state != "Z" {
                pids.extend(rustix::process::Pid::from_raw(pid));
            }
        }
        pids
    }

    /// A one-layer busybox OCI image tarball named `name` whose command is `cmd`.
    fn image(&self, name: &str, cmd: &[&str]) -> PathBuf {
        let key = name.rsplit('/').next().unwrap().replace(':', "-");
        let d = self.dir.path().join("images").join(&key);
        let rootfs = d.join("rootfs");
        let bin = rootfs.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for l in ["sh", "echo", "sleep", "true", "cat", "head", "tail", "grep"] {
            std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
        }
        let layer = d.join("layer.tar");
        tar(&rootfs, &layer);
        let oci = d.join("oci");
        let (layer_digest, layer_size) = blob(&oci, &std::fs::read(&layer).unwrap());
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": cmd, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
        });
        let (config_digest, config_size) = blob(&oci, config.to_string().as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": layer_size}]
        });
        let (manifest_digest, manifest_size) = blob(&oci, manifest.to_string().as_bytes());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": name},
                "platform": {"architecture": "amd64", "os": "linux"}
            }]
        });
        std::fs::write(oci.join("index.json"), index.to_string()).unwrap();
        std::fs::write(oci.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let image = d.join("image.tar");
        tar(&oci, &image);
        image
    }
}

fn tar(dir: &Path, out: &Path) {
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
}

/// Writes `data` as a blob of the OCI layout `oci`; its digest and size.
fn blob(oci: &Path, data: &[u8]) -> (String, usize) {
    let dir = oci.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join("tmp");
    std::fs::write(&tmp, data).unwrap();
    let o = Command::new("sha256sum").arg(&tmp).output().unwrap();
    assert!(o.status.success());
    let hex = String::from_utf8(o.stdout).unwrap();
    let hex = hex.split_whitespace().next().unwrap().to_string();
    std::fs::rename(&tmp, dir.join(&hex)).unwrap();
    (format!("sha256:{hex}"), data.len())
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
        let pid = rustix::process::Pid::from_child(&self.daemon);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let start = Instant::now();
        while self.daemon.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.daemon.kill();
                let _ = self.daemon.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for pid in self.shims() {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
        for id in self.left() {
            if let Ok(c) = lashing::Container::load(self.state_root(), &id) {
                let _ = c.force_destroy();
            }
            let _ = lashing::remove_remains(self.state_root(), &id, true);
        }
        let mut points = self.mounts_left();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = rustix::mount::unmount(p.as_str(), rustix::mount::UnmountFlags::DETACH);
        }
        let name = self.cgroup_parent.trim_start_matches('/');
        let mut tops: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().map(|e| e.path().join(name)).collect())
            .unwrap_or_default();
        tops.push(Path::new("/sys/fs/cgroup").join(name));
        for top in tops.into_iter().filter(|t| t.is_dir()) {
            rmdir_tree(&top);
        }
        if self.shim == Shim::RuncV2Systemd {
            lashing_testsupport::systemd::sweep(&[UNITS.to_string(), SLICE.to_string()]);
        }
        for d in &self.host_dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn rmdir_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
