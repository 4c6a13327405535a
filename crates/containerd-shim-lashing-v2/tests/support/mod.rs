//! A private containerd whose PATH finds `containerd-shim-lashing-v2`, for the shim's suites.
//!
//! Nothing touches the host's containerd: each test starts its own `containerd --config` with a
//! private root, state, grpc and ttrpc sockets in a temp dir and no CRI plugin; its tasks live in
//! a containerd namespace of their own (`lashing-test-<pid>-<name>`), so the shim's state root is
//! `/run/containerd/lashing/<that namespace>`, and every container gets the cgroups path
//! `/lashing-test-shim-<pid>-<name>/<id>` (`ctr run --cgroup`). The shims are orphaned to the
//! test process (a child subreaper), which kills (if still alive) and reaps them by pid at the
//! end; containerd itself is killed by pid; the host directories containerd 1.6 insists on
//! (`/run/containerd/s`, `/run/containerd/fifo`) and ours are removed when the test created
//! them and they are empty.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shim under test.
pub const SHIM: &str = env!("CARGO_BIN_EXE_containerd-shim-lashing-v2");
/// Its runtime name.
pub const RUNTIME: &str = "io.containerd.lashing.v2";

/// What a run of `ctr` gave.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A private containerd, stopped and cleaned up on drop.
pub struct Containerd {
    pub dir: tempfile::TempDir,
    daemon: Child,
    pub namespace: String,
    pub cgroup_parent: String,
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

/// Whether `prog` is on PATH.
pub fn have(prog: &str) -> bool {
    installed(prog)
}

impl Containerd {
    /// Whether containerd and ctr are installed.
    pub fn installed() -> bool {
        installed("containerd") && installed("ctr")
    }

    /// Starts one (containerd and ctr must be installed: [`Containerd::installed`]).
    pub fn start(name: &str) -> Containerd {
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
            "/run/containerd/lashing",
            "/run/containerd",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| !p.exists())
        .collect();
        let dir = tempfile::Builder::new()
            .prefix("lashing-shim-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{d}/containerd.ttrpc.sock\"\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        // containerd finds the shim of `io.containerd.lashing.v2` on its PATH.
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(SHIM, bin.join("containerd-shim-lashing-v2")).unwrap();
        // And by the runc v2 shim's name: ctr sends its `--runc-*` options (runc's runtime
        // options) to `io.containerd.runc.v2` only.
        std::os::unix::fs::symlink(SHIM, bin.join("containerd-shim-runc-v2")).unwrap();
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
        let me = std::process::id();
        let c = Containerd {
            dir,
            daemon,
            namespace: format!("lashing-test-{me}-{name}"),
            cgroup_parent: format!("/lashing-test-shim-{me}-{name}"),
            host_dirs,
            _lock: lock,
        };
        let start = Instant::now();
        loop {
            if c.sock().exists() && c.ctr(&["version"]).code == 0 {
                break;
            }
            assert!(
                start.elapsed() < lashing_testsupport::WAIT,
                "containerd did not come up: {}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        c
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// The shim's state root for our namespace.
    pub fn state_root(&self) -> PathBuf {
        Path::new("/run/containerd/lashing").join(&self.namespace)
    }

    /// The cgroups path of container `id`.
    pub fn cgroup(&self, id: &str) -> String {
        format!("{}/{id}", self.cgroup_parent)
    }

    /// A busybox rootfs of its own for container `id`.
    pub fn rootfs(&self, id: &str) -> String {
        let r = self.dir.path().join("rootfs").join(id);
        let bin = r.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for l in [
            "sh", "echo", "sleep", "true", "cat", "tty", "grep", "stat", "head", "tail",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
        }
        r.to_str().unwrap().to_string()
    }

    /// `ctr --address SOCK -n NS ARGS`, stdin from /dev/null.
    pub fn ctr(&self, args: &[&str]) -> Out {
        let mut cmd = self.ctr_command(args);
        self.collect(&mut cmd, &format!("ctr {args:?}"))
    }

    pub fn ctr_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.sock())
            .args(["-n", &self.namespace])
            .args(args);
        cmd
    }

    /// Runs `cmd` with stdout/stderr in files, for [`lashing_testsupport::WAIT`] at most.
    pub fn collect(&self, cmd: &mut Command, what: &str) -> Out {
        let out = tempfile::tempdir().unwrap();
        let (o, e) = (out.path().join("out"), out.path().join("err"));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .spawn()
            .unwrap();
        let code = lashing_testsupport::wait_exit(&mut child, what, lashing_testsupport::WAIT);
        let r = Out {
            code,
            stdout: std::fs::read_to_string(&o).unwrap(),
            stderr: std::fs::read_to_string(&e).unwrap(),
        };
        eprintln!(
            "{what}: {}\nstdout: {}\nstderr: {}",
            r.code, r.stdout, r.stderr
        );
        r
    }

    /// The directory of the stdio FIFOs (`ctr --fifo-dir`).
    pub fn fifo_dir(&self) -> String {
        self.dir.path().join("fifo").to_str().unwrap().into()
    }

    /// The options of every `ctr run`: our runtime, fifos and cgroup.
    pub fn run_opts(&self, id: &str) -> Vec<String> {
        vec![
            "--runtime".into(),
            RUNTIME.into(),
            "--fifo-dir".into(),
            self.dir.path().join("fifo").to_str().unwrap().into(),
            "--cgroup".into(),
            self.cgroup(id),
        ]
    }

    /// `ctr run <options> [pre...] --rootfs <rootfs> ID CMD...`.
    pub fn run(&self, pre: &[&str], id: &str, cmd: &[&str]) -> Out {
        let rootfs = self.rootfs(id);
        let mut with = pre.to_vec();
        with.extend(["--rootfs", &rootfs]);
        self.run_image(&with, "", id, cmd)
    }

    /// `ctr run <options> [pre...] IMAGE ID CMD...` (no IMAGE when empty).
    pub fn run_image(&self, pre: &[&str], image: &str, id: &str, cmd: &[&str]) -> Out {
        let opts = self.run_opts(id);
        let mut args = vec!["run"];
        args.extend(opts.iter().map(String::as_str));
        args.extend(pre);
        if !image.is_empty() {
            args.push(image);
        }
        args.push(id);
        args.extend(cmd);
        self.ctr(&args)
    }

    /// `ctr task exec --fifo-dir ... --exec-id EXEC [pre...] ID CMD...`.
    pub fn exec(&self, pre: &[&str], exec_id: &str, id: &str, cmd: &[&str]) -> Out {
        let fifo = self.dir.path().join("fifo");
        let mut args = vec!["task", "exec", "--fifo-dir", fifo.to_str().unwrap()];
        args.extend(["--exec-id", exec_id]);
        args.extend(pre);
        args.push(id);
        args.extend(cmd);
        self.ctr(&args)
    }

    /// The (pid, status) columns of `ctr task ls` for `id`.
    pub fn task(&self, id: &str) -> Option<(i32, String)> {
        let o = self.ctr(&["task", "ls"]);
        o.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.first() == Some(&id))
            .map(|f| (f[1].parse().unwrap_or(0), f[2].to_string()))
    }

