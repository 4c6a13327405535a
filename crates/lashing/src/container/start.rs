//! The parent side of the bootstrap (see ARCHITECTURE.md): exec fifo, cgroup, protected exe,
//! `clone3` into the namespaces and the cgroup, id maps, the payload, and the sync loop with init.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{FileType, Mode, OFlags};

use super::{Container, exe};
use crate::channel::{self, CgroupSource, FdLayout, InitKind, Payload, ToInit, ToParent};
use crate::config::{Config, HookKind, IdMap, NamespaceType};
use crate::error::{Error, InitFailure, Result};
use crate::process::{Process, Stdio};
use crate::state::{self, FIFO};
use crate::sys;

/// The environment variable that tells `lashing init` which fd is its socket.
pub(crate) const INIT_PIPE_ENV: &str = "_LASHING_INITPIPE";

/// How the namespaces of a config are entered.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NsPlan {
    /// Created by clone3.
    pub clone: u64,
    /// Created by init with unshare.
    pub unshare: u64,
    /// Joined by init, in order.
    pub join: Vec<(NamespaceType, PathBuf)>,
    /// Init must fork (CLONE_PARENT) to enter a pid or time namespace.
    pub fork: bool,
}

/// Plans namespace entry: the fast path (everything new, no time namespace) is a single clone3
/// with every flag; joined namespaces or a time namespace make init do the work itself (joining
/// first, as host root, then unsharing the rest, then forking once where needed), as runc/crun.
pub(crate) fn plan_namespaces(config: &Config) -> NsPlan {
    let mut plan = NsPlan::default();
    let slow = config.namespaces.iter().any(|n| n.path.is_some())
        || config.has_namespace(NamespaceType::Time);
    for typ in NamespaceType::ALL {
        let Some(ns) = config.namespace(typ) else {
            continue;
        };
        match &ns.path {
            Some(p) => plan.join.push((typ, p.clone())),
            None if slow => plan.unshare |= typ.clone_flag(),
            None => plan.clone |= typ.clone_flag(),
        }
    }
    if slow {
        plan.fork =
            config.has_namespace(NamespaceType::Pid) || config.has_namespace(NamespaceType::Time);
    }
    plan
}

struct Child {
    pid: i32,
    pidfd: OwnedFd,
    sock: OwnedFd,
    /// pid of the intermediate process when init forked (reaped here).
    intermediate: Option<i32>,
}

impl Child {
    fn kill(&mut self) {
        let _ = sys::process::pidfd_signal(self.pidfd.as_fd(), libc::SIGKILL);
        if let Some(pid) = self.intermediate.take() {
            let _ = crate::process::wait_pid(pid);
        }
        let _ = crate::process::wait_pid(self.pid);
    }
}

pub(super) fn start_init(c: &mut Container, process: &mut Process) -> Result<()> {
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
    let mut child = None;
    let mut r = start_inner(c, process, Some(&fifo), &mut child);
    if let Err(e) = r {
        if let Some(mut ch) = child {
            ch.kill();
        }
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
pub(super) fn start_setns(c: &mut Container, process: &mut Process) -> Result<()> {
    let mut child = None;
    let r = start_inner(c, process, None, &mut child);
    if r.is_err()
        && let Some(mut ch) = child
    {
        ch.kill();
    }
    r
}

/// The namespaces an `exec` joins: every namespace type of the config, through the init's
/// `/proc/<pid>/ns/*` (its own, new ones or joined ones alike).
pub(crate) fn plan_exec(config: &Config, init_pid: i32) -> NsPlan {
    let mut plan = NsPlan::default();
    for typ in NamespaceType::ALL {
        if config.has_namespace(typ) {
            let path = PathBuf::from(format!("/proc/{init_pid}/ns/{}", typ.proc_name()));
            plan.join.push((typ, path));
        }
    }
    plan.fork =
        config.has_namespace(NamespaceType::Pid) || config.has_namespace(NamespaceType::Time);
    plan
}

/// Opens the namespaces of the container's init (`pid`, started at `start`) for `exec`, without
/// a race with its death: a pidfd is taken first, then the start time is checked, then every
/// `/proc/<pid>/ns/<type>` is opened, and the pidfd must still name a live process afterwards.
/// The pid cannot be reused while it is not reaped, so the fds are the init's own namespaces
/// and never those of a process that got its pid later. A dead (or zombie) init is
/// [`Error::BadStatus`] with status stopped.
pub(crate) fn open_init_namespaces(
    id: &str,
    pid: i32,
    start: u64,
    types: &[NamespaceType],
) -> Result<Vec<(NamespaceType, OwnedFd)>> {
    let stopped = || Error::BadStatus {
        id: id.to_string(),
        status: crate::Status::Stopped,
        op: "exec a process in it",
    };
    let p = rustix::process::Pid::from_raw(pid).ok_or_else(stopped)?;
    let pidfd = match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Err(stopped()),
        Err(e) => return Err(Error::io("pidfd_open", format!("pid {pid}"), e)),
    };
    let still_ours =
        || sys::process::pidfd_signal(pidfd.as_fd(), 0).is_ok() && state::alive(pid, start);
    if !state::alive(pid, start) {
        return Err(stopped());
    }
    let mut fds = Vec::with_capacity(types.len());
    for typ in types {
        let path = PathBuf::from(format!("/proc/{pid}/ns/{}", typ.proc_name()));
        match rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fds.push((*typ, fd)),
            // Out of fds: say so (the liveness check below would need an fd too).
            Err(e @ (rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)) => {
                return Err(Error::io("open namespace", path, e));
            }
            // An init that exits drops its namespaces: that is a stopped container.
            Err(_) if !still_ours() => return Err(stopped()),
            Err(e) => return Err(Error::io("open namespace", path, e)),
        }
    }
    if !still_ours() {
        return Err(stopped());
    }
    Ok(fds)
}

