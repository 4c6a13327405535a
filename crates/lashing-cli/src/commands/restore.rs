//! `lashing restore`: restore a container from a previous checkpoint (not supported yet: the options are accepted as runc's and the command fails).

use super::CmdResult;
use super::checkpoint::CriuArgs;
use crate::cli::Globals;

/// `lashing restore` options (as runc's).
#[derive(Debug, clap::Args)]
#[allow(dead_code)] // Parsed for compatibility; used once the command is implemented.
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

/// Runs `lashing restore`: not supported yet.
pub fn run(_g: &Globals, _a: &Args) -> CmdResult {
    super::unsupported("restore")
}
