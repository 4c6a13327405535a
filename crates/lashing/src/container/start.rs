//! The parent side of the bootstrap (see ARCHITECTURE.md): exec fifo, cgroup, protected exe,
//! `clone3` into the namespaces and the cgroup, id maps, the payload, and the sync loop with init.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rustix::fs::{FileType, Mode, OFlags};

use super::namespaces::{NsPlan, open_init_namespaces, plan_exec, plan_namespaces};
use super::{Container, exe};
use crate::channel::{
    self, CgroupSource, FdLayout, INIT_PIPE_ENV, InitKind, Payload, ToInit, ToParent,
};
use crate::config::{Config, HookKind, IdMap, NamespaceType, ProcessConfig};
use crate::error::{Error, InitFailure, Result};
use crate::process::{Process, Stdio};
use crate::state::{self, FIFO};
use crate::sys;

impl Container {
    /// Starts the container's init (`Container::start`): see the module documentation.
    pub(super) fn start_init(&mut self, process: &mut Process) -> Result<()> {
        let c = self;
        let fifo = c.dir.join(FIFO);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o622),
            0,
        )
        .map_err(|e| Error::io("create exec fifo", &fifo, e))?;
        // mknod applies the umask: make the mode exact.
        let _ = rustix::fs::chmod(&fifo, Mode::from_raw_mode(0o622));
        // The cgroup is recorded as the container's before it is created, so that a create killed
        // at any point leaves nothing `delete` cannot remove; someone else's busy cgroup is refused
        // first (by `create`'s own check), and never recorded as ours.
        if let Err(e) = own_cgroup(c) {
            let _ = fs::remove_file(&fifo);
            if c.state.cgroup_owned {
                let _ = c.cgroup.destroy();
                c.state.cgroup_owned = false;
                let _ = c.state.save(&c.dir);
            }
            return Err(e);
        }
        // A new cgroup under a frozen parent is frozen too: init would freeze at its first step and
        // this call would never return.
        if let Some(path) = super::cgroups::effectively_frozen(&c.cgroup) {
            let _ = fs::remove_file(&fifo);
            let _ = c.cgroup.destroy();
            return Err(Error::CgroupFrozen { path });
        }
        let mut r = Bootstrap::new(c, process, Some(&fifo)).and_then(Bootstrap::run);
        if let Err(e) = r {
            // Before the cgroup goes: whatever failed, an OOM kill in it is the likely cause.
            r = Err(super::oom_cause(&c.cgroup, e));
            let _ = fs::remove_file(&fifo);
            if c.cgroup.destroy().is_ok() {
                c.state.cgroup_owned = false;
            }
            c.state.init_process_pid = 0;
            c.state.init_process_start = 0;
            let _ = c.state.save(&c.dir);
        }
        r
    }
}

/// Records the cgroup as the container's, then creates it.
fn own_cgroup(c: &mut Container) -> Result<()> {
    if c.cgroup.exists()
        && (!c.cgroup.is_empty()?
            || c.cgroup.freezer_state()? == lashing_cgroups::FreezerState::Frozen)
    {
        c.cgroup.create()?;
    }
    c.state.cgroup_owned = true;
    c.state.save(&c.dir)?;
    c.cgroup.create()?;
    Ok(())
}

/// Records the container's (future) init `pid` with its start time in the state file as soon
/// as it exists, so that it can be killed if this process dies before the container is
/// created (the record in memory gets it once init is ready).
fn record_init(c: &Container, pid: i32) -> Result<()> {
    let Some((_, start)) = state::proc_stat(pid) else {
        return Ok(());
    };
    let mut st = c.state.clone();
    st.init_process_pid = pid;
    st.init_process_start = start;
    st.save(&c.dir)
}

fn id_map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Writes the child's id maps through a verified procfs (by pid, see [`crate::procfs`]).
fn write_id_maps(pid: i32, config: &Config) -> Result<()> {
    let proc = crate::procfs::ProcFs::open_with(crate::procfs::ProcPolicy::PrivateOrHost)
        .map_err(|e| Error::io("write id map", format!("/proc/{pid}"), e.into_io()))?;
    for (file, maps) in [
        ("uid_map", &config.uid_mappings),
        ("gid_map", &config.gid_mappings),
    ] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        proc.write_pid_file(pid, file, &id_map_text(maps))
            .map_err(|e| Error::io("write id map", &path, e.into_io()))?;
    }
    Ok(())
}

