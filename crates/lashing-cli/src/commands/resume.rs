//! `lashing resume`: resume the processes of a paused container.

use lashing::Container;

use super::CmdResult;
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
    Container::load(&g.root, &a.id)?.resume()?;
    Ok(0)
}
