//! The v1 `cpu` controller (runc's `fs/cpu.go`): CFS shares, quota, period, burst and idle,
//! real-time runtime and period; throttling and burst counters.

use crate::common::{read_map, read_u64};
use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::Cpu;
use crate::stats::{BurstData, Stats};

/// Applies the CPU limits, ordering the writes that depend on each other.
pub(crate) fn set(n: &Node, c: &Cpu) -> Result<()> {
    // cpu.shares cannot be written while the cgroup is idle (EINVAL): leaving the idle state
    // comes first, entering it last.
    if c.idle == Some(0) {
        n.write("cpu.idle", "0")?;
    }
    if let Some(shares) = c.shares.filter(|s| *s != 0) {
        n.write("cpu.shares", &shares.to_string())?;
        let read = read_u64(n, "cpu.shares")?;
        if read != shares {
            return Err(Error::InvalidResource {
                resource: "cpu.shares".to_owned(),
                value: shares.to_string(),
                reason: format!(
                    "the {} allowed cpu-shares is {read}",
                    if shares > read { "maximum" } else { "minimum" }
                ),
            });
        }
    }
    let quota = c.quota.unwrap_or(0);
    // A period or burst rejected with EINVAL may only fit after the quota: retry after it.
    let mut period_later = None;
    if let Some(p) = c.period.filter(|p| *p != 0) {
        match n.write("cpu.cfs_period_us", &p.to_string()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota != 0 => {
                period_later = Some(p)
            }
            r => r?,
        }
    }
    let mut burst_later = None;
    if let Some(b) = c.burst {
        match n.write("cpu.cfs_burst_us", &b.to_string()) {
            // As runc: a kernel without the burst knob ignores it (said, not silent).
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                if b != 0 {
                    tracing::warn!(burst = b, "this kernel has no cpu.cfs_burst_us: ignored");
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota != 0 => burst_later = Some(b),
            r => r?,
        }
    }
    if quota != 0 {
        n.write("cpu.cfs_quota_us", &quota.to_string())?;
        if let Some(p) = period_later {
            n.write("cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(b) = burst_later {
            n.write("cpu.cfs_burst_us", &b.to_string())?;
        }
    }
    if let Some(idle) = c.idle.filter(|i| *i != 0) {
        n.write("cpu.idle", &idle.to_string())?;
    }
    // Real-time scheduling: period and runtime depend on each other.
    let runtime = c.realtime_runtime.unwrap_or(0);
    let mut rt_period_later = None;
    if let Some(p) = c.realtime_period.filter(|p| *p != 0) {
        match n.write("cpu.rt_period_us", &p.to_string()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && runtime != 0 => {
                rt_period_later = Some(p)
            }
            r => r?,
        }
    }
    if runtime != 0 {
        n.write("cpu.rt_runtime_us", &runtime.to_string())?;
        if let Some(p) = rt_period_later {
            n.write("cpu.rt_period_us", &p.to_string())?;
        }
    }
    Ok(())
}

/// Reads the throttling and burst counters of `cpu.stat`.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    let s = read_map(n, "cpu.stat")?;
    let t = &mut st.cpu_stats.throttling_data;
    t.periods = s.get("nr_periods").copied().unwrap_or(0);
    t.throttled_periods = s.get("nr_throttled").copied().unwrap_or(0);
    t.throttled_time = s.get("throttled_time").copied().unwrap_or(0);
    st.cpu_stats.burst_data = BurstData {
        bursts_periods: s.get("nr_bursts").copied().unwrap_or(0),
        burst_time: s.get("burst_time").copied().unwrap_or(0),
    };
    Ok(())
}
