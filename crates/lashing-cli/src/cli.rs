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
#[command(
    name = "lashing",
    about = ABOUT,
    disable_version_flag = true,
    disable_help_subcommand = true,
    allow_external_subcommands = true
)]
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
    /// enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name" for e.g. "system.slice:runc:434234"
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
    /// Shows a list of commands or help for one command
    #[command(visible_alias = "h")]
    Help(HelpArgs),
    /// A command lashing does not know: runc's "No help topic for 'x'", status 3.
    #[command(external_subcommand)]
    Unknown(Vec<String>),
}

/// `lashing help [command]` (runc's `help`, alias `h`): what follows the command is ignored, as
/// with runc.
#[derive(Debug, clap::Args)]
pub struct HelpArgs {
    /// the command to show the help of
    #[arg(
        value_name = "command",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub topic: Vec<String>,
}

/// What `lashing help [topic]` does.
#[derive(Debug, PartialEq, Eq)]
pub enum HelpOutcome {
    /// Help text for stdout (status 0).
    Text(String),
    /// runc's error for an unknown topic (status 3).
    NoTopic(String),
}

/// The exit status of an unknown command or help topic, as runc's.
pub const NO_HELP_TOPIC_STATUS: i32 = 3;

/// runc's error message for an unknown command or help topic (with urfave/cli's final newline).
pub fn no_help_topic(name: &str) -> String {
    format!("No help topic for '{name}'\n")
}

/// The help of `topic` (the first word; none: the top-level help), as `lashing [topic] --help`
/// prints it.
pub fn help(topic: &[String]) -> HelpOutcome {
    use clap::CommandFactory;
    let Some(name) = topic.first() else {
        return HelpOutcome::Text(Cli::command().render_long_help().to_string());
    };
    let known = Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name));
    if !known {
        return HelpOutcome::NoTopic(no_help_topic(name));
    }
    match Cli::try_parse_from(["lashing", name.as_str(), "--help"]) {
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            HelpOutcome::Text(e.render().to_string())
        }
        _ => HelpOutcome::NoTopic(no_help_topic(name)),
    }
}

/// The global options the commands use.
#[derive(Debug, Clone)]
pub struct Globals {
    /// The state root.
    pub root: PathBuf,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// `--rootless`.
    pub rootless: lashing::rootless::RootlessFlag,
}

impl Cli {
    /// The state root: `--root`, else `$XDG_RUNTIME_DIR/lashing` when [`honor_xdg_runtime_dir`]
    /// (runc's rule), else `/run/lashing`.
    pub fn state_root(&self) -> PathBuf {
        if let Some(r) = &self.root {
            return r.clone();
        }
        match xdg_runtime_dir() {
            Some(x) if honor_xdg_runtime_dir() => x.join("lashing"),
            _ => PathBuf::from("/run/lashing"),
        }
    }

    /// runc's preparation of a default root under `$XDG_RUNTIME_DIR` (no `--root`): created
    /// 0700 and given the sticky bit, so that the XDG cleanup does not prune it. The error is
    /// runc's two lines: a hint and the cause.
    pub fn prepare_xdg_root(&self) -> Result<(), (&'static str, String)> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if self.root.is_some() || xdg_runtime_dir().is_none() || !honor_xdg_runtime_dir() {
            return Ok(());
        }
        let root = self.state_root();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)
            .map_err(|e| {
                (
                    "the path in $XDG_RUNTIME_DIR must be writable by the user",
                    format!("mkdir {}: {e}", root.display()),
                )
            })?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o1700)).map_err(|e| {
            (
                "you should check permission of the path in $XDG_RUNTIME_DIR",
                format!("chmod {}: {e}", root.display()),
            )
        })
    }

    /// The options the commands use.
    pub fn globals(&self) -> Globals {
        use lashing::rootless::RootlessFlag;
        Globals {
            root: self.state_root(),
            systemd_cgroup: self.systemd_cgroup,
            rootless: match self.rootless.as_str() {
                "true" => RootlessFlag::Yes,
                "false" => RootlessFlag::No,
                _ => RootlessFlag::Auto,
            },
        }
    }
}

/// `$XDG_RUNTIME_DIR` when set and not empty.
fn xdg_runtime_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
}

/// runc's `shouldHonorXDGRuntimeDir`: a non-root user uses `$XDG_RUNTIME_DIR`; real root (in
/// the initial user namespace) never does; root in a user namespace (rootless podman) does
/// unless `$USER` is `root`.
pub fn honor_xdg_runtime_dir() -> bool {
    if !rustix::process::geteuid().is_root() {
        return true;
    }
    if !lashing::rootless::running_in_userns() {
        return false;
    }
    std::env::var_os("USER").is_none_or(|u| u != "root")
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
    fn unknown_commands_and_help_topics() {
        for argv in [
            &["lashing", "foo"][..],
            &["lashing", "foo", "-h"],
            &["lashing", "--root", "/r", "foo", "--help", "x"],
        ] {
            let c = Cli::try_parse_from(argv).unwrap();
            let Some(Command::Unknown(words)) = c.command else {
                panic!("{argv:?}: {:?}", c.command)
            };
            assert_eq!(words[0], "foo");
        }
        assert_eq!(
            help(&["foo".into()]),
            HelpOutcome::NoTopic("No help topic for 'foo'\n".into())
        );
        let HelpOutcome::Text(t) = help(&["state".into(), "extra".into()]) else {
            panic!()
        };
        assert!(t.contains("Usage: lashing state"), "{t}");
        let HelpOutcome::Text(t) = help(&[]) else {
            panic!()
        };
        assert!(t.contains("Usage: lashing"), "{t}");
        // `h` is help's alias, and names the help topic too.
        let c = Cli::try_parse_from(["lashing", "h", "state"]).unwrap();
        assert!(matches!(c.command, Some(Command::Help(h)) if h.topic == ["state"]));
        assert!(matches!(help(&["h".into()]), HelpOutcome::Text(_)));
    }

    /// `-h` and `--help` work on every command, and print that command's help.
    #[test]
    fn every_command_has_help() {
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            for flag in ["-h", "--help"] {
                let e = Cli::try_parse_from(["lashing", name, flag]).unwrap_err();
                assert_eq!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp,
                    "{name} {flag}"
                );
                assert!(
                    e.render().to_string().contains(&format!("lashing {name}")),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn version_names_the_spec() {
        let v = version_text();
        assert!(v.starts_with("lashing version "));
        assert!(v.contains("\nspec: 1."));
    }
}
