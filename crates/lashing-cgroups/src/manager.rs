//! [`Manager`]: one container's cgroup, i.e. one directory per mounted hierarchy.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::dir::Dir;
use crate::error::{Error, Result};
use crate::freezer::FreezerState;
use crate::freezer_read as freezer;
use crate::fs::{Node, io_err};
use crate::hierarchy::{
    self, CgroupMode, Hierarchy, compute_paths, hierarchy_of, mounted_hierarchies,
};
use crate::oom::OomNotifier;
use crate::resources::{DeviceCgroup, Resources};
use crate::stats::Stats;
use crate::{v1, v2};

/// One container's cgroup: a directory in every mounted hierarchy, keyed by hierarchy (the v1
/// mount directory name such as `"memory"` or `"cpu,cpuacct"`, `""` for cgroup v2).
///
/// It serializes as its paths map, so it can be saved in a state file and reloaded with
/// [`Manager::from_paths`] (or deserialized directly).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Manager {
    paths: BTreeMap<String, PathBuf>,
}

impl Manager {
    /// Computes the cgroup of a container by runc's rules (see [`hierarchy::compute_paths`]):
    /// an absolute `cgroups_path` is used under every hierarchy's mount point, a relative one is
    /// placed under the caller's own cgroup, and an empty one becomes the caller's cgroup +
    /// `/` + `container_id`. Nothing is created yet.
    pub fn new(cgroups_path: &str, container_id: &str) -> Result<Manager> {
        let hierarchies = mounted_hierarchies()?;
        let own = if cgroups_path.starts_with('/') {
            String::new()
        } else {
            hierarchy::read_proc_self_cgroup()?
        };
        Ok(Manager {
            paths: compute_paths(hierarchies, &own, cgroups_path, container_id)?,
        })
    }

    /// A manager for already known paths (e.g. from a state file).
    pub fn from_paths(paths: BTreeMap<String, PathBuf>) -> Manager {
        Manager { paths }
    }

