//! Restore (runc's `Restore`): a new container is created from a bundle's configuration, its
//! rootfs prepared as runc's `prepareCriuRestoreMounts` does and bind-mounted for CRIU at
//! `<state dir>/criu-root`, CRIU is put into the container's cgroup (through the systemd unit
//! with the systemd driver) and restores the tree as its sibling (our child); the OCI prestart
//! and createRuntime hooks run at CRIU's `setup-namespaces`, and the restored init is recorded at
//! `post-restore`.

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::mount::UnmountFlags;

use super::common::{
    CriuOpts, DESCRIPTORS, MIN_VERSION, criu_version, ext_ns_key, external_mounts, require_version,
};
use super::error::CriuError;
use super::rpc::{ReqType, Request};
use super::swrk::{self, CriuStdio, Session};
use crate::config::{Config, HookKind, NamespaceType};
use crate::container::Container;
use crate::error::Error;
use crate::state;

/// The CRIU log of a restore, in the work directory.
const RESTORE_LOG: &str = "restore.log";

/// The options of [`Container::restore`].
#[derive(Debug, Default)]
pub struct RestoreOpts {
    /// The shared options.
    pub criu: CriuOpts,
    /// Where the master of a restored terminal goes (`--console-socket`, a connected socket).
    pub console_socket: Option<OwnedFd>,
    /// `--lsm-profile TYPE:LABEL` (CRIU >= 3.16).
    pub lsm_profile: Option<String>,
    /// `--lsm-mount-context` (CRIU >= 3.16).
    pub lsm_mount_context: Option<String>,
    /// The restored process's stdin, stdout and stderr in place of the checkpointed pipes
    /// (none: the caller's own, as `lashing restore`; containerd's shim gives the task's).
    pub stdio: Option<[OwnedFd; 3]>,
}

/// Mounts made for the restore, undone (lazily detached) on drop.
struct Undo {
    /// Binds into the rootfs (container paths), for mountpoints inside them.
    binds: Vec<PathBuf>,
    /// The rootfs's bind for CRIU and its directory.
    criu_root: Option<PathBuf>,
    rootfs: PathBuf,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Ok(root) = crate::rootfs::Root::open(&self.rootfs) {
            for b in self.binds.iter().rev() {
                if let Ok(fd) = root.open_path(b) {
                    match rustix::mount::unmount(
                        crate::rootfs::fd_path(fd.as_fd()).as_str(),
                        UnmountFlags::DETACH,
                    ) {
                        Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                        Err(e) => tracing::warn!("unmount {} after restore: {e}", b.display()),
                    }
                }
            }
        }
        if let Some(r) = &self.criu_root {
            let _ = rustix::mount::unmount(r, UnmountFlags::DETACH);
            let _ = fs::remove_dir(r);
        }
    }
}

/// runc's `isPathInPrefixList`: `path` is below one of `prefixes`.
fn under_any(path: &Path, prefixes: &[PathBuf]) -> bool {
    prefixes.iter().any(|p| path.starts_with(p) && path != p)
}

/// runc's `prepareCriuRestoreMounts`: the mountpoints CRIU needs, created in the rootfs as
/// `create` would (not below a tmpfs: CRIU restores its content); a bind mount is mounted for
/// the time of the restore, so that the mountpoints of mounts inside it exist too.
fn prepare_mounts(config: &Config, undo: &mut Undo) -> Result<(), CriuError> {
    let tmpfs: Vec<PathBuf> = config
        .mounts
        .iter()
        .filter(|m| m.device == "tmpfs")
        .map(|m| crate::rootfs::clean_path(&m.destination))
        .collect();
    let prep = |e: crate::rootfs::RootfsError| CriuError::Prepare(crate::error::chain(&e));
    let root = crate::rootfs::Root::open(&config.rootfs).map_err(prep)?;
    for m in &config.mounts {
        let dest = crate::rootfs::clean_path(&m.destination);
        if m.device == "cgroup" || under_any(&dest, &tmpfs) {
            continue;
        }
        let file_source = m.is_bind() && fs::metadata(&m.source).is_ok_and(|s| !s.is_dir());
        let target = root.open_or_create(&dest, !file_source).map_err(prep)?;
        if m.is_bind() {
            crate::rootfs::clone_tree(rustix::fs::CWD, Path::new(&m.source), true)
                .and_then(|t| crate::rootfs::attach(t.as_fd(), target.as_fd()))
                .map_err(|e| Error::io("bind mount for restore", &m.source, e))?;
            undo.binds.push(dest);
        }
    }
    Ok(())
}

