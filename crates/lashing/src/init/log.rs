//! Log lines of `lashing init`, forwarded to the parent (runc: `_LIBCONTAINER_LOGPIPE`).
//!
//! Init is a fresh process: its `tracing` events (warnings about ambient capabilities, mounts,
//! sysctls, LSMs) would go nowhere. A small subscriber sends each event at or above the parent's
//! level as a [`ToParent::Log`] datagram on the init socket; the parent re-emits it through
//! `tracing`, so it reaches `--log` in the chosen `--log-format`. Bounded on both sides: a line is
//! cut at [`MAX_LINE`] bytes and init sends at most [`MAX_LINES`] lines.

use std::fmt::Write as _;
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::channel::{self, LogLevel, ToParent};

/// Longest line forwarded (bytes); longer ones are cut.
pub(crate) const MAX_LINE: usize = channel::MAX_LOG_LINE;
/// Most lines one init forwards; the rest are dropped.
pub(crate) const MAX_LINES: usize = channel::MAX_LOG_LINES;

/// A copy of the init socket for the subscriber (`None` once init closed its socket).
static SOCK: Mutex<Option<OwnedFd>> = Mutex::new(None);
/// The most verbose level forwarded ([`LogLevel`] as u8).
static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Warn as u8);
static SENT: AtomicUsize = AtomicUsize::new(0);

/// Installs the forwarding subscriber (once per process) with a copy of the socket.
pub(crate) fn install(sock: OwnedFd) {
    attach(sock);
    // Fails only when the embedding program installed a global subscriber before calling
    // `lashing::init()`: its own subscriber then gets the events.
    let _ = tracing::subscriber::set_global_default(Forwarder);
}

/// Points the subscriber at `copy`, a copy of init's socket made by the caller at a number
/// that init will not `dup2` onto (above the process's fd range), e.g. after init moved its fds.
pub(crate) fn attach(copy: OwnedFd) {
    *SOCK.lock().unwrap_or_else(|e| e.into_inner()) = Some(copy);
}

/// Drops the subscriber's copy of the socket: init is done with the parent (which must see EOF).
pub(crate) fn detach() {
    *SOCK.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Sets the most verbose level to forward (the parent's).
pub(crate) fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

fn rank(level: &Level) -> u8 {
    LogLevel::from(*level) as u8
}

struct Forwarder;

/// The message and fields of an event, as one line (`message key=value ...`).
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &mut String, max: usize) {
    channel::truncate_at(s, max);
}

impl Subscriber for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        rank(metadata.level()) <= LEVEL.load(Ordering::Relaxed)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if !self.enabled(event.metadata()) {
            return;
        }
        if SENT.fetch_add(1, Ordering::Relaxed) >= MAX_LINES {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let mut message = line.0;
        truncate(&mut message, MAX_LINE);
        let msg = ToParent::Log {
            level: LogLevel::from(*event.metadata().level()),
            message,
        };
        let guard = SOCK.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sock) = guard.as_ref() {
            let _ = channel::send(sock, &msg, &[]);
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_on_char_boundaries() {
        let mut s = "é".repeat(10);
        truncate(&mut s, 5);
        assert_eq!(s, "éé");
        let mut s = "abc".to_string();
        truncate(&mut s, 5);
        assert_eq!(s, "abc");
    }
}
