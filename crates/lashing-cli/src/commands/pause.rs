//! `lashing pause`: suspend all processes of a container (not supported yet: the options are accepted as runc's and the command fails).

use super::CmdResult;
use crate::cli::Globals;

/// `lashing pause` options (as runc's).
#[derive(Debug, clap::Args)]
#[allow(dead_code)] // Parsed for compatibility; used once the command is implemented.
pub struct Args {
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing pause`: not supported yet.
pub fn run(_g: &Globals, _a: &Args) -> CmdResult {
    super::unsupported("pause")
}
