//! `lashing checkpoint`: checkpoint a running container (not supported yet: the options are accepted as runc's and the command fails).

use super::CmdResult;
use crate::cli::Globals;

/// The CRIU options that `checkpoint` and `restore` share (as runc's).
#[derive(Debug, clap::Args)]
#[allow(dead_code)] // Parsed for compatibility; used once the commands are implemented.
pub struct CriuArgs {
    /// path for saving work files and logs
    #[arg(long, value_name = "DIR")]
    work_path: Option<String>,
    /// allow open tcp connections
    #[arg(long)]
    tcp_established: bool,
    /// allow external unix sockets
    #[arg(long)]
    ext_unix_sk: bool,
    /// allow shell jobs
    #[arg(long)]
    shell_job: bool,
    /// use userfaultfd to lazily restore memory pages
    #[arg(long)]
    lazy_pages: bool,
    /// handle file locks, for safety
    #[arg(long)]
    file_locks: bool,
    /// cgroups mode: soft|full|strict|ignore (default: soft)
    #[arg(long, value_name = "MODE")]
    manage_cgroups_mode: Option<String>,
    /// create a namespace, but don't restore its properties
    #[arg(long, value_name = "NS")]
    empty_ns: Vec<String>,
    /// enable auto deduplication of memory images
    #[arg(long)]
    auto_dedup: bool,
}

/// `lashing checkpoint` options (as runc's).
#[derive(Debug, clap::Args)]
#[allow(dead_code)] // Parsed for compatibility; used once the command is implemented.
pub struct Args {
    /// path for saving criu image files
    #[arg(long, value_name = "DIR")]
    image_path: Option<String>,
    #[command(flatten)]
    criu: CriuArgs,
    /// path for previous criu image files in pre-dump
    #[arg(long, value_name = "DIR")]
    parent_path: Option<String>,
    /// leave the process running after checkpointing
    #[arg(long)]
    leave_running: bool,
    /// criu writes \0 to this FD once lazy-pages is ready
    #[arg(long, value_name = "FD")]
    status_fd: Option<String>,
    /// ADDRESS:PORT of the page server
    #[arg(long, value_name = "ADDRESS:PORT")]
    page_server: Option<String>,
    /// dump container's memory information only, leave the container running after this
    #[arg(long)]
    pre_dump: bool,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing checkpoint`: not supported yet.
pub fn run(_g: &Globals, _a: &Args) -> CmdResult {
    super::unsupported("checkpoint")
}
