//! `lashing checkpoint`: checkpoint a running container with CRIU (runc's flags; the default
//! image directory is `./checkpoint`). Without `--leave-running` or `--pre-dump` the container
//! is destroyed once it is dumped, as runc does.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use lashing::Container;
use lashing::config::NamespaceType;
use lashing::criu::{CheckpointOpts, CriuError, CriuOpts, ManageCgroupsMode};

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

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
    #[arg(long, value_name = "FD", allow_hyphen_values = true)]
    status_fd: Option<i32>,
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
    /// The library's options for the image directory `image` (default `./checkpoint`).
    pub fn opts(&self, image: Option<&str>) -> Result<CriuOpts, CliError> {
        let manage_cgroups_mode = match self.manage_cgroups_mode.as_deref() {
            None | Some("") => None,
            Some(m) => Some(m.parse::<ManageCgroupsMode>().map_err(criu_error)?),
        };
        let empty_ns = self
            .empty_ns
            .iter()
            .flat_map(|s| s.split(','))
            .map(|ns| match ns {
                "network" => Ok(NamespaceType::Network),
                _ => Err(CliError::Refused(format!(
                    "namespace {ns:?} is not supported"
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(CriuOpts {
            image_path: absolute(image.filter(|i| !i.is_empty()).unwrap_or("checkpoint"))?,
            work_path: self
                .work_path
                .as_deref()
                .filter(|w| !w.is_empty())
                .map(absolute)
                .transpose()?,
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode,
            empty_ns,
            auto_dedup: self.auto_dedup,
            lazy_pages: self.lazy_pages,
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

/// runc's `--page-server ADDRESS:PORT` (Go's `net.SplitHostPort`: an IPv6 address in brackets).
fn page_server(s: &str) -> Result<(String, i32), CliError> {
    let usage =
        || CliError::Refused("Use --page-server ADDRESS:PORT to specify page server".into());
    let (host, port) = s.rsplit_once(':').ok_or_else(usage)?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']').ok_or_else(usage)?,
        None if host.contains(':') => return Err(usage()),
        None => host,
    };
    if host.is_empty() || port.is_empty() {
        return Err(usage());
    }
    let port: i32 = port
        .parse()
        .map_err(|_| CliError::Refused("Invalid port number".into()))?;
    Ok((host.to_string(), port))
}

/// `--status-fd N`: fd N of this process, reopened for writing (a pipe or a file; runc checks
/// that it is open and writable).
fn status_fd(n: i32) -> Result<Option<OwnedFd>, CliError> {
    if n < 0 {
        return Ok(None);
    }
    let path = format!("/proc/self/fd/{n}");
    let invalid =
        |what: String| CliError::Refused(format!("invalid --status-fd argument {n}: {what}"));
    let flags = std::fs::read_to_string(format!("/proc/self/fdinfo/{n}"))
        .map_err(|e| invalid(e.to_string()))?;
    let flags = flags
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .unwrap_or(0);
    if flags & (libc::O_WRONLY | libc::O_RDWR) as u32 == 0 {
        return Err(invalid("not writable".into()));
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Some(f.into()))
}

/// Runs `lashing checkpoint`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    // runc's order: the container first, then the options.
    let mut container = Container::load(&g.root, &a.id)?;
    let mut opts = CheckpointOpts {
        criu: a.criu.opts(a.image_path.as_deref())?,
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        parent_path: a
            .parent_path
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        page_server: a
            .page_server
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(page_server)
            .transpose()?,
        status_fd: status_fd(a.status_fd.unwrap_or(-1))?,
    };
    container.checkpoint(&mut opts).map_err(criu_error)?;
    if !(a.leave_running || a.pre_dump) {
        // CRIU has killed the processes: wait (bounded) for the init to be gone, then remove
        // the container.
        let start = std::time::Instant::now();
        while container.status() != lashing::Status::Stopped
            && start.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        container.force_destroy()?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_server_addresses() {
        assert_eq!(
            page_server("127.0.0.1:27").unwrap(),
            ("127.0.0.1".into(), 27)
        );
        assert_eq!(page_server("[::1]:27").unwrap(), ("::1".into(), 27));
        for bad in ["127.0.0.1", ":27", "host:", "::1:27"] {
            let e = page_server(bad).unwrap_err().to_string();
            assert!(e.contains("ADDRESS:PORT"), "{bad}: {e}");
        }
        let e = page_server("host:port").unwrap_err().to_string();
        assert!(e.contains("Invalid port number"), "{e}");
    }

    #[test]
    fn status_fd_must_be_open_and_writable() {
        assert!(status_fd(-1).unwrap().is_none());
        let e = status_fd(9999).unwrap_err().to_string();
        assert!(e.contains("invalid --status-fd argument 9999"), "{e}");
        let r = std::fs::File::open("/dev/null").unwrap();
        let n = std::os::fd::AsRawFd::as_raw_fd(&r);
        let e = status_fd(n).unwrap_err().to_string();
        assert!(e.contains("not writable"), "{e}");
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        assert!(
            status_fd(std::os::fd::AsRawFd::as_raw_fd(&w))
                .unwrap()
                .is_some()
        );
    }
}
