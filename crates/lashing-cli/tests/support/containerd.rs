//! A private containerd for the engine tests (`containerd.rs`, `containerd_checkpoint.rs`):
//! its own root, state, grpc and ttrpc sockets in a temp dir, no CRI plugin, `runc` on its PATH a
//! symlink to lashing, one engine at a time (`lashing_testsupport::engine_lock`), the orphaned
//! shims reaped by pid, containerd killed by pid, and everything a failed test leaves (tasks,
//! lashing state, the test's cgroup parent, mounts, containerd's checkpoint staging directories,
//! the host directories containerd made, systemd units) removed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_lashing");

/// The shim's state root when the task options name no runtime root (ctr's `--uidmap`).
pub const DEFAULT_RUNC_ROOT: &str = "/run/containerd/runc/default";

/// What a run of `ctr` gave.
pub struct Out {
    /// The exit status.
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// A private containerd, stopped and cleaned up on drop.
pub struct Containerd {
    /// Its private directory (root, state, sockets, bundles, images).
    pub dir: tempfile::TempDir,
    daemon: Child,
    /// The cgroup parent of its containers, `/lashing-test-ctr-<pid>-<test>`.
    pub cgroup_parent: String,
    /// The bound of every wait and `ctr` run.
    limit: Duration,
    /// `/tmp/ctrd-checkpoint*` before the test (containerd's restore staging: the ones after it
    /// that are not here are ours, removed at the end).
    staged_before: Vec<PathBuf>,
    /// The shim runs lashing with `--systemd-cgroup` (ctr's `--runc-systemd-cgroup`, the runc
    /// v2 shim's `SystemdCgroup = true`): cgroups paths are `system.slice:lashing-test:<name>`.
    pub systemd: bool,
    /// Host directories containerd creates that did not exist before (removed when empty).
    host_dirs: Vec<PathBuf>,
    /// One containerd at a time, across threads and processes (nextest): they share
    /// `/run/containerd/s`, and the cleanup removes it: the engine lock
    /// (`lashing_testsupport::engine_lock`), one engine test at a time.
    _lock: std::fs::File,
}

/// Whether `prog --version` runs.
pub fn installed(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Containerd {
    /// A private containerd for test `name`; `systemd`: its shim runs lashing with the systemd
    /// driver.
    pub fn start(name: &str, systemd: bool) -> Option<Containerd> {
        let lock = lashing_testsupport::engine_lock();
        lashing_testsupport::require_root();
        assert!(
            Path::new("/bin/busybox").is_file(),
            "needs a static /bin/busybox (Debian package busybox-static)"
        );
        if !installed("containerd") || !installed("ctr") {
            lashing_testsupport::missing(
                "containerd and ctr are not installed (Debian package `containerd`)",
            );
            return None;
        }
        // The shims double-fork: they come back to us, and we reap them (this machine's PID 1
        // does not).
        lashing_testsupport::become_subreaper();
        let host_dirs: Vec<PathBuf> = [
            "/run/containerd/s",
            "/run/containerd/fifo",
            DEFAULT_RUNC_ROOT,
            "/run/containerd/runc",
            "/run/containerd",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| !p.exists())
        .collect();
        let dir = tempfile::Builder::new()
            .prefix("lashing-ctr-")
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
        // `runc` on containerd's PATH (inherited by the shims) is lashing: when ctr drops
        // `--runc-binary` (it does with `--uidmap`), the shim still runs lashing, not runc.
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(BIN, bin.join("runc")).unwrap();
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
        let c = Containerd {
            dir,
            daemon,
            cgroup_parent: format!("/lashing-test-ctr-{}-{name}", std::process::id()),
            limit: lashing_testsupport::WAIT,
            staged_before: staged(),
            systemd,
            host_dirs,
            _lock: lock,
        };
        let start = Instant::now();
        loop {
            if c.sock().exists() && c.ctr(&["version"]).code == 0 {
                break;
            }
            assert!(
                start.elapsed() < lashing_testsupport::WAIT * lashing_testsupport::time_factor(),
                "containerd did not come up: {}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(c)
    }

    /// The same harness with `limit` for every wait and `ctr` run (longer for CRIU under
    /// emulation).
    pub fn limit(mut self, limit: Duration) -> Containerd {
        self.limit = limit;
        self
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// The runtime's state root for ctr's `default` namespace.
    pub fn runc_root(&self) -> PathBuf {
        self.dir.path().join("runc-root")
    }

    /// The cgroups path of container `id`.
    pub fn cgroup(&self, id: &str) -> String {
        if self.systemd {
            lashing_testsupport::systemd::cgroups_path(&self.unit_name(id))
        } else {
            format!("{}/{id}", self.cgroup_parent)
        }
    }

    /// With the systemd driver: the name part of `id`'s unit, `ctr-<pid>-<id>`.
    pub fn unit_name(&self, id: &str) -> String {
        format!("ctr-{}-{id}", std::process::id())
    }

    /// A busybox rootfs of its own for container `id`.
    pub fn rootfs(&self, id: &str) -> String {
        let r = self.dir.path().join("rootfs").join(id);
        let bin = r.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for l in ["sh", "echo", "sleep", "true", "cat", "tty", "grep", "stat"] {
            std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
        }
        r.to_str().unwrap().to_string()
    }

    /// `ctr --address SOCK ARGS`, stdin from /dev/null, the harness's bound at most.
    pub fn ctr(&self, args: &[&str]) -> Out {
        let mut cmd = self.ctr_command(args);
        self.collect(&mut cmd, &format!("ctr {args:?}"))
    }

    /// Runs `cmd` with stdout/stderr in files (a task may keep pipes open), for the harness's
    /// bound at most.
    pub fn collect(&self, cmd: &mut Command, what: &str) -> Out {
        let out = tempfile::tempdir().unwrap();
        let (o, e) = (out.path().join("out"), out.path().join("err"));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .spawn()
            .unwrap();
        let code = lashing_testsupport::wait_exit(&mut child, what, self.limit);
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

    /// `ctr ARGS` that must succeed: its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.ctr(args);
        assert_eq!(o.code, 0, "ctr {args:?}: {}", o.stderr);
        o.stdout
    }

    /// `ctr --address SOCK ARGS`, not run.
    pub fn ctr_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(self.sock()).args(args);
        cmd
    }

    /// The options every `ctr run` gets: lashing, its private root, fifos and cgroup.
    pub fn run_opts(&self, id: &str) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "--runc-binary".into(),
            BIN.into(),
            "--runc-root".into(),
            self.runc_root().to_str().unwrap().into(),
            "--fifo-dir".into(),
            d.join("fifo").to_str().unwrap().into(),
            "--cgroup".into(),
            self.cgroup(id),
        ]
        .into_iter()
        .chain(self.systemd.then(|| "--runc-systemd-cgroup".into()))
        .collect()
    }

    /// `ctr run [pre...] <lashing options> --rootfs <rootfs> ID CMD...`.
    pub fn run(&self, pre: &[&str], id: &str, cmd: &[&str]) -> Out {
        let rootfs = self.rootfs(id);
        let mut with = pre.to_vec();
        with.extend(["--rootfs", &rootfs]);
        self.run_image(&with, "", id, cmd)
    }

    /// `ctr run [pre...] <lashing options> IMAGE ID CMD...` (no IMAGE when empty: `pre` ends
    /// with `--rootfs DIR`).
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

    /// The status column of `ctr task ls` for `id` ("" when there is no task).
    pub fn task_status(&self, id: &str) -> String {
        let o = self.ctr(&["task", "ls"]);
        o.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.first() == Some(&id))
            .and_then(|f| f.get(2).map(|s| s.to_string()))
            .unwrap_or_default()
    }

    /// The init pid `ctr task ls` shows for `id`.
    pub fn task_pid(&self, id: &str) -> i32 {
        let o = self.ctr(&["task", "ls"]);
        o.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.first() == Some(&id))
            .and_then(|f| f.get(1).and_then(|p| p.parse().ok()))
            .unwrap_or_else(|| panic!("no task {id}: {}", o.stdout))
    }

