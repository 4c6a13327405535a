//! `lashing exec`: execute a new process inside a running container (as `runc exec`).

use lashing::config::ProcessConfig;
use lashing::{Container, Process, Status};

use std::path::Path;

use super::CmdResult;
use super::run::{Attached, forward_until_exit};
use crate::cli::Globals;
use crate::error::CliError;
use crate::sys::SignalPipe;
use crate::tty::{self, ConsolePair, Relay};

/// `lashing exec` options (as runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long, value_name = "PATH")]
    console_socket: Option<String>,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the exec process
    #[arg(long, value_name = "PATH")]
    pidfd_socket: Option<String>,
    /// current working directory in the container
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,
    /// set environment variables
    #[arg(short, long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short, long, value_name = "UID[:GID]")]
    user: Option<String>,
    /// additional gids
    #[arg(short = 'g', long, value_name = "GID")]
    additional_gids: Vec<String>,
    /// path to the process.json
    #[arg(short, long, value_name = "PATH")]
    process: Option<String>,
    /// detach from the container's process
    #[arg(short, long)]
    detach: bool,
    /// specify the file to write the process id to
    #[arg(long, value_name = "PATH")]
    pid_file: Option<String>,
    /// set the asm process label for the process commonly used with selinux
    #[arg(long, value_name = "LABEL")]
    process_label: Option<String>,
    /// set the apparmor profile for the process
    #[arg(long, value_name = "PROFILE")]
    apparmor: Option<String>,
    /// set the no new privileges value for the process
    #[arg(long)]
    no_new_privs: bool,
    /// add a capability to the bounding set for the process
    #[arg(short, long, value_name = "CAP")]
    cap: Vec<String>,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long, value_name = "N", default_value_t = 0)]
    preserve_fds: u32,
    /// run the process in an (existing) sub-cgroup(s)
    #[arg(long, value_name = "PATH")]
    cgroup: Vec<String>,
    /// allow exec in a paused container
    #[arg(long)]
    ignore_paused: bool,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
    /// the command and its arguments
    #[arg(
        value_name = "command",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// Runs `lashing exec`: the exit status is the process's (255 when it cannot be started).
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    if !a.cgroup.is_empty() {
        return Err(CliError::Unsupported {
            what: "--cgroup (exec into a sub-cgroup)",
        });
    }
    let mut container = Container::load(&g.root, &a.id)?;
    // runc: `exec failed: <why>`, exit status 255.
    let refused = match container.status() {
        Status::Stopped => Some("cannot exec in a stopped container"),
        Status::Paused if !a.ignore_paused => {
            Some("cannot exec in a paused container (use --ignore-paused to override)")
        }
        _ => None,
    };
    if let Some(why) = refused {
        tracing::error!("exec failed: {why}");
        return Ok(255);
    }
    let base = match &a.process {
        Some(path) => ProcessConfig::from_json_file(std::path::Path::new(path))?,
        None => {
            if a.command.is_empty() {
                return Err(CliError::Refused(
                    "exec failed: process args cannot be empty".into(),
                ));
            }
            let mut p = container.config().process.clone();
            p.args = a.command.clone();
            p.terminal = a.tty;
            p
        }
    };
    let mut process = Process::from_config(&base);
    process.terminal |= a.tty;
    super::create::check_terminal(process.terminal, a.detach, a.console_socket.is_some())?;
    let mut console = None;
    if let Some(p) = &a.console_socket {
        process.console_socket = Some(tty::connect(Path::new(p), "console socket")?);
    } else if process.terminal {
        let mut pair = ConsolePair::new()?;
        process.console_socket = pair.theirs();
        process.console_size = tty::host_size().or(process.console_size);
        console = Some(pair);
    }
    if let Some(p) = &a.pidfd_socket {
        process.pidfd_socket = Some(tty::connect(Path::new(p), "pidfd socket")?);
    }
    process.init = false;
    process.env.extend(a.env.iter().cloned());
    if let Some(cwd) = &a.cwd {
        process.cwd = cwd.into();
    }
    if let Some(user) = &a.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        process.user.uid = uid
            .parse()
            .map_err(|_| CliError::Refused(format!("invalid UID format {user:?}")))?;
        if let Some(g) = gid {
            process.user.gid = g
                .parse()
                .map_err(|_| CliError::Refused(format!("invalid GID format {user:?}")))?;
        }
    }
    for g in &a.additional_gids {
        process.user.additional_gids.push(
            g.parse()
                .map_err(|_| CliError::Refused(format!("invalid additional-gids value {g:?}")))?,
        );
    }
    if a.no_new_privs {
        process.no_new_privileges = Some(true);
    }
    if let Some(p) = &a.apparmor {
        process.apparmor_profile = Some(p.clone());
    }
    if let Some(l) = &a.process_label {
        process.selinux_label = Some(l.clone());
    }
    if !a.cap.is_empty() {
        // CVE-2022-29162: added capabilities go to bounding, effective and permitted only; to the
        // ambient set only when the process already has inheritable capabilities.
        let mut caps = base.capabilities.clone().unwrap_or_default();
        for name in &a.cap {
            let cap = lashing::config::cap_from_name(name)
                .ok_or_else(|| CliError::Refused(format!("unknown capability {name:?}")))?;
            for set in [&mut caps.bounding, &mut caps.effective, &mut caps.permitted] {
                if !set.contains(&cap) {
                    set.push(cap);
                }
            }
            if !caps.inheritable.is_empty() && !caps.ambient.contains(&cap) {
                caps.ambient.push(cap);
            }
        }
        process.capabilities = Some(caps);
    }
    process.extra_files = super::create::preserved_fds(a.preserve_fds)?;
    // In the foreground, signals are caught before the process exists and forwarded to it.
    let sigpipe = if a.detach {
        None
    } else {
        let mut sigs = crate::signals::forwarded();
        sigs.push(libc::SIGCHLD);
        Some(SignalPipe::install(&sigs).map_err(|e| CliError::sys("install signal handlers", e))?)
    };
    let started = if a.ignore_paused {
        container.start_ignore_paused(&mut process)
    } else {
        container.start(&mut process)
    };
    if let Err(e) = started {
        tracing::error!("{}", crate::error::chain(&e));
        return Ok(255);
    }
    let pid = process.pid().unwrap_or(0);
    let master = console.as_ref().map(|c| c.master()).transpose();
    let master = match master {
        Ok(m) => m,
        Err(e) => {
            let _ = process.signal(libc::SIGKILL);
            let _ = process.wait();
            return Err(e);
        }
    };
    if let Some(p) = &a.pid_file {
        super::create::write_pid_file(Path::new(p), pid)?;
    }
    let Some(sigpipe) = sigpipe else {
        return Ok(0);
    };
    let mut attached = Attached {
        sigpipe: &sigpipe,
        relay: master.map(Relay::new),
        notify: None,
    };
    let forward = |sig: i32| {
        if let Err(e) = process.signal(sig) {
            tracing::warn!("forward signal {sig}: {}", crate::error::chain(&e));
        }
    };
    forward_until_exit(&mut attached, pid, &forward, &|| false)
}
