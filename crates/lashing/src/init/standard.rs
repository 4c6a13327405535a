//! The init of a new container (runc's standard_init_linux.go): namespaces, rootfs with the
//! hooks sync before `pivot_root`, `Created`, the wait on the exec fifo, then the exec.

use std::os::fd::AsRawFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::channel::{Payload, ToInit, ToParent};
use crate::config::{Config, HookKind, NamespaceType};
use crate::rootfs;
use crate::security::lsm::ProcFs;
use crate::sys::process as sysp;

use super::context::Init;
use super::context::Never;
use super::cwd::create_cwd;
use super::exec::{clear_onlcr, exec_failed, join_keyring};
use super::fds::close_from_except;
use super::log;
use super::report::{Fail, R, chain};

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
            let procfs =
                ProcFs::open().map_err(|e| Fail::msg("open a private procfs", None, chain(&e)))?;
            self.fifo_procfs = Some(procfs.self_fd_dir().map_err(|e| {
                Fail::io("open", Some("self/fd of a private procfs".to_string()), e)
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
        let params = rootfs::RootfsParams {
            config,
            cgroup_v1_sources: &sources,
            cgroup_v2_dir: p.cgroup_v2.as_deref(),
            cgroup_ns: config.has_namespace(NamespaceType::Cgroup),
        };
        let mut hook_err = None;
        let mut before_pivot = || -> Result<(), rootfs::RootfsError> {
            if let Err(e) = self.hooks_sync(config, &p.id) {
                hook_err = Some(e);
                return Err(rootfs::RootfsError::aborted());
            }
            Ok(())
        };
        let r = rootfs::prepare_rootfs(&params, &mut before_pivot);
        if let Some(e) = hook_err {
            return Err(e);
        }
        r?;
        // The terminal, allocated inside the container's root (runc's setupConsole).
        if let Some(sock) = self.console.take() {
            crate::tty::setup_console(&self.thread, sock, proc.console_size, proc.user.uid, true)
                .map_err(|e| Fail::io(e.step, e.path, e.source))?;
            clear_onlcr(&p)?;
        }
        // Hostname and sysctls before the read-only remounts and masks (as runc).
        rootfs::set_hostname(config)?;
        rootfs::write_sysctls(config)?;
        // The cwd is created before the root may become read-only (runc's createCwd, as root,
        // 0755), resolved in the container's root (we are past the pivot).
        create_cwd(proc)?;
        if config.has_namespace(NamespaceType::Mount) {
            rootfs::finalize_rootfs(config)?;
        }
        let exec = self.prepare_exec(&p)?;

        // A created container's init acts on the signals that end runc's (Go's defaults).
        sysp::set_waiting_signal_handlers()
            .map_err(|e| Fail::io("install signal handlers", None, e))?;
        // Done with the parent: it sees `Created`, then EOF, and returns from `create`. From here
        // on, failures go to `start` through the exec fifo (see `report`).
        self.send(&ToParent::Created)?;
        log::detach();
        self.sock = None;
        self.wait_fifo()?;
        sysp::reset_signals().map_err(|e| Fail::io("reset signal dispositions", None, e))?;
        self.start_container_hooks(config, &p.id, &exec.env)?;
        // The fifo's write end stays (close-on-exec) so that an exec failure still reaches `start`.
        let keep = self.fifo_w.as_ref().map(|w| w.as_raw_fd() as u32);
        close_from_except(&self.thread, 3 + self.preserved as u32, keep);
        let e = sysp::execve(&exec.program, &exec.argv, &exec.env);
        Err(exec_failed(&proc.args[0], e))
    }

    pub(super) fn hooks_sync(&self, config: &Config, id: &str) -> R<()> {
        self.send(&ToParent::Hooks)?;
        self.expect(|m| matches!(m, ToInit::HooksDone), "HooksDone")?;
        // createContainer hooks: in the container's namespaces, before pivot_root (as runc).
        let Some(list) = config.hooks.get(&HookKind::CreateContainer) else {
            return Ok(());
        };
        let state = serde_json::json!({
            "ociVersion": config.oci_version, "id": id, "status": "creating",
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
        let name = fifo.as_raw_fd().to_string();
        let flags = OFlags::WRONLY | OFlags::CLOEXEC;
        // Opening for writing blocks until `start` opens the fifo for reading.
        let w = match self.fifo_procfs.take() {
            Some(dir) => rustix::fs::openat(&dir, name.as_str(), flags, Mode::empty()),
            None => {
                check_container_proc()?;
                rustix::fs::open(format!("/proc/self/fd/{name}"), flags, Mode::empty())
            }
        }
        .map_err(|e| Fail::io("open exec fifo", None, e))?;
        let same = |a: &rustix::fs::Stat, b: &rustix::fs::Stat| {
            (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
        };
        let (want, got) = (rustix::fs::fstat(&fifo), rustix::fs::fstat(&w));
        match (want, got) {
            (Ok(a), Ok(b)) if same(&a, &b) => {}
            _ => {
                return Err(Fail::msg(
                    "open exec fifo",
                    None,
                    "what /proc/self/fd gave is not the exec fifo (was /proc replaced?)",
                ));
            }
        }
        drop(fifo);
        rustix::io::write(&w, b"0").map_err(|e| Fail::io("write exec fifo", None, e))?;
        self.fifo_w = Some(w);
        Ok(())
    }
}

/// The container's `/proc` must be the root of a procfs (nothing mounted over it).
pub(super) fn check_container_proc() -> R<()> {
    let root = rustix::fs::open(
        "/proc",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| Fail::io("open", Some("/proc".to_string()), e))?;
    let st = rustix::fs::fstat(&root).map_err(|e| Fail::io("stat", Some("/proc".into()), e))?;
    let fs = rustix::fs::fstatfs(&root).map_err(|e| Fail::io("statfs", Some("/proc".into()), e))?;
    if fs.f_type != rustix::fs::PROC_SUPER_MAGIC || st.st_ino != 1 {
        return Err(Fail::msg(
            "open exec fifo",
            Some("/proc".to_string()),
            "the container's /proc is not the root of a procfs",
        ));
    }
    Ok(())
}
