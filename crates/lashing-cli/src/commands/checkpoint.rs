//! `lashing checkpoint`: checkpoint a running container with CRIU (runc's flags; the default
//! image directory is `./checkpoint`). Without `--leave-running` the container is destroyed once
//! it is dumped, as runc does.

use std::path::{Path, PathBuf};

use lashing::Container;
use lashing::criu::{CheckpointOpts, CriuError, CriuOpts};

use super::CmdResult;
use crate::cli::Globals;
use crate::error::CliError;

/// The CRIU options that `checkpoint` and `restore` share (as runc's).
#[derive(Debug, clap::Args)]
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

impl CriuArgs {
    /// The library's options for the image directory `image` (default `./checkpoint`); the
    /// options lashing does not support yet are refused.
    pub fn opts(&self, image: Option<&str>) -> Result<CriuOpts, CliError> {
        if self.lazy_pages {
            return Err(CliError::Unsupported {
                what: "--lazy-pages",
            });
        }
        if self.auto_dedup {
            return Err(CliError::Unsupported {
                what: "--auto-dedup",
            });
        }
        if !self.empty_ns.is_empty() {
            return Err(CliError::Unsupported { what: "--empty-ns" });
        }
        Ok(CriuOpts {
            image_path: absolute(image.unwrap_or("checkpoint"))?,
            work_path: self.work_path.as_deref().map(absolute).transpose()?,
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode.clone(),
        })
    }
}

fn absolute(p: &str) -> Result<PathBuf, CliError> {
    std::path::absolute(Path::new(p)).map_err(|e| CliError::io("resolve path", p, e))
}

/// The CLI error of a CRIU error.
pub fn criu_error(e: CriuError) -> CliError {
    match e {
        CriuError::Container(e) => CliError::Lashing(e),
        e => CliError::Refused(crate::error::chain(&e)),
    }
}

/// Runs `lashing checkpoint`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    for (set, what) in [
        (a.pre_dump, "--pre-dump"),
        (a.parent_path.is_some(), "--parent-path"),
        (a.page_server.is_some(), "--page-server"),
        (a.status_fd.is_some(), "--status-fd"),
    ] {
        if set {
            return super::unsupported(what);
        }
    }
    let opts = CheckpointOpts {
        criu: a.criu.opts(a.image_path.as_deref())?,
        leave_running: a.leave_running,
    };
    let mut container = Container::load(&g.root, &a.id)?;
    container.checkpoint(&opts).map_err(criu_error)?;
    if !a.leave_running {
        // CRIU has killed the processes: wait for the init to be gone, then remove the container.
        let start = std::time::Instant::now();
        while container.status() != lashing::Status::Stopped
            && start.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        container.destroy()?;
    }
    Ok(0)
}
