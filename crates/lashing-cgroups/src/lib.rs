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
//! // Limits in the OCI `linux.resources` shape (v1 values are converted on v2 hosts, as runc).
//! let r: lashing_cgroups::Resources =
//!     serde_json::from_str(r#"{"memory": {"limit": 268435456}, "pids": {"limit": 64}}"#).unwrap();
//! m.set(&r)?;
//! // Devices: runc's rule emulator, written as v1 files or a v2 eBPF program.
//! let rules: Vec<lashing_cgroups::resources::DeviceCgroup> =
//!     serde_json::from_str(r#"[{"allow": false, "access": "rwm"},
//!                              {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]"#).unwrap();
//! m.set_devices(&rules)?;
//! m.freeze(true)?;
//! println!("{}", serde_json::to_string(&m.stats()?).unwrap());
//! m.freeze(false)?;
//! m.kill_all(libc::SIGKILL)?;
//! m.destroy()?;
//! # Ok::<(), lashing_cgroups::Error>(())
//! ```

mod common;
pub mod devices;
mod dir;
mod error;
mod freezer;
mod freezer_read;
mod fs;
pub mod hierarchy;
mod manager;
mod merge;
pub mod oom;
pub mod resources;
pub mod stats;
mod sub;
mod sys;
pub mod systemd;
mod v1;
mod v2;

pub use error::{Error, Result};
pub use freezer::FreezerState;
pub use freezer_read::FreezerReader;
pub use hierarchy::{CgroupMode, detect};
pub use manager::Manager;
pub use oom::{OomEvent, OomNotifier};
pub use resources::Resources;
pub use stats::Stats;
