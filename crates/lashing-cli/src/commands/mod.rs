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

/// The result of a command: its exit status.
pub type CmdResult = Result<i32, CliError>;

/// The error of a command that is not implemented yet.
pub fn unsupported(what: &'static str) -> CmdResult {
    Err(CliError::Unsupported { what })
}
