//! What the shim holds of a container (`Ctr`) and of each of its processes (`Proc`): the
//! library's `Container`, the init and the execs, their I/O and how they ended.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;

use crate::io::{Io, Paths};

/// Locks, ignoring poisoning (a panicked RPC thread leaves the data as it was).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Registered (`Exec`) or created (`Create`), not started.
    Created,
    /// Started.
    Running,
    /// Ended (reaped, or never started and deleted).
    Stopped,
}

/// The mutable part of a process.
pub struct ProcState {
    /// Host pid (0 before the start).
    pub pid: u32,
    /// Its phase.
    pub phase: Phase,
    /// Exit status and time, once it ended.
    pub exit: Option<(u32, Timestamp)>,
}

/// A process of a container: its init (`exec_id` empty) or an exec.
pub struct Proc {
    /// The exec id ("" for the init).
    pub exec_id: String,
    /// Its stdio as containerd gave it.
    pub paths: Paths,
    /// What the shim keeps of its I/O.
    pub io: Io,
    /// The library's handle (pidfd) once started; the process's spec before.
    pub process: Mutex<Option<lashing::Process>>,
    state: Mutex<ProcState>,
    ended: Condvar,
}

impl Proc {
    /// A process not started yet.
    pub fn new(exec_id: &str, paths: Paths, process: lashing::Process) -> Proc {
        Proc {
            exec_id: exec_id.into(),
            paths,
            io: Io::default(),
            process: Mutex::new(Some(process)),
            state: Mutex::new(ProcState {
                pid: 0,
                phase: Phase::Created,
                exit: None,
            }),
            ended: Condvar::new(),
        }
    }

    /// Its state.
    pub fn state(&self) -> MutexGuard<'_, ProcState> {
        lock(&self.state)
    }

    /// Records its pid once started.
    pub fn set_pid(&self, pid: u32) {
        lock(&self.state).pid = pid;
    }

    /// Records the start.
    pub fn set_running(&self) {
        let mut st = lock(&self.state);
        if st.phase == Phase::Created {
            st.phase = Phase::Running;
        }
    }

    /// Records the end (the first one counts) and wakes the waiters.
    pub fn set_exited(&self, code: u32) -> Timestamp {
        let mut st = lock(&self.state);
        if st.exit.is_none() {
            st.exit = Some((code, crate::events::now()));
        }
        st.phase = Phase::Stopped;
        self.io.exited();
        self.ended.notify_all();
        st.exit.clone().map(|(_, t)| t).unwrap_or_default()
    }

    /// Blocks until it ended: its exit status and time.
    pub fn wait(&self) -> (u32, Timestamp) {
        let mut st = lock(&self.state);
        loop {
            if let Some(e) = &st.exit {
                return e.clone();
            }
            st = self.ended.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Sends `sig` to it (through its pidfd).
    pub fn signal(&self, sig: i32) -> lashing::Result<()> {
        match lock(&self.process).as_ref() {
            Some(p) if p.pid().is_some() => p.signal(sig),
            _ => Err(lashing::Error::NotStarted { op: "signal" }),
        }
    }
}

/// A container of this shim.
pub struct Ctr {
    /// The container id.
    pub id: String,
    /// Its bundle.
    pub bundle: PathBuf,
    /// The rootfs the shim mounted from containerd's mounts (unmounted at delete), if any.
    pub mounted: Option<PathBuf>,
    /// The library's container.
    pub container: Mutex<lashing::Container>,
    /// Its init.
    pub init: Arc<Proc>,
    /// Its execs by exec id.
    pub execs: Mutex<HashMap<String, Arc<Proc>>>,
}

impl Ctr {
    /// The process `exec_id` ("" for the init).
    pub fn proc(&self, exec_id: &str) -> Option<Arc<Proc>> {
        if exec_id.is_empty() {
            return Some(self.init.clone());
        }
        lock(&self.execs).get(exec_id).cloned()
    }
}
