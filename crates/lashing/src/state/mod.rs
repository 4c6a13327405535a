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
mod replace;
mod unit;

pub use unit::SystemdUnit;

pub use head::STATE_VERSION;
pub(crate) use head::{FIFO, Head, STATE_FILE, check_version};

/// A process named by pid and start time (clock ticks since boot, `/proc/<pid>/stat` field 22),
/// so that a reused pid is never taken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcId {
    /// Host pid.
    pub pid: i32,
    /// Start time.
    pub start: u64,
}

impl ProcId {
    /// The calling process.
    pub(crate) fn current() -> Option<ProcId> {
        let pid = rustix::process::getpid().as_raw_nonzero().get();
        proc_stat(pid).map(|(_, start)| ProcId { pid, start })
    }

    /// Whether the process still runs (not a zombie; not a reused pid).
    pub fn alive(&self) -> bool {
        alive(self.pid, self.start)
    }

    /// Whether the process has begun to exit (`PF_EXITING`): it holds no memory, files or
    /// cgroup any more, only its pid. A pid namespace's init stays so until every zombie of its
    /// namespace is reaped, and a zombie whose parent is outside the namespace (a process `exec`
    /// forked with `CLONE_PARENT`, its caller slow to reap) can keep it there for as long as that
    /// parent likes.
    pub(crate) fn exiting(&self) -> bool {
        const PF_EXITING: u64 = 0x4;
        let Ok(data) = head::read_small(Path::new(&format!("/proc/{}/stat", self.pid))) else {
            return true;
        };
        std::str::from_utf8(&data)
            .ok()
            .and_then(parse_proc_flags)
            .is_some_and(|(start, flags)| start != self.start || flags & PF_EXITING != 0)
    }
}

/// The start time and the flags (field 9, `PF_*`) in the text of a `/proc/<pid>/stat` file.
pub(crate) fn parse_proc_flags(data: &str) -> Option<(u64, u64)> {
    let rest = &data[data.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state (3), ppid, pgrp, session, tty_nr, tpgid, flags (9), ... start (22).
    let flags = fields.nth(6)?.parse().ok()?;
    let start = fields.nth(12)?.parse().ok()?;
    Some((start, flags))
}

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
    /// The configuration (stored packed, last).
    #[serde(with = "pack")]
    pub(crate) config: Config,
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
            config,
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

/// The state letter and start time of a process from `/proc/<pid>/stat`, or `None` if it is gone.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = head::read_small(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    parse_proc_stat(std::str::from_utf8(&data).ok()?)
}