/// `(controller, path)` of every line of `/proc/<pid>/cgroup` (runc's `ParseCgroupFile`: one
/// entry per controller of a v1 line, `""` for v2).
fn cgroup_roots(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        for c in ctrls.split(',') {
            out.push((c.to_string(), path.to_string()));
        }
    }
    out
}

impl Container {
    /// Restores a container `id` under the state root `root` from the checkpoint
    /// `opts.criu.image_path`, with the configuration `config` (that of the checkpointed
    /// container's bundle, or of a new bundle with the same rootfs content): runc's `Restore`.
    /// The restored init is a child of the caller (CRIU's `rst_sibling`) with the caller's
    /// stdio in place of the checkpointed pipes. On failure nothing is left behind.
    pub fn restore(
        root: impl AsRef<Path>,
        id: &str,
        config: Config,
        opts: &RestoreOpts,
    ) -> Result<Container, CriuError> {
        let mut c = Container::create(root, id, config)?;
        match c.restore_into(opts) {
            Ok(()) => Ok(c),
            Err(e) => {
                c.kill_restored();
                let _ = c.cgroup.destroy();
                if let Some(rdt) = &c.state.config.intel_rdt {
                    let _ = crate::rdt::remove(&c.state.id, rdt);
                }
                let _ = fs::remove_dir_all(&c.dir);
                Err(e)
            }
        }
    }

    /// Restores into this container, just made by [`Container::create`] and not started
    /// (containerd's shim creates at `Create` and restores at `Start`, as the runc v2 shim runs
    /// `runc restore` then). On failure what the restore started is killed and the container
    /// is left as created, for the caller to destroy.
    pub fn restore_created(&mut self, opts: &RestoreOpts) -> Result<(), CriuError> {
        if self.state.init_process_pid != 0 {
            return Err(CriuError::Option(format!(
                "container {} already has an init process",
                self.state.id
            )));
        }
        let r = self.restore_into(opts);
        if r.is_err() {
            self.kill_restored();
            self.state.init_process_pid = 0;
            self.state.init_process_start = 0;
            let _ = self.state.save(&self.dir);
        }
        r
    }

