//! The init of a new container (runc's standard_init_linux.go): namespaces, rootfs with the
//! hooks sync before `pivot_root`, `Created`, the wait on the exec fifo, then the exec.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use rustix::fs::OFlags;

use crate::channel::{Payload, ToInit, ToParent};
use crate::config::{Config, HookKind, NamespaceType};
use crate::procfs::{self, ProcFs};
use crate::rootfs;
use crate::sys::process as sysp;
use crate::waterfall;

use super::context::Init;
use super::context::Never;
use super::cwd::create_cwd;
use super::exec::{clear_onlcr, exec_failed, join_keyring};
use super::fds::close_from_except;
use super::log;
use super::report::{Fail, R};

impl Init {
    pub(super) fn standard(&mut self, p: Payload) -> R<Never> {
        self.enter_namespaces(&p)?;
        if p.config.new_namespace(NamespaceType::Network) {
            crate::sys::net::loopback_up()
                .map_err(|e| Fail::io("bring up", Some("lo".to_string()), e))?;
        }
        sysp::setsid().map_err(|e| Fail::io("setsid", None, e))?;
        let config = &p.config;
        let proc = &p.process;
        join_keyring(&p)?;
        // The fifo handle is reopened for writing through `self/fd` of a procfs of the
        // container's pid namespace, never the host's. With a procfs mounted on the container's
        // `/proc`, that one is opened (and verified) when init starts waiting, so that no
        // procfs handle is held while it waits; without one, a private procfs made here, before
        // the pivot, is kept until `start`.
        let mounts_proc = config
            .mounts
            .iter()
            .any(|m| m.device == "proc" && m.destination == Path::new("/proc"));
        if self.fifo.is_some() && !mounts_proc {
            let procfs = ProcFs::open()
                .map_err(|e| Fail::msg("open a private procfs", None, crate::error::chain(&e)))?;
            self.fifo_procfs = Some(procfs.self_fd_dir().map_err(|e| {
                Fail::msg(
                    "open",
                    Some("self/fd of a private procfs".to_string()),
                    crate::error::chain(&e),
                )
            })?);
        }
        let sources: Vec<rootfs::CgroupMountSource> = p
            .cgroup_v1
            .iter()
            .map(|s| rootfs::CgroupMountSource {
                name: s.name.clone(),
                host_dir: s.host_dir.clone(),
            })
            .collect();
        // Only the socket is borrowed (the rest of `self` stays free for the steps below).
        let sock = &self.sock;
        let idmap = move |mount: usize, tree: std::os::fd::BorrowedFd<'_>| {
            idmap_sync(sock.as_ref(), mount, tree)
        };
        let params = rootfs::RootfsParams {
            config,
            cgroup_v1_sources: &sources,
            cgroup_v2_dir: p.cgroup_v2.as_deref(),
            cgroup_ns: config.has_namespace(NamespaceType::Cgroup),
            idmap: Some(&idmap),
        };
        let mounted = rootfs::Mounted::mount(&params)?;
        waterfall::mark_init("rootfs mounted");
        if p.hooks_sync {
            self.hooks_sync(config, &p.id)?;
        }
        let synced = mounted.hooks_synced();
        if let (Some(exe), Some(target)) = (self.exe_mount.take(), p.exe_attach.as_deref()) {
            // Attached, it leaves with the old root at the pivot; its close is then no release.
            synced.attach_exe(exe.as_fd(), target);
        }
        let pivoted = synced.pivot()?;
        waterfall::mark_init("pivot_root done");
        // The terminal, allocated inside the container's root (runc's setupConsole).
        if let Some(sock) = self.console.take() {
            crate::tty::setup_console(&self.thread, sock, proc.console_size, proc.user.uid, true)
                .map_err(|e| Fail::io(e.step, e.path, e.source))?;
            clear_onlcr(&p)?;
        }
        // The host's /dev/null as stdio becomes the container's (runc's reOpenDevNull).
        super::fds::reopen_dev_null(&self.thread)?;
        // Hostname and sysctls before the read-only remounts and masks (as runc).
        pivoted.set_hostname()?;
        pivoted.write_sysctls()?;
        // The cwd is created before the root may become read-only (runc's createCwd, as root,
        // 0755), resolved in the container's root (we are past the pivot).
        create_cwd(proc)?;
        pivoted.finalize()?;
        waterfall::mark_init("rootfs finalized (masks, read-only)");
        let exec = self.prepare_exec(&p)?;
        if p.straight {
            return self.run_straight(&p, &exec);
        }