fn start_inner(
    c: &mut Container,
    process: &mut Process,
    fifo: Option<&std::path::Path>,
    out: &mut Option<Child>,
) -> Result<()> {
    // Phase timings for `--debug` (the `elapsed` field of the debug lines).
    let t0 = std::time::Instant::now();
    let config = &c.state.config;
    // Every process (the container's, or one given to exec) passes the process checks of
    // validation (runc's env rules, NGROUPS_MAX, ...) before anything is started.
    crate::config::validate_process(&process.merged(&config.process))?;
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
    // `exec`: the init's namespaces are opened here, race-free, and sent as fds (init opening
    // `/proc/<pid>/ns/*` itself could join those of a process that reused a dead init's pid).
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
    // A cgroup namespace is rooted at the cgroups of its creator: with v1 hierarchies, which the
    // pid joins only after the clone, init creates it once it is in all of them.
    let cgroupns = NamespaceType::Cgroup.clone_flag();
    if plan.clone & cgroupns != 0 && c.cgroup.paths().keys().any(|k| !k.is_empty()) {
        plan.clone &= !cgroupns;
        plan.unshare |= cgroupns;
    }
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
    let env0 = CString::new(format!("{INIT_PIPE_ENV}={}", child_sock.as_raw_fd())).expect("no NUL");
    let argv = [argv0.as_ptr(), argv1.as_ptr(), std::ptr::null()];
    let envp = [env0.as_ptr(), std::ptr::null()];

    let cgroup_fd = match kind {
        // `exec`: into the init's own cgroup, which may be below the container's (a container
        // that manages sub-cgroups, as systemd does, leaves its top cgroup without processes).
        InitKind::Setns => match init_v2_cgroup(c) {
            Some(fd) => Some(fd),
            None => c.cgroup.clone_into_fd()?,
        },
        InitKind::Standard => c.cgroup.clone_into_fd()?,
    };
    let new_userns = plan.clone & NamespaceType::User.clone_flag() != 0;
    let mut spec = sys::process::SpawnSpec {
        clone_flags: plan.clone,
        cgroup_fd: cgroup_fd.as_ref().map(|f| f.as_fd()),
        exe: exe.as_fd(),
        sock: child_sock.as_fd(),
        wait_for_maps: new_userns,
        pdeathsig: config.parent_death_signal,
        argv: &argv,
        envp: &envp,
    };
    let (spawned, into_cgroup) = match sys::process::spawn_init(&spec) {
        Ok(s) => (s, spec.cgroup_fd.is_some()),
        Err(e) if spec.cgroup_fd.is_some() => {
            tracing::debug!("clone3 with CLONE_INTO_CGROUP failed ({e}); retrying without it");
            spec.cgroup_fd = None;
            // The new cgroup namespace would be rooted at our own cgroup: init makes it once it
            // has been moved into the container's.
            let cgroupns = NamespaceType::Cgroup.clone_flag();
            if spec.clone_flags & cgroupns != 0 {
                spec.clone_flags &= !cgroupns;
                plan.unshare |= cgroupns;
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
    drop(child_sock);
    drop(exe);
    tracing::debug!(
        pid = spawned.pid,
        elapsed = ?t0.elapsed(),
        "started lashing init ({}) for container {}",
        kind.name(),
        c.state.id
    );
    *out = Some(Child {
        pid: spawned.pid,
        pidfd: spawned.pidfd,
        sock: parent_sock,
        intermediate: None,
    });
    let child = out.as_mut().expect("just set");
    if kind == InitKind::Standard {
        record_init(c, child.pid)?;
    }

    c.cgroup.add_pid(child.pid, into_cgroup)?;
    // oom_score_adj from here (host root, as runc's nsexec before it enters the user namespace):
    // init, non-dumpable and maybe in a user namespace, may not open its own /proc file.
    // Through a verified procfs, by pid (never a path that something could be mounted over).
    if let Some(adj) = process.merged(&config.process).oom_score_adj {
        use crate::procfs::ProcPolicy;
        crate::security::attrs::set_oom_score_adj(child.pid, adj, ProcPolicy::PrivateOrHost)
            .map_err(|e| {
                let path = format!("/proc/{}/oom_score_adj = {adj}", child.pid);
                Error::io("set oom_score_adj", path, std::io::Error::other(e))
            })?;
    }
    // Linux >= 6.2 no longer resets the affinity on a cpuset join: a runtime started under a
    // narrow affinity must not pass it on. An exec'd process gets `execCPUAffinity.initial`.
    let affinity = process
        .merged(&config.process)
        .exec_cpu_affinity
        .unwrap_or_default();
    set_affinity(
        child.pid,
        if kind == InitKind::Setns {
            affinity.initial.as_deref()
        } else {
            None
        },
    );
    if new_userns {
        write_id_maps(child.pid, config)?;
        rustix::io::write(&child.sock, &[1]).map_err(|e| Error::InitSocket {
            op: "write the id maps' signal to",
            source: e.into(),
        })?;
    }

    // The payload and its fds.
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
    let fifo_fd = match fifo {
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
    layout.namespaces = ns_fds.len();
    fds.extend(ns_fds.iter().map(|(_, f)| f.as_fd()));

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
        kind,
        id: c.state.id.clone(),
        process: process.merged(&config.process),
        config: config.clone(),
        join: plan.join.clone(),
        join_fds: ns_fds.iter().map(|(t, _)| *t).collect(),
        unshare: plan.unshare,
        fork: plan.fork,
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
    if let Err(e) = channel::send(&child.sock, &ToInit::Payload(Box::new(payload)), &fds) {
        // A child that failed before reading (its exec, say) has closed its end: what it sent
        // is still queued, and the loop below reports it rather than "broken pipe".
        if !matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) {
            return Err(Error::InitSocket {
                op: "send the payload on",
                source: e,
            });
        }
    }
    drop(fifo_fd);
    drop(ns_fds);

    // The sync loop. A new container's init ends with `Created`; an exec's init keeps its socket
    // until `execve` (close-on-exec), so an EOF after `Ready` is its success.
    let mut ready = false;
    let mut logged = 0usize;
    let mut created = false;
    loop {
        let raw = match channel::recv_raw(&child.sock) {
            Ok(r) => r,
            Err(e) => {
                return Err(Error::InitSocket {
                    op: "read from",
                    source: e,
                });
            }
        };
        let Some(raw) = raw else {
            if created || (ready && kind == InitKind::Setns) {
                break;
            }
            return Err(died(child));
        };
        if raw.data.first() == Some(&sys::process::EXEC_FAILED) && raw.data.len() == 5 {
            let errno = i32::from_le_bytes(raw.data[1..5].try_into().expect("4 bytes"));
            return Err(Error::Init(InitFailure {
                step: "exec lashing init".into(),
                path: Some(exe::self_exe().display().to_string()),
                errno: Some(errno),
                message: std::io::Error::from_raw_os_error(errno).to_string(),
            }));
        }
        let msg: ToParent = channel::parse(&raw.data).map_err(|e| Error::InitProtocol {
            what: "a message that does not parse".into(),
            source: Some(Box::new(e)),
        })?;
        tracing::debug!(elapsed = ?t0.elapsed(), "read sync type:{}", msg.name());
        #[cfg(debug_assertions)]
        if crate::fault::kill_init_at(msg.name()) {
            crate::fault::kill_and_wait_exit(child.pidfd.as_fd());
        }
        match msg {
            ToParent::Pid(pid) => {
                let inter = child.pid;
                let _ = crate::process::wait_pid(inter);
                child.intermediate = None;
                let p = rustix::process::Pid::from_raw(pid).ok_or_else(|| {
                    Error::io(
                        "adopt",
                        format!("pid {pid}"),
                        std::io::Error::from_raw_os_error(libc::ESRCH),
                    )
                })?;
                child.pid = pid;
                match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
                    Ok(fd) => child.pidfd = fd,
                    Err(e) => {
                        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                        let _ = crate::process::wait_pid(pid);
                        return Err(Error::io("pidfd_open", format!("pid {pid}"), e));
                    }
                }
                if kind == InitKind::Standard {
                    record_init(c, pid)?;
                }
            }
            ToParent::MapsPlease => {
                write_id_maps(child.pid, &c.state.config)?;
                send_init(child, &ToInit::MapsDone)?;
            }
            ToParent::Hooks => {
                c.state.init_process_pid = child.pid;
                apply_resources(&c.cgroup, &c.state.config)?;
                c.run_hooks(HookKind::Prestart, Some(child.pid))?;
                c.run_hooks(HookKind::CreateRuntime, Some(child.pid))?;
                tracing::debug!("writing sync type:hooksDone");
                send_init(child, &ToInit::HooksDone)?;
            }
            ToParent::Ready => {
                for r in &process.merged(&c.state.config.process).rlimits {
                    sys::process::prlimit(child.pid, r.resource, r.soft, r.hard).map_err(|e| {
                        Error::io(
                            "set rlimit",
                            format!("resource {} soft {} hard {}", r.resource, r.soft, r.hard),
                            e,
                        )
                    })?;
                }
                // --pidfd-socket: the parent holds a pidfd of the process (taken at clone3, or
                // with pidfd_open after init's fork) and sends a copy, named as runc names it.
                if let Some(sock) = &process.pidfd_socket {
                    let name = match kind {
                        InitKind::Standard => "standard",
                        InitKind::Setns => "setns",
                    };
                    crate::tty::send_fd(sock.as_fd(), name, child.pidfd.as_fd()).map_err(|e| {
                        Error::Sys {
                            op: "send a pidfd to the pidfd socket",
                            source: e,
                        }
                    })?;
                }
                if kind == InitKind::Setns {
                    set_affinity(child.pid, affinity.final_.as_deref());
                    tracing::debug!("writing sync type:run");
                    send_init(child, &ToInit::Run)?;
                    ready = true;
                    continue;
                }
                let (_, start) = state::proc_stat(child.pid).ok_or_else(|| died(child))?;
                let st = c.state_mut();
                st.init_process_pid = child.pid;
                st.init_process_start = start;
                st.created = crate::time::now_rfc3339_nanos();
                st.creator = None;
                st.namespace_paths = st.derived_namespace_paths();
                c.state.save(&c.dir)?;
                tracing::debug!(
                    pid = child.pid,
                    elapsed = ?t0.elapsed(),
                    "container {} is created: state saved; writing sync type:run",
                    c.state.id
                );
                send_init(child, &ToInit::Run)?;
                ready = true;
            }
            ToParent::SeccompFd => {
                let fd = raw
                    .fds
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::InitProtocol {
                        what: "SeccompFd came without the seccomp listener's fd".into(),
                        source: None,
                    })?;
                send_seccomp_listener(c, child.pid, fd.as_fd())?;
                send_init(child, &ToInit::SeccompDone)?;
            }
            ToParent::Log { level, message } => {
                logged += 1;
                if logged <= crate::init::MAX_LOG_LINES {
                    reemit(level, &message);
                } else if logged == crate::init::MAX_LOG_LINES + 1 {
                    tracing::warn!(
                        "container init sent more than {} log lines: the rest are dropped",
                        crate::init::MAX_LOG_LINES
                    );
                }
            }
            ToParent::Created if ready && kind == InitKind::Standard => created = true,
            ToParent::Created => {
                return Err(Error::InitProtocol {
                    what: "Created before Ready".into(),
                    source: None,
                });
            }
            ToParent::Error(f) => return Err(Error::Init(f)),
        }
    }
    let ch = out.take().expect("child");
    tracing::debug!(
        pid = ch.pid,
        elapsed = ?t0.elapsed(),
        "init socket closed: {} done",
        kind.name()
    );
    process.pid = Some(ch.pid);
    process.pidfd = Some(ch.pidfd);
    Ok(())
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

/// Applies the `linux.resources` of the config and its device rules to the container's cgroup:
/// v1 `devices.allow`/`devices.deny`, or on cgroup v2 an eBPF device filter (always attached,
/// so a failure to filter devices is an error, never a warning).
pub(crate) fn apply_resources(cgroup: &lashing_cgroups::Manager, config: &Config) -> Result<()> {
    let res = super::cgroups::resources_of(config)?;
    cgroup.set(&res)?;
    if let Some(rules) = super::cgroups::device_rules(config) {
        cgroup.set_devices(&rules)?;
    } else if !res.devices.is_empty() {
        cgroup.set_devices(&res.devices)?;
    }
    Ok(())
}

/// Re-emits a log line of init through this process's `tracing` (so it reaches `--log`).
fn reemit(level: channel::LogLevel, message: &str) {
    let mut message = message.to_string();
    crate::init::truncate_log_line(&mut message);
    match level {
        channel::LogLevel::Error => tracing::error!("{message}"),
        channel::LogLevel::Warn => tracing::warn!("{message}"),
        channel::LogLevel::Info => tracing::info!("{message}"),
        channel::LogLevel::Debug => tracing::debug!("{message}"),
        channel::LogLevel::Trace => tracing::trace!("{message}"),
    }
}

/// Sends `msg` to init; a socket init has closed means init died: say that, with how.
fn send_init(child: &mut Child, msg: &ToInit) -> Result<()> {
    channel::send(&child.sock, msg, &[]).map_err(|e| match e.raw_os_error() {
        Some(libc::EPIPE | libc::ECONNRESET) => died(child),
        _ => Error::init_socket("write to", e),
    })
}

fn died(child: &mut Child) -> Error {
    let pid = child.pid;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Namespace;

    fn ns(typ: NamespaceType, path: Option<&str>) -> Namespace {
        Namespace {
            typ,
            path: path.map(PathBuf::from),
        }
    }

    #[test]
    fn all_new_is_one_clone() {
        let config = Config {
            namespaces: vec![
                ns(NamespaceType::Pid, None),
                ns(NamespaceType::Mount, None),
                ns(NamespaceType::User, None),
            ],
            ..Default::default()
        };
        let p = plan_namespaces(&config);
        assert_eq!(
            p.clone,
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUSER) as u64
        );
        assert_eq!(p.unshare, 0);
        assert!(!p.fork && p.join.is_empty());
    }

    #[test]
    fn joined_pid_forks_and_unshares_the_rest() {
        let config = Config {
            namespaces: vec![
                ns(NamespaceType::Pid, Some("/proc/1/ns/pid")),
                ns(NamespaceType::Mount, None),
            ],
            ..Default::default()
        };
        let p = plan_namespaces(&config);
        assert_eq!(p.clone, 0);
        assert_eq!(p.unshare, libc::CLONE_NEWNS as u64);
        assert!(p.fork);
        assert_eq!(
            p.join,
            vec![(NamespaceType::Pid, PathBuf::from("/proc/1/ns/pid"))]
        );
    }

    #[test]
    fn time_namespace_forks() {
        let config = Config {
            namespaces: vec![ns(NamespaceType::Time, None)],
            ..Default::default()
        };
        let p = plan_namespaces(&config);
        assert!(p.fork);
        assert_eq!(p.unshare, libc::CLONE_NEWTIME as u64);
    }

    fn is_stopped(r: &Result<Vec<(NamespaceType, OwnedFd)>>) -> bool {
        matches!(
            r,
            Err(Error::BadStatus {
                status: crate::Status::Stopped,
                ..
            })
        )
    }

    #[test]
    fn init_namespaces_are_opened_only_while_the_init_lives() {
        let types = [
            NamespaceType::Mount,
            NamespaceType::Uts,
            NamespaceType::Network,
        ];
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let (_, start) = state::proc_stat(pid).unwrap();
        let fds = open_init_namespaces("t", pid, start, &types).unwrap();
        assert_eq!(fds.len(), types.len());
        for (typ, fd) in &fds {
            let want = rustix::fs::stat(format!("/proc/{pid}/ns/{}", typ.proc_name())).unwrap();
            let got = rustix::fs::fstat(fd).unwrap();
            assert_eq!(
                (got.st_dev, got.st_ino),
                (want.st_dev, want.st_ino),
                "{typ:?}"
            );
        }
        // Another process's start time: not the container's init (a reused pid).
        assert!(is_stopped(&open_init_namespaces(
            "t",
            pid,
            start + 1,
            &types
        )));
        child.kill().unwrap();
        // A zombie: the pid is not reused yet, but the init is dead.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while state::proc_stat(pid).is_some_and(|(s, _)| s != 'Z')
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(is_stopped(&open_init_namespaces("t", pid, start, &types)));
        child.wait().unwrap();
        assert!(is_stopped(&open_init_namespaces("t", pid, start, &types)));
        assert!(is_stopped(&open_init_namespaces("t", 0, start, &types)));
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
