//! lashing: a Linux container runtime library, the Rust counterpart of runc's libcontainer.
//!
//! A program builds a [`Config`] (by hand or from an OCI bundle with [`Config::from_bundle`]),
//! creates a [`Container`] under a state root, starts a [`Process`] in it and manages it. The
//! program must call [`init()`] first thing in `main`: lashing starts a container's first process
//! by executing a protected handle of the program's own binary as `lashing init`, and `init()` is
//! where that process takes over.
//!
//! ```no_run
//! use lashing::{Config, Container, Process};
//! use lashing::config::{CreateOpts, Namespace, NamespaceType};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     lashing::init(); // returns at once unless this process is a container's init
//!
//!     // A configuration from an OCI bundle (config.json + rootfs)...
//!     let opts = CreateOpts { bundle: "/path/to/bundle".into(), ..Default::default() };
//!     let mut config = Config::from_bundle(&opts)?;
//!     // ... which can be adjusted in Rust.
//!     config.hostname = Some("box".into());
//!     if !config.has_namespace(NamespaceType::Uts) {
//!         config.namespaces.push(Namespace { typ: NamespaceType::Uts, path: None });
//!     }
//!
//!     // Create: validates and makes the state directory; nothing runs yet.
//!     let mut container = Container::create("/run/my-runtime", "demo", config)?;
//!
//!     // Start the init process: it is set up and waits ("created")...
//!     let mut process = Process::new(["/bin/sh", "-c", "echo hello; sleep 1"]);
//!     process.env = vec!["PATH=/bin:/usr/bin".into()];
//!     container.start(&mut process)?;
//!     assert_eq!(container.status(), lashing::Status::Created);
//!
//!     // ... until `exec` lets it run (what `runc start` does).
//!     container.exec()?;
//!     println!("state: {}", serde_json::to_string(&container.oci_state())?);
//!
//!     // Signal it, wait for it, and remove it.
//!     container.signal(libc::SIGTERM, false)?;
//!     let status = process.wait()?;
//!     println!("exited: {status:?}");
//!     container.destroy()?;
//!
//!     // Later, from another process: Container::load("/run/my-runtime", "demo")?.
//!     Ok(())
//! }
//! ```
#![deny(missing_docs)]

mod channel;
pub mod config;
mod container;
pub mod error;
mod hooks;
mod init;
mod process;
mod procfs;
mod rootfs;
mod security;
mod state;
mod sys;
mod tty;

pub use config::Config;
pub use container::{Container, OciState, Status, criu, list, remove_remains, set_init_executable};
pub use error::{Error, InitFailure, Result};
pub use init::init;
pub use process::{ExitStatus, Process, Stdio};
pub use security::seccomp::features as seccomp;
pub use state::{ProcId, STATE_VERSION, State};
