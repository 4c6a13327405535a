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

fn read_psi(n: &Node, file: &str) -> Result<Option<PsiStats>> {
    // Reading a pressure file fails with EOPNOTSUPP when PSI is disabled: no PSI then.
    match n.read_opt(file) {
        Ok(v) => Ok(v.as_deref().map(parse_psi)),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e),
    }
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

fn cpuset_stats(n: &Node, cpus_file: &str, mems_file: &str) -> Result<CpusetStats> {
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

fn rdma_stats(n: &Node) -> Result<RdmaStats> {
    Ok(RdmaStats {
        rdma_limit: parse_rdma(&n.read_opt("rdma.max")?.unwrap_or_default()),
        rdma_current: parse_rdma(&n.read_opt("rdma.current")?.unwrap_or_default()),
    })
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
        st.cpu_stats.burst_data = BurstData {
            bursts_periods: s.get("nr_bursts").copied().unwrap_or(0),
            burst_time: s.get("burst_time").copied().unwrap_or(0),
        };
    }
    if let Some(n) = v1("cpuset") {
        st.cpuset_stats = cpuset_stats(n, "cpuset.cpus", "cpuset.mems")?;
    }
    if let Some(n) = v1("rdma") {
        st.rdma_stats = rdma_stats(n)?;
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
        m.page_usage_by_numa = n
            .read_opt("memory.numa_stat")?
            .as_deref()
            .map(parse_numa_stat);
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
        // The scheduler statistics: CFQ names them blkio.*, BFQ blkio.bfq.*.
        let prefix = if n.has_file("blkio.io_queued_recursive") {
            "blkio."
        } else {
            "blkio.bfq."
        };
        let b = &mut st.blkio_stats;
        for (file, list) in [
            ("io_queued_recursive", &mut b.io_queue_recursive),
            (
                "io_service_time_recursive",
                &mut b.io_service_time_recursive,
            ),
            ("io_wait_time_recursive", &mut b.io_wait_time_recursive),
            ("io_merged_recursive", &mut b.io_merged_recursive),
            ("time_recursive", &mut b.io_time_recursive),
            ("sectors_recursive", &mut b.sectors_recursive),
        ] {
            *list = blkio_entries(n.read_opt(&format!("{prefix}{file}"))?);
        }
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
    st.cpu_stats.burst_data = BurstData {
        bursts_periods: get(&cpu, "nr_bursts"),
        burst_time: get(&cpu, "burst_usec") * 1000,
    };
    st.cpu_stats.psi = read_psi(n, "cpu.pressure")?;
    st.memory_stats.psi = read_psi(n, "memory.pressure")?;
    st.blkio_stats.psi = read_psi(n, "io.pressure")?;
    st.cpuset_stats = cpuset_stats(n, "cpuset.cpus.effective", "cpuset.mems.effective")?;
    st.rdma_stats = rdma_stats(n)?;
    let misc_events = read_map(n, "misc.events")?;
    for (name, usage) in read_map(n, "misc.current")? {
        let events = misc_events
            .get(&format!("{name}.max"))
            .copied()
            .unwrap_or(0);
        st.misc_stats.insert(name, MiscStats { usage, events });
    }
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
            let b = &mut st.blkio_stats;
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "dbytes" => (&mut b.io_service_bytes_recursive, "Discard"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                "dios" => (&mut b.io_serviced_recursive, "Discard"),
                "cost.usage" => (&mut b.io_cost_usage, ""),
                "cost.wait" => (&mut b.io_cost_wait, ""),
                "cost.indebt" => (&mut b.io_cost_indebt, ""),
                "cost.indelay" => (&mut b.io_cost_indelay, ""),
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

    #[test]
    fn key_value_parsing() {
        let m = key_values("usage_usec 12\nnr_periods 3\nbad\nx y\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m["usage_usec"], 12);
        assert_eq!(num(Some("max\n".to_owned())), u64::MAX);
        assert_eq!(num(None), 0);
    }
}
