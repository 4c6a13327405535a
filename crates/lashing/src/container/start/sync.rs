//! The sync loop of a bootstrap with init: one `handle_*` method per [`ToParent`] message.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::{Bootstrap, Spawned, record_init, send, set_affinity, write_id_maps};
use crate::channel::{self, InitKind, ToInit, ToParent};
use crate::config::HookKind;
use crate::container::{Container, exe};
use crate::error::{Error, InitFailure, Result};
use crate::state;
use crate::sys;

impl Bootstrap<'_> {
    /// Serves init's messages until it is done. A new container's init ends with `Created`
    /// and then EOF; an exec's init keeps its socket until `execve` (close-on-exec), so an EOF
    /// after `Ready` is its success. Any other EOF is a death.
    pub(super) fn sync(&mut self, init: &mut Spawned) -> Result<()> {
        // Init's messages are bounded: one `recvmsg` each into this buffer, of pages that
        // become resident only where a message fills them.
        let mut buf = sys::pages::ZeroedPages::new(channel::MAX_TO_PARENT).map_err(|e| {
            Error::InitSocket {
                op: "map a receive buffer for",
                source: e,
            }
        })?;
        loop {
            let raw =
                channel::recv_bounded(&init.sock, &mut buf).map_err(|e| Error::InitSocket {
                    op: "read from",
                    source: e,
                })?;
            let Some(raw) = raw else {
                if self.created || (self.ready && self.kind == InitKind::Setns) {
                    if self.straight {
                        crate::waterfall::mark("run: init executed the process (socket EOF)");
                    }
                    return Ok(());
                }
                return Err(init.child.died());
            };
            if raw.data.first() == Some(&sys::clone::EXEC_FAILED) && raw.data.len() == 5 {
                let errno = i32::from_le_bytes(raw.data[1..5].try_into().expect("4 bytes"));
                return Err(handle_exec_failed(errno));
            }
            let msg: ToParent = channel::parse(&raw.data).map_err(|e| Error::InitProtocol {
                what: "a message that does not parse".into(),
                source: Some(Box::new(e)),
            })?;
            tracing::debug!(elapsed = ?self.t0.elapsed(), "read sync type:{}", msg.name());
            // Test-only fault injection (debug builds): kill init at a named sync point.
            #[cfg(debug_assertions)]
            if crate::fault::kill_init_at(msg.name())
                && let Some((_, pidfd)) = init.child.0.as_ref()
            {
                crate::fault::kill_and_wait_exit(pidfd.as_fd());
            }
            let handled = match msg {
                ToParent::Pid(pid) => init.child.adopt(pid).and_then(|()| {
                    if self.kind == InitKind::Standard {
                        record_init(self.c, pid)
                    } else {
                        Ok(())
                    }
                }),
                ToParent::MapsPlease => self.handle_maps_please(init),
                ToParent::IdmapPlease { mount } => self.handle_idmap(init, mount, raw.fds),
                ToParent::Hooks { stamps } => {
                    crate::waterfall::add(stamps);
                    self.handle_hooks(init)
                }
                ToParent::Ready { stamps } => {
                    crate::waterfall::add(stamps);
                    self.handle_ready(init)
                }
                ToParent::SeccompFd => self.handle_seccomp_fd(init, raw.fds),
                ToParent::Log { level, message } => {
                    self.handle_log(level, &message);
                    Ok(())
                }
                ToParent::Created { stamps } => {
                    crate::waterfall::add(stamps);
                    self.handle_created()
                }
                ToParent::Error(f) => {
                    // A `run`'s init that fails after `Created` failed to start, not to create
                    // (a standard init's `Created` is its last message otherwise).
                    self.process.started = self.created;
                    Err(Error::Init(f))
                }
            };
            // A reply that init could not take (it closed its socket): init died; say how.
            match handled {
                Err(Error::InitSocket { source, .. })
                    if matches!(source.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) =>
                {
                    return Err(init.child.died());
                }
                r => r?,
            }
        }
    }

    /// `MapsPlease`: init unshared a user namespace; write its maps and answer `MapsDone`.
    fn handle_maps_please(&self, init: &Spawned) -> Result<()> {
        write_id_maps(init.child.pid(), &self.c.state.config)?;
        send(init, &ToInit::MapsDone)
    }

    /// `IdmapPlease`: make the detached tree init sent (the clone of the source of mount
    /// `index`) idmapped with that mount's maps, answer `IdmapDone`. Only a mount of the config
    /// that asks for it is idmapped, with its own maps (one user namespace per distinct maps).
    fn handle_idmap(&mut self, init: &Spawned, index: usize, fds: Vec<OwnedFd>) -> Result<()> {
        let config = &self.c.state.config;
        let (Some(m), [tree]) = (config.mounts.get(index), fds.as_slice()) else {
            return Err(Error::InitProtocol {
                what: format!("idmapPlease for mount {index} with {} fds", fds.len()),
                source: None,
            });
        };
        let Some(idm) = &m.id_mapping else {
            return Err(Error::InitProtocol {
                what: format!("idmapPlease for mount {index}, which is not idmapped"),
                source: None,
            });
        };
        // A user namespace the container joins by path carries the mapping (runc's UserNSPath).
        if let Some(path) = &idm.userns_path {
            let userns = rustix::fs::open(
                path,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::io("open the user namespace of an idmapped mount", path, e))?;
            crate::rootfs::idmap::idmap_tree(
                tree.as_fd(),
                userns.as_fd(),
                idm.recursive,
                &m.source,
            )?;
            return send(init, &ToInit::IdmapDone);
        }
        let known = self.idmap_userns.iter().position(|(maps, _)| {
            maps.uid_mappings == idm.uid_mappings && maps.gid_mappings == idm.gid_mappings
        });
        let pos = match known {
            Some(i) => i,
            None => {
                let fd = crate::rootfs::idmap::userns_for(idm)?;
                self.idmap_userns.push((idm.clone(), fd));
                self.idmap_userns.len() - 1
            }
        };
        crate::rootfs::idmap::idmap_tree(
            tree.as_fd(),
            self.idmap_userns[pos].1.as_fd(),
            idm.recursive,
            &m.source,
        )?;
        tracing::debug!(mount = index, source = %m.source, recursive = idm.recursive, "idmapped");
        send(init, &ToInit::IdmapDone)
    }

    /// `Hooks`: init is about to `pivot_root`; set the cgroup resources, run the prestart and
    /// createRuntime hooks, answer `HooksDone`.
    fn handle_hooks(&mut self, init: &Spawned) -> Result<()> {
        if self.kind != InitKind::Standard || !self.hooks_sync {
            return Err(Error::InitProtocol {
                what: "Hooks without hooks to run".into(),
                source: None,
            });
        }
        let pid = init.child.pid();
        self.c.state.init_process_pid = pid;
        self.apply_resources()?;
        self.c.run_hooks(HookKind::Prestart, Some(pid))?;
        self.c.run_hooks(HookKind::CreateRuntime, Some(pid))?;
        crate::waterfall::mark("prestart and createRuntime hooks ran");
        tracing::debug!("writing sync type:hooksDone");
        send(init, &ToInit::HooksDone)
    }

    /// Sets the container's cgroup resources, once.
    fn apply_resources(&mut self) -> Result<()> {
        if !self.resources_set {
            crate::container::cgroups::apply_resources(self.c)?;
            self.resources_set = true;
            crate::waterfall::mark("cgroup resources set");
        }
        Ok(())
    }

    /// `Ready`: set the rlimits, hand the pidfd to `--pidfd-socket`, then (exec) the final
    /// affinity or (new container) the resources (without hooks) and the state's record of the
    /// init; answer `Run`, then (new container) save the state.
    fn handle_ready(&mut self, init: &mut Spawned) -> Result<()> {
        let pid = init.child.pid();
        for r in &self.merged.rlimits {
            let resource = rlimit_resource(r.resource).ok_or_else(|| {
                Error::io(
                    "set rlimit",
                    format!("resource {}", r.resource),
                    std::io::Error::from_raw_os_error(libc::EINVAL),
                )
            })?;
            let limit = rustix::process::Rlimit {
                current: (r.soft != u64::MAX).then_some(r.soft),
                maximum: (r.hard != u64::MAX).then_some(r.hard),
            };
            rustix::process::prlimit(rustix::process::Pid::from_raw(pid), resource, limit)
                .map_err(|e| {
                    Error::io(
                        "set rlimit",
                        format!("resource {} soft {} hard {}", r.resource, r.soft, r.hard),
                        e,
                    )
                })?;
        }
        // --pidfd-socket: the parent holds a pidfd of the process (taken at clone3, or with
        // pidfd_open after init's fork) and sends a copy, named as runc names it.
        if let (Some(sock), Some((_, pidfd))) = (&self.process.pidfd_socket, &init.child.0) {
            crate::tty::send_fd(sock.as_fd(), self.kind.name(), pidfd.as_fd()).map_err(|e| {
                Error::Sys {
                    op: "send a pidfd to the pidfd socket",
                    source: e,
                }
            })?;
        }
        if self.kind == InitKind::Setns {
            set_affinity(pid, self.exec_affinity().final_.as_deref());
        } else {
            // Without hooks init did not stop before `pivot_root`: the resources are set here,
            // before the user switch and the exec (runc's order without a mount namespace).
            self.apply_resources()?;
            let Some((_, start)) = state::proc_stat(pid) else {
                return Err(init.child.died());
            };
            let c = &mut *self.c;
            let st = c.state_mut();
            st.init_process_pid = pid;
            st.init_process_start = start;
            st.created = crate::time::now_rfc3339_nanos();
            st.creator = None;
            st.namespace_paths = st.derived_namespace_paths();
        }
        tracing::debug!("writing sync type:run");
        send(init, &ToInit::Run)?;
        crate::waterfall::mark("run sent");
        self.ready = true;
        if self.kind == InitKind::Standard {
            // Saved while init finishes (user, capabilities, seccomp): nothing of init reads the
            // file, and `create` returns only after it (at `Created`); a failure here fails
            // `create` and the guard kills init.
            let c = &*self.c;
            c.state.save(&c.dir)?;
            crate::waterfall::mark("state saved (created)");
            tracing::debug!(
                pid,
                elapsed = ?self.t0.elapsed(),
                "container {} is created: state saved",
                c.state.id
            );
        }
        Ok(())
    }

    /// `SeccompFd`: hand the listener that came with the message to the agent at
    /// `listenerPath`; answer `SeccompDone`.
    fn handle_seccomp_fd(&self, init: &Spawned, fds: Vec<OwnedFd>) -> Result<()> {
        let fd = fds.into_iter().next().ok_or_else(|| Error::InitProtocol {
            what: "SeccompFd came without the seccomp listener's fd".into(),
            source: None,
        })?;
        send_seccomp_listener(self.c, init.child.pid(), fd.as_fd())?;
        send(init, &ToInit::SeccompDone)
    }

    /// `Log`: re-emit the line, up to [`channel::MAX_LOG_LINES`] of them.
    fn handle_log(&mut self, level: channel::LogLevel, message: &str) {
        self.logged += 1;
        if self.logged <= channel::MAX_LOG_LINES {
            reemit(level, message);
        } else if self.logged == channel::MAX_LOG_LINES + 1 {
            tracing::warn!(
                "container init sent more than {} log lines: the rest are dropped",
                channel::MAX_LOG_LINES
            );
        }
    }

    /// `Created`: only a new container's init sends it, and only after `Ready`.
    fn handle_created(&mut self) -> Result<()> {
        if !self.ready || self.kind != InitKind::Standard {
            return Err(Error::InitProtocol {
                what: "Created before Ready".into(),
                source: None,
            });
        }
        self.created = true;
        Ok(())
    }
}

