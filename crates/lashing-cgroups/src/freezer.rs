//! The freezer: v1 `freezer.state` (with runc's retry loop against the FREEZING limbo) and v2
//! `cgroup.freeze` + `cgroup.events`.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fs::Node;

/// The state of a cgroup's freezer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// No freezer, or the cgroup does not exist.
    Undefined,
    /// Frozen (directly, not only through an ancestor).
    Frozen,
    /// Running.
    Thawed,
}

/// Freezes or thaws a v1 freezer cgroup.
pub(crate) fn set_v1(node: &Node, frozen: bool) -> Result<()> {
    if !frozen {
        return node.write("freezer.state", "THAWED");
    }
    // Freezing can stay in FREEZING while processes keep appearing: retry, thawing briefly now
    // and then (the same empirical schedule as runc).
    let mut last = String::new();
    for i in 0..1000 {
        if i % 50 == 49 {
            let _ = node.write("freezer.state", "THAWED");
            std::thread::sleep(Duration::from_millis(10));
        }
        node.write("freezer.state", "FROZEN")?;
        if i % 25 == 24 {
            std::thread::sleep(Duration::from_micros(10));
        }
        last = node.read("freezer.state")?.trim().to_owned();
        match last.as_str() {
            "FROZEN" => return Ok(()),
            "FREEZING" => continue,
            _ => break,
        }
    }
    let _ = node.write("freezer.state", "THAWED");
    Err(Error::FreezeTimeout {
        path: node.path(),
        wanted: "frozen",
        state: last,
    })
}

/// Reads the state of a v1 freezer cgroup.
pub(crate) fn state_v1(node: &Node) -> Result<FreezerState> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let Some(state) = node.read_opt("freezer.state")? else {
            return Ok(FreezerState::Undefined);
        };
        match state.trim() {
            "THAWED" => return Ok(FreezerState::Thawed),
            "FROZEN" => {
                // Frozen by itself, or only through a frozen ancestor?
                return match node.read_opt("freezer.self_freezing")?.as_deref() {
                    None | Some("1\n") | Some("1") => Ok(FreezerState::Frozen),
                    Some("0\n") | Some("0") => Ok(FreezerState::Thawed),
                    Some(other) => Err(Error::Parse {
                        path: node.path().join("freezer.self_freezing"),
                        value: other.to_owned(),
                        reason: "expected 0 or 1".to_owned(),
                    }),
                };
            }
            "FREEZING" if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => {
                return Err(Error::Parse {
                    path: node.path().join("freezer.state"),
                    value: other.to_owned(),
                    reason: "unknown freezer state".to_owned(),
                });
            }
        }
    }
}

/// The `frozen` value of `cgroup.events`.
fn events_frozen(node: &Node) -> Result<Option<bool>> {
    let Some(events) = node.read_opt("cgroup.events")? else {
        return Ok(None);
    };
    Ok(events
        .lines()
        .find_map(|l| l.strip_prefix("frozen "))
        .map(|v| v.trim() == "1"))
}

/// Freezes or thaws a v2 cgroup and waits until `cgroup.events` confirms it.
pub(crate) fn set_v2(node: &Node, frozen: bool) -> Result<()> {
    node.write("cgroup.freeze", if frozen { "1" } else { "0" })?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut delay = Duration::from_micros(100);
    loop {
        match events_frozen(node)? {
            None => return Ok(()),
            Some(f) if f == frozen => return Ok(()),
            Some(_) => {}
        }
        if Instant::now() >= deadline {
            if frozen {
                let _ = node.write("cgroup.freeze", "0");
            }
            return Err(Error::FreezeTimeout {
                path: node.path(),
                wanted: if frozen { "frozen" } else { "thawed" },
                state: node.read("cgroup.events").unwrap_or_default(),
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

/// Reads the state of a v2 cgroup's freezer.
pub(crate) fn state_v2(node: &Node) -> Result<FreezerState> {
    match node.read_opt("cgroup.freeze")?.as_deref().map(str::trim) {
        None => Ok(FreezerState::Undefined),
        Some("0") => Ok(FreezerState::Thawed),
        Some("1") => Ok(FreezerState::Frozen),
        Some(other) => Err(Error::Parse {
            path: node.path().join("cgroup.freeze"),
            value: other.to_owned(),
            reason: "expected 0 or 1".to_owned(),
        }),
    }
}
