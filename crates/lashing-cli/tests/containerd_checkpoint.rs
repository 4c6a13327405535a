//! containerd's checkpoint and restore with lashing as the runtime binary of its runc v2 shim
//! (`io.containerd.runc.v2`, ctr's `--runc-binary`): `ctr container checkpoint --task` (ctr
//! pauses the task, the shim runs `lashing checkpoint --leave-running --image-path ...
//! --work-path ...`, ctr resumes it), then, with the container gone, `ctr container restore
//! --live` (the shim runs `lashing restore --detach --no-subreaper --pid-file ... --image-path
//! ... --work-path ... --bundle ...` at `Start`, with its stdio pipes as the restored process's
//! stdio). The task's counter goes on from where it was.
//!
//! CRIU cannot dump on this host's kernel (Debian's 3.17 fails on kernels since 6.13), so the
//! test is `#[ignore]`d here and run by `scripts/test-guest` (`--run-ignored all`). The
//! private containerd is as in `containerd.rs` (its own root, state and sockets in a temp dir,
//! no CRI plugin, one engine at a time, shims reaped by pid, containerd killed by pid); the
//! checkpoint is a locally built busybox image's container (ctr checkpoints only containers
//! with an image). The staging directories containerd leaves in /tmp (`ctrd-checkpoint*`)
//! are removed.
//!
//! Not in CI yet: run in the guest (`scripts/test-guest 'binary(containerd_checkpoint)'`) the
//! checkpoint works but the shim's `lashing restore` at `Start` exits 1 and the shim finds no
//! `log.json` in the bundle; the cleanup's `ctr task delete --force` then waits. Issue 15 tracks it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lashing");

/// The bound of a wait: [`lashing_testsupport::WAIT`] times the machine's time factor (CRIU
/// under the guest's emulation is slow).
fn long() -> Duration {
    lashing_testsupport::WAIT * lashing_testsupport::time_factor()
}

/// What a run of `ctr` gave.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A private containerd, stopped and cleaned up on drop.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
    cgroup_parent: String,
    /// Host directories containerd creates that did not exist before (removed when empty).
    host_dirs: Vec<PathBuf>,
    /// `/tmp/ctrd-checkpoint*` before the test (the ones after it that are not here are ours).
    staged_before: Vec<PathBuf>,
    _lock: std::fs::File,
}

