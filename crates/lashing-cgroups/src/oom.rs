//! OOM notifications (runc's `NotifyOOM`): on cgroup v1 an eventfd registered through
//! `cgroup.event_control` on `memory.oom_control`; on cgroup v2 inotify on `memory.events`
//! (a rising `oom_kill` count) and `cgroup.events` (`populated 0` ends the stream).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};
use rustix::fs::OFlags;
use rustix::fs::inotify;
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::fs::{Node, io_err};

/// What [`OomNotifier::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomEvent {
    /// The OOM killer acted in the cgroup (v2: `count` new `oom_kill` events; v1: 1 per
    /// notification).
    Oom {
        /// How many kills (or notifications) since the last event.
        count: u64,
    },
    /// The cgroup was removed or has no process left: no more events will come.
    Gone,
}

enum Kind {
    V1 {
        efd: OwnedFd,
        _oom_control: OwnedFd,
        node: Node,
    },
    V2 {
        ino: OwnedFd,
        node: Node,
        seen: u64,
    },
}

/// A source of OOM events for one cgroup. Its fd ([`AsFd`]) becomes readable when something may
/// have happened: poll it with others, then call [`OomNotifier::wait`] with a zero timeout.
pub struct OomNotifier {
    kind: Kind,
}

impl std::fmt::Debug for OomNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (v, node) = match &self.kind {
            Kind::V1 { node, .. } => ("v1", node),
            Kind::V2 { node, .. } => ("v2", node),
        };
        f.debug_struct("OomNotifier")
            .field("version", &v)
            .field("cgroup", &node.path())
            .finish()
    }
}

fn io(op: &'static str, path: std::path::PathBuf, e: Errno) -> Error {
    Error::Io {
        op,
        path,
        source: io_err(e),
    }
}

fn oom_kills(node: &Node) -> Result<u64> {
    Ok(node
        .read_opt("memory.events")?
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

fn populated(node: &Node) -> Result<bool> {
    Ok(node
        .read_opt("cgroup.events")?
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("populated "))
                .is_none_or(|v| v.trim() != "0")
        })
        .unwrap_or(false))
}

impl OomNotifier {
    /// Registers for the OOM events of a v1 memory cgroup.
    pub(crate) fn v1(node: Node) -> Result<OomNotifier> {
        let oom_control = node.open_file("memory.oom_control", OFlags::RDONLY)?;
        let efd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC)
            .map_err(|e| io("create an eventfd for", node.path(), e))?;
        use std::os::fd::AsRawFd;
        node.write(
            "cgroup.event_control",
            &format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd()),
        )?;
        Ok(OomNotifier {
            kind: Kind::V1 {
                efd,
                _oom_control: oom_control,
                node,
            },
        })
    }

    /// Watches the OOM events of a v2 cgroup.
    pub(crate) fn v2(node: Node) -> Result<OomNotifier> {
        let ino = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| io("create an inotify instance for", node.path(), e))?;
        for file in ["memory.events", "cgroup.events"] {
            let path = node.path().join(file);
            inotify::add_watch(&ino, &path, inotify::WatchFlags::MODIFY)
                .map_err(|e| io("watch", path.clone(), e))?;
        }
        let seen = oom_kills(&node)?;
        Ok(OomNotifier {
            kind: Kind::V2 { ino, node, seen },
        })
    }

    /// Waits up to `timeout` (forever with `None`, or with a timeout too long to be represented)
    /// for the next event; `Ok(None)` when the time ran out.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<OomEvent>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if let Some(ev) = self.check()? {
                return Ok(Some(ev));
            }
            let left = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(None);
                    }
                    Some(d - now)
                }
                None => None,
            };
            let ts = left.map(|l| Timespec {
                tv_sec: i64::try_from(l.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(l.subsec_nanos()),
            });
            let mut fds = [PollFd::new(self, PollFlags::IN)];
            match rustix::event::poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(io("poll the OOM notifier of", self.path(), e)),
            }
        }
    }

    fn path(&self) -> std::path::PathBuf {
        match &self.kind {
            Kind::V1 { node, .. } | Kind::V2 { node, .. } => node.path(),
        }
    }

    /// Consumes what is pending on the fd and tells whether it was an event.
    fn check(&mut self) -> Result<Option<OomEvent>> {
        match &mut self.kind {
            Kind::V1 { efd, node, .. } => {
                let mut fds = [PollFd::new(&*efd, PollFlags::IN)];
                let zero = Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                if rustix::event::poll(&mut fds, Some(&zero)).unwrap_or(0) == 0 {
                    return Ok(None);
                }
                let mut buf = [0u8; 8];
                match rustix::io::read(&*efd, &mut buf) {
                    Ok(8) => {}
                    Ok(_) | Err(Errno::AGAIN) | Err(Errno::INTR) => return Ok(None),
                    Err(e) => return Err(io("read the OOM eventfd of", node.path(), e)),
                }
                // The eventfd also fires when the cgroup is removed.
                if !node.has_file("cgroup.event_control") {
                    return Ok(Some(OomEvent::Gone));
                }
                Ok(Some(OomEvent::Oom {
                    count: u64::from_ne_bytes(buf),
                }))
            }
            Kind::V2 { ino, node, seen } => {
                let mut buf = [0u8; 4096];
                loop {
                    match rustix::io::read(&*ino, &mut buf) {
                        Ok(_) | Err(Errno::INTR) => {}
                        Err(Errno::AGAIN) => break,
                        Err(e) => return Err(io("read the inotify events of", node.path(), e)),
                    }
                }
                if !node.exists() {
                    return Ok(Some(OomEvent::Gone));
                }
                let now = oom_kills(node)?;
                if now > *seen {
                    let count = now - *seen;
                    *seen = now;
                    return Ok(Some(OomEvent::Oom { count }));
                }
                if !populated(node)? {
                    return Ok(Some(OomEvent::Gone));
                }
                Ok(None)
            }
        }
    }
}

impl AsFd for OomNotifier {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            Kind::V1 { efd, .. } => efd.as_fd(),
            Kind::V2 { ino, .. } => ino.as_fd(),
        }
    }
}
