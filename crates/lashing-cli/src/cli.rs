//! The command line, as runc's: global options before the command, then the command's own.

use std::path::PathBuf;

use clap::Subcommand;

use crate::commands;
use crate::logging::LogFormat;

mod goflags;

pub use goflags::usage_error;

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

/// `lashing [global options] command [command options] [arguments...]`: parsed by
/// [`Cli::parse_from`] (the global options are derived here, the commands in [`Command`]).
#[derive(Debug, clap::Args)]
pub struct Cli {
    /// enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// set the log file to write lashing logs to (default is stderr)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// set the log format
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "text",
        long_help = "set the log format: 'text' (logrus text lines, the default) or 'json' (logrus JSON lines)"
    )]
    pub log_format: String,
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
    /// The command (set by [`Cli::parse_from`] from the command's own definition).
    #[arg(skip)]
    pub command: Option<Command>,
}

impl Cli {
    /// The `--log-format` value: `text` (or empty) or `json` (as runc, case-sensitive); the value
    /// otherwise, which runc reports as `invalid log-format: VALUE` on stderr, writing no log file.
    pub fn log_format(&self) -> Result<LogFormat, &str> {
        match self.log_format.as_str() {
            "text" | "" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(other),
        }
    }

    /// The top level without the commands: the global options and lashing's settings.
    fn root() -> clap::Command {
        <Cli as clap::Args>::augment_args(clap::Command::new("lashing"))
            .disable_version_flag(true)
            .disable_help_subcommand(true)
            // As Go's flag package (runc): an option given twice takes its last value
            // (`--root a --root b`, `-d -d`), never an error; lists (`--env`) still gather all.
            .args_override_self(true)
            .allow_external_subcommands(true)
            .external_subcommand_value_parser(clap::value_parser!(String))
    }

    /// The whole command line: global options and every command (help, usage, unknown words).
    pub fn full_command() -> clap::Command {
        // The about text last: the derive of `Command` sets its own doc comment as the about.
        <Command as Subcommand>::augment_subcommands(Self::root())
            .about(ABOUT)
            .long_about(None)
    }

    /// Parses a command line (program name first) as runc's. Only the command the line names is
    /// built (the global options come before it, as with runc): building all of them, every
    /// option of every command, costs more heap, stack and code pages than the rest of a `run`'s
    /// start-up (docs/benchmarks.md, "Peak RSS"). Anything else (no command, an unknown word,
    /// `help`, any error, `--help`) is parsed against the whole definition, so its outcome and
    /// messages are exactly those of the full command line. runc's Go option syntax
    /// (`-no-subreaper`, `--detach=true`) is first rewritten into clap's ([`goflags`]).
    pub fn parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString>,
    {
        let mut argv: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
        let root = Self::root().about(ABOUT);
        let at = goflags::normalize(&root, &mut argv, 1);
        if let Some(word) = command_word(&argv, at)
            && let Some(sub) = one_command(word)
        {
            let word = word.to_owned();
            goflags::normalize(&sub, &mut argv, at + 1);
            if let Ok((name, cli)) = Self::from_command(root.subcommand(sub), &argv)
                && name.as_deref() == Some(word.as_str())
            {
                return Ok(cli);
            }
        }
        Self::from_command(Self::full_command(), &argv).map(|(_, cli)| cli)
    }

    /// The global options of `argv` alone (up to the command word), for a line whose command
    /// failed to parse: runc sets up its log from them before it parses the command's options,
    /// so that error goes to `--log` too. `None` when the global options themselves are wrong.
    pub fn global_options(argv: &[std::ffi::OsString]) -> Option<Cli> {
        let mut argv = argv.to_vec();
        let root = Self::root();
        let at = goflags::normalize(&root, &mut argv, 1);
        argv.truncate(at);
        Self::from_command(root, &argv).ok().map(|(_, cli)| cli)
    }

    /// Parses `argv` with `cmd`; also returns the name of the command matched.
    fn from_command(
        mut cmd: clap::Command,
        argv: &[std::ffi::OsString],
    ) -> Result<(Option<String>, Cli), clap::Error> {
        use clap::FromArgMatches;
        let mut m = cmd.try_get_matches_from_mut(argv)?;
        let name = m.subcommand_name().map(str::to_owned);
        let mut cli = Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut cmd))?;
        if name.is_some() {
            cli.command =
                Some(Command::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut cmd))?);
        }
        Ok((name, cli))
    }
}

