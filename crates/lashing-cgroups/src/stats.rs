//! [`Stats`]: resource usage with runc's JSON field names, and parsers of the kernel's text
//! formats behind it. Which files are read into it is the business of each controller's module
//! (`v1::*`, `v2::*`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Resource usage of a cgroup (runc's `cgroups.Stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU usage and throttling.
    pub cpu_stats: CpuStats,
    /// cpuset configuration.
    #[serde(default)]
    pub cpuset_stats: CpusetStats,
    /// Memory usage.
    pub memory_stats: MemoryStats,
    /// Task count.
    pub pids_stats: PidsStats,
    /// Block I/O.
    pub blkio_stats: BlkioStats,
    /// Huge pages, by page size (`2MB`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hugetlb_stats: BTreeMap<String, HugetlbStats>,
    /// RDMA limits and usage.
    #[serde(default)]
    pub rdma_stats: RdmaStats,
    /// Miscellaneous scalar resources (v2 `misc`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub misc_stats: BTreeMap<String, MiscStats>,
}

/// Pressure stall information of one kind (`some` or `full`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PsiData {
    /// Share of time stalled over 10 s, percent.
    pub avg10: f64,
    /// Over 60 s.
    pub avg60: f64,
    /// Over 300 s.
    pub avg300: f64,
    /// Total stall time, µs.
    pub total: u64,
}

/// Pressure stall information of a resource (`*.pressure`, cgroup v2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PsiStats {
    /// Some tasks stalled.
    #[serde(default)]
    pub some: PsiData,
    /// All tasks stalled.
    #[serde(default)]
    pub full: PsiData,
}

/// CFS burst counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BurstData {
    /// Periods in which a burst happened.
    pub bursts_periods: u64,
    /// Time spent bursting, ns.
    pub burst_time: u64,
}

/// cpuset settings of the cgroup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpusetStats {
    /// CPUs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// `cpuset.cpu_exclusive`.
    pub cpu_exclusive: u64,
    /// Memory nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// `cpuset.mem_hardwall`.
    pub mem_hardwall: u64,
    /// `cpuset.mem_exclusive`.
    pub mem_exclusive: u64,
    /// `cpuset.memory_migrate`.
    pub memory_migrate: u64,
    /// `cpuset.memory_spread_page`.
    pub memory_spread_page: u64,
    /// `cpuset.memory_spread_slab`.
    pub memory_spread_slab: u64,
    /// `cpuset.memory_pressure`.
    pub memory_pressure: u64,
    /// `cpuset.sched_load_balance`.
    pub sched_load_balance: u64,
    /// `cpuset.sched_relax_domain_level`.
    pub sched_relax_domain_level: i64,
}

/// Pages of one kind per NUMA node (v1 `memory.numa_stat`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageStats {
    /// All nodes.
    pub total: u64,
    /// Per node.
    pub nodes: BTreeMap<u8, u64>,
}

/// `memory.numa_stat` lines of one scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageUsageByNumaInner {
    /// `total`.
    pub total: PageStats,
    /// `file`.
    pub file: PageStats,
    /// `anon`.
    pub anon: PageStats,
    /// `unevictable`.
    pub unevictable: PageStats,
}

/// Page usage per NUMA node (v1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageUsageByNuma {
    /// This cgroup.
    #[serde(flatten)]
    pub inner: PageUsageByNumaInner,
    /// This cgroup and its descendants.
    pub hierarchical: PageUsageByNumaInner,
}

/// One RDMA device's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RdmaEntry {
    /// Device name.
    pub device: String,
    /// HCA handles (`u32::MAX` for `max`).
    pub hca_handles: u32,
    /// HCA objects (`u32::MAX` for `max`).
    pub hca_objects: u32,
}

/// RDMA limits and usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RdmaStats {
    /// `rdma.max`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rdma_limit: Vec<RdmaEntry>,
    /// `rdma.current`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rdma_current: Vec<RdmaEntry>,
}

/// One misc resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MiscStats {
    /// `misc.current`.
    pub usage: u64,
    /// `misc.events` (times the limit was hit).
    pub events: u64,
}

