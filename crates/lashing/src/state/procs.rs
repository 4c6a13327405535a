//! Processes named by pid and start time ([`ProcId`]), probed through `/proc/<pid>/stat`: by
//! path for one process, or relative to a `/proc` opened once ([`ProcDir`]) when `list` probes
//! one init per container.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{CWD, Mode, OFlags};
use serde::{Deserialize, Serialize};

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
        let Some(data) = read_stat(CWD, "/proc/", self.pid) else {
            return true;
        };
        std::str::from_utf8(&data)
            .ok()
            .and_then(parse_proc_flags)
            .is_some_and(|(start, flags)| start != self.start || flags & PF_EXITING != 0)
    }
}

/// The host's `/proc`, opened once to probe many processes: each probe is then one `openat` of
/// `<pid>/stat` relative to it (no walk from `/`) and one `read`.
pub(crate) struct ProcDir(Option<OwnedFd>);

impl ProcDir {
    /// Opens `/proc`; if that fails, the probes go by path (and fail the same way).
    pub(crate) fn open() -> ProcDir {
        let fd = rustix::fs::open(
            "/proc",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        );
        ProcDir(fd.ok())
    }

    /// Whether `p` is alive, as [`ProcId::alive`].
    pub(crate) fn alive(&self, p: ProcId) -> bool {
        let stat = match &self.0 {
            Some(fd) => read_stat(fd.as_fd(), "", p.pid),
            None => read_stat(CWD, "/proc/", p.pid),
        };
        p.pid > 0 && is_live(stat.as_deref(), p.start)
    }
}

/// Whether the text of a `/proc/<pid>/stat` file (`None`: none) is that of a live process started
/// at `start`.
fn is_live(stat: Option<&[u8]>, start: u64) -> bool {
    let parsed = stat
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(parse_proc_stat);
    matches!(parsed, Some((s, t)) if t == start && s != 'Z' && s != 'X')
}

/// The bytes of `<prefix><pid>/stat` relative to `dir`, or `None` if the process is gone.
///
/// The file is one record of a few hundred bytes, produced whole at the first `read`: a read
/// that does not fill the buffer has returned all of it, so no second `read` is made to see the
/// end (a record as long as the buffer is read on).
fn read_stat(dir: BorrowedFd<'_>, prefix: &str, pid: i32) -> Option<Vec<u8>> {
    if pid <= 0 {
        return None;
    }
    let path = format!("{prefix}{pid}/stat");
    let fd = rustix::fs::openat(
        dir,
        path.as_str(),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    loop {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len < buf.len() {
                    break;
                }
                buf.resize(len * 2, 0);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    buf.truncate(len);
    Some(buf)
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

/// The state letter and start time of a process from `/proc/<pid>/stat`, or `None` if it is gone.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = read_stat(CWD, "/proc/", pid)?;
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
    pid > 0 && is_live(read_stat(CWD, "/proc/", pid).as_deref(), start)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let proc = ProcDir::open();
        assert!(proc.0.is_some());
        assert!(proc.alive(ProcId { pid, start }));
        assert!(!proc.alive(ProcId {
            pid,
            start: start + 1
        }));
        assert!(!proc.alive(ProcId { pid: 0, start }));
        assert!(!ProcDir(None).alive(ProcId {
            pid,
            start: start + 1
        }));
        assert!(ProcDir(None).alive(ProcId { pid, start }));
    }

    /// A zombie and a gone process are not alive, by path or through the opened `/proc`.
    #[test]
    fn zombies_and_the_dead_are_not_alive() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let (_, start) = proc_stat(pid).unwrap();
        let p = ProcId { pid, start };
        assert!(ProcDir::open().alive(p));
        child.kill().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while proc_stat(pid).is_some_and(|(s, _)| s != 'Z') && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(proc_stat(pid).map(|(s, _)| s), Some('Z'));
        assert!(!alive(pid, start));
        assert!(!ProcDir::open().alive(p));
        child.wait().unwrap();
        assert!(proc_stat(pid).is_none());
        assert!(!ProcDir::open().alive(p));
        assert!(!p.alive());
    }
}