/// The command word of `argv`: the word at `at`, where the global options end (as
/// [`goflags::normalize`] found it), when it is not an option. A wrong guess costs only a second
/// parse ([`Cli::parse_from`] checks that clap matched this word).
fn command_word(argv: &[std::ffi::OsString], at: usize) -> Option<&str> {
    argv.get(at)?.to_str().filter(|w| !w.starts_with('-'))
}

/// One command's definition, as [`Command`]'s derive builds it (`about`: its doc comment); the
/// test `one_command_is_the_derived_one` keeps the two equal.
#[inline(never)]
fn command_of<A: clap::Args>(name: &'static str, about: &'static str) -> clap::Command {
    A::augment_args(clap::Command::new(name))
        .about(about)
        .long_about(None)
}

/// The definition of the command `name` alone (not `help`, whose topics need every command).
fn one_command(name: &str) -> Option<clap::Command> {
    use crate::commands as c;
    Some(match name {
        "checkpoint" => {
            command_of::<c::checkpoint::Args>("checkpoint", "checkpoint a running container")
        }
        "create" => command_of::<c::create::Args>("create", "create a container"),
        "delete" => command_of::<c::delete::Args>(
            "delete",
            "delete any resources held by the container often used with detached container",
        ),
        "events" => command_of::<c::events::Args>(
            "events",
            "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
        ),
        "exec" => command_of::<c::exec::Args>("exec", "execute new process inside the container"),
        "kill" => command_of::<c::kill::Args>(
            "kill",
            "kill sends the specified signal (default: SIGTERM) to the container's init process",
        ),
        "list" => command_of::<c::list::Args>(
            "list",
            "lists containers started by lashing with the given root",
        ),
        "pause" => command_of::<c::pause::Args>(
            "pause",
            "pause suspends all processes inside the container",
        ),
        "ps" => {
            command_of::<c::ps::Args>("ps", "ps displays the processes running inside a container")
        }
        "restore" => command_of::<c::restore::Args>(
            "restore",
            "restore a container from a previous checkpoint",
        ),
        "resume" => command_of::<c::resume::Args>(
            "resume",
            "resumes all processes that have been previously paused",
        ),
        "run" => command_of::<c::run::Args>("run", "create and run a container"),
        "spec" => command_of::<c::spec::Args>("spec", "create a new specification file"),
        "start" => command_of::<c::start::Args>(
            "start",
            "executes the user defined process in a created container",
        ),
        "state" => command_of::<c::state::Args>("state", "output the state of a container"),
        "update" => {
            command_of::<c::update::Args>("update", "update container resource constraints")
        }
        "features" => command_of::<c::features::Args>("features", "show the enabled features"),
        "init" => {
            command_of::<c::init::Args>("init", "the container's init (started by lashing itself)")
                .hide(true)
        }
        _ => return None,
    })
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
    let Some(name) = topic.first() else {
        return HelpOutcome::Text(Cli::full_command().render_long_help().to_string());
    };
    let known = Cli::full_command()
        .get_subcommands()
        .any(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name));
    if !known {
        return HelpOutcome::NoTopic(no_help_topic(name));
    }
    match Cli::parse_from(["lashing", name.as_str(), "--help"]) {
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            HelpOutcome::Text(e.render().to_string())
        }
        _ => HelpOutcome::NoTopic(no_help_topic(name)),
    }
}

