//! `lashing run <id>`: create and start a container; in the foreground (the default) wait for
//! it, forwarding signals, then delete it and exit with its status.

use std::time::Duration;

use lashing::{Container, Status};
use rustix::process::{WaitOptions, WaitStatus};

use super::CmdResult;
use super::create::{CreateArgs, cleanup, prepare, write_pid_file};
use crate::cli::Globals;
use crate::error::CliError;
use crate::signals;
use crate::sys::SignalPipe;

/// `lashing run` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    create: CreateArgs,
    /// detach from the container's process
    #[arg(short, long)]
    detach: bool,
    /// do not delete the container after it exits
    #[arg(long)]
    keep: bool,
    /// disable the use of the subreaper used to reap reparented processes
    #[arg(long)]
    no_subreaper: bool,
    /// the container id, unique on the host
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing run`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    // Catch signals before anything starts, so that none is lost or kills us early.
    let sigpipe = if a.detach {
        None
    } else {
        let mut sigs = signals::forwarded();
        sigs.push(libc::SIGCHLD);
        Some(SignalPipe::install(&sigs).map_err(|e| CliError::sys("install signal handlers", e))?)
    };
    if !a.detach && !a.no_subreaper {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(|e| CliError::sys("become a child subreaper", e))?;
    }
    let (mut container, mut process) = prepare(g, &a.id, &a.create, a.detach)?;
    let res = container
        .run(&mut process)
        .map_err(CliError::from)
        .and_then(|()| {
            let pid = process.pid().unwrap_or(container.state().init_process_pid);
            match &a.create.pid_file {
                Some(p) => write_pid_file(p, pid),
                None => Ok(()),
            }
        });
    if let Err(e) = res {
        cleanup(container);
        return Err(e);
    }
    let Some(sigpipe) = sigpipe else { return Ok(0) };
    let init_pid = process.pid().unwrap_or(container.state().init_process_pid);
    let code = match forward_until_exit(&container, init_pid, &sigpipe) {
        Ok(code) => code,
        Err(e) => {
            if !a.keep {
                cleanup(container);
            }
            return Err(e);
        }
    };
    if !a.keep {
        destroy_stopped(container);
    }
    Ok(code)
}

/// Forwards every caught signal to the container's init and reaps children until init has
/// exited; returns its status (code, or 128 + signal).
fn forward_until_exit(
    container: &Container,
    init_pid: i32,
    sigpipe: &SignalPipe,
) -> Result<i32, CliError> {
    loop {
        let caught = sigpipe
            .wait(Duration::from_millis(500))
            .map_err(|e| CliError::sys("wait for signals", e))?;
        for sig in caught.iter().copied().filter(|&s| s != libc::SIGCHLD) {
            tracing::debug!("forwarding signal {sig} to the container");
            if let Err(e) = container.signal(sig, false) {
                tracing::warn!("forward signal {sig}: {}", crate::error::chain(&e));
            }
        }
        // Reap on SIGCHLD, and on every timeout in case a SIGCHLD byte was dropped.
        if let Some(code) = reap(init_pid)? {
            return Ok(code);
        }
        if container.status() == Status::Stopped && !is_child(init_pid) {
            // init was not ours to reap (no subreaper and it was reparented): its status is lost.
            tracing::warn!(
                "container init {init_pid} exited but was not a child: exit status unknown"
            );
            return Ok(255);
        }
    }
}

/// Reaps every exited child; returns init's exit status once it is among them.
fn reap(init_pid: i32) -> Result<Option<i32>, CliError> {
    let mut init_status = None;
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, st))) => {
                if pid.as_raw_nonzero().get() == init_pid {
                    init_status = exit_code(st).or(init_status);
                }
            }
            Ok(None) | Err(rustix::io::Errno::CHILD) => return Ok(init_status),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(CliError::sys("wait for the container's processes", e)),
        }
    }
}

/// Whether `pid` is (still) a child of this process, waitable.
fn is_child(pid: i32) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    !matches!(
        rustix::process::waitid(
            rustix::process::WaitId::Pid(p),
            rustix::process::WaitIdOptions::EXITED
                | rustix::process::WaitIdOptions::NOHANG
                | rustix::process::WaitIdOptions::NOWAIT
        ),
        Err(rustix::io::Errno::CHILD)
    )
}

/// The shell convention for a wait status: the exit code, or 128 + the signal.
fn exit_code(st: WaitStatus) -> Option<i32> {
    if let Some(c) = st.exit_status() {
        Some(c)
    } else {
        st.terminating_signal().map(|s| 128 + s)
    }
}

/// Deletes the container after its init exited (killing what may remain in its cgroup).
fn destroy_stopped(container: Container) {
    let res = if container.status() == Status::Stopped {
        container.destroy()
    } else {
        container.force_destroy()
    };
    if let Err(e) = res {
        tracing::warn!("delete container: {}", crate::error::chain(&e));
    }
}