    /// Waits until `ctr task ls` shows `want` for `id`.
    pub fn wait_status(&self, id: &str, want: &str) {
        let start = Instant::now();
        loop {
            let s = self.task(id).map(|t| t.1).unwrap_or_default();
            if s == want {
                return;
            }
            assert!(
                start.elapsed() < lashing_testsupport::WAIT,
                "{id} is {s:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The ids left in the shim's state root.
    pub fn left(&self) -> Vec<String> {
        std::fs::read_dir(self.state_root())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the cgroup of `id` exists: in the unified hierarchy, or in any v1 one.
    pub fn cgroup_exists(&self, id: &str) -> bool {
        let name = self.cgroup(id);
        let name = name.trim_start_matches('/');
        Path::new("/sys/fs/cgroup").join(name).is_dir()
            || std::fs::read_dir("/sys/fs/cgroup")
                .map(|d| d.flatten().any(|e| e.path().join(name).is_dir()))
                .unwrap_or(false)
    }

    /// Our children named `containerd-shim*` (the orphaned shims), by pid.
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
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let o = self.ctr(&["container", "ls", "-q"]);
        for id in o.stdout.split_whitespace() {
            let _ = self.ctr(&["task", "kill", "-a", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "--force", id]);
            let _ = self.ctr(&["container", "delete", id]);
        }
        let _ = self.ctr(&["namespace", "remove", &self.namespace]);
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
        // Shims still alive (a failed test): killed by pid; every exited child reaped.
        for pid in self.shims() {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
        // Containers the shims did not delete, then the state root.
        for id in self.left() {
            if let Ok(c) = lashing::Container::load(self.state_root(), &id) {
                let _ = c.force_destroy();
            }
            let _ = lashing::remove_remains(self.state_root(), &id, true);
        }
        let _ = std::fs::remove_dir(self.state_root());
        let name = self.cgroup_parent.trim_start_matches('/');
        let mut tops: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().map(|e| e.path().join(name)).collect())
            .unwrap_or_default();
        tops.push(Path::new("/sys/fs/cgroup").join(name));
        for top in tops.into_iter().filter(|t| t.is_dir()) {
            rmdir_tree(&top);
        }
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let ours = self.dir.path().to_str().unwrap().to_string();
        let mut points: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&ours))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = rustix::mount::unmount(p, rustix::mount::UnmountFlags::DETACH);
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

fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// Writes `data` as a blob of the OCI layout `oci`; its descriptor's digest and size.
fn blob(oci: &Path, data: &[u8]) -> (String, usize) {
    let dir = oci.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join("tmp");
    std::fs::write(&tmp, data).unwrap();
    let digest = sha256(&tmp);
    std::fs::rename(&tmp, dir.join(digest.trim_start_matches("sha256:"))).unwrap();
    (digest, data.len())
}

/// A one-layer busybox OCI image tarball named `lashing-test/busybox:1`, built locally (no
/// registry), for `ctr image import`.
pub fn busybox_image(c: &Containerd) -> PathBuf {
    let d = c.dir.path();
    let rootfs = c.rootfs("image-src");
    let layer = d.join("layer.tar");
    let st = Command::new("tar")
        .args(["-C", &rootfs, "-cf"])
        .arg(&layer)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let oci = d.join("oci");
    let (layer_digest, layer_size) = blob(&oci, &std::fs::read(&layer).unwrap());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {
            "Env": ["PATH=/bin", "FROM_IMAGE=yes"],
            "Cmd": ["/bin/sh", "-c", "echo image-default-cmd"],
            "WorkingDir": "/bin"
        },
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
            "annotations": {"org.opencontainers.image.ref.name": "lashing-test/busybox:1"},
            "platform": {"architecture": "amd64", "os": "linux"}
        }]
    });
    std::fs::write(oci.join("index.json"), index.to_string()).unwrap();
    std::fs::write(oci.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let image = d.join("image.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&oci)
        .arg("-cf")
        .arg(&image)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    image
}
