//! The start waterfall: a `CLOCK_MONOTONIC` stamp at every phase of create, start, run, exec and
//! delete, from the runtime and from init, on one clock, so that anyone can see where a
//! millisecond goes (`lashing --debug`).
//!
//! Off unless [`enable`]d (the CLI does it for `--debug`): a [`mark`] is then one relaxed atomic
//! load. When on, init stamps its own phases and sends them with the messages it sends anyway
//! (`Hooks`, `Ready`, `Created`: no extra datagram); [`report`] emits every stamp in time order
//! as `tracing` debug events, e.g.
//!
//! ```text
//! waterfall    3.112 ms (+0.208) init     rootfs mounted
//! ```
//!
//! The clock is the machine's `CLOCK_MONOTONIC`; an init that entered a time namespace with a
//! monotonic offset takes the offset off its stamps.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

use crate::sys::process::monotonic_ns;

static ENABLED: AtomicBool = AtomicBool::new(false);
/// Nanoseconds to subtract from this process's clock (init in a time namespace).
static OFFSET: AtomicI64 = AtomicI64::new(0);
static STAMPS: Mutex<Vec<Stamp>> = Mutex::new(Vec::new());

/// Who took a stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Side {
    /// The runtime (the library's caller, e.g. the `lashing` command).
    Runtime,
    /// The container's (or an exec's) `lashing init`.
    Init,
}

/// One phase's stamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    /// Where it was taken.
    pub side: Side,
    /// The phase that ended (or began) there.
    pub phase: Cow<'static, str>,
    /// `CLOCK_MONOTONIC`, nanoseconds.
    pub ns: u64,
}

/// Turns the waterfall on for this process (and the inits it starts from now on).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether stamps are taken.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Stamp>> {
    STAMPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stamps `phase` on the runtime's side (nothing when the waterfall is off).
pub fn mark(phase: &'static str) {
    if enabled() {
        push(Side::Runtime, phase);
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: for a stamp taken before the waterfall was enabled
/// (e.g. a command's entry, before its `--debug` was parsed), given to [`mark_at`] later.
pub fn now() -> u64 {
    monotonic_ns()
}

/// Stamps `phase` at `ns` (a [`now`] taken earlier) on the runtime's side (when on).
pub fn mark_at(phase: &'static str, ns: u64) {
    if enabled() {
        lock().push(Stamp {
            side: Side::Runtime,
            phase: Cow::Borrowed(phase),
            ns,
        });
    }
}

/// Stamps `phase` on init's side (nothing when the parent did not ask for stamps).
pub(crate) fn mark_init(phase: &'static str) {
    if enabled() {
        push(Side::Init, phase);
    }
}

fn push(side: Side, phase: &'static str) {
    let ns = monotonic_ns().saturating_add_signed(-OFFSET.load(Ordering::Relaxed));
    lock().push(Stamp {
        side,
        phase: Cow::Borrowed(phase),
        ns,
    });
}

/// Init: a stamp taken at `ns` (its entry, before it knew whether to stamp).
pub(crate) fn stamp_init_at(phase: &'static str, ns: u64) {
    lock().push(Stamp {
        side: Side::Init,
        phase: Cow::Borrowed(phase),
        ns,
    });
}

/// Init in a time namespace: its `CLOCK_MONOTONIC` runs `ns` ahead of the machine's.
pub(crate) fn set_clock_offset(ns: i64) {
    OFFSET.store(ns, Ordering::Relaxed);
}

/// Init: the stamps taken since the last call, to send with the next message (empty when off).
pub(crate) fn drain() -> Vec<Stamp> {
    if !enabled() {
        return Vec::new();
    }
    std::mem::take(&mut *lock())
}

/// The runtime: adds the stamps that came from init (only init's side is taken from a peer).
pub(crate) fn add(stamps: Vec<Stamp>) {
    if stamps.is_empty() || !enabled() {
        return;
    }
    lock().extend(from_peer(stamps));
}

/// What is taken of a peer's stamps: only init's side.
fn from_peer(stamps: Vec<Stamp>) -> impl Iterator<Item = Stamp> {
    stamps.into_iter().filter(|s| s.side == Side::Init)
}

/// The stamps so far in time order, as lines: milliseconds since the first stamp, since the
/// previous one, the side and the phase. Clears them.
pub fn take_lines() -> Vec<String> {
    lines(std::mem::take(&mut *lock()))
}

fn lines(mut stamps: Vec<Stamp>) -> Vec<String> {
    stamps.sort_by_key(|s| s.ns);
    let Some(first) = stamps.first().map(|s| s.ns) else {
        return Vec::new();
    };
    let mut prev = first;
    stamps
        .iter()
        .map(|s| {
            let line = format!(
                "{:9.3} ms (+{:.3}) {:<7} {}",
                ms(s.ns - first),
                ms(s.ns - prev),
                match s.side {
                    Side::Runtime => "runtime",
                    Side::Init => "init",
                },
                s.phase
            );
            prev = s.ns;
            line
        })
        .collect()
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Emits the waterfall so far (see the module doc) as `tracing` debug events and clears it.
pub fn report() {
    for line in take_lines() {
        tracing::debug!("waterfall {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_in_clock_order_with_deltas() {
        let stamp = |side, phase: &'static str, ns| Stamp {
            side,
            phase: phase.into(),
            ns,
        };
        let mut stamps: Vec<Stamp> = from_peer(vec![
            stamp(Side::Init, "b", 3_000_000),
            // A peer cannot stamp the runtime's side.
            stamp(Side::Runtime, "forged", 2_000_000),
        ])
        .collect();
        stamps.push(stamp(Side::Runtime, "a", 1_000_000));
        let lines = lines(stamps);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], "    0.000 ms (+0.000) runtime a");
        assert_eq!(lines[1], "    2.000 ms (+2.000) init    b");
        assert!(super::lines(Vec::new()).is_empty());
    }

    #[test]
    fn stamps_travel_as_json() {
        let s = Stamp {
            side: Side::Init,
            phase: "rootfs mounted".into(),
            ns: 42,
        };
        let back: Stamp = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
