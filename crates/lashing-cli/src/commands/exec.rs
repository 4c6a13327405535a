//! `lashing exec`: execute a new process inside a running container (as `runc exec`).

use lashing::config::ProcessConfig;
use lashing::{Container, Process, Status};

use std::collections::BTreeMap;
use std::path::Path;

use super::CmdResult;
use super::run::{Attached, forward_until_exit};
use crate::error::CliError;
use crate::globals::Globals;
use crate::sys::SignalPipe;
use crate::tty::{self, ConsolePair, Relay};

/// `lashing exec` options (as runc's).
#[derive(Debug, clap::Args)]
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
    pub(crate) preserve_fds: u32,
    /// run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.
    #[arg(long, value_name = "value")]
    cgroup: Vec<String>,
    /// allow exec in a paused container
    #[arg(long)]
    ignore_paused: bool,
    /// the container id, then the command and its arguments (everything after the id is the
    /// command, options too, as runc parses it)
    #[arg(
        value_name = "container-id> <command",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

impl Args {
    /// The container id.
    fn id(&self) -> &str {
        &self.args[0]
    }

    /// The command and its arguments.
    fn command(&self) -> &[String] {
        &self.args[1..]
    }
}

/// Runs `lashing exec`: the exit status is the process's; any error before the process runs is
/// runc's `exec failed: ...` with status 255.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    exec(g, a).map_err(|e| match e {
        CliError::Exec(_) => e,
        e => CliError::Exec(Box::new(e)),
    })
}

/// The process to execute, as runc's `getProcess`: with `--process`, the process.json alone
/// (every other process flag is ignored, as runc ignores them); otherwise the container's process
/// with the command line and the flags applied.
fn process_of(container: &Container, a: &Args) -> Result<Process, CliError> {
    let process = match &a.process {
        Some(path) => Process::from_config(&ProcessConfig::from_json_file(Path::new(path))?),
        None => process_from_flags(container, a)?,
    };
    validate_process_spec(&process)?;
    check_env(&process.env)?;
    Ok(process)
}

/// runc's `validateProcessSpec`, with its messages.
fn validate_process_spec(p: &Process) -> Result<(), CliError> {
    let refuse = |m: &str| Err(CliError::Refused(m.into()));
    if p.cwd.as_os_str().is_empty() {
        return refuse("Cwd property must not be empty");
    }
    if !p.cwd.is_absolute() {
        return refuse("Cwd must be an absolute path");
    }
    if p.args.is_empty() {
        return refuse("args must not be empty");
    }
    if p.selinux_label.as_ref().is_some_and(|l| !l.is_empty())
        && !super::features::selinux_enabled()
    {
        return refuse(
            "selinux label is specified in config, but selinux is disabled or not supported",
        );
    }
    Ok(())
}

/// The container's process with the command line and the process flags applied.
fn process_from_flags(container: &Container, a: &Args) -> Result<Process, CliError> {
    let base = &container.config().process;
    let mut process = Process::from_config(base);
    process.args = a.command().to_vec();
    process.terminal = a.tty;
    if let Some(cwd) = &a.cwd {
        process.cwd = cwd.into();
    }
    if let Some(p) = a.apparmor.as_ref().filter(|p| !p.is_empty()) {
        process.apparmor_profile = Some(p.clone());
    }
    if let Some(l) = a.process_label.as_ref().filter(|l| !l.is_empty()) {
        process.selinux_label = Some(l.clone());
    }
    if !a.cap.is_empty() {
        let mut caps = Vec::new();
        let mut unknown = Vec::new();
        for name in &a.cap {
            match lashing::config::cap_from_name(name) {
                Some(c) => caps.push(c),
                None => unknown.push(name.as_str()),
            }
        }
        if !unknown.is_empty() {
            // runc: a name it does not know is dropped with a warning, not an error.
            tracing::warn!(
                "ignoring unknown or unavailable capabilities: [{}]",
                unknown.join(" ")
            );
        }
        process.add_capabilities(&caps, base.capabilities.as_ref());
    }
    process.env.extend(a.env.iter().cloned());
    if a.no_new_privs {
        process.no_new_privileges = Some(true);
    }
    if let Some(user) = a.user.as_ref().filter(|u| !u.is_empty()) {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        if let Some(g) = gid {
            process.user.gid =
                parse_id(g).map_err(|e| CliError::Refused(format!("bad gid: {e}")))?;
        }
        process.user.uid = parse_id(uid).map_err(|e| CliError::Refused(format!("bad uid: {e}")))?;
    }
    for g in &a.additional_gids {
        let gid = parse_id(g)
            .map_err(|e| CliError::Refused(format!("invalid value {g:?} for flag -g: {e}")))?;
        process.user.additional_gids.push(gid);
    }
    Ok(process)
}

/// The environment checks of runc's `prepareEnv`, with its messages, from the last entry back
/// (a later duplicate hides an earlier entry).
fn check_env(env: &[String]) -> Result<(), CliError> {
    let bad = |m: String| CliError::Refused(format!("invalid environment variable{m}"));
    let mut seen = std::collections::HashSet::new();
    for kv in env.iter().rev() {
        match kv.find('=') {
            None => return Err(bad(": missing '='".into())),
            Some(0) => return Err(bad(": name cannot be empty".into())),
            Some(i) => {
                let key = &kv[..i];
                if seen.insert(key) && kv.contains('\0') {
                    return Err(bad(format!(" {key:?}: contains nul byte (\\x00)")));
                }
            }
        }
    }
    Ok(())
}

/// A numeric id, with the error text of Go's `strconv.Atoi` (what runc prints).
fn parse_id(s: &str) -> Result<u32, String> {
    s.parse::<u32>().map_err(|_| {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        let why = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        format!("strconv.Atoi: parsing {s:?}: {why}")
    })
}

