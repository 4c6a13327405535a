//! [`Container`]: the lifecycle of one container (create, start, release, run, exec, signal,
//! state, destroy).

mod cgroups;
pub mod criu;
mod exe;
mod intel_rdt;
mod kill;
mod namespaces;
mod netdev;
mod start;
mod summary;
mod systemd;

pub use crate::status::{OciState, Status};
pub use exe::set_init_executable;
pub use summary::{Summary, summaries};

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lashing_cgroups::{FreezerState::Frozen, Manager};
use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};

use crate::config::{Config, HookKind};
use crate::error::{Error, Result};
use crate::process::Process;
use crate::state::{self, FIFO, Remains, State};

/// A container: its state directory under a state root, its configuration and its cgroup.
///
/// See the crate documentation for the whole walk.
#[derive(Debug)]
pub struct Container {
    dir: PathBuf,
    state: State,
    cgroup: Manager,
}

impl Container {
    /// Validates `config` and creates the container's state directory `<root>/<id>`. Nothing is
    /// started; a directory with the id must not exist, unless it holds the remains of a create
    /// whose process died (those are removed first, as [`remove_remains`] does).
    ///
    /// Until its init is started ([`Container::start`]), the container is being created:
    /// [`Container::load`] and [`list`] do not see it yet (as runc).
    ///
    /// ```no_run
    /// use lashing::{Config, Container, config::NamespaceType};
    ///
    /// let config = Config::builder("/var/lib/my-runtime/rootfs")
    ///     .namespaces(&[NamespaceType::Mount, NamespaceType::Pid])
    ///     .args(["/bin/true"])
    ///     .cgroups_path("/my-runtime/demo")
    ///     .build()?;
    /// let container = Container::create("/run/my-runtime", "demo", config)?;
    /// assert_eq!(container.status(), lashing::Status::Stopped); // nothing runs yet
    /// # Ok::<(), lashing::Error>(())
    /// ```
    pub fn create(root: impl AsRef<Path>, id: &str, config: Config) -> Result<Container> {
        let root = root.as_ref();
        state::validate_id(id)?;
        config.validate()?;
        let (cgroup, unit) = if config.cgroup.systemd {
            let (unit, path) = systemd::plan(&config, id)?;
            (Manager::new(&path, id)?, Some(unit))
        } else {
            (Manager::new(&config.cgroup.path, id)?, None)
        };
        // A frozen cgroup would freeze the init at its first step and `create` would hang: refuse
        // it before anything exists, as runc does.
        if cgroup.freezer_state()? == lashing_cgroups::FreezerState::Frozen {
            let path = cgroup.path("freezer").or_else(|| cgroup.path(""));
            return Err(Error::CgroupFrozen {
                path: path.map(Path::to_path_buf).unwrap_or_default(),
            });
        }
        let creating = state::lock_root(root)?;
        let (dir, lock) = match state::create_dir(root, id) {
            Err(Error::Exists(_)) if state::stale(&root.join(id)) => {
                remove_remains(root, id, false)?;
                state::create_dir(root, id)?
            }
            r => r?,
        };
        let mut state = State::new(id, cgroup.paths().clone(), config);
        state.systemd = unit;
        tracing::debug!("create: container {id}: state directory {}", dir.display());
        let c = Container { dir, state, cgroup };
        if let Err(e) = c.state.save(&c.dir) {
            let _ = fs::remove_dir_all(&c.dir);
            return Err(e);
        }
        drop(lock);
        drop(creating);
        crate::waterfall::mark("create: validated, state recorded");
        Ok(c)
    }

