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
//!     // ... until `release` lets it run (what `runc start` does).
//!     container.release()?;
//!     println!("state: {}", serde_json::to_string(&container.oci_state())?);
//!
//!     // One more process in the running container (what `runc exec` does).
//!     let mut extra = Process::new(["/bin/echo", "from exec"]);
//!     container.exec(&mut extra)?;
//!     extra.wait()?;
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
//!
//! # The lifecycle, by runc's names
//!
//! | runc command | lashing | libcontainer (runc 1.3) |
//! |---|---|---|
//! | `runc create` | [`Container::create`] then [`Container::start`] (the init waits, status `created`) | `Create`, then `Start` of a process with `Init: true` |
//! | `runc start` | [`Container::release`] | `Exec` |
//! | `runc run` | [`Container::run`] (`start` + `release`) | `Run` |
//! | `runc exec` | [`Container::exec`] ([`Container::exec_ignore_paused`] for `--ignore-paused`) | `Start` (or `Run`) of a process with `Init: false` |
//! | `runc kill` | [`Container::signal`] | `Signal` |
//! | `runc delete` | [`Container::destroy`] / [`Container::force_destroy`] | `Destroy` |
//! | `runc state` | [`Container::oci_state`] | `State` / `OCIState` |
//! | `runc pause` / `resume` | [`Container::pause`] / [`Container::resume`] | `Pause` / `Resume` |
//!
//! A [`Process`] is the same value for all of them: the entry point it is given to decides
//! whether it is the container's init (`start`, `run`) or an additional process (`exec`).
//!
//! ```no_run
//! # fn demo(container: &mut lashing::Container) -> lashing::Result<()> {
//! // `runc exec demo ps`: one more process, joining the init's namespaces and cgroup.
//! let mut ps = lashing::Process::new(["/bin/ps"]);
//! container.exec(&mut ps)?;
//! assert!(ps.wait()?.code() == 0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod channel;
pub mod config;
mod container;
pub mod error;
#[cfg(debug_assertions)]
mod fault;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hooks;
mod init;
mod process;
mod procfs;
pub mod rdt;
mod rootfs;
pub mod rootless;
mod security;
mod state;
mod status;
mod sys;
pub mod time;
mod tty;
pub mod waterfall;

pub use config::Config;
pub use container::{
    Container, OciState, Status, Summary, criu, list, remove_remains, set_init_executable,
    summaries,
};
pub use error::{Error, InitFailure, Result};
pub use init::init;
pub use process::{ExitStatus, Process, Stdio};
pub use security::seccomp::features as seccomp;
pub use state::{ProcId, STATE_VERSION, State, SystemdUnit};

#[cfg(test)]
mod tests {
    /// Comments and docs describe what the code does: no note about how it was written (who wires
    /// what in, what lands later) and no path outside the repository.
    #[test]
    fn docs_and_comments_are_about_the_code() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let stale = [
            "by the integrator",
            "integration notes",
            "issue lands",
            "wired into init yet",
            "../shared",
            "shared/reference",
            "/work/",
        ];
        let mut found = Vec::new();
        let mut dirs = vec![repo.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || name == "target" {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let checked = [".rs", ".md", ".toml", ".sh"]
                    .iter()
                    .any(|e| name.ends_with(e))
                    || path.parent().is_some_and(|p| p.ends_with("scripts"));
                // This test names the phrases it looks for.
                if !checked || path.ends_with("crates/lashing/src/lib.rs") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                for (n, line) in text.lines().enumerate() {
                    if let Some(s) = stale.iter().find(|s| line.contains(*s)) {
                        found.push(format!("{}:{}: {s:?}", path.display(), n + 1));
                    }
                }
            }
        }
        assert!(found.is_empty(), "stale lines:\n{}", found.join("\n"));
    }
}
