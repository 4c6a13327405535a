//! `lashing init` (hidden): the container's first process. lashing starts it itself;
//! [`lashing::init`] (called first thing in `main`) takes over and never returns. Reaching this
//! command means the process was not started by lashing.

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing init` options (none).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `lashing init`: only fails, since a real init never gets here.
pub fn run(_g: &Globals, _a: &Args) -> CmdResult {
    lashing::init();
    Err(CliError::Refused(
        "lashing init must be started by lashing itself (no init socket was passed)".into(),
    ))
}