/// The state letter and start time in the text of a `/proc/<pid>/stat` file.
pub(crate) fn parse_proc_stat(data: &str) -> Option<(char, u64)> {
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let rest = &data[data.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the name, field 3 is the state; start time is field 22, i.e. the 20th after state.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether the process `pid` started at `start` is still alive (not a zombie or dead; a reused pid
/// with another start time counts as dead).
pub(crate) fn alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    matches!(proc_stat(pid), Some((s, t)) if t == start && s != 'Z' && s != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-1.2_3+x", "A9"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "ä", "../x"] {
            assert!(
                matches!(validate_id(bad), Err(Error::InvalidId(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn flags_and_start_time() {
        let line = "77 (a) b) c) S 1 77 77 0 -1 4194564 93 0 0 0 1 2 0 0 20 0 1 0 12345 2600 1";
        assert_eq!(parse_proc_flags(line), Some((12345, 4194564)));
        assert_eq!(parse_proc_stat(line), Some(('S', 12345)));
        assert_eq!(parse_proc_flags("77 (a) S 1 2"), None);
    }

    #[test]
    fn own_stat_is_alive() {
        let pid = std::process::id() as i32;
        let (state, start) = proc_stat(pid).unwrap();
        assert_ne!(state, 'Z');
        assert!(alive(pid, start));
        assert!(
            !alive(pid, start + 1),
            "another start time means a reused pid"
        );
        assert!(ProcId::current().unwrap().alive());
        assert!(!ProcId::current().unwrap().exiting());
    }

    #[test]
    fn rfc3339_shape() {
        let t = crate::time::now_rfc3339_nanos();
        assert_eq!(t.len(), "2026-11-29T06:00:00.000000000Z".len(), "{t}");
        assert!(t.starts_with("20"), "{t}");
        assert!(t.ends_with('Z'));
    }

    /// The configuration of `lashing spec`'s bundle, as `create` makes it.
    fn example_config(dir: &Path) -> Config {
        let bundle = dir.join("bundle");
        fs::create_dir_all(bundle.join("rootfs")).unwrap();
        let mut spec = crate::config::example_spec_json();
        spec["linux"]["cgroupsPath"] = "/lashing-test/some-container".into();
        fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
        Config::from_bundle(&crate::config::CreateOpts {
            bundle,
            no_pivot_root: false,
            no_new_keyring: false,
        })
        .unwrap()
    }

    fn cgroup_paths() -> BTreeMap<String, PathBuf> {
        [
            "", "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
        ]
        .iter()
        .map(|k| {
            let h = if k.is_empty() { "unified" } else { k };
            (
                k.to_string(),
                PathBuf::from(format!("/sys/fs/cgroup/{h}/lashing-test/some-container")),
            )
        })
        .collect()
    }

    #[test]
    fn state_round_trip_and_exists() {
        let root = tempfile::tempdir().unwrap();
        let (dir, creating) = create_dir(root.path(), "c1").unwrap();
        assert!(!stale(&dir), "locked by its creator");
        drop(creating);
        assert!(stale(&dir), "no state file, and nobody holds it");
        assert!(matches!(
            create_dir(root.path(), "c1"),
            Err(Error::Exists(_))
        ));
        let config = example_config(root.path());
        let mut st = State::new("c1", cgroup_paths(), config.clone());
        st.init_process_pid = 7;
        st.init_process_start = 9;
        st.config.namespaces.truncate(2);
        st.save(&dir).unwrap();
        assert!(!stale(&dir), "a live creator");
        let back = State::load(&dir).unwrap();
        assert_eq!(back.init_process_pid, 7);
        assert_eq!(back.id, "c1");
        assert_eq!(back.version, STATE_VERSION);
        assert_eq!(back.creator, st.creator);
        assert_eq!(
            back.config, st.config,
            "the packed config reads back the same"
        );
        assert_eq!(back.cgroup_paths, st.cgroup_paths);
        assert_eq!(back.namespace_paths.len(), 2);
        let first = back.config.namespaces[0].typ.proc_name();
        assert_eq!(
            back.namespace_paths[first],
            PathBuf::from(format!("/proc/7/ns/{first}"))
        );
        assert!(!dir.join(format!(".{STATE_FILE}.tmp")).exists());
    }

    /// `list` reads the head of a state file only: it tells what the whole load tells of the
    /// OCI state (annotations included), and refuses another version with the same reason.
    #[test]
    fn head_reads_what_load_reads() {
        let root = tempfile::tempdir().unwrap();
        let (dir, _creating) = create_dir(root.path(), "c1").unwrap();
        let mut config = example_config(root.path());
        config
            .annotations
            .insert("org.example/a".into(), "1".into());
        config.oci_version = "1.1.0".into();
        let mut st = State::new("c1", cgroup_paths(), config);
        st.init_process_pid = 7;
        st.init_process_start = 9;
        st.owner = 1000;
        st.save(&dir).unwrap();
        let full = State::load(&dir).unwrap();
        let head = Head::read(&dir).unwrap();
        assert_eq!(head.id, full.id);
        assert_eq!(
            (head.init_process_pid, head.init_process_start),
            (full.init_process_pid, full.init_process_start)
        );
        assert_eq!(head.being_created(), full.creator.is_some());
        assert_eq!(head.cgroup_paths, full.cgroup_paths);
        assert_eq!(head.created, full.created);
        assert_eq!(head.owner, 1000);
        assert_eq!(head.config.oci_version, "1.1.0");
        assert_eq!(head.config.rootfs, full.config.rootfs);
        assert_eq!(head.config.bundle, full.config.bundle);
        assert_eq!(head.config.annotations, full.config.annotations);
        let text = fs::read_to_string(dir.join(STATE_FILE)).unwrap();
        let other = text.replacen(&format!("\"version\":{STATE_VERSION}"), "\"version\":99", 1);
        assert_ne!(other, text);
        fs::write(dir.join(STATE_FILE), other).unwrap();
        let (Err(Error::State { reason: a, .. }), Err(Error::State { reason: b, .. })) =
            (Head::read(&dir), State::load(&dir))
        else {
            panic!("another version was read");
        };
        assert_eq!(a, b);
        assert!(a.contains("format version 99"), "{a}");
    }

    /// Issue 8.16: the state of `lashing spec`'s container fits in one page (4 KiB), so that a
    /// create needs two pages of the state root (the file and its replacement), as runc.
    #[test]
    fn state_of_the_example_spec_fits_a_page() {
        let root = tempfile::tempdir().unwrap();
        let mut st = State::new(
            "some-container",
            cgroup_paths(),
            example_config(root.path()),
        );
        st.init_process_pid = 4_000_000;
        st.init_process_start = 123_456_789;
        st.creator = None;
        let packed = serde_json::to_vec(&st).unwrap();
        let plain = serde_json::to_vec(&st.config).unwrap();
        assert!(
            packed.len() < 4096,
            "state is {} bytes (config alone, unpacked: {})",
            packed.len(),
            plain.len()
        );
    }

    #[test]
    fn other_versions_are_refused_with_the_reason() {
        let root = tempfile::tempdir().unwrap();
        let (dir, _lock) = create_dir(root.path(), "c1").unwrap();
        let st = State::new("c1", cgroup_paths(), Config::default());
        let mut v = serde_json::to_value(&st).unwrap();
        v["version"] = 99.into();
        fs::write(dir.join(STATE_FILE), v.to_string()).unwrap();
        let e = State::load(&dir).unwrap_err().to_string();
        assert!(e.contains("format version 99"), "{e}");
        v.as_object_mut().unwrap().remove("version");
        fs::write(dir.join(STATE_FILE), v.to_string()).unwrap();
        let e = State::load(&dir).unwrap_err().to_string();
        assert!(e.contains("no format version"), "{e}");
    }

    #[test]
    fn remains_of_every_shape() {
        let mut st = State::new("c1", BTreeMap::new(), Config::default());
        // Paths that do not exist pass the check (nothing to do there); roots and paths
        // outside /sys/fs/cgroup never do.
        st.cgroup_paths
            .insert("".into(), "/sys/fs/cgroup/unified/no/such".into());
        st.cgroup_paths
            .insert("memory".into(), "/sys/fs/cgroup/memory".into());
        st.cgroup_paths.insert("pids".into(), "/tmp/x".into());
        st.cgroup_paths
            .insert("cpu".into(), "/sys/fs/cgroup/cpu/../x".into());
        st.init_process_pid = 42;
        st.init_process_start = 4242;
        st.cgroup_owned = true;
        st.systemd = Some(SystemdUnit {
            unit: "lashing-c1.scope".into(),
            user: false,
        });
        let data = serde_json::to_vec(&st).unwrap();
        let want = Remains {
            init: Some(ProcId {
                pid: 42,
                start: 4242,
            }),
            creator: st.creator,
            cgroup_paths: [("".to_string(), "/sys/fs/cgroup/unified/no/such".into())].into(),
            cgroup_owned: true,
            systemd: st.systemd.clone(),
            found: true,
        };
        assert_eq!(Remains::parse(&data), want, "whole file");
        // Truncated in the configuration, or anywhere after the cgroup paths.
        let cut = data.len() / 2;
        assert_eq!(Remains::parse(&data[..cut]), want, "truncated file");
        // Version 1: no version, no cgroup_owned (an init means it created the cgroup).
        let mut v = serde_json::to_value(&st).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("version");
        o.remove("cgroup_owned");
        o.remove("creator");
        let v1 = Remains::parse(v.to_string().as_bytes());
        assert!(v1.cgroup_owned && v1.init.is_some() && v1.creator.is_none());
        let garbage = Remains::parse(b"\x00\x01 not json");
        assert!(garbage.found && garbage.init.is_none() && garbage.cgroup_paths.is_empty());
        assert!(!Remains::read(Path::new("/nonexistent")).found);
    }

    #[test]
    fn abandoned_means_a_dead_creator() {
        let mut r = Remains::default();
        assert!(!r.abandoned(), "no creator: not a create at all");
        r.creator = ProcId::current();
        assert!(!r.abandoned(), "a live creator");
        r.creator = Some(ProcId {
            pid: std::process::id() as i32,
            start: 1,
        });
        assert!(r.abandoned(), "a reused pid");
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            (-2i64..3).prop_map(serde_json::Value::from),
            prop_oneof![Just(""), Just("x"), Just(pack_mark())].prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    prop_oneof![Just("a"), Just("b"), Just("c")].prop_map(String::from),
                    inner,
                    0..4
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn pack_mark() -> &'static str {
        "\u{0}packed"
    }

    proptest! {
        #[test]
        fn pack_round_trips(v in json()) {
            let mut p = v.clone();
            pack::pack(&mut p);
            pack::unpack(&mut p);
            prop_assert_eq!(p, v);
        }
    }
}
