//! The container side of the bootstrap: `lashing init`, a fresh single-threaded process started
//! from the protected executable. It reads its payload from the init socket, enters the
//! namespaces, sets up the root file system, meets the parent at the sync points, waits on the
//! exec fifo and finally `execve`s the user process.

mod caps;
mod log;

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::channel::{self, InitKind, Payload, ToInit, ToParent};
use crate::config::{Config, HookKind, NamespaceType, ProcessConfig};
use crate::container::INIT_PIPE_ENV;
use crate::error::InitFailure;
use crate::procfs::{self, ProcFs, ProcPolicy};
use crate::rootfs;
use crate::security;
use crate::sys::process as sysp;

/// Most log lines of one init that the parent re-emits.
pub(crate) const MAX_LOG_LINES: usize = log::MAX_LINES;

/// Cuts a forwarded log line to the bound of one line.
pub(crate) fn truncate_log_line(s: &mut String) {
    log::truncate(s, log::MAX_LINE);
}

/// The default `PATH` used to look up the program when the process has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The entry point of `lashing init`. A program that uses lashing calls it first thing in `main`:
/// when the process was started by lashing as a container's init, it takes over and never
/// returns; otherwise it returns at once.
///
/// ```no_run
/// // First thing in `main`:
/// lashing::init();
/// // ... the program's own work ...
/// ```
pub fn init() {
    let Some(fd) = std::env::var_os(INIT_PIPE_ENV) else {
        return;
    };
    let fd: RawFd = match fd.to_str().and_then(|s| s.parse().ok()) {
        Some(fd) => fd,
        None => {
            eprintln!("lashing init: bad {INIT_PIPE_ENV}");
            sysp::exit_now(255)
        }
    };
    // Only this variable of init's environment is used; the user process gets the container's env.
    let sock = match sysp::adopt_fd(fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lashing init: init socket {fd}: {e}");
            sysp::exit_now(255)
        }
    };
    let mut init = Init {
        sock: Some(sock),
        fifo: None,
        fifo_w: None,
        console: None,
        fifo_procfs: None,
        preserved: 0,
        ns_fds: Vec::new(),
    };
    let err = match init.run() {
        Ok(never) => match never {},
        Err(e) => e,
    };
    init.report(err)
}

/// An error of init: the step, the path or value, and the cause.
#[derive(Debug)]
pub(crate) struct Fail {
    step: &'static str,
    path: Option<String>,
    source: FailSource,
}

#[derive(Debug)]
enum FailSource {
    Io(io::Error),
    Rootfs(rootfs::RootfsError),
    Msg(String),
}

impl Fail {
    fn io(step: &'static str, path: impl Into<Option<String>>, e: impl Into<io::Error>) -> Fail {
        Fail {
            step,
            path: path.into(),
            source: FailSource::Io(e.into()),
        }
    }
    fn msg(step: &'static str, path: impl Into<Option<String>>, m: impl Into<String>) -> Fail {
        Fail {
            step,
            path: path.into(),
            source: FailSource::Msg(m.into()),
        }
    }
    fn into_failure(self) -> InitFailure {
        let (errno, cause) = match &self.source {
            FailSource::Io(e) => (e.raw_os_error(), e.to_string()),
            FailSource::Rootfs(e) => {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(e);
                while let Some(c) = src {
                    s.push_str(": ");
                    s.push_str(&c.to_string());
                    src = c.source();
                }
                (e.errno(), s)
            }
            FailSource::Msg(m) => (None, m.clone()),
        };
        // Bounded (a value such as 65,537 additionalGids is huge) so that the failure always
        // fits in one message: an init that cannot report must never look successful.
        let path = self.path.map(|p| truncate(p, MAX_FAILURE_PATH));
        let cause = truncate(cause, MAX_FAILURE_TEXT);
        let message = match &path {
            Some(p) if !cause.contains(p.as_str()) => format!("{} {p}: {cause}", self.step),
            _ => format!("{}: {cause}", self.step),
        };
        InitFailure {
            step: self.step.to_string(),
            path,
            errno,
            message,
        }
    }
}

impl From<rootfs::RootfsError> for Fail {
    fn from(e: rootfs::RootfsError) -> Fail {
        Fail {
            step: e.step(),
            path: e.path(),
            source: FailSource::Rootfs(e),
        }
    }
}

type R<T> = Result<T, Fail>;

/// What `execve` gets.
struct Exec {
    program: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
}

enum Never {}