    /// Loads the container `id` from its state directory (another process may have created it).
    /// A container still being created (or whose create was interrupted) does not exist yet;
    /// a state file of another format version is [`Error::State`] (such a container can still be
    /// removed with [`remove_remains`]).
    ///
    /// ```no_run
    /// let c = lashing::Container::load("/run/my-runtime", "demo")?;
    /// println!("{} is {}", c.id(), c.status());
    /// # Ok::<(), lashing::Error>(())
    /// ```
    pub fn load(root: impl AsRef<Path>, id: &str) -> Result<Container> {
        state::validate_id(id)?;
        let dir = root.as_ref().join(id);
        let st = match State::load(&dir) {
            Ok(s) => s,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotExist(id.to_string()));
            }
            Err(e) => return Err(e),
        };
        if st.creator.is_some() {
            return Err(Error::NotExist(id.to_string()));
        }
        let cgroup = Manager::from_paths(st.cgroup_paths.clone());
        Ok(Container {
            dir,
            state: st,
            cgroup,
        })
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The container's configuration.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// The container's state as saved.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// The cgroup manager of the container.
    pub fn cgroup(&self) -> &Manager {
        &self.cgroup
    }

    fn init_alive(&self) -> bool {
        state::alive(self.state.init_process_pid, self.state.init_process_start)
    }

    /// The current status (checks the init process, the exec fifo and the freezer).
    pub fn status(&self) -> Status {
        summary::status_of(&self.dir, self.state.init(), &self.cgroup)
    }

    /// The OCI state.
    pub fn oci_state(&self) -> OciState {
        let (st, c) = (&self.state, &self.state.config);
        summary::Parts {
            id: &st.id,
            init_pid: st.init_process_pid,
            bundle: &c.bundle,
            rootfs: &c.rootfs,
            created: &st.created,
            annotations: &c.annotations,
            owner: st.owner,
        }
        .oci_state(self.status())
    }

    /// Starts the container's init `process` (`runc create`; libcontainer's `Start` of an init
    /// process): sets the container up and returns once init waits on the exec fifo (status
    /// `created`); [`Container::release`] then lets it execute the user process. Only one init
    /// may ever be started.
    pub fn start(&mut self, process: &mut Process) -> Result<()> {
        let _lock = self.lock_for_init(process)?;
        self.start_init(process, false)
    }

    /// Marks `process` as the init and locks the state directory for its start; a container
    /// that had an init already is refused (only one may ever be started).
    fn lock_for_init(&self, process: &mut Process) -> Result<state::Lock> {
        process.init = true;
        process.started = false;
        if self.state.init_process_pid != 0 {
            return Err(Error::BadStatus {
                id: self.state.id.clone(),
                status: self.status(),
                op: "start an init process",
            });
        }
        state::lock(&self.dir)
    }

    /// Starts the init `process` and lets it run at once (`runc run`; libcontainer's `Run`):
    /// what [`Container::start`] then [`Container::release`] do, in one conversation with init,
    /// which goes on to execute the program without waiting on the exec fifo. Returns once it
    /// has, and the poststart hooks ran.
    pub fn run(&mut self, process: &mut Process) -> Result<()> {
        self.run_phased(process)?
    }

    /// [`Container::run`] with the failures of its two phases told apart: `Err` when the
    /// container could not be created (as from [`Container::start`]: nothing of it runs, no
    /// cgroup is left), `Ok(Err)` when it was created but its process did not start (as from
    /// [`Container::release`]: a startContainer hook, the program's `execve` or a poststart hook
    /// failed; the stopped container is left for [`Container::destroy`]).
    ///
    /// ```no_run
    /// let opts = lashing::config::CreateOpts { bundle: "/path/to/bundle".into(), ..Default::default() };
    /// let config = lashing::Config::from_bundle(&opts)?;
    /// let mut c = lashing::Container::create("/run/my-runtime", "demo", config)?;
    /// let mut p = lashing::Process::new(["/bin/true"]);
    /// match c.run_phased(&mut p) {
    ///     Err(e) => eprintln!("not created: {e}"),
    ///     Ok(Err(e)) => eprintln!("created, but did not start: {e}"),
    ///     Ok(Ok(())) => println!("running as pid {:?}", p.pid()),
    /// }
    /// # Ok::<(), lashing::Error>(())
    /// ```
    pub fn run_phased(&mut self, process: &mut Process) -> Result<Result<()>> {
        let _lock = self.lock_for_init(process)?;
        match self.start_init(process, true) {
            Err(e) if process.started => return Ok(Err(e)),
            r => r?,
        }
        if let Err(e) = self.run_hooks(HookKind::Poststart, None) {
            let _ = self.signal(libc::SIGKILL, false);
            return Ok(Err(e));
        }
        crate::waterfall::mark("start: done");
        Ok(Ok(()))
    }

    /// Runs one more `process` in the created or running container (`runc exec`; libcontainer's
    /// `Start` of a non-init process): it joins every namespace of the init and the container's
    /// cgroup, and `exec` returns once it has executed its program (a missing program or a bad
    /// cwd is an error here, and the container is not disturbed). A paused container is refused.
    pub fn exec(&mut self, process: &mut Process) -> Result<()> {
        self.exec_process(process, false)
    }

    /// [`Container::exec`] that also accepts a paused container (runc's `exec --ignore-paused`):
    /// the process joins the frozen cgroup and freezes at once, and this call returns only after
    /// the container is resumed and the process has executed its program.
    pub fn exec_ignore_paused(&mut self, process: &mut Process) -> Result<()> {
        self.exec_process(process, true)
    }

    fn exec_process(&mut self, process: &mut Process, allow_paused: bool) -> Result<()> {
        process.init = false;
        let status = self.status();
        let ok = matches!(status, Status::Created | Status::Running)
            || (allow_paused && status == Status::Paused);
        if !ok {
            return Err(Error::BadStatus {
                id: self.state.id.clone(),
                status,
                op: "exec a process in it",
            });
        }
        self.start_setns(process)
    }

    /// Lets a created container's user process run (`runc start`): reads the exec fifo, waits
    /// until init has executed the user process (a failure of init after `create` returned, in
    /// a startContainer hook or at `execve`, is reported here), then runs the poststart hooks (a
    /// failing one kills the container). A container that is not `created` is refused with its
    /// real status, also when a `kill` or `delete` races with this call. libcontainer calls this
    /// `Exec`.
    pub fn release(&mut self) -> Result<()> {
        let _lock = self.lock_existing()?;
        let status = self.status();
        if status == Status::Running && self.init_cmdline() == b"lashing\0init\0" {
            // No fifo, yet init never executed the program: a `delete` is removing the
            // container (it kills the init first), nothing started it.
            return Err(self.not_startable(Status::Stopped));
        }
        if status != Status::Created {
            return Err(self.not_startable(status));
        }
        // The init's pidfd first: init cannot go past the fifo (and exit) before it is opened.
        let pid = self.state.init_process_pid;
        let pidfd = rustix::process::Pid::from_raw(pid)
            .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
            .filter(|_| self.init_alive());
        let Some(pidfd) = pidfd else {
            return Err(self.not_startable(Status::Stopped));
        };
        let fifo_path = self.dir.join(FIFO);
        let fifo = match rustix::fs::open(
            &fifo_path,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(f) => f,
            // Removed since `status` looked: the state changed under us (a concurrent delete).
            Err(rustix::io::Errno::NOENT) => return Err(self.not_startable(self.status())),
            Err(e) => return Err(Error::io("open exec fifo", &fifo_path, e)),
        };
        // The fifo's byte, then whatever init writes before its end closes: nothing when the
        // user process was executed (close-on-exec), a failure report otherwise.
        let mut got_byte = false;
        let mut report = Vec::new();
        crate::waterfall::mark("start: exec fifo opened");
        tracing::debug!(pid, "start: waiting for the init on the exec fifo");
        loop {
            let mut fds = [
                PollFd::new(&fifo, PollFlags::IN),
                PollFd::new(&pidfd, PollFlags::IN),
            ];
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                // Frozen (paused by someone) after init took its byte: it is started, and would
                // only go on after a resume; do not wait for that (runc returns at the byte).
                Ok(0) if got_byte && self.cgroup.freezer_state().ok() == Some(Frozen) => break,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io("wait on exec fifo", &fifo_path, e)),
            }
            // Sampled before the read: whatever an init that exited wrote is read below.
            let exited = pidfd_exited(&pidfd);
            let mut buf = [0u8; 4096];
            match rustix::io::read(&fifo, &mut buf) {
                Ok(0) if got_byte => break,
                Ok(0) if exited => {
                    let _ = fs::remove_file(&fifo_path);
                    return Err(oom_cause(
                        &self.cgroup,
                        Error::InitDied {
                            pid,
                            what: "exited before it was started".into(),
                        },
                    ));
                }
                Ok(0) => {
                    // No writer: init has not opened the fifo yet, or an earlier `start`
                    // consumed the byte and died before removing the fifo.
                    if let Some(e) = self.init_past_fifo(&pidfd) {
                        let _ = fs::remove_file(&fifo_path);
                        return Err(e);
                    }
                }
                Ok(n) => {
                    if !got_byte {
                        crate::waterfall::mark("start: fifo byte read");
                    }
                    let data = if got_byte { &buf[..n] } else { &buf[1..n] };
                    got_byte = true;
                    if report.len() < crate::channel::MAX_MSG {
                        report.extend_from_slice(data);
                    }
                }
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io("read exec fifo", &fifo_path, e)),
            }
        }
        crate::waterfall::mark("start: fifo closed (the user process was executed)");
        let _ = fs::remove_file(&fifo_path);
        if !report.is_empty() {
            let f: crate::error::InitFailure =
                serde_json::from_slice(&report).map_err(|e| Error::InitProtocol {
                    what: "a failure report on the exec fifo that does not parse".into(),
                    source: Some(Box::new(e)),
                })?;
            return Err(oom_cause(&self.cgroup, Error::Init(f)));
        }
        tracing::debug!(
            pid,
            "start: the init read the exec fifo: the user process runs"
        );
        if let Err(e) = self.run_hooks(HookKind::Poststart, None) {
            let _ = self.signal(libc::SIGKILL, false);
            return Err(e);
        }
        crate::waterfall::mark("start: done");
        Ok(())
    }

    /// The command line of the init's pid (empty when it cannot be read).
    fn init_cmdline(&self) -> Vec<u8> {
        fs::read(format!("/proc/{}/cmdline", self.state.init_process_pid)).unwrap_or_default()
    }

    /// Locks the state directory; a container whose directory or state went away (deleted
    /// meanwhile) does not exist.
    fn lock_existing(&self) -> Result<state::Lock> {
        let gone = || Error::NotExist(self.state.id.clone());
        let lock = match state::lock(&self.dir) {
            Ok(l) => l,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(gone());
            }
            Err(e) => return Err(e),
        };
        if !self.dir.join(state::STATE_FILE).exists() {
            return Err(gone());
        }
        Ok(lock)
    }

    /// Why a container with `status` cannot be started: [`Error::BadStatus`] with its real
    /// status, or [`Error::NotExist`] once its state is gone.
    fn not_startable(&self, status: Status) -> Error {
        if !self.dir.join(state::STATE_FILE).exists() {
            return Error::NotExist(self.state.id.clone());
        }
        Error::BadStatus {
            id: self.state.id.clone(),
            status,
            op: match status {
                Status::Stopped => "start a stopped container",
                Status::Running => "start it again",
                _ => "start it (it is not created)",
            },
        }
    }

    /// With no writer on the exec fifo and an init that had not exited before the read:
    /// `Some(error)` once it is sure that init runs the user process already (an earlier `start`
    /// consumed the byte), `None` while init may still open the fifo or is exiting (the next
    /// read says so). Running is said only of a live init (its pidfd, held since
    /// before its start time was checked, is not readable) that has executed a program.
    fn init_past_fifo(&self, pidfd: &OwnedFd) -> Option<Error> {
        let cmdline = self.init_cmdline();
        // Empty: exiting (no mm any more) or a zombie; the pidfd will say so soon.
        if cmdline.is_empty() || cmdline == b"lashing\0init\0" || pidfd_exited(pidfd) {
            return None;
        }
        Some(self.not_startable(Status::Running))
    }

    /// The host pids of every process in the container's cgroup.
    pub fn processes(&self) -> Result<Vec<i32>> {
        if self.cgroup.paths().is_empty() {
            // runc fails too (`unable to get all container pids`).
            return Err(Error::NoCgroup {
                id: self.state.id.clone(),
                op: "list its processes",
            });
        }
        Ok(self.cgroup.pids()?)
    }

    pub(crate) fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

