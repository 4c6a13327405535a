//! A private containerd for the engine tests (the lashing shim's `ctr` suites, the CLI under
//! containerd's runc v2 shim, the CRI suite): each harness keeps only what is its own (which
//! shim, which runtime options, the CRI client) and builds on [`Containerd`].
//!
//! Nothing touches the host's containerd: each test starts its own `containerd --config` with a
//! private root, state, grpc and ttrpc sockets in a temp dir (CRI disabled unless the harness
//! gives its plugin's configuration), with the harness's binaries first on its PATH (inherited by
//! the shims). One engine test at a time ([`engine_lock`](crate::engine_lock)): containerd 1.6
//! shares `/run/containerd/s` between instances. The shims double-fork back to the test process
//! (a child subreaper) and are killed and reaped by pid at the end; containerd itself is killed by
//! pid. On drop, what a failed test leaves is removed: tasks and containers (through `ctr`),
//! mounts under the temp dir, the test's cgroup parent in every hierarchy (rmdir only),
//! containerd's checkpoint staging directories of the test, the host directories containerd
//! created, and (with the systemd driver) the test's units. The harness removes the runtime's
//! state after [`Containerd::stop`] (it knows how: the library or the CLI).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// What a run of `ctr` (or another command of the harness) gave.
#[derive(Debug)]
pub struct Out {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// How to start a private containerd: see [`Containerd::start`].
pub struct Options {
    /// The temp dir of this containerd (root, state, sockets, bundles, images).
    pub dir: TempDir,
    /// The cgroup parent of its containers (absolute path; with the systemd driver, the slice).
    pub cgroup_parent: String,
    /// `ctr -n` (none: ctr's `default`).
    pub namespace: Option<String>,
    /// The CRI plugin's configuration (TOML tables after containerd's own); `None` disables CRI.
    pub cri: Option<String>,
    /// Executables put first on containerd's PATH: (name, target of the symlink).
    pub path: Vec<(String, PathBuf)>,
    /// Host directories containerd creates (removed at the end when empty, if they did not
    /// exist before), innermost first.
    pub host_dirs: Vec<PathBuf>,
    /// The runtime's state root for the containers of the test.
    pub state_root: PathBuf,
    /// The options every `ctr run` gets before the fifos and the cgroup (which runtime, ...).
    pub run_flags: Vec<String>,
    /// The containers' cgroups are systemd units (`ctr --runc-systemd-cgroup`): see
    /// [`Containerd::cgroup`].
    pub systemd: bool,
    /// Unit patterns swept at the end (a failed test's); a unit left by a passing test fails it.
    pub units: Vec<String>,
}

/// A private containerd, stopped and cleaned up on drop.
pub struct Containerd {
    /// Its private directory.
    pub dir: TempDir,
    daemon: Child,
    /// The cgroup parent of its containers.
    pub cgroup_parent: String,
    /// `ctr -n` (empty: ctr's default).
    pub namespace: String,
    /// The runtime's state root.
    pub state_root: PathBuf,
    /// Whether the containers' cgroups are systemd units.
    pub systemd: bool,
    run_flags: Vec<String>,
    units: Vec<String>,
    cri: bool,
    limit: Duration,
    staged_before: Vec<PathBuf>,
    host_dirs: Vec<PathBuf>,
    stopped: bool,
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

/// Whether containerd and ctr are installed (a test without them calls
/// [`missing`](crate::missing) with [`MISSING`]).
pub fn available() -> bool {
    installed("containerd") && installed("ctr")
}

/// What a test says through [`missing`](crate::missing) when containerd is not [`available`].
pub const MISSING: &str = "containerd and ctr are not installed (Debian package `containerd`)";

impl Containerd {
    /// Starts one as `opts` says and waits until `ctr version` answers. The caller checked
    /// [`available`].
    pub fn start(opts: Options) -> Containerd {
        let lock = crate::engine_lock();
        crate::require_root();
        assert!(
            Path::new("/bin/busybox").is_file(),
            "needs a static /bin/busybox (Debian package busybox-static)"
        );
        crate::become_subreaper();
        let host_dirs: Vec<PathBuf> = opts.host_dirs.into_iter().filter(|p| !p.exists()).collect();
        let dir = opts.dir;
        let d = dir.path().to_str().expect("a UTF-8 temp dir").to_string();
        let mut config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             [grpc]\n  address = \"{d}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{d}/containerd.ttrpc.sock\"\n"
        );
        match &opts.cri {
            Some(cri) => config.push_str(cri),
            None => {
                config = config.replacen(
                    "[grpc]",
                    "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]",
                    1,
                )
            }
        }
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, target) in &opts.path {
            std::os::unix::fs::symlink(target, bin.join(name)).unwrap();
        }
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
            cgroup_parent: opts.cgroup_parent,
            namespace: opts.namespace.unwrap_or_default(),
            state_root: opts.state_root,
            systemd: opts.systemd,
            run_flags: opts.run_flags,
            units: opts.units,
            cri: opts.cri.is_some(),
            limit: crate::WAIT,
            staged_before: staged(),
            host_dirs,
            stopped: false,
            _lock: lock,
        };
        let start = Instant::now();
        loop {
            if c.sock().exists() && c.ctr(&["version"]).code == 0 {
                break;
            }
            assert!(
                start.elapsed() < crate::WAIT * crate::time_factor(),
                "containerd did not come up: {}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        c
    }

    /// The same harness with `limit` for every wait and `ctr` run (longer for CRIU under
    /// emulation).
    pub fn set_limit(&mut self, limit: Duration) {
        self.limit = limit;
    }

    /// Its grpc socket.
    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    /// What containerd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// The cgroups path of container `id`: `<parent>/<id>`, or with the systemd driver the
    /// unit [`unit_name`](Self::unit_name)`(id)` in `system.slice`.
    pub fn cgroup(&self, id: &str) -> String {
        if self.systemd {
            crate::systemd::cgroups_path(&self.unit_name(id))
        } else {
            format!("{}/{id}", self.cgroup_parent)
        }
    }

    /// With the systemd driver: the name part of `id`'s unit, `ctr-<pid>-<id>`.
    pub fn unit_name(&self, id: &str) -> String {
        format!("ctr-{}-{id}", std::process::id())
    }

    /// A busybox rootfs of its own for container `id` (`/bin` with the applets tests use).
    pub fn rootfs(&self, id: &str) -> String {
        let r = self.dir.path().join("rootfs").join(id);
        busybox_bin(&r);
        r.to_str().unwrap().to_string()
    }

    /// `ctr --address SOCK [-n NS] ARGS`, stdin from /dev/null, the harness's bound at most.
    pub fn ctr(&self, args: &[&str]) -> Out {
        let mut cmd = self.ctr_command(args);
        self.collect(&mut cmd, &format!("ctr {args:?}"))
    }

    /// `ctr ARGS` that must succeed: its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.ctr(args);
        assert_eq!(o.code, 0, "ctr {args:?}: {}", o.stderr);
        o.stdout
    }

