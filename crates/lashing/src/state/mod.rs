//! The state directory `<root>/<id>/`: `state.json` (written whole: temp file + rename, under an
//! `flock` of the directory), `exec.fifo` (present while the container is created, not started).
//!
//! `state.json` is versioned ([`STATE_VERSION`]) and small: the fields that cleanup needs come
//! first (so that even a truncated file tells which process to kill and which cgroups to
//! remove), the configuration last, packed (see [`pack`]). A record is written before anything
//! of the container exists, and saved again before its cgroup is created and as soon as its init
//! exists, so that `delete --force` can always finish an interrupted `create` ([`Remains`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};

mod head;
pub(crate) mod pack;
mod procs;
mod replace;
mod unit;

pub use procs::ProcId;
#[cfg(feature = "fuzzing")]
pub(crate) use procs::parse_proc_stat;
pub(crate) use procs::{ProcDir, alive, proc_stat};
pub use unit::SystemdUnit;

pub use head::STATE_VERSION;
pub(crate) use head::{FIFO, Head, STATE_FILE, check_version};

/// What lashing keeps about a container (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Format version ([`STATE_VERSION`]).
    pub(crate) version: u32,
    /// Container id.
    pub(crate) id: String,
    /// Host pid of the container's init process (0 before start). Recorded as soon as the
    /// process exists, while [`State::creator`] is still set.
    pub(crate) init_process_pid: i32,
    /// Start time of init in clock ticks since boot (`/proc/<pid>/stat` field 22), to detect pid reuse.
    pub(crate) init_process_start: u64,
    /// The process creating the container, until the container is created: a record with a
    /// creator is not a container yet (`load` says it does not exist, as runc), and one whose
    /// creator died is the remains of an interrupted `create` ([`Remains`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) creator: Option<ProcId>,
    /// Whether the cgroup is the container's own: set before lashing creates it, so that a
    /// `delete` removes it (and kills what runs in it) even after an interrupted `create`.
    #[serde(default)]
    pub(crate) cgroup_owned: bool,
    /// cgroup paths by hierarchy (`""` for v2).
    pub(crate) cgroup_paths: BTreeMap<String, PathBuf>,
    /// The systemd unit of the container's cgroup (systemd cgroup driver), recorded before the
    /// unit is started so that cleanup can stop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) systemd: Option<SystemdUnit>,
    /// Creation time, RFC 3339.
    pub(crate) created: String,
    /// uid of the user that created the container.
    #[serde(default)]
    pub(crate) owner: u32,
    /// Created by a runtime without root, with rootless cgroups (runc's state.json `rootless`:
    /// `RootlessEUID && RootlessCgroups`).
    #[serde(default)]
    pub(crate) rootless: bool,
    /// `/proc/<pid>/ns/*` paths of the init's namespaces by type name (derived, not stored).
    #[serde(skip)]
    pub(crate) namespace_paths: BTreeMap<String, PathBuf>,
    /// The configuration (stored packed, last; packed once per configuration: [`pack::Packed`]).
    pub(crate) config: pack::Packed,
}

/// Read access for library users; lashing alone writes a state.
impl State {
    /// Format version ([`STATE_VERSION`]).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Host pid of the container's init process (0 before start).
    pub fn init_process_pid(&self) -> i32 {
        self.init_process_pid
    }

    /// Start time of init in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub fn init_process_start(&self) -> u64 {
        self.init_process_start
    }

    /// Creation time, RFC 3339.
    pub fn created(&self) -> &str {
        &self.created
    }

    /// The configuration the container was created with (resources as last updated).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the container was created rootless (runc's state.json `rootless`).
    pub fn rootless(&self) -> bool {
        self.rootless
    }

    /// cgroup paths by hierarchy (`""` for v2).
    pub fn cgroup_paths(&self) -> &BTreeMap<String, PathBuf> {
        &self.cgroup_paths
    }

    /// `/proc/<pid>/ns/*` paths of the init's namespaces by type name.
    pub fn namespace_paths(&self) -> &BTreeMap<String, PathBuf> {
        &self.namespace_paths
    }

    /// uid of the user that created the container.
    pub fn owner(&self) -> u32 {
        self.owner
    }

    /// The process creating the container, until the container is created.
    pub fn creator(&self) -> Option<ProcId> {
        self.creator
    }

    /// Whether the cgroup is the container's own (lashing created it).
    pub fn cgroup_owned(&self) -> bool {
        self.cgroup_owned
    }

    /// The systemd unit that is the container's cgroup (systemd cgroup driver only).
    pub fn systemd_unit(&self) -> Option<&SystemdUnit> {
        self.systemd.as_ref()
    }
}

