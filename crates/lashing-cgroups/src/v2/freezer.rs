//! The v2 freezer (runc's `fs2/freezer.go`): `cgroup.freeze`, confirmed by `cgroup.events`.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::freezer::FreezerState;
use crate::fs::Node;

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
pub(crate) fn set(node: &Node, frozen: bool) -> Result<()> {
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
pub(crate) fn state(node: &Node) -> Result<FreezerState> {
    match node
        .read_record_opt("cgroup.freeze")?
        .as_deref()
        .map(str::trim)
    {
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
