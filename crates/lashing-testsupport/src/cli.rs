//! Driving a runc-compatible runtime binary (lashing, or runc to compare): bounded runs of the
//! program ([`run_in`]), its logrus log lines ([`log_msg`]), [`Sandbox`] (a busybox bundle, a
//! state root and a test cgroup of its own, removed on drop even when the test fails), and the
//! console/pidfd socket receiver ([`listener`], [`accept_fd`]).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::cleanup::Cleanup;
use crate::wait::{WAIT, wait_bounded};

/// What a run of the program gave.
#[derive(Debug)]
pub struct Out {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything it wrote on stdout.
    pub stdout: String,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

/// A `RUNTIME ARGS` command in `dir` to spawn, without the caller's systemd socket variables
/// (`NOTIFY_SOCKET`, `LISTEN_FDS`, `LISTEN_PID`).
pub fn command(runtime: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(runtime);
    c.args(args)
        .current_dir(dir)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    c
}

/// Runs `RUNTIME ARGS` in `dir` with `env` added, stdin from /dev/null and stdout/stderr in
/// files (a container's init may inherit them: pipes would stay open after `create` returns). A
/// command that has not returned after [`WAIT`] hangs: it is killed and the test fails (a bound
/// on the wait, not a time budget).
pub fn run_in(runtime: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = command(runtime, dir, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, &format!("{} {args:?}", runtime.display()))
}

/// Runs `cmd` as [`run_in`] does (stdin from /dev/null, output in files, bounded by [`WAIT`]);
/// `what` names it in a panic.
pub fn run_command(mut cmd: Command, what: &str) -> Out {
    let tmp = tempfile::tempdir().expect("a temp dir for a command's output");
    let (o, e) = (tmp.path().join("out"), tmp.path().join("err"));
    let file = |p: &Path| {
        std::fs::File::create(p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()))
    };
    cmd.stdin(Stdio::null()).stdout(file(&o)).stderr(file(&e));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let status = wait_bounded(&mut child, WAIT).unwrap_or_else(|| panic!("{what} hangs: killed"));
    let read = |p: &Path| {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: read(&o),
        stderr: read(&e),
    }
}