    /// Waits until `ctr task ls` shows `want` for `id` (the harness's bound at most).
    pub fn wait_status(&self, id: &str, want: &str) {
        let start = Instant::now();
        loop {
            let s = self.task_status(id);
            if s == want {
                return;
            }
            assert!(start.elapsed() < self.limit, "{id} is {s:?}, not {want:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `lashing --root <runc-root>/default ARGS` (what the shim runs).
    pub fn lashing(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(BIN);
        cmd.arg("--root")
            .arg(self.runc_root().join("default"))
            .args(args);
        self.collect(&mut cmd, &format!("lashing {args:?}"))
    }

    /// The ids left in lashing's state root.
    pub fn left(&self) -> Vec<String> {
        std::fs::read_dir(self.runc_root().join("default"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the cgroup of `id` exists in any hierarchy.
    pub fn cgroup_exists(&self, id: &str) -> bool {
        let name = self.cgroup(id);
        let name = name.trim_start_matches('/');
        std::fs::read_dir("/sys/fs/cgroup")
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
            // pid (comm) state ppid ...
            let Some((head, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let ppid = rest.split(' ').nth(1).unwrap_or("");
            if ppid == me && head.contains("(containerd-shim") {
                pids.extend(rustix::process::Pid::from_raw(pid));
            }
        }
        pids
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Whatever the test left: tasks killed and deleted, containers deleted.
        let o = self.ctr(&["container", "ls", "-q"]);
        for id in o.stdout.split_whitespace() {
            let _ = self.ctr(&["task", "kill", "-a", "-s", "SIGKILL", id]);
            // Without --force first: a task whose restore failed has no process, and
            // containerd's forced delete would wait for its exit (the harness's bound).
            if self.ctr(&["task", "delete", id]).code != 0 {
                let _ = self.ctr(&["task", "delete", "--force", id]);
            }
            let _ = self.ctr(&["container", "delete", id]);
        }
        // Containerd (ours, by pid): SIGTERM, then SIGKILL after 10 s.
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
        // Shims still alive (a failed test): killed and reaped by pid; exited ones reaped.
        for pid in self.shims() {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
        // Containers the shims did not delete.
        for id in self.left() {
            let _ = self.lashing(&["delete", "--force", &id]);
        }
        // Only our own cgroup parent, depth first, in every hierarchy (rmdir only).
        let name = self.cgroup_parent.trim_start_matches('/');
        let tops: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().map(|e| e.path().join(name)).collect())
            .unwrap_or_default();
        for top in tops.into_iter().filter(|t| t.is_dir()) {
            rmdir_tree(&top);
        }
        // Any mount left under our directory.
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
        // containerd's restore staging directories of this test.
        for d in staged() {
            if !self.staged_before.contains(&d) {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        // Host directories containerd created for us, when empty.
        for d in &self.host_dirs {
            let _ = std::fs::remove_dir(d);
        }
        // Units of a failed test (with the systemd driver).
        if self.systemd {
            let pattern = lashing_testsupport::systemd::unit(&self.unit_name("*"));
            let left = lashing_testsupport::systemd::sweep(&[pattern]);
            if !left.is_empty() && !std::thread::panicking() {
                panic!("units left behind: {left:?}");
            }
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

/// containerd's restore staging directories in /tmp (`ctrd-checkpoint*`).
fn staged() -> Vec<PathBuf> {
    std::fs::read_dir("/tmp")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("ctrd-checkpoint")
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// The sha256 of a file, as `sha256:<hex>`, with `sha256sum`.
pub fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// Writes `data` as a blob of the OCI layout `oci`; its descriptor's digest and size.
pub fn blob(oci: &Path, data: &[u8]) -> (String, usize) {
    let dir = oci.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join("tmp");
    std::fs::write(&tmp, data).unwrap();
    let digest = sha256(&tmp);
    std::fs::rename(&tmp, dir.join(digest.trim_start_matches("sha256:"))).unwrap();
    (digest, data.len())
}

/// A one-layer busybox OCI image tarball named `reference`, built locally (no registry), for
/// `ctr image import`.
pub fn busybox_image(c: &Containerd, reference: &str) -> PathBuf {
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
            "annotations": {"org.opencontainers.image.ref.name": reference},
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