/// Checks a container id: `[A-Za-z0-9_+.-]+`, not `.` or `..` (runc's rule).
pub(crate) fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

/// A held lock of a state directory (released on drop).
pub(crate) struct Lock(OwnedFd);

impl Lock {
    /// Whether the locked directory was removed (by whoever held the lock before) or lost its
    /// state file: the container is gone.
    pub(crate) fn gone(&self) -> bool {
        let removed = rustix::fs::fstat(&self.0).map_or(true, |st| st.st_nlink == 0);
        removed
            || rustix::fs::statat(self.0.as_fd(), STATE_FILE, AtFlags::SYMLINK_NOFOLLOW).is_err()
    }
}

/// Locks `dir` exclusively (blocking).
pub(crate) fn lock(dir: &Path) -> Result<Lock> {
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open state directory", dir, e))?;
    rustix::fs::flock(&fd, FlockOperation::LockExclusive)
        .map_err(|e| Error::io("lock state directory", dir, e))?;
    Ok(Lock(fd))
}

/// Locks `dir` if it still exists: `None` when it is gone (removed before or while waiting for
/// the lock).
pub(crate) fn lock_if_present(dir: &Path) -> Result<Option<Lock>> {
    match lock(dir) {
        Ok(l) if rustix::fs::fstat(&l.0).is_ok_and(|st| st.st_nlink > 0) => Ok(Some(l)),
        Ok(_) => Ok(None),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates `<root>` (0700, if missing) and `<root>/<id>` (0711, must not exist), and locks the
/// new directory: the caller holds the lock until the first state file is written, so that a
/// directory without one that nobody holds locked is known to be the remains of a create that
/// died right after `mkdir` ([`stale`]).
pub(crate) fn create_dir(root: &Path, id: &str) -> Result<(PathBuf, Lock)> {
    validate_id(id)?;
    make_root(root)?;
    let dir = root.join(id);
    // The directory is made and locked under a temporary name, then renamed into place without
    // replacing anything: `<root>/<id>` never exists unlocked while its creator lives, so
    // another create can never take it for the remains of a dead one ([`stale`]) and remove it
    // under us.
    let tmp = root.join(format!(".{id}.new-{}", std::process::id()));
    let _ = fs::remove_dir(&tmp);
    fs::DirBuilder::new()
        .mode(0o711)
        .create(&tmp)
        .map_err(|e| Error::io("create state directory", &tmp, e))?;
    let placed = lock(&tmp).and_then(|l| {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &tmp,
            rustix::fs::CWD,
            &dir,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map(|()| l)
        .map_err(|e| match e {
            rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY => Error::Exists(id.to_string()),
            e => Error::io("create state directory", &dir, std::io::Error::from(e)),
        })
    });
    match placed {
        Ok(l) => Ok((dir, l)),
        Err(e) => {
            let _ = fs::remove_dir(&tmp);
            Err(e)
        }
    }
}

/// Creates `root` (0700, if missing) and locks it: `create` holds this lock from its first look
/// at `<root>/<id>` until the first record is written, so that two creates never interleave
/// their existence and staleness checks (creates of other ids wait only for that short step).
pub(crate) fn lock_root(root: &Path) -> Result<Lock> {
    make_root(root)?;
    lock(root)
}

/// Creates the state root `root` (0700) if it is missing; an empty path is refused.
fn make_root(root: &Path) -> Result<()> {
    if root.as_os_str().is_empty() {
        return Err(Error::io(
            "use state root",
            root,
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        ));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| Error::io("create state root", root, e))
}

/// Whether the existing `dir` holds the remains of a create whose process died: its recorded
/// creator is gone, or it has no state file and nobody holds it locked (its creator died
/// between `mkdir` and the first write).
///
/// A record's creator decides (the lock of a dead creator can outlive it for a moment: the
/// child it cloned shares it until its exec).
pub(crate) fn stale(dir: &Path) -> bool {
    let r = Remains::read(dir);
    if r.found {
        return r.abandoned();
    }
    let Ok(fd) = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    if rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
        return false;
    }
    let r = Remains::read(dir);
    !r.found || r.abandoned()
}

impl State {
    /// A new record of container `id` being created by this process (nothing exists yet).
    pub(crate) fn new(id: &str, cgroup_paths: BTreeMap<String, PathBuf>, config: Config) -> State {
        State {
            version: STATE_VERSION,
            id: id.to_string(),
            init_process_pid: 0,
            init_process_start: 0,
            creator: ProcId::current(),
            cgroup_owned: false,
            cgroup_paths,
            systemd: None,
            created: crate::time::now_rfc3339_nanos(),
            owner: rustix::process::geteuid().as_raw(),
            rootless: config.rootless_euid && config.rootless_cgroups,
            namespace_paths: BTreeMap::new(),
            config: pack::Packed::new(config),
        }
    }

    /// Writes `state.json` atomically into `dir`. A failure (a full disk) leaves the previous
    /// file, and no temp file.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
        let data = serde_json::to_vec(self).map_err(|e| Error::State {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&tmp)?;
            f.write_all(&data)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io("write state", &tmp, e));
        }
        replace::replace(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("rename state into place", &path, e)
        })
    }

    /// Reads `state.json` of `dir`. A file of another format version is an error that says so
    /// (such a container can still be removed: [`Remains`]).
    pub(crate) fn load(dir: &Path) -> Result<State> {
        let path = dir.join(STATE_FILE);
        let data = fs::read(&path).map_err(|e| Error::io("read state", &path, e))?;
        let bad = |reason: String| Error::State {
            path: path.clone(),
            reason,
        };
        check_version(&data).map_err(bad)?;
        let mut st: State = serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))?;
        st.namespace_paths = st.derived_namespace_paths();
        Ok(st)
    }

    /// `/proc/<pid>/ns/<type>` of every namespace of the configuration (empty before start).
    pub(crate) fn derived_namespace_paths(&self) -> BTreeMap<String, PathBuf> {
        if self.init_process_pid <= 0 {
            return BTreeMap::new();
        }
        self.config
            .namespaces
            .iter()
            .map(|n| {
                let name = n.typ.proc_name();
                (
                    name.to_string(),
                    PathBuf::from(format!("/proc/{}/ns/{name}", self.init_process_pid)),
                )
            })
            .collect()
    }

    /// The init process, if one was recorded.
    pub(crate) fn init(&self) -> Option<ProcId> {
        (self.init_process_pid > 0).then_some(ProcId {
            pid: self.init_process_pid,
            start: self.init_process_start,
        })
    }
}

