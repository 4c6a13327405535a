//! [`Stats`]: resource usage read from v1 or v2 files, with runc's JSON field names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fs::Node;
use crate::manager::Dir;

/// Resource usage of a cgroup (runc's `cgroups.Stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU usage and throttling.
    pub cpu_stats: CpuStats,
    /// Memory usage.
    pub memory_stats: MemoryStats,
    /// Task count.
    pub pids_stats: PidsStats,
    /// Block I/O.
    pub blkio_stats: BlkioStats,
    /// Huge pages, by page size (`2MB`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hugetlb_stats: BTreeMap<String, HugetlbStats>,
}

/// CPU statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Time used.
    pub cpu_usage: CpuUsage,
    /// CFS throttling.
    pub throttling_data: ThrottlingData,
}

/// CPU time used, in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total.
    pub total_usage: u64,
    /// Per CPU (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage: Vec<u64>,
    /// Per CPU in kernel mode (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage_in_kernelmode: Vec<u64>,
    /// Per CPU in user mode (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage_in_usermode: Vec<u64>,
    /// In kernel mode.
    pub usage_in_kernelmode: u64,
    /// In user mode.
    pub usage_in_usermode: u64,
}

/// CFS throttling counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThrottlingData {
    /// Periods elapsed.
    pub periods: u64,
    /// Periods throttled.
    pub throttled_periods: u64,
    /// Time throttled, ns.
    pub throttled_time: u64,
}

/// Usage, peak, failures and limit of one memory counter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryData {
    /// Current usage, bytes.
    pub usage: u64,
    /// Peak usage, bytes.
    pub max_usage: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
    /// Limit, bytes (`u64::MAX` when unlimited).
    pub limit: u64,
}

/// Memory statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Page cache, bytes.
    pub cache: u64,
    /// Memory.
    pub usage: MemoryData,
    /// Memory + swap.
    pub swap_usage: MemoryData,
    /// Swap alone (v2).
    pub swap_only_usage: MemoryData,
    /// Kernel memory (v1).
    pub kernel_usage: MemoryData,
    /// Kernel TCP buffers (v1).
    pub kernel_tcp_usage: MemoryData,
    /// Hierarchical accounting.
    pub use_hierarchy: bool,
    /// `memory.stat`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
}

/// Task statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Tasks now.
    pub current: u64,
    /// Limit (0 when unlimited).
    pub limit: u64,
}

/// One block I/O counter of a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlkioStatEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total` or empty.
    pub op: String,
    /// The counter.
    pub value: u64,
}

/// Block I/O statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes transferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioStatEntry>,
    /// Operations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioStatEntry>,
}

/// Huge-page usage of one page size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HugetlbStats {
    /// Current usage, bytes.
    pub usage: u64,
    /// Peak usage, bytes (v1).
    pub max_usage: u64,
    /// Allocation failures.
    pub failcnt: u64,
}

/// Parses a counter file value; `max` is `u64::MAX`, absent or unparsable is 0.
fn num(s: Option<String>) -> u64 {
    match s.as_deref().map(str::trim) {
        Some("max") => u64::MAX,
        Some(v) => v.parse().unwrap_or(0),
        None => 0,
    }
}

fn read_num(n: &Node, file: &str) -> Result<u64> {
    Ok(num(n.read_opt(file)?))
}