    /// `ctr --address SOCK [-n NS] ARGS`, not run.
    pub fn ctr_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(self.sock());
        if !self.namespace.is_empty() {
            cmd.args(["-n", &self.namespace]);
        }
        cmd.args(args);
        cmd
    }

    /// Runs `cmd` with stdout/stderr in files (a task may keep pipes open), for the harness's
    /// bound at most; prints what it gave.
    pub fn collect(&self, cmd: &mut Command, what: &str) -> Out {
        let out = tempfile::tempdir().unwrap();
        let (o, e) = (out.path().join("out"), out.path().join("err"));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        let code = crate::wait_exit(&mut child, what, self.limit);
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

    /// The options of every `ctr run`: the harness's, the fifos and the cgroup.
    pub fn run_opts(&self, id: &str) -> Vec<String> {
        let mut v = self.run_flags.clone();
        v.extend([
            "--fifo-dir".into(),
            self.fifo_dir(),
            "--cgroup".into(),
            self.cgroup(id),
        ]);
        if self.systemd {
            v.push("--runc-systemd-cgroup".into());
        }
        v
    }

    /// `ctr run <options> [pre...] --rootfs <rootfs> ID CMD...`.
    pub fn run(&self, pre: &[&str], id: &str, cmd: &[&str]) -> Out {
        let rootfs = self.rootfs(id);
        let mut with = pre.to_vec();
        with.extend(["--rootfs", &rootfs]);
        self.run_image(&with, "", id, cmd)
    }

    /// `ctr run <options> [pre...] IMAGE ID CMD...` (no IMAGE when empty: `pre` ends with
    /// `--rootfs DIR`).
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
        let fifo = self.fifo_dir();
        let mut args = vec!["task", "exec", "--fifo-dir", &fifo];
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
            .map(|f| {
                (
                    f.get(1).and_then(|p| p.parse().ok()).unwrap_or(0),
                    f.get(2).map(|s| s.to_string()).unwrap_or_default(),
                )
            })
    }

    /// The status column of `ctr task ls` for `id` ("" when there is no task).
    pub fn task_status(&self, id: &str) -> String {
        self.task(id).map(|t| t.1).unwrap_or_default()
    }

    /// The init pid `ctr task ls` shows for `id`.
    pub fn task_pid(&self, id: &str) -> i32 {
        self.task(id)
            .map(|t| t.0)
            .unwrap_or_else(|| panic!("no task {id}"))
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

    /// The ids left in the runtime's state root.
    pub fn left(&self) -> Vec<String> {
        std::fs::read_dir(&self.state_root)
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
        self.tops(name).into_iter().any(|t| t.is_dir())
    }

    /// The cgroup directories (in any hierarchy) directly under the cgroup parent.
    pub fn cgroups_left(&self) -> Vec<PathBuf> {
        self.tops(self.cgroup_parent.trim_start_matches('/'))
            .into_iter()
            .filter(|t| t.is_dir())
            .flat_map(|t| std::fs::read_dir(t).into_iter().flatten().flatten())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect()
    }

    /// `name` (relative) in the unified root and in every v1 hierarchy.
    fn tops(&self, name: &str) -> Vec<PathBuf> {
        let mut tops: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().map(|e| e.path().join(name)).collect())
            .unwrap_or_default();
        tops.push(Path::new("/sys/fs/cgroup").join(name));
        tops
    }

    /// Mount points under the temp dir (rootfs, `/dev/shm`, a sandbox's files).
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
            // pid (comm) state ppid ...
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

    /// Ends everything that runs (once): without CRI, the tasks and containers left (killed and
    /// deleted through `ctr`) and the namespace; containerd (by pid: SIGTERM, SIGKILL after 10
    /// s); the shims still alive (killed by pid); every exited child reaped. The harness then
    /// removes the runtime state left (in its drop), the rest is removed by this drop.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if !self.cri {
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
            if !self.namespace.is_empty() {
                let _ = self.ctr(&["namespace", "remove", &self.namespace]);
            }
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
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
        while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir(&self.state_root);
        let mut points = self.mounts_left();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = rustix::mount::unmount(p.as_str(), rustix::mount::UnmountFlags::DETACH);
        }
        // Only our own cgroup parent, depth first, in every hierarchy (rmdir only).
        for top in self
            .tops(self.cgroup_parent.trim_start_matches('/'))
            .into_iter()
            .filter(|t| t.is_dir())
        {
            rmdir_tree(&top);
        }
        for d in staged() {
            if !self.staged_before.contains(&d) {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        for d in &self.host_dirs {
            let _ = std::fs::remove_dir(d);
        }
        if !self.units.is_empty() {
            let left = crate::systemd::sweep(&self.units);
            if !left.is_empty() && !std::thread::panicking() {
                panic!("units left behind: {left:?}");
            }
        }
    }
}