/// What cleanup needs of a state file, read from any version and from a damaged (truncated,
/// garbled) file as far as it goes: the init process, the creator, and the cgroups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Remains {
    /// The recorded init process.
    pub init: Option<ProcId>,
    /// The process that was creating the container (gone: an interrupted create).
    pub creator: Option<ProcId>,
    /// The recorded cgroup paths (only those that are cgroups below a hierarchy's root).
    pub cgroup_paths: BTreeMap<String, PathBuf>,
    /// Whether those cgroups are the container's (to kill what runs there and remove them).
    pub cgroup_owned: bool,
    /// The systemd unit of those cgroups (stopped with them).
    pub systemd: Option<SystemdUnit>,
    /// Whether a state file was found at all.
    pub found: bool,
}

impl Remains {
    /// Reads what it can of `dir/state.json`.
    pub(crate) fn read(dir: &Path) -> Remains {
        match fs::read(dir.join(STATE_FILE)) {
            Ok(data) => Remains::parse(&data),
            Err(_) => Remains::default(),
        }
    }

    /// Parses a state file of any version, or scans what is left of a damaged one.
    pub(crate) fn parse(data: &[u8]) -> Remains {
        let mut r = match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(v) => Remains::from_value(&v),
            Err(_) => Remains::scan(&String::from_utf8_lossy(data)),
        };
        r.found = true;
        r.cgroup_paths
            .retain(|_, p| is_cgroup_below_root(p.as_path()));
        r
    }

    fn from_value(v: &serde_json::Value) -> Remains {
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
        let proc = |pid: Option<i64>, start: Option<i64>| match (pid, start) {
            (Some(pid), Some(start)) if pid > 0 && start >= 0 => Some(ProcId {
                pid: i32::try_from(pid).ok()?,
                start: start as u64,
            }),
            _ => None,
        };
        let init = proc(num("init_process_pid"), num("init_process_start"));
        let creator = v.get("creator").and_then(|c| {
            proc(
                c.get("pid").and_then(serde_json::Value::as_i64),
                c.get("start").and_then(serde_json::Value::as_i64),
            )
        });
        let cgroup_paths = v
            .get("cgroup_paths")
            .and_then(serde_json::Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, p)| Some((k.clone(), PathBuf::from(p.as_str()?))))
                    .collect()
            })
            .unwrap_or_default();
        // Version 1 had no `cgroup_owned`: it created the cgroup when it started an init.
        let cgroup_owned = v
            .get("cgroup_owned")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(init.is_some());
        Remains {
            init,
            creator,
            cgroup_paths,
            cgroup_owned,
            systemd: v
                .get("systemd")
                .and_then(|s| serde_json::from_value(s.clone()).ok()),
            found: true,
        }
    }

    /// What a damaged file still says: the numbers after `"init_process_pid":`,
    /// `"init_process_start":`, `"creator":{"pid":..,"start":..}`, `"cgroup_owned":true`, and
    /// the strings of the `"cgroup_paths"` object (written first, before the configuration).
    fn scan(text: &str) -> Remains {
        let number_after = |hay: &str, key: &str| -> Option<i64> {
            let at = hay.find(&format!("\"{key}\":"))? + key.len() + 3;
            let digits: String = hay[at..]
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        };
        let proc = |hay: &str, pid_key: &str, start_key: &str| {
            let pid = i32::try_from(number_after(hay, pid_key)?).ok()?;
            let start = u64::try_from(number_after(hay, start_key)?).ok()?;
            (pid > 0).then_some(ProcId { pid, start })
        };
        let init = proc(text, "init_process_pid", "init_process_start");
        let creator = text
            .find("\"creator\":")
            .and_then(|at| proc(&text[at..], "pid", "start"));
        let mut cgroup_paths = BTreeMap::new();
        if let Some(at) = text.find("\"cgroup_paths\":{") {
            let body = &text[at + "\"cgroup_paths\":{".len()..];
            let body = &body[..body.find('}').unwrap_or(body.len())];
            // "key":"path" pairs; paths never hold quotes (cgroup names are plain).
            let parts: Vec<&str> = body.split('"').collect();
            let mut i = 1;
            while i + 2 < parts.len() {
                if parts[i + 1] == ":" {
                    cgroup_paths.insert(parts[i].to_string(), PathBuf::from(parts[i + 2]));
                }
                i += 4;
            }
        }
        let cgroup_owned = match text.find("\"cgroup_owned\":") {
            Some(at) => text[at + "\"cgroup_owned\":".len()..].starts_with("true"),
            None => init.is_some(),
        };
        Remains {
            init,
            creator,
            cgroup_paths,
            cgroup_owned,
            systemd: SystemdUnit::scan(text),
            found: true,
        }
    }

    /// An interrupted create: the creator is known and gone.
    pub(crate) fn abandoned(&self) -> bool {
        self.creator.is_some_and(|c| !c.alive())
    }
}

/// Whether `p` is a directory under `/sys/fs/cgroup` other than a hierarchy's root (a mount
/// point: another device than its parent), so that a damaged state can never make cleanup kill
/// every process of a hierarchy. A path that does not exist passes (nothing to do there).
fn is_cgroup_below_root(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(rel) = p.strip_prefix("/sys/fs/cgroup") else {
        return false;
    };
    if !p.is_absolute()
        || rel.as_os_str().is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return false;
    }
    match (
        fs::symlink_metadata(p),
        p.parent().map(fs::symlink_metadata),
    ) {
        (Ok(m), Some(Ok(parent))) => m.is_dir() && m.dev() == parent.dev(),
        (Err(_), _) => true,
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests;
