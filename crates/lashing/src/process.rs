//! [`Process`]: a process to run in a container, and its standard I/O.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::process::{Pid, WaitOptions};

use crate::config::{ProcessConfig, Rlimit, User};
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

/// A process to start in a container: the container's init (`init = true`, with
/// [`Container::start`](crate::Container::start)) or one more process (`exec`).
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
    /// uid, gid, additional gids and umask.
    pub user: User,
    /// Resource limits (empty: those of the config).
    pub rlimits: Vec<Rlimit>,
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
    /// Whether this is the container's init process.
    pub init: bool,
    /// Capabilities (`None`: those of the config's process).
    pub capabilities: Option<crate::config::Capabilities>,
    /// `no_new_privileges` (`None`: the config's).
    pub no_new_privileges: Option<bool>,
    /// AppArmor profile (`None`: the config's).
    pub apparmor_profile: Option<String>,
    /// SELinux process label (`None`: the config's).
    pub selinux_label: Option<String>,
    /// Allocate a pseudo-terminal for the process (inside the container); its master goes to
    /// [`Process::console_socket`], which is then required.
    pub terminal: bool,
    /// `(height, width)` of the terminal (`None`: the config's `consoleSize`).
    pub console_size: Option<(u16, u16)>,
    /// A connected unix socket that receives the terminal's master (`SCM_RIGHTS`, with the name
    /// `/dev/pts/ptmx` as the payload, as runc's `--console-socket`).
    pub console_socket: Option<OwnedFd>,
    /// A connected unix socket that receives a pidfd of the process once it is set up (with
    /// `standard` for an init, `setns` for an exec as the payload, as runc's `--pidfd-socket`).
    pub pidfd_socket: Option<OwnedFd>,
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
            init: true,
            ..Default::default()
        }
    }

    /// The process described by a config's `process` section.
    pub fn from_config(p: &ProcessConfig) -> Process {
        Process {
            args: p.args.clone(),
            env: p.env.clone(),
            cwd: p.cwd.clone(),
            user: p.user.clone(),
            rlimits: p.rlimits.clone(),
            terminal: p.terminal,
            console_size: p.console_size,
            init: true,
            ..Default::default()
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
        let pid = self.pid.ok_or_else(|| {
            Error::io("wait for", "process", std::io::Error::other("not started"))
        })?;
        let st = wait_pid(pid)?;
        self.status = Some(st);
        self.pidfd = None;
        Ok(st)
    }

    /// Sends a signal to the process (through its pidfd when there is one).
    pub fn signal(&self, sig: i32) -> Result<()> {
        let pid = self
            .pid
            .ok_or_else(|| Error::io("signal", "process", std::io::Error::other("not started")))?;
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
            None => crate::container::kill_pid(pid, sig),
        }
    }

    /// The process config sent to init: the container's process section overridden by this process.
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
        if !self.rlimits.is_empty() {
            p.rlimits = self.rlimits.clone();
        }
        if let Some(c) = &self.capabilities {
            p.capabilities = Some(c.clone());
        }
        if let Some(n) = self.no_new_privileges {
            p.no_new_privileges = n;
        }
        if let Some(a) = &self.apparmor_profile {
            p.apparmor_profile = Some(a.clone());
        }
        if let Some(l) = &self.selinux_label {
            p.selinux_label = Some(l.clone());
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
