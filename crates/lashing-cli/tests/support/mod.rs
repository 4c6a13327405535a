//! Shared by the container tests of `tty.rs`, `sockets.rs`, `hooks.rs`: a busybox bundle with a
//! state root and a test cgroup of its own, removed on drop (even when the test fails).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The `lashing` binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_lashing");

/// What a run of the program gave.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `lashing ARGS` in `dir` with stdin from /dev/null and stdout/stderr in files (a
/// container's init may inherit them: pipes would stay open after `create` returns).
pub fn lashing_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let tmp = tempfile::tempdir().unwrap();
    let (o, e) = (tmp.path().join("out"), tmp.path().join("err"));
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().unwrap();
    Out {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
    }
}

/// The `msg="..."` of the last logrus text line of `stderr`.
pub fn log_msg(stderr: &str) -> String {
    let line = stderr.trim_end().lines().last().unwrap_or("");
    match line.split_once(" msg=\"") {
        Some((_, m)) => m.strip_suffix('"').unwrap_or(m).replace("\\\"", "\""),
        None => line.to_string(),
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A busybox bundle, a state root and a cgroup of the test's own.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub root: String,
    pub cgroup: String,
}

impl Sandbox {
    /// `None` (with a message) when containers cannot run here: not root, or no static busybox.
    pub fn new(args: &[&str]) -> Option<Sandbox> {
        if !rustix::process::geteuid().is_root() || !Path::new("/bin/busybox").is_file() {
            eprintln!("skipped: needs root and /bin/busybox");
            return None;
        }
        // Orphaned inits (detached containers) come back to us: this machine's PID 1 does not
        // reap.
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bundle/rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for l in [
            "sh", "true", "false", "sleep", "echo", "cat", "env", "tty", "stat", "ls", "stty",
            "readlink", "printf", "test", "kill", "wc",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
        }
        let cgroup = format!(
            "/lashing-test-cli5-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let sb = Sandbox {
            root: dir.path().join("root").to_str().unwrap().to_string(),
            dir,
            cgroup,
        };
        let o = lashing_in(
            Path::new("/"),
            &["spec", "-b", sb.bundle().to_str().unwrap()],
            &[],
        );
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

    /// A path in the sandbox's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
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

    /// A `lashing --root <root> ARGS` command to spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.bundle())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID");
        c
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

    /// Waits until `state` says `want` (10 s at most).
    pub fn wait_status(&self, id: &str, want: &str) {
        let start = Instant::now();
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
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
        std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().any(|e| e.path().join(name).is_dir()))
            .unwrap_or(false)
            || Path::new("/sys/fs/cgroup").join(name).is_dir()
    }

    /// Reaps a pid of ours (an orphaned init), never any other child.
    pub fn reap(&self, pid: i32) {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for id in self.left() {
            let o = lashing_in(
                Path::new("/"),
                &["--root", &self.root, "delete", "--force", &id],
                &[],
            );
            let _ = o;
        }
        let name = self.cgroup.trim_start_matches('/');
        let mut dirs = vec![Path::new("/sys/fs/cgroup").join(name)];
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            dirs.extend(entries.flatten().map(|e| e.path().join(name)));
        }
        for d in dirs {
            if d.is_dir() {
                let _ = std::fs::remove_dir(&d);
            }
        }
    }
}

/// A listening unix socket at `path` (stream), like runc's `recvtty`.
pub fn listener(path: &Path) -> std::os::unix::net::UnixListener {
    std::os::unix::net::UnixListener::bind(path).unwrap()
}

/// Accepts one connection (10 s at most) and receives one fd with its name.
pub fn accept_fd(l: &std::os::unix::net::UnixListener) -> (String, std::os::fd::OwnedFd) {
    use std::os::fd::AsFd;
    l.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let (s, _) = loop {
        match l.accept() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "nobody connected"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
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
