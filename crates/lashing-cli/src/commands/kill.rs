//! `lashing kill <id> [signal]`: send a signal to the container's init (or, with `--all`, to
//! every process of the container).

use lashing::{Container, Status};

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;
use crate::signals::parse_signal;

/// `lashing kill` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// send the specified signal to all processes inside the container
    #[arg(short, long)]
    all: bool,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
    /// the signal: a number, or a name with or without the SIG prefix (empty: SIGTERM)
    #[arg(
        value_name = "signal",
        default_value = "SIGTERM",
        allow_hyphen_values = true
    )]
    signal: String,
}

/// Runs `lashing kill`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let container = Container::load(&g.root, &a.id)?;
    // runc: an empty signal is the default one; a negative number goes to the kernel (EINVAL).
    let raw = if a.signal.is_empty() {
        "SIGTERM"
    } else {
        &a.signal
    };
    let sig = parse_signal(raw).ok_or_else(|| CliError::UnknownSignal(a.signal.clone()))?;
    // The library decides by status as runc does: `--all` (and SIGKILL without a pid namespace)
    // still reach what is left in a stopped container's cgroup.
    match container.signal(sig, a.all) {
        Ok(()) => Ok(0),
        Err(lashing::Error::BadStatus {
            status: Status::Stopped,
            ..
        }) => Err(CliError::Refused("container not running".into())),
        Err(e) => Err(e.into()),
    }
}
