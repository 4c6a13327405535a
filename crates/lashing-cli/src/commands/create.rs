//! `lashing create <id>`: set a container up from a bundle and leave its init waiting for
//! `start`. Also the shared part of `run`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use lashing::config::CreateOpts;
use lashing::{Config, Container, Process};

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;
use crate::notify_socket;
use crate::tty::{self, ConsolePair};

/// The options shared by `create` and `run`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// path to the root of the bundle directory, defaults to the current directory
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end
    /// of the console's pseudoterminal
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the init
    /// process
    #[arg(long, value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// specify the file to write the process id to
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// do not use pivot root to jail process inside rootfs. This should be used whenever the
    /// rootfs is on top of a ramdisk
    #[arg(long)]
    pub no_pivot: bool,
    /// do not create a new session keyring for the container. This will cause the container to
    /// inherit the calling processes session key
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

impl CreateArgs {
    /// Writes the container's init pid to `--pid-file`, when given.
    pub fn write_pid_file(&self, container: &Container, process: &Process) -> Result<(), CliError> {
        match &self.pid_file {
            Some(p) => write_pid_file(p, init_pid(container, process)),
            None => Ok(()),
        }
    }
}

/// The pid of a started container's init: the process's own, else the one in the state.
pub fn init_pid(container: &Container, process: &Process) -> i32 {
    process
        .pid()
        .unwrap_or(container.state().init_process_pid())
}