struct Init {
    sock: Option<OwnedFd>,
    fifo: Option<OwnedFd>,
    /// The exec fifo opened for writing, after its byte was written: kept (close-on-exec) until
    /// `execve`, so that a failure after the socket is closed reaches `start` through it.
    fifo_w: Option<OwnedFd>,
    /// The console socket, when the process gets a terminal.
    console: Option<OwnedFd>,
    /// `self/fd` of a private procfs, opened before pivot_root to reopen the fifo handle, only
    /// when the container mounts no procfs on `/proc` (otherwise nothing procfs is held while
    /// waiting: see [`Init::wait_fifo`]).
    fifo_procfs: Option<procfs::SelfFdDir>,
    /// Number of fd positions from 3 on that belong to the process (preserved fds and gaps).
    preserved: usize,
    /// The namespaces to join that came as fds with the payload (`exec`), `O_CLOEXEC`.
    ns_fds: Vec<(NamespaceType, OwnedFd)>,
}

impl Init {
    fn sock(&self) -> R<&OwnedFd> {
        self.sock
            .as_ref()
            .ok_or_else(|| Fail::msg("sync", None, "init socket already closed"))
    }

    fn send(&self, msg: &ToParent) -> R<()> {
        channel::send(self.sock()?, msg, &[]).map_err(|e| Fail::io("write to parent", None, e))
    }

    fn expect(&self, want: fn(&ToInit) -> bool, what: &str) -> R<()> {
        match channel::recv::<ToInit>(self.sock()?) {
            Ok(Some((m, _))) if want(&m) => Ok(()),
            Ok(Some((m, _))) => Err(Fail::msg(
                "sync",
                None,
                format!("expected {what}, got {m:?}"),
            )),
            Ok(None) => Err(Fail::msg(
                "sync",
                None,
                format!("parent went away while waiting for {what}"),
            )),
            Err(e) => Err(Fail::io("read from parent", None, e)),
        }
    }

    /// Reports a failure to whoever waits for init: the parent over the socket while it is
    /// open, else `start` through the exec fifo (JSON after the fifo's byte).
    fn report(&mut self, err: Fail) -> ! {
        log::detach();
        let f = err.into_failure();
        if let Some(s) = &self.sock {
            if channel::send(s, &ToParent::Error(f.clone()), &[]).is_err() {
                let short = InitFailure {
                    path: None,
                    message: truncate(f.message.clone(), 256),
                    ..f.clone()
                };
                let _ = channel::send(s, &ToParent::Error(short), &[]);
            }
        } else if let Some(w) = &self.fifo_w {
            let text = serde_json::to_vec(&f).unwrap_or_default();
            let _ = rustix::io::write(w, &text);
        } else {
            eprintln!("lashing init: {f}");
        }
        sysp::exit_now(255)
    }

