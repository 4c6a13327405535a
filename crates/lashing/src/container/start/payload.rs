//! The payload a bootstrap sends init (process, config, fds), [`Bootstrap::send_payload`].

use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{Mode, OFlags};

use super::{Bootstrap, Spawned};
use crate::channel::{self, CgroupSource, FdLayout, Payload, ToInit};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::process::Stdio;

impl Bootstrap<'_> {
    /// Sends [`ToInit::Payload`] with its fds: stdio, the exec fifo's `O_PATH` handle, the
    /// console socket, the preserved fds, (`exec`) the init's namespaces and the protected
    /// executable's mount that init attaches (`exe::attach_target`), in [`FdLayout`]'s
    /// order. The seccomp profile is compiled here, in the parent.
    pub(super) fn send_payload(&mut self, init: &Spawned) -> Result<()> {
        let c = &*self.c;
        let process = &*self.process;
        let config = &c.state.config;
        let mut fds: Vec<BorrowedFd<'_>> = Vec::new();
        let mut layout = FdLayout::default();
        for (i, s) in [&process.stdin, &process.stdout, &process.stderr]
            .into_iter()
            .enumerate()
        {
            if let Stdio::Fd(fd) = s {
                layout.stdio[i] = true;
                fds.push(fd.as_fd());
            }
        }
        // A `run`'s init goes straight on to its exec: no fifo to wait on.
        let fifo_fd = match self.fifo.filter(|_| !self.straight) {
            Some(fifo) => Some(
                rustix::fs::open(fifo, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
                    .map_err(|e| Error::io("open exec fifo", fifo, e))?,
            ),
            None => None,
        };
        if let Some(f) = &fifo_fd {
            layout.fifo = true;
            fds.push(f.as_fd());
        }
        if let Some(sock) = process.console_socket.as_ref().filter(|_| process.terminal) {
            layout.console = true;
            fds.push(sock.as_fd());
        }
        layout.preserved = process.extra_files.len();
        layout.preserved_gaps = process.extra_files_gaps.clone();
        fds.extend(process.extra_files.iter().map(|f| f.as_fd()));
        layout.namespaces = self.ns_fds.len();
        fds.extend(self.ns_fds.iter().map(|(_, f)| f.as_fd()));
        let exe_mount = self.exe_mount.take();
        if let Some((fd, _)) = &exe_mount {
            layout.exe_mount = true;
            fds.push(fd.as_fd());
        }

        let cgroup_v1 = c
            .cgroup
            .mount_sources()
            .into_iter()
            .map(|(name, host_dir)| CgroupSource { name, host_dir })
            .collect();
        let cgroup_v2 = c.cgroup.paths().get("").cloned();
        let seccomp = match &config.seccomp {
            Some(s) => Some(
                crate::security::seccomp::compile(s).map_err(|e| Error::Security {
                    what: "compile the seccomp profile",
                    source: Box::new(e),
                })?,
            ),
            None => None,
        };
        crate::waterfall::mark("payload built (seccomp compiled)");
        let payload = Payload {
            kind: self.kind,
            id: c.state.id.clone(),
            process: self.merged.clone(),
            config: Config::clone(config),
            join: self.plan.join.clone(),
            join_fds: self.ns_fds.iter().map(|(t, _)| *t).collect(),
            unshare: self.plan.unshare,
            fork: self.plan.fork,
            time_offsets: config
                .time_offsets
                .iter()
                .map(|(k, (s, n))| (k.clone(), *s, *n))
                .collect(),
            fds: layout,
            cgroup_v1,
            cgroup_v2,
            seccomp,
            hook_state: None,
            clear_onlcr: process.clear_onlcr && process.terminal,
            log_level: channel::LogLevel::current(),
            hooks_sync: self.hooks_sync,
            waterfall: crate::waterfall::enabled(),
            straight: self.straight,
            exe_attach: exe_mount.as_ref().map(|(_, target)| target.clone()),
        };
        tracing::debug!("writing sync type:payload");
        if let Err(e) = channel::send(&init.sock, &ToInit::Payload(Box::new(payload)), &fds) {
            // A child that failed before reading (its exec, say) has closed its end: what it
            // sent is still queued, and the sync loop reports it rather than "broken pipe".
            if !matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) {
                return Err(Error::InitSocket {
                    op: "send the payload on",
                    source: e,
                });
            }
        }
        crate::waterfall::mark("payload sent");
        drop(fifo_fd);
        // Init holds the mount now: the last close is its own, after the attach.
        drop(exe_mount);
        self.ns_fds.clear();
        Ok(())
    }
}