fn installed(prog: &str, arg: &str) -> bool {
    Command::new(prog)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// containerd's restore staging directories in /tmp.
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

impl Containerd {
    fn start(name: &str) -> Option<Containerd> {
        let lock = lashing_testsupport::engine_lock();
        lashing_testsupport::require_root();
        assert!(
            Path::new("/bin/busybox").is_file(),
            "needs a static /bin/busybox (Debian package busybox-static)"
        );
        if !installed("containerd", "--version") || !installed("ctr", "--version") {
            lashing_testsupport::missing(
                "containerd and ctr are not installed (Debian package `containerd`)",
            );
            return None;
        }
        if !installed("criu", "--version") {
            lashing_testsupport::missing("criu is not installed (Debian package `criu`)");
            return None;
        }
        let o = Command::new("criu").arg("check").output().unwrap();
        assert!(
            o.status.success(),
            "`criu check` fails here: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
        lashing_testsupport::become_subreaper();
        let host_dirs = [
            "/run/containerd/s",
            "/run/containerd/fifo",
            "/run/containerd/runc",
            "/run/containerd",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| !p.exists())
        .collect();
        let dir = tempfile::Builder::new()
            .prefix("lashing-ctr-ckpt-")
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
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
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
            cgroup_parent: format!("/lashing-test-ctrck-{}-{name}", std::process::id()),
            host_dirs,
            staged_before: staged(),
            _lock: lock,
        };
        lashing_testsupport::wait_for("containerd to come up", long(), || {
            c.sock().exists() && c.ctr(&["version"]).code == 0
        });
        Some(c)
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    fn runc_root(&self) -> PathBuf {
        self.dir.path().join("runc-root")
    }

    /// `ctr --address SOCK ARGS`, stdio in files, bounded.
    fn ctr(&self, args: &[&str]) -> Out {
        let out = tempfile::tempdir().unwrap();
        let (o, e) = (out.path().join("out"), out.path().join("err"));
        let mut child = Command::new("ctr")
            .arg("--address")
            .arg(self.sock())
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .spawn()
            .unwrap();
        let what = format!("ctr {args:?}");
        let code = lashing_testsupport::wait_exit(&mut child, &what, long());
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
    fn ok(&self, args: &[&str]) -> String {
        let o = self.ctr(args);
        assert_eq!(o.code, 0, "ctr {args:?}: {}", o.stderr);
        o.stdout
    }

    /// The status column of `ctr task ls` for `id` ("" when there is no task).
    fn task_status(&self, id: &str) -> String {
        self.ctr(&["task", "ls"])
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.first() == Some(&id))
            .and_then(|f| f.get(2).map(|s| s.to_string()))
            .unwrap_or_default()
    }

    /// The ids left in lashing's state root.
    fn left(&self) -> Vec<String> {
        std::fs::read_dir(self.runc_root().join("default"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Our children named `containerd-shim*` (the orphaned shims), by pid.
    fn shims(&self) -> Vec<rustix::process::Pid> {
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
            if rest.split(' ').nth(1) == Some(me.as_str()) && head.contains("(containerd-shim") {
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
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let deadline = std::time::Instant::now() + long();
        while !self.shims().is_empty() && std::time::Instant::now() < deadline {
            let _ = rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG);
            std::thread::sleep(Duration::from_millis(10));
        }
        for pid in self.shims() {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
        for id in self.left() {
            let _ = Command::new(BIN)
                .arg("--root")
                .arg(self.runc_root().join("default"))
                .args(["delete", "--force", &id])
                .status();
        }
        let name = self.cgroup_parent.trim_start_matches('/').to_string();
        for e in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let top = e.path().join(&name);
            if let Ok(d) = std::fs::read_dir(&top) {
                for c in d.flatten().filter(|c| c.path().is_dir()) {
                    let _ = std::fs::remove_dir(c.path());
                }
                let _ = std::fs::remove_dir(&top);
            }
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
        for d in staged() {
            if !self.staged_before.contains(&d) {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        for d in &self.host_dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A one-layer busybox OCI image tarball built here (no registry), for `ctr image import`.
fn busybox_image(c: &Containerd) -> PathBuf {
    let d = c.dir.path();
    let rootfs = d.join("image-rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for l in ["sh", "cat", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(l)).unwrap();
    }
    let oci = d.join("oci");
    let blobs = oci.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = |data: &[u8]| -> (String, usize) {
        let tmp = blobs.join("tmp");
        std::fs::write(&tmp, data).unwrap();
        let o = Command::new("sha256sum").arg(&tmp).output().unwrap();
        assert!(o.status.success());
        let hex = String::from_utf8(o.stdout).unwrap();
        let hex = hex.split_whitespace().next().unwrap().to_string();
        std::fs::rename(&tmp, blobs.join(&hex)).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let layer = d.join("layer.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&layer)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let (layer_digest, layer_size) = blob(&std::fs::read(&layer).unwrap());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
    });
    let (config_digest, config_size) = blob(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": layer_size}]
    });
    let (manifest_digest, manifest_size) = blob(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": IMAGE},
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

/// The image the test imports.
const IMAGE: &str = "lashing-test/busybox-ckpt:1";

/// The task's loop: a counter in memory, written to a file of the mounted state directory
/// (`/out`, a bind mount: it outlives the container and is the same across the restore).
const LOOP: &str = "i=0; while true; do i=$((i+1)); echo $i > /out/n; sleep 0.5; done";

/// The counter the task last wrote.
fn counter(out: &Path) -> u64 {
    std::fs::read_to_string(out.join("n"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs a CRIU that works with this kernel; not in CI yet: in the guest the restore at Start fails (issue 15)"]
fn ctr_checkpoints_and_restores_a_task_with_lashing() {
    let Some(c) = Containerd::start("runc-shim") else {
        return;
    };
    let image = busybox_image(&c);
    c.ok(&["image", "import", image.to_str().unwrap()]);
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mount = format!("type=bind,src={},dst=/out,options=rbind:rw", out.display());
    let root = c.runc_root();
    let cgroup = format!("{}/ck1", c.cgroup_parent);
    c.ok(&[
        "run",
        "-d",
        "--runc-binary",
        BIN,
        "--runc-root",
        root.to_str().unwrap(),
        "--cgroup",
        &cgroup,
        "--mount",
        &mount,
        IMAGE,
        "ck1",
        "/bin/sh",
        "-c",
        LOOP,
    ]);
    lashing_testsupport::wait_for("the counter to start", long(), || counter(&out) >= 2);

    // Checkpoint, leaving the task running (ctr pauses it around the dump).
    let before = counter(&out);
    c.ok(&[
        "container",
        "checkpoint",
        "--task",
        "ck1",
        "lashing-test/ck1:ckpt",
    ]);
    assert_eq!(c.task_status("ck1"), "RUNNING");
    let at = counter(&out);
    lashing_testsupport::wait_for("the counter to go on", long(), || counter(&out) > at);

    // Gone: task and container; then restored from the checkpoint image.
    c.ok(&["task", "kill", "-s", "SIGKILL", "ck1"]);
    lashing_testsupport::wait_for("ck1 to stop", long(), || c.task_status("ck1") == "STOPPED");
    c.ok(&["task", "delete", "ck1"]);
    c.ok(&["container", "delete", "ck1"]);
    assert!(c.left().is_empty(), "state left: {:?}", c.left());
    std::fs::write(out.join("n"), "0\n").unwrap();
    c.ok(&[
        "container",
        "restore",
        "--live",
        "ck1",
        "lashing-test/ck1:ckpt",
    ]);
    assert_eq!(c.task_status("ck1"), "RUNNING");
    // The counter goes on from the checkpoint's value (in memory): its first write is past
    // the value before the checkpoint (a new process would write 1 first).
    let mut first = 0;
    lashing_testsupport::wait_for("the restored counter", long(), || {
        first = counter(&out);
        first != 0
    });
    assert!(
        first > before,
        "restored counter {first}, {before} before the checkpoint"
    );
    let st = Command::new(BIN)
        .arg("--root")
        .arg(root.join("default"))
        .args(["state", "ck1"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["status"], "running", "{v}");

    c.ok(&["task", "kill", "-s", "SIGKILL", "ck1"]);
    lashing_testsupport::wait_for("ck1 to stop", long(), || c.task_status("ck1") == "STOPPED");
    c.ok(&["task", "delete", "ck1"]);
    c.ok(&["container", "delete", "ck1"]);
    assert!(c.left().is_empty(), "state left: {:?}", c.left());
}
