//! The harness of every `lashing` program test (`cli.rs`, `cgroups_e2e.rs`, `hooks.rs`,
//! `sockets.rs`, `tty.rs`, `security_cli.rs`, `podman.rs`, `docker.rs`): runs of the program, a
//! busybox rootfs, and [`Sandbox`], a busybox bundle with a state root and a test cgroup of its
//! own, removed on drop (even when the test fails). Cgroups and leaked mounts are undone by
//! [`lashing_testsupport::Cleanup`].
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lashing_testsupport::Cleanup;

/// The `lashing` binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_lashing");

/// The busybox applets linked in `/bin` of a [`Sandbox`]'s rootfs.
pub const APPLETS: &[&str] = &[
    "sh", "true", "false", "sleep", "echo", "cat", "env", "tty", "stat", "ls", "stty", "readlink",
    "printf", "test", "kill", "wc",
];

/// What a run of the program gave.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `lashing ARGS` in `dir` with stdin from /dev/null and stdout/stderr in files (a
/// container's init may inherit them: pipes would stay open after `create` returns). A command
/// that has not returned after [`lashing_testsupport::WAIT`] hangs: it is killed and the test
/// fails (a bound on the wait, not a time budget).
pub fn lashing_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let tmp = tempfile::tempdir().unwrap();
    let (o, e) = (tmp.path().join("out"), tmp.path().join("err"));
    let mut cmd = command(dir, args);
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let status = wait_bounded(&mut child, lashing_testsupport::WAIT)
        .unwrap_or_else(|| panic!("lashing {args:?} hangs: killed"));
    Out {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
    }
}

/// Waits for `child` at most `limit` (through its pidfd); kills and reaps it and returns `None`
/// when it is still running then.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    if let Some(st) = child.try_wait().unwrap() {
        return Some(st);
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    // Not reaped yet (try_wait above), so the pid is still ours: pidfd_open cannot miss it.
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).unwrap();
    let ts = Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: 0,
    };
    loop {
        let mut p = [PollFd::new(&pidfd, PollFlags::IN)];
        match rustix::event::poll(&mut p, Some(&ts)) {
            Ok(0) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(_) => return Some(child.wait().unwrap()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("poll a pidfd: {e}"),
        }
    }
}

/// Runs `lashing ARGS` in `/`.
pub fn lashing(args: &[&str]) -> Out {
    lashing_in(Path::new("/"), args, &[])
}

/// A `lashing ARGS` command in `dir` to spawn, without the caller's systemd socket variables.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    c
}

/// The `msg="..."` of the last logrus text line of `stderr`.
pub fn log_msg(stderr: &str) -> String {
    let line = stderr.trim_end().lines().last().unwrap_or("");
    match line.split_once(" msg=\"") {
        Some((_, m)) => m.strip_suffix('"').unwrap_or(m).replace("\\\"", "\""),
        None => line.to_string(),
    }
}

/// Containers can run here: root and a static `/bin/busybox`. Panics otherwise (a test that needs
/// them must never pass without running): as another user, `cargo nextest run --profile
/// unprivileged` reports the root-only tests as skipped instead (`.config/nextest.toml`).
pub fn can_run_containers() -> bool {
    lashing_testsupport::require_root();
    assert!(
        Path::new("/bin/busybox").is_file(),
        "these tests need a static /bin/busybox (Debian package busybox-static; .ci/run installs it)"
    );
    true
}

/// Makes `rootfs/bin` with a copy of `/bin/busybox` and `applets` linked to it.
pub fn busybox_rootfs(rootfs: &Path, applets: &[&str]) {
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for l in applets {
        std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
    }
}