/// Starts one more process in a running container (`exec`): it joins every namespace of the init
/// and the container's cgroup.
impl Container {
    /// Starts a process in the running container (`Container::exec`).
    pub(super) fn start_setns(&mut self, process: &mut Process) -> Result<()> {
        Bootstrap::new(self, process, None)?.run()
    }
}

/// The process a [`Bootstrap`] started: killed (`SIGKILL` through its pidfd) and reaped when
/// dropped, unless [`ChildGuard::release`]d once the container is created or the exec done
/// (runc's `defer p.terminate()`). After init forked ([`ToParent::Pid`]) it guards the real
/// container process, the intermediate one being reaped.
struct ChildGuard(Option<(i32, OwnedFd)>);

impl ChildGuard {
    /// The guarded pid (0 once it is reaped or released).
    fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |(pid, _)| *pid)
    }

    /// Guards `pid`, the process init forked into its pid or time namespace (parent's view),
    /// instead of the intermediate process, which exits after sending it and is reaped here.
    fn adopt(&mut self, pid: i32) -> Result<()> {
        if let Some((inter, _)) = self.0.take() {
            let _ = crate::process::wait_pid(inter);
        }
        let p = rustix::process::Pid::from_raw(pid).ok_or_else(|| {
            Error::io(
                "adopt",
                format!("pid {pid}"),
                std::io::Error::from_raw_os_error(libc::ESRCH),
            )
        })?;
        match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => {
                self.0 = Some((pid, fd));
                Ok(())
            }
            Err(e) => {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                let _ = crate::process::wait_pid(pid);
                Err(Error::io("pidfd_open", format!("pid {pid}"), e))
            }
        }
    }

    /// Reaps the process, which closed its socket without reporting, and says how it ended.
    fn died(&mut self) -> Error {
        let Some((pid, _pidfd)) = self.0.take() else {
            return Error::InitDied {
                pid: 0,
                what: "vanished before it reported".into(),
            };
        };
        let what = match crate::process::wait_pid(pid) {
            Ok(crate::process::ExitStatus::Exited(c)) => {
                format!("exited with status {c} before it reported")
            }
            Ok(crate::process::ExitStatus::Signaled(s)) => {
                format!("was killed by signal {s} before it reported")
            }
            Err(e) => format!("vanished before it reported ({e})"),
        };
        Error::InitDied { pid, what }
    }

    /// Hands the process over (pid and pidfd): it is no longer killed on drop.
    fn release(mut self) -> Option<(i32, OwnedFd)> {
        self.0.take()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some((pid, pidfd)) = self.0.take() {
            let _ = sys::process::pidfd_signal(pidfd.as_fd(), libc::SIGKILL);
            let _ = crate::process::wait_pid(pid);
        }
    }
}

/// A spawned `lashing init`: the guarded process and the parent's end of its socket.
struct Spawned {
    child: ChildGuard,
    sock: OwnedFd,
}

/// One start of `lashing init` and the conversation with it (the parent's column of the
/// protocol table in [`crate::channel`]): a new container's init ([`InitKind::Standard`], with
/// the exec fifo) or an `exec`'s ([`InitKind::Setns`]). [`Bootstrap::run`] goes through the
/// phases in order: [`Bootstrap::spawn`], [`Bootstrap::place`], [`Bootstrap::send_payload`] and
/// [`Bootstrap::sync`], which serves each [`ToParent`] message with its `handle_*` method. From
/// `spawn` on the process is in a [`ChildGuard`]: any failure kills and reaps it.
struct Bootstrap<'a> {
    c: &'a mut Container,
    process: &'a mut Process,
    /// The process init runs: `config.process` overridden by the caller's [`Process`].
    merged: ProcessConfig,
    kind: InitKind,
    /// The exec fifo (new container only).
    fifo: Option<&'a Path>,
    plan: NsPlan,
    /// `exec`: the init's namespaces, opened here race-free and sent with the payload (init
    /// opening `/proc/<pid>/ns/*` itself could join those of a process that reused a dead
    /// init's pid).
    ns_fds: Vec<(NamespaceType, OwnedFd)>,
    /// Phase timings for `--debug` (the `elapsed` field of the debug lines).
    t0: Instant,
    /// `Ready` was served (`Run` sent).
    ready: bool,
    /// `Created` was received.
    created: bool,
    /// `Log` messages received (re-emitted up to [`channel::MAX_LOG_LINES`]).
    logged: usize,
}

