//! The global options every command gets ([`Globals`], built by `Cli::globals`): in a module of
//! their own so that the commands do not depend on the command-line definition that names them.

use std::path::PathBuf;

/// The global options the commands use.
#[derive(Debug, Clone)]
pub struct Globals {
    /// The state root.
    pub root: PathBuf,
    /// Whether `--root` named it (runc's `IsSet("root")`: `list` of a missing root given so is
    /// an error; a missing default root has no containers yet).
    pub root_given: bool,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// `--rootless`.
    pub rootless: lashing::rootless::RootlessFlag,
}
