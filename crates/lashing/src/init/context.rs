//! What init holds across its steps ([`Init`]: the socket, the received fds, the
//! [`InitThread`] token) and its side of the sync with the parent.

use std::os::fd::OwnedFd;

use crate::channel::{self, ToInit, ToParent};
use crate::config::NamespaceType;
use crate::sys::process::InitThread;

use super::report::{Fail, R};

pub(super) enum Never {}

pub(super) struct Init {
    /// This process as `lashing init`'s only thread, in charge of its fd table.
    pub(super) thread: InitThread,
    pub(super) sock: Option<OwnedFd>,
    pub(super) fifo: Option<OwnedFd>,
    /// The exec fifo opened for writing, after its byte was written: kept (close-on-exec) until
    /// `execve`, so that a failure after the socket is closed reaches `start` through it.
    pub(super) fifo_w: Option<OwnedFd>,
    /// The console socket, when the process gets a terminal.
    pub(super) console: Option<OwnedFd>,
    /// `self/fd` of a private procfs, opened before pivot_root to reopen the fifo handle, only
    /// when the container mounts no procfs on `/proc` (otherwise nothing procfs is held while
    /// waiting: see [`Init::wait_fifo`]).
    pub(super) fifo_procfs: Option<crate::procfs::SelfFdDir>,
    /// Number of fd positions from 3 on that belong to the process (preserved fds and gaps).
    pub(super) preserved: usize,
    /// The namespaces to join that came as fds with the payload (`exec`), `O_CLOEXEC`.
    pub(super) ns_fds: Vec<(NamespaceType, OwnedFd)>,
    /// The protected executable's detached mount, to attach in the container's mount namespace
    /// before `pivot_root` ([`crate::channel::Payload::exe_attach`]).
    pub(super) exe_mount: Option<OwnedFd>,
}

impl Init {
    pub(super) fn sock(&self) -> R<&OwnedFd> {
        self.sock
            .as_ref()
            .ok_or_else(|| Fail::msg("sync", None, "init socket already closed"))
    }

    pub(super) fn send(&self, msg: &ToParent) -> R<()> {
        channel::send(self.sock()?, msg, &[]).map_err(|e| Fail::io("write to parent", None, e))
    }

    pub(super) fn expect(&self, want: fn(&ToInit) -> bool, what: &str) -> R<()> {
        let mut buf = [0u8; channel::MAX_REPLY];
        let msg = channel::recv_bounded(self.sock()?, &mut buf).and_then(|r| {
            r.map(|r| channel::parse::<ToInit>(&r.data).map(|m| (m, ())))
                .transpose()
        });
        match msg {
            Ok(Some((m, _))) if want(&m) => Ok(()),
            Ok(Some((m, _))) => Err(Fail::msg(
                "sync",
                None,
                format!("expected {what}, got {m:?}"),
            )),
            Ok(None) => Err(Fail::msg(
                "sync",
                None,
                format!("parent went away while waiting for {what}"),
            )),
            Err(e) => Err(Fail::io("read from parent", None, e)),
        }
    }
}