/// runc's `getSubCgroupPaths`, with its messages: one `path` (every hierarchy; the cgroup v2
/// form) or any number of `ctrl[,ctrl...]:path` (cgroup v1), each controller named once.
fn sub_cgroups(args: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut paths = BTreeMap::new();
    for arg in args {
        match arg.split_once(':') {
            Some((ctrls, path)) => {
                for ctrl in ctrls.split(',') {
                    if ctrl.is_empty() {
                        return Err(CliError::Refused(format!(
                            "invalid --cgroup argument: {arg} (empty <controller> prefix)"
                        )));
                    }
                    if paths.insert(ctrl.to_owned(), path.to_owned()).is_some() {
                        return Err(CliError::Refused(format!(
                            "invalid --cgroup argument(s): controller {ctrl} specified multiple times"
                        )));
                    }
                }
            }
            None if args.len() != 1 => {
                return Err(CliError::Refused(format!(
                    "invalid --cgroup argument: {arg} (missing <controller>: prefix)"
                )));
            }
            None => {
                paths.insert(String::new(), arg.clone());
            }
        }
    }
    Ok(paths)
}

fn exec(g: &Globals, a: &Args) -> CmdResult {
    let mut container = Container::load(&g.root, a.id())?;
    // runc: `exec failed: <why>`, exit status 255 (`run` wraps every error so).
    let refused = match container.status() {
        Status::Stopped => Some("cannot exec in a stopped container"),
        Status::Paused if !a.ignore_paused => {
            Some("cannot exec in a paused container (use --ignore-paused to override)")
        }
        _ => None,
    };
    if let Some(why) = refused {
        return Err(CliError::Refused(why.into()));
    }
    if a.process.is_none() && a.command().is_empty() {
        return Err(CliError::Refused("exec args cannot be empty".into()));
    }
    let mut process = process_of(&container, a)?;
    // After the process, as runc's execProcess.
    process.sub_cgroups = sub_cgroups(&a.cgroup)?;
    super::create::check_terminal(process.terminal, a.detach, a.console_socket.is_some())?;
    let mut console = None;
    if let Some(p) = &a.console_socket {
        process.console_socket = Some(tty::connect(Path::new(p), "console socket")?);
    } else if process.terminal {
        let mut pair = ConsolePair::new()?;
        process.console_socket = pair.theirs();
        process.clear_onlcr = true;
        process.console_size = tty::host_size().or(process.console_size);
        console = Some(pair);
    }
    if let Some(p) = &a.pidfd_socket {
        process.pidfd_socket = Some(tty::connect(Path::new(p), "pidfd socket")?);
    }
    process.extra_files_gaps = super::create::gaps(3, a.preserve_fds);
    process.extra_files = super::create::preserved_fds(a.preserve_fds)?;
    // In the foreground, signals are caught before the process exists and forwarded to it.
    let sigpipe = if a.detach {
        None
    } else {
        let mut sigs = crate::signals::forwarded();
        sigs.push(libc::SIGCHLD);
        Some(SignalPipe::install(&sigs).map_err(|e| CliError::sys("install signal handlers", e))?)
    };
    tracing::debug!("exec: starting {:?} in container {}", process.args, a.id());
    if a.ignore_paused {
        container.exec_ignore_paused(&mut process)?;
    } else {
        container.exec(&mut process)?;
    }
    let pid = process.pid().unwrap_or(0);
    let kill = |process: &mut Process| {
        let _ = process.signal(libc::SIGKILL);
        if !a.detach {
            let _ = process.wait();
        }
    };
    let master = match console.as_ref().map(ConsolePair::master).transpose() {
        Ok(m) => m,
        Err(e) => {
            kill(&mut process);
            return Err(e);
        }
    };
    if let Some(p) = &a.pid_file
        && let Err(e) = super::create::write_pid_file(Path::new(p), pid)
    {
        // runc: the process is killed when its pid cannot be recorded.
        kill(&mut process);
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
        if let Err(e) = process.signal(sig) {
            tracing::warn!("forward signal {sig}: {}", crate::error::chain(&e));
        }
    };
    let code = forward_until_exit(&mut attached, pid, &forward, &|| false);
    lashing::waterfall::mark("exec: the process exited");
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Vec<(String, String)>, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        sub_cgroups(&args)
            .map(|m| m.into_iter().collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cgroup_flags_as_runc() {
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(parse(&[]).unwrap(), vec![]);
        assert_eq!(parse(&["a/b"]).unwrap(), vec![kv("", "a/b")]);
        assert_eq!(
            parse(&["memory,pids:x", "cpu:y"]).unwrap(),
            vec![kv("cpu", "y"), kv("memory", "x"), kv("pids", "x")]
        );
        // Only the first ':' splits (runc's strings.Cut).
        assert_eq!(parse(&["memory:a:b"]).unwrap(), vec![kv("memory", "a:b")]);
        assert_eq!(parse(&["memory:"]).unwrap(), vec![kv("memory", "")]);
        let err = |a: &[&str]| parse(a).unwrap_err();
        assert!(
            err(&[":x"]).ends_with("invalid --cgroup argument: :x (empty <controller> prefix)")
        );
        assert!(err(&["a,,b:x"]).contains("(empty <controller> prefix)"));
        assert!(
            err(&["memory:a", "memory:b"]).ends_with(
                "invalid --cgroup argument(s): controller memory specified multiple times"
            )
        );
        assert!(
            err(&["a", "b"])
                .ends_with("invalid --cgroup argument: a (missing <controller>: prefix)")
        );
        assert!(err(&["memory:a", "b"]).contains("(missing <controller>: prefix)"));
    }
}
