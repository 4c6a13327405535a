//! The v2 `cpu` controller (runc's `fs2/cpu.go`): idle, weight (converted from v1 shares),
//! `cpu.max` and its burst; usage, throttling and burst counters and pressure.

use crate::common::read_map;
use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::{Cpu, convert_cpu_shares_to_weight};
use crate::stats::{BurstData, Stats, ThrottlingData};
use crate::v2::psi;

/// Applies the CPU limits (real-time limits do not exist on v2: refused).
pub(crate) fn set(n: &Node, c: &Cpu) -> Result<()> {
    if c.realtime_runtime.is_some_and(|v| v != 0) || c.realtime_period.is_some_and(|v| v != 0) {
        return Err(Error::Unsupported {
            resource: "cpu.realtimeRuntime/realtimePeriod".to_owned(),
            reason: "real-time CPU limits do not exist on cgroup v2".to_owned(),
        });
    }
    if let Some(idle) = c.idle {
        n.write("cpu.idle", &idle.to_string())?;
    }
    let weight = convert_cpu_shares_to_weight(c.shares.unwrap_or(0));
    if weight != 0 {
        n.write("cpu.weight", &weight.to_string())?;
    }
    let quota = c.quota.unwrap_or(0);
    let period = c.period.unwrap_or(0);
    let mut burst_later = None;
    if let Some(b) = c.burst {
        match n.write("cpu.max.burst", &b.to_string()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota != 0 => burst_later = Some(b),
            r => r?,
        }
    }
    if quota != 0 || period != 0 {
        let mut v = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_owned()
        };
        if period != 0 {
            v.push_str(&format!(" {period}"));
        }
        n.write("cpu.max", &v)?;
        if let Some(b) = burst_later {
            n.write("cpu.max.burst", &b.to_string())?;
        }
    }
    Ok(())
}

/// Reads `cpu.stat` (µs converted to ns) and `cpu.pressure`.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    let cpu = read_map(n, "cpu.stat")?;
    let get = |k: &str| cpu.get(k).copied().unwrap_or(0);
    st.cpu_stats.cpu_usage.total_usage = get("usage_usec") * 1000;
    st.cpu_stats.cpu_usage.usage_in_usermode = get("user_usec") * 1000;
    st.cpu_stats.cpu_usage.usage_in_kernelmode = get("system_usec") * 1000;
    st.cpu_stats.throttling_data = ThrottlingData {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_time: get("throttled_usec") * 1000,
    };
    st.cpu_stats.burst_data = BurstData {
        bursts_periods: get("nr_bursts"),
        burst_time: get("burst_usec") * 1000,
    };
    st.cpu_stats.psi = psi::read(n, "cpu.pressure")?;
    Ok(())
}
