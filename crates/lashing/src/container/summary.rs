//! The OCI state of containers as `state` and `list` show them, and [`summaries`]: the
//! containers under a state root, each read from the head of its state file only, by up to
//! [`MAX_THREADS`] threads when there are many.

use std::collections::BTreeMap;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use lashing_cgroups::{FreezerReader, FreezerState::Frozen, Manager};
use rustix::fs::{AtFlags, Mode, OFlags};

use crate::error::{Error, Result};
use crate::state::{self, FIFO, Head, ProcDir, ProcId};
use crate::status::{OciState, Status};

/// One container under a state root, as [`summaries`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Its OCI state (`owner` is `"root"` or the uid: a caller maps it to a name if it wants).
    pub state: OciState,
    /// The uid of the user that created it.
    pub owner: u32,
}

/// The containers under a state root, in id order, each with its OCI state or why it could
/// not be read: what `lashing list` prints. A state file's configuration is skipped but for
/// the four fields of the OCI state, so this costs about one small read per container (and
/// the status checks of [`crate::Container::status`]). Containers being created are left out
/// (as [`crate::list`] and runc do). From 128 containers on, the work is shared by up to four
/// threads (one per 64 containers, no more than the CPUs this process may run on), the order
/// kept; a thread that cannot be made leaves its share to the calling one.
///
/// ```no_run
/// for (id, summary) in lashing::summaries("/run/my-runtime")? {
///     match summary {
///         Ok(s) => println!("{id}\t{}\t{}", s.state.pid, s.state.status),
///         Err(e) => eprintln!("{id}: {e}"),
///     }
/// }
/// # Ok::<(), lashing::Error>(())
/// ```
pub fn summaries(root: impl AsRef<Path>) -> Result<Vec<(String, Result<Summary>)>> {
    let root = root.as_ref();
    // The root is opened once and every file under it is opened relative to it, as every
    // init's `/proc/<pid>/stat` relative to an opened `/proc`: `list` walks no full path per
    // container.
    let root_fd = match rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read state root", root, e)),
    };
    let ids = entries(&root_fd).map_err(|e| Error::io("read state root", root, e))?;
    // (the CPUs are asked only when there is enough work for a second thread)
    let threads = if ids.len() >= 2 * PER_THREAD {
        threads_for(ids.len(), usable_cpus())
    } else {
        1
    };
    Ok(summarize_split(root_fd.as_fd(), root, &ids, threads))
}

/// The fewest containers worth a thread of their own: a thread costs about as much as reading
/// a few dozen state files (its stack's pages, the clone, the join).
const PER_THREAD: usize = 64;
/// The most threads [`summaries`] uses: `list` is a short command, and more threads than this
/// mostly compete for the same dentries and the same `/proc`.
const MAX_THREADS: usize = 4;
/// The stack of a summary thread: its work is shallow (a state file's head parsed in place, a
/// few paths), far below the default 2 MiB, and a smaller stack is fewer pages mapped.
const SUMMARY_STACK: usize = 256 * 1024;

/// The CPUs this process may run on (its affinity mask), or 1 when the kernel does not say.
fn usable_cpus() -> usize {
    rustix::thread::sched_getaffinity(None).map_or(1, |set| set.count() as usize)
}

/// How many threads summarize `containers` containers on `cpus` CPUs: one per [`PER_THREAD`],
/// at most one per CPU and [`MAX_THREADS`], at least one.
fn threads_for(containers: usize, cpus: usize) -> usize {
    (containers / PER_THREAD).min(cpus).clamp(1, MAX_THREADS)
}

