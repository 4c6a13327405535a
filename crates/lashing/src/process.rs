//! [`Process`]: a process to run in a container, and its standard I/O.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::process::{Pid, WaitOptions};

use crate::config::{CpuAffinity, IoPriority, ProcessConfig, Rlimit, Scheduler, User};
use crate::error::{Error, Result};

/// Where a standard stream of the container process goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The caller's own stream (the default).
    #[default]
    Inherit,
    /// This file descriptor (a pipe end, a file, a pty...).
    Fd(OwnedFd),
}

/// How a container process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the exit code, or 128 + the signal number (what `runc run` returns).
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// A process to start in a container: the container's init (with
/// [`Container::start`](crate::Container::start) or [`Container::run`](crate::Container::run)) or
/// one more process (with [`Container::exec`](crate::Container::exec)).
///
/// ```
/// let mut p = lashing::Process::new(["/bin/echo", "hello"]);
/// p.env = vec!["PATH=/bin".into()];
/// assert_eq!(p.args[0], "/bin/echo");
/// ```
#[derive(Debug, Default)]
pub struct Process {
    /// argv.
    pub args: Vec<String>,
    /// Environment (`KEY=value`).
    pub env: Vec<String>,
    /// Working directory inside the container (default `/`).
    pub cwd: PathBuf,
    /// uid, gid, additional gids and umask. The umask of an `exec` process is the container's
    /// (`process.user.umask` of its config), as with runc.
    pub user: User,
    /// Resource limits, set with `prlimit` (`None`: those of the config's process; `Some` of an
    /// empty list: none, the process keeps the runtime's own limits, as runc's `exec -p` of a
    /// process without `rlimits`).
    pub rlimits: Option<Vec<Rlimit>>,
    /// Standard input.
    pub stdin: Stdio,
    /// Standard output.
    pub stdout: Stdio,
    /// Standard error.
    pub stderr: Stdio,
    /// More fds for the process, installed at 3, 4, ... (`--preserve-fds`), skipping the
    /// positions of [`Process::extra_files_gaps`].
    pub extra_files: Vec<OwnedFd>,
    /// Positions among 3, 4, ... (0 = fd 3) that stay closed in the process (the caller had
    /// those fds closed); `extra_files` fill the other positions in order.
    pub extra_files_gaps: Vec<usize>,
    /// Whether this is the container's init process: set by the entry point it is given to
    /// (`start`/`run`: true, `exec`: false), never by the caller.
    pub(crate) init: bool,
    /// Set by [`Container::run`](crate::Container::run) when the container was created and its
    /// process failed to start (a startContainer hook, the `execve`): the failure is the start's.
    pub(crate) started: bool,
    /// Capabilities (`None`: those of the config's process).
    pub capabilities: Option<crate::config::Capabilities>,
    /// `no_new_privileges` (`None`: the config's).
    pub no_new_privileges: Option<bool>,
    /// AppArmor profile (`None`: the config's).
    pub apparmor_profile: Option<String>,
    /// SELinux process label (`None`: the config's).
    pub selinux_label: Option<String>,
    /// Scheduling policy (`None`: the config's).
    pub scheduler: Option<Scheduler>,
    /// I/O priority (`None`: the config's).
    pub io_priority: Option<IoPriority>,
    /// CPU affinity of an `exec` process (`None`: the config's `execCPUAffinity`).
    pub exec_cpu_affinity: Option<CpuAffinity>,
    /// Allocate a pseudo-terminal for the process (inside the container); its master goes to
    /// [`Process::console_socket`], which is then required.
    pub terminal: bool,
    /// `(height, width)` of the terminal (`None`: the config's `consoleSize`).
    pub console_size: Option<(u16, u16)>,
    /// A connected unix socket that receives the terminal's master (`SCM_RIGHTS`, with the name
    /// `/dev/pts/ptmx` as the payload, as runc's `--console-socket`).
    pub console_socket: Option<OwnedFd>,
    /// Clear `ONLCR` on the process's terminal before the process runs, so that what it writes
    /// reaches the master byte for byte (`\n`, not `\r\n`): what runc's CLI does to a terminal
    /// it relays itself (`run -t`, `exec -t` in the foreground). Off by default: a receiver of
    /// the master through a console socket (containerd) expects the terminal's defaults.
    pub clear_onlcr: bool,
    /// A connected unix socket that receives a pidfd of the process once it is set up (with
    /// `standard` for an init, `setns` for an exec as the payload, as runc's `--pidfd-socket`).
    pub pidfd_socket: Option<OwnedFd>,
    /// `exec` only: run the process in existing sub-cgroups of the container's cgroup (runc's
    /// `exec --cgroup`, libcontainer's `SubCgroupPaths`): a controller (`"memory"`,
    /// `"name=systemd"`) to a path relative to the container's cgroup in its hierarchy, or the
    /// single key `""` for one path in every hierarchy (the only form on cgroup v2). Empty: the
    /// container's cgroup (on v2, the init's own cgroup when it is below the container's).
    /// See [`lashing_cgroups::Manager::sub_cgroup`] for the rules.
    pub sub_cgroups: std::collections::BTreeMap<String, String>,
    pub(crate) pid: Option<i32>,
    pub(crate) pidfd: Option<OwnedFd>,
    pub(crate) status: Option<ExitStatus>,
}

