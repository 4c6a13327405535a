//! What the v1 and v2 code share (runc's `fscommon` and `utils.go`): reading numbers, `key value`
//! files and lists; the warnings about ignored resources; huge page sizes; and the controllers
//! whose files are the same on v1 and v2 (`pids.*`, `cpuset.cpus`/`cpuset.mems`, `rdma.*`).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::{BlockIo, Cpu, Resources, ThrottleDevice};
use crate::stats::{CpusetStats, PidsStats, RdmaStats, parse_list, parse_rdma};

/// Warns about the resources that `set` ignores (on v2 when `v2`).
pub(crate) fn warn_ignored(r: &Resources, v2: bool) {
    if let Some(m) = &r.memory {
        if m.kernel.is_some_and(|v| v != 0) || m.kernel_tcp.is_some_and(|v| v != 0) {
            tracing::warn!("kernel memory limits (memory.kernel, memory.kernelTCP) are ignored");
        }
        if v2 && m.swappiness.is_some_and(|s| s as i64 != -1) {
            tracing::warn!("memory.swappiness is not supported on cgroup v2: ignored");
        }
        if v2 && m.disable_oom_killer == Some(true) {
            tracing::warn!("memory.disableOOMKiller is not supported on cgroup v2: ignored");
        }
    }
    if v2
        && r.block_io
            .as_ref()
            .is_some_and(|b| b.leaf_weight.is_some_and(|w| w != 0))
    {
        tracing::warn!("blockIO.leafWeight is not supported on cgroup v2: ignored");
    }
    if v2 && r.network.is_some() {
        tracing::warn!("network (net_cls/net_prio) is not supported on cgroup v2: ignored");
    }
    if !r.devices.is_empty() {
        tracing::debug!("device rules are applied by the caller, not by Manager::set");
    }
}

/// Decimal, with -1 (or any negative) as `max`.
pub(crate) fn num_or_max(v: i64) -> String {
    if v < 0 {
        "max".to_owned()
    } else {
        v.to_string()
    }
}

/// Reads an unsigned counter (`max` is `u64::MAX`); anything else is an error.
pub(crate) fn read_u64(n: &Node, file: &str) -> Result<u64> {
    let s = n.read(file)?;
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| Error::Parse {
        path: n.path().join(file),
        value: t.to_owned(),
        reason: "not an unsigned integer".to_owned(),
    })
}

/// Parses a counter file value; `max` is `u64::MAX`, absent or unparsable is 0.
pub(crate) fn num(s: Option<String>) -> u64 {
    match s.as_deref().map(str::trim) {
        Some("max") => u64::MAX,
        Some(v) => v.parse().unwrap_or(0),
        None => 0,
    }
}

/// Reads a counter for the statistics (see [`num`]).
pub(crate) fn read_num(n: &Node, file: &str) -> Result<u64> {
    Ok(num(n.read_opt(file)?))
}

/// Parses `key value` lines.
pub(crate) fn key_values(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Reads a file of `key value` lines (empty when absent).
pub(crate) fn read_map(n: &Node, file: &str) -> Result<BTreeMap<String, u64>> {
    Ok(n.read_opt(file)?
        .as_deref()
        .map(key_values)
        .unwrap_or_default())
}

/// Parses whitespace-separated numbers (unparsable ones left out).
pub(crate) fn list(s: Option<String>) -> Vec<u64> {
    s.unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The `oom_kill N` count of a `memory.events` (v2) or `memory.oom_control` (v1) text.
pub(crate) fn oom_kill(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .map(|v| v.trim().parse().unwrap_or(0))
}

/// The four throttle lists of `b`: (v1 file, v2 `io.max` key, devices).
pub(crate) fn throttles(b: &BlockIo) -> [(&'static str, &'static str, &[ThrottleDevice]); 4] {
    [
        (
            "blkio.throttle.read_bps_device",
            "rbps",
            &b.throttle_read_bps_device,
        ),
        (
            "blkio.throttle.write_bps_device",
            "wbps",
            &b.throttle_write_bps_device,
        ),
        (
            "blkio.throttle.read_iops_device",
            "riops",
            &b.throttle_read_iops_device,
        ),
        (
            "blkio.throttle.write_iops_device",
            "wiops",
            &b.throttle_write_iops_device,
        ),
    ]
}

/// Whether a v2 cgroup has `controller` enabled (listed in its `cgroup.controllers`).
pub(crate) fn v2_has_controller(n: &Node, controller: &str) -> bool {
    n.read_opt("cgroup.controllers")
        .ok()
        .flatten()
        .is_some_and(|c| c.split_whitespace().any(|x| x == controller))
}

/// Refuses huge page sizes the host does not have (their files would not exist).
pub(crate) fn check_page_sizes(r: &Resources) -> Result<()> {
    let sizes = hugepage_sizes();
    for h in &r.hugepage_limits {
        if !sizes.contains(&h.page_size) {
            return Err(Error::Unsupported {
                resource: format!("hugetlb {}", h.page_size),
                reason: format!(
                    "the host has no {} huge pages (sizes: {}), so hugetlb.{}.limit_in_bytes / \
                     hugetlb.{}.max do not exist",
                    h.page_size,
                    if sizes.is_empty() {
                        "none".to_owned()
                    } else {
                        sizes.join(", ")
                    },
                    h.page_size,
                    h.page_size
                ),
            });
        }
    }
    Ok(())
}

/// The huge page sizes of this machine, as cgroup file names spell them (`2MB`, `1GB`).
pub(crate) fn hugepage_sizes() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(page_size_name(kb * 1024))
        })
        .collect();
    out.sort();
    out
}

