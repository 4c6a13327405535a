//! The v1 `memory` controller (runc's `fs/memory.go`): limit, memory+swap, reservation, OOM
//! killer, swappiness and hierarchy; usage counters, `memory.stat`, NUMA pages and OOM kills.

use crate::common::{oom_kill, read_map, read_num, read_u64};
use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::Memory;
use crate::stats::{MemoryData, Stats, parse_numa_stat};

const SWAP_FILE: &str = "memory.memsw.limit_in_bytes";

fn set_limit(n: &Node, val: i64) -> Result<()> {
    if val == 0 {
        return Ok(());
    }
    match n.write("memory.limit_in_bytes", &val.to_string()) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let usage = read_u64(n, "memory.usage_in_bytes").unwrap_or(0);
            let peak = read_u64(n, "memory.max_usage_in_bytes").unwrap_or(0);
            Err(Error::MemoryBelowUsage {
                limit: val,
                usage,
                peak,
            })
        }
        r => r,
    }
}

/// Applies the memory limits (memory and memory+swap in the order that keeps
/// memory <= memory+swap at every step).
pub(crate) fn set(n: &Node, m: &Memory) -> Result<()> {
    let memory = m.limit.unwrap_or(0);
    let mut swap = m.swap.unwrap_or(0);
    // Unlimited memory without an explicit swap limit: unlimited swap too.
    if memory == -1 && swap == 0 && n.has_file(SWAP_FILE) {
        swap = -1;
    }
    let mut done = false;
    if memory != 0 && swap != 0 {
        // Order the two writes so that memory <= memory+swap holds at every step.
        let current = read_u64(n, "memory.limit_in_bytes")?;
        if swap == -1 || current < swap as u64 {
            n.write(SWAP_FILE, &swap.to_string())?;
            set_limit(n, memory)?;
            done = true;
        }
    }
    if !done {
        set_limit(n, memory)?;
        if swap != 0 {
            n.write(SWAP_FILE, &swap.to_string())?;
        }
    }
    if let Some(res) = m.reservation.filter(|v| *v != 0) {
        n.write("memory.soft_limit_in_bytes", &res.to_string())?;
    }
    if m.disable_oom_killer == Some(true) {
        n.write("memory.oom_control", "1")?;
    }
    if let Some(s) = m.swappiness.filter(|s| *s as i64 != -1) {
        if s > 100 {
            return Err(Error::InvalidResource {
                resource: "memory.swappiness".to_owned(),
                value: s.to_string(),
                reason: "valid range is 0-100".to_owned(),
            });
        }
        n.write("memory.swappiness", &s.to_string())?;
    }
    if let Some(h) = m.use_hierarchy
        && let Err(e) = n.write("memory.use_hierarchy", if h { "1" } else { "0" })
    {
        tracing::warn!(error = %e, "memory.useHierarchy not applied");
    }
    Ok(())
}

/// Reads the memory statistics.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    let m = &mut st.memory_stats;
    m.stats = read_map(n, "memory.stat")?;
    m.cache = m.stats.get("cache").copied().unwrap_or(0);
    let data = |prefix: &str| -> Result<MemoryData> {
        let f = |s: &str| {
            if prefix.is_empty() {
                format!("memory.{s}")
            } else {
                format!("memory.{prefix}.{s}")
            }
        };
        Ok(MemoryData {
            usage: read_num(n, &f("usage_in_bytes"))?,
            max_usage: read_num(n, &f("max_usage_in_bytes"))?,
            failcnt: read_num(n, &f("failcnt"))?,
            limit: read_num(n, &f("limit_in_bytes"))?,
        })
    };
    m.usage = data("")?;
    m.swap_usage = data("memsw")?;
    m.kernel_usage = data("kmem")?;
    m.kernel_tcp_usage = data("kmem.tcp")?;
    m.use_hierarchy = read_num(n, "memory.use_hierarchy")? == 1;
    m.page_usage_by_numa = n
        .read_opt("memory.numa_stat")?
        .as_deref()
        .map(parse_numa_stat);
    Ok(())
}

/// The `oom_kill` count of `memory.oom_control` (`None` when the kernel does not report it).
pub(crate) fn oom_kill_count(n: &Node) -> Result<Option<u64>> {
    Ok(n.read_opt("memory.oom_control")?
        .as_deref()
        .and_then(oom_kill))
}
