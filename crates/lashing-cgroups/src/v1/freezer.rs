//! The v1 `freezer` controller (runc's `fs/freezer.go`): `freezer.state`, with runc's retry loop
//! against the FREEZING limbo, and `freezer.self_freezing`.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::freezer::FreezerState;
use crate::fs::Node;

/// Freezes or thaws a v1 freezer cgroup.
pub(crate) fn set(node: &Node, frozen: bool) -> Result<()> {
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
pub(crate) fn state(node: &Node) -> Result<FreezerState> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let Some(state) = node.read_record_opt("freezer.state")? else {
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
