//! Docker as the engine: Debian's `docker.io` daemon (dockerd 20.10) with lashing registered as a
//! runtime, each check run with `--runtime runc` and `--runtime lashing`, which must give the
//! same result (and runc's is checked against what Docker users expect): `run` (output, exit
//! status), `run -t`, `exec` in a container started with `--cap-add` (capabilities, as another
//! user), `exec --privileged`, `--tmpfs` on a directory the image lacks (a non-root user can write
//! there), and the exit statuses Docker derives from the runtime's error text: 127 for a missing
//! command, 126 for a non-executable one.
//!
//! Nothing touches the host's Docker: each test starts its own `dockerd` with a private
//! `--data-root`, `--exec-root`, socket, pidfile and daemon.json (cgroupfs driver, lashing in
//! `runtimes`), `--default-ulimit nofile=1024:1024` (the default is above this machine's hard
//! limit), no network setup (`--iptables=false --bridge=none`; containers use `--network none`),
//! the `vfs` storage driver, and an image imported from a busybox rootfs tarball (no registry).
//! The daemon runs in the cgroup `/lashing-test-docker-<pid>/daemon` and its containers under
//! `/lashing-test-docker-<pid>/ctr` (`--cgroup-parent`, absolute): at the end the daemon is
//! stopped, everything left in that tree is killed, the orphans (this test is their subreaper)
//! reaped, the runtimes' leftovers deleted, mounts under the private directory detached and the
//! cgroups removed, even when a check failed. Host paths the daemon creates on its own
//! (`/etc/docker/key.json`, `/run/containerd/s` for the shims' sockets) are removed when the test
//! created them. One engine test runs at a time (`lashing_testsupport::engine_lock`).

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lashing_testsupport::{Cleanup, WAIT};
use support::{BIN, wait_bounded};

/// Debian's docker.io client and daemon (not whatever else is on PATH).
const DOCKER: &str = "/usr/bin/docker";
const DOCKERD: &str = "/usr/sbin/dockerd";
/// The image every check runs.
const IMAGE: &str = "lashing-test-busybox:latest";
/// The runtimes compared: the reference first.
const RUNTIMES: [&str; 2] = ["runc", "lashing"];

/// What a docker command gave.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

struct Docker {
    daemon: Child,
    cleanup: Cleanup,
    dir: tempfile::TempDir,
    /// Host paths that did not exist before the daemon started (removed at the end when empty).
    host_dirs: Vec<PathBuf>,
    host_files: Vec<PathBuf>,
    _lock: std::fs::File,
}