impl Process {
    /// A process running `args`, with cwd `/`, as root.
    pub fn new<I, S>(args: I) -> Process
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Process {
            args: args.into_iter().map(Into::into).collect(),
            cwd: PathBuf::from("/"),
            ..Default::default()
        }
    }

    /// The process described by a config's `process` section, or by the `process.json` of
    /// `runc exec -p`: every field of `p` is taken, as runc's `newProcess` does (an empty
    /// AppArmor profile or SELinux label, or a missing scheduler, I/O priority or CPU affinity,
    /// falls back to the container's; `noNewPrivileges` and `rlimits` are `p`'s, even when
    /// false or empty; capabilities are `p`'s when it has any, else the container's).
    pub fn from_config(p: &ProcessConfig) -> Process {
        Process {
            args: p.args.clone(),
            env: p.env.clone(),
            cwd: p.cwd.clone(),
            user: p.user.clone(),
            rlimits: Some(p.rlimits.clone()),
            terminal: p.terminal,
            console_size: p.console_size,
            capabilities: p.capabilities.clone(),
            no_new_privileges: Some(p.no_new_privileges),
            apparmor_profile: p.apparmor_profile.clone().filter(|a| !a.is_empty()),
            selinux_label: p.selinux_label.clone().filter(|l| !l.is_empty()),
            scheduler: p.scheduler.clone(),
            io_priority: p.io_priority.clone(),
            exec_cpu_affinity: p.exec_cpu_affinity.clone(),
            ..Default::default()
        }
    }

    /// Adds capabilities as `runc exec --cap` does (CVE-2022-29162): to the bounding, effective
    /// and permitted sets, and to the ambient set only when the process already has inheritable
    /// capabilities. `base` is what the process has when [`Process::capabilities`] is `None`
    /// (the container's process capabilities).
    pub fn add_capabilities(&mut self, caps: &[u32], base: Option<&crate::config::Capabilities>) {
        if caps.is_empty() {
            return;
        }
        let set = self
            .capabilities
            .get_or_insert_with(|| base.cloned().unwrap_or_default());
        for &cap in caps {
            for list in [&mut set.bounding, &mut set.effective, &mut set.permitted] {
                if !list.contains(&cap) {
                    list.push(cap);
                }
            }
            if !set.inheritable.is_empty() && !set.ambient.contains(&cap) {
                set.ambient.push(cap);
            }
        }
    }

    /// Host pid of the process, once started.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Waits for the process to end (it must be a child of the caller, as it is after `start`/`run`
    /// in the same program).
    pub fn wait(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let pid = self.pid.ok_or(Error::NotStarted { op: "wait for" })?;
        let st = wait_pid(pid)?;
        self.status = Some(st);
        self.pidfd = None;
        Ok(st)
    }

    /// Sends a signal to the process (through its pidfd when there is one).
    pub fn signal(&self, sig: i32) -> Result<()> {
        let pid = self.pid.ok_or(Error::NotStarted { op: "signal" })?;
        // After `wait` the pid may belong to another process already.
        if self.status.is_some() {
            return Err(Error::io(
                "signal",
                format!("pid {pid}"),
                std::io::Error::from_raw_os_error(libc::ESRCH),
            ));
        }
        match &self.pidfd {
            Some(fd) => crate::sys::process::pidfd_signal(fd.as_fd(), sig)
                .map_err(|e| Error::io("signal", format!("pid {pid}"), e)),
            // The caller has just checked the pid (its start time) when there is no pidfd.
            None => crate::sys::process::kill_pid(pid, sig, || true)
                .map_err(|e| Error::io("signal", format!("pid {pid}"), e)),
        }
    }

    /// The process config sent to init: the container's process section overridden by this
    /// process. An `exec` process (`init == false`) keeps the container's umask and
    /// `oom_score_adj`, as with runc.
    pub(crate) fn merged(&self, base: &ProcessConfig) -> ProcessConfig {
        let mut p = base.clone();
        p.args = self.args.clone();
        p.env = self.env.clone();
        p.cwd = if self.cwd.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            self.cwd.clone()
        };
        p.user = self.user.clone();
        if !self.init {
            p.user.umask = base.user.umask;
        }
        if let Some(r) = &self.rlimits {
            p.rlimits = r.clone();
        }
        if let Some(c) = &self.capabilities {
            p.capabilities = Some(c.clone());
        }
        if let Some(n) = self.no_new_privileges {
            p.no_new_privileges = n;
        }
        if let Some(a) = self.apparmor_profile.as_ref().filter(|a| !a.is_empty()) {
            p.apparmor_profile = Some(a.clone());
        }
        if let Some(l) = self.selinux_label.as_ref().filter(|l| !l.is_empty()) {
            p.selinux_label = Some(l.clone());
        }
        if let Some(s) = &self.scheduler {
            p.scheduler = Some(s.clone());
        }
        if let Some(i) = &self.io_priority {
            p.io_priority = Some(i.clone());
        }
        if let Some(a) = &self.exec_cpu_affinity {
            p.exec_cpu_affinity = Some(a.clone());
        }
        p.terminal = self.terminal;
        if self.console_size.is_some() {
            p.console_size = self.console_size;
        }
        p
    }
}

