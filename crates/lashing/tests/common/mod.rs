//! Shared helpers of the library's end-to-end tests: a busybox rootfs, configs with an absolute
//! cgroup path under a parent of this test process, output pipes, and cleanup.
#![allow(dead_code)]

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use lashing::config::{Config, CreateOpts, Namespace, NamespaceType};
use lashing::{Container, Process, Stdio};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The bound of the tests' poll-until-done waits: generous, for a loaded CI machine (no test
/// asserts a duration).
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The cgroup parent of this test process (under every hierarchy).
pub fn cgroup_parent() -> String {
    format!("/lashing-test-{}", std::process::id())
}

/// A named test of a `harness = false` suite.
pub type Test = (&'static str, fn());

/// Runs a suite with libtest-mimic (so nextest and `cargo test` filters work): each test is
/// ignored unless running as root; `extra` trials are added as they are. Afterwards this
/// process's test cgroups are removed, and the run fails if a test left one behind.
pub fn run_suite(suite: &str, tests: &[Test], extra: Vec<libtest_mimic::Trial>) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    let root = rustix::process::geteuid().is_root();
    let mut trials: Vec<libtest_mimic::Trial> = tests
        .iter()
        .map(|(name, f)| {
            let f = *f;
            libtest_mimic::Trial::test(format!("{suite}::{name}"), move || {
                f();
                Ok::<(), libtest_mimic::Failed>(())
            })
            .with_ignored_flag(!root)
        })
        .collect();
    trials.extend(extra);
    let conclusion = libtest_mimic::run(&args, trials);
    let leaked = cleanup_cgroups();
    if !leaked.is_empty() {
        eprintln!("cgroups left behind by the tests: {leaked:?}");
        std::process::exit(101);
    }
    conclusion.exit()
}

/// A unique container id.
pub fn unique_id(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A test environment: a temp dir with a busybox rootfs and a state root.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub id: String,
}

impl Env {
    pub fn new(prefix: &str) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("lashing-test-")
            .tempdir()
            .expect("tempdir");
        let rootfs = dir.path().join("bundle/rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("mkdir");
        }
        let bb = rootfs.join("bin/busybox");
        if std::fs::hard_link("/bin/busybox", &bb).is_err() {
            std::fs::copy("/bin/busybox", &bb)
                .expect("busybox-static must be installed (/bin/busybox)");
        }
        for app in [
            "sh", "cat", "echo", "ls", "id", "sleep", "hostname", "true", "false", "env", "pwd",
            "stat", "readlink", "grep", "touch", "mkdir", "tr", "wc", "cut", "head", "tail",
            "kill", "ps", "uname",
        ] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(app)).expect("symlink");
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").unwrap();
        Env {
            dir,
            id: unique_id(prefix),
        }
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A config like `runc spec`'s, without a terminal, writable root, with our cgroup path.
    pub fn config(&self, args: &[&str]) -> Config {
        let mut spec = lashing::config::example_spec_json();
        spec["process"]["terminal"] = false.into();
        spec["process"]["args"] = serde_json::json!(args);
        spec["root"]["readonly"] = false.into();
        spec["linux"]["cgroupsPath"] = format!("{}/{}", cgroup_parent(), self.id).into();
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        Config::from_bundle(&CreateOpts {
            bundle: self.bundle(),
            ..Default::default()
        })
        .expect("config")
    }

    pub fn create(&self, config: Config) -> Container {
        Container::create(self.root(), &self.id, config).expect("create")
    }
}

impl Drop for Env {
    /// A test that failed half-way must not leave its container behind: kill and remove it.
    fn drop(&mut self) {
        if let Ok(c) = Container::load(self.root(), &self.id) {
            let _ = c.force_destroy();
        }
    }
}

/// A pipe for a process's stdout: the process gets the write end.
pub fn output_pipe(p: &mut Process) -> OwnedFd {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    p.stdout = Stdio::Fd(w);
    r
}

/// Reads a pipe to its end.
pub fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