        // A created container's init acts on the signals that end runc's (Go's defaults).
        sysp::set_waiting_signal_handlers()
            .map_err(|e| Fail::io("install signal handlers", None, e))?;
        // Done with the parent: it sees `Created`, then EOF, and returns from `create`. From here
        // on, failures go to `start` through the exec fifo (see `report`).
        waterfall::mark_init("created: waits on the exec fifo");
        self.send(&ToParent::Created {
            stamps: waterfall::drain(),
        })?;
        log::detach();
        self.sock = None;
        self.wait_fifo()?;
        // Init reset every signal at its start: only the handlers installed since go.
        sysp::reset_waiting_signal_handlers()
            .map_err(|e| Fail::io("reset signal dispositions", None, e))?;
        self.start_container_hooks(config, &p.id, &exec.env)?;
        // The fifo's write end stays (close-on-exec) so that an exec failure still reaches `start`.
        let keep = self.fifo_w.as_ref().map(|w| w.as_raw_fd() as u32);
        close_from_except(&self.thread, 3 + self.preserved as u32, keep);
        let e = sysp::execve(&exec.program, &exec.argv, &exec.env);
        Err(exec_failed(&proc.args[0], e))
    }

    /// `run` ([`Payload::straight`]): no wait on the exec fifo. `Created` tells the parent that
    /// what fails from here is the start's; the socket stays open (close-on-exec) through the
    /// startContainer hooks to `execve`, whose EOF tells the parent the program runs, and over
    /// which a failure is reported.
    fn run_straight(&mut self, p: &Payload, exec: &super::exec::Exec) -> R<Never> {
        waterfall::mark_init("created: goes on (run)");
        self.send(&ToParent::Created {
            stamps: waterfall::drain(),
        })?;
        self.start_container_hooks(&p.config, &p.id, &exec.env)?;
        let sock = self.sock()?.as_raw_fd() as u32;
        // The log's copy of the socket goes first (it is above the preserved fds).
        log::detach();
        close_from_except(&self.thread, 3 + self.preserved as u32, Some(sock));
        let e = sysp::execve(&exec.program, &exec.argv, &exec.env);
        Err(exec_failed(&p.process.args[0], e))
    }

    pub(super) fn hooks_sync(&self, config: &Config, id: &str) -> R<()> {
        self.send(&ToParent::Hooks {
            stamps: waterfall::drain(),
        })?;
        self.expect(|m| matches!(m, ToInit::HooksDone), "HooksDone")?;
        waterfall::mark_init("hooksDone received");
        // createContainer hooks: in the container's namespaces, before pivot_root (as runc).
        let Some(list) = config.hooks.get(&HookKind::CreateContainer) else {
            return Ok(());
        };
        let state = serde_json::json!({
            "ociVersion": crate::config::OCI_VERSION, "id": id, "status": "creating",
            "pid": rustix::process::getpid().as_raw_nonzero().get(), "bundle": config.bundle,
            "annotations": config.annotations,
        })
        .to_string();
        for (i, h) in list.iter().enumerate() {
            crate::hooks::run(h, HookKind::CreateContainer, i, &state).map_err(|e| {
                Fail::msg(
                    "createContainer hook",
                    Some(h.path.display().to_string()),
                    e.to_string(),
                )
            })?;
        }
        Ok(())
    }

    /// Blocks until `start` opens the exec fifo for reading, then writes one byte. The `O_PATH`
    /// handle is reopened for writing through `self/fd` of a procfs of the container: the
    /// private one kept from before the pivot when the container mounts no procfs; else the
    /// container's `/proc`, checked to be the root of a procfs and then walked by path, so that
    /// while init waits it holds no procfs handle (only the fifo handle, stdio and the preserved
    /// fds). What the open returned must be the fifo itself (same inode).
    pub(super) fn wait_fifo(&mut self) -> R<()> {
        let Some(fifo) = self.fifo.take() else {
            return Ok(());
        };
        let flags = OFlags::WRONLY | OFlags::CLOEXEC;
        // Opening for writing blocks until `start` opens the fifo for reading.
        let w = match self.fifo_procfs.take() {
            Some(dir) => dir.reopen(fifo.as_fd(), flags),
            None => procfs::reopen_through_container_proc(fifo.as_fd(), flags),
        }
        .map_err(|e| match e {
            procfs::ProcError::Open { source, .. } => Fail::io("open exec fifo", None, source),
            e => Fail::msg(
                "open exec fifo",
                Some("/proc".to_string()),
                crate::error::chain(&e),
            ),
        })?;
        drop(fifo);
        rustix::io::write(&w, b"0").map_err(|e| Fail::io("write exec fifo", None, e))?;
        self.fifo_w = Some(w);
        Ok(())
    }
}

/// `IdmapPlease` with the detached tree of mount `mount`; the parent answers `IdmapDone` (or
/// fails the container: its error is the one reported).
fn idmap_sync(
    sock: Option<&std::os::fd::OwnedFd>,
    mount: usize,
    tree: std::os::fd::BorrowedFd<'_>,
) -> Result<(), String> {
    let sock = sock.ok_or("init socket already closed")?;
    crate::channel::send(sock, &ToParent::IdmapPlease { mount }, &[tree])
        .map_err(|e| format!("send the tree to the parent: {e}"))?;
    match crate::channel::recv::<ToInit>(sock) {
        Ok(Some((ToInit::IdmapDone, _))) => Ok(()),
        Ok(Some((m, _))) => Err(format!("expected IdmapDone, got {m:?}")),
        Ok(None) => Err("parent went away while waiting for IdmapDone".into()),
        Err(e) => Err(format!("read from parent: {e}")),
    }
}
