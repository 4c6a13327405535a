//! A guard that undoes what a test's containers may leave behind: processes, cgroups, mounts.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sys;

/// The prefix every test cgroup's top-level directory must have.
pub const CGROUP_PREFIX: &str = "lashing-test-";

/// The cgroup filesystem root.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Records processes, cgroups and paths of one test; on drop (also when the test panics) it
/// SIGKILLs the recorded processes (by pid, after checking their start time), removes the
/// recorded cgroups in every hierarchy (leaf first; only trees whose top-level directory starts
/// with `/lashing-test-`), and reports mounts left under the watched paths.
#[derive(Debug, Default)]
pub struct Cleanup {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (pid, start time from /proc/PID/stat when recorded).
    pids: Vec<(i32, Option<u64>)>,
    /// Top-level cgroup dirs, e.g. `/lashing-test-123-0`.
    cgroups: Vec<String>,
    /// Paths under which no mount should remain.
    mount_roots: Vec<PathBuf>,
}

/// The top-level directory of a test cgroup path (`/lashing-test-1-2/a/b` -> `/lashing-test-1-2`),
/// or `None` when the path is not absolute, has `..`, or its first component does not start with
/// [`CGROUP_PREFIX`].
pub fn test_cgroup_top(path: &str) -> Option<String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return None;
    }
    let mut comps = p.components().skip(1);
    let Some(Component::Normal(top)) = comps.next() else {
        return None;
    };
    if comps.any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let top = top.to_str()?;
    (top.starts_with(CGROUP_PREFIX) && top.len() > CGROUP_PREFIX.len()).then(|| format!("/{top}"))
}

impl Cleanup {
    /// An empty guard. The first one of a process also removes the test cgroups that a test
    /// process killed before its own cleanup left behind ([`remove_orphaned_test_cgroups`]).
    pub fn new() -> Cleanup {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| {
            for top in remove_orphaned_test_cgroups() {
                eprintln!("lashing-testsupport: removed the orphaned test cgroup {top}");
            }
        });
        Cleanup::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record a process to SIGKILL on cleanup (it is only killed if its start time is unchanged,
    /// so a reused pid is left alone).
    pub fn pid(&self, pid: i32) {
        assert!(pid > 0, "refusing to record pid {pid}");
        let start = start_time(pid);
        self.inner().pids.push((pid, start));
    }

    /// Record a cgroup path (as in `linux.cgroupsPath`, e.g. `/lashing-test-1-0/id`): its whole
    /// top-level tree (`/lashing-test-1-0`) is removed on cleanup in every hierarchy. Panics when
    /// the path is not under a top-level `/lashing-test-*` directory.
    pub fn cgroup(&self, path: &str) {
        let top = test_cgroup_top(path).unwrap_or_else(|| {
            panic!("refusing to record cgroup {path:?}: not under /{CGROUP_PREFIX}*")
        });
        let mut inner = self.inner();
        if !inner.cgroups.contains(&top) {
            inner.cgroups.push(top);
        }
    }

    /// Watch a path: mounts at or under it are reported by [`Cleanup::leaked_mounts`] and
    /// detached on drop.
    pub fn watch_mounts(&self, path: impl AsRef<Path>) {
        let p = path.as_ref();
        let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        self.inner().mount_roots.push(p);
    }

    /// Mounts of this process's mount namespace at or under the watched paths.
    pub fn leaked_mounts(&self) -> Vec<PathBuf> {
        let roots = self.inner().mount_roots.clone();
        if roots.is_empty() {
            return Vec::new();
        }
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        mounts_under(&info, &roots)
    }

    /// Kill the recorded processes and remove the recorded cgroups now (also done on drop).
    /// Returns what could not be undone, as messages.
    pub fn run(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let (pids, cgroups) = {
            let inner = self.inner();
            (inner.pids.clone(), inner.cgroups.clone())
        };
        for &(pid, start) in &pids {
            if start.is_some() && start_time(pid) == start && sys::kill(pid, libc::SIGKILL).is_ok()
            {
                reap(pid);
            }
        }
        for top in &cgroups {
            if let Err(e) = remove_cgroup_tree(top) {
                problems.push(format!("cgroup {top}: {e}"));
            }
        }
        problems
    }

    /// Detach every leaked mount under the watched paths (deepest first). Returns the mounts
    /// that were found.
    pub fn unmount_leaks(&self) -> Vec<PathBuf> {
        let mut leaks = self.leaked_mounts();
        leaks.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for m in &leaks {
            let _ = sys::umount_detach(m);
        }
        leaks
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in self.run() {
            eprintln!("lashing-testsupport: cleanup: {p}");
        }
        for m in self.unmount_leaks() {
            eprintln!(
                "lashing-testsupport: cleanup: leaked mount {} (detached)",
                m.display()
            );
        }
    }
}

/// The start time (field 22 of /proc/PID/stat) of a live, non-zombie process.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3; start time is field 22.
    fields.nth(18)?.parse().ok()
}

