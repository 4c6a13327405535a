//! `lashing restore`: restore a container from a checkpoint made by `lashing checkpoint` (CRIU),
//! with the configuration of a bundle (runc's flags; the default image directory is
//! `./checkpoint`). Attached (no `-d`), it waits for the restored init as `run` does, then
//! removes the container and exits with the init's status.

use lashing::config::CreateOpts;
use lashing::criu::RestoreOpts;
use lashing::{Config, Container};

use super::CmdResult;
use super::checkpoint::{CriuArgs, criu_error};
use crate::cli::Globals;
use crate::error::CliError;

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
    for (set, what) in [
        (a.console_socket.is_some(), "--console-socket"),
        (a.lsm_profile.is_some(), "--lsm-profile"),
        (a.lsm_mount_context.is_some(), "--lsm-mount-context"),
    ] {
        if set {
            return super::unsupported(what);
        }
    }
    if g.systemd_cgroup {
        return Err(CliError::Unsupported {
            what: "the systemd cgroup driver (--systemd-cgroup)",
        });
    }
    let opts = RestoreOpts {
        criu: a.criu.opts(a.image_path.as_deref())?,
    };
    let bundle = a.bundle.as_deref().unwrap_or(".");
    let bundle =
        std::path::absolute(bundle).map_err(|e| CliError::io("resolve bundle", bundle, e))?;
    let config = Config::from_bundle(&CreateOpts {
        bundle,
        no_pivot_root: a.no_pivot,
        no_new_keyring: false,
    })?;
    if config.process.terminal {
        return Err(CliError::Unsupported {
            what: "restoring a container with a terminal",
        });
    }
    let attached = !a.detach;
    if attached && !a.no_subreaper {
        // The restored init is orphaned when criu exits: it comes back to us, and we wait for it.
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(|e| CliError::io("become a subreaper", "self", e))?;
    }
    let container = Container::restore(&g.root, &a.id, config, &opts).map_err(criu_error)?;
    let pid = container.state().init_process_pid();
    if let Some(p) = &a.pid_file
        && let Err(e) = super::create::write_pid_file(std::path::Path::new(p), pid)
    {
        super::create::cleanup(container);
        return Err(e);
    }
    if !attached {
        return Ok(0);
    }
    let code = wait_exit(pid);
    super::create::cleanup(container);
    Ok(code)
}

/// Waits for the restored init (a child of ours once criu has exited, when we are its
/// subreaper) and returns its exit code (128 + signal when killed); 255 when it cannot be waited
/// for.
fn wait_exit(pid: i32) -> i32 {
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return 255;
    };
    loop {
        match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(c) = st.exit_status() {
                    return c;
                }
                if let Some(s) = st.terminating_signal() {
                    return 128 + s;
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            _ => return 255,
        }
    }
}
