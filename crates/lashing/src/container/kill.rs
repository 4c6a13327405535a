//! Signalling and destroying a container (runc's `Signal` and `Destroy`).

use std::fs;
use std::time::Duration;

use super::{Container, Status, kill_remains, wait_empty};
use crate::config::HookKind;
use crate::error::{Error, Result};
use crate::hooks;
use crate::state::{self, Remains};

impl Container {
    /// Sends `sig` to the container's init process, or with `all` to every process of its cgroup.
    /// As runc: signalling every process (`all`, or `SIGKILL` to a container without a pid
    /// namespace of its own, whose other processes would outlive the init) works whatever the
    /// init's status, so that processes left in the cgroup of a stopped container can still be
    /// killed; signalling the init of a stopped container is refused.
    ///
    /// ```no_run
    /// let c = lashing::Container::load("/run/my-runtime", "demo")?;
    /// c.signal(libc::SIGKILL, true)?; // every process of the container
    /// # Ok::<(), lashing::Error>(())
    /// ```
    pub fn signal(&self, sig: i32, all: bool) -> Result<()> {
        let status = self.status();
        let shared_pidns = !self
            .state
            .config
            .new_namespace(crate::config::NamespaceType::Pid);
        if all || (sig == libc::SIGKILL && shared_pidns) {
            // A container that never started does not own the cgroup its path names (see
            // `remove`); a stopped one's cgroup may be gone already.
            if self.state.init_process_pid == 0
                || (status == Status::Stopped && !self.cgroup.exists())
            {
                return Ok(());
            }
            self.cgroup.kill_all(sig)?;
            return Ok(());
        }
        if status == Status::Stopped {
            return Err(Error::BadStatus {
                id: self.state.id.clone(),
                status,
                op: "signal it",
            });
        }
        self.kill_init(sig)?;
        if sig == libc::SIGKILL && status == Status::Paused {
            let _ = self.cgroup.freeze(false);
        }
        Ok(())
    }

    /// Removes a stopped or created container: kills a created init, removes the cgroup and the
    /// state directory, then runs the poststop hooks. A running or paused container is refused
    /// (kill it first, as `delete --force` does).
    ///
    /// ```no_run
    /// let c = lashing::Container::load("/run/my-runtime", "demo")?;
    /// match c.status() {
    ///     lashing::Status::Stopped | lashing::Status::Created => c.destroy()?,
    ///     _ => c.force_destroy()?,
    /// }
    /// # Ok::<(), lashing::Error>(())
    /// ```
    ///
    /// Concurrent calls (from any process) are serialised by the state directory's lock: one
    /// removes the container and runs the hooks, the others find it gone and return `Ok`.
    pub fn destroy(self) -> Result<()> {
        let Some(lock) = state::lock_if_present(&self.dir)? else {
            return Ok(());
        };
        if lock.gone() {
            return Ok(());
        }
        let status = self.status();
        match status {
            Status::Running | Status::Paused => {
                return Err(Error::BadStatus {
                    id: self.state.id.clone(),
                    status,
                    op: "delete it (it is not stopped)",
                });
            }
            Status::Created => {
                self.return_net_devices();
                let _ = self.kill_init(libc::SIGKILL);
                self.wait_dead(Duration::from_secs(10));
            }
            Status::Stopped => {}
        }
        self.remove(&lock)
    }

    /// Kills every process of the container (SIGKILL), waits for them, and removes it. Like
    /// [`Container::destroy`], idempotent under concurrency: the hooks run once.
    pub fn force_destroy(self) -> Result<()> {
        let Some(lock) = state::lock_if_present(&self.dir)? else {
            return Ok(());
        };
        if lock.gone() {
            return Ok(());
        }
        let remains = Remains {
            init: self.state.init(),
            creator: self.state.creator,
            cgroup_paths: self.state.cgroup_paths.clone(),
            cgroup_owned: self.state.cgroup_owned,
            systemd: self.state.systemd.clone(),
            found: true,
        };
        self.return_net_devices();
        kill_remains(&remains, &self.cgroup);
        self.remove(&lock)
    }

    /// Signals the init through a pidfd opened *before* its start time is checked, so that a
    /// pid reused in between is never signalled.
    fn kill_init(&self, sig: i32) -> Result<()> {
        let pid = self.state.init_process_pid;
        // runc's words ("unable to signal init: invalid argument" for a bad signal number).
        crate::sys::process::kill_pid(pid, sig, || self.init_alive()).map_err(|e| Error::Sys {
            op: "unable to signal init",
            source: e,
        })
    }

    /// Runs the hooks of `kind` with the container's OCI state; `pid` is the init's while the
    /// container is being created (prestart, createRuntime).
    pub(crate) fn run_hooks(&self, kind: HookKind, pid: Option<i32>) -> Result<()> {
        let list = self
            .state
            .config
            .hooks
            .get(&kind)
            .map_or(&[][..], Vec::as_slice);
        if list.is_empty() {
            return Ok(());
        }
        let mut st = self.oci_state();
        if let Some(pid) = pid {
            st.pid = pid;
        }
        hooks::run_all(list, kind, &st)
    }

    fn wait_dead(&self, limit: Duration) {
        let start = std::time::Instant::now();
        let init = self.state.init();
        // An exiting init is as good as gone (see `ProcId::exiting`).
        while self.init_alive() && !init.is_some_and(|p| p.exiting()) && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the cgroup (when it is the container's) and the state directory, then runs the
    /// poststop hooks; the caller holds the directory's `lock`.
    fn remove(self, _lock: &state::Lock) -> Result<()> {
        let shared_pidns = !self
            .state
            .config
            .new_namespace(crate::config::NamespaceType::Pid);
        // A cgroup lashing did not create is not the container's: the path may name someone
        // else's (a failed create, or a path shared by mistake).
        let owned = self.state.cgroup_owned;
        crate::waterfall::mark("delete: locked, status read");
        if owned && shared_pidns && self.cgroup.exists() {
            let _ = self.cgroup.kill_all(libc::SIGKILL);
            wait_empty(&self.cgroup, Duration::from_secs(10));
        }
        if owned {
            if let Some(unit) = &self.state.systemd {
                super::systemd::stop(unit)?;
            }
            // Keep the state when the cgroup stays (a process stuck in D state): a later delete
            // can still find and remove it.
            self.cgroup.destroy()?;
            crate::waterfall::mark("delete: cgroups removed");
        }
        if let Some(rdt) = &self.state.config.intel_rdt {
            crate::rdt::remove(&self.state.id, rdt)?;
        }
        let rm = remove_state_dir(&self.dir)
            .map_err(|e| Error::io("remove state directory", &self.dir, e));
        crate::waterfall::mark("delete: state directory removed");
        let hooks = self.run_hooks(HookKind::Poststop, None);
        rm?;
        if let Err(e) = hooks {
            tracing::warn!("{e}");
        }
        Ok(())
    }
}

/// Removes a container's state directory: the files it normally holds by name and then the
/// directory (3 system calls, not a directory walk); anything else in it (a notify socket, a
/// temp file of a killed save) falls back to the walk.
fn remove_state_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::ErrorKind::NotFound;
    let files_gone =
        [state::STATE_FILE, state::FIFO]
            .iter()
            .all(|name| match fs::remove_file(dir.join(name)) {
                Ok(()) => true,
                Err(e) => e.kind() == NotFound,
            });
    if files_gone {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == NotFound => return Err(e),
            Err(_) => {}
        }
    }
    fs::remove_dir_all(dir)
}
