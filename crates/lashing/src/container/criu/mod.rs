//! Checkpoint and restore through CRIU's RPC interface, as runc's `criu_linux.go`: every action
//! starts `criu swrk` with a socketpair (`swrk.rs`) and sends one `rpc.proto` request (`rpc/`
//! over the hand-written protobuf codec `wire.rs`); CRIU answers with notifications
//! (`setup-namespaces`, `post-restore`, `orphan-pts-master`, `status-ready`, ...) that lashing
//! acts on, then with the result. Restore is in `restore.rs`, what both share in `common.rs`.
//!
//! As runc does, the bind mounts, device nodes, masked files and (v1 without a cgroup namespace)
//! the cgroup hierarchies' binds are declared external mounts, a network or pid namespace
//! given by path is an external namespace, CRIU freezes the tree with the container's freezer
//! cgroup, and the init's stdio are recorded in `descriptors.json` of the image directory so
//! that a restore can hand its own stdio to the restored process (`inherit_fd`).
//!
//! Nothing here runs for a container that is not checkpointed or restored.

mod common;
mod error;
mod restore;
mod rpc;
mod swrk;
mod wire;

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

pub use common::{CriuOpts, ManageCgroupsMode, criu_version};
pub use error::CriuError;
pub use restore::RestoreOpts;
pub use wire::WireError;

use super::{Container, Status};
use crate::config::NamespaceType;
use crate::error::Error;
use crate::state;
use common::{
    DESCRIPTORS, MIN_VERSION, check_features, dest_key, ext_ns_key, external_mounts, mkdir,
    require_version,
};
use rpc::{Features, ReqType, Request};
use swrk::{CriuStdio, Session};

/// The CRIU log of a dump, in the work directory.
const DUMP_LOG: &str = "dump.log";

/// The options of [`Container::checkpoint`].
#[derive(Debug, Default)]
pub struct CheckpointOpts {
    /// The shared options.
    pub criu: CriuOpts,
    /// Leave the container running after the dump (`--leave-running`).
    pub leave_running: bool,
    /// Dump the memory only, leaving the container running (`--pre-dump`).
    pub pre_dump: bool,
    /// The previous (pre-)dump, relative to the image directory (`--parent-path`).
    pub parent_path: Option<PathBuf>,
    /// The page server to send the pages to (`--page-server ADDRESS:PORT`).
    pub page_server: Option<(String, i32)>,
    /// Where a `\0` is written once the lazy pages are ready to be served (`--status-fd`).
    pub status_fd: Option<OwnedFd>,
}

impl Container {
    /// Checkpoints the running (or paused) container into `opts.criu.image_path` (runc's
    /// `Checkpoint`). Without `leave_running` (or `pre_dump`), CRIU kills the container's
    /// processes once they are dumped (`runc checkpoint` destroys it next). A created or
    /// stopped container is refused.
    pub fn checkpoint(&mut self, opts: &mut CheckpointOpts) -> Result<(), CriuError> {
        let _lock = state::lock(&self.dir)?;
        let status = self.status();
        if matches!(status, Status::Created | Status::Stopped) {
            return Err(CriuError::Option(format!(
                "Container cannot be checkpointed in {status} state"
            )));
        }
        let version = criu_version()?;
        require_version(version, MIN_VERSION, "")?;
        let image = opts.criu.image_path.clone();
        mkdir("create checkpoint image directory", &image)?;
        if let Some(parent) = &opts.parent_path {
            if parent.is_absolute() {
                return Err(CriuError::Option("--parent-path must be relative".into()));
            }
            let real = image.join(parent);
            match fs::metadata(&real) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(CriuError::Option(format!(
                        "invalid --parent-path: stat {}: not a directory",
                        real.display()
                    )));
                }
                Err(e) => {
                    return Err(CriuError::Option(format!(
                        "invalid --parent-path: stat {}: {e}",
                        real.display()
                    )));
                }
            }
        }
        let config = &self.state.config;
        let (mut o, _dirs) = opts.criu.rpc_opts(config, DUMP_LOG)?;
        let pid = self.state.init_process_pid;
        o.pid = Some(pid);
        o.root = Some(config.rootfs.display().to_string());
        o.leave_running = opts.leave_running;
        for t in [NamespaceType::Network, NamespaceType::Pid] {
            if let Some(path) = config
                .namespaces
                .iter()
                .find(|n| n.typ == t)
                .and_then(|n| n.path.as_ref())
            {
                let st = rustix::fs::stat(path).map_err(|e| Error::io("stat", path, e))?;
                o.external.push(format!(
                    "{}[{}]:{}",
                    t.proc_name(),
                    st.st_ino,
                    ext_ns_key(t)
                ));
            }
        }
        // CRIU freezes with the freezer cgroup (v2: CRIU >= 3.14), else with ptrace.
        let unified = lashing_cgroups::detect() == lashing_cgroups::CgroupMode::Unified;
        let freezer = if unified {
            self.cgroup.path("")
        } else {
            self.cgroup.path("freezer")
        };
        if let Some(f) = freezer.filter(|_| !unified || version >= 31400) {
            o.freeze_cgroup = Some(f.display().to_string());
        }
        o.page_server = opts.page_server.clone();
        if let Some(p) = &opts.parent_path {
            o.parent_img = Some(p.display().to_string());
            o.track_mem = true;
        }
        let typ = if opts.pre_dump {
            check_features(Features {
                mem_track: Some(true),
                lazy_pages: None,
            })?;
            ReqType::PreDump
        } else {
            ReqType::Dump
        };
        if opts.criu.lazy_pages {
            check_features(Features {
                mem_track: None,
                lazy_pages: Some(true),
            })?;
            if version < 31500 {
                // Older CRIUs write the status byte themselves (through our fd table).
                o.status_fd = opts.status_fd.as_ref().map(AsRawFd::as_raw_fd);
            }
        }
        if !opts.pre_dump {
            for (dest, _) in external_mounts(self) {
                o.ext_mnt.push((dest.clone(), dest));
            }
            for p in &config.masked_paths {
                // Files only: a masked directory is a read-only tmpfs, dumped with the rest.
                let host = format!("/proc/{pid}/root/{}", p.display());
                match fs::metadata(&host) {
                    Ok(m) if !m.is_dir() => o.ext_mnt.push((dest_key(p), "/dev/null".into())),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("stat masked path", host, e).into()),
                }
            }
            let (descriptors, external) = common::stdio_descriptors(pid);
            o.external.extend(external);
            let path = image.join(DESCRIPTORS);
            let json = serde_json::to_vec(&descriptors).map_err(|e| Error::State {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            fs::write(&path, json).map_err(|e| Error::io("write", &path, e))?;
        }
        let mut req = Request::new(typ);
        req.opts = Some(o);
        let s = Session {
            action: if opts.pre_dump { "pre-dump" } else { "dump" },
            log: Some(opts.criu.work_dir().join(DUMP_LOG)),
            stdio: CriuStdio::Null,
            extra_fds: Vec::new(),
        };
        let status_fd = &mut opts.status_fd;
        swrk::call(&s, &mut req, &mut |_, _| Ok(()), &mut |n, _| {
            if n.script == "status-ready"
                && let Some(fd) = status_fd.take()
            {
                // The lazy-pages server is ready: tell whoever waits on --status-fd.
                if let Err(e) = rustix::io::write(&fd, &[0]) {
                    tracing::warn!("can't write \\0 to status fd: {e}");
                }
            }
            Ok(())
        })?;
        Ok(())
    }
}
