//! cgroup v1, v2 and hybrid managers for the lashing container runtime, usable on their own
//! (the counterpart of runc's `opencontainers/cgroups`).
//!
//! - [`detect`] tells how the host mounts cgroups ([`CgroupMode`]).
//! - [`Manager`] is one container's cgroup: a directory per mounted hierarchy, computed from an
//!   OCI `cgroupsPath` by runc's rules; it creates, joins, lists, signals, freezes and removes it.
//!
//! Every cgroup file is opened with `openat2` beneath its hierarchy's root fd (no symlinks, no
//! magic links, no mount crossing), and file names are checked.
//!
//! ```no_run
//! let m = lashing_cgroups::Manager::new("/mygroup/ctr1", "ctr1")?;
//! m.create()?;
//! m.add_pid(1234, false)?;
//! m.kill_all(libc::SIGKILL)?;
//! m.destroy()?;
//! # Ok::<(), lashing_cgroups::Error>(())
//! ```

pub mod devices;
mod error;
mod freezer;
mod fs;
pub mod hierarchy;
mod manager;
pub mod oom;
pub mod resources;
mod set;
pub mod stats;
mod sys;

pub use error::{Error, Result};
pub use freezer::FreezerState;
pub use hierarchy::{CgroupMode, detect};
pub use manager::Manager;
pub use oom::{OomEvent, OomNotifier};
pub use resources::Resources;
pub use stats::Stats;