/// Reap `pid` if it is our child (it may take a moment to die, longer on a loaded machine);
/// ignore it otherwise.
fn reap(pid: i32) {
    let deadline = Instant::now() + crate::WAIT;
    while Instant::now() < deadline {
        match sys::try_reap(pid) {
            Ok(true) | Err(_) => return,
            Ok(false) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// The cgroup hierarchies' root dirs: `/sys/fs/cgroup` on pure v2, else every directory mounted
/// under it (v1 controllers, `unified`, named hierarchies), skipping symlinks such as `cpu`
/// pointing to `cpu,cpuacct`.
pub fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// The pid a test cgroup's top directory is named after (`lashing-test-cli-12591-0` -> 12591):
/// its first all-digit field.
fn owner_pid(top: &str) -> Option<i32> {
    top.strip_prefix(CGROUP_PREFIX)?
        .split('-')
        .find(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

/// Removes, in every hierarchy, the test cgroup trees (`/lashing-test-...-<pid>-...`) whose
/// owning test process no longer exists: a test killed (a timeout, SIGKILL) before its
/// [`Cleanup`] ran leaves them behind, with whatever it started still inside (killed here).
/// A tree whose pid is alive (its owner, or a reused pid) is left alone. Returns the tops removed.
pub fn remove_orphaned_test_cgroups() -> Vec<String> {
    let mut tops = std::collections::BTreeSet::new();
    for h in hierarchies() {
        for e in fs::read_dir(&h).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = owner_pid(&name)
                && e.file_type().is_ok_and(|t| t.is_dir())
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                tops.insert(format!("/{name}"));
            }
        }
    }
    tops.into_iter()
        .filter(|top| match remove_cgroup_tree_within(top, SWEEP_BUDGET) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("lashing-testsupport: cannot remove the orphaned test cgroup {top}: {e}");
                false
            }
        })
        .collect()
}

/// How long the sweep of orphaned test cgroups may spend on one tree: it runs at the start of
/// every test process, so a tree that cannot be removed (a process stuck in the kernel) must not
/// hold up each test for [`crate::WAIT`]; it is reported and left for the next sweep.
const SWEEP_BUDGET: Duration = Duration::from_secs(2);

/// Remove the test cgroup tree `top` (e.g. `/lashing-test-1-0`) in every hierarchy: thaw it,
/// kill its processes, then rmdir leaf first, retrying for a while ([`crate::WAIT`]) as
/// processes die.
pub(crate) fn remove_cgroup_tree(top: &str) -> io::Result<()> {
    remove_cgroup_tree_within(top, crate::WAIT)
}

/// [`remove_cgroup_tree`], retrying the rmdirs for at most `budget` in all.
fn remove_cgroup_tree_within(top: &str, budget: Duration) -> io::Result<()> {
    assert!(
        test_cgroup_top(top).as_deref() == Some(top),
        "not a test cgroup top: {top}"
    );
    let mut last_err = None;
    let start = Instant::now();
    for h in hierarchies() {
        let dir = h.join(&top[1..]);
        if !dir.is_dir() {
            continue;
        }
        let mut dirs = Vec::new();
        collect_dirs(&dir, &mut dirs);
        // Thaw and kill (leaves first does not matter here).
        for d in &dirs {
            let _ = fs::write(d.join("freezer.state"), "THAWED");
            let _ = fs::write(d.join("cgroup.freeze"), "0");
        }
        if dir.join("cgroup.kill").exists() {
            let _ = fs::write(dir.join("cgroup.kill"), "1");
        }
        for d in &dirs {
            for pid in fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
            {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    let _ = sys::kill(pid, libc::SIGKILL);
                }
            }
        }
        // Deepest first.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        // Killed processes leave their cgroup when they are gone, which takes a while on a loaded
        // machine: retry until then.
        let deadline = start + budget;
        for d in &dirs {
            loop {
                match fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => {
                        last_err = Some(io::Error::new(
                            e.kind(),
                            format!("rmdir {}: {e}", d.display()),
                        ));
                        break;
                    }
                }
            }
        }
    }
    last_err.map_or(Ok(()), Err)
}

