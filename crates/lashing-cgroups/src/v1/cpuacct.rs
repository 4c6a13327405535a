//! The v1 `cpuacct` controller (runc's `fs/cpuacct.go`): CPU time used, in total, per CPU and
//! per mode.

use crate::common::{list, read_map, read_num};
use crate::error::Result;
use crate::fs::Node;
use crate::stats::Stats;

/// Reads the CPU usage.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    let u = &mut st.cpu_stats.cpu_usage;
    u.total_usage = read_num(n, "cpuacct.usage")?;
    u.percpu_usage = list(n.read_opt("cpuacct.usage_percpu")?);
    u.percpu_usage_in_kernelmode = list(n.read_opt("cpuacct.usage_percpu_sys")?);
    u.percpu_usage_in_usermode = list(n.read_opt("cpuacct.usage_percpu_user")?);
    let stat = read_map(n, "cpuacct.stat")?;
    // USER_HZ ticks to ns.
    let tick = 1_000_000_000 / clock_ticks();
    u.usage_in_usermode = stat.get("user").copied().unwrap_or(0) * tick;
    u.usage_in_kernelmode = stat.get("system").copied().unwrap_or(0) * tick;
    Ok(())
}

fn clock_ticks() -> u64 {
    rustix::param::clock_ticks_per_second().max(1)
}