    fn run(&mut self) -> R<Never> {
        let sock_fd = self.sock()?.as_raw_fd() as u32;
        // Nothing the caller leaked may reach the container (CVE-2024-21626).
        close_from_except(3, Some(sock_fd));
        // From here, log lines go to the parent (through a copy of the socket, moved with it).
        let copy = sysp::dup_above(self.sock()?.as_fd(), 3)
            .map_err(|e| Fail::io("dup", Some("init socket".to_string()), e))?;
        log::install(copy);
        sysp::set_dumpable(false).map_err(|e| Fail::io("prctl(PR_SET_DUMPABLE)", None, e))?;
        sysp::reset_signals().map_err(|e| Fail::io("reset signal dispositions", None, e))?;
        let (msg, fds) = match channel::recv::<ToInit>(self.sock()?) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(Fail::msg(
                    "read payload",
                    None,
                    "parent closed the init socket",
                ));
            }
            Err(e) => return Err(Fail::io("read payload", None, e)),
        };
        let ToInit::Payload(payload) = msg else {
            return Err(Fail::msg(
                "read payload",
                None,
                format!("unexpected message {msg:?}"),
            ));
        };
        log::set_level(payload.log_level);
        self.install_fds(&payload, fds)?;
        match payload.kind {
            InitKind::Standard => self.standard(*payload),
            InitKind::Setns => self.setns(*payload),
        }
    }

    /// Puts stdio at 0-2 and preserved fds at 3.., and keeps the fifo handle, the console socket
    /// and the namespace fds (`O_CLOEXEC`) aside.
    fn install_fds(&mut self, p: &Payload, fds: Vec<OwnedFd>) -> R<()> {
        if p.fds.namespaces != p.join_fds.len() {
            return Err(Fail::msg(
                "receive fds",
                None,
                format!(
                    "{} namespace fds announced for {} namespaces",
                    p.fds.namespaces,
                    p.join_fds.len()
                ),
            ));
        }
        let expected = p.fds.stdio.iter().filter(|b| **b).count()
            + usize::from(p.fds.fifo)
            + usize::from(p.fds.console)
            + p.fds.preserved
            + p.fds.namespaces;
        if fds.len() != expected {
            return Err(Fail::msg(
                "receive fds",
                None,
                format!("expected {expected} fds, got {}", fds.len()),
            ));
        }
        // No fixed fd numbers (any RLIMIT_NOFILE with room for a handful of fds works): every
        // fd is moved, one at a time, to the lowest free number above the range of the process's
        // fds (0-2 and the preserved ones); then stdio and the preserved fds go to their numbers.
        let slots = p.fds.preserved + p.fds.preserved_gaps.len();
        if p.fds.preserved_gaps.iter().any(|g| *g >= slots) {
            return Err(Fail::msg(
                "receive fds",
                None,
                format!(
                    "preserved fd gaps {:?} beyond {slots} positions",
                    p.fds.preserved_gaps
                ),
            ));
        }
        let floor = RawFd::try_from(3 + slots)
            .map_err(|_| Fail::msg("receive fds", None, format!("{slots} preserved fds")))?;
        let move_up = |fd: OwnedFd| {
            let moved = sysp::dup_above(fd.as_fd(), floor).map_err(|e| {
                Fail::io(
                    "move fd",
                    Some(format!("{} above {floor}", fd.as_raw_fd())),
                    e,
                )
            });
            drop(fd);
            moved
        };
        let mut moved = Vec::with_capacity(fds.len());
        for fd in fds {
            moved.push(move_up(fd)?);
        }
        let sock = self.sock.take().expect("socket");
        let sock = move_up(sock)?;
        // The log's copy too: where it is now, a dup2 below could replace it.
        log::attach(
            sysp::dup_above(sock.as_fd(), floor)
                .map_err(|e| Fail::io("move fd", Some("init socket".to_string()), e))?,
        );
        self.sock = Some(sock);
        let mut it = moved.into_iter();
        for (i, present) in p.fds.stdio.iter().enumerate() {
            if *present {
                let fd = it.next().expect("counted");
                sysp::dup_to(fd.as_raw_fd(), i as RawFd)
                    .map_err(|e| Fail::io("install stdio", Some(format!("fd {i}")), e))?;
            }
        }
        if p.fds.fifo {
            self.fifo = it.next();
        }
        if p.fds.console {
            self.console = it.next();
        }
        for i in (0..slots).filter(|i| !p.fds.preserved_gaps.contains(i)) {
            let fd = it.next().expect("counted");
            let target = 3 + i as RawFd;
            sysp::dup_to(fd.as_raw_fd(), target)
                .map_err(|e| Fail::io("install preserved fd", Some(format!("fd {target}")), e))?;
        }
        // A gap stays closed: nothing of init's at its number survives the exec (every fd of
        // init is close-on-exec).
        self.preserved = slots;
        self.ns_fds = p.join_fds.iter().copied().zip(it).collect();
        Ok(())
    }

    fn enter_namespaces(&mut self, p: &Payload) -> R<()> {
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
            sysp::set_dumpable(true).map_err(|e| Fail::io("prctl(PR_SET_DUMPABLE)", None, e))?;
            let r = fs::write("/proc/self/timens_offsets", text);
            sysp::set_dumpable(false).map_err(|e| Fail::io("prctl(PR_SET_DUMPABLE)", None, e))?;
            r.map_err(|e| Fail::io("write", Some("/proc/self/timens_offsets".to_string()), e))?;
        }
        if p.fork {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| Fail::io("pipe", None, e))?;
            match sysp::fork_parent()
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
                }
            }
        }
        Ok(())
    }

    fn standard(&mut self, p: Payload) -> R<Never> {
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
        let params = rootfs::RootfsParams {
            config,
            cgroup_v1_sources: &sources,
            cgroup_v2_dir: p.cgroup_v2.as_deref(),
            cgroup_ns: config.has_namespace(NamespaceType::Cgroup),
        };
        let mounted = rootfs::Mounted::mount(&params)?;
        self.hooks_sync(config, &p.id)?;
        let pivoted = mounted.hooks_synced().pivot()?;
        // The terminal, allocated inside the container's root (runc's setupConsole).
        if let Some(sock) = self.console.take() {
            crate::tty::setup_console(sock, proc.console_size, proc.user.uid, true)
                .map_err(|e| Fail::io(e.step, e.path, e.source))?;
            clear_onlcr(&p)?;
        }
        // Hostname and sysctls before the read-only remounts and masks (as runc).
        pivoted.set_hostname()?;
        pivoted.write_sysctls()?;
        // The cwd is created before the root may become read-only (runc's createCwd, as root,
        // 0755), resolved in the container's root (we are past the pivot).
        create_cwd(proc)?;
        pivoted.finalize()?;
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
        close_from_except(3 + self.preserved as u32, keep);
        let e = sysp::execve(&exec.program, &exec.argv, &exec.env);
        Err(exec_failed(&proc.args[0], e))
    }

    /// `exec`: join the running container and execute the process. The socket stays open (it is
    /// `O_CLOEXEC`) until `execve`, so that an exec failure still reaches the caller.
    fn setns(&mut self, p: Payload) -> R<Never> {
        self.enter_namespaces(&p)?;
        sysp::setsid().map_err(|e| Fail::io("setsid", None, e))?;
        let proc = &p.process;
        join_keyring(&p)?;
        // The terminal, from the container's devpts (no /dev/console mount for exec).
        if let Some(sock) = self.console.take() {
            crate::tty::setup_console(sock, proc.console_size, proc.user.uid, false)
                .map_err(|e| Fail::io(e.step, e.path, e.source))?;
            clear_onlcr(&p)?;
        }
        let exec = self.prepare_exec(&p)?;
        let sock = self.sock()?.as_raw_fd() as u32;
        let first = 3 + self.preserved as u32;
        // The socket stays (close-on-exec) so that an exec failure still reaches the caller; the
        // log's copy of it goes first (it is above `first`).
        log::detach();
        close_from_except(first, Some(sock));
        let e = sysp::execve(&exec.program, &exec.argv, &exec.env);
        Err(exec_failed(&proc.args[0], e))
    }

    /// What both inits share from the cwd on. The cwd and the program are checked before `Ready`,
    /// so that errors reach the caller of `create`/`exec`; then, after `Run`: the SELinux exec
    /// label, seccomp (before the uid switch without NNP, while init still has CAP_SYS_ADMIN),
    /// user and capabilities, the cwd verified again, the umask, and seccomp with NNP (as late as
    /// possible, but while the socket is still there for a notify listener).
    fn prepare_exec(&mut self, p: &Payload) -> R<Exec> {
        let (config, proc) = (&p.config, &p.process);
        if proc.no_new_privileges {
            rustix::thread::set_no_new_privs(true)
                .map_err(|e| Fail::io("prctl(PR_SET_NO_NEW_PRIVS)", None, e))?;
        }
        let cwd = if proc.cwd.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            proc.cwd.clone()
        };
        let cwd_err = |step, e: io::Error| Fail::io(step, Some(cwd.display().to_string()), e);
        // As runc: into the cwd before the user switch, so that a user without access to it can
        // still start there; on a permission error, again after the switch (a directory only the
        // container's user may enter).
        let chdir_after_switch = match rustix::process::chdir(&cwd) {
            Ok(()) => false,
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => true,
            Err(e) => return Err(cwd_err("chdir to cwd", e.into())),
        };
        let exec = Exec {
            program: find_program(proc)?,
            argv: c_args(proc)?,
            env: process_env(proc)?,
        };
        apply_attributes(config, proc)?;
        // Past the pivot (or the join of the container's mount namespace), the mounted /proc is
        // the container's; without a mount namespace it would be the host's.
        let policy = ProcPolicy::in_container_root(config.has_namespace(NamespaceType::Mount));
        apply_apparmor(proc, policy)?;
        self.send(&ToParent::Ready)?;
        self.expect(|m| matches!(m, ToInit::Run), "Run")?;
        apply_selinux(proc, policy)?;
        if !proc.no_new_privileges {
            self.load_seccomp(p)?;
        }
        self.switch_user(config, proc)?;
        // The uid switch cleared the parent-death signal: set it again (as runc).
        if config.parent_death_signal != 0 {
            sysp::set_pdeathsig(config.parent_death_signal)
                .map_err(|e| Fail::io("prctl(PR_SET_PDEATHSIG)", None, e))?;
        }
        if chdir_after_switch {
            rustix::process::chdir(&cwd).map_err(|e| cwd_err("chdir to cwd", e.into()))?;
        }
        // CVE-2024-21626: a cwd that is (or leads to) a leaked host fd is outside the root.
        verify_cwd()?;
        rustix::process::umask(Mode::from_raw_mode(proc.user.umask.unwrap_or(0o022)));
        if proc.no_new_privileges {
            self.load_seccomp(p)?;
        }
        Ok(exec)
    }

    /// Loads the seccomp program compiled by the parent; a notify listener goes to the parent,
    /// which hands it to the agent.
    fn load_seccomp(&self, p: &Payload) -> R<()> {
        let Some(prog) = &p.seccomp else {
            return Ok(());
        };
        let listener = crate::sys::seccomp::load(&prog.filter, prog.flags, prog.needs_listener)
            .map_err(|e| Fail::io("load seccomp filter", None, e))?;
        if let Some(fd) = listener {
            channel::send(self.sock()?, &ToParent::SeccompFd, &[fd.as_fd()])
                .map_err(|e| Fail::io("send seccomp listener", None, e))?;
            self.expect(|m| matches!(m, ToInit::SeccompDone), "SeccompDone")?;
        }
        Ok(())
    }

    fn hooks_sync(&self, config: &Config, id: &str) -> R<()> {
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

    fn start_container_hooks(&self, config: &Config, id: &str, env: &[CString]) -> R<()> {
        let Some(list) = config.hooks.get(&HookKind::StartContainer) else {
            return Ok(());
        };
        let state = serde_json::json!({
            "ociVersion": config.oci_version, "id": id, "status": "created",
            "pid": rustix::process::getpid().as_raw_nonzero().get(), "bundle": config.bundle,
            "annotations": config.annotations,
        })
        .to_string();
        for (i, h) in list.iter().enumerate() {
            let mut h = h.clone();
            if h.env.is_empty() {
                h.env = env
                    .iter()
                    .map(|e| e.to_string_lossy().into_owned())
                    .collect();
            }
            crate::hooks::run(&h, HookKind::StartContainer, i, &state).map_err(|e| {
                Fail::msg(
                    "startContainer hook",
                    Some(h.path.display().to_string()),
                    e.to_string(),
                )
            })?;
        }
        Ok(())
    }

    fn switch_user(&self, config: &Config, proc: &ProcessConfig) -> R<()> {
        let u = &proc.user;
        let caps = proc.capabilities.as_ref();
        if let Some(c) = caps {
            caps::drop_bounding(&c.bounding)
                .map_err(|e| Fail::io("drop bounding capabilities", None, e))?;
        }
        sysp::set_keepcaps(true).map_err(|e| Fail::io("prctl(PR_SET_KEEPCAPS)", None, e))?;
        let policy = ProcPolicy::in_container_root(config.has_namespace(NamespaceType::Mount));
        let setgroups_allowed = !config.has_namespace(NamespaceType::User)
            || ProcFs::open_with(policy)
                .and_then(|p| p.read("self/setgroups"))
                .map(|s| s.trim() != "deny")
                .unwrap_or(true);
        if setgroups_allowed {
            sysp::setgroups(&u.additional_gids)
                .map_err(|e| Fail::io("setgroups", Some(format!("{:?}", u.additional_gids)), e))?;
        }
        sysp::set_ids(u.uid, u.gid)
            .map_err(|e| Fail::io("set user", Some(format!("{}:{}", u.uid, u.gid)), e))?;
        sysp::set_keepcaps(false).map_err(|e| Fail::io("prctl(PR_SET_KEEPCAPS)", None, e))?;
        if let Some(c) = caps {
            caps::apply(c).map_err(|e| Fail::io("set capabilities", None, e))?;
        }
        Ok(())
    }

    /// Blocks until `start` opens the exec fifo for reading, then writes one byte. The `O_PATH`
    /// handle is reopened for writing through `self/fd` of a procfs of the container: the
    /// private one kept from before the pivot when the container mounts no procfs; else the
    /// container's `/proc`, checked to be the root of a procfs and then walked by path, so that
    /// while init waits it holds no procfs handle (only the fifo handle, stdio and the preserved
    /// fds). What the open returned must be the fifo itself (same inode).
    fn wait_fifo(&mut self) -> R<()> {
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

/// Clears `ONLCR` on the terminal (now stdout) when asked ([`crate::Process::clear_onlcr`]):
/// before the process can write, unlike runc, which clears it from its CLI while the process
/// may already run.
fn clear_onlcr(p: &Payload) -> R<()> {
    if !p.clear_onlcr {
        return Ok(());
    }
    let out = std::io::stdout();
    let mut t = rustix::termios::tcgetattr(&out)
        .map_err(|e| Fail::io("clear ONLCR", Some("the terminal".to_string()), e))?;
    t.output_modes.remove(rustix::termios::OutputModes::ONLCR);
    rustix::termios::tcsetattr(&out, rustix::termios::OptionalActions::Now, &t)
        .map_err(|e| Fail::io("clear ONLCR", Some("the terminal".to_string()), e))
}

/// A failed `execve` of the user program, in runc's words (`exec /x: exec format error`).
fn exec_failed(arg0: &str, e: std::io::Error) -> Fail {
    Fail::msg(
        "exec",
        Some(arg0.to_string()),
        crate::error::go_error_text(&e),
    )
}

/// Creates the process's cwd (as runc's createCwd: 0755, as root, before the root may become
/// read-only). Runs past the pivot: the path resolves in the container's root.
fn create_cwd(proc: &ProcessConfig) -> R<()> {
    if proc.cwd.as_os_str().is_empty() || proc.cwd.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .create(&proc.cwd)
        .map_err(|e| Fail::io("create cwd", Some(proc.cwd.display().to_string()), e))
}

/// runc's verifyCwd (CVE-2024-21626): after the user switch, the cwd must be inside the
/// container's root. The raw `getcwd(2)` reports a cwd outside the root as "(unreachable)/...",
/// which glibc turns into ENOENT but musl returns as success: both are refused here, whatever
/// the libc.
fn verify_cwd() -> R<()> {
    match rustix::process::getcwd(Vec::new()) {
        Ok(wd) => check_cwd(wd.as_bytes()),
        Err(rustix::io::Errno::NOENT) => Err(Fail::msg(
            "verify cwd",
            None,
            "current working directory is outside of container mount namespace root -- possible \
             container breakout detected",
        )),
        Err(e) => Err(Fail::msg(
            "verify cwd",
            None,
            format!(
                "failed to verify if current working directory is safe: {}",
                std::io::Error::from(e)
            ),
        )),
    }
}

/// A `getcwd(2)` result must be an absolute path.
fn check_cwd(wd: &[u8]) -> R<()> {
    if wd.first() == Some(&b'/') {
        Ok(())
    } else {
        Err(Fail::msg(
            "verify cwd",
            None,
            format!(
                "current working directory is not absolute -- possible container breakout \
                 detected: cwd is {:?}",
                String::from_utf8_lossy(wd)
            ),
        ))
    }
}

/// The longest path or value of a reported failure, in bytes.
const MAX_FAILURE_PATH: usize = 512;
/// The longest cause of a reported failure, in bytes.
const MAX_FAILURE_TEXT: usize = 4096;

/// `s` cut to at most `max` bytes (at a char boundary), marked with `...` when cut.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// The session keyring `_ses.<id>` (unless `--no-new-keyring`).
fn join_keyring(p: &Payload) -> R<()> {
    let config = &p.config;
    if !config.no_new_keyring {
        let user_ns = config.has_namespace(NamespaceType::User);
        security::attrs::join_session_keyring(&p.id, user_ns).map_err(|e| {
            Fail::msg(
                "join session keyring",
                Some(format!("_ses.{}", p.id)),
                crate::error::chain(&e),
            )
        })?;
    }
    // oom_score_adj is written by the parent (host root) before the payload is sent.
    Ok(())
}

/// Scheduler, I/O priority, personality and memory policy (runc's order, before `Ready`).
fn apply_attributes(config: &Config, proc: &ProcessConfig) -> R<()> {
    use security::attrs;
    let fail =
        |step: &'static str, e: attrs::AttrError| Fail::msg(step, None, crate::error::chain(&e));
    if let Some(s) = &proc.scheduler {
        attrs::set_scheduler(s).map_err(|e| fail("set scheduler", e))?;
    }
    if let Some(p) = &proc.io_priority {
        attrs::set_io_priority(p).map_err(|e| fail("set I/O priority", e))?;
    }
    if let Some(p) = &config.personality {
        attrs::set_personality(p).map_err(|e| fail("set personality", e))?;
    }
    if let Some(m) = &config.memory_policy {
        attrs::set_memory_policy(m).map_err(|e| fail("set memory policy", e))?;
    }
    Ok(())
}

fn apply_apparmor(proc: &ProcessConfig, policy: ProcPolicy) -> R<()> {
    match proc.apparmor_profile.as_deref().filter(|p| !p.is_empty()) {
        Some(profile) => security::lsm::apply_apparmor(profile, policy).map_err(|e| {
            Fail::msg(
                "apply AppArmor profile",
                Some(profile.to_string()),
                crate::error::chain(&e),
            )
        }),
        None => Ok(()),
    }
}

fn apply_selinux(proc: &ProcessConfig, policy: ProcPolicy) -> R<()> {
    match proc.selinux_label.as_deref().filter(|l| !l.is_empty()) {
        Some(label) => security::lsm::apply_selinux_exec_label(label, policy).map_err(|e| {
            Fail::msg(
                "apply SELinux label",
                Some(label.to_string()),
                crate::error::chain(&e),
            )
        }),
        None => Ok(()),
    }
}

/// Closes every fd from `first` on (`close_range`, or one by one if a seccomp profile refuses it).
/// Closes every fd from `first` on but `keep`: `close_range`, or, where the kernel or a seccomp
/// profile refuses it, [`close_fallback`].
fn close_from_except(first: u32, keep: Option<u32>) {
    let ranges = match keep {
        Some(k) if k >= first => [
            (first, k.checked_sub(1)),
            (k.saturating_add(1), Some(u32::MAX)),
        ],
        _ => [(first, Some(u32::MAX)), (1, None)],
    };
    let done = ranges.iter().all(|&(lo, hi)| match hi {
        Some(hi) => lo > hi || sysp::close_range(lo, hi).is_ok(),
        None => true,
    });
    if !done {
        close_fallback(first, keep, ProcFs::open().ok().as_ref());
    }
}

/// Closes every fd from `first` on but `keep` one by one: those listed in `self/fd` of a
/// verified procfs (runc's CloseExecFrom), or, without one, every number below the hard
/// `RLIMIT_NOFILE` (an fd above it can only come from a limit lowered after it was opened).
fn close_fallback(first: u32, keep: Option<u32>, procfs: Option<&ProcFs>) {
    let close = |fd: u32| {
        if Some(fd) != keep && fd >= first {
            drop(sysp::adopt_fd(fd as RawFd));
        }
    };
    if let Some(fds) = procfs.and_then(|p| p.self_fds().ok()) {
        fds.into_iter().for_each(close);
        return;
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(1 << 20)
        .min(1 << 20) as u32;
    (first..limit).for_each(close);
}

/// argv as C strings.
fn c_args(p: &ProcessConfig) -> R<Vec<CString>> {
    p.args
        .iter()
        .map(|a| {
            CString::new(a.as_bytes())
                .map_err(|_| Fail::msg("exec", Some(a.clone()), "argument contains NUL"))
        })
        .collect()
}

/// The environment of the process, checked for NULs, duplicates dropped (the last one counts),
/// and, as runc, `HOME` set from the container's `/etc/passwd` (or `/` for a user it does not
/// list) when it is missing or empty.
fn process_env(p: &ProcessConfig) -> R<Vec<CString>> {
    let mut env: Vec<CString> = Vec::with_capacity(p.env.len() + 1);
    let mut seen = std::collections::BTreeSet::new();
    // Later entries win, as with runc's dedup.
    for kv in p.env.iter().rev() {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        if seen.insert(key.to_string()) {
            env.push(
                CString::new(kv.as_bytes())
                    .map_err(|_| Fail::msg("env", Some(key.to_string()), "contains NUL"))?,
            );
        }
    }
    env.reverse();
    let empty_home = env.iter().position(|kv| kv.as_bytes() == b"HOME=");
    if empty_home.is_some() || !seen.contains("HOME") {
        let home = home_of(p.user.uid).unwrap_or_else(|| "/".to_string());
        let kv = CString::new(format!("HOME={home}"))
            .map_err(|_| Fail::msg("env", Some("HOME".into()), "contains NUL"))?;
        match empty_home {
            Some(i) => env[i] = kv,
            None => env.push(kv),
        }
    }
    Ok(env)
}

/// The home directory of `uid` from the container's `/etc/passwd`.
fn home_of(uid: u32) -> Option<String> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

/// Finds the program as runc does (Go's `exec.LookPath` with the process's `PATH`), with runc's
/// messages, which engines match to choose an exit status (Docker: 127 for "no such file or
/// directory" and "executable file not found in $PATH", 126 for "permission denied" and "is a
/// directory"): `exec: "/x": stat /x: no such file or directory`, `exec: "/x": permission
/// denied`, `exec: "/x": is a directory`, `exec: "x": executable file not found in $PATH`.
fn find_program(p: &ProcessConfig) -> R<CString> {
    let Some(arg0) = p.args.first() else {
        return Err(Fail::msg(
            "exec",
            None,
            "process.args is empty: nothing to run",
        ));
    };
    let to_c = |path: &Path| {
        CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Fail::msg("exec", Some(arg0.clone()), "contains NUL"))
    };
    let lookup_err =
        |why: String| Fail::msg("exec", Some(arg0.clone()), format!("{arg0:?}: {why}"));
    if arg0.contains('/') {
        let path = Path::new(arg0);
        return match find_executable(path) {
            Ok(()) => to_c(path),
            Err(why) => Err(lookup_err(why)),
        };
    }
    let path_var = p
        .env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    if !arg0.is_empty() {
        for dir in path_var.split(':') {
            let cand = Path::new(if dir.is_empty() { "." } else { dir }).join(arg0);
            if find_executable(&cand).is_ok() {
                return to_c(&cand);
            }
        }
    }
    Err(lookup_err("executable file not found in $PATH".into()))
}

/// Go's `findExecutable`: `stat` (following symlinks), not a directory, and `X_OK` for the
/// effective ids (with the mode bits as fallback where `faccessat` is refused). The error is
/// Go's text: `stat /x: no such file or directory`, `is a directory`, `permission denied`.
fn find_executable(path: &Path) -> Result<(), String> {
    let st = rustix::fs::stat(path)
        .map_err(|e| format!("stat {}: {}", path.display(), crate::error::errno_text(e)))?;
    let ft = rustix::fs::FileType::from_raw_mode(st.st_mode);
    if ft == rustix::fs::FileType::Directory {
        return Err(crate::error::errno_text(rustix::io::Errno::ISDIR));
    }
    match rustix::fs::accessat(
        rustix::fs::CWD,
        path,
        rustix::fs::Access::EXEC_OK,
        rustix::fs::AtFlags::EACCESS,
    ) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) if st.st_mode & 0o111 != 0 => {
            Ok(())
        }
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
            Err(crate::error::errno_text(rustix::io::Errno::ACCESS))
        }
        Err(e) => Err(crate::error::errno_text(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::child::{in_child, run_in_child};

    /// The open fds of this process.
    fn open_fds() -> Vec<u32> {
        let mut fds: Vec<u32> = fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|fd| sysp::adopt_fd_check(*fd as RawFd))
            .collect();
        fds.sort_unstable();
        fds
    }

    /// Opens /dev/null at `n` numbers from `from` on and leaks them (closed by the test).
    fn open_many(from: RawFd, n: usize) -> Vec<u32> {
        let null = fs::File::open("/dev/null").unwrap();
        (0..n)
            .map(|_| {
                let fd = sysp::dup_above(null.as_fd(), from).unwrap();
                let raw = fd.as_raw_fd() as u32;
                std::mem::forget(fd);
                raw
            })
            .collect()
    }

    /// The fallback where close_range is refused: every fd from `first` on is closed but `keep`,
    /// `keep - 1` included (it used to survive); walking `self/fd` of a private procfs also
    /// closes an fd above a lowered RLIMIT_NOFILE, which a loop up to the limit cannot.
    #[test]
    fn close_fallback_leaves_only_keep() {
        if !in_child() {
            run_in_child("init::tests::close_fallback_leaves_only_keep");
            return;
        }
        // Each round lowers the hard limit below an fd opened before (it cannot be raised again).
        for (walk, high_at, limit) in [(false, 600, 500), (true, 450, 400)] {
            let fds = open_many(20, 12);
            let (first, keep) = (fds[2], fds[6]);
            let high = open_many(high_at, 1)[0];
            let lim = rustix::process::Rlimit {
                current: Some(limit),
                maximum: Some(limit),
            };
            rustix::process::setrlimit(rustix::process::Resource::Nofile, lim).unwrap();
            let procfs = walk.then(|| ProcFs::open().unwrap());
            close_fallback(first, Some(keep), procfs.as_ref());
            drop(procfs);
            let left = open_fds();
            assert!(left.contains(&keep), "walk={walk}: {left:?}");
            assert!(
                !left.contains(&(keep - 1)),
                "walk={walk}: keep-1 survived: {left:?}"
            );
            assert!(left.contains(&fds[1]), "below first: {left:?}");
            let above: Vec<u32> = left
                .iter()
                .copied()
                .filter(|fd| *fd >= first && *fd != keep)
                .collect();
            if walk {
                assert!(above.is_empty(), "{above:?}");
            } else {
                // Without a procfs the loop stops at the hard limit: only the fd above it stays.
                assert_eq!(above, vec![high]);
                drop(sysp::adopt_fd(high as RawFd));
            }
            close_fallback(20, None, None);
        }
    }

    #[test]
    fn cwd_must_be_absolute() {
        assert!(check_cwd(b"/root").is_ok());
        let e = check_cwd(b"(unreachable)/tmp/x")
            .unwrap_err()
            .into_failure();
        assert!(e.message.contains("possible container breakout"), "{e}");
    }

    /// A cwd outside the root: the raw getcwd(2) says "(unreachable)/..." (what musl returns
    /// as success); the check refuses it whatever the libc.
    #[test]
    fn cwd_outside_the_root_is_refused() {
        if !in_child() {
            run_in_child("init::tests::cwd_outside_the_root_is_refused");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        sysp::unshare(libc::CLONE_NEWNS as u64).unwrap();
        std::env::set_current_dir(&a).unwrap();
        assert!(verify_cwd().is_ok());
        rustix::process::chroot(&b).unwrap();
        let raw = rustix::process::getcwd(Vec::new()).unwrap();
        assert!(raw.as_bytes().starts_with(b"(unreachable)"), "{raw:?}");
        let e = verify_cwd().unwrap_err().into_failure();
        assert!(e.message.contains("possible container breakout"), "{e}");
    }

    #[test]
    fn failure_reports_are_bounded() {
        assert_eq!(truncate("short".into(), 10), "short");
        assert_eq!(truncate("0123456789".into(), 10), "0123456789");
        assert_eq!(truncate("0123456789a".into(), 10), "0123456...");
        // Never inside a UTF-8 sequence.
        let t = truncate("ééééé".into(), 8);
        assert!(t.len() <= 8 && t.ends_with("..."), "{t}");
        // 65,538 additional gids as the setgroups step reports them: the cause survives.
        let gids: Vec<u32> = (1..=65_538).collect();
        let f = Fail::io(
            "setgroups",
            Some(format!("{gids:?}")),
            io::Error::from_raw_os_error(libc::EINVAL),
        )
        .into_failure();
        assert!(f.path.as_ref().unwrap().len() <= MAX_FAILURE_PATH);
        assert!(f.message.len() <= MAX_FAILURE_PATH + MAX_FAILURE_TEXT + 64);
        assert!(
            f.message.ends_with("Invalid argument (os error 22)"),
            "{}",
            f.message
        );
        assert_eq!(f.errno, Some(libc::EINVAL));
    }
}
