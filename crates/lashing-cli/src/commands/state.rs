//! `lashing state <id>`: the container's OCI state as indented JSON.

use std::io::Write;

use lashing::Container;

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing state` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing state`: prints the state with a 2-space indent and, as runc, no final newline.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let container = Container::load(&g.root, &a.id)?;
    let mut state = container.oci_state();
    // runc's `state` leaves the owner empty (only `list` looks it up).
    state.owner.clear();
    let text = serde_json::to_string_pretty(&state).map_err(|source| CliError::Json {
        what: "container state",
        source,
    })?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::sys("write to stdout", e))?;
    Ok(0)
}