/// Runs `args` in a fresh container with `config` adjusted by `adjust`; returns (exit code, stdout).
pub fn run_with(prefix: &str, args: &[&str], adjust: impl FnOnce(&mut Config)) -> (i32, String) {
    let env = Env::new(prefix);
    let mut config = env.config(args);
    adjust(&mut config);
    let mut p = Process::from_config(&config.process);
    let out = output_pipe(&mut p);
    let mut c = env.create(config);
    let r = c.run(&mut p);
    if let Err(e) = r {
        let _ = c.force_destroy();
        panic!("run failed: {e}");
    }
    // Nobody else may hold the write end: drop ours (the process has its own copy).
    p.stdout = Stdio::Inherit;
    let text = read_all(out);
    let st = p.wait().unwrap();
    c.destroy().unwrap();
    (st.code(), text)
}

/// Adds a namespace (new) if missing.
pub fn add_ns(config: &mut Config, typ: NamespaceType) {
    if !config.has_namespace(typ) {
        config.namespaces.push(Namespace { typ, path: None });
    }
}

/// Removes a namespace.
pub fn remove_ns(config: &mut Config, typ: NamespaceType) {
    config.namespaces.retain(|n| n.typ != typ);
}

/// Removes this process's cgroup parents. Returns the container cgroups that were still there
/// (a leak: every test removes its own).
pub fn cleanup_cgroups() -> Vec<PathBuf> {
    let parent = cgroup_parent();
    let mut dirs = vec![Path::new("/sys/fs/cgroup").join(parent.trim_start_matches('/'))];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            dirs.push(e.path().join(parent.trim_start_matches('/')));
        }
    }
    let mut leaked = Vec::new();
    for d in dirs.iter().filter(|d| d.is_dir()) {
        if let Ok(children) = std::fs::read_dir(d) {
            for c in children.flatten().filter(|c| c.path().is_dir()) {
                leaked.push(c.path());
                let _ = std::fs::remove_dir(c.path());
            }
        }
        let _ = std::fs::remove_dir(d);
    }
    leaked
}

/// Mount points of the host whose path mentions `needle` (leaks).
pub fn host_mounts_with(needle: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let n = needle.to_string_lossy();
    text.lines()
        .filter(|l| l.contains(n.as_ref()))
        .map(|l| l.to_string())
        .collect()
}

impl Env {
    /// Like [`Env::config`], with the spec JSON edited by `edit` first; the config error (if
    /// any) is returned instead of panicking, for bad-input tests.
    pub fn config_json(
        &self,
        args: &[&str],
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> lashing::Result<Config> {
        let mut spec = lashing::config::example_spec_json();
        spec["process"]["terminal"] = false.into();
        spec["process"]["args"] = serde_json::json!(args);
        spec["root"]["readonly"] = false.into();
        spec["linux"]["cgroupsPath"] = format!("{}/{}", cgroup_parent(), self.id).into();
        edit(&mut spec);
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        Ok(Config::from_bundle(&CreateOpts {
            bundle: self.bundle(),
            ..Default::default()
        })?)
    }

    /// The container's root file system on the host.
    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }
}

/// Runs `config` to its end in a new container of `env` with stdout and stderr in one pipe.
/// Returns the error of `create`/`run` (nothing is left behind then), or (exit code, output).
pub fn try_run(env: &Env, config: Config) -> lashing::Result<(i32, String)> {
    let mut p = Process::from_config(&config.process);
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    p.stderr = Stdio::Fd(w.try_clone().unwrap());
    p.stdout = Stdio::Fd(w);
    let mut c = Container::create(env.root(), &env.id, config)?;
    if let Err(e) = c.run(&mut p) {
        let _ = c.force_destroy();
        return Err(e);
    }
    p.stdout = Stdio::Inherit;
    p.stderr = Stdio::Inherit;
    let text = read_all(r);
    let st = p.wait().unwrap();
    c.destroy().unwrap();
    Ok((st.code(), text))
}