/// Removes `dir` and the directories under it, depth first (rmdir only: a cgroup tree).
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

/// `root/bin` with the host's static busybox and the applets the engine tests use.
fn busybox_bin(root: &Path) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for l in [
        "sh", "echo", "sleep", "true", "cat", "tty", "grep", "stat", "head", "tail",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
    }
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

fn tar(dir: &Path, out: &Path) {
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar of {}", dir.display());
}

/// A one-layer busybox OCI image tarball named `reference`, built under `dir` (no registry),
/// for `ctr image import`; `config` is the image's `config` object (Env, Cmd, WorkingDir).
pub fn busybox_image(dir: &Path, reference: &str, config: serde_json::Value) -> PathBuf {
    let key = reference.rsplit('/').next().unwrap().replace(':', "-");
    let d = dir.join("images").join(&key);
    let rootfs = d.join("rootfs");
    busybox_bin(&rootfs);
    let layer = d.join("layer.tar");
    tar(&rootfs, &layer);
    let oci = d.join("oci");
    let (layer_digest, layer_size) = blob(&oci, &std::fs::read(&layer).unwrap());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": config,
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
    tar(&oci, &image);
    image
}

/// The image config of the engine tests' busybox image: `PATH=/bin`, `FROM_IMAGE=yes`, its
/// default command echoes `image-default-cmd`, working directory `/bin`.
pub fn test_image_config() -> serde_json::Value {
    serde_json::json!({
        "Env": ["PATH=/bin", "FROM_IMAGE=yes"],
        "Cmd": ["/bin/sh", "-c", "echo image-default-cmd"],
        "WorkingDir": "/bin"
    })
}

/// The checkpoint tests' task: counts every half second into `/out/n` (`/out` a bind mount of a
/// host directory, so the count outlives the container and is the same across a restore). It
/// appends, as [`crate::counting_loop`], so that the count is never read half-written.
pub const COUNTING: &str = "i=0; while true; do i=$((i+1)); echo $i >> /out/n; sleep 0.5; done";

/// The count [`COUNTING`] last wrote into `out/n` (0 when none yet).
pub fn counter(out: &Path) -> u64 {
    crate::last_count(&out.join("n")).unwrap_or(0)
}
