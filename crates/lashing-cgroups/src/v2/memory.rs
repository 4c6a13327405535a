//! The v2 `memory` controller (runc's `fs2/memory.go`): `memory.max`, `memory.swap.max`
//! (converted from v1's memory+swap), `memory.low`; usage, swap, `memory.stat`, pressure and
//! OOM kills.

use crate::common::{oom_kill, read_map, read_num, read_u64};
use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::{Memory, convert_memory_swap_to_v2};
use crate::stats::{MemoryData, Stats};
use crate::v2::psi;

/// `0` → unset, negative → `max`.
fn v2_num(v: i64) -> Option<String> {
    match v {
        0 => None,
        v if v < 0 => Some("max".to_owned()),
        v => Some(v.to_string()),
    }
}

/// Applies the memory limits.
pub(crate) fn set(n: &Node, m: &Memory) -> Result<()> {
    let memory = m.limit.unwrap_or(0);
    let swap = m.swap.unwrap_or(0);
    let reservation = m.reservation.unwrap_or(0);
    if memory == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    if m.check_before_update == Some(true) && memory > 0 {
        let usage = read_u64(n, "memory.current")?;
        if usage >= memory as u64 {
            return Err(Error::InvalidResource {
                resource: "memory.limit".to_owned(),
                value: memory.to_string(),
                reason: format!("below the current usage {usage}"),
            });
        }
    }
    let swap_v2 = convert_memory_swap_to_v2(swap, memory)?;
    let mut swap_str = v2_num(swap_v2);
    if swap_str.is_none() && swap_v2 == 0 && swap > 0 {
        // Memory and memory+swap equal: no swap at all.
        swap_str = Some("0".to_owned());
    }
    if let Some(s) = swap_str {
        match n.write("memory.swap.max", &s) {
            // Without swap accounting, "no limit" and "no swap" need nothing.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && (s == "max" || s == "0") => {}
            r => r?,
        }
    }
    if let Some(v) = v2_num(memory) {
        n.write("memory.max", &v)?;
    }
    if let Some(v) = v2_num(reservation) {
        n.write("memory.low", &v)?;
    }
    Ok(())
}

/// Reads the memory statistics (and v1-compatible memory+swap figures) and `memory.pressure`.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    st.memory_stats.psi = psi::read(n, "memory.pressure")?;
    let m = &mut st.memory_stats;
    m.stats = read_map(n, "memory.stat")?;
    m.cache = m.stats.get("file").copied().unwrap_or(0);
    m.use_hierarchy = true;
    let events = read_map(n, "memory.events")?;
    m.usage = MemoryData {
        usage: read_num(n, "memory.current")?,
        max_usage: read_num(n, "memory.peak")?,
        failcnt: events.get("max").copied().unwrap_or(0),
        limit: read_num(n, "memory.max")?,
    };
    let swap = read_num(n, "memory.swap.current")?;
    let swap_max = read_num(n, "memory.swap.max")?;
    m.swap_only_usage = MemoryData {
        usage: swap,
        max_usage: read_num(n, "memory.swap.peak")?,
        failcnt: 0,
        limit: swap_max,
    };
    // v1-compatible memory+swap.
    m.swap_usage = MemoryData {
        usage: swap + m.usage.usage,
        max_usage: 0,
        failcnt: 0,
        limit: if swap_max == u64::MAX || m.usage.limit == u64::MAX {
            u64::MAX
        } else {
            swap_max + m.usage.limit
        },
    };
    Ok(())
}

/// The `oom_kill` count of `memory.events` (`None` without the file or the line).
pub(crate) fn oom_kill_count(n: &Node) -> Result<Option<u64>> {
    Ok(n.read_opt("memory.events")?.as_deref().and_then(oom_kill))
}
