//! `lashing start <id>`: let a created container's user process run.

use lashing::{Container, Status};

use super::CmdResult;
use crate::cli::Globals;
use crate::error::CliError;

/// `lashing start` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing start`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let mut container = Container::load(&g.root, &a.id)?;
    match container.status() {
        Status::Created => {
            container.exec()?;
            Ok(0)
        }
        Status::Stopped => Err(CliError::Refused(
            "cannot start a container that has stopped".into(),
        )),
        Status::Running => Err(CliError::Refused(
            "cannot start an already running container".into(),
        )),
        s => Err(CliError::Refused(format!(
            "cannot start a container in the {s} state"
        ))),
    }
}