/// Calls `f` every 10 ms until it is true; fails the test after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits ([`lashing_testsupport::WAIT`] at most) until the file `path` holds exactly `text`.
pub fn wait_for_file(path: &Path, text: &str) {
    wait_for(
        &format!("{text:?} in {}", path.display()),
        lashing_testsupport::WAIT,
        || std::fs::read_to_string(path).unwrap() == text,
    );
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A busybox bundle, a state root and a cgroup of the test's own. On drop, every container of
/// the root is deleted (`delete --force`), then the cgroup tree is removed in every hierarchy.
pub struct Sandbox {
    /// Undoes the cgroup tree and any mount leaked under `dir`: declared first, so that it is
    /// dropped before `dir` is removed.
    cleanup: Cleanup,
    /// Holds `bundle/` (with `rootfs/`) and whatever the test puts there ([`Sandbox::path`]).
    pub dir: tempfile::TempDir,
    /// The state root (`--root`).
    pub root: String,
    /// The cgroups path of the bundle: `/lashing-test-cli-<pid>-<n>`.
    pub cgroup: String,
    /// The state root's directory: under /run, as fifos do not work on the 9p share of the
    /// test guest.
    state: tempfile::TempDir,
}

impl Sandbox {
    /// A bundle running `args` (no terminal, in the sandbox's cgroup). Always `Some`: it panics
    /// when containers cannot run here (not root, no static busybox; see [`can_run_containers`]).
    pub fn new(args: &[&str]) -> Option<Sandbox> {
        if !can_run_containers() {
            return None;
        }
        // Orphaned inits (detached containers) come back to us: this machine's PID 1 does not
        // reap.
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        busybox_rootfs(&dir.path().join("bundle/rootfs"), APPLETS);
        std::fs::create_dir_all("/run/lashing-test").unwrap();
        let state = tempfile::tempdir_in("/run/lashing-test").unwrap();
        let cgroup = format!(
            "/lashing-test-cli-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let cleanup = Cleanup::new();
        cleanup.cgroup(&cgroup);
        cleanup.watch_mounts(dir.path());
        let sb = Sandbox {
            root: state.path().to_str().unwrap().to_string(),
            dir,
            cgroup,
            state,
            cleanup,
        };
        let o = lashing(&["spec", "-b", sb.bundle().to_str().unwrap()]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        sb.edit(|v| {
            v["process"]["terminal"] = false.into();
            v["process"]["args"] = args.iter().map(|s| serde_json::Value::from(*s)).collect();
            v["linux"]["cgroupsPath"] = sb.cgroup.clone().into();
        });
        Some(sb)
    }

    /// Edits the bundle's config.json.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let cfg = self.bundle().join("config.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&cfg, v.to_string()).unwrap();
    }

    /// The bundle directory.
    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    /// The bundle's rootfs.
    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }

    /// A path in the sandbox's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A cgroups path below the sandbox's cgroup: `<cgroup>/<id>`.
    pub fn cgroups_path(&self, id: &str) -> String {
        format!("{}/{id}", self.cgroup)
    }

    /// `lashing --root <root> ARGS` in the bundle.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[])
    }

    /// The same with more environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut full = vec!["--root", &self.root];
        full.extend(args);
        lashing_in(&self.bundle(), &full, env)
    }

    /// [`Sandbox::run`] that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.code, 0, "lashing {args:?}: {}", o.stderr);
        o.stdout
    }

    /// A `lashing --root <root> ARGS` command in the bundle, to spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut full = vec!["--root", &self.root];
        full.extend(args);
        command(&self.bundle(), &full)
    }

    /// The status of a container (`state`), or "" when it does not exist.
    pub fn status(&self, id: &str) -> String {
        let o = self.run(&["state", id]);
        if o.code != 0 {
            return String::new();
        }
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v["status"].as_str().unwrap().to_string()
    }

    /// The init pid of a container.
    pub fn pid(&self, id: &str) -> i32 {
        let v: serde_json::Value = serde_json::from_str(&self.run(&["state", id]).stdout).unwrap();
        v["pid"].as_i64().unwrap() as i32
    }

    /// Waits until `state` says `want` ([`lashing_testsupport::WAIT`] at most).
    pub fn wait_status(&self, id: &str, want: &str) {
        let start = Instant::now();
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(
                start.elapsed() < lashing_testsupport::WAIT,
                "{id} is {s:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The ids left under the state root.
    pub fn left(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the test cgroup exists in any hierarchy.
    pub fn cgroup_exists(&self) -> bool {
        let name = self.cgroup.trim_start_matches('/');
        lashing_testsupport::hierarchies()
            .iter()
            .any(|h| h.join(name).is_dir())
    }

    /// Reaps a pid of ours (an orphaned init), never any other child.
    pub fn reap(&self, pid: i32) {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
        }
    }

    /// Waits for a pid of ours (an orphaned init or exec'd process) to exit and reaps it.
    pub fn reap_blocking(&self, pid: i32) {
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        );
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The cgroup tree and leaked mounts go with `cleanup`, after this.
        for id in self.left() {
            let _ = self.run(&["delete", "--force", &id]);
        }
    }
}

/// A listening unix socket at `path` (stream), like runc's `recvtty`.
pub fn listener(path: &Path) -> std::os::unix::net::UnixListener {
    std::os::unix::net::UnixListener::bind(path).unwrap()
}

/// Accepts one connection ([`lashing_testsupport::WAIT`] at most) and receives one fd with its
/// name.
pub fn accept_fd(l: &std::os::unix::net::UnixListener) -> (String, std::os::fd::OwnedFd) {
    use std::os::fd::AsFd;
    l.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let (s, _) = loop {
        match l.accept() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    start.elapsed() < lashing_testsupport::WAIT,
                    "nobody connected"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(lashing_testsupport::WAIT)).unwrap();
    recv_fd(s.as_fd())
}

/// Receives one fd (`SCM_RIGHTS`) and the name that came with it.
pub fn recv_fd(sock: std::os::fd::BorrowedFd<'_>) -> (String, std::os::fd::OwnedFd) {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut buf = [0u8; 256];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
        sock,
        &mut [std::io::IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            fds.extend(r);
        }
    }
    assert_eq!(fds.len(), 1, "one fd expected");
    (
        String::from_utf8_lossy(&buf[..got.bytes]).into_owned(),
        fds.pop().unwrap(),
    )
}

/// Reads from `fd` until `want` appears in what was read or `limit` passes; returns all read.
pub fn read_until(fd: std::os::fd::BorrowedFd<'_>, want: &str, limit: Duration) -> String {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let start = Instant::now();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains(want) && start.elapsed() < limit {
        let mut p = [PollFd::new(&fd, PollFlags::IN)];
        let ts = Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        match rustix::event::poll(&mut p, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(_) => break,
        }
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(rustix::io::Errno::IO) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => break,
        }
    }
    text
}
