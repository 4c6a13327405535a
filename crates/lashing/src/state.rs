//! The state directory `<root>/<id>/`: `state.json` (written whole: temp file + rename, under an
//! `flock` of the directory), `exec.fifo` (present while the container is created, not started).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};

/// The name of the state file.
pub(crate) const STATE_FILE: &str = "state.json";
/// The name of the exec fifo.
pub(crate) const FIFO: &str = "exec.fifo";

/// What lashing keeps about a container (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Container id.
    pub(crate) id: String,
    /// Host pid of the container's init process (0 before start).
    pub(crate) init_process_pid: i32,
    /// Start time of init in clock ticks since boot (`/proc/<pid>/stat` field 22), to detect pid reuse.
    pub(crate) init_process_start: u64,
    /// Creation time, RFC 3339.
    pub(crate) created: String,
    /// The configuration.
    pub(crate) config: Config,
    /// cgroup paths by hierarchy (`""` for v2).
    pub(crate) cgroup_paths: BTreeMap<String, PathBuf>,
    /// `/proc/<pid>/ns/*` paths of the init's namespaces by type name.
    #[serde(default)]
    pub(crate) namespace_paths: BTreeMap<String, PathBuf>,
    /// uid of the user that created the container.
    #[serde(default)]
    pub(crate) owner: u32,
}

/// Read access for library users; lashing alone writes a state.
impl State {
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
pub(crate) struct Lock(#[allow(dead_code)] OwnedFd);

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

/// Creates `<root>` (0700, if missing) and `<root>/<id>` (0711, must not exist).
pub(crate) fn create_dir(root: &Path, id: &str) -> Result<PathBuf> {
    validate_id(id)?;
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
        .map_err(|e| Error::io("create state root", root, e))?;
    let dir = root.join(id);
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::Exists(id.to_string()))
        }
        Err(e) => Err(Error::io("create state directory", dir, e)),
    }
}

impl State {
    /// Writes `state.json` atomically into `dir`.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
        let data = serde_json::to_vec(self).map_err(|e| Error::State {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| Error::io("write state", &tmp, e))?;
        f.write_all(&data)
            .map_err(|e| Error::io("write state", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io("rename state into place", &path, e))?;
        Ok(())
    }

    /// Reads `state.json` of `dir`.
    pub(crate) fn load(dir: &Path) -> Result<State> {
        let path = dir.join(STATE_FILE);
        let data = fs::read(&path).map_err(|e| Error::io("read state", &path, e))?;
        serde_json::from_slice(&data).map_err(|e| Error::State {
            path,
            reason: e.to_string(),
        })
    }
}

/// The state letter and start time of a process from `/proc/<pid>/stat`, or `None` if it is gone.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
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

/// The current time as RFC 3339 with nanoseconds, UTC (as runc's `created`).
pub(crate) fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn own_stat_is_alive() {
        let pid = std::process::id() as i32;
        let (state, start) = proc_stat(pid).unwrap();
        assert_ne!(state, 'Z');
        assert!(alive(pid, start));
        assert!(
            !alive(pid, start + 1),
            "another start time means a reused pid"
        );
    }

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), "2026-11-29T06:00:00.000000000Z".len(), "{t}");
        assert!(t.starts_with("20"), "{t}");
        assert!(t.ends_with('Z'));
    }

    #[test]
    fn state_round_trip_and_exists() {
        let root = tempfile::tempdir().unwrap();
        let dir = create_dir(root.path(), "c1").unwrap();
        assert!(matches!(
            create_dir(root.path(), "c1"),
            Err(Error::Exists(_))
        ));
        let st = State {
            id: "c1".into(),
            init_process_pid: 7,
            init_process_start: 9,
            created: now_rfc3339(),
            config: Config::default(),
            cgroup_paths: BTreeMap::new(),
            namespace_paths: BTreeMap::new(),
            owner: 0,
        };
        let _l = lock(&dir).unwrap();
        st.save(&dir).unwrap();
        let back = State::load(&dir).unwrap();
        assert_eq!(back.init_process_pid, 7);
        assert_eq!(back.id, "c1");
    }
}
