//! `lashing resume`: resume the processes of a paused container.

use lashing::Container;

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing resume` options (as runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing resume`: thaws a paused container's cgroup.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    // runc's words (ErrNotPaused), which engines match; the library's error names the status.
    match Container::load(&g.root, &a.id)?.resume() {
        Ok(()) => Ok(0),
        Err(lashing::Error::BadStatus { .. }) => {
            Err(CliError::Refused("container not paused".into()))
        }
        Err(e) => Err(e.into()),
    }
}
