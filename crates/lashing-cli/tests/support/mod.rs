//! What the `lashing` program tests need beyond `lashing_testsupport` (which provides the
//! [`Sandbox`], bounded runs, log-line parsing, waits and fd passing for any runc-compatible
//! binary): the binary under test, [`BIN`], and the shorthands that run it.
#![allow(dead_code, unused_imports)]

use std::path::Path;

pub use lashing_testsupport::cli::{accept_fd, listener, recv_fd};
pub use lashing_testsupport::{
    Out, Sandbox, block_device, log_msg, read_until, require_containers, status_field, time_factor,
    unified, wait_bounded, wait_exit, wait_for, wait_for_file,
};

/// The `lashing` binary under test: this package's build, or the one `LASHING_TEST_BIN` named when
/// the tests were compiled (CI runs them once more against the installed build, `scripts/build-release`).
pub const BIN: &str = match option_env!("LASHING_TEST_BIN") {
    Some(bin) => bin,
    None => env!("CARGO_BIN_EXE_lashing"),
};

/// The busybox applets linked in `/bin` of a [`sandbox`]'s rootfs.
pub const APPLETS: &[&str] = &[
    "sh", "true", "false", "sleep", "echo", "cat", "env", "tty", "stat", "ls", "stty", "readlink",
    "printf", "test", "kill", "wc",
];

/// A [`Sandbox`] of `lashing` running `args`, with the [`APPLETS`] in its rootfs.
pub fn sandbox(args: &[&str]) -> Sandbox {
    Sandbox::new(Path::new(BIN), args, APPLETS)
}

/// Runs `lashing ARGS` in `dir` with `env` added (see [`lashing_testsupport::run_in`]).
pub fn lashing_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    lashing_testsupport::run_in(Path::new(BIN), dir, args, env)
}

/// Runs `lashing ARGS` in `/`.
pub fn lashing(args: &[&str]) -> Out {
    lashing_in(Path::new("/"), args, &[])
}