/// The rustix resource of an `RLIMIT_*` number (the config holds the numbers).
fn rlimit_resource(n: u32) -> Option<rustix::process::Resource> {
    use rustix::process::Resource::*;
    [
        Cpu, Fsize, Data, Stack, Core, Rss, Nproc, Nofile, Memlock, As, Locks, Sigpending,
        Msgqueue, Nice, Rtprio, Rttime,
    ]
    .into_iter()
    .find(|r| *r as u32 == n)
}

/// The 5-byte report of the child whose `execveat` of `lashing init` failed.
fn handle_exec_failed(errno: i32) -> Error {
    Error::Init(InitFailure {
        step: "exec lashing init".into(),
        path: Some(exe::self_exe().display().to_string()),
        errno: Some(errno),
        message: std::io::Error::from_raw_os_error(errno).to_string(),
    })
}

/// Hands a seccomp notify listener to the agent at `listenerPath` with runc's state message.
fn send_seccomp_listener(c: &Container, pid: i32, fd: BorrowedFd<'_>) -> Result<()> {
    use crate::security::seccomp::{ContainerProcessState, send_listener};
    let sc = c.state.config.seccomp.as_ref();
    let path = sc
        .and_then(|s| s.listener_path.as_ref())
        .ok_or_else(|| Error::Security {
            what: "seccomp notify",
            source: "no linux.seccomp.listenerPath".into(),
        })?;
    let mut st = serde_json::to_value(c.oci_state()).unwrap_or_default();
    st["pid"] = pid.into();
    let state =
        ContainerProcessState::new(pid, sc.and_then(|s| s.listener_metadata.as_deref()), st);
    send_listener(path, &state, fd).map_err(|e| Error::Security {
        what: "send the seccomp listener",
        source: Box::new(e),
    })
}

