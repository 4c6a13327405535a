//! `containerd-shim-lashing-v2`: containerd's shim v2 for the runtime name
//! `io.containerd.lashing.v2`, with the lashing library linked in: every task call (create,
//! start, exec, kill, delete, ...) runs in this process, no runtime binary is executed.
//!
//! The binary is also its containers' `lashing init` ([`lashing::init`] first thing).

mod checkpoint;
mod events;
mod io;
mod io_error;
mod logger;
mod metrics;
mod options;
mod reaper;
mod rootfs;
mod service;
mod shim;
mod status;
mod sys;
mod task;

/// The runtime name containerd knows this shim by.
const RUNTIME_ID: &str = "io.containerd.lashing.v2";

fn main() {
    lashing::init();
    sys::one_malloc_arena();
    // Our own reaper (reaper.rs): the crate's would take the library's children. The config
    // must say so before the crate sets up its signals.
    let config = containerd_shim::Config {
        no_reaper: true,
        ..Default::default()
    };
    containerd_shim::run::<shim::Shim>(RUNTIME_ID, Some(config));
}