impl Docker {
    /// A private dockerd with lashing as a runtime and the busybox image; `None` (skipped, but a
    /// failure in CI) when docker.io is not installed.
    fn start() -> Option<Docker> {
        support::require_containers();
        if !Path::new(DOCKER).is_file() || !Path::new(DOCKERD).is_file() {
            lashing_testsupport::missing("dockerd is not installed (Debian package `docker.io`)");
            return None;
        }
        let lock = lashing_testsupport::engine_lock();
        // The shims and, when dockerd dies first, its containerd come back to us.
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
        let host_dirs: Vec<PathBuf> = ["/run/containerd/s", "/run/containerd", "/etc/docker"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| !p.exists())
            .collect();
        let host_files: Vec<PathBuf> = ["/etc/docker/key.json"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| !p.exists())
            .collect();
        let dir = tempfile::Builder::new()
            .prefix("lashing-docker-")
            .tempdir()
            .unwrap();
        let top = format!("/lashing-test-docker-{}", std::process::id());
        // The cgroups of an earlier run that was killed before its cleanup (its pid is gone).
        let stale = Cleanup::new();
        for h in lashing_testsupport::hierarchies() {
            for e in std::fs::read_dir(&h).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("lashing-test-docker-")
                    && pid.parse::<u32>().is_ok()
                    && !Path::new(&format!("/proc/{pid}")).exists()
                {
                    stale.cgroup(&format!("/{name}"));
                }
            }
        }
        drop(stale);
        let cleanup = Cleanup::new();
        cleanup.cgroup(&top);
        cleanup.cgroup(&top);
        cleanup.watch_mounts(dir.path());
        let d = dir.path();
        std::fs::write(
            d.join("daemon.json"),
            serde_json::json!({
                "exec-opts": ["native.cgroupdriver=cgroupfs"],
                "runtimes": {"lashing": {"path": BIN}},
            })
            .to_string(),
        )
        .unwrap();
        // The daemon's own cgroup, entered by the shell that then execs dockerd.
        let mut procs = Vec::new();
        for h in lashing_testsupport::hierarchies() {
            let cg = h.join(top.trim_start_matches('/')).join("daemon");
            std::fs::create_dir_all(&cg).unwrap();
            // A new v1 cpuset has no cpus or mems: give both levels the root's.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(h.join(f)) {
                    for level in [cg.parent().unwrap(), &cg] {
                        std::fs::write(level.join(f), v.trim()).unwrap();
                    }
                }
            }
            procs.push(cg.join("cgroup.procs").to_str().unwrap().to_string());
        }
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let p = |name: &str| d.join(name).to_str().unwrap().to_string();
        // sh -c SCRIPT sh N PROCS... DOCKERD ARGS...: joins the N cgroups, then execs dockerd,
        // which gets SIGKILL if this test process dies without its cleanup (setpriv --pdeathsig).
        let script = r#"n=$1; shift
            while [ "$n" -gt 0 ]; do
                echo $$ > "$1" || { echo "cannot join $1" >&2; exit 1; }
                shift; n=$((n-1))
            done
            exec "$@""#;
        let daemon = Command::new("/bin/sh")
            .args(["-c", script, "sh", &procs.len().to_string()])
            .args(&procs)
            .args(["setpriv", "--pdeathsig", "KILL", DOCKERD])
            .args(["--data-root", &p("data"), "--exec-root", &p("exec")])
            .args(["-H", &format!("unix://{}", p("docker.sock"))])
            .args([
                "--pidfile",
                &p("docker.pid"),
                "--config-file",
                &p("daemon.json"),
            ])
            .args(["--iptables=false", "--ip-masq=false", "--bridge=none"])
            .args(["--userland-proxy=false", "--storage-driver", "vfs"])
            .args(["--default-ulimit", "nofile=1024:1024"])
            .args(["--cgroup-parent", &format!("{top}/ctr")])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut docker = Docker {
            daemon,
            cleanup,
            dir,
            host_dirs,
            host_files,
            _lock: lock,
        };
        docker.wait_ready();
        docker.import_image();
        Some(docker)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
    }

    /// Waits until the daemon answers (it must not exit first).
    fn wait_ready(&mut self) {
        support::wait_for("dockerd to answer", WAIT, || {
            if let Some(st) = self.daemon.try_wait().unwrap() {
                panic!("dockerd exited ({st}):\n{}", self.log());
            }
            self.path("docker.sock").exists()
                && self
                    .docker(&["version", "--format", "{{.Server.Version}}"])
                    .code
                    == 0
        });
    }

    /// `docker import` of a busybox rootfs: `/bin` applets, `root` and `nobody` in
    /// `/etc/passwd`, `/tmp`; no `/newdir`.
    fn import_image(&self) {
        let rootfs = self.path("image");
        lashing_testsupport::install_busybox(
            &rootfs,
            &[
                "sh", "true", "false", "sleep", "echo", "cat", "id", "grep", "touch", "stat",
                "tty", "ls",
            ],
        )
        .expect("a busybox rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        for d in ["tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        let mut perm = std::fs::metadata(rootfs.join("tmp")).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o1777);
        std::fs::set_permissions(rootfs.join("tmp"), perm).unwrap();
        let tar = self.path("image.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success(), "tar of the image failed: {st}");
        let o = self.docker(&["import", tar.to_str().unwrap(), IMAGE]);
        assert_eq!(o.code, 0, "docker import: {}", o.stderr);
    }

    /// `docker -H <ours> ARGS`, stdin from /dev/null, output in files (a container may keep
    /// pipes open); killed and failed after [`WAIT`].
    fn docker(&self, args: &[&str]) -> Out {
        let out = tempfile::tempdir().unwrap();
        let (o, e) = (out.path().join("out"), out.path().join("err"));
        let mut child = Command::new(DOCKER)
            .arg("-H")
            .arg(format!("unix://{}", self.path("docker.sock").display()))
            .arg("--config")
            .arg(self.path("client"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .spawn()
            .unwrap();
        let st = wait_bounded(&mut child, WAIT)
            .unwrap_or_else(|| panic!("docker {args:?} hangs: killed\n{}", self.log()));
        Out {
            code: st.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(&o).unwrap_or_default(),
            stderr: std::fs::read_to_string(&e).unwrap_or_default(),
        }
    }

    /// `docker run --rm --network none --runtime RUNTIME FLAGS IMAGE CMD...`.
    fn run(&self, runtime: &str, flags: &[&str], cmd: &[&str]) -> Out {
        let mut args = vec!["run", "--rm", "--network", "none", "--runtime", runtime];
        args.extend(flags);
        args.push(IMAGE);
        args.extend(cmd);
        self.docker(&args)
    }

    /// Runs `check` with each runtime; records a difference (with both results) in `diffs`, and
    /// returns runc's result.
    fn compare<T: std::fmt::Debug + PartialEq>(
        &self,
        what: &str,
        diffs: &mut String,
        check: impl Fn(&str) -> (T, Out),
    ) -> T {
        let (want, want_out) = check(RUNTIMES[0]);
        let (got, got_out) = check(RUNTIMES[1]);
        if got != want {
            let _ = writeln!(
                diffs,
                "{what}:\n  runc:    {want:?} (stderr: {})\n  lashing: {got:?} (stderr: {})",
                want_out.stderr.trim(),
                got_out.stderr.trim()
            );
        }
        want
    }

    /// Our children that are zombies (orphans re-parented to us, then killed): reaped by pid.
    fn reap_orphans() {
        let me = std::process::id().to_string();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let mut f = rest.split(' ');
            let (state, ppid) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
            if ppid == me && state == "Z" {
                let _ = rustix::process::waitpid(
                    rustix::process::Pid::from_raw(pid),
                    rustix::process::WaitOptions::NOHANG,
                );
            }
        }
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // The containers, through the daemon (the runtimes delete their state and cgroups).
        if self.daemon.try_wait().ok().flatten().is_none() {
            let ids = self.docker(&["ps", "-aq"]).stdout;
            for id in ids.split_whitespace() {
                let _ = self.docker(&["rm", "-f", id]);
            }
        }
        // The daemon (ours, by pid): SIGTERM (it stops its containerd), SIGKILL after a while.
        let pid = rustix::process::Pid::from_child(&self.daemon);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if wait_bounded(&mut self.daemon, WAIT).is_none() {
            eprintln!("dockerd did not stop on SIGTERM: killed");
        }
        // Whatever is left in our cgroup tree (containerd, shims, containers) is killed, the
        // orphans reaped, the cgroups removed.
        for p in self.cleanup.run() {
            eprintln!("docker test cleanup: {p}");
        }
        Docker::reap_orphans();
        // Containers the runtimes still know about (a daemon killed mid-way).
        let lashing_root = self.path("exec/runtime-lashing/moby");
        if lashing_root.is_dir() {
            let o = support::lashing(&["--root", lashing_root.to_str().unwrap(), "list", "-q"]);
            for id in o.stdout.split_whitespace() {
                let _ = support::lashing(&[
                    "--root",
                    lashing_root.to_str().unwrap(),
                    "delete",
                    "--force",
                    id,
                ]);
            }
        }
        for m in self.cleanup.unmount_leaks() {
            eprintln!("docker test cleanup: detached {}", m.display());
        }
        for f in &self.host_files {
            let _ = std::fs::remove_file(f);
        }
        for d in &self.host_dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Fails with every difference found (all checks run first).
fn assert_no_diffs(diffs: &str) {
    assert!(
        diffs.is_empty(),
        "lashing differs from runc under Docker:\n{diffs}"
    );
}

#[test]
fn docker_run_output_exit_status_and_tty() {
    let Some(d) = Docker::start() else {
        return;
    };
    let mut diffs = String::new();
    let out = d.compare("run: stdout and exit status", &mut diffs, |rt| {
        let o = d.run(rt, &[], &["sh", "-c", "echo hello; echo oops >&2; exit 3"]);
        ((o.stdout.clone(), o.code), o)
    });
    assert_eq!(out, ("hello\n".to_string(), 3), "runc");
    let out = d.compare("run -t: the terminal's output", &mut diffs, |rt| {
        let o = d.run(rt, &["-t"], &["sh", "-c", "tty; echo done"]);
        ((o.stdout.clone(), o.code), o)
    });
    assert_eq!(out, ("/dev/pts/0\r\ndone\r\n".to_string(), 0), "runc");
    assert_no_diffs(&diffs);
}

#[test]
fn docker_exec_with_cap_add_and_privileged() {
    let Some(d) = Docker::start() else {
        return;
    };
    let mut diffs = String::new();
    let status = ["sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status"];
    let mut started = Vec::new();
    for rt in RUNTIMES {
        let name = format!("exec-{rt}");
        let o = d.docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--runtime",
            rt,
            "--cap-add",
            "NET_ADMIN",
            IMAGE,
            "sleep",
            "1000",
        ]);
        assert_eq!(o.code, 0, "run -d with {rt}: {}", o.stderr);
        started.push(name);
    }
    let exec = |rt: &str, flags: &[&str], cmd: &[&str]| {
        let name = format!("exec-{rt}");
        let mut args = vec!["exec"];
        args.extend(flags);
        args.push(&name);
        args.extend(cmd);
        d.docker(&args)
    };
    let caps = d.compare(
        "exec: the capabilities of --cap-add NET_ADMIN",
        &mut diffs,
        |rt| {
            let o = exec(rt, &[], &status);
            ((o.stdout.clone(), o.code), o)
        },
    );
    assert!(
        caps.0.contains("CapEff:\t00000000a80435fb"),
        "runc: {caps:?}"
    );
    d.compare("exec --user 65534: no capabilities", &mut diffs, |rt| {
        let o = exec(rt, &["--user", "65534"], &status);
        ((o.stdout.clone(), o.code), o)
    });
    // Docker asks for every capability: where the host lacks one (CAP_SYS_RESOURCE on these
    // machines) runc cannot apply them and the exec fails (126); elsewhere it gets them all.
    let privileged = d.compare("exec --privileged", &mut diffs, |rt| {
        let o = exec(rt, &["--privileged"], &status);
        let out = if o.code == 0 {
            o.stdout.clone()
        } else {
            String::new()
        };
        ((out, o.code), o)
    });
    assert!(
        privileged.1 == 126 || privileged.0.contains("CapEff:\t000001ffffffffff"),
        "runc: {privileged:?}"
    );
    for name in started {
        assert_eq!(d.docker(&["rm", "-f", &name]).code, 0);
    }
    assert_no_diffs(&diffs);
}

#[test]
fn docker_tmpfs_on_a_new_directory_is_writable_by_a_user() {
    let Some(d) = Docker::start() else {
        return;
    };
    let mut diffs = String::new();
    let out = d.compare("--tmpfs /newdir, as user 65534", &mut diffs, |rt| {
        let o = d.run(
            rt,
            &["--tmpfs", "/newdir", "--user", "65534"],
            &[
                "sh",
                "-c",
                "touch /newdir/f && echo written; stat -c %a /newdir",
            ],
        );
        ((o.stdout.clone(), o.code), o)
    });
    assert_eq!(out, ("written\n1777\n".to_string(), 0), "runc");
    assert_no_diffs(&diffs);
}

#[test]
fn docker_missing_command_exits_127_and_non_executable_126() {
    let Some(d) = Docker::start() else {
        return;
    };
    let mut diffs = String::new();
    for (cmd, want) in [
        ("/nonexistent", 127),
        ("nosuchcommand", 127),
        ("/etc/passwd", 126),
    ] {
        let code = d.compare(&format!("run {cmd}: exit status"), &mut diffs, |rt| {
            let o = d.run(rt, &[], &[cmd]);
            (o.code, o)
        });
        assert_eq!(code, want, "runc, run {cmd}");
    }
    assert_no_diffs(&diffs);
}
