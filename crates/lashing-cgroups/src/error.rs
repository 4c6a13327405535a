//! The error type of every cgroup operation.

use std::path::PathBuf;

/// Errors of cgroup operations. Each variant names what failed (controller, file, path, value);
/// the underlying cause, when there is one, is the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cgroup file operation failed.
    #[error("cgroup {op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading a cgroup file failed.
    #[error("cannot read cgroup file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a value into a cgroup file failed.
    #[error("cannot write {value:?} to cgroup file {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup file held a value that could not be parsed.
    #[error("cannot parse {value:?} read from cgroup file {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The offending content.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading the process's mount table or cgroup membership failed.
    #[error("cannot read {path}")]
    ProcFile {
        /// `/proc/self/mountinfo` or `/proc/self/cgroup`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The cgroups path given by the configuration is not acceptable.
    #[error("invalid cgroups path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A sub-cgroup of `exec --cgroup` is not acceptable (runc's messages:
    /// `<path> is not a sub cgroup path`, `unknown controller <c> in SubCgroupPaths`).
    #[error("{reason}")]
    SubCgroup {
        /// The sub-cgroup path as given.
        sub: String,
        /// The message.
        reason: String,
    },
    /// The container id cannot be used as a cgroup name.
    #[error("invalid container id {id:?} for a cgroup name")]
    InvalidId {
        /// The id.
        id: String,
    },
    /// A cgroup file name contains `/` or is `.`/`..` (hardening against path traversal).
    #[error("invalid cgroup file name {name:?}")]
    InvalidFileName {
        /// The name.
        name: String,
    },
    /// No cgroup hierarchy is mounted (or none the caller belongs to).
    #[error("no cgroup hierarchy found in {path}")]
    NoHierarchy {
        /// The mount table that was searched.
        path: PathBuf,
    },
    /// The caller's own cgroup in a hierarchy lies outside of that hierarchy's mount.
    #[error(
        "own cgroup {cgroup:?} of hierarchy {hierarchy:?} is not under its mount root {root:?}"
    )]
    OwnCgroupOutsideMount {
        /// Hierarchy key.
        hierarchy: String,
        /// The cgroup path from `/proc/self/cgroup`.
        cgroup: String,
        /// The mount root from `/proc/self/mountinfo`.
        root: String,
    },
    /// A path given to [`crate::Manager::from_paths`] is not inside any mounted cgroup hierarchy.
    #[error("{path} is not inside a mounted cgroup hierarchy")]
    NotInHierarchy {
        /// The path.
        path: PathBuf,
    },
    /// A directory expected to be a cgroup file system is something else.
    #[error("{path} is not a cgroup file system (magic {magic:#x})")]
    NotCgroupFs {
        /// The path.
        path: PathBuf,
        /// The file-system magic number found.
        magic: u64,
    },
    /// The cgroup already exists and contains processes (runc's wording first).
    #[error("container's cgroup is not empty: {count} process(es) found in {path}")]
    NotEmpty {
        /// The cgroup directory.
        path: PathBuf,
        /// How many processes it holds.
        count: usize,
    },
    /// The cgroup already exists and is frozen (runc's wording first).
    #[error("container's cgroup unexpectedly frozen: {path}")]
    Frozen {
        /// The cgroup directory.
        path: PathBuf,
    },
    /// Moving a process into a cgroup failed.
    #[error("cannot add pid {pid} to cgroup {path}")]
    AddPid {
        /// The process.
        pid: i32,
        /// The cgroup directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Sending a signal to a process of the cgroup failed.
    #[error("cannot send signal {signal} to pid {pid}")]
    Kill {
        /// The process.
        pid: i32,
        /// The signal number.
        signal: i32,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The freezer did not reach the requested state in time.
    #[error("cgroup {path} did not become {wanted} (last state {state:?})")]
    FreezeTimeout {
        /// The cgroup directory.
        path: PathBuf,
        /// `"frozen"` or `"thawed"`.
        wanted: &'static str,
        /// The last state read.
        state: String,
    },
    /// No freezer is available for this cgroup (no v1 freezer hierarchy, no `cgroup.freeze`).
    #[error("no freezer available for cgroup {path}")]
    NoFreezer {
        /// The cgroup directory searched.
        path: PathBuf,
    },
    /// A resource setting cannot be applied on this cgroup version or host.
    #[error("cannot set {resource}: {reason}")]
    Unsupported {
        /// The setting (`memory.kernel`, `unified`, ...).
        resource: String,
        /// Why.
        reason: String,
    },
    /// The resources cannot be used on this host at all (runc's validator wording, e.g.
    /// `invalid configuration: cannot use unified on cgroup v1`).
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The kernel refused a v1 memory limit below what the cgroup uses (`EBUSY`); runc's words.
    #[error("unable to set memory limit to {limit} (current usage: {usage}, peak usage: {peak})")]
    MemoryBelowUsage {
        /// The limit asked for, in bytes.
        limit: i64,
        /// `memory.usage_in_bytes`.
        usage: u64,
        /// `memory.max_usage_in_bytes`.
        peak: u64,
    },
    /// A resource value is invalid (e.g. swap below memory).
    #[error("invalid value {value:?} for {resource}: {reason}")]
    InvalidResource {
        /// The setting.
        resource: String,
        /// The value.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Applying a resource setting failed; the cause names the file.
    #[error("cannot set {resource} in cgroup {path}")]
    Set {
        /// The setting (`memory.limit`, ...).
        resource: String,
        /// The cgroup directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<Error>,
    },
    /// A call to systemd (the systemd cgroup driver) failed; the cause has systemd's error
    /// name and message.
    #[error("systemd: cannot {op} {unit}")]
    Systemd {
        /// What was being done (`start`, `stop`, `set properties of`, ...).
        op: String,
        /// The unit (or the manager).
        unit: String,
        /// The cause.
        #[source]
        source: crate::systemd::dbus::DbusError,
    },
    /// The systemd driver was asked for on a host not booted with systemd (runc's wording).
    #[error("systemd not running on this host, cannot use systemd cgroups manager")]
    SystemdNotRunning,
    /// Rootless cgroups with the systemd driver on the legacy hierarchy, where a user manager
    /// cannot delegate (runc's wording).
    #[error("cannot use rootless systemd cgroups manager on cgroup v1")]
    SystemdRootlessV1,
    /// A systemd job did not succeed (runc's wording).
    #[error("error {op} systemd unit `{unit}`: got `{result}`")]
    SystemdJob {
        /// The unit.
        unit: String,
        /// `creating` or `removing`.
        op: String,
        /// The job's result (`failed`, `timeout`, ...).
        result: String,
    },
}

/// A [`Result`](std::result::Result) with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The OS error number behind a file operation, if that is what failed.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. }
            | Error::Read { source, .. }
            | Error::Write { source, .. }
            | Error::AddPid { source, .. }
            | Error::Kill { source, .. }
            | Error::ProcFile { source, .. } => source.raw_os_error(),
            Error::Set { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Whether this is a permission error in the loose sense runc's rootless mode ignores
    /// (`EPERM`, `EACCES`, `EROFS`: what an unprivileged caller gets from a cgroup it does not
    /// own).
    pub fn is_permission(&self) -> bool {
        matches!(
            self.raw_os_error(),
            Some(libc::EPERM | libc::EACCES | libc::EROFS)
        )
    }
}