    /// Kills what a failed restore left running: the cgroup's processes, the recorded init,
    /// the systemd unit.
    fn kill_restored(&mut self) {
        if self.cgroup.exists() {
            let _ = self.cgroup.kill_all(libc::SIGKILL);
        }
        if self.state.init_process_pid > 0 {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(self.state.init_process_pid).expect("positive"),
                rustix::process::Signal::KILL,
            );
        }
        if let Some(unit) = &self.state.systemd {
            let _ = super::super::systemd::stop(unit);
        }
    }

    fn restore_into(&mut self, opts: &RestoreOpts) -> Result<(), CriuError> {
        let _lock = state::lock(&self.dir)?;
        let version = criu_version()?;
        require_version(version, MIN_VERSION, "")?;
        let image = &opts.criu.image_path;
        if !image.join("inventory.img").is_file() {
            return Err(Error::io(
                "find checkpoint image",
                image.join("inventory.img"),
                io::Error::from(io::ErrorKind::NotFound),
            )
            .into());
        }
        let desc_path = image.join(DESCRIPTORS);
        let text = fs::read(&desc_path).map_err(|e| Error::io("read", &desc_path, e))?;
        let descriptors: Vec<String> = serde_json::from_slice(&text).map_err(|e| Error::State {
            path: desc_path.clone(),
            reason: e.to_string(),
        })?;
        let config = self.state.config.clone();
        let (mut o, _dirs) = opts.criu.rpc_opts(&config, RESTORE_LOG)?;
        o.evasive_devices = true;
        o.rst_sibling = true;
        for (what, v) in [
            ("--lsm-profile", &opts.lsm_profile),
            ("--lsm-mount-context", &opts.lsm_mount_context),
        ] {
            if v.is_some() && version < 31600 {
                return Err(CriuError::Option(format!(
                    "{what} requires at least CRIU 3.16"
                )));
            }
        }
        o.lsm_profile = opts.lsm_profile.clone();
        o.lsm_mount_context = opts.lsm_mount_context.clone();
        // Namespaces given by path: net and pid are external (an fd CRIU inherits), the others
        // are joined.
        let mut ns_files: Vec<fs::File> = Vec::new();
        for ns in &config.namespaces {
            let Some(path) = &ns.path else { continue };
            match ns.typ {
                NamespaceType::Network | NamespaceType::Pid => {
                    let need = if ns.typ == NamespaceType::Network {
                        31100
                    } else {
                        31500
                    };
                    require_version(version, need, "external namespaces")?;
                    let f = fs::File::open(path)
                        .map_err(|e| Error::io("open the namespace to restore into", path, e))?;
                    o.inherit_fd
                        .push((ext_ns_key(ns.typ).into(), 4 + ns_files.len() as i32));
                    ns_files.push(f);
                }
                NamespaceType::Cgroup => {
                    return Err(CriuError::Option(
                        "Do not know how to handle namespace cgroup".into(),
                    ));
                }
                t => o
                    .join_ns
                    .push((t.proc_name().into(), path.display().to_string())),
            }
        }
        // CRIU wants a root that is a mount point whose parent is not overmounted.
        let mut undo = Undo {
            binds: Vec::new(),
            criu_root: None,
            rootfs: config.rootfs.clone(),
        };
        let criu_root = self.dir.join("criu-root");
        fs::create_dir(&criu_root).map_err(|e| Error::io("create", &criu_root, e))?;
        undo.criu_root = Some(criu_root.clone());
        rustix::mount::mount_bind_recursive(&config.rootfs, &criu_root)
            .map_err(|e| Error::io("bind mount the rootfs for CRIU", &criu_root, e))?;
        o.root = Some(criu_root.display().to_string());
        prepare_mounts(&config, &mut undo)?;
        o.ext_mnt = external_mounts(self);
        if !config.masked_paths.is_empty() {
            o.ext_mnt.push(("/dev/null".into(), "/dev/null".into()));
        }
        for (i, d) in descriptors.iter().enumerate() {
            if super::common::inherited(d) {
                o.inherit_fd.push((d.clone(), i as i32));
            }
        }
        self.state.cgroup_owned = true;
        self.state.save(&self.dir)?;
        self.cgroup.create().map_err(Error::from)?;
        let mut req = Request::new(ReqType::Restore);
        req.opts = Some(o);
        let s = Session {
            action: "restore",
            log: Some(opts.criu.work_dir().join(RESTORE_LOG)),
            stdio: match &opts.stdio {
                Some([i, o, e]) => CriuStdio::Fds([i.as_fd(), o.as_fd(), e.as_fd()]),
                None => CriuStdio::Inherit,
            },
            extra_fds: ns_files.iter().map(AsFd::as_fd).collect(),
        };
        let resp = {
            let this = &*self;
            let mut spawned = |criu: i32, req: &mut Request| -> Result<(), CriuError> {
                this.restore_cgroup(criu, req)
            };
            // The notifications need the container too: collect what they report and act
            // in order (hooks need the state as it is at that point).
            let console = opts.console_socket.as_ref();
            let mut notify =
                |n: &super::rpc::Notify, fd: Option<OwnedFd>| -> Result<(), CriuError> {
                    match n.script.as_str() {
                        "setup-namespaces" => {
                            this.run_hooks(HookKind::Prestart, Some(n.pid))?;
                            this.run_hooks(HookKind::CreateRuntime, Some(n.pid))?;
                        }
                        "post-restore" => {
                            // Recorded at once: a failure from here kills it.
                            if let Some((_, start)) = state::proc_stat(n.pid) {
                                let mut st = this.state.clone();
                                st.init_process_pid = n.pid;
                                st.init_process_start = start;
                                st.save(&this.dir)?;
                            }
                        }
                        "orphan-pts-master" => {
                            let Some(master) = fd else {
                                return Err(CriuError::RestoredPid(
                                    "orphan-pts-master without a file descriptor".into(),
                                ));
                            };
                            let Some(sock) = console else {
                                return Err(CriuError::Option(
                                    "the restored container has a terminal: --console-socket is \
                                 needed"
                                        .into(),
                                ));
                            };
                            crate::tty::send_fd(sock.as_fd(), "orphan-pts-master", master.as_fd())
                                .map_err(|e| CriuError::Rpc {
                                    op: "send the terminal's master to the console socket",
                                    source: e,
                                })?;
                        }
                        _ => {}
                    }
                    Ok(())
                };
            swrk::call(&s, &mut req, &mut spawned, &mut notify)
        };
        // Whatever happened, the record of post-restore is on disk: read it back so cleanup
        // can kill the process.
        if let Ok(st) = state::State::load(&self.dir) {
            self.state.init_process_pid = st.init_process_pid;
            self.state.init_process_start = st.init_process_start;
        }
        let resp = resp?;
        drop(undo);
        let pid = resp
            .restored_pid
            .filter(|&p| p > 0)
            .or((self.state.init_process_pid > 0).then_some(self.state.init_process_pid))
            .ok_or_else(|| CriuError::RestoredPid("no pid in CRIU's response".into()))?;
        let (_, start) = state::proc_stat(pid)
            .ok_or_else(|| CriuError::RestoredPid(format!("process {pid} is gone")))?;
        if let Some(rdt) = &self.state.config.intel_rdt {
            crate::rdt::place(&self.state.id, rdt, pid, true).map_err(Error::from)?;
        }
        let st = &mut self.state;
        st.init_process_pid = pid;
        st.init_process_start = start;
        st.namespace_paths = st.derived_namespace_paths();
        st.creator = None;
        st.save(&self.dir)?;
        Ok(())
    }

    /// runc's `criuApplyCgroups`: CRIU itself goes into the container's cgroup (through the
    /// systemd unit when the driver is used), the resources are set, and CRIU is told to
    /// restore the tree there.
    fn restore_cgroup(&self, criu: i32, req: &mut Request) -> Result<(), CriuError> {
        self.cgroup.add_pid(criu, false).map_err(Error::from)?;
        if let Some(unit) = &self.state.systemd {
            let c = &self.state;
            let devices = super::super::cgroups::device_rules(&c.config);
            super::super::systemd::start_unit(&c.config, &c.id, unit, criu, devices.as_deref())?;
        }
        super::super::cgroups::apply_resources(self)?;
        let path = format!("/proc/{criu}/cgroup");
        let text = fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        if let Some(o) = req.opts.as_mut() {
            o.cg_root = cgroup_roots(&text);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::dest_key;
    use super::*;

    #[test]
    fn cgroup_roots_as_runc_parses_them() {
        let text = "12:cpu,cpuacct:/a/b\n1:name=systemd:/s\n0::/u\n";
        assert_eq!(
            cgroup_roots(text),
            [
                ("cpu".to_string(), "/a/b".to_string()),
                ("cpuacct".into(), "/a/b".into()),
                ("name=systemd".into(), "/s".into()),
                ("".into(), "/u".into()),
            ]
        );
    }

    #[test]
    fn tmpfs_prefixes() {
        let t = vec![PathBuf::from("/run"), PathBuf::from("/dev")];
        assert!(under_any(Path::new("/run/x"), &t));
        assert!(!under_any(Path::new("/run"), &t));
        assert!(!under_any(Path::new("/running"), &t));
    }

    #[test]
    fn dest_keys_are_clean() {
        assert_eq!(dest_key(Path::new("/a//b/../c/")), "/a/c");
    }
}