/// Parses `key value` lines.
fn key_values(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

fn read_map(n: &Node, file: &str) -> Result<BTreeMap<String, u64>> {
    Ok(n.read_opt(file)?
        .as_deref()
        .map(key_values)
        .unwrap_or_default())
}

fn list(s: Option<String>) -> Vec<u64> {
    s.unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The huge page sizes of this machine, as cgroup file names spell them (`2MB`, `1GB`).
fn hugepage_sizes() -> Vec<String> {
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

/// Reads the statistics of a v1 (or hybrid) cgroup.
pub(crate) fn stats_v1(dirs: &[Dir]) -> Result<Stats> {
    let mut st = Stats::default();
    let v1 = |c: &str| {
        dirs.iter()
            .find(|d| !d.node.unified() && d.has_controller(c))
            .map(|d| &d.node)
            .filter(|n| n.exists())
    };
    if let Some(n) = v1("cpuacct") {
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
    }
    if let Some(n) = v1("cpu") {
        let s = read_map(n, "cpu.stat")?;
        let t = &mut st.cpu_stats.throttling_data;
        t.periods = s.get("nr_periods").copied().unwrap_or(0);
        t.throttled_periods = s.get("nr_throttled").copied().unwrap_or(0);
        t.throttled_time = s.get("throttled_time").copied().unwrap_or(0);
    }
    if let Some(n) = v1("memory") {
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
    }
    if let Some(n) = v1("pids") {
        st.pids_stats = PidsStats {
            current: read_num(n, "pids.current")?,
            limit: match read_num(n, "pids.max")? {
                u64::MAX => 0,
                v => v,
            },
        };
    }
    if let Some(n) = v1("blkio") {
        let (bytes, ios) = if n.has_file("blkio.io_service_bytes_recursive") {
            (
                "blkio.io_service_bytes_recursive",
                "blkio.io_serviced_recursive",
            )
        } else {
            (
                "blkio.throttle.io_service_bytes_recursive",
                "blkio.throttle.io_serviced_recursive",
            )
        };
        st.blkio_stats.io_service_bytes_recursive = blkio_entries(n.read_opt(bytes)?);
        st.blkio_stats.io_serviced_recursive = blkio_entries(n.read_opt(ios)?);
    }
    match v1("hugetlb") {
        Some(n) => {
            for size in hugepage_sizes() {
                let f = |s: &str| format!("hugetlb.{size}.{s}");
                st.hugetlb_stats.insert(
                    size.clone(),
                    HugetlbStats {
                        usage: read_num(n, &f("usage_in_bytes"))?,
                        max_usage: read_num(n, &f("max_usage_in_bytes"))?,
                        failcnt: read_num(n, &f("failcnt"))?,
                    },
                );
            }
        }
        None => {
            if let Some(d) = dirs.iter().find(|d| d.node.unified() && d.node.exists()) {
                hugetlb_v2(&d.node, &mut st)?;
            }
        }
    }
    Ok(st)
}

/// Parses v1 blkio lines `MAJ:MIN Op value` (the `Total N` line has no device).
fn blkio_entries(s: Option<String>) -> Vec<BlkioStatEntry> {
    let mut out = Vec::new();
    for line in s.unwrap_or_default().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (dev, op, value) = match f.as_slice() {
            [dev, op, value] => (*dev, *op, *value),
            [dev, value] if dev.contains(':') => (*dev, "", *value),
            _ => continue,
        };
        let Some((maj, min)) = dev.split_once(':') else {
            continue;
        };
        if let (Ok(major), Ok(minor), Ok(value)) = (maj.parse(), min.parse(), value.parse()) {
            out.push(BlkioStatEntry {
                major,
                minor,
                op: op.to_owned(),
                value,
            });
        }
    }
    out
}

fn clock_ticks() -> u64 {
    rustix::param::clock_ticks_per_second().max(1)
}

fn hugetlb_v2(n: &Node, st: &mut Stats) -> Result<()> {
    for size in hugepage_sizes() {
        let current = format!("hugetlb.{size}.current");
        if !n.has_file(&current) {
            continue;
        }
        let events = read_map(n, &format!("hugetlb.{size}.events"))?;
        st.hugetlb_stats.insert(
            size.clone(),
            HugetlbStats {
                usage: read_num(n, &current)?,
                max_usage: 0,
                failcnt: events.get("max").copied().unwrap_or(0),
            },
        );
    }
    Ok(())
}

/// Reads the statistics of a v2 cgroup.
pub(crate) fn stats_v2(n: &Node) -> Result<Stats> {
    let mut st = Stats::default();
    let cpu = read_map(n, "cpu.stat")?;
    let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    st.cpu_stats.cpu_usage.total_usage = get(&cpu, "usage_usec") * 1000;
    st.cpu_stats.cpu_usage.usage_in_usermode = get(&cpu, "user_usec") * 1000;
    st.cpu_stats.cpu_usage.usage_in_kernelmode = get(&cpu, "system_usec") * 1000;
    st.cpu_stats.throttling_data = ThrottlingData {
        periods: get(&cpu, "nr_periods"),
        throttled_periods: get(&cpu, "nr_throttled"),
        throttled_time: get(&cpu, "throttled_usec") * 1000,
    };
    let m = &mut st.memory_stats;
    m.stats = read_map(n, "memory.stat")?;
    m.cache = get(&m.stats, "file");
    m.use_hierarchy = true;
    let events = read_map(n, "memory.events")?;
    m.usage = MemoryData {
        usage: read_num(n, "memory.current")?,
        max_usage: read_num(n, "memory.peak")?,
        failcnt: get(&events, "max"),
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
    st.pids_stats = PidsStats {
        current: read_num(n, "pids.current")?,
        limit: match read_num(n, "pids.max")? {
            u64::MAX => 0,
            v => v,
        },
    };
    for line in n.read_opt("io.stat")?.unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut st.blkio_stats.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut st.blkio_stats.io_service_bytes_recursive, "Write"),
                "rios" => (&mut st.blkio_stats.io_serviced_recursive, "Read"),
                "wios" => (&mut st.blkio_stats.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioStatEntry {
                major,
                minor,
                op: op.to_owned(),
                value,
            });
        }
    }
    hugetlb_v2(n, &mut st)?;
    Ok(st)
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
    fn blkio_lines() {
        let e = blkio_entries(Some(
            "8:0 Read 10\n8:0 Write 5\n8:16 7\nTotal 15\n".to_owned(),
        ));
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].major, e[0].minor, e[0].op.as_str(), e[0].value),
            (8, 0, "Read", 10)
        );
        assert_eq!((e[2].minor, e[2].op.as_str(), e[2].value), (16, "", 7));
    }

    #[test]
    fn key_value_parsing() {
        let m = key_values("usage_usec 12\nnr_periods 3\nbad\nx y\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m["usage_usec"], 12);
        assert_eq!(num(Some("max\n".to_owned())), u64::MAX);
        assert_eq!(num(None), 0);
    }
}