/// Waits for a child pid, retrying on EINTR.
pub(crate) fn wait_pid(pid: i32) -> Result<ExitStatus> {
    let p = Pid::from_raw(pid).ok_or_else(|| {
        Error::io(
            "wait for",
            format!("pid {pid}"),
            std::io::Error::from_raw_os_error(libc::ESRCH),
        )
    })?;
    loop {
        match rustix::process::waitpid(Some(p), WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(code) = st.exit_status() {
                    return Ok(ExitStatus::Exited(code));
                }
                if let Some(sig) = st.terminating_signal() {
                    return Ok(ExitStatus::Signaled(sig));
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::io("wait for", format!("pid {pid}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Capabilities;

    fn container_process() -> ProcessConfig {
        ProcessConfig {
            args: vec!["sleep".into()],
            cwd: "/".into(),
            user: User {
                umask: Some(0o077),
                ..User::default()
            },
            rlimits: vec![Rlimit {
                resource: 7,
                hard: 1024,
                soft: 1024,
            }],
            capabilities: Some(Capabilities {
                bounding: vec![5, 10, 29],
                effective: vec![5, 10, 29],
                permitted: vec![5, 10, 29],
                ..Capabilities::default()
            }),
            no_new_privileges: true,
            apparmor_profile: Some("container-profile".into()),
            oom_score_adj: Some(300),
            scheduler: Some(Scheduler {
                policy: "SCHED_IDLE".into(),
                ..Scheduler::default()
            }),
            ..ProcessConfig::default()
        }
    }

    /// runc's `exec -p`: the process.json's fields win, its missing ones fall back as runc's
    /// `newProcess` + `newInitConfig` make them.
    #[test]
    fn exec_process_json_overrides_as_runc() {
        let base = container_process();
        let json = ProcessConfig {
            args: vec!["sh".into()],
            cwd: "/tmp".into(),
            user: User {
                uid: 1000,
                gid: 1000,
                additional_gids: vec![5],
                umask: Some(0o002),
            },
            capabilities: Some(Capabilities {
                bounding: vec![0, 21],
                effective: vec![0, 21],
                permitted: vec![0, 21],
                ..Capabilities::default()
            }),
            io_priority: Some(IoPriority {
                class: "IOPRIO_CLASS_IDLE".into(),
                priority: 0,
            }),
            ..ProcessConfig::default()
        };
        let mut p = Process::from_config(&json);
        p.init = false; // as `Container::exec` sets it
        let m = p.merged(&base);
        assert_eq!(m.args, ["sh"]);
        assert_eq!(m.cwd, PathBuf::from("/tmp"));
        assert_eq!((m.user.uid, m.user.gid), (1000, 1000));
        assert_eq!(m.user.additional_gids, [5]);
        assert_eq!(
            m.user.umask,
            Some(0o077),
            "exec keeps the container's umask"
        );
        assert_eq!(m.capabilities, json.capabilities);
        assert!(
            !m.no_new_privileges,
            "noNewPrivileges is the process.json's"
        );
        assert!(m.rlimits.is_empty(), "no rlimits in process.json: none");
        assert_eq!(m.apparmor_profile.as_deref(), Some("container-profile"));
        assert_eq!(m.scheduler, base.scheduler);
        assert_eq!(m.io_priority, json.io_priority);
        assert_eq!(m.oom_score_adj, Some(300));
    }

    #[test]
    fn exec_process_without_capabilities_gets_the_containers() {
        let base = container_process();
        let json = ProcessConfig {
            args: vec!["sh".into()],
            cwd: "/".into(),
            no_new_privileges: true,
            ..ProcessConfig::default()
        };
        let mut p = Process::from_config(&json);
        p.init = false; // as `Container::exec` sets it
        let m = p.merged(&base);
        assert_eq!(m.capabilities, base.capabilities);
        assert!(m.no_new_privileges);
    }

    /// A process never started is said to be so, not an I/O failure on a made-up path.
    #[test]
    fn a_process_not_started_cannot_be_waited_for_or_signalled() {
        let mut p = Process::new(["true"]);
        let e = p.wait().unwrap_err();
        assert!(matches!(e, Error::NotStarted { op: "wait for" }), "{e:?}");
        let e = p.signal(libc::SIGTERM).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot signal a process that was not started"
        );
    }

    #[test]
    fn a_new_process_inherits_the_config() {
        let base = container_process();
        let p = Process::new(["true"]);
        let m = p.merged(&base);
        assert_eq!(m.rlimits, base.rlimits);
        assert_eq!(m.capabilities, base.capabilities);
        assert!(m.no_new_privileges);
    }

    /// CVE-2022-29162: `--cap` never reaches the inheritable set, and the ambient set only when
    /// there are inheritable capabilities already.
    #[test]
    fn added_capabilities_follow_runc() {
        let base = container_process();
        let mut p = Process::new(["sh"]);
        p.add_capabilities(&[21, 5], base.capabilities.as_ref());
        let c = p.capabilities.clone().unwrap();
        assert_eq!(c.bounding, [5, 10, 29, 21]);
        assert_eq!(c.effective, [5, 10, 29, 21]);
        assert_eq!(c.permitted, [5, 10, 29, 21]);
        assert!(c.inheritable.is_empty() && c.ambient.is_empty());
        let mut p = Process::new(["sh"]);
        p.capabilities = Some(Capabilities {
            inheritable: vec![0],
            ..Capabilities::default()
        });
        p.add_capabilities(&[21], None);
        let c = p.capabilities.unwrap();
        assert_eq!(c.ambient, [21]);
        assert_eq!(c.inheritable, [0]);
    }
}
