//! `lashing run <id>`: create and start a container; in the foreground (the default) wait for
//! it, forwarding signals, then delete it and exit with its status.

use std::time::Duration;

use lashing::{Container, Status};
use rustix::process::{WaitOptions, WaitStatus};

use super::CmdResult;
use super::create::{CreateArgs, Prepared, cleanup, init_pid, prepare};
use crate::error::CliError;
use crate::globals::Globals;
use crate::notify_socket::NotifySocket;
use crate::signals;
use crate::sys::SignalPipe;
use crate::tty::Relay;

/// `lashing run` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub(crate) create: CreateArgs,
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
    let Prepared {
        mut container,
        mut process,
        console,
        notify_host,
    } = prepare(g, &a.id, &a.create, a.detach)?;
    let notify = match notify_host {
        Some(host) => match NotifySocket::bind(container.state_dir(), host) {
            Ok(n) => n,
            Err(e) => {
                cleanup(container);
                return Err(e);
            }
        },
        None => None,
    };
    // create, then start (in one go: init does not wait on the exec fifo): an init that fails
    // after `create` (a startContainer hook, `execve`) is, in the foreground, a process that
    // exited 255 with the error said (runc's init prints it and exits 255 while `run` waits).
    let started = match container.run_phased(&mut process) {
        Err(e) => Err(CliError::from(e)),
        Ok(r) => match r {
            Err(e @ lashing::Error::Init(_)) if !a.detach => {
                tracing::error!("{}", crate::error::chain(&e));
                cleanup(container);
                return Ok(255);
            }
            r => r.map_err(CliError::from),
        },
    };
    let res = started
        .and_then(|()| a.create.write_pid_file(&container, &process))
        .and_then(|()| console.as_ref().map(|c| c.master()).transpose());
    let master = match res {
        Ok(m) => m,
        Err(e) => {
            cleanup(container);
            return Err(e);
        }
    };
    let init_pid = init_pid(&container, &process);
    let Some(sigpipe) = sigpipe else {
        // Detached: with NOTIFY_SOCKET, return once the container is ready (runc).
        if let Some(n) = &notify {
            n.wait_and_relay(init_pid, || container.status() != Status::Stopped)?;
        }
        return Ok(0);
    };
    let mut attached = Attached {
        sigpipe: &sigpipe,
        relay: master.map(Relay::new),
        notify,
    };
    let forward = |sig: i32| {
        if let Err(e) = container.signal(sig, false) {
            tracing::warn!("forward signal {sig}: {}", crate::error::chain(&e));
        }
    };
    let gone = || container.status() == Status::Stopped;
    let code = match forward_until_exit(&mut attached, init_pid, &forward, &gone) {
        Ok(code) => {
            lashing::waterfall::mark("run: the container's process exited");
            code
        }
        Err(e) => {
            drop(attached);
            if !a.keep {
                cleanup(container);
            }
            return Err(e);
        }
    };
    drop(attached);
    if !a.keep {
        destroy_stopped(container);
    }
    Ok(code)
}

/// What the runtime does while it waits in the foreground: the caught signals, the terminal
/// relay, and the notify socket (relayed once, with this process as `MAINPID`, as runc).
pub(super) struct Attached<'a> {
    /// The caught signals.
    pub sigpipe: &'a SignalPipe,
    /// The terminal, when the process has one and no console socket was given.
    pub relay: Option<Relay>,
    /// The notify socket, until `READY=` was relayed.
    pub notify: Option<NotifySocket>,
}

/// Forwards every caught signal with `forward` (`SIGWINCH` resizes the terminal instead when
/// there is one), relays the terminal and the notify socket, and reaps children until `pid` has
/// exited; returns its status (code, or 128 + signal). `gone` tells that the process ended
/// although it could not be reaped (it was not a child).
pub(super) fn forward_until_exit(
    att: &mut Attached<'_>,
    pid: i32,
    forward: &dyn Fn(i32),
    gone: &dyn Fn() -> bool,
) -> Result<i32, CliError> {
    loop {
        let busy = att.relay.as_ref().is_some_and(Relay::is_open) || att.notify.is_some();
        let wait = Duration::from_millis(if busy { 100 } else { 500 });
        let caught = match att.relay.as_mut().filter(|r| r.is_open()) {
            Some(relay) => {
                // A signal interrupts the poll of the relay, so that it is seen at once.
                relay
                    .step(wait)
                    .map_err(|e| CliError::sys("relay the terminal", e))?;
                att.sigpipe.wait(Duration::ZERO)
            }
            None => att.sigpipe.wait(wait),
        }
        .map_err(|e| CliError::sys("wait for signals", e))?;
        for sig in caught.iter().copied().filter(|&s| s != libc::SIGCHLD) {
            match &att.relay {
                Some(relay) if sig == libc::SIGWINCH => relay.resize(),
                _ => {
                    tracing::debug!("forwarding signal {sig} to the container");
                    forward(sig);
                }
            }
        }
        if let Some(n) = &att.notify
            && let Some(line) = n.try_read_ready()
        {
            let me = rustix::process::getpid().as_raw_nonzero().get();
            if let Err(e) = n.relay(&line, me) {
                tracing::warn!("{}", crate::error::chain(&e));
            }
            att.notify = None;
        }
        // Reap on SIGCHLD, and on every timeout in case a SIGCHLD byte was dropped.
        if let Some(code) = reap(pid)? {
            if let Some(relay) = att.relay.as_mut() {
                relay.drain(Duration::from_millis(100));
            }
            return Ok(code);
        }
        if gone() && !is_child(pid) {
            // init was not ours to reap (no subreaper and it was reparented): its status is lost.
            tracing::warn!(
                "container process {pid} exited but was not a child: exit status unknown"
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
pub(super) fn destroy_stopped(container: Container) {
    let res = if container.status() == Status::Stopped {
        container.destroy()
    } else {
        container.force_destroy()
    };
    if let Err(e) = res {
        tracing::warn!("delete container: {}", crate::error::chain(&e));
    }
}