    /// Runs `op` on each hierarchy's directory alone and drops from this manager every hierarchy
    /// where it failed with a permission error ([`Error::is_permission`]): runc's rootless rule
    /// for a cgroup the caller may not create or join (its `Apply`/`AddPid` delete such a path
    /// from the manager). Other errors are returned at once. Returns the dropped hierarchies
    /// with their errors, for the caller's warning.
    pub fn tolerate(
        &mut self,
        mut op: impl FnMut(&Manager) -> Result<()>,
    ) -> Result<Vec<(String, Error)>> {
        let mut dropped = Vec::new();
        for (key, path) in self.paths.clone() {
            let one = Manager::from_paths(BTreeMap::from([(key.clone(), path)]));
            match op(&one) {
                Ok(()) => {}
                Err(e) if e.is_permission() => {
                    self.paths.remove(&key);
                    dropped.push((key, e));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dropped)
    }

    /// The cgroup directory of every hierarchy.
    pub fn paths(&self) -> &BTreeMap<String, PathBuf> {
        &self.paths
    }

    /// The cgroup directory of hierarchy `key` (`""` for v2).
    pub fn path(&self, key: &str) -> Option<&Path> {
        self.paths.get(key).map(PathBuf::as_path)
    }

    /// Resolves every path to its hierarchy.
    pub(crate) fn dirs(&self) -> Result<Vec<Dir>> {
        self.dirs_of(|_| true)
    }

    /// Resolves the paths whose hierarchy `want` accepts (the others are not opened).
    fn dirs_of(&self, want: impl Fn(&Hierarchy) -> bool) -> Result<Vec<Dir>> {
        self.dirs_of_keys(|_| true, want)
    }

    /// [`Manager::dirs_of`] among the paths whose key `key` accepts.
    fn dirs_of_keys(
        &self,
        key: impl Fn(&str) -> bool,
        want: impl Fn(&Hierarchy) -> bool,
    ) -> Result<Vec<Dir>> {
        let hierarchies = mounted_hierarchies()?;
        let mut dirs = Vec::new();
        for (_, path) in self.paths.iter().filter(|(k, _)| key(k)) {
            let hierarchy = hierarchy_of(hierarchies, path)
                .ok_or_else(|| Error::NotInHierarchy { path: path.clone() })?;
            if want(hierarchy) {
                dirs.push(Dir {
                    hierarchy,
                    node: Node::new(&hierarchy.mount_point, path)?,
                });
            }
        }
        Ok(dirs)
    }

    /// The directory used to list processes and check existence: v2 if present, else the v1
    /// freezer, devices or first hierarchy.
    fn primary(&self) -> Result<Option<Dir>> {
        let mut dirs = self.dirs()?;
        let pos = dirs
            .iter()
            .position(|d| d.node.unified())
            .or_else(|| dirs.iter().position(|d| d.has_controller("freezer")))
            .or_else(|| dirs.iter().position(|d| d.has_controller("devices")));
        Ok(match pos {
            Some(i) => Some(dirs.swap_remove(i)),
            None => dirs.into_iter().next(),
        })
    }

    /// The v2 directory (unified host, or the hybrid `unified` hierarchy).
    fn unified(&self) -> Result<Option<Dir>> {
        Ok(self.dirs()?.into_iter().find(|d| d.node.unified()))
    }

    /// The directory whose freezer is used: the v1 freezer hierarchy, else v2.
    fn freezer_dir(&self) -> Result<Option<Dir>> {
        // Only those are opened (`list` asks the status of every container), and the paths whose
        // key names them are tried first: the others need not be matched to a mount.
        let dirs = match self.dirs_of_keys(freezer::likely_key, freezer::has_freezer)? {
            d if d.is_empty() => self.dirs_of(freezer::has_freezer)?,
            d => d,
        };
        Ok(freezer::pick(dirs))
    }

    /// Whether the cgroup exists.
    pub fn exists(&self) -> bool {
        matches!(self.primary(), Ok(Some(d)) if d.node.exists())
    }

    /// Creates the cgroup in every hierarchy (like `mkdir -p`). On cgroup v2 the controllers
    /// available in each ancestor are enabled in its `cgroup.subtree_control` (best effort); on a
    /// v1 cpuset hierarchy empty `cpuset.cpus`/`cpuset.mems` are copied from the parent.
    ///
    /// Fails if the cgroup already exists and contains processes or is frozen (as runc).
    pub fn create(&self) -> Result<()> {
        let dirs = self.dirs()?;
        if self.exists() {
            let pids = self.pids()?;
            if !pids.is_empty() {
                return Err(Error::NotEmpty {
                    path: self.primary()?.map(|d| d.node.path()).unwrap_or_default(),
                    count: pids.len(),
                });
            }
            if self.freezer_state()? == FreezerState::Frozen {
                return Err(Error::Frozen {
                    path: self
                        .freezer_dir()?
                        .map(|d| d.node.path())
                        .unwrap_or_default(),
                });
            }
        }
        let unified_host = hierarchy::detect() == CgroupMode::Unified;
        for dir in &dirs {
            let created = dir.node.mkdir_all()?;
            if dir.node.unified() && unified_host {
                v2::enable_controllers(&dir.node);
            }
            if !dir.node.unified()
                && dir.has_controller("cpuset")
                && let Err(e) = v1::cpuset::fill_from_parent(&dir.node)
            {
                for n in created.iter().rev() {
                    let _ = n.rmdir();
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// An `O_DIRECTORY|O_CLOEXEC` fd of the v2 cgroup directory, for `clone3`'s
    /// `CLONE_INTO_CGROUP`; `None` if there is no v2 hierarchy.
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>> {
        let Some(dir) = self.unified()? else {
            return Ok(None);
        };
        dir.node
            .open_dir(OFlags::RDONLY)
            .map(Some)
            .map_err(|e| Error::Io {
                op: "open",
                path: dir.node.path(),
                source: io_err(e),
            })
    }

    /// Moves process `pid` into the cgroup of every hierarchy; the v2 one is skipped when
    /// `skip_unified` (the process was created there with `CLONE_INTO_CGROUP`).
    pub fn add_pid(&self, pid: i32, skip_unified: bool) -> Result<()> {
        self.add_pid_except(pid, skip_unified, false)
    }

    /// Whether the cgroup has a directory in a v1 hierarchy (what
    /// [`Manager::join_thread_v1`] would join).
    pub fn has_v1(&self) -> Result<bool> {
        Ok(self.dirs()?.iter().any(|d| !d.node.unified()))
    }

    /// Moves the calling thread, and only it, into the cgroup of every v1 hierarchy (`0`
    /// written to each `tasks` file), so that a process it forks is born there.
    ///
    /// Moving a whole process (`cgroup.procs`) takes the kernel's global threadgroup lock for
    /// writing, whose first writer after an idle spell waits for a full RCU grace period
    /// (10-20 ms, and every fork on the machine waits behind it); moving the caller's own
    /// thread takes no such lock. The caller is a thread made for this: it forks and ends, and
    /// its membership ends with it. On error the thread may be in some of the cgroups.
    pub fn join_thread_v1(&self) -> Result<()> {
        for dir in self.dirs()? {
            if !dir.node.unified() {
                dir.node.write("tasks", "0")?;
            }
        }
        Ok(())
    }

    /// The calling thread's own cgroup in each v1 hierarchy of this manager: where
    /// [`Manager::join_thread_v1`] moves it back after it joined this manager's cgroups (a
    /// thread that stays, e.g. the only thread of a short-lived program). Fails if the thread
    /// is not in one of those hierarchies or its cgroup is not visible.
    pub fn own_v1(&self) -> Result<Manager> {
        let text = hierarchy::read_proc_thread_self_cgroup()?;
        let mut paths = BTreeMap::new();
        for (key, path) in &self.paths {
            let hierarchies = mounted_hierarchies()?;
            let h = hierarchy_of(hierarchies, path)
                .ok_or_else(|| Error::NotInHierarchy { path: path.clone() })?;
            if h.unified {
                continue;
            }
            let own = hierarchy::own_dir(h, &text)?
                .ok_or_else(|| Error::NotInHierarchy { path: path.clone() })?;
            paths.insert(key.clone(), own);
        }
        Ok(Manager { paths })
    }

    /// [`Manager::add_pid`], skipping as well every v1 hierarchy when `skip_v1` (the process was
    /// forked by a thread that had joined them: [`Manager::join_thread_v1`]).
    pub fn add_pid_except(&self, pid: i32, skip_unified: bool, skip_v1: bool) -> Result<()> {
        let value = pid.to_string();
        for dir in self.dirs()? {
            if (skip_unified && dir.node.unified()) || (skip_v1 && !dir.node.unified()) {
                continue;
            }
            let mut attempt = 0;
            loop {
                match dir.node.write("cgroup.procs", &value) {
                    Ok(()) => break,
                    // EINVAL: the task may still be in TASK_NEW; retry briefly (as runc).
                    Err(Error::Write { source, .. })
                        if source.raw_os_error() == Some(libc::EINVAL) && attempt < 5 =>
                    {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(30));
                    }
                    Err(Error::Write { source, .. }) | Err(Error::Io { source, .. }) => {
                        return Err(Error::AddPid {
                            pid,
                            path: dir.node.path(),
                            source,
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Every process in the cgroup and its descendants (host pids), in no particular order.
    /// Empty if the cgroup does not exist.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        if let Some(dir) = self.primary()? {
            collect_pids(&dir.node, &mut out)?;
        }
        Ok(out)
    }

    /// Whether no process is in the cgroup (or it does not exist).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.pids()?.is_empty())
    }

    /// Sends `signal` to every process of the cgroup. `SIGKILL` uses `cgroup.kill` when the v2
    /// directory has it; otherwise the cgroup is frozen, each process signalled, and thawed.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if signal == libc::SIGKILL
            && let Some(dir) = self.unified()?
            && !dir.node.is_root()
            && dir.node.has_file("cgroup.kill")
        {
            match dir.node.write("cgroup.kill", "1") {
                Ok(()) => {
                    // A v1 freezer (hybrid host) keeps killed tasks frozen: thaw them so that
                    // they die (v2 frozen tasks die anyway).
                    if self.freezer_state()? == FreezerState::Frozen {
                        self.freeze(false)?;
                    }
                    return Ok(());
                }
                Err(Error::Write { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        let frozen = match self.freeze(true) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot freeze the cgroup before signalling it");
                false
            }
        };
        let result = (|| {
            for pid in self.pids()? {
                match crate::sys::kill(pid, signal) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(source) => {
                        return Err(Error::Kill {
                            pid,
                            signal,
                            source,
                        });
                    }
                }
            }
            Ok(())
        })();
        if frozen {
            self.freeze(false)?;
        }
        result
    }

    /// Freezes (`true`) or thaws (`false`) the cgroup: the v1 freezer if there is one, else v2.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        match self.freezer_dir()? {
            Some(d) if d.node.unified() => v2::freezer::set(&d.node, frozen),
            Some(d) => v1::freezer::set(&d.node, frozen),
            None => Err(Error::NoFreezer {
                path: self.paths.values().next().cloned().unwrap_or_default(),
            }),
        }
    }

    /// The freezer state of the cgroup ([`FreezerState::Undefined`] without freezer or cgroup).
    pub fn freezer_state(&self) -> Result<FreezerState> {
        // A missing directory reads as a missing file: undefined (no separate existence check:
        // `list` asks this of every container).
        freezer::read(self.freezer_dir()?.as_ref().map(|d| &d.node))
    }

    /// Removes the cgroup in every hierarchy, sub-cgroups first, retrying briefly while the
    /// kernel still reports it busy. A missing directory is not an error. The first failure is
    /// returned after every hierarchy was tried.
    pub fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for dir in self.dirs()? {
            if let Err(e) = remove_tree(&dir.node)
                && first_err.is_none()
            {
                first_err = Some(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Applies resource limits (runc's `Set`): v1 files on a v1 or hybrid host (hugetlb through
    /// the v2 hierarchy when it is bound there), v2 files on a unified host, with runc's
    /// conversions (shares → `cpu.weight`, memory+swap → `memory.swap.max`, blkio weight →
    /// `io.weight`). Kernel memory limits are ignored with a warning; device rules are not
    /// applied here.
    pub fn set(&self, r: &Resources) -> Result<()> {
        let dirs = self.dirs()?;
        if !dirs.is_empty() && dirs.iter().all(|d| d.node.unified()) {
            return v2::set(&dirs[0].node, r);
        }
        v1::set(&dirs, r)
    }

    /// Applies OCI device rules (in order, later rules win, starting from deny-all): the v1
    /// devices hierarchy if there is one (minimal `devices.allow`/`devices.deny` transition),
    /// else an eBPF device filter attached to the v2 directory. Never a no-op: without either,
    /// this is [`Error::Unsupported`].
    pub fn set_devices(&self, rules: &[DeviceCgroup]) -> Result<()> {
        let dirs = self.dirs()?;
        if let Some(d) = dirs
            .iter()
            .find(|d| !d.node.unified() && d.has_controller("devices"))
        {
            return v1::devices::set(&d.node, rules);
        }
        match dirs.iter().find(|d| d.node.unified() && !d.node.is_root()) {
            Some(d) => v2::devices::set(&d.node, rules),
            None => Err(Error::Unsupported {
                resource: "devices".to_owned(),
                reason: "no v1 devices hierarchy and no cgroup v2 directory to attach a device \
                         filter to"
                    .to_owned(),
            }),
        }
    }

    /// The ids of the eBPF device programs attached to the v2 directory of this cgroup (empty
    /// without one).
    pub fn device_programs(&self) -> Result<Vec<u32>> {
        match self.unified()? {
            Some(d) if !d.node.is_root() => v2::devices::attached(&d.node),
            _ => Ok(Vec::new()),
        }
    }

    /// Registers for the OOM events of the cgroup: the v1 memory hierarchy if there is one
    /// (eventfd on `memory.oom_control`), else the v2 directory (`memory.events`).
    pub fn notify_oom(&self) -> Result<OomNotifier> {
        let dirs = self.dirs()?;
        if let Some(d) = dirs
            .iter()
            .find(|d| !d.node.unified() && d.has_controller("memory"))
        {
            return OomNotifier::v1(d.node.clone());
        }
        match dirs
            .into_iter()
            .find(|d| d.node.unified() && !d.node.is_root() && d.node.has_file("memory.events"))
        {
            Some(d) => OomNotifier::v2(d.node),
            None => Err(Error::Unsupported {
                resource: "OOM notifications".to_owned(),
                reason: "no memory controller for this cgroup".to_owned(),
            }),
        }
    }

    /// How many times the OOM killer killed a process of this cgroup (v2 `memory.events`
    /// `oom_kill`; v1 `memory.oom_control` `oom_kill`), 0 if unknown.
    pub fn oom_kill_count(&self) -> Result<u64> {
        for d in self.dirs()? {
            let count = if d.node.unified() {
                v2::memory::oom_kill_count(&d.node)?
            } else if d.has_controller("memory") {
                v1::memory::oom_kill_count(&d.node)?
            } else {
                continue;
            };
            if let Some(count) = count {
                return Ok(count);
            }
        }
        Ok(0)
    }

    /// Reads resource usage: whatever the host exposes for this cgroup.
    pub fn stats(&self) -> Result<Stats> {
        let dirs = self.dirs()?;
        if !dirs.is_empty() && dirs.iter().all(|d| d.node.unified()) {
            return v2::stats(&dirs[0].node);
        }
        v1::stats(&dirs)
    }

    /// What to mount in a container's `/sys/fs/cgroup` on a v1 or hybrid host: (name of the
    /// directory under the container's `/sys/fs/cgroup`, host directory of this cgroup in that
    /// hierarchy). Only the v1 hierarchies: the hybrid host's cgroup2 hierarchy (`unified`) is
    /// left out, as runc 1.3 does (its `getCgroupMounts` lists v1 mounts only). Empty on a
    /// unified host (mount a cgroup2 file system instead).
    pub fn mount_sources(&self) -> Vec<(String, PathBuf)> {
        if hierarchy::detect() == CgroupMode::Unified {
            return Vec::new();
        }
        self.paths
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect()
    }

    /// Symlinks to create next to co-mounted v1 hierarchies: (link name, target), e.g.
    /// `("cpu", "cpu,cpuacct")` and `("cpuacct", "cpu,cpuacct")`.
    pub fn comount_symlinks(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for key in self.paths.keys().filter(|k| k.contains(',')) {
            for part in key.split(',') {
                let part = part.strip_prefix("name=").unwrap_or(part);
                if !part.is_empty() && !self.paths.contains_key(part) {
                    out.push((part.to_owned(), key.clone()));
                }
            }
        }
        out
    }
}

/// Appends the pids of `node` and its descendants.
fn collect_pids(node: &Node, out: &mut Vec<i32>) -> Result<()> {
    let Some(procs) = node.read_opt("cgroup.procs")? else {
        return Ok(());
    };
    for line in procs.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.push(line.parse().map_err(|_| Error::Parse {
            path: node.path().join("cgroup.procs"),
            value: line.to_owned(),
            reason: "not a pid".to_owned(),
        })?);
    }
    for child in node.children()? {
        collect_pids(&node.child(&child)?, out)?;
    }
    Ok(())
}

/// Removes `node` and its sub-cgroups, retrying on `EBUSY` for a short while (as runc's
/// `RemovePath`: the kernel reports `EBUSY` for child cgroups and for dying processes).
fn remove_tree(node: &Node) -> Result<()> {
    let mut delay = Duration::from_millis(10);
    let mut attempt = 0;
    loop {
        match node.rmdir() {
            Ok(_) => return Ok(()),
            Err(e @ (Errno::BUSY | Errno::NOTEMPTY)) if attempt < 6 => {
                let children = node.children()?;
                if children.is_empty() {
                    if e == Errno::NOTEMPTY {
                        attempt = 6;
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                } else {
                    for child in children {
                        remove_tree(&node.child(&child)?)?;
                    }
                }
                attempt += 1;
            }
            Err(e) => {
                return Err(Error::Io {
                    op: "rmdir",
                    path: node.path(),
                    source: io_err(e),
                });
            }
        }
    }
}
