//! `lashing pause`: suspend all processes of a container (cgroup freezer).

use lashing::Container;

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing pause` options (as runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing pause`: freezes the container's cgroup (running or created containers only).
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    // runc's words (ErrNotRunning), which engines match; the library's error names the status.
    match Container::load(&g.root, &a.id)?.pause() {
        Ok(()) => Ok(0),
        Err(lashing::Error::BadStatus { .. }) => {
            Err(CliError::Refused("container not running".into()))
        }
        Err(e) => Err(e.into()),
    }
}