/// CPU statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Time used.
    pub cpu_usage: CpuUsage,
    /// CFS throttling.
    pub throttling_data: ThrottlingData,
    /// Pressure (v2 `cpu.pressure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
    /// CFS burst counters.
    #[serde(default)]
    pub burst_data: BurstData,
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
    /// Pages per NUMA node (v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_usage_by_numa: Option<PageUsageByNuma>,
    /// Pressure (v2 `memory.pressure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
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
    /// Queued operations (v1 CFQ/BFQ).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_queue_recursive: Vec<BlkioStatEntry>,
    /// Service time (v1 CFQ/BFQ).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioStatEntry>,
    /// Wait time (v1 CFQ/BFQ).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioStatEntry>,
    /// Merged operations (v1 CFQ/BFQ).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioStatEntry>,
    /// Disk time (v1 CFQ/BFQ).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioStatEntry>,
    /// Sectors (v1 CFQ/BFQ).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioStatEntry>,
    /// io.cost usage (v2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_cost_usage: Vec<BlkioStatEntry>,
    /// io.cost wait (v2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_cost_wait: Vec<BlkioStatEntry>,
    /// io.cost indebt (v2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_cost_indebt: Vec<BlkioStatEntry>,
    /// io.cost indelay (v2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_cost_indelay: Vec<BlkioStatEntry>,
    /// Pressure (v2 `io.pressure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
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

/// Parses a `*.pressure` file.
pub fn parse_psi(text: &str) -> PsiStats {
    let mut out = PsiStats::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let data = match f.next() {
            Some("some") => &mut out.some,
            Some("full") => &mut out.full,
            _ => continue,
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            match k {
                "avg10" => data.avg10 = v.parse().unwrap_or(0.0),
                "avg60" => data.avg60 = v.parse().unwrap_or(0.0),
                "avg300" => data.avg300 = v.parse().unwrap_or(0.0),
                "total" => data.total = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    out
}

/// Parses a cpu or memory-node list (`0-3,5`).
pub fn parse_list(s: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(v) = part.parse() {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Parses `rdma.max` / `rdma.current` lines (`dev hca_handle=N hca_object=max`).
pub fn parse_rdma(text: &str) -> Vec<RdmaEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let mut e = RdmaEntry {
                device: f.next()?.to_owned(),
                ..RdmaEntry::default()
            };
            for kv in f {
                let (k, v) = kv.split_once('=')?;
                let v = if v == "max" {
                    u32::MAX
                } else {
                    v.parse().ok()?
                };
                match k {
                    "hca_handle" => e.hca_handles = v,
                    "hca_object" => e.hca_objects = v,
                    _ => {}
                }
            }
            Some(e)
        })
        .collect()
}

/// Parses v1 `memory.numa_stat`.
pub fn parse_numa_stat(text: &str) -> PageUsageByNuma {
    let mut out = PageUsageByNuma::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((key, total)) = f.next().and_then(|kv| kv.split_once('=')) else {
            continue;
        };
        let (scope, key) = match key.strip_prefix("hierarchical_") {
            Some(k) => (&mut out.hierarchical, k),
            None => (&mut out.inner, key),
        };
        let ps = match key {
            "total" => &mut scope.total,
            "file" => &mut scope.file,
            "anon" => &mut scope.anon,
            "unevictable" => &mut scope.unevictable,
            _ => continue,
        };
        ps.total = total.parse().unwrap_or(0);
        for kv in f {
            if let Some((n, v)) = kv.split_once('=')
                && let Some(node) = n.strip_prefix('N').and_then(|n| n.parse().ok())
            {
                ps.nodes.insert(node, v.parse().unwrap_or(0));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_lists_rdma_numa() {
        let p = parse_psi(
            "some avg10=1.50 avg60=0.25 avg300=0.00 total=1234\nfull avg10=0.10 avg60=0.00 avg300=0.00 total=56\n",
        );
        assert_eq!(p.some.avg10, 1.5);
        assert_eq!(p.some.total, 1234);
        assert_eq!(p.full.total, 56);
        assert_eq!(parse_list("0-2,5\n"), [0, 1, 2, 5]);
        assert!(parse_list("").is_empty());
        let r = parse_rdma("mlx4_0 hca_handle=2 hca_object=max\n");
        assert_eq!(r[0].device, "mlx4_0");
        assert_eq!((r[0].hca_handles, r[0].hca_objects), (2, u32::MAX));
        let n = parse_numa_stat("total=10 N0=6 N1=4\nanon=3 N0=3\nhierarchical_total=20 N0=20\n");
        assert_eq!(n.inner.total.total, 10);
        assert_eq!(n.inner.total.nodes[&1], 4);
        assert_eq!(n.inner.anon.nodes[&0], 3);
        assert_eq!(n.hierarchical.total.total, 20);
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["total"]["total"], 10);
        assert_eq!(json["hierarchical"]["total"]["nodes"]["0"], 20);
    }
}
