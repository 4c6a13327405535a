//! `lashing exec`: execute a new process inside a container (not supported yet: the options are accepted as runc's and the command fails).

use super::CmdResult;
use crate::cli::Globals;

/// `lashing exec` options (as runc's).
#[derive(Debug, clap::Args)]
#[allow(dead_code)] // Parsed for compatibility; used once the command is implemented.
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

/// Runs `lashing exec`: not supported yet.
pub fn run(_g: &Globals, _a: &Args) -> CmdResult {
    super::unsupported("exec")
}