/// Lists the ids of the containers under a state root (directories with a `state.json`).
///
/// ```no_run
/// for id in lashing::list("/run/my-runtime")? {
///     let c = lashing::Container::load("/run/my-runtime", &id)?;
///     println!("{id}\t{}", c.status());
/// }
/// # Ok::<(), lashing::Error>(())
/// ```
pub fn list(root: impl AsRef<Path>) -> Result<Vec<String>> {
    let root = root.as_ref();
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read state root", root, e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(state::STATE_FILE).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Whether the process of `pidfd` has exited (its pidfd polls readable).
fn pidfd_exited(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
}

/// `err`, or [`Error::OomKilled`] with `err` as its cause when the OOM killer acted in the
/// container's cgroup (runc reports any failure of its init that way then).
pub(crate) fn oom_cause(cgroup: &Manager, err: Error) -> Error {
    match cgroup.oom_kill_count() {
        Ok(n) if n > 0 => Error::OomKilled {
            source: Box::new(err),
        },
        _ => err,
    }
}

/// Removes what is left of container `id` when it cannot be loaded: a create that was
/// interrupted (its process killed), a state file that is damaged or of another format
/// version, or a directory without a state file. Whatever the state file still tells is used:
/// the recorded init (killed if it still runs with its recorded start time), the cgroups that
/// lashing created for it (every process in them killed, then removed), and the directory.
/// Without `force`, only remains that no live process is still creating are removed.
/// Removing a container that does not exist is not an error.
pub fn remove_remains(root: impl AsRef<Path>, id: &str, force: bool) -> Result<()> {
    state::validate_id(id)?;
    let dir = root.as_ref().join(id);
    let Some(_lock) = state::lock_if_present(&dir)? else {
        return Ok(());
    };
    let mut r = Remains::read(&dir);
    // Judged again under the lock (what the caller saw before may have changed): without
    // `force`, only a directory without a record (its creator, which holds the lock until the
    // first record, died) or the record of a dead creator is removed, never a container.
    if !force && r.found && !r.abandoned() {
        return Ok(());
    }
    // A cgroup that does not exist needs nothing (and a damaged path may name no hierarchy).
    r.cgroup_paths.retain(|_, p| p.exists());
    let cgroup = Manager::from_paths(r.cgroup_paths.clone());
    kill_remains(&r, &cgroup);
    if r.cgroup_owned {
        if let Some(unit) = &r.systemd {
            systemd::stop(unit)?;
        }
        cgroup.destroy()?;
    }
    fs::remove_dir_all(&dir).map_err(|e| Error::io("remove state directory", &dir, e))
}

/// Kills the recorded init (pid and start time checked through a pidfd) and, when the cgroup
/// is the container's, every process in it; waits (10 s at most) until they are gone.
fn kill_remains(r: &Remains, cgroup: &Manager) {
    if let Some(init) = r.init
        && init.alive()
    {
        let _ = kill_checked(init, libc::SIGKILL);
    }
    if r.cgroup_owned && cgroup.exists() {
        let _ = cgroup.kill_all(libc::SIGKILL);
        wait_empty(cgroup, Duration::from_secs(10));
    }
    if let Some(init) = r.init {
        let start = std::time::Instant::now();
        // An exiting init is as good as gone: its cgroup and resources are released, and it
        // may wait in the kernel on a zombie that only its (outside) parent can reap.
        while init.alive() && !init.exiting() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Waits (at most `limit`) until no process is left in `cgroup`, killing stragglers (a process
/// that forked while the cgroup was being killed).
fn wait_empty(cgroup: &Manager, limit: Duration) {
    let start = std::time::Instant::now();
    while cgroup.pids().is_ok_and(|p| !p.is_empty()) && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(5));
        let _ = cgroup.kill_all(libc::SIGKILL);
    }
}

/// Signals `p` through a pidfd opened before its start time is checked, so that a pid reused
/// in between is never signalled.
fn kill_checked(p: state::ProcId, sig: i32) -> Result<()> {
    crate::sys::process::kill_pid(p.pid, sig, || p.alive())
        .map_err(|e| Error::io("signal", format!("pid {}", p.pid), e))
}
