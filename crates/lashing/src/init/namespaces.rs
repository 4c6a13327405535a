//! Entering the namespaces: joined ones (by path or by the fds `exec` got), `unshare` of the
//! rest (a user namespace with the parent writing its maps), time offsets, and the fork into a
//! pid or time namespace.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags};

use crate::channel::{Payload, ToInit, ToParent};
use crate::config::NamespaceType;
use crate::sys::process as sysp;

use super::context::Init;
use super::report::{Fail, R};

impl Init {
    pub(super) fn enter_namespaces(&mut self, p: &Payload) -> R<()> {
        // Open every path first: joining one namespace may make the others unreachable. The
        // namespaces of `exec` came already opened by the parent (race-free with the init's death).
        let mut opened: Vec<(NamespaceType, String, OwnedFd)> = std::mem::take(&mut self.ns_fds)
            .into_iter()
            .map(|(typ, fd)| {
                (
                    typ,
                    format!("{} namespace of the init", typ.proc_name()),
                    fd,
                )
            })
            .collect();
        for (typ, path) in &p.join {
            let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Fail::io("open namespace", Some(path.display().to_string()), e))?;
            opened.push((*typ, path.display().to_string(), fd));
        }
        // Non-user namespaces first (as host root), then the user namespace, then what needed
        // privileges in it.
        let mut later = Vec::new();
        for (typ, path, fd) in opened.iter().filter(|(t, ..)| *t != NamespaceType::User) {
            if sysp::setns(fd.as_fd(), typ.clone_flag()).is_err() {
                later.push((*typ, path, fd));
            }
        }
        if let Some((typ, path, fd)) = opened.iter().find(|(t, ..)| *t == NamespaceType::User) {
            sysp::setns(fd.as_fd(), typ.clone_flag())
                .map_err(|e| Fail::io("join namespace", Some(path.clone()), e))?;
            sysp::set_ids(0, 0).map_err(|e| Fail::io("become root in user namespace", None, e))?;
        }
        for (typ, path, fd) in later {
            sysp::setns(fd.as_fd(), typ.clone_flag())
                .map_err(|e| Fail::io("join namespace", Some(path.clone()), e))?;
        }
        drop(opened);
        let user = NamespaceType::User.clone_flag();
        if p.unshare & user != 0 {
            sysp::unshare(user)
                .map_err(|e| Fail::io("unshare", Some("user namespace".to_string()), e))?;
            self.send(&ToParent::MapsPlease)?;
            self.expect(|m| matches!(m, ToInit::MapsDone), "MapsDone")?;
            sysp::set_ids(0, 0).map_err(|e| Fail::io("become root in user namespace", None, e))?;
        }
        let rest = p.unshare & !user;
        if rest != 0 {
            sysp::unshare(rest)
                .map_err(|e| Fail::io("unshare", Some(format!("flags {rest:#x}")), e))?;
        }
        if p.unshare & NamespaceType::Time.clone_flag() != 0 && !p.time_offsets.is_empty() {
            let text: String = p
                .time_offsets
                .iter()
                .map(|(clock, s, n)| format!("{clock} {s} {n}\n"))
                .collect();
            // Non-dumpable, /proc/self belongs to the host's root: dumpable for this one write (as
            // runc's nsexec for its id maps), then not again.
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)
                .map_err(|e| Fail::io("prctl(PR_SET_DUMPABLE)", None, e))?;
            let r = fs::write("/proc/self/timens_offsets", text);
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
                .map_err(|e| Fail::io("prctl(PR_SET_DUMPABLE)", None, e))?;
            r.map_err(|e| Fail::io("write", Some("/proc/self/timens_offsets".to_string()), e))?;
        }
        if p.fork {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| Fail::io("pipe", None, e))?;
            match self
                .thread
                .fork_parent()
                .map_err(|e| Fail::io("fork into the pid namespace", None, e))?
            {
                sysp::Fork::Parent(pid) => {
                    let _ = self.send(&ToParent::Pid(pid));
                    let _ = rustix::io::write(&w, &[1]);
                    sysp::exit_now(0)
                }
                sysp::Fork::Child => {
                    drop(w);
                    let mut b = [0u8; 1];
                    let _ = rustix::io::read(&r, &mut b);
                    if crate::waterfall::enabled() {
                        time_ns_offset();
                    }
                }
            }
        }
        crate::waterfall::mark_init("namespaces entered");
        Ok(())
    }
}

/// The waterfall's stamps of a process in a time namespace are taken off its monotonic offset
/// (best effort: `timens_offsets` may not be readable).
fn time_ns_offset() {
    let Ok(text) = fs::read_to_string("/proc/self/timens_offsets") else {
        return;
    };
    let offset = text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let clock = f.next()?;
        if clock != "monotonic" && clock != "1" {
            return None;
        }
        let secs: i64 = f.next()?.parse().ok()?;
        let nanos: i64 = f.next()?.parse().ok()?;
        Some(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    });
    if let Some(ns) = offset {
        crate::waterfall::set_clock_offset(ns);
    }
}