/// Re-emits a log line of init through this process's `tracing` (so it reaches `--log`).
fn reemit(level: channel::LogLevel, message: &str) {
    let mut message = message.to_string();
    channel::truncate_at(&mut message, channel::MAX_LOG_LINE);
    match level {
        channel::LogLevel::Error => tracing::error!("{message}"),
        channel::LogLevel::Warn => tracing::warn!("{message}"),
        channel::LogLevel::Info => tracing::info!("{message}"),
        channel::LogLevel::Debug => tracing::debug!("{message}"),
        channel::LogLevel::Trace => tracing::trace!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimit_numbers_map_to_their_resource() {
        use rustix::process::Resource;
        assert_eq!(rlimit_resource(libc::RLIMIT_NOFILE), Some(Resource::Nofile));
        assert_eq!(rlimit_resource(libc::RLIMIT_RTTIME), Some(Resource::Rttime));
        assert_eq!(rlimit_resource(libc::RLIMIT_CPU), Some(Resource::Cpu));
        // Linux has 16 resources (RLIMIT_CPU = 0 .. RLIMIT_RTTIME = 15).
        for n in 0..16 {
            assert_eq!(rlimit_resource(n).map(|r| r as u32), Some(n));
        }
        assert_eq!(rlimit_resource(16), None);
    }
}