/// The `msg="..."` of the last logrus text line of `stderr` (runc's and lashing's error line),
/// unescaped; the whole last line when it has no `msg=`.
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
pub fn require_containers() {
    crate::require_root();
    crate::busybox_path();
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// The directory of sandbox state roots: under /run, as fifos do not work on the 9p share of the
/// test guest.
const STATE_PARENT: &str = "/run/lashing-test";

/// A busybox bundle (`runtime spec` adjusted: no terminal, the given args, the sandbox's cgroup),
/// a state root and a test cgroup of the test's own. On drop, every container of the root is
/// deleted (`delete --force`), then the cgroup tree is removed in every hierarchy and mounts
/// leaked under the sandbox are detached.
#[derive(Debug)]
pub struct Sandbox {
    /// Undoes the cgroup tree and any mount leaked under `dir`: declared first, so that it is
    /// dropped before `dir` is removed.
    _cleanup: Cleanup,
    /// The runtime binary every command runs.
    pub runtime: PathBuf,
    /// Holds `bundle/` (with `rootfs/`) and whatever the test puts there ([`Sandbox::path`]).
    pub dir: tempfile::TempDir,
    /// The state root (`--root`).
    pub root: String,
    /// The cgroups path of the bundle: `/lashing-test-cli-<pid>-<n>`, or with the systemd driver
    /// forced on ([`crate::systemd`]) `system.slice:lashing-test:cli-<pid>-<n>`.
    pub cgroup: String,
    /// The sandbox's name, `cli-<pid>-<n>`: its units are `lashing-test-<name>[-<id>].scope`.
    name: String,
    /// Whether the runtime runs with `--systemd-cgroup` ([`crate::systemd::enabled`]).
    pub systemd: bool,
    /// The state root's directory (see `STATE_PARENT`), removed on drop.
    _state: tempfile::TempDir,
}

impl Sandbox {
    /// A bundle of `runtime` running `args` (no terminal, in the sandbox's cgroup), its rootfs
    /// `/bin` with busybox and `applets`. Panics when containers cannot run here (see
    /// [`require_containers`]). Makes this process a child subreaper: orphaned inits (detached
    /// containers) come back to it.
    pub fn new(runtime: &Path, args: &[&str], applets: &[&str]) -> Sandbox {
        require_containers();
        crate::become_subreaper();
        let dir = tempfile::tempdir().expect("a temp dir for a sandbox");
        let rootfs = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(&rootfs)
            .and_then(|()| crate::rootfs::install_busybox(&rootfs, applets))
            .unwrap_or_else(|e| panic!("cannot make the rootfs {}: {e}", rootfs.display()));
        std::fs::create_dir_all(STATE_PARENT)
            .unwrap_or_else(|e| panic!("cannot create {STATE_PARENT}: {e}"));
        let state = tempfile::tempdir_in(STATE_PARENT).expect("a state root under /run");
        let name = format!(
            "cli-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        // The fs tree is recorded in both modes: a test may make cgroups by hand below it.
        let fs_cgroup = format!("/{}{name}", crate::CGROUP_PREFIX);
        let cleanup = Cleanup::new();
        cleanup.cgroup(&fs_cgroup);
        let systemd = crate::systemd::enabled();
        let cgroup = if systemd {
            crate::systemd::cgroups_path(&name)
        } else {
            fs_cgroup
        };
        cleanup.watch_mounts(dir.path());
        let sb = Sandbox {
            root: state
                .path()
                .to_str()
                .expect("a UTF-8 temp path")
                .to_string(),
            runtime: runtime.to_path_buf(),
            dir,
            cgroup,
            name,
            systemd,
            _state: state,
            _cleanup: cleanup,
        };
        let bundle = sb.bundle();
        let o = run_in(
            runtime,
            Path::new("/"),
            &["spec", "-b", bundle.to_str().expect("a UTF-8 temp path")],
            &[],
        );
        assert_eq!(o.code, 0, "{} spec: {}", runtime.display(), o.stderr);
        sb.edit(|v| {
            v["process"]["terminal"] = false.into();
            v["process"]["args"] = args.iter().map(|s| serde_json::Value::from(*s)).collect();
            v["linux"]["cgroupsPath"] = sb.cgroup.clone().into();
        });
        sb
    }

    /// Edits the bundle's config.json.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        edit_json(&self.bundle().join("config.json"), f);
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

    /// The cgroups path of a container `id` of the sandbox: `<cgroup>/<id>`, or with the systemd
    /// driver `system.slice:lashing-test:<name>-<id>`.
    pub fn cgroups_path(&self, id: &str) -> String {
        if self.systemd {
            crate::systemd::cgroups_path(&format!("{}-{id}", self.name))
        } else {
            format!("{}/{id}", self.cgroup)
        }
    }

    /// The cgroup of [`Sandbox::cgroups_path`]`(id)` relative to every hierarchy's root (what
    /// `/proc/PID/cgroup` shows): the same path with the fs driver, the unit's
    /// `/system.slice/lashing-test-<name>-<id>.scope` with the systemd one.
    pub fn cgroup_dir(&self, id: &str) -> String {
        if self.systemd {
            crate::systemd::cgroup(&format!("{}-{id}", self.name))
        } else {
            self.cgroups_path(id)
        }
    }

    /// The global flags of every command: `--root <root>`, and `--systemd-cgroup` with the
    /// systemd driver unless `args` has it already.
    fn full_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut full = vec!["--root", self.root.as_str()];
        if self.systemd && !args.contains(&"--systemd-cgroup") {
            full.push("--systemd-cgroup");
        }
        full.extend(args);
        full
    }

    /// `RUNTIME --root <root> ARGS` in the bundle.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[])
    }

    /// The same with more environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let full = self.full_args(args);
        run_in(&self.runtime, &self.bundle(), &full, env)
    }

    /// [`Sandbox::run`] that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code,
            0,
            "{} {args:?}: {}",
            self.runtime.display(),
            o.stderr
        );
        o.stdout
    }

    /// A `RUNTIME --root <root> ARGS` command in the bundle, to spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let full = self.full_args(args);
        command(&self.runtime, &self.bundle(), &full)
    }

    /// The status of a container (`state`), or "" when it does not exist.
    pub fn status(&self, id: &str) -> String {
        let o = self.run(&["state", id]);
        if o.code != 0 {
            return String::new();
        }
        let v: serde_json::Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("state {id} is not JSON ({e}): {}", o.stdout));
        v["status"]
            .as_str()
            .unwrap_or_else(|| panic!("state {id} has no status: {v}"))
            .to_string()
    }

    /// The init pid of a container.
    pub fn pid(&self, id: &str) -> i32 {
        let o = self.run(&["state", id]);
        assert_eq!(o.code, 0, "state {id}: {}", o.stderr);
        let v: serde_json::Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("state {id} is not JSON ({e}): {}", o.stdout));
        v["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state {id} has no pid: {v}")) as i32
    }

    /// Waits until `state` says `want` ([`WAIT`] at most).
    pub fn wait_status(&self, id: &str, want: &str) {
        let start = Instant::now();
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(start.elapsed() < WAIT, "{id} is {s:?}, not {want:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The ids left under the state root.
    pub fn left(&self) -> Vec<String> {
        match std::fs::read_dir(&self.root) {
            Ok(d) => d
                .map(|e| {
                    e.expect("a state root entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("cannot list the state root {}: {e}", self.root),
        }
    }

    /// Whether the test cgroup (with the systemd driver: the bundle's unit's) exists in any
    /// hierarchy.
    pub fn cgroup_exists(&self) -> bool {
        let dir = if self.systemd {
            crate::systemd::cgroup(&self.name)
        } else {
            self.cgroup.clone()
        };
        let rel = dir.trim_start_matches('/');
        crate::hierarchies().iter().any(|h| h.join(rel).is_dir())
    }

    /// The glob patterns of the sandbox's units (the bundle's and every `cgroups_path(id)`'s).
    pub fn unit_patterns(&self) -> Vec<String> {
        vec![
            crate::systemd::unit(&self.name),
            crate::systemd::unit(&format!("{}-*", self.name)),
        ]
    }

    /// Reaps a pid of ours (an orphaned init) if it has exited, never any other child.
    pub fn reap(&self, pid: i32) {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            // ECHILD: not ours, or reaped already.
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
        }
    }

    /// Waits for a pid of ours (an orphaned init or exec'd process) to exit and reaps it.
    pub fn reap_blocking(&self, pid: i32) {
        // ECHILD: not ours, or reaped already.
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        );
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The cgroup tree and leaked mounts go with `_cleanup`, after this. Not `left()`: it
        // panics, and a panic in a drop during a failing test's unwinding aborts.
        if let Ok(d) = std::fs::read_dir(&self.root) {
            for id in d.flatten() {
                let id = id.file_name().to_string_lossy().into_owned();
                let o = self.run(&["delete", "--force", &id]);
                if o.code != 0 {
                    eprintln!("lashing-testsupport: delete --force {id}: {}", o.stderr);
                }
            }
        }
        // With the systemd driver: no unit of the sandbox may be left (checked after every test
        // that uses a sandbox); what is left is stopped, and fails the test.
        if self.systemd {
            let left = crate::systemd::sweep(&self.unit_patterns());
            if !left.is_empty() {
                eprintln!("lashing-testsupport: units left behind: {left:?}");
                if !std::thread::panicking() {
                    panic!("systemd units left behind by the test: {left:?}");
                }
            }
        }
    }
}

/// A listening unix socket at `path` (stream), like runc's `recvtty`.
pub fn listener(path: &Path) -> UnixListener {
    UnixListener::bind(path).unwrap_or_else(|e| panic!("cannot bind {}: {e}", path.display()))
}

/// Accepts one connection ([`WAIT`] at most) and receives one fd with its name.
pub fn accept_fd(l: &UnixListener) -> (String, OwnedFd) {
    l.set_nonblocking(true).expect("O_NONBLOCK on a listener");
    let start = Instant::now();
    let (s, _) = loop {
        match l.accept() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < WAIT, "nobody connected");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    s.set_nonblocking(false).expect("blocking mode on a socket");
    s.set_read_timeout(Some(WAIT)).expect("a read timeout");
    recv_fd(s.as_fd())
}

/// Receives one fd (`SCM_RIGHTS`) and the name that came with it; anything else fails the test.
pub fn recv_fd(sock: BorrowedFd<'_>) -> (String, OwnedFd) {
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
    .unwrap_or_else(|e| panic!("recvmsg: {e}"));
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            fds.extend(r);
        }
    }
    assert_eq!(fds.len(), 1, "one fd expected");
    (
        String::from_utf8_lossy(&buf[..got.bytes]).into_owned(),
        fds.pop().expect("one fd"),
    )
}

