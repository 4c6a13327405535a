//! `lashing start <id>`: let a created container's user process run.

use lashing::{Container, Status};

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

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
            // NOTIFY_SOCKET: listen before the process runs, relay READY= once it comes.
            let notify = match crate::notify_socket::host_socket() {
                Some(host) => {
                    crate::notify_socket::NotifySocket::bind(container.state_dir(), host)?
                }
                None => None,
            };
            container.release().map_err(refusal)?;
            if let Some(n) = notify {
                let pid = container.state().init_process_pid();
                n.wait_and_relay(pid, || container.status() != Status::Stopped)?;
            }
            Ok(0)
        }
        // The library checks again under the container's lock and says what the state really
        // is (a `kill` or `delete` may be changing it right now).
        _ => match container.release() {
            Ok(()) => Ok(0),
            Err(e) => Err(refusal(e)),
        },
    }
}

/// runc's text for a container that cannot be started in `status`.
fn refused(status: Status) -> CliError {
    CliError::Refused(match status {
        Status::Stopped => "cannot start a container that has stopped".into(),
        Status::Running => "cannot start an already running container".into(),
        s => format!("cannot start a container in the {s} state"),
    })
}

/// A refusal of the library's `exec` (the status changed since it was loaded: a concurrent
/// `kill`, `delete` or `start`) in runc's words; other errors as they are.
fn refusal(e: lashing::Error) -> CliError {
    match e {
        lashing::Error::BadStatus { status, .. } => refused(status),
        e => e.into(),
    }
}
