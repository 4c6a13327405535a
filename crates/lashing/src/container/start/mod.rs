//! The parent side of the bootstrap (see ARCHITECTURE.md): exec fifo, cgroup, protected exe,
//! `clone3` into the namespaces and the cgroup, id maps, the payload, and the sync loop with init.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Instant;

use rustix::fs::{FileType, Mode, OFlags};

use super::namespaces::{NsPlan, open_init_namespaces, plan_exec, plan_namespaces};
use super::{Container, exe};
use crate::channel::{self, INIT_PIPE_ENV, InitKind, ToInit};
use crate::config::{HookKind, NamespaceType, ProcessConfig};
use crate::error::{Error, Result};
use crate::process::Process;
use crate::state::{self, FIFO};
use crate::sys;

mod birth;
mod child;
mod idmap;
mod payload;
mod pidns;
mod sync;

use child::{ChildGuard, Spawned};
use idmap::write_id_maps;

impl Container {
    /// Starts the container's init (`Container::start`): see the module documentation. With
    /// `straight` (`Container::run`), init does not wait on the exec fifo but goes on to its
    /// program: this returns once it has executed it, and a failure after init's `Created` (a
    /// startContainer hook, the `execve`) sets [`Process::started`]. The fifo is made all the
    /// same (the mark of a created container until then) and removed at the end.
    pub(super) fn start_init(&mut self, process: &mut Process, straight: bool) -> Result<()> {
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
        crate::waterfall::mark("exec fifo made");
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
        crate::waterfall::mark("cgroups recorded and created");
        // A new cgroup under a frozen parent is frozen too: init would freeze at its first step and
        // this call would never return.
        if let Some(path) = super::cgroups::effectively_frozen(&c.cgroup) {
            let _ = fs::remove_file(&fifo);
            let _ = c.cgroup.destroy();
            return Err(Error::CgroupFrozen { path });
        }
        let mut r = Bootstrap::new(c, process, Some(&fifo)).and_then(|mut b| {
            b.straight = straight;
            b.run()
        });
        if straight && r.is_ok() {
            let _ = fs::remove_file(&fifo);
        }
        if let Err(e) = r {
            // Before the cgroup goes: whatever failed, an OOM kill in it is the likely cause.
            r = Err(super::oom_cause(&c.cgroup, e));
            let _ = fs::remove_file(&fifo);
            if let Some(unit) = &c.state.systemd {
                let _ = super::systemd::stop(unit);
            }
            if c.cgroup.destroy().is_ok() {
                c.state.cgroup_owned = false;
            }
            if let Some(rdt) = &c.state.config.intel_rdt {
                let _ = crate::rdt::remove(&c.state.id, rdt);
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
    if rootless_tolerates(c) {
        let dropped = c.cgroup.tolerate(|m| m.create())?;
        super::cgroups::forget_dropped(c, dropped)?;
    } else {
        c.cgroup.create()?;
    }
    Ok(())
}

/// runc's rootless cgroup rule: with rootless cgroups and no explicit `cgroupsPath`, a
/// hierarchy the caller may not create or join is left out (with a warning) rather than
/// failing; a limit asked for in it fails later, when resources are set.
fn rootless_tolerates(c: &Container) -> bool {
    let config = &c.state.config;
    config.rootless_cgroups && config.cgroup.path.is_empty()
}

/// Records the container's (future) init `pid` with its start time in the state file once its
/// payload is sent (before that it only waits on its socket, which a dead runtime closes), so
/// that it can be killed if this process dies before the container is created (the record in
/// memory gets it once init is ready).
fn record_init(c: &Container, pid: i32) -> Result<()> {
    let Some((_, start)) = state::proc_stat(pid) else {
        return Ok(());
    };
    let mut st = c.state.clone();
    st.init_process_pid = pid;
    st.init_process_start = start;
    st.save(&c.dir)
}

/// Starts one more process in a running container (`exec`): it joins every namespace of the init
/// and the container's cgroup.
impl Container {
    /// Starts a process in the running container (`Container::exec`).
    pub(super) fn start_setns(&mut self, process: &mut Process) -> Result<()> {
        Bootstrap::new(self, process, None)?.run()
    }
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
    /// `exec` into sub-cgroups ([`Process::sub_cgroups`]): the cgroup the process is placed in
    /// instead of the container's.
    exec_cgroup: Option<lashing_cgroups::Manager>,
    /// `exec`: the init's namespaces, opened here race-free and sent with the payload (init
    /// opening `/proc/<pid>/ns/*` itself could join those of a process that reused a dead
    /// init's pid).
    ns_fds: Vec<(NamespaceType, OwnedFd)>,
    /// Phase timings for `--debug` (the `elapsed` field of the debug lines).
    t0: Instant,
    /// The user namespaces made for idmapped mounts, by their maps.
    idmap_userns: Vec<(crate::config::MountIdMapping, OwnedFd)>,
    /// `Ready` was served (`Run` sent).
    ready: bool,
    /// `Created` was received.
    created: bool,
    /// `Log` messages received (re-emitted up to [`channel::MAX_LOG_LINES`]).
    logged: usize,
    /// Init stops for the hooks before `pivot_root` ([`channel::Payload::hooks_sync`]);
    /// otherwise the resources are set at `Ready`.
    hooks_sync: bool,
    /// The cgroup resources are set (at `Hooks`, or at `Ready` when no `Hooks` came).
    resources_set: bool,
    /// The protected executable's mount and where init attaches it ([`exe::attach_target`]),
    /// kept from the spawn to the payload, which hands it to init.
    exe_mount: Option<(OwnedFd, std::path::PathBuf)>,
    /// `run`: init goes on to its program without waiting on the exec fifo
    /// ([`channel::Payload::straight`]).
    straight: bool,
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
        if let (InitKind::Standard, Some(rdt)) = (kind, &config.intel_rdt) {
            crate::rdt::precheck(rdt)?;
        }
        let mut plan = match kind {
            InitKind::Standard => plan_namespaces(config),
            InitKind::Setns => plan_exec(config, c.state.init_process_pid),
        };
        let exec_cgroup = match kind {
            InitKind::Setns if !process.sub_cgroups.is_empty() => {
                Some(c.cgroup.sub_cgroup(&process.sub_cgroups)?)
            }
            _ => None,
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
        let hooks_sync = kind == InitKind::Standard
            && [
                HookKind::Prestart,
                HookKind::CreateRuntime,
                HookKind::CreateContainer,
            ]
            .iter()
            .any(|k| config.hooks.get(k).is_some_and(|l| !l.is_empty()));
        Ok(Bootstrap {
            c,
            process,
            merged,
            kind,
            fifo,
            plan,
            exec_cgroup,
            ns_fds,
            t0,
            idmap_userns: Vec::new(),
            ready: false,
            created: false,
            logged: 0,
            hooks_sync,
            resources_set: false,
            exe_mount: None,
            straight: false,
        })
    }

    /// Every phase in order; on success the process's pid and pidfd go to the [`Process`].
    fn run(mut self) -> Result<()> {
        crate::waterfall::mark("bootstrap planned");
        let (mut init, placed) = self.spawn()?;
        // The systemd driver starts the unit with the init first (runc's order) on the legacy
        // hierarchy, where systemd trims the directories of its controllers that no unit claims
        // (the ones made at create may be gone until the unit holds them), and for a user
        // manager, which moves the init into its subtree (asking PID 1 when it must): the
        // caller, outside that subtree, may not (cgroup v2 delegation).
        let unit_first = self.kind == InitKind::Standard
            && self
                .c
                .state
                .systemd
                .as_ref()
                .is_some_and(|u| u.user || lashing_cgroups::systemd::legacy());
        let mut r = if unit_first {
            self.start_unit(&init)
        } else {
            Ok(())
        };
        if r.is_ok() {
            r = self.place(&init, placed);
            crate::waterfall::mark("init placed (cgroups, oom_score_adj, affinity, maps)");
        }
        if r.is_ok() && !unit_first {
            r = self.start_unit(&init);
        }
        if r.is_ok() {
            r = self.send_payload(&init);
        }
        // The init's pid goes on record while init works on its payload (not before: until it
        // has its payload, init only waits on its socket, and ends at the EOF of a runtime
        // that died; it is in the container's cgroup already).
        if r.is_ok() && self.kind == InitKind::Standard {
            r = record_init(self.c, init.child.pid());
            crate::waterfall::mark("init pid recorded");
        }
        if r.is_ok() {
            r = self.sync(&mut init);
        }
        if r.is_err() && self.kind == InitKind::Standard {
            // Before the guard kills init: its network namespace would take the devices.
            super::netdev::detach_from_pid(&self.c.state.config, init.child.pid());
        }
        r?;
        crate::waterfall::mark("init socket closed");
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

    /// Starts the systemd unit of a new container (the driver only) with `init` in it.
    fn start_unit(&self, init: &Spawned) -> Result<()> {
        let c = &self.c.state;
        let (InitKind::Standard, Some(unit)) = (self.kind, &c.systemd) else {
            return Ok(());
        };
        let devices = super::cgroups::device_rules(&c.config);
        let pid = init.child.pid();
        super::systemd::start_unit(&c.config, &c.id, unit, pid, devices.as_deref())
    }

    /// Opens the protected executable and the socketpair and `clone3`s `lashing init` into its
    /// namespaces and (`CLONE_INTO_CGROUP`) its v2 cgroup, retried without the cgroup if the
    /// kernel refuses it. Returns the spawned init and whether it is in the cgroup already.
    fn spawn(&mut self) -> Result<(Spawned, birth::Placed)> {
        let exe = exe::protected_exe()?;
        let attach = match self.kind {
            InitKind::Standard if exe.mount => exe::attach_target(&self.c.state.config),
            _ => None,
        };
        crate::waterfall::mark("protected executable opened");
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
        let cgroup_fd = match (self.kind, &self.exec_cgroup) {
            // `exec --cgroup`: into the sub-cgroup, which must exist (no fallback, as runc).
            (InitKind::Setns, Some(sub)) => sub.clone_into_fd()?,
            // `exec`: into the init's own cgroup, which may be below the container's (a
            // container that manages sub-cgroups, as systemd does, leaves its top cgroup
            // without processes).
            (InitKind::Setns, None) => match init_v2_cgroup(c) {
                Some(fd) => Some(fd),
                None => c.cgroup.clone_into_fd()?,
            },
            (InitKind::Standard, _) => c.cgroup.clone_into_fd()?,
        };
        let mut spec = sys::clone::SpawnSpec {
            clone_flags: self.plan.clone,
            cgroup_fd: cgroup_fd.as_ref().map(|f| f.as_fd()),
            exe: exe.fd.as_fd(),
            sock: child_sock.as_fd(),
            wait_for_maps: self.new_userns(),
            pdeathsig: c.state.config.parent_death_signal,
            argv: &argv,
            envp: &envp,
        };
        // `exec` into a pid namespace: born in it (no fork of init), where this thread may join
        // it for its children; not with a time namespace, which init still joins and forks into.
        let pidns = match self.kind {
            InitKind::Setns
                if self.plan.fork && !c.state.config.has_namespace(NamespaceType::Time) =>
            {
                self.ns_fds
                    .iter()
                    .position(|(t, _)| *t == NamespaceType::Pid)
            }
            _ => None,
        };
        let born = self
            .born_in_v1()
            .then(|| self.exec_cgroup.as_ref().unwrap_or(&c.cgroup));
        let pidns_fd = pidns.map(|i| self.ns_fds[i].1.as_fd());
        let (spawned, placed) =
            birth::clone_init_placed(born, pidns_fd, &mut spec, &mut self.plan)?;
        if let Some(i) = pidns.filter(|_| placed.in_pidns) {
            // Init is in the pid namespace already: it neither joins it nor forks.
            drop(self.ns_fds.remove(i));
            self.plan.fork = false;
        }
        crate::waterfall::mark("clone3 returned");
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
        self.exe_mount = attach.map(|target| (exe.fd, target));
        Ok((init, placed))
    }

    /// The cgroups whose v1 hierarchies init (or an exec's process) is forked in by a thread
    /// that joined them first (`birth.rs`): cgroups this process manages itself (not systemd's,
    /// not a rootless caller's), no parent-death signal (the kernel sends it when the forking
    /// thread ends), and for an exec a container that is not frozen (the thread would be).
    fn born_in_v1(&self) -> bool {
        let config = &self.c.state.config;
        let cgroup = self.exec_cgroup.as_ref().unwrap_or(&self.c.cgroup);
        self.c.state.systemd.is_none()
            && !config.rootless_cgroups
            && config.parent_death_signal == 0
            && cgroup.has_v1().unwrap_or(false)
            && (self.kind == InitKind::Standard
                || cgroup.freezer_state().ok() == Some(lashing_cgroups::FreezerState::Thawed))
    }

    /// Whether clone3 made a new user namespace (the child waits for its id maps).
    fn new_userns(&self) -> bool {
        self.plan.clone & NamespaceType::User.clone_flag() != 0
    }

    /// What the parent does to the new process from outside, as host root: the v1 cgroups, the
    /// resctrl groups (`linux.intelRdt` only), `oom_score_adj`, the CPU affinity and the id maps of a user namespace made by clone3
    /// (then the one byte the child waits for).
    fn place(&mut self, init: &Spawned, placed: birth::Placed) -> Result<()> {
        let pid = init.child.pid();
        let into_cgroup = placed.into_cgroup;
        if self.kind == InitKind::Setns
            && self.exec_cgroup.is_none()
            && self.c.state.config.rootless_cgroups
        {
            // runc: a rootless exec that may not join the container's cgroup (e.g. a scope of
            // the user manager, outside the caller's subtree) stays where it is.
            let mut m = self.c.cgroup.clone();
            for (key, e) in m.tolerate(|m| m.add_pid(pid, into_cgroup))? {
                let e = crate::error::chain(&e);
                tracing::debug!("rootless: exec not in the {key:?} cgroup: {e}");
            }
        } else if self.exec_cgroup.is_none() && rootless_tolerates(self.c) {
            let dropped = self.c.cgroup.tolerate(|m| m.add_pid(pid, into_cgroup))?;
            super::cgroups::forget_dropped(self.c, dropped)?;
        } else {
            self.exec_cgroup
                .as_ref()
                .unwrap_or(&self.c.cgroup)
                .add_pid_except(pid, into_cgroup, placed.v1)?;
        }
        if let Some(rdt) = &self.c.state.config.intel_rdt {
            let init = self.kind == InitKind::Standard;
            crate::rdt::place(&self.c.state.id, rdt, pid, init)?;
        }
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
        // linux.netDevices: into the new network namespace, made by clone3 (as host root).
        if self.kind == InitKind::Standard {
            super::netdev::attach(&self.c.state.config, pid)?;
        }
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
