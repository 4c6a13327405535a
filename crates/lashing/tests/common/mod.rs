//! What the library's end-to-end suites (`lifecycle.rs`, `security.rs`) need beyond
//! `lashing_testsupport` (which provides the rootfs, the suite runner, the cgroup parent, waits):
//! [`Env`] (a bundle and state root for `Container`, destroyed on drop), configs through
//! `Config::from_bundle`, and runs of a process with its output.
#![allow(dead_code, unused_imports)]

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use lashing::config::{Config, CreateOpts, Namespace, NamespaceType};
use lashing::{Container, Process, Stdio};
pub use lashing_testsupport::{
    Test, WAIT, host_mounts_with, run_suite, status_field, suite_cgroup_parent as cgroup_parent,
    unique_id,
};

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
        std::fs::create_dir_all(&rootfs)
            .and_then(|()| lashing_testsupport::populate_busybox(&rootfs))
            .unwrap_or_else(|e| panic!("cannot make the rootfs {}: {e}", rootfs.display()));
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
        self.config_json(args, |_| {}).expect("config")
    }

    pub fn create(&self, config: Config) -> Container {
        Container::create(self.root(), &self.id, config).expect("create")
    }
}

impl Drop for Env {
    /// A test that failed half-way must not leave its container behind: kill and remove it (a
    /// container that was never created or is gone already is fine).
    fn drop(&mut self) {
        if let Ok(c) = Container::load(self.root(), &self.id)
            && let Err(e) = c.force_destroy()
        {
            eprintln!("cannot destroy the container {}: {e}", self.id);
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
        spec["linux"]["cgroupsPath"] = self.cgroups_path().into();
        edit(&mut spec);
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        let mut config = Config::from_bundle(&CreateOpts {
            bundle: self.bundle(),
            ..Default::default()
        })?;
        config.cgroup.systemd = lashing_testsupport::systemd::enabled();
        Ok(config)
    }

    /// The container's `cgroupsPath`: `<suite parent>/<id>`, or with the systemd driver forced on
    /// (`LASHING_TEST_CGROUP_DRIVER=systemd`) `system.slice:lashing-test:lib-<id>`.
    pub fn cgroups_path(&self) -> String {
        if lashing_testsupport::systemd::enabled() {
            lashing_testsupport::systemd::cgroups_path(&format!("lib-{}", self.id))
        } else {
            format!("{}/{}", cgroup_parent(), self.id)
        }
    }

    /// The container's cgroup relative to every hierarchy's root (what `/proc/PID/cgroup`
    /// shows): [`Env::cgroups_path`] with the fs driver, the unit's cgroup with systemd's.
    pub fn cgroup_dir(&self) -> String {
        if lashing_testsupport::systemd::enabled() {
            lashing_testsupport::systemd::cgroup(&format!("lib-{}", self.id))
        } else {
            self.cgroups_path()
        }
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
