//! Checkpoint and restore through CRIU's RPC interface, as runc's `criu_linux.go`: every action
//! starts `criu swrk` with a socketpair (`swrk.rs`) and sends one `rpc.proto` request (`rpc.rs`
//! over the hand-written protobuf codec `wire.rs`); CRIU answers with notifications
//! (`setup-namespaces`, `post-restore`, `orphan-pts-master`, `status-ready`, ...) that lashing
//! acts on, then with the result. Restore is in `restore.rs`.
//!
//! As runc does, the bind mounts, device nodes, masked files and (v1 without a cgroup namespace)
//! the cgroup hierarchies' binds are declared external mounts, a network or pid namespace
//! given by path is an external namespace, CRIU freezes the tree with the container's freezer
//! cgroup, and the init's stdio are recorded in `descriptors.json` of the image directory so
//! that a restore can hand its own stdio to the restored process (`inherit_fd`).
//!
//! Nothing here runs for a container that is not checkpointed or restored.

mod restore;
mod rpc;
mod swrk;
mod wire;

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub use restore::RestoreOpts;
pub use wire::WireError;

use super::{Container, Status};
use crate::config::{Config, NamespaceType};
use crate::error::Error;
use crate::state;
use rpc::{CgMode, Features, ReqType, Request};
use swrk::{CriuStdio, Session};

/// The file of the image directory that records the init's stdio (as runc's).
const DESCRIPTORS: &str = "descriptors.json";
/// The CRIU log of a dump, in the work directory.
const DUMP_LOG: &str = "dump.log";
/// The oldest CRIU lashing talks to: 3.0 has the `VERSION` request (runc's minimum too).
const MIN_VERSION: i32 = 30000;
/// CRIU's configuration file for containers without an `org.criu.config` annotation. runc's
/// file: a CRIU set up for runc is set up for lashing.
const DEFAULT_CONFIG_FILE: &str = "/etc/criu/runc.conf";

