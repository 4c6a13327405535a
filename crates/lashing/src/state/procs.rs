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
/// `<pid>/stat` relative to it (no walk from `/`) and one `read`, into a buffer kept from one
/// probe to the next.
pub(crate) struct ProcDir {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
}

impl ProcDir {
    /// Opens `/proc`; if that fails, the probes go by path (and fail the same way).
    pub(crate) fn open() -> ProcDir {
        let fd = rustix::fs::open(
            "/proc",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        );
        ProcDir {
            fd: fd.ok(),
            buf: Vec::new(),
        }
    }

    /// Whether `p` is alive, as [`ProcId::alive`].
    pub(crate) fn alive(&mut self, p: ProcId) -> bool {
        let read = match &self.fd {
            Some(fd) => read_stat_into(fd.as_fd(), "", p.pid, &mut self.buf),
            None => read_stat_into(CWD, "/proc/", p.pid, &mut self.buf),
        };
        p.pid > 0 && is_live(read.then_some(&self.buf[..]), p.start)
    }
}

/// Whether the text of a `/proc/<pid>/stat` file (`None`: none) is that of a live process started
/// at `start`.
fn is_live(stat: Option<&[u8]>, start: u64) -> bool {
    matches!(stat.and_then(parse_stat_bytes), Some((s, t)) if t == start && s != b'Z' && s != b'X')
}

/// The bytes of `<prefix><pid>/stat` relative to `dir`, or `None` if the process is gone.
fn read_stat(dir: BorrowedFd<'_>, prefix: &str, pid: i32) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    read_stat_into(dir, prefix, pid, &mut buf).then_some(buf)
}

/// Reads `<prefix><pid>/stat` relative to `dir` into `buf` (replacing what it held; its capacity
/// is kept); `false` if the process is gone.
///
/// The file is one record of a few hundred bytes, produced whole at the first `read`: a read
/// that does not fill the buffer has returned all of it, so no second `read` is made to see the
/// end (a record as long as the buffer is read on).
fn read_stat_into(dir: BorrowedFd<'_>, prefix: &str, pid: i32, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    if pid <= 0 {
        return false;
    }
    let path = format!("{prefix}{pid}/stat");
    let Ok(fd) = rustix::fs::openat(
        dir,
        path.as_str(),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    buf.reserve(1024);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len());
        }
        let asked = buf.capacity() - buf.len();
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(buf)) {
            Ok(n) if n < asked => return true,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return false,
        }
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

/// The state letter and start time of a process from `/proc/<pid>/stat`, or `None` if it is gone.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = read_stat(CWD, "/proc/", pid)?;
    parse_stat_bytes(&data).map(|(s, t)| (char::from(s), t))
}

/// The state letter and start time in the text of a `/proc/<pid>/stat` file.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn parse_proc_stat(data: &str) -> Option<(char, u64)> {
    parse_stat_bytes(data.as_bytes()).map(|(s, t)| (char::from(s), t))
}

/// The state letter and start time in the bytes of a `/proc/<pid>/stat` file (no UTF-8 check: the command name may be any bytes).
fn parse_stat_bytes(data: &[u8]) -> Option<(u8, u64)> {
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let close = data.iter().rposition(|&b| b == b')')?;
    let mut fields = data[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    // After the name, field 3 is the state; start time is field 22, i.e. the 20th after state.
    let start = fields.nth(18)?;
    if start.is_empty() || start.len() > 20 || !start.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let start = start.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
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
        let mut proc = proc;
        assert!(proc.fd.is_some());
        assert!(proc.alive(ProcId { pid, start }));
        assert!(!proc.alive(ProcId {
            pid,
            start: start + 1
        }));
        assert!(!proc.alive(ProcId { pid: 0, start }));
        let mut by_path = ProcDir {
            fd: None,
            buf: Vec::new(),
        };
        assert!(!by_path.alive(ProcId {
            pid,
            start: start + 1
        }));
        assert!(by_path.alive(ProcId { pid, start }));
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