fn page_size_name(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1024 && v.is_multiple_of(1024) && i < UNITS.len() - 1 {
        v /= 1024;
        i += 1;
    }
    format!("{v}{}", UNITS[i])
}

/// Writes `pids.max` (a limit of 0 or less is `max`).
pub(crate) fn set_pids(n: &Node, limit: i64) -> Result<()> {
    n.write("pids.max", &num_or_max(if limit <= 0 { -1 } else { limit }))
}

/// Reads `pids.current` and `pids.max` (`max` is 0).
pub(crate) fn pids_stats(n: &Node) -> Result<PidsStats> {
    Ok(PidsStats {
        current: read_num(n, "pids.current")?,
        limit: match read_num(n, "pids.max")? {
            u64::MAX => 0,
            v => v,
        },
    })
}

/// Writes `cpuset.cpus` and `cpuset.mems` (empty values are left alone).
pub(crate) fn set_cpuset(n: &Node, cpu: &Cpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus.as_deref().filter(|s| !s.is_empty()) {
        n.write("cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems.as_deref().filter(|s| !s.is_empty()) {
        n.write("cpuset.mems", mems)?;
    }
    Ok(())
}

/// Reads the cpuset settings, the cpus and mems from the given files (v1 `cpuset.cpus`, v2
/// `cpuset.cpus.effective`...).
pub(crate) fn cpuset_stats(n: &Node, cpus_file: &str, mems_file: &str) -> Result<CpusetStats> {
    let flag = |f: &str| read_num(n, f);
    Ok(CpusetStats {
        cpus: parse_list(&n.read_opt(cpus_file)?.unwrap_or_default()),
        mems: parse_list(&n.read_opt(mems_file)?.unwrap_or_default()),
        cpu_exclusive: flag("cpuset.cpu_exclusive")?,
        mem_hardwall: flag("cpuset.mem_hardwall")?,
        mem_exclusive: flag("cpuset.mem_exclusive")?,
        memory_migrate: flag("cpuset.memory_migrate")?,
        memory_spread_page: flag("cpuset.memory_spread_page")?,
        memory_spread_slab: flag("cpuset.memory_spread_slab")?,
        memory_pressure: flag("cpuset.memory_pressure")?,
        sched_load_balance: flag("cpuset.sched_load_balance")?,
        sched_relax_domain_level: n
            .read_opt("cpuset.sched_relax_domain_level")?
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    })
}

/// Writes `rdma.max`, one line per device.
pub(crate) fn set_rdma(n: &Node, r: &Resources) -> Result<()> {
    for (dev, l) in &r.rdma {
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects {
            line.push_str(&format!(" hca_object={o}"));
        }
        n.write("rdma.max", &line)?;
    }
    Ok(())
}

/// Reads `rdma.max` and `rdma.current`.
pub(crate) fn rdma_stats(n: &Node) -> Result<RdmaStats> {
    Ok(RdmaStats {
        rdma_limit: parse_rdma(&n.read_opt("rdma.max")?.unwrap_or_default()),
        rdma_current: parse_rdma(&n.read_opt("rdma.current")?.unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_names() {
        assert_eq!(page_size_name(2 * 1024 * 1024), "2MB");
        assert_eq!(page_size_name(1024 * 1024 * 1024), "1GB");
        assert_eq!(page_size_name(64 * 1024), "64KB");
    }

    #[test]
    fn key_value_parsing() {
        let m = key_values("usage_usec 12\nnr_periods 3\nbad\nx y\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m["usage_usec"], 12);
        assert_eq!(num(Some("max\n".to_owned())), u64::MAX);
        assert_eq!(num(None), 0);
    }

    #[test]
    fn oom_kill_lines() {
        assert_eq!(oom_kill("oom 3\noom_kill 2\n"), Some(2));
        assert_eq!(oom_kill("oom_kill_disable 0\nunder_oom 0\n"), None);
        assert_eq!(oom_kill("oom_kill x\n"), Some(0));
    }
}
