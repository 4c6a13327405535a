//! The shim's reaper: it is a child subreaper, so every process of its containers (and every
//! orphan below them) ends up its child, and one thread reaps them all on `SIGCHLD`.
//!
//! The library waits for some children itself while it works (the intermediate process of a
//! pid-namespace fork, an init that failed to start, the hooks it runs). Reaping those from
//! here would steal their status, so reaping and library operations exclude each other through
//! one [`Gate`]: a lifecycle call holds it shared ([`Gate::hold`]) for its whole duration, and
//! registers the pids it started before it lets go; the reaper takes it exclusively and then
//! reaps every child that has ended (`waitpid(-1, WNOHANG)` until none is left). A child that
//! ends during a library call stays a zombie until the call returns, and its `SIGCHLD` (or a
//! later one) brings the reaper back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use rustix::process::{WaitOptions, WaitStatus, wait};

/// How a reaped process ended, as containerd counts it: the exit code, or 128 + the signal.
pub fn exit_code(st: WaitStatus) -> Option<u32> {
    if let Some(code) = st.exit_status() {
        return Some(code as u32);
    }
    st.terminating_signal().map(|s| 128 + s as u32)
}

/// Who is told when a pid ends.
pub type OnExit = Box<dyn FnOnce(u32) + Send>;

/// Reaping and library calls, one at a time (see the module doc).
#[derive(Default)]
pub struct Gate {
    lock: RwLock<()>,
    watchers: Mutex<HashMap<i32, OnExit>>,
}

impl Gate {
    /// Held by a library call that may start or wait for children: no reaping meanwhile.
    pub fn hold(&self) -> RwLockReadGuard<'_, ()> {
        self.lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls `f` with the exit status of `pid` once it is reaped. Must be called while the
    /// caller still [`hold`](Gate::hold)s the gate in which `pid` was started.
    pub fn watch(&self, pid: i32, f: OnExit) {
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid, f);
    }

    /// Reaps every ended child; the watched ones are reported.
    fn reap(&self) {
        let mut ended = Vec::new();
        let excl = self.lock.write().unwrap_or_else(|e| e.into_inner());
        loop {
            // `wait`: any child (rustix's `waitpid(None)` is our process group only).
            match wait(WaitOptions::NOHANG) {
                Ok(Some((pid, st))) => {
                    let Some(code) = exit_code(st) else { continue };
                    log::debug!("reaped pid {} ({code})", pid.as_raw_nonzero());
                    let f = self
                        .watchers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&pid.as_raw_nonzero().get());
                    if let Some(f) = f {
                        ended.push((f, code));
                    }
                }
                Ok(None) => break,
                Err(rustix::io::Errno::INTR) => continue,
                // ECHILD: no child at all.
                Err(_) => break,
            }
        }
        // The watchers publish events: not while library calls are held up.
        drop(excl);
        for (f, code) in ended {
            f(code);
        }
    }
}

/// Starts the reaper thread. `SIGCHLD` is registered here, before any child exists.
pub fn start(gate: Arc<Gate>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGCHLD])?;
    std::thread::Builder::new()
        .name("reaper".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            for _ in signals.forever() {
                gate.reap();
            }
        })?;
    Ok(())
}