pub use crate::globals::Globals;

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
            root_given: self.root.is_some(),
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

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::full_command().debug_assert();
    }

    #[test]
    fn global_options_before_command() {
        let c = Cli::parse_from([
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
        assert_eq!(c.log_format(), Ok(LogFormat::Json));
        assert!(matches!(c.command, Some(Command::State(_))));
    }

    #[test]
    fn an_option_given_twice_takes_its_last_value_as_go() {
        let c = Cli::parse_from(["lashing", "--root", "/a", "--root", "/b", "list"]).unwrap();
        assert_eq!(c.state_root(), PathBuf::from("/b"));
        for argv in [
            &["lashing", "run", "-d", "-d", "x"][..],
            &[
                "lashing", "exec", "-u", "5", "-u", "6", "--env", "A=1", "--env", "B=2", "x", "sh",
            ],
            &["lashing", "--debug", "--debug", "kill", "x"],
        ] {
            let c = Cli::parse_from(argv.iter().copied());
            assert!(c.is_ok(), "{argv:?}: {c:?}");
        }
        let Some(Command::Exec(e)) = Cli::parse_from([
            "lashing", "exec", "-u", "5", "--env", "A=1", "--env", "B=2", "-u", "6", "x", "sh",
        ])
        .unwrap()
        .command
        else {
            panic!("not exec");
        };
        let dbg = format!("{e:?}");
        assert!(
            dbg.contains("\"A=1\", \"B=2\"") && dbg.contains("\"6\""),
            "{dbg}"
        );
    }

    #[test]
    fn bad_log_format_and_rootless_values_are_refused() {
        // A bad log format is refused after parsing, with runc's message (main.rs).
        let c = Cli::parse_from(["lashing", "--log-format", "xml", "list"]).unwrap();
        assert_eq!(c.log_format(), Err("xml"));
        let c = Cli::parse_from(["lashing", "--log-format", "JSON", "list"]).unwrap();
        assert_eq!(c.log_format(), Err("JSON"));
        assert!(Cli::parse_from(["lashing", "--rootless", "maybe", "list"]).is_err());
        assert!(Cli::parse_from(["lashing", "--rootless", "true", "list"]).is_ok());
    }

    #[test]
    fn unknown_commands_and_help_topics() {
        for argv in [
            &["lashing", "foo"][..],
            &["lashing", "foo", "-h"],
            &["lashing", "--root", "/r", "foo", "--help", "x"],
        ] {
            let c = Cli::parse_from(argv).unwrap();
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
        let c = Cli::parse_from(["lashing", "h", "state"]).unwrap();
        assert!(matches!(c.command, Some(Command::Help(h)) if h.topic == ["state"]));
        assert!(matches!(help(&["h".into()]), HelpOutcome::Text(_)));
    }

    /// `-h` and `--help` work on every command, and print that command's help.
    #[test]
    fn every_command_has_help() {
        for sub in Cli::full_command().get_subcommands() {
            let name = sub.get_name();
            for flag in ["-h", "--help"] {
                let e = Cli::parse_from(["lashing", name, flag]).unwrap_err();
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

    /// The command built alone (the fast path of `parse_from`) is the derived one: same help,
    /// same options, same visibility; every command but `help` has one.
    #[test]
    fn one_command_is_the_derived_one() {
        for mut full in Cli::full_command().get_subcommands().cloned() {
            let name = full.get_name().to_string();
            let Some(mut one) = one_command(&name) else {
                assert_eq!(name, "help");
                continue;
            };
            assert_eq!(
                one.render_long_help().to_string(),
                full.render_long_help().to_string(),
                "{name}"
            );
            assert_eq!(one.is_hide_set(), full.is_hide_set(), "{name}");
            let ids = |c: &clap::Command| {
                c.get_arguments()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
            };
            assert_eq!(ids(&one), ids(&full), "{name}");
        }
        assert!(one_command("help").is_none() && one_command("nosuch").is_none());
        // The top level's own text, not the doc comment of `Command`.
        let top = Cli::full_command().render_long_help().to_string();
        assert!(
            top.starts_with("lashing - a Linux container runtime"),
            "{top}"
        );
    }

    /// `parse_from` gives what the whole definition gives, also when the fast path guesses wrong.
    #[test]
    fn parse_from_equals_the_full_parse() {
        for argv in [
            &["lashing", "run", "-b", "/b", "--no-pivot", "x"][..],
            &["lashing", "--root", "/r", "--log", "run", "state", "x"],
            &["lashing", "--log=/l", "--debug", "kill", "x", "KILL"],
            &[
                "lashing",
                "--rootless",
                "true",
                "exec",
                "-t",
                "x",
                "sh",
                "-c",
                "state",
            ],
            &["lashing", "-v"],
            &["lashing"],
            &["lashing", "nosuch", "run"],
            &["lashing", "h", "run"],
            &["lashing", "--", "run", "x"],
            &[
                "lashing",
                "--systemd-cgroup",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/p",
                "x",
            ],
        ] {
            let argv: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
            let fast = Cli::parse_from(argv.clone());
            let full = Cli::from_command(Cli::full_command(), &argv).map(|(_, c)| c);
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{argv:?}");
        }
        let mut argv: Vec<std::ffi::OsString> =
            ["l", "-root", "r", "run"].iter().map(Into::into).collect();
        let at = goflags::normalize(&Cli::root(), &mut argv, 1);
        assert_eq!(command_word(&argv, at), Some("run"));
        assert_eq!(command_word(&["l".into(), "--debug".into()], 2), None);
    }

    #[test]
    fn version_names_the_spec() {
        let v = version_text();
        assert!(v.starts_with("lashing version "));
        assert!(v.contains("\nspec: 1."));
    }
}
