//! The command line, as runc's: global options before the command, then the command's own.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::logging::LogFormat;

/// The top-level help text (runc's, for lashing).
const ABOUT: &str = "lashing - a Linux container runtime (OCI, runc-compatible)

lashing is a command line client for running applications packaged according to
the Open Container Initiative (OCI) format, and a drop-in replacement for runc.

Containers are configured using bundles. A bundle for a container is a directory
that includes a specification file named \"config.json\" and a root filesystem.
The root filesystem contains the contents of the container.

To start a new instance of a container:

    # lashing run [ -b bundle ] <container-id>

Where \"<container-id>\" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host. Providing the bundle directory using \"-b\" is optional. The default
value for \"bundle\" is the current directory.";

/// `lashing [global options] command [command options] [arguments...]`
#[derive(Debug, Parser)]
#[command(name = "lashing", about = ABOUT, disable_version_flag = true, disable_help_subcommand = false)]
pub struct Cli {
    /// enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// set the log file to write lashing logs to (default is stderr)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// set the log format
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// root directory for storage of container state (this should be located in tmpfs)
    /// [default: /run/lashing, or $XDG_RUNTIME_DIR/lashing when not root]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// path to the criu binary used for checkpoint and restore
    #[arg(long, value_name = "PATH", default_value = "criu")]
    pub criu: PathBuf,
    /// enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name" (not supported yet)
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// ignore cgroup permission errors ('true', 'false', or 'auto')
    #[arg(long, value_name = "VALUE", default_value = "auto", value_parser = ["true", "false", "auto"])]
    pub rootless: String,
    /// print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// checkpoint a running container
    Checkpoint(commands::checkpoint::Args),
    /// create a container
    Create(commands::create::Args),
    /// delete any resources held by the container often used with detached container
    Delete(commands::delete::Args),
    /// display container events such as OOM notifications, cpu, memory, and IO usage statistics
    Events(commands::events::Args),
    /// execute new process inside the container
    Exec(commands::exec::Args),
    /// kill sends the specified signal (default: SIGTERM) to the container's init process
    Kill(commands::kill::Args),
    /// lists containers started by lashing with the given root
    List(commands::list::Args),
    /// pause suspends all processes inside the container
    Pause(commands::pause::Args),
    /// ps displays the processes running inside a container
    Ps(commands::ps::Args),
    /// restore a container from a previous checkpoint
    Restore(commands::restore::Args),
    /// resumes all processes that have been previously paused
    Resume(commands::resume::Args),
    /// create and run a container
    Run(commands::run::Args),
    /// create a new specification file
    Spec(commands::spec::Args),
    /// executes the user defined process in a created container
    Start(commands::start::Args),
    /// output the state of a container
    State(commands::state::Args),
    /// update container resource constraints
    Update(commands::update::Args),
    /// show the enabled features
    Features(commands::features::Args),
    /// the container's init (started by lashing itself)
    #[command(hide = true)]
    Init(commands::init::Args),
}

/// The global options the commands use.
#[derive(Debug, Clone)]
pub struct Globals {
    /// The state root.
    pub root: PathBuf,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
}

impl Cli {
    /// The state root: `--root`, or `/run/lashing` for root, or `$XDG_RUNTIME_DIR/lashing` for
    /// another user that has one (runc's rule).
    pub fn state_root(&self) -> PathBuf {
        if let Some(r) = &self.root {
            return r.clone();
        }
        if !rustix::process::geteuid().is_root()
            && let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty())
        {
            return PathBuf::from(x).join("lashing");
        }
        PathBuf::from("/run/lashing")
    }

    /// The options the commands use.
    pub fn globals(&self) -> Globals {
        Globals {
            root: self.state_root(),
            systemd_cgroup: self.systemd_cgroup,
        }
    }
}

/// The text of `lashing --version`.
pub fn version_text() -> String {
    let spec = lashing::config::example_spec_json();
    let spec = spec
        .get("ociVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_string();
    format!(
        "lashing version {}\ncommit: {}\nspec: {spec}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("LASHING_COMMIT").unwrap_or("unknown")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_before_command() {
        let c = Cli::try_parse_from([
            "lashing",
            "--root",
            "/tmp/r",
            "--log-format",
            "json",
            "state",
            "x",
        ])
        .unwrap();
        assert_eq!(c.state_root(), PathBuf::from("/tmp/r"));
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(matches!(c.command, Some(Command::State(_))));
    }

    #[test]
    fn bad_log_format_and_rootless_values_are_refused() {
        assert!(Cli::try_parse_from(["lashing", "--log-format", "xml", "list"]).is_err());
        assert!(Cli::try_parse_from(["lashing", "--rootless", "maybe", "list"]).is_err());
        assert!(Cli::try_parse_from(["lashing", "--rootless", "true", "list"]).is_ok());
    }

    #[test]
    fn version_names_the_spec() {
        let v = version_text();
        assert!(v.starts_with("lashing version "));
        assert!(v.contains("\nspec: 1."));
    }
}
