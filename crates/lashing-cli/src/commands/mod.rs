//! One module per command. Each has an `Args` (its clap options) and
//! `run(&Globals, &Args) -> Result<exit status, CliError>`.

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod init;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use crate::error::CliError;

/// The `--format` values of `list` and `ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text in aligned columns (ps: the host's `ps` output for the container's processes)
    Table,
    /// A JSON array (list: of container states; ps: of host pids)
    Json,
}

/// The `--format` option of `list` and `ps`.
#[derive(Debug, clap::Args)]
pub struct FormatArg {
    /// select one of: table or json
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: Format,
}

/// The result of a command: its exit status.
pub type CmdResult = Result<i32, CliError>;