/// `lashing create` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub(crate) create: CreateArgs,
    /// the container id, unique on the host
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing create`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let Prepared {
        mut container,
        mut process,
        ..
    } = prepare(g, &a.id, &a.create, true)?;
    let res = container
        .start(&mut process)
        .map_err(CliError::from)
        .and_then(|()| a.create.write_pid_file(&container, &process));
    if let Err(e) = res {
        cleanup(container);
        return Err(e);
    }
    Ok(0)
}

/// What `create`/`run` start from: the container (state created), its init process and, for a
/// terminal in the foreground, the socketpair the master comes back on.
#[derive(Debug)]
pub struct Prepared {
    /// The container, created (nothing runs yet).
    pub container: Container,
    /// Its init process, with the console/pidfd sockets and preserved fds attached.
    pub process: Process,
    /// Our end of the console socketpair (a terminal in the foreground).
    pub console: Option<ConsolePair>,
    /// The host's `NOTIFY_SOCKET`, when the container got a notify socket.
    pub notify_host: Option<String>,
}

/// Loads the bundle's configuration, checks the flags against it, creates the container's state
/// and returns the container with the init process to start (the configuration's process, with
/// the caller's stdio, the socket-activation fds (`LISTEN_FDS`) and the preserved fds).
/// `detach`: the runtime will not stay attached (`create`, `run -d`).
pub fn prepare(g: &Globals, id: &str, a: &CreateArgs, detach: bool) -> Result<Prepared, CliError> {
    let bundle =
        std::path::absolute(&a.bundle).map_err(|e| CliError::io("resolve bundle", &a.bundle, e))?;
    let opts = CreateOpts {
        bundle,
        no_pivot_root: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
    };
    let mut config = Config::from_bundle(&opts)?;
    lashing::waterfall::mark("config.json read and converted");
    let rootless = lashing::rootless::detect(g.rootless);
    config.rootless_euid = rootless.euid;
    config.rootless_cgroups = rootless.cgroups;
    config.cgroup.systemd = g.systemd_cgroup;
    check_terminal(config.process.terminal, detach, a.console_socket.is_some())?;
    // Sockets first: a bad path is refused before anything is created.
    let console_socket = match &a.console_socket {
        Some(p) => Some(tty::connect(p, "console socket")?),
        None => None,
    };
    let pidfd_socket = match &a.pidfd_socket {
        Some(p) => Some(tty::connect(p, "pidfd socket")?),
        None => None,
    };
    let mut console = None;
    let (listen, listen_count) = listen_fds()?;
    let notify_host = notify_socket::host_socket();
    if notify_host.is_some() {
        let root = std::path::absolute(&g.root)
            .map_err(|e| CliError::io("resolve state root", &g.root, e))?;
        notify_socket::setup_spec(
            &mut config,
            &notify_socket::state_socket_dir(&root.join(id)),
        );
    }
    let mut process = Process::from_config(&config.process);
    if listen_count > 0 {
        process.env.push(format!("LISTEN_FDS={listen_count}"));
        process.env.push("LISTEN_PID=1".into());
    }
    // Positions, not open fds: one the caller had closed stays a (closed) position.
    let first_preserved = 3 + listen_count;
    process.extra_files_gaps = gaps(3, first_preserved - 3 + a.preserve_fds);
    process.extra_files = listen;
    process
        .extra_files
        .extend(preserved_fds_from(first_preserved, a.preserve_fds)?);
    process.console_socket = console_socket;
    process.pidfd_socket = pidfd_socket;
    if process.terminal && process.console_socket.is_none() {
        let mut pair = ConsolePair::new()?;
        process.console_socket = pair.theirs();
        // Output byte for byte (runc clears ONLCR on a terminal it relays): done by init.
        process.clear_onlcr = true;
        // Sized by init before the process starts (a resize by the relay would race with it).
        process.console_size = tty::host_size().or(process.console_size);
        console = Some(pair);
    }
    let container = Container::create(&g.root, id, config)?;
    if notify_host.is_some()
        && let Err(e) = notify_socket::create_dir(container.state_dir())
    {
        cleanup(container);
        return Err(e);
    }
    Ok(Prepared {
        container,
        process,
        console,
        notify_host,
    })
}

/// The fds of systemd socket activation: `LISTEN_FDS` fds from 3 when `LISTEN_PID` is this
/// process (runc's `activation.Files`); copies, the inherited ones stay open.
/// Returns the open ones and how many positions (from 3) the socket activation takes.
fn listen_fds() -> Result<(Vec<std::os::fd::OwnedFd>, u32), CliError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let n = std::env::var("LISTEN_FDS").ok();
    let (Some(pid), Some(n)) = (pid, n) else {
        return Ok((Vec::new(), 0));
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok((Vec::new(), 0));
    }
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| CliError::Refused(format!("invalid LISTEN_FDS value {n:?}")))?;
    Ok((preserved_fds_from(3, n)?, n))
}

/// runc's rules for `process.terminal` and `--console-socket`.
pub(super) fn check_terminal(
    terminal: bool,
    detach: bool,
    console_socket: bool,
) -> Result<(), CliError> {
    if detach && terminal && !console_socket {
        return Err(CliError::Refused(
            "cannot allocate tty if lashing will detach without setting console socket".into(),
        ));
    }
    if (!detach || !terminal) && console_socket {
        return Err(CliError::Refused(
            "cannot use console socket if lashing will not detach or allocate tty".into(),
        ));
    }
    Ok(())
}

/// Copies of the inherited fds 3 .. 3+n, for the container's fds 3 .. 3+n.
pub fn preserved_fds(n: u32) -> Result<Vec<std::os::fd::OwnedFd>, CliError> {
    preserved_fds_from(3, n)
}

/// Copies of the inherited fds first .. first+n that were open when the program started (the
/// closed ones are [`gaps`]: they stay closed in the container).
pub fn preserved_fds_from(first: u32, n: u32) -> Result<Vec<std::os::fd::OwnedFd>, CliError> {
    let too_large = || CliError::Refused(format!("--preserve-fds {n} is too large"));
    let n = i32::try_from(n).map_err(|_| too_large())?;
    let first = i32::try_from(first).map_err(|_| too_large())?;
    let end = first.checked_add(n).ok_or_else(too_large)?;
    (first..end)
        .filter(|fd| !crate::sys::closed_at_start(*fd))
        .map(|fd| {
            crate::sys::dup_inherited_fd(fd, end)
                .map_err(|e| CliError::io("preserve fd", format!("{fd}"), e))
        })
        .collect()
}

/// The positions (0 = fd 3) among the fds first .. first+n that were closed when the program
/// started: they stay closed in the container.
pub fn gaps(first: u32, n: u32) -> Vec<usize> {
    (first..first.saturating_add(n))
        .filter(|fd| i32::try_from(*fd).is_ok_and(crate::sys::closed_at_start))
        .map(|fd| (fd - 3) as usize)
        .collect()
}

/// How many fds from 3 on the command passes to the container (`--preserve-fds`, and for
/// create/run the socket-activation fds): the range [`crate::sys::reserve_inherited_fds`] holds.
pub fn passed_fd_count(preserve_fds: u32, socket_activation: bool) -> u32 {
    let listen = if socket_activation {
        let mine = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            == Some(std::process::id());
        std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|_| mine)
            .unwrap_or(0)
    } else {
        0
    };
    preserve_fds.saturating_add(listen)
}

/// Removes whatever a failed create left (kills the init if it runs), logging a failure to do so.
pub fn cleanup(container: Container) {
    if let Err(e) = container.force_destroy() {
        tracing::warn!("{}", crate::error::chain(&e));
    }
}

/// Writes `pid` (no newline, as runc) to `path` atomically: into `.<name>` beside it, then renamed.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), CliError> {
    let path = std::path::absolute(path).map_err(|e| CliError::io("resolve pid file", path, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| CliError::io("write pid file", &path, std::io::ErrorKind::InvalidInput))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o666)
            .open(&tmp)?;
        write!(f, "{pid}")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::io("write pid file", &path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_rules_match_runc() {
        assert!(check_terminal(false, true, false).is_ok());
        assert!(check_terminal(false, false, false).is_ok());
        let e = check_terminal(true, true, false).unwrap_err().message();
        assert!(
            e.starts_with("cannot allocate tty if lashing will detach"),
            "{e}"
        );
        let e = check_terminal(false, true, true).unwrap_err().message();
        assert!(e.starts_with("cannot use console socket"), "{e}");
        let e = check_terminal(true, false, true).unwrap_err().message();
        assert!(e.starts_with("cannot use console socket"), "{e}");
        assert!(check_terminal(true, true, true).is_ok());
        assert!(check_terminal(true, false, false).is_ok());
    }

    #[test]
    fn pid_file_is_written_whole_without_newline() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pid");
        std::fs::write(&p, "old contents that are longer").unwrap();
        write_pid_file(&p, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "4242");
        assert!(!d.path().join(".pid").exists());
        let e = write_pid_file(&d.path().join("nodir/pid"), 1)
            .unwrap_err()
            .message();
        assert!(e.starts_with("write pid file "), "{e}");
    }

    #[test]
    fn preserving_zero_fds_gives_none() {
        assert!(preserved_fds(0).unwrap().is_empty());
    }
}