/// Edits the JSON file `path` (a bundle's config.json) in place; panics naming the file when it
/// cannot be read, parsed or written.
pub fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    f(&mut v);
    std::fs::write(path, v.to_string())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_msg_takes_the_last_line() {
        let err = "time=\"x\" level=warning msg=\"a\"\n\
                   time=\"y\" level=error msg=\"b: \\\"q\\\" c\"\n";
        assert_eq!(log_msg(err), "b: \"q\" c");
        assert_eq!(log_msg("plain error\n"), "plain error");
        assert_eq!(log_msg(""), "");
    }

    #[test]
    fn run_in_captures_output_and_code() {
        let o = run_in(
            Path::new("/bin/sh"),
            Path::new("/"),
            &["-c", "echo out; echo err >&2; echo $X; exit 3"],
            &[("X", "y")],
        );
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (3, "out\ny\n", "err\n")
        );
    }

    #[test]
    fn fds_pass_through_the_listener() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        let l = listener(&p);
        let sender = std::thread::spawn({
            let p = p.clone();
            move || {
                let s = std::os::unix::net::UnixStream::connect(&p).unwrap();
                let f = std::fs::File::open("/dev/null").unwrap();
                let fds = [f.as_fd()];
                let mut space =
                    [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
                let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
                assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
                rustix::net::sendmsg(
                    &s,
                    &[std::io::IoSlice::new(b"null")],
                    &mut control,
                    rustix::net::SendFlags::empty(),
                )
                .unwrap();
            }
        });
        let (name, fd) = accept_fd(&l);
        sender.join().unwrap();
        assert_eq!(name, "null");
        let st = rustix::fs::fstat(&fd).unwrap();
        assert_eq!(
            rustix::fs::FileType::from_raw_mode(st.st_mode),
            rustix::fs::FileType::CharacterDevice
        );
    }
}
