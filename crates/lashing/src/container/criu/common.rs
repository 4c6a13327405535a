//! What checkpoint and restore share: the options (runc's `CriuOpts`) and how they become
//! CRIU's, the version and feature checks, the external mounts of a configuration.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::error::CriuError;
use super::rpc::{self, CgMode, Features, ReqType, Request};
use super::swrk::{self, CriuStdio, Session};
use super::wire::WireError;
use crate::config::{Config, NamespaceType};
use crate::container::Container;
use crate::error::Error;

/// The file of the image directory that records the init's stdio (as runc's).
pub(super) const DESCRIPTORS: &str = "descriptors.json";
/// The oldest CRIU lashing talks to: 3.0 has the `VERSION` request (runc's minimum too).
pub(super) const MIN_VERSION: i32 = 30000;
/// CRIU's configuration file for containers without an `org.criu.config` annotation. runc's
/// file: a CRIU set up for runc is set up for lashing.
pub(super) const DEFAULT_CONFIG_FILE: &str = "/etc/criu/runc.conf";

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

impl CriuOpts {
    pub(super) fn work_dir(&self) -> &Path {
        self.work_path.as_deref().unwrap_or(&self.image_path)
    }

    /// `empty_ns` as CRIU's flags: the network namespace (runc's rule), unless the container
    /// joins one by path: CRIU then neither dumps nor creates it (an external namespace), and an
    /// "empty" one would make the restore lock the network of that namespace a second time,
    /// so that CRIU 3.17 cannot unlock it (its `iptables-restore` fails with status 4 and every
    /// restored connection stays blocked).
    pub(super) fn empty_ns_flags(&self, config: &Config) -> Result<u32, CriuError> {
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

    pub(super) fn cg_mode(&self) -> CgMode {
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
    pub(super) fn rpc_opts(
        &self,
        config: &Config,
        log: &str,
    ) -> Result<(rpc::Opts, Vec<OwnedFd>), CriuError> {
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
pub(super) fn config_file(config: &Config) -> Option<String> {
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
pub(super) fn require_version(have: i32, need: i32, what: &'static str) -> Result<(), CriuError> {
    if have < need {
        return Err(CriuError::Version { have, need, what });
    }
    Ok(())
}

/// Checks that CRIU and the kernel support `want` (runc's `checkCriuFeatures`).
pub(super) fn check_features(want: Features) -> Result<(), CriuError> {
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

pub(super) fn mkdir(what: &'static str, path: &Path) -> Result<(), CriuError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(what, path, e).into())
}

/// runc's key of an external namespace: `extRootNetNS`, `extRootPidNS`.
pub(super) fn ext_ns_key(t: NamespaceType) -> &'static str {
    match t {
        NamespaceType::Network => "extRootNetNS",
        _ => "extRootPidNS",
    }
}

/// The container path of a mount destination, cleaned (runc trims the rootfs and resolves it
/// inside the root; the model's destinations are absolute container paths already).
pub(super) fn dest_key(p: &Path) -> String {
    let clean = crate::rootfs::clean_path(p);
    clean.display().to_string()
}

/// The external mounts of the configuration: bind mounts, device nodes, and on a v1 host
/// without a cgroup namespace the bind of each hierarchy under a `cgroup` mount; as
/// `(container path, host source)`.
pub(super) fn external_mounts(c: &Container) -> Vec<(String, String)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

/// The `mnt_id:` of an fdinfo file's text.
fn fdinfo_mnt_id(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The mount ids of a mountinfo file's text.
fn mount_ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

/// What `descriptors.json` records of the init's stdio (runc's: the fd links), and the
/// external files CRIU is told of. A stdio file on a mount outside the container's mount
/// namespace (the host's `/dev/null`, a FIFO of containerd's shim) cannot be dumped by path:
/// it is declared external as `file[<mnt_id>:<inode>]` (hex, CRIU's key) and recorded by that
/// key, which a restore hands its own stdio for (`inherit_fd`), as for pipes. runc records
/// the path and fails the dump ("Can't lookup mount").
pub(super) fn stdio_descriptors(pid: i32) -> (Vec<String>, Vec<String>) {
    let mounts = fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .map(|t| mount_ids(&t))
        .unwrap_or_default();
    let mut external = Vec::new();
    let descriptors = (0..3)
        .map(|n| {
            let link = fs::read_link(format!("/proc/{pid}/fd/{n}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if !link.starts_with('/') || mounts.is_empty() {
                return link;
            }
            let mnt = fs::read_to_string(format!("/proc/{pid}/fdinfo/{n}"))
                .ok()
                .and_then(|t| fdinfo_mnt_id(&t));
            let st = rustix::fs::stat(format!("/proc/{pid}/fd/{n}").as_str());
            match (mnt, st) {
                // Terminals are CRIU's own business (`--shell-job`).
                (Some(m), Ok(st)) if !mounts.contains(&m) && !is_tty(&st) => {
                    let ino = st.st_ino;
                    let key = format!("file[{m:x}:{ino:x}]");
                    if !external.contains(&key) {
                        external.push(key.clone());
                    }
                    key
                }
                _ => link,
            }
        })
        .collect();
    (descriptors, external)
}

/// Whether `st` is a terminal's device (tty, console, ptmx, pts).
fn is_tty(st: &rustix::fs::Stat) -> bool {
    let major = rustix::fs::major(st.st_rdev);
    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::CharacterDevice
        && matches!(major, 4 | 5 | 136..=143)
}

/// Whether a `descriptors.json` entry is one a restore hands its own stdio for.
pub(super) fn inherited(descriptor: &str) -> bool {
    descriptor.contains("pipe:") || descriptor.starts_with("file[")
}

#[cfg(test)]
mod stdio_tests {
    use super::*;

    #[test]
    fn fdinfo_and_mountinfo_parse() {
        let fdinfo = "pos:\t0\nflags:\t0100002\nmnt_id:\t31\nino:\t5\n";
        assert_eq!(fdinfo_mnt_id(fdinfo), Some(31));
        assert_eq!(fdinfo_mnt_id("pos:\t0\n"), None);
        let mi = "812 700 0:52 / / rw - overlay overlay rw\n813 812 0:5 /null /dev/null rw - devtmpfs udev rw\n";
        assert_eq!(mount_ids(mi), vec![812, 813]);
        assert!(inherited("pipe:[123]") && inherited("file[1f:2a]"));
        assert!(!inherited("/dev/null") && !inherited("socket:[1]"));
    }

    #[test]
    fn our_own_stdio_is_described() {
        // This process's mounts are its own: nothing is external, the links are kept.
        let (d, ext) = stdio_descriptors(std::process::id() as i32);
        assert_eq!(d.len(), 3);
        assert!(ext.is_empty(), "{ext:?}");
    }
}
