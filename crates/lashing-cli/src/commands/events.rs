//! `lashing events`: display container events (OOM notifications, statistics) (not supported yet: the options are accepted as runc's and the command fails).

use super::CmdResult;
use crate::cli::Globals;

/// `lashing events` options (as runc's).
#[derive(Debug, clap::Args)]
#[allow(dead_code)] // Parsed for compatibility; used once the command is implemented.
pub struct Args {
    /// set the stats collection interval
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    interval: String,
    /// display the container's stats then exit
    #[arg(long)]
    stats: bool,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing events`: not supported yet.
pub fn run(_g: &Globals, _a: &Args) -> CmdResult {
    super::unsupported("events")
}
