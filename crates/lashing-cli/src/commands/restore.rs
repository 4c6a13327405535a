//! `lashing restore`: restore a container from a checkpoint made by `lashing checkpoint` (or
//! runc's), with the configuration of a bundle (runc's flags; the default image directory is
//! `./checkpoint`). Attached (no `-d`), it waits for the restored init as `run` does
//! (forwarding signals, relaying a terminal), then removes the container and exits with the
//! init's status.

use lashing::Config;
use lashing::Container;
use lashing::config::CreateOpts;
use lashing::criu::RestoreOpts;

use super::CmdResult;
use super::checkpoint::{CriuArgs, criu_error};
use super::create::{check_terminal, cleanup};
use super::run::{Attached, destroy_stopped, forward_until_exit};
use crate::error::CliError;
use crate::globals::Globals;
use crate::signals;
use crate::sys::SignalPipe;
use crate::tty::{ConsolePair, Relay};

/// `lashing restore` options (as runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long, value_name = "PATH")]
    console_socket: Option<String>,
    /// path to criu image files for restoring
    #[arg(long, value_name = "DIR")]
    image_path: Option<String>,
    #[command(flatten)]
    criu: CriuArgs,
    /// path to the root of the bundle directory
    #[arg(short, long, value_name = "DIR")]
    bundle: Option<String>,
    /// detach from the container's process
    #[arg(short, long)]
    detach: bool,
    /// specify the file to write the process id to
    #[arg(long, value_name = "PATH")]
    pid_file: Option<String>,
    /// disable the use of the subreaper used to reap reparented processes
    #[arg(long)]
    no_subreaper: bool,
    /// do not use pivot root to jail process inside rootfs
    #[arg(long)]
    no_pivot: bool,
    /// Allow to specify LSM profile to be used during restore
    #[arg(long, value_name = "TYPE:LABEL")]
    lsm_profile: Option<String>,
    /// Allow to specify SELinux mount context to be used during restore
    #[arg(long, value_name = "CONTEXT")]
    lsm_mount_context: Option<String>,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing restore`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let bundle = a.bundle.as_deref().filter(|b| !b.is_empty()).unwrap_or(".");
    let bundle =
        std::path::absolute(bundle).map_err(|e| CliError::io("resolve bundle", bundle, e))?;
    let mut config = Config::from_bundle(&CreateOpts {
        bundle,
        no_pivot_root: a.no_pivot,
        no_new_keyring: false,
    })?;
    let rootless = lashing::rootless::detect(g.rootless);
    config.rootless_euid = rootless.euid;
    config.rootless_cgroups = rootless.cgroups;
    config.cgroup.systemd = g.systemd_cgroup;
    let terminal = config.process.terminal;
    check_terminal(terminal, a.detach, a.console_socket.is_some())?;
    let mut opts = RestoreOpts {
        criu: a.criu.opts(a.image_path.as_deref())?,
        console_socket: None,
        lsm_profile: a.lsm_profile.clone().filter(|s| !s.is_empty()),
        lsm_mount_context: a.lsm_mount_context.clone().filter(|s| !s.is_empty()),
        stdio: None,
    };
    let mut console = None;
    if let Some(p) = &a.console_socket {
        opts.console_socket = Some(crate::tty::connect(
            std::path::Path::new(p),
            "console socket",
        )?);
    } else if terminal {
        let mut pair = ConsolePair::new()?;
        opts.console_socket = pair.theirs();
        console = Some(pair);
    }
    // Catch signals before anything starts, so that none is lost.
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
    let container = Container::restore(&g.root, &a.id, config, &opts).map_err(criu_error)?;
    drop(opts);
    let pid = container.state().init_process_pid();
    let master = match console.as_ref().map(ConsolePair::master).transpose() {
        Ok(m) => m,
        Err(e) => {
            cleanup(container);
            return Err(e);
        }
    };
    if let Some(p) = &a.pid_file
        && let Err(e) = super::create::write_pid_file(std::path::Path::new(p), pid)
    {
        cleanup(container);
        return Err(e);
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
        if let Err(e) = container.signal(sig, false) {
            tracing::warn!("forward signal {sig}: {}", crate::error::chain(&e));
        }
    };
    let gone = || container.status() == lashing::Status::Stopped;
    let code = forward_until_exit(&mut attached, pid, &forward, &gone);
    drop(attached);
    destroy_stopped(container);
    code
}
