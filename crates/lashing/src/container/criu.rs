//! Checkpoint and restore through CRIU (runc's `criu_linux.go`), driving the `criu` program with
//! its command line: `criu dump` of the container's init tree into an image directory, and
//! `criu restore --restore-detached` of such an image into a new container made from a bundle.
//!
//! As runc does, the bind mounts of the configuration are declared external
//! (`--external mnt[<dest>]:<dest>` on dump, `--external mnt[<dest>]:<source>` on restore), CRIU
//! manages the cgroups (`--manage-cgroups`), and the stdio of the init are recorded in
//! `descriptors.json` of the image directory so that a restore can hand its own stdio pipes to the
//! restored process (`--inherit-fd`).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Container, Status};
use crate::config::Config;
use crate::error::Error;
use crate::state::{self, State};

/// The file of the image directory that records the init's stdio (as runc's).
const DESCRIPTORS: &str = "descriptors.json";
/// The CRIU log of a dump, in the work directory.
const DUMP_LOG: &str = "dump.log";
/// The CRIU log of a restore, in the work directory.
const RESTORE_LOG: &str = "restore.log";
/// How many lines of CRIU's log an error shows.
const LOG_TAIL_LINES: usize = 12;

/// What can go wrong in a checkpoint or a restore.
#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    /// The `criu` program is not installed.
    #[error("criu not found in PATH")]
    NotFound,
    /// `criu` could not be started.
    #[error("start criu {action}")]
    Spawn {
        /// `dump` or `restore`.
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `criu` ran and failed.
    #[error("criu {action} failed ({status}); the end of {}:\n{tail}", log.display())]
    Failed {
        /// `dump` or `restore`.
        action: &'static str,
        /// How it ended (`exit status: 1`).
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// The restored process could not be found after `criu restore` (bad or missing pid file).
    #[error("criu restore left no usable pid file {path}: {reason}")]
    RestoredPid {
        /// The pid file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is not supported.
    #[error("invalid CRIU option: {0}")]
    Option(String),
    /// A container or file operation failed.
    #[error(transparent)]
    Container(#[from] Error),
}

/// The options CRIU's dump and restore share (runc's `CriuOpts` subset).
#[derive(Debug, Clone, Default)]
pub struct CriuOpts {
    /// The image directory (created by a checkpoint if missing).
    pub image_path: PathBuf,
    /// Where CRIU writes its log and work files (default: the image directory).
    pub work_path: Option<PathBuf>,
    /// Allow established TCP connections (`--tcp-established`).
    pub tcp_established: bool,
    /// Allow external unix sockets (`--ext-unix-sk`).
    pub ext_unix_sk: bool,
    /// Allow shell jobs (`--shell-job`).
    pub shell_job: bool,
    /// Handle file locks (`--file-locks`).
    pub file_locks: bool,
    /// `--manage-cgroups-mode`: `soft` (default), `full`, `strict` or `ignore`.
    pub manage_cgroups_mode: Option<String>,
}

/// The options of [`Container::checkpoint`].
#[derive(Debug, Clone, Default)]
pub struct CheckpointOpts {
    /// The shared options.
    pub criu: CriuOpts,
    /// Leave the container running after the dump (`--leave-running`).
    pub leave_running: bool,
}

/// The options of [`Container::restore`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOpts {
    /// The shared options.
    pub criu: CriuOpts,
}

impl CriuOpts {
    fn work_dir(&self) -> &Path {
        self.work_path.as_deref().unwrap_or(&self.image_path)
    }

    /// The arguments both actions take.
    fn common_args(&self, log: &str) -> Result<Vec<String>, CriuError> {
        let mut args = vec![
            "-D".to_string(),
            self.image_path.display().to_string(),
            "-W".into(),
            self.work_dir().display().to_string(),
            "-o".into(),
            log.into(),
            "-v4".into(),
        ];
        match self.manage_cgroups_mode.as_deref() {
            None => args.push("--manage-cgroups".into()),
            Some(m @ ("soft" | "full" | "strict" | "ignore")) => {
                args.push(format!("--manage-cgroups={m}"))
            }
            Some(m) => {
                return Err(CriuError::Option(format!(
                    "invalid manage cgroups mode {m:?} (soft, full, strict or ignore)"
                )));
            }
        }
        for (on, flag) in [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        Ok(args)
    }
}

/// `--external mnt[<dest>]:<value>` for every bind mount of `config`: its destination on dump
/// (`restore == false`), its source on restore.
fn external_mounts(config: &Config, restore: bool) -> Vec<String> {
    let mut args = Vec::new();
    for m in config.mounts.iter().filter(|m| m.is_bind()) {
        let dest = m.destination.display().to_string();
        let value = if restore {
            m.source.clone()
        } else {
            dest.clone()
        };
        args.push("--external".to_string());
        args.push(format!("mnt[{dest}]:{value}"));
    }
    args
}

/// `--inherit-fd fd[<n>]:<pipe:[ino]>` for each stdio of the checkpointed init that was a pipe:
/// the restore's own fd `n` takes its place.
fn inherit_fds(descriptors: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    for (n, d) in descriptors.iter().enumerate().take(3) {
        if d.starts_with("pipe:") {
            args.push("--inherit-fd".to_string());
            args.push(format!("fd[{n}]:{d}"));
        }
    }
    args
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `criu <action> <args>`; a failure carries the tail of its log.
fn run_criu(action: &'static str, args: &[String], log: &Path) -> Result<(), CriuError> {
    let status = Command::new("criu")
        .arg(action)
        .args(args)
        .status()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CriuError::NotFound,
            _ => CriuError::Spawn { action, source: e },
        })?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    Err(CriuError::Failed {
        action,
        status: status.to_string(),
        log: log.to_path_buf(),
        tail: tail(&text, LOG_TAIL_LINES),
    })
}

fn mkdir(what: &'static str, path: &Path) -> Result<(), CriuError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(what, path, e).into())
}

impl Container {
    /// Checkpoints the running (or paused) container into `opts.criu.image_path` with `criu dump`.
    /// Without `leave_running`, CRIU kills the container's processes once they are dumped, and the
    /// container is then stopped (`runc checkpoint` destroys it next). A created or stopped
    /// container is refused.
    pub fn checkpoint(&mut self, opts: &CheckpointOpts) -> Result<(), CriuError> {
        let _lock = state::lock(&self.dir)?;
        let status = self.status();
        if matches!(status, Status::Created | Status::Stopped) {
            return Err(Error::BadStatus {
                id: self.state.id.clone(),
                status,
                op: "checkpoint it",
            }
            .into());
        }
        let image = &opts.criu.image_path;
        mkdir("create checkpoint image directory", image)?;
        mkdir("create checkpoint work directory", opts.criu.work_dir())?;
        let pid = self.state.init_process_pid;
        let descriptors: Vec<String> = (0..3)
            .map(|n| {
                fs::read_link(format!("/proc/{pid}/fd/{n}"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            })
            .collect();
        let path = image.join(DESCRIPTORS);
        let json = serde_json::to_vec(&descriptors).map_err(|e| Error::State {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        fs::write(&path, json).map_err(|e| Error::io("write", &path, e))?;
        let mut args = vec![
            "-t".to_string(),
            pid.to_string(),
            "--root".into(),
            self.state.config.rootfs.display().to_string(),
        ];
        args.extend(opts.criu.common_args(DUMP_LOG)?);
        if opts.leave_running {
            args.push("--leave-running".into());
        }
        args.extend(external_mounts(&self.state.config, false));
        run_criu("dump", &args, &opts.criu.work_dir().join(DUMP_LOG))
    }

    /// Restores a container `id` under the state root `root` from the checkpoint
    /// `opts.criu.image_path`, with the configuration `config` (that of the checkpointed
    /// container's bundle): creates its state directory and cgroup, runs `criu restore
    /// --restore-detached` and records the restored init. The restored processes inherit the
    /// caller's stdio where the checkpointed ones had pipes. On failure nothing is left behind.
    pub fn restore(
        root: impl AsRef<Path>,
        id: &str,
        config: Config,
        opts: &RestoreOpts,
    ) -> Result<Container, CriuError> {
        let mut c = Container::create(root, id, config)?;
        match c.restore_into(opts) {
            Ok(()) => Ok(c),
            Err(e) => {
                if c.cgroup.exists() {
                    let _ = c.cgroup.kill_all(libc::SIGKILL);
                }
                let _ = c.cgroup.destroy();
                if let Some(rdt) = &c.state.config.intel_rdt {
                    let _ = crate::rdt::remove(&c.state.id, rdt);
                }
                let _ = fs::remove_dir_all(&c.dir);
                Err(e)
            }
        }
    }

    fn restore_into(&mut self, opts: &RestoreOpts) -> Result<(), CriuError> {
        let _lock = state::lock(&self.dir)?;
        let image = &opts.criu.image_path;
        if !image.join("inventory.img").is_file() {
            return Err(Error::io(
                "find checkpoint image",
                image,
                io::Error::from(io::ErrorKind::NotFound),
            )
            .into());
        }
        mkdir("create restore work directory", opts.criu.work_dir())?;
        let descriptors: Vec<String> = fs::read(image.join(DESCRIPTORS))
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default();
        self.state.cgroup_owned = true;
        self.state.save(&self.dir)?;
        self.cgroup.create().map_err(Error::from)?;
        super::cgroups::apply_resources(self)?;
        let pidfile = self.dir.join("restore.pid");
        let mut args = vec![
            "--root".to_string(),
            self.state.config.rootfs.display().to_string(),
            "--restore-detached".into(),
            "--restore-sibling".into(),
            "--pidfile".into(),
            pidfile.display().to_string(),
        ];
        args.extend(opts.criu.common_args(RESTORE_LOG)?);
        args.extend(external_mounts(&self.state.config, true));
        args.extend(inherit_fds(&descriptors));
        run_criu("restore", &args, &opts.criu.work_dir().join(RESTORE_LOG))?;
        let bad = |reason: String| CriuError::RestoredPid {
            path: pidfile.clone(),
            reason,
        };
        let text = fs::read_to_string(&pidfile).map_err(|e| bad(e.to_string()))?;
        let _ = fs::remove_file(&pidfile);
        let pid: i32 = text
            .trim()
            .parse()
            .map_err(|_| bad(format!("not a pid: {:?}", text.trim())))?;
        let (_, start) =
            state::proc_stat(pid).ok_or_else(|| bad(format!("process {pid} is gone")))?;
        // The restored init joins its resctrl groups, as runc's restore (linux.intelRdt only).
        if let Some(rdt) = &self.state.config.intel_rdt {
            crate::rdt::place(&self.state.id, rdt, pid, true).map_err(Error::from)?;
        }
        let st: &mut State = &mut self.state;
        st.init_process_pid = pid;
        st.init_process_start = start;
        st.namespace_paths = namespace_paths(pid, &st.config);
        st.creator = None;
        st.save(&self.dir)?;
        Ok(())
    }
}

/// `/proc/<pid>/ns/<type>` of each namespace type the configuration names.
fn namespace_paths(pid: i32, config: &Config) -> BTreeMap<String, PathBuf> {
    config
        .namespaces
        .iter()
        .map(|ns| {
            let name = ns.typ.proc_name();
            (
                name.to_string(),
                PathBuf::from(format!("/proc/{pid}/ns/{name}")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn inherit_only_pipes() {
        let d = vec![
            "pipe:[12]".to_string(),
            "/dev/null".into(),
            "pipe:[13]".into(),
        ];
        assert_eq!(
            inherit_fds(&d),
            [
                "--inherit-fd",
                "fd[0]:pipe:[12]",
                "--inherit-fd",
                "fd[2]:pipe:[13]"
            ]
        );
    }

    #[test]
    fn cgroup_modes() {
        let mut o = CriuOpts {
            image_path: "/img".into(),
            ..Default::default()
        };
        let a = o.common_args("dump.log").unwrap();
        assert!(a.contains(&"--manage-cgroups".to_string()), "{a:?}");
        assert_eq!(a[..4], ["-D", "/img", "-W", "/img"]);
        o.manage_cgroups_mode = Some("strict".into());
        o.work_path = Some("/w".into());
        o.shell_job = true;
        let a = o.common_args("dump.log").unwrap();
        assert!(a.contains(&"--manage-cgroups=strict".to_string()), "{a:?}");
        assert!(a.contains(&"--shell-job".to_string()), "{a:?}");
        assert_eq!(a[3], "/w");
        o.manage_cgroups_mode = Some("bogus".into());
        assert!(matches!(
            o.common_args("dump.log"),
            Err(CriuError::Option(_))
        ));
    }
}