impl<'a> Bootstrap<'a> {
    /// Checks the process and plans the namespaces; nothing is started yet.
    fn new(
        c: &'a mut Container,
        process: &'a mut Process,
        fifo: Option<&'a Path>,
    ) -> Result<Bootstrap<'a>> {
        let t0 = Instant::now();
        let config = &c.state.config;
        let merged = process.merged(&config.process);
        // Every process (the container's, or one given to exec) passes the process checks of
        // validation (runc's env rules, NGROUPS_MAX, ...) before anything is started.
        crate::config::validate_process(&merged)?;
        if process.terminal && process.console_socket.is_none() {
            return Err(Error::InvalidProcess {
                reason: "it asks for a terminal but has no console socket to send its master to",
            });
        }
        let kind = if fifo.is_some() {
            InitKind::Standard
        } else {
            InitKind::Setns
        };
        let mut plan = match kind {
            InitKind::Standard => plan_namespaces(config),
            InitKind::Setns => plan_exec(config, c.state.init_process_pid),
        };
        let ns_fds = match kind {
            InitKind::Setns => {
                let types: Vec<NamespaceType> = plan.join.drain(..).map(|(t, _)| t).collect();
                open_init_namespaces(
                    &c.state.id,
                    c.state.init_process_pid,
                    c.state.init_process_start,
                    &types,
                )?
            }
            InitKind::Standard => Vec::new(),
        };
        // A cgroup namespace is rooted at the cgroups of its creator: with v1 hierarchies, which
        // the pid joins only after the clone, init creates it once it is in all of them.
        let cgroupns = NamespaceType::Cgroup.clone_flag();
        if plan.clone & cgroupns != 0 && c.cgroup.paths().keys().any(|k| !k.is_empty()) {
            plan.clone &= !cgroupns;
            plan.unshare |= cgroupns;
        }
        Ok(Bootstrap {
            c,
            process,
            merged,
            kind,
            fifo,
            plan,
            ns_fds,
            t0,
            ready: false,
            created: false,
            logged: 0,
        })
    }

    /// Every phase in order; on success the process's pid and pidfd go to the [`Process`].
    fn run(mut self) -> Result<()> {
        let (mut init, into_cgroup) = self.spawn()?;
        if self.kind == InitKind::Standard {
            record_init(self.c, init.child.pid())?;
        }
        self.place(&init, into_cgroup)?;
        self.send_payload(&init)?;
        self.sync(&mut init)?;
        tracing::debug!(
            pid = init.child.pid(),
            elapsed = ?self.t0.elapsed(),
            "init socket closed: {} done",
            self.kind.name()
        );
        if let Some((pid, pidfd)) = init.child.release() {
            self.process.pid = Some(pid);
            self.process.pidfd = Some(pidfd);
        }
        Ok(())
    }

    /// Opens the protected executable and the socketpair and `clone3`s `lashing init` into its
    /// namespaces and (`CLONE_INTO_CGROUP`) its v2 cgroup, retried without the cgroup if the
    /// kernel refuses it. Returns the spawned init and whether it is in the cgroup already.
    fn spawn(&mut self) -> Result<(Spawned, bool)> {
        let exe = exe::protected_exe()?;
        let (parent_sock, child_sock) = channel::pair().map_err(|e| Error::Sys {
            op: "create the init socket (socketpair)",
            source: e,
        })?;
        // Room for the payload in one datagram.
        // (SO_SNDBUF is capped by net.core.wmem_max; root may force it past that.)
        if rustix::net::sockopt::set_socket_send_buffer_size_force(&parent_sock, 4 << 20).is_err() {
            let _ = rustix::net::sockopt::set_socket_send_buffer_size(&parent_sock, 4 << 20);
        }

        let argv0 = CString::new("lashing").expect("no NUL");
        let argv1 = CString::new("init").expect("no NUL");
        let env0 =
            CString::new(format!("{INIT_PIPE_ENV}={}", child_sock.as_raw_fd())).expect("no NUL");
        let argv = [argv0.as_ptr(), argv1.as_ptr(), std::ptr::null()];
        let envp = [env0.as_ptr(), std::ptr::null()];

        let c = &*self.c;
        let cgroup_fd = match self.kind {
            // `exec`: into the init's own cgroup, which may be below the container's (a
            // container that manages sub-cgroups, as systemd does, leaves its top cgroup
            // without processes).
            InitKind::Setns => match init_v2_cgroup(c) {
                Some(fd) => Some(fd),
                None => c.cgroup.clone_into_fd()?,
            },
            InitKind::Standard => c.cgroup.clone_into_fd()?,
        };
        let mut spec = sys::process::SpawnSpec {
            clone_flags: self.plan.clone,
            cgroup_fd: cgroup_fd.as_ref().map(|f| f.as_fd()),
            exe: exe.as_fd(),
            sock: child_sock.as_fd(),
            wait_for_maps: self.new_userns(),
            pdeathsig: c.state.config.parent_death_signal,
            argv: &argv,
            envp: &envp,
        };
        let (spawned, into_cgroup) = match sys::process::spawn_init(&spec) {
            Ok(s) => (s, spec.cgroup_fd.is_some()),
            Err(e) if spec.cgroup_fd.is_some() => {
                tracing::debug!("clone3 with CLONE_INTO_CGROUP failed ({e}); retrying without it");
                spec.cgroup_fd = None;
                // The new cgroup namespace would be rooted at our own cgroup: init makes it
                // once it has been moved into the container's.
                let cgroupns = NamespaceType::Cgroup.clone_flag();
                if spec.clone_flags & cgroupns != 0 {
                    spec.clone_flags &= !cgroupns;
                    self.plan.unshare |= cgroupns;
                }
                let s = sys::process::spawn_init(&spec).map_err(|e| Error::Sys {
                    op: "clone3 the container's init",
                    source: e,
                })?;
                (s, false)
            }
            Err(e) => {
                return Err(Error::Sys {
                    op: "clone3 the container's init",
                    source: e,
                });
            }
        };
        tracing::debug!(
            pid = spawned.pid,
            elapsed = ?self.t0.elapsed(),
            "started lashing init ({}) for container {}",
            self.kind.name(),
            c.state.id
        );
        let init = Spawned {
            child: ChildGuard(Some((spawned.pid, spawned.pidfd))),
            sock: parent_sock,
        };
        Ok((init, into_cgroup))
    }

    /// Whether clone3 made a new user namespace (the child waits for its id maps).
    fn new_userns(&self) -> bool {
        self.plan.clone & NamespaceType::User.clone_flag() != 0
    }

    /// What the parent does to the new process from outside, as host root: the v1 cgroups,
    /// `oom_score_adj`, the CPU affinity and the id maps of a user namespace made by clone3
    /// (then the one byte the child waits for).
    fn place(&self, init: &Spawned, into_cgroup: bool) -> Result<()> {
        let pid = init.child.pid();
        self.c.cgroup.add_pid(pid, into_cgroup)?;
        // oom_score_adj from here (host root, as runc's nsexec before it enters the user
        // namespace): init, non-dumpable and maybe in a user namespace, may not open its own
        // /proc file.
        // Through a verified procfs, by pid (never a path that something could be mounted over).
        if let Some(adj) = self.merged.oom_score_adj {
            use crate::procfs::ProcPolicy;
            crate::security::attrs::set_oom_score_adj(pid, adj, ProcPolicy::PrivateOrHost)
                .map_err(|e| {
                    let path = format!("/proc/{pid}/oom_score_adj = {adj}");
                    Error::io("set oom_score_adj", path, std::io::Error::other(e))
                })?;
        }
        // Linux >= 6.2 no longer resets the affinity on a cpuset join: a runtime started under
        // a narrow affinity must not pass it on. An exec'd process gets
        // `execCPUAffinity.initial`.
        let initial = match self.kind {
            InitKind::Setns => self.exec_affinity().initial,
            InitKind::Standard => None,
        };
        set_affinity(pid, initial.as_deref());
        if self.new_userns() {
            write_id_maps(pid, &self.c.state.config)?;
            rustix::io::write(&init.sock, &[1]).map_err(|e| Error::InitSocket {
                op: "write the id maps' signal to",
                source: e.into(),
            })?;
        }
        Ok(())
    }

    /// `execCPUAffinity` of the process (empty when unset).
    fn exec_affinity(&self) -> crate::config::CpuAffinity {
        self.merged.exec_cpu_affinity.clone().unwrap_or_default()
    }

    /// Sends [`ToInit::Payload`] with its fds: stdio, the exec fifo's `O_PATH` handle, the
    /// console socket, the preserved fds and (`exec`) the init's namespaces, in [`FdLayout`]'s
    /// order. The seccomp profile is compiled here, in the parent.
    fn send_payload(&mut self, init: &Spawned) -> Result<()> {
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
        let fifo_fd = match self.fifo {
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
        let payload = Payload {
            kind: self.kind,
            id: c.state.id.clone(),
            process: self.merged.clone(),
            config: config.clone(),
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
        drop(fifo_fd);
        self.ns_fds.clear();
        Ok(())
    }

    /// Serves init's messages until it is done. A new container's init ends with `Created`
    /// and then EOF; an exec's init keeps its socket until `execve` (close-on-exec), so an EOF
    /// after `Ready` is its success. Any other EOF is a death.
    fn sync(&mut self, init: &mut Spawned) -> Result<()> {
        loop {
            let raw = channel::recv_raw(&init.sock).map_err(|e| Error::InitSocket {
                op: "read from",
                source: e,
            })?;
            let Some(raw) = raw else {
                if self.created || (self.ready && self.kind == InitKind::Setns) {
                    return Ok(());
                }
                return Err(init.child.died());
            };
            if raw.data.first() == Some(&sys::process::EXEC_FAILED) && raw.data.len() == 5 {
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
                ToParent::Hooks => self.handle_hooks(init),
                ToParent::Ready => self.handle_ready(init),
                ToParent::SeccompFd => self.handle_seccomp_fd(init, raw.fds),
                ToParent::Log { level, message } => {
                    self.handle_log(level, &message);
                    Ok(())
                }
                ToParent::Created => self.handle_created(),
                ToParent::Error(f) => Err(Error::Init(f)),
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

    /// `Hooks`: init is about to `pivot_root`; set the cgroup resources, run the prestart and
    /// createRuntime hooks, answer `HooksDone`.
    fn handle_hooks(&mut self, init: &Spawned) -> Result<()> {
        let pid = init.child.pid();
        self.c.state.init_process_pid = pid;
        super::cgroups::apply_resources(&self.c.cgroup, &self.c.state.config)?;
        self.c.run_hooks(HookKind::Prestart, Some(pid))?;
        self.c.run_hooks(HookKind::CreateRuntime, Some(pid))?;
        tracing::debug!("writing sync type:hooksDone");
        send(init, &ToInit::HooksDone)
    }

    /// `Ready`: set the rlimits, hand the pidfd to `--pidfd-socket`, then (exec) the final
    /// affinity or (new container) save the state; answer `Run`.
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
            c.state.save(&c.dir)?;
            tracing::debug!(
                pid,
                elapsed = ?self.t0.elapsed(),
                "container {} is created: state saved",
                c.state.id
            );
        }
        tracing::debug!("writing sync type:run");
        send(init, &ToInit::Run)?;
        self.ready = true;
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

/// Sends a reply to init.
fn send(init: &Spawned, msg: &ToInit) -> Result<()> {
    channel::send(&init.sock, msg, &[]).map_err(|e| Error::init_socket("write to", e))
}

/// An fd of the v2 cgroup the container's init is in (which may be a sub-cgroup of the
/// container's), for `exec`'s CLONE_INTO_CGROUP: `None` when there is no v2 hierarchy or the
/// init's cgroup is not under the container's.
fn init_v2_cgroup(c: &Container) -> Option<OwnedFd> {
    let top = c.cgroup.paths().get("")?;
    let text = fs::read_to_string(format!("/proc/{}/cgroup", c.state.init_process_pid)).ok()?;
    let own = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    // Walk down from the container's cgroup to the init's by name: the init's path ends with the
    // container's path plus the sub-cgroups (no `..`, checked by the component walk).
    let top_str = top.to_str()?;
    let rel_top = top_str.split_once("/sys/fs/cgroup").map(|(_, r)| r)?;
    let rel_top = rel_top.strip_prefix("/unified").unwrap_or(rel_top);
    let sub = own.strip_prefix(rel_top)?;
    let mut dir = top.clone();
    for comp in sub.split('/').filter(|s| !s.is_empty()) {
        if comp == "." || comp == ".." {
            return None;
        }
        dir.push(comp);
    }
    if dir == *top {
        return None;
    }
    rustix::fs::open(
        &dir,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Sets the CPU affinity of `pid` to a CPU list, or to every CPU (the kernel clamps it to the
/// cpuset). Best effort, as runc: a failure is logged.
fn set_affinity(pid: i32, list: Option<&str>) {
    let mut set = rustix::thread::CpuSet::new();
    match list.map(crate::config::parse_cpu_list) {
        Some(Ok(cpus)) => cpus
            .into_iter()
            .filter(|c| *c < rustix::thread::CpuSet::MAX_CPU)
            .for_each(|c| set.set(c)),
        Some(Err(e)) => {
            tracing::warn!("CPU affinity: {e}");
            return;
        }
        None => (0..rustix::thread::CpuSet::MAX_CPU).for_each(|c| set.set(c)),
    }
    if let Err(e) = rustix::thread::sched_setaffinity(rustix::process::Pid::from_raw(pid), &set) {
        tracing::debug!("cannot set the CPU affinity of pid {pid}: {e}");
    }
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

    #[expect(
        clippy::zombie_processes,
        reason = "the ChildGuard under test (or the test) reaps it"
    )]
    fn guarded_sleep() -> (i32, ChildGuard) {
        let child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        (pid, ChildGuard(Some((pid, pidfd))))
    }

    #[test]
    fn child_guard_kills_and_reaps_on_drop() {
        let (pid, guard) = guarded_sleep();
        assert!(state::proc_stat(pid).is_some());
        drop(guard);
        // Killed and reaped: no process, not even a zombie, is left.
        assert!(state::proc_stat(pid).is_none(), "pid {pid} left behind");
    }

    #[test]
    fn released_child_is_left_running() {
        let (pid, guard) = guarded_sleep();
        let (got, pidfd) = guard.release().unwrap();
        assert_eq!(got, pid);
        assert!(state::proc_stat(pid).is_some_and(|(s, _)| s != 'Z'));
        sys::process::pidfd_signal(pidfd.as_fd(), libc::SIGKILL).unwrap();
        crate::process::wait_pid(pid).unwrap();
    }

    #[test]
    fn child_guard_died_reaps_and_says_how() {
        let (pid, mut guard) = guarded_sleep();
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        match guard.died() {
            Error::InitDied { pid: p, what } => {
                assert_eq!(p, pid);
                assert!(what.contains("signal 15"), "{what}");
            }
            e => panic!("unexpected {e:?}"),
        }
        assert_eq!(guard.pid(), 0);
        assert!(state::proc_stat(pid).is_none());
    }

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

    #[test]
    fn id_maps_render() {
        let m = [
            IdMap {
                container_id: 0,
                host_id: 100000,
                size: 65536,
            },
            IdMap {
                container_id: 65536,
                host_id: 1,
                size: 1,
            },
        ];
        assert_eq!(id_map_text(&m), "0 100000 65536\n65536 1 1\n");
    }
}