/// What can go wrong in a checkpoint or a restore.
#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    /// The `criu` program is not installed.
    #[error("criu not found in PATH")]
    NotFound,
    /// `criu swrk` could not be started.
    #[error("start criu swrk for {action}")]
    Spawn {
        /// `dump`, `restore`, `version check`, ...
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The RPC socket failed.
    #[error("criu rpc: {op}")]
    Rpc {
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// CRIU sent a message that is not a valid `criu_resp`.
    #[error("criu rpc: bad response")]
    Decode(#[source] WireError),
    /// CRIU ran and failed; the error quotes the lines of its log around each `Error` (as runc
    /// logs them) or, without any, its last lines.
    #[error("criu {action} failed: {what}{}{}", errno.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(),
        if log.is_empty() { String::new() } else { format!("; quoting {log}:\n{quote}") })]
    Failed {
        /// `dump`, `pre-dump`, `restore`, ...
        action: &'static str,
        /// What CRIU reported.
        what: String,
        /// CRIU's errno, as text.
        errno: Option<String>,
        /// Its log file (empty for checks).
        log: String,
        /// The quoted lines.
        quote: String,
    },
    /// The installed CRIU is too old for what is asked.
    #[error("CRIU version {have} must be {need} or higher{}", if what.is_empty() { String::new() } else { format!(" ({what})") })]
    Version {
        /// The installed version (runc's number: 3.17.1 is 31701).
        have: i32,
        /// The version needed.
        need: i32,
        /// What needs it.
        what: &'static str,
    },
    /// The installed CRIU (or kernel) lacks features the options need.
    #[error("criu is missing features: {0:?}")]
    MissingFeatures(Vec<&'static str>),
    /// An option is invalid.
    #[error("{0}")]
    Option(String),
    /// The rootfs could not be prepared for the restore (mountpoints, binds).
    #[error("prepare the rootfs for restore: {0}")]
    Prepare(String),
    /// The restored process could not be found after the restore.
    #[error("criu restore reported no usable pid: {0}")]
    RestoredPid(String),
    /// A container or file operation failed.
    #[error(transparent)]
    Container(#[from] Error),
}

/// `--manage-cgroups-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageCgroupsMode {
    /// `soft`.
    Soft,
    /// `full`.
    Full,
    /// `strict`.
    Strict,
    /// `ignore`.
    Ignore,
}

impl std::str::FromStr for ManageCgroupsMode {
    type Err = CriuError;
    fn from_str(s: &str) -> Result<Self, CriuError> {
        match s {
            "soft" => Ok(Self::Soft),
            "full" => Ok(Self::Full),
            "strict" => Ok(Self::Strict),
            "ignore" => Ok(Self::Ignore),
            _ => Err(CriuError::Option(
                "Invalid manage-cgroups-mode value".into(),
            )),
        }
    }
}

/// The options CRIU's dump and restore share (runc's `CriuOpts`).
#[derive(Debug, Default)]
pub struct CriuOpts {
    /// The image directory (created by a checkpoint if missing).
    pub image_path: PathBuf,
    /// Where CRIU writes its log and work files (default: the image directory).
    pub work_path: Option<PathBuf>,
    /// Allow established TCP connections (`--tcp-established`).
    pub tcp_established: bool,
    /// Allow external unix sockets (`--ext-unix-sk`).
    pub ext_unix_sk: bool,
    /// Allow shell jobs (`--shell-job`).
    pub shell_job: bool,
    /// Handle file locks (`--file-locks`).
    pub file_locks: bool,
    /// `--manage-cgroups-mode` (CRIU's default when unset).
    pub manage_cgroups_mode: Option<ManageCgroupsMode>,
    /// `--empty-ns`: namespaces created empty on restore. The network namespace always is
    /// (runc does not manage network devices), so only [`NamespaceType::Network`] is accepted.
    pub empty_ns: Vec<NamespaceType>,
    /// `--auto-dedup`.
    pub auto_dedup: bool,
    /// `--lazy-pages` (userfaultfd).
    pub lazy_pages: bool,
}

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

impl CriuOpts {
    fn work_dir(&self) -> &Path {
        self.work_path.as_deref().unwrap_or(&self.image_path)
    }

    /// `empty_ns` as CRIU's flags: the network namespace (runc's rule), unless the container
    /// joins one by path: CRIU then neither dumps nor creates it (an external namespace), and an
    /// "empty" one would make the restore lock the network of that namespace a second time,
    /// so that CRIU 3.17 cannot unlock it (its `iptables-restore` fails with status 4 and every
    /// restored connection stays blocked).
    fn empty_ns_flags(&self, config: &Config) -> Result<u32, CriuError> {
        let joined = config
            .namespaces
            .iter()
            .any(|n| n.typ == NamespaceType::Network && n.path.is_some());
        let mut flags = if joined { 0 } else { libc::CLONE_NEWNET as u32 };
        for ns in &self.empty_ns {
            if *ns != NamespaceType::Network {
                return Err(CriuError::Option(format!(
                    "namespace {:?} is not supported",
                    ns.oci_name()
                )));
            }
            flags |= ns.clone_flag() as u32;
        }
        Ok(flags)
    }

    fn cg_mode(&self) -> CgMode {
        match self.manage_cgroups_mode {
            None => CgMode::Default,
            Some(ManageCgroupsMode::Soft) => CgMode::Soft,
            Some(ManageCgroupsMode::Full) => CgMode::Full,
            Some(ManageCgroupsMode::Strict) => CgMode::Strict,
            Some(ManageCgroupsMode::Ignore) => CgMode::Ignore,
        }
    }

    /// The options of both actions; the directories' fds are the caller's (CRIU opens them
    /// through our `/proc/<pid>/fd`), kept open by the returned handles.
    fn rpc_opts(&self, config: &Config, log: &str) -> Result<(rpc::Opts, Vec<OwnedFd>), CriuError> {
        let dir = |p: &Path| {
            rustix::fs::open(
                p,
                rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| CriuError::from(Error::io("open", p, e)))
        };
        let images = dir(&self.image_path)?;
        let mut opts = rpc::Opts {
            images_dir_fd: images.as_raw_fd(),
            log_level: Some(4),
            log_file: Some(log.into()),
            manage_cgroups: true,
            manage_cgroups_mode: Some(self.cg_mode()),
            notify_scripts: true,
            shell_job: self.shell_job,
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            file_locks: self.file_locks,
            empty_ns: Some(self.empty_ns_flags(config)?),
            orphan_pts_master: true,
            auto_dedup: self.auto_dedup,
            lazy_pages: self.lazy_pages,
            config_file: config_file(config),
            ..Default::default()
        };
        let mut fds = vec![images];
        if let Some(w) = &self.work_path {
            mkdir("create CRIU work directory", w)?;
            let fd = dir(w)?;
            opts.work_dir_fd = Some(fd.as_raw_fd());
            fds.push(fd);
        }
        Ok((opts, fds))
    }
}

/// runc's `org.criu.config` annotation: a file of its own, none (empty), or the default.
fn config_file(config: &Config) -> Option<String> {
    match config.annotations.get("org.criu.config") {
        Some(f) if f.is_empty() => None,
        Some(f) => Some(f.clone()),
        None => Some(DEFAULT_CONFIG_FILE.into()),
    }
}

/// Asks CRIU for its version (runc's number: 3.17.1 is 31701).
pub fn criu_version() -> Result<i32, CriuError> {
    let s = Session {
        action: "version check",
        log: None,
        stdio: CriuStdio::Null,
        extra_fds: Vec::new(),
    };
    let mut req = Request::new(ReqType::Version);
    let resp = swrk::call(&s, &mut req, &mut |_, _| Ok(()), &mut |_, _| Ok(()))?;
    let v = resp.version.ok_or(CriuError::Decode(WireError::Field {
        field: 10,
        what: "VERSION response without criu_version",
    }))?;
    tracing::debug!(version = v.number(), gitid = ?v.gitid, "criu: version");
    Ok(v.number())
}

/// Fails unless the installed CRIU is at least `need`.
fn require_version(have: i32, need: i32, what: &'static str) -> Result<(), CriuError> {
    if have < need {
        return Err(CriuError::Version { have, need, what });
    }
    Ok(())
}

/// Checks that CRIU and the kernel support `want` (runc's `checkCriuFeatures`).
fn check_features(want: Features) -> Result<(), CriuError> {
    let s = Session {
        action: "feature check",
        log: None,
        stdio: CriuStdio::Null,
        extra_fds: Vec::new(),
    };
    let mut req = Request::new(ReqType::FeatureCheck);
    req.features = Some(want);
    let resp = swrk::call(&s, &mut req, &mut |_, _| Ok(()), &mut |_, _| Ok(()))?;
    let have = resp.features.unwrap_or_default();
    let mut missing = Vec::new();
    if want.mem_track == Some(true) && have.mem_track == Some(false) {
        missing.push("MemTrack");
    }
    if want.lazy_pages == Some(true) && have.lazy_pages == Some(false) {
        missing.push("LazyPages");
    }
    if !missing.is_empty() {
        return Err(CriuError::MissingFeatures(missing));
    }
    Ok(())
}

/// The lines of a CRIU log worth showing: each line with `Error` and up to five lines before
/// it (runc's `logCriuErrors`, with `...` for a gap), at most 60 lines; a log without any
/// `Error` shows its last 12 lines.
pub(crate) fn log_quote(path: &Path) -> String {
    let Ok(text) = fs::read_to_string(path) else {
        return format!("(cannot read {})", path.display());
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut printed = 0usize; // 1-based number of the last line shown
    for (i, l) in lines.iter().enumerate() {
        if !l.contains("Error") {
            continue;
        }
        let first = (i + 1).saturating_sub(5).max(printed + 1).max(1);
        if printed != 0 && first > printed + 1 {
            out.push("...".into());
        }
        for n in first..=i + 1 {
            out.push(format!("{n}:{}", lines[n - 1]));
        }
        printed = i + 1;
    }
    if out.is_empty() {
        let from = lines.len().saturating_sub(12);
        out = lines[from..].iter().map(|l| l.to_string()).collect();
    }
    if out.len() > 60 {
        out.drain(..out.len() - 60);
    }
    out.join("\n")
}

fn mkdir(what: &'static str, path: &Path) -> Result<(), CriuError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(what, path, e).into())
}

/// runc's key of an external namespace: `extRootNetNS`, `extRootPidNS`.
fn ext_ns_key(t: NamespaceType) -> &'static str {
    match t {
        NamespaceType::Network => "extRootNetNS",
        _ => "extRootPidNS",
    }
}

/// The container path of a mount destination, cleaned (runc trims the rootfs and resolves it
/// inside the root; the model's destinations are absolute container paths already).
fn dest_key(p: &Path) -> String {
    let clean = crate::rootfs::clean_path(p);
    clean.display().to_string()
}

/// The external mounts of the configuration: bind mounts, device nodes, and on a v1 host
/// without a cgroup namespace the bind of each hierarchy under a `cgroup` mount; as
/// `(container path, host source)`.
fn external_mounts(c: &Container) -> Vec<(String, String)> {
    let config = &c.state.config;
    let mut out = Vec::new();
    let v1 = !config.new_namespace(NamespaceType::Cgroup)
        && lashing_cgroups::detect() != lashing_cgroups::CgroupMode::Unified;
    let sources = if v1 {
        c.cgroup.mount_sources()
    } else {
        Vec::new()
    };
    for m in &config.mounts {
        if m.is_bind() {
            out.push((dest_key(&m.destination), m.source.clone()));
        } else if m.device == "cgroup" {
            for (name, host) in &sources {
                out.push((
                    dest_key(&m.destination.join(name)),
                    host.display().to_string(),
                ));
            }
        }
    }
    for d in &config.devices {
        let p = d.path.display().to_string();
        out.push((dest_key(&d.path), p));
    }
    out
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
            let descriptors: Vec<String> = (0..3)
                .map(|n| {
                    fs::read_link(format!("/proc/{pid}/fd/{n}"))
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                })
                .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_quote_shows_errors_with_context() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dump.log");
        let mut text = String::new();
        for i in 1..=20 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str("Error (criu/x.c:1): boom\n");
        for i in 22..=40 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str("Error (criu/y.c:2): bang\n");
        fs::write(&p, &text).unwrap();
        let q = log_quote(&p);
        let lines: Vec<&str> = q.lines().collect();
        assert_eq!(lines[0], "16:line 16", "{q}");
        assert_eq!(lines[5], "21:Error (criu/x.c:1): boom", "{q}");
        assert_eq!(lines[6], "...", "{q}");
        assert_eq!(lines[7], "36:line 36", "{q}");
        assert_eq!(*lines.last().unwrap(), "41:Error (criu/y.c:2): bang");
        fs::write(&p, "a\nb\nc\n").unwrap();
        assert_eq!(log_quote(&p), "a\nb\nc");
        assert!(log_quote(&dir.path().join("none")).contains("cannot read"));
    }

    #[test]
    fn empty_ns_has_the_network_unless_joined() {
        let mut o = CriuOpts::default();
        let mut c = Config::default();
        c.namespaces.push(crate::config::Namespace {
            typ: NamespaceType::Network,
            path: None,
        });
        assert_eq!(o.empty_ns_flags(&c).unwrap(), libc::CLONE_NEWNET as u32);
        o.empty_ns = vec![NamespaceType::Network];
        assert_eq!(o.empty_ns_flags(&c).unwrap(), libc::CLONE_NEWNET as u32);
        // A network namespace joined by path is external: never created empty.
        o.empty_ns.clear();
        c.namespaces[0].path = Some("/run/netns/x".into());
        assert_eq!(o.empty_ns_flags(&c).unwrap(), 0);
        o.empty_ns = vec![NamespaceType::Pid];
        let e = o.empty_ns_flags(&c).unwrap_err().to_string();
        assert_eq!(e, "namespace \"pid\" is not supported");
    }

    #[test]
    fn cgroup_modes_parse_as_runc() {
        assert_eq!(
            "soft".parse::<ManageCgroupsMode>().unwrap(),
            ManageCgroupsMode::Soft
        );
        assert_eq!(
            "ignore".parse::<ManageCgroupsMode>().unwrap(),
            ManageCgroupsMode::Ignore
        );
        let e = "bogus".parse::<ManageCgroupsMode>().unwrap_err();
        assert_eq!(e.to_string(), "Invalid manage-cgroups-mode value");
        let o = CriuOpts::default();
        assert_eq!(o.cg_mode(), CgMode::Default);
    }

    #[test]
    fn criu_config_file_follows_the_annotation() {
        let mut c = Config::default();
        assert_eq!(config_file(&c).as_deref(), Some(DEFAULT_CONFIG_FILE));
        c.annotations
            .insert("org.criu.config".into(), String::new());
        assert_eq!(config_file(&c), None);
        c.annotations
            .insert("org.criu.config".into(), "/x.conf".into());
        assert_eq!(config_file(&c).as_deref(), Some("/x.conf"));
    }
}