/// `len` items cut into `threads` consecutive ranges (fewer when there are fewer items) whose
/// sizes differ by at most one, in order, covering `0..len`.
fn split_for(len: usize, threads: usize) -> Vec<Range<usize>> {
    let parts = threads.clamp(1, len.max(1));
    let (size, longer) = (len / parts, len % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let end = start + size + usize::from(i < longer);
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// [`summarize`] of `ids` on `threads` threads (the calling one included), results in the
/// order of `ids`. A thread the system refuses leaves its share to the calling thread; a
/// panic in one is resumed in the caller.
fn summarize_split(
    root_fd: BorrowedFd<'_>,
    root: &Path,
    ids: &[String],
    threads: usize,
) -> Vec<(String, Result<Summary>)> {
    let parts = split_for(ids.len(), threads);
    if parts.len() <= 1 {
        return summarize(root_fd, root, ids);
    }
    std::thread::scope(|scope| {
        let others: Vec<_> = parts[1..]
            .iter()
            .map(|range| {
                let part = &ids[range.clone()];
                let spawned = std::thread::Builder::new()
                    .name("lashing-list".into())
                    .stack_size(SUMMARY_STACK)
                    .spawn_scoped(scope, move || summarize(root_fd, root, part));
                (part, spawned.ok())
            })
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        out.extend(summarize(root_fd, root, &ids[parts[0].clone()]));
        for (part, handle) in others {
            match handle {
                Some(h) => match h.join() {
                    Ok(done) => out.extend(done),
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                None => out.extend(summarize(root_fd, root, part)),
            }
        }
        out
    })
}

/// The summaries of the containers `ids` under the state root opened as `root_fd`, in order,
/// those being created (or gone meanwhile) left out.
fn summarize(
    root_fd: BorrowedFd<'_>,
    root: &Path,
    ids: &[String],
) -> Vec<(String, Result<Summary>)> {
    let mut proc = ProcDir::open();
    // The containers' cgroups mostly share a parent: it is resolved and opened once.
    let mut freezer = FreezerReader::new();
    let mut out = Vec::with_capacity(ids.len());
    let mut buf = Vec::new();
    for id in ids {
        let summary = match Head::read_at(root_fd, root, id, &mut buf) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                continue;
            }
            Err(e) => Err(e),
            Ok(h) if h.being_created() => continue,
            Ok(h) => {
                let init = (h.init_process_pid > 0).then_some(ProcId {
                    pid: h.init_process_pid,
                    start: h.init_process_start,
                });
                let status = decide(
                    || init.is_some_and(|p| proc.alive(p)),
                    || matches!(freezer.state(&h.cgroup_paths.0), Ok(Frozen)),
                    || {
                        let fifo = format!("{id}/{FIFO}");
                        rustix::fs::statat(root_fd, fifo.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                            .is_ok()
                    },
                );
                Ok(Summary {
                    owner: h.owner,
                    state: OciState {
                        oci_version: crate::config::OCI_VERSION.to_string(),
                        id: h.id,
                        pid: shown_pid(status, h.init_process_pid),
                        status,
                        bundle: h.config.bundle,
                        rootfs: h.config.rootfs,
                        created: h.created,
                        annotations: h.config.annotations,
                        owner: owner_text(h.owner),
                    },
                })
            }
        };
        out.push((id.clone(), summary));
    }
    out
}

/// The names under the state root that can be container ids, sorted (hidden ones, such as a
/// directory being created, are not).
fn entries(root_fd: &OwnedFd) -> std::io::Result<Vec<String>> {
    let mut dir = rustix::fs::Dir::read_from(root_fd)?;
    let mut ids = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let Ok(id) = entry.file_name().to_str() else {
            continue;
        };
        if !id.starts_with('.') && state::validate_id(id).is_ok() {
            ids.push(id.to_string());
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// The status of a container from its state directory, recorded init and cgroup: stopped when
/// the init is gone (or its pid reused), paused when its cgroup is frozen, created while the
/// exec fifo exists, running otherwise.
pub(crate) fn status_of(dir: &Path, init: Option<ProcId>, cgroup: &Manager) -> Status {
    decide(
        || init.is_some_and(|p| p.alive()),
        || matches!(cgroup.freezer_state(), Ok(Frozen)),
        || dir.join(FIFO).exists(),
    )
}

/// [`status_of`] with its probes given: whether the init lives, whether its cgroup is frozen and
/// whether the exec fifo exists (each asked only when the answer matters).
fn decide(
    alive: impl FnOnce() -> bool,
    frozen: impl FnOnce() -> bool,
    fifo: impl FnOnce() -> bool,
) -> Status {
    if !alive() {
        return Status::Stopped;
    }
    if frozen() {
        return Status::Paused;
    }
    if fifo() {
        Status::Created
    } else {
        Status::Running
    }
}

/// The OCI version shown: the bundle's, or the spec's 1.2.0 when it named none.
/// The pid shown: the init's, 0 once stopped.
fn shown_pid(status: Status, init_pid: i32) -> i32 {
    if status == Status::Stopped {
        0
    } else {
        init_pid
    }
}

/// The owner shown before a caller maps the uid to a name: "root", or the uid.
fn owner_text(uid: u32) -> String {
    if uid == 0 {
        "root".to_string()
    } else {
        uid.to_string()
    }
}

/// What an OCI state is made of, as a state file records it.
pub(crate) struct Parts<'a> {
    pub(crate) id: &'a str,
    pub(crate) init_pid: i32,
    pub(crate) bundle: &'a Path,
    pub(crate) rootfs: &'a Path,
    pub(crate) created: &'a str,
    pub(crate) annotations: &'a BTreeMap<String, String>,
    pub(crate) owner: u32,
}

impl Parts<'_> {
    /// The OCI state with `status` (pid 0 once stopped; the runtime's spec version, as runc
    /// reports its own `specs.Version`, not the bundle's; owner "root" or the uid).
    pub(crate) fn oci_state(&self, status: Status) -> OciState {
        OciState {
            oci_version: crate::config::OCI_VERSION.to_string(),
            id: self.id.to_string(),
            pid: shown_pid(status, self.init_pid),
            status,
            bundle: self.bundle.to_path_buf(),
            rootfs: self.rootfs.to_path_buf(),
            created: self.created.to_string(),
            annotations: self.annotations.clone(),
            owner: owner_text(self.owner),
        }
    }
}

#[cfg(test)]
mod tests;
