//! The container side of the bootstrap: `lashing init`, a fresh single-threaded process started
//! from the protected executable. It reads its payload from the init socket, enters the
//! namespaces, sets up the root file system, meets the parent at the sync points, waits on the
//! exec fifo and finally `execve`s the user process.

mod caps;
mod context;
mod cwd;
mod exec;
mod fds;
mod log;
mod namespaces;
mod report;
mod setns;
mod standard;
#[cfg(test)]
mod tests;

use std::os::fd::{AsFd, AsRawFd, RawFd};

use crate::channel::{self, INIT_PIPE_ENV, InitKind, ToInit, ToParent};
use crate::error::InitFailure;
use crate::sys::process as sysp;

use context::{Init, Never};
use fds::close_from_except;
use report::{Fail, R, truncate};

/// The entry point of `lashing init`. A program that uses lashing calls it first thing in `main`:
/// when the process was started by lashing as a container's init, it takes over and never
/// returns; otherwise it returns at once.
///
/// ```no_run
/// // First thing in `main`:
/// lashing::init();
/// // ... the program's own work ...
/// ```
pub fn init() {
    let Some(fd) = std::env::var_os(INIT_PIPE_ENV) else {
        return;
    };
    // The start waterfall's first stamp of init (kept only if the parent asks for stamps).
    let entry = sysp::monotonic_ns();
    let fd: RawFd = match fd.to_str().and_then(|s| s.parse().ok()) {
        Some(fd) => fd,
        None => {
            eprintln!("lashing init: bad {INIT_PIPE_ENV}");
            sysp::exit_now(255)
        }
    };
    // Only this variable of init's environment is used; the user process gets the container's env.
    let (thread, sock) = match sysp::InitThread::claim(fd) {
        Some(Ok(claimed)) => claimed,
        None => return,
        Some(Err(e)) => {
            eprintln!("lashing init: init socket {fd}: {e}");
            sysp::exit_now(255)
        }
    };
    let mut init = Init {
        thread,
        sock: Some(sock),
        fifo: None,
        fifo_w: None,
        console: None,
        fifo_procfs: None,
        preserved: 0,
        ns_fds: Vec::new(),
        exe_mount: None,
    };
    let err = match init.run(entry) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    init.report(err)
}

impl Init {
    /// Reports a failure to whoever waits for init: the parent over the socket while it is
    /// open, else `start` through the exec fifo (JSON after the fifo's byte).
    fn report(&mut self, err: Fail) -> ! {
        log::detach();
        let f = err.into_failure();
        if let Some(s) = &self.sock {
            if channel::send(s, &ToParent::Error(f.clone()), &[]).is_err() {
                let short = InitFailure {
                    path: None,
                    message: truncate(f.message.clone(), 256),
                    ..f.clone()
                };
                let _ = channel::send(s, &ToParent::Error(short), &[]);
            }
        } else if let Some(w) = &self.fifo_w {
            let text = serde_json::to_vec(&f).unwrap_or_default();
            let _ = rustix::io::write(w, &text);
        } else {
            eprintln!("lashing init: {f}");
        }
        sysp::exit_now(255)
    }

    fn run(&mut self, entry: u64) -> R<Never> {
        let sock_fd = self.sock()?.as_raw_fd() as u32;
        // Nothing the caller leaked may reach the container (CVE-2024-21626).
        close_from_except(&self.thread, 3, Some(sock_fd));
        // From here, log lines go to the parent (through a copy of the socket, moved with it).
        let copy = sysp::dup_above(self.sock()?.as_fd(), 3)
            .map_err(|e| Fail::io("dup", Some("init socket".to_string()), e))?;
        log::install(copy);
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .map_err(|e| Fail::io("prctl(PR_SET_DUMPABLE)", None, e))?;
        sysp::reset_signals().map_err(|e| Fail::io("reset signal dispositions", None, e))?;
        let (msg, fds) = match channel::recv::<ToInit>(self.sock()?) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(Fail::msg(
                    "read payload",
                    None,
                    "parent closed the init socket",
                ));
            }
            Err(e) => return Err(Fail::io("read payload", None, e)),
        };
        let ToInit::Payload(payload) = msg else {
            return Err(Fail::msg(
                "read payload",
                None,
                format!("unexpected message {msg:?}"),
            ));
        };
        log::set_level(payload.log_level);
        if payload.waterfall {
            crate::waterfall::enable();
            crate::waterfall::stamp_init_at("lashing init entered", entry);
            crate::waterfall::mark_init("payload received");
        }
        self.install_fds(&payload, fds)?;
        match payload.kind {
            InitKind::Standard => self.standard(*payload),
            InitKind::Setns => self.setns(*payload),
        }
    }
}
