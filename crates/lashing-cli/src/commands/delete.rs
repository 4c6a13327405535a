//! `lashing delete <id>`: remove a container (and, with `--force`, kill it first).

use lashing::{Container, Status};

use super::CmdResult;
use crate::cli::Globals;
use crate::error::CliError;

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
/// killed and removed, a running or paused one only with `--force`. For an unknown id, a stale
/// state directory (an aborted create) is removed, and `--force` makes it a success.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let container = match Container::load(&g.root, &a.id) {
        Ok(c) => c,
        Err(lashing::Error::NotExist(id)) => {
            // load checked the id, so this stays inside the root.
            let dir = g.root.join(&id);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => eprintln!("remove {}: {e}", dir.display()),
            }
            if a.force {
                return Ok(0);
            }
            return Err(CliError::from(lashing::Error::NotExist(id)));
        }
        Err(e) => return Err(e.into()),
    };
    if a.force {
        container.force_destroy()?;
        return Ok(0);
    }
    match container.status() {
        Status::Stopped | Status::Created => container.destroy()?,
        s => {
            return Err(CliError::Refused(format!(
                "cannot delete container {} that is not stopped: {s}",
                a.id
            )));
        }
    }
    Ok(0)
}
