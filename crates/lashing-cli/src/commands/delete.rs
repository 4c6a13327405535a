//! `lashing delete <id>`: remove a container (and, with `--force`, kill it first).

use lashing::{Container, Status};

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing delete` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Forcibly deletes the container if it is still running (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing delete`, with runc's rules: a stopped container is removed, a created one is
/// killed and removed, a running or paused one only with `--force`. For an unknown id, what an
/// interrupted create left (a state directory, and the cgroups and processes it recorded) is
/// removed, and `--force` makes it a success; `--force` also removes a container whose state
/// file is damaged or of another format version, from what the file still tells.
/// Concurrent deletes of one container all succeed, and its hooks run once.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let container = match Container::load(&g.root, &a.id) {
        Ok(c) => c,
        Err(lashing::Error::NotExist(id)) => {
            if let Err(e) = lashing::remove_remains(&g.root, &id, a.force) {
                if a.force {
                    return Err(e.into());
                }
                tracing::warn!("{}", crate::error::chain(&e));
            }
            if a.force {
                return Ok(0);
            }
            return Err(CliError::from(lashing::Error::NotExist(id)));
        }
        Err(e @ lashing::Error::State { .. }) if a.force => {
            tracing::warn!("{}: removing what it records", crate::error::chain(&e));
            lashing::remove_remains(&g.root, &a.id, true)?;
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    if a.force {
        container.force_destroy()?;
        return Ok(0);
    }
    // The status is checked by `destroy` under the state's lock: a check here could see a
    // created container as running while a concurrent delete removes its exec fifo.
    match container.destroy() {
        Ok(()) => Ok(0),
        Err(lashing::Error::BadStatus {
            status: s @ (Status::Running | Status::Paused),
            ..
        }) => Err(CliError::Refused(format!(
            "cannot delete container {} that is not stopped: {s}",
            a.id
        ))),
        Err(e) => Err(e.into()),
    }
}