/// `dir` and every directory below it.
fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Mount points (field 5 of mountinfo, unescaped) at or under any of `roots`.
pub fn mounts_under(mountinfo: &str, roots: &[PathBuf]) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(lashing_cgroups::hierarchy::unescape_mountinfo(m)))
        .filter(|m| roots.iter().any(|r| m.starts_with(r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_test_cgroups_are_accepted() {
        assert_eq!(
            test_cgroup_top("/lashing-test-1-0/x").as_deref(),
            Some("/lashing-test-1-0")
        );
        assert_eq!(
            test_cgroup_top("/lashing-test-9").as_deref(),
            Some("/lashing-test-9")
        );
        for bad in [
            "lashing-test-1/x",
            "/lashing-test-",
            "/process_api/x",
            "/lashing-test-1/../process_api",
            "/",
            "",
            "/x/lashing-test-1",
        ] {
            assert_eq!(test_cgroup_top(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    #[should_panic(expected = "refusing to record cgroup")]
    fn recording_a_foreign_cgroup_panics() {
        Cleanup::new().cgroup("/process_api/abc");
    }

    #[test]
    fn mountinfo_parsing() {
        let info = "22 1 0:21 / /proc rw - proc proc rw\n\
                    90 22 0:50 / /tmp/b\\040x/rootfs/proc rw - proc proc rw\n\
                    91 22 0:51 / /tmp/bb/rootfs rw - tmpfs t rw\n";
        let got = mounts_under(info, &[PathBuf::from("/tmp/b x")]);
        assert_eq!(got, vec![PathBuf::from("/tmp/b x/rootfs/proc")]);
        assert_eq!(
            lashing_cgroups::hierarchy::unescape_mountinfo("a\\134b\\011"),
            "a\\b\t"
        );
        assert_eq!(
            lashing_cgroups::hierarchy::unescape_mountinfo("trailing\\04"),
            "trailing\\04"
        );
    }

    #[test]
    fn start_time_of_self_and_missing() {
        let me = std::process::id() as i32;
        let t = start_time(me).expect("own start time");
        assert_eq!(start_time(me), Some(t));
        assert_eq!(start_time(i32::MAX), None);
    }

    #[test]
    #[allow(
        clippy::zombie_processes,
        reason = "Cleanup::run reaps it; that is what is tested"
    )]
    fn kills_and_reaps_recorded_child() {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let c = Cleanup::new();
        c.pid(pid);
        assert!(c.run().is_empty());
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "the child is killed and reaped"
        );
    }

    #[test]
    fn orphaned_test_cgroups_are_removed() {
        crate::require_root();
        // A pid that no longer exists: a child that already exited and was reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let top = format!("/{CGROUP_PREFIX}orphan-{pid}-0");
        let live = format!("/{CGROUP_PREFIX}orphan-{}-0", std::process::id());
        let mut made = Vec::new();
        for h in hierarchies() {
            for t in [&top, &live] {
                if fs::create_dir_all(h.join(&t[1..]).join("c1")).is_ok() {
                    made.push(h.join(&t[1..]));
                }
            }
        }
        assert!(!made.is_empty(), "no cgroup hierarchy accepted mkdir");
        let removed = remove_orphaned_test_cgroups();
        let left: Vec<_> = made.iter().filter(|d| d.exists()).cloned().collect();
        // The live process's tree stays; then it is removed here.
        remove_cgroup_tree(&live).unwrap();
        assert!(removed.contains(&top), "{removed:?}");
        assert!(!removed.contains(&live), "{removed:?}");
        assert!(
            left.iter().all(|d| d.ends_with(&live[1..])),
            "orphan left: {left:?}"
        );
        assert_eq!(owner_pid("lashing-test-cli-12591-0"), Some(12591));
        assert_eq!(owner_pid("lashing-test-cgres-77-bpf"), Some(77));
        assert_eq!(owner_pid("lashing-test-no-pid"), None);
    }

    #[test]
    fn removes_test_cgroup_trees_with_their_processes() {
        crate::require_root();
        let top = format!("/{CGROUP_PREFIX}{}-cleanup-unit", std::process::id());
        let mut made = Vec::new();
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        for h in hierarchies() {
            let leaf = h.join(&top[1..]).join("a/b");
            if fs::create_dir_all(&leaf).is_ok() {
                made.push(h.join(&top[1..]));
                if h.ends_with("pids") || h == Path::new(CGROUP_ROOT) {
                    fs::write(leaf.join("cgroup.procs"), pid.to_string()).unwrap();
                }
            }
        }
        assert!(!made.is_empty(), "no cgroup hierarchy accepted mkdir");
        let c = Cleanup::new();
        c.cgroup(&format!("{top}/a/b"));
        assert_eq!(c.run(), Vec::<String>::new());
        for d in &made {
            assert!(!d.exists(), "{} is removed", d.display());
        }
        // The process that was in the tree was killed (it is our child: reap it).
        let mut child = child;
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}
