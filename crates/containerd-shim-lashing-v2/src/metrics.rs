//! `Stats`: the library's cgroup statistics in containerd's metrics types
//! (`io.containerd.cgroups.v1.Metrics` on a v1 or hybrid host, `io.containerd.cgroups.v2.Metrics`
//! on a unified one, as the runc v2 shim chooses).

use containerd_shim::protos::cgroups::metrics as v1;
use containerd_shim::protos::cgroups_v2::metrics as v2;
use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use lashing_cgroups::stats::BlkioStatEntry;
use lashing_cgroups::{CgroupMode, Stats};

/// The statistics as containerd's `Any`, v1 or v2 by `mode`.
pub fn to_any(
    s: &Stats,
    mode: CgroupMode,
) -> Result<Any, containerd_shim::protos::protobuf::Error> {
    let (type_url, value) = if mode == CgroupMode::Unified {
        (
            "io.containerd.cgroups.v2.Metrics",
            to_v2(s).write_to_bytes()?,
        )
    } else {
        (
            "io.containerd.cgroups.v1.Metrics",
            to_v1(s).write_to_bytes()?,
        )
    };
    Ok(Any {
        type_url: type_url.into(),
        value,
        ..Default::default()
    })
}

fn stat(s: &Stats, key: &str) -> u64 {
    s.memory_stats.stats.get(key).copied().unwrap_or(0)
}

fn blkio(entries: &[BlkioStatEntry]) -> Vec<v1::BlkIOEntry> {
    entries
        .iter()
        .map(|e| v1::BlkIOEntry {
            op: e.op.clone(),
            major: e.major,
            minor: e.minor,
            value: e.value,
            ..Default::default()
        })
        .collect()
}

fn mem_entry(d: &lashing_cgroups::stats::MemoryData) -> v1::MemoryEntry {
    v1::MemoryEntry {
        limit: d.limit,
        usage: d.usage,
        max: d.max_usage,
        failcnt: d.failcnt,
        ..Default::default()
    }
}

/// cgroup v1 metrics (containerd/cgroups' `v1.Metrics`).
pub fn to_v1(s: &Stats) -> v1::Metrics {
    let c = &s.cpu_stats;
    let m = &s.memory_stats;
    let b = &s.blkio_stats;
    let memory = v1::MemoryStat {
        cache: m.cache,
        rss: stat(s, "rss"),
        rss_huge: stat(s, "rss_huge"),
        mapped_file: stat(s, "mapped_file"),
        dirty: stat(s, "dirty"),
        writeback: stat(s, "writeback"),
        pg_pg_in: stat(s, "pgpgin"),
        pg_pg_out: stat(s, "pgpgout"),
        pg_fault: stat(s, "pgfault"),
        pg_maj_fault: stat(s, "pgmajfault"),
        inactive_anon: stat(s, "inactive_anon"),
        active_anon: stat(s, "active_anon"),
        inactive_file: stat(s, "inactive_file"),
        active_file: stat(s, "active_file"),
        unevictable: stat(s, "unevictable"),
        hierarchical_memory_limit: stat(s, "hierarchical_memory_limit"),
        hierarchical_swap_limit: stat(s, "hierarchical_memsw_limit"),
        total_cache: stat(s, "total_cache"),
        total_rss: stat(s, "total_rss"),
        total_rss_huge: stat(s, "total_rss_huge"),
        total_mapped_file: stat(s, "total_mapped_file"),
        total_dirty: stat(s, "total_dirty"),
        total_writeback: stat(s, "total_writeback"),
        total_pg_pg_in: stat(s, "total_pgpgin"),
        total_pg_pg_out: stat(s, "total_pgpgout"),
        total_pg_fault: stat(s, "total_pgfault"),
        total_pg_maj_fault: stat(s, "total_pgmajfault"),
        total_inactive_anon: stat(s, "total_inactive_anon"),
        total_active_anon: stat(s, "total_active_anon"),
        total_inactive_file: stat(s, "total_inactive_file"),
        total_active_file: stat(s, "total_active_file"),
        total_unevictable: stat(s, "total_unevictable"),
        usage: Some(mem_entry(&m.usage)).into(),
        swap: Some(mem_entry(&m.swap_usage)).into(),
        kernel: Some(mem_entry(&m.kernel_usage)).into(),
        kernel_tcp: Some(mem_entry(&m.kernel_tcp_usage)).into(),
        ..Default::default()
    };
    v1::Metrics {
        hugetlb: s
            .hugetlb_stats
            .iter()
            .map(|(size, h)| v1::HugetlbStat {
                usage: h.usage,
                max: h.max_usage,
                failcnt: h.failcnt,
                pagesize: size.clone(),
                ..Default::default()
            })
            .collect(),
        pids: Some(v1::PidsStat {
            current: s.pids_stats.current,
            limit: s.pids_stats.limit,
            ..Default::default()
        })
        .into(),
        cpu: Some(v1::CPUStat {
            usage: Some(v1::CPUUsage {
                total: c.cpu_usage.total_usage,
                kernel: c.cpu_usage.usage_in_kernelmode,
                user: c.cpu_usage.usage_in_usermode,
                per_cpu: c.cpu_usage.percpu_usage.clone(),
                ..Default::default()
            })
            .into(),
            throttling: Some(v1::Throttle {
                periods: c.throttling_data.periods,
                throttled_periods: c.throttling_data.throttled_periods,
                throttled_time: c.throttling_data.throttled_time,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .into(),
        memory: Some(memory).into(),
        blkio: Some(v1::BlkIOStat {
            io_service_bytes_recursive: blkio(&b.io_service_bytes_recursive),
            io_serviced_recursive: blkio(&b.io_serviced_recursive),
            io_queued_recursive: blkio(&b.io_queue_recursive),
            io_service_time_recursive: blkio(&b.io_service_time_recursive),
            io_wait_time_recursive: blkio(&b.io_wait_time_recursive),
            io_merged_recursive: blkio(&b.io_merged_recursive),
            io_time_recursive: blkio(&b.io_time_recursive),
            sectors_recursive: blkio(&b.sectors_recursive),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

/// cgroup v2 metrics (containerd/cgroups' `v2.Metrics`).
pub fn to_v2(s: &Stats) -> v2::Metrics {
    let c = &s.cpu_stats;
    let m = &s.memory_stats;
    // The library reports v2 CPU times in nanoseconds, as runc does.
    let usec = |ns: u64| ns / 1000;
    let mut io: std::collections::BTreeMap<(u64, u64), v2::IOEntry> = Default::default();
    for (entries, bytes) in [
        (&s.blkio_stats.io_service_bytes_recursive, true),
        (&s.blkio_stats.io_serviced_recursive, false),
    ] {
        for e in entries {
            let x = io.entry((e.major, e.minor)).or_insert_with(|| v2::IOEntry {
                major: e.major,
                minor: e.minor,
                ..Default::default()
            });
            match (e.op.as_str(), bytes) {
                ("Read", true) => x.rbytes = e.value,
                ("Write", true) => x.wbytes = e.value,
                ("Read", false) => x.rios = e.value,
                ("Write", false) => x.wios = e.value,
                _ => {}
            }
        }
    }
    let memory = v2::MemoryStat {
        anon: stat(s, "anon"),
        file: stat(s, "file"),
        kernel_stack: stat(s, "kernel_stack"),
        slab: stat(s, "slab"),
        sock: stat(s, "sock"),
        shmem: stat(s, "shmem"),
        file_mapped: stat(s, "file_mapped"),
        file_dirty: stat(s, "file_dirty"),
        file_writeback: stat(s, "file_writeback"),
        anon_thp: stat(s, "anon_thp"),
        inactive_anon: stat(s, "inactive_anon"),
        active_anon: stat(s, "active_anon"),
        inactive_file: stat(s, "inactive_file"),
        active_file: stat(s, "active_file"),
        unevictable: stat(s, "unevictable"),
        slab_reclaimable: stat(s, "slab_reclaimable"),
        slab_unreclaimable: stat(s, "slab_unreclaimable"),
        pgfault: stat(s, "pgfault"),
        pgmajfault: stat(s, "pgmajfault"),
        workingset_refault: stat(s, "workingset_refault"),
        workingset_activate: stat(s, "workingset_activate"),
        workingset_nodereclaim: stat(s, "workingset_nodereclaim"),
        pgrefill: stat(s, "pgrefill"),
        pgscan: stat(s, "pgscan"),
        pgsteal: stat(s, "pgsteal"),
        pgactivate: stat(s, "pgactivate"),
        pgdeactivate: stat(s, "pgdeactivate"),
        pglazyfree: stat(s, "pglazyfree"),
        pglazyfreed: stat(s, "pglazyfreed"),
        thp_fault_alloc: stat(s, "thp_fault_alloc"),
        thp_collapse_alloc: stat(s, "thp_collapse_alloc"),
        usage: m.usage.usage,
        usage_limit: m.usage.limit,
        swap_usage: m.swap_only_usage.usage,
        swap_limit: m.swap_only_usage.limit,
        max_usage: m.usage.max_usage,
        swap_max_usage: m.swap_only_usage.max_usage,
        ..Default::default()
    };
    v2::Metrics {
        pids: Some(v2::PidsStat {
            current: s.pids_stats.current,
            limit: s.pids_stats.limit,
            ..Default::default()
        })
        .into(),
        cpu: Some(v2::CPUStat {
            usage_usec: usec(c.cpu_usage.total_usage),
            user_usec: usec(c.cpu_usage.usage_in_usermode),
            system_usec: usec(c.cpu_usage.usage_in_kernelmode),
            nr_periods: c.throttling_data.periods,
            nr_throttled: c.throttling_data.throttled_periods,
            throttled_usec: usec(c.throttling_data.throttled_time),
            ..Default::default()
        })
        .into(),
        memory: Some(memory).into(),
        io: Some(v2::IOStat {
            usage: io.into_values().collect(),
            ..Default::default()
        })
        .into(),
        hugetlb: s
            .hugetlb_stats
            .iter()
            .map(|(size, h)| v2::HugeTlbStat {
                current: h.usage,
                max: h.max_usage,
                failcnt: h.failcnt,
                pagesize: size.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stats {
        let mut s = Stats::default();
        s.pids_stats.current = 3;
        s.pids_stats.limit = 10;
        s.cpu_stats.cpu_usage.total_usage = 5_000_000;
        s.cpu_stats.cpu_usage.usage_in_usermode = 3_000_000;
        s.memory_stats.usage.usage = 4096;
        s.memory_stats.usage.limit = 1 << 20;
        s.memory_stats.cache = 7;
        s.memory_stats.stats.insert("total_rss".into(), 11);
        s.memory_stats.stats.insert("anon".into(), 13);
        s.blkio_stats
            .io_service_bytes_recursive
            .push(BlkioStatEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 512,
            });
        s
    }

    #[test]
    fn v1_fields_map() {
        let m = to_v1(&sample());
        assert_eq!(m.pids.current, 3);
        assert_eq!(m.pids.limit, 10);
        assert_eq!(m.cpu.usage.total, 5_000_000);
        assert_eq!(m.cpu.usage.user, 3_000_000);
        assert_eq!(m.memory.usage.usage, 4096);
        assert_eq!(m.memory.usage.limit, 1 << 20);
        assert_eq!(m.memory.cache, 7);
        assert_eq!(m.memory.total_rss, 11);
        assert_eq!(m.blkio.io_service_bytes_recursive[0].value, 512);
    }

    #[test]
    fn v2_fields_map_in_microseconds() {
        let m = to_v2(&sample());
        assert_eq!(m.cpu.usage_usec, 5_000);
        assert_eq!(m.cpu.user_usec, 3_000);
        assert_eq!(m.memory.anon, 13);
        assert_eq!(m.memory.usage, 4096);
        assert_eq!(m.io.usage[0].rbytes, 512);
        assert_eq!(m.pids.current, 3);
    }

    #[test]
    fn any_type_urls_follow_the_mode() {
        let s = sample();
        assert_eq!(
            to_any(&s, CgroupMode::Hybrid).unwrap().type_url,
            "io.containerd.cgroups.v1.Metrics"
        );
        let a = to_any(&s, CgroupMode::Unified).unwrap();
        assert_eq!(a.type_url, "io.containerd.cgroups.v2.Metrics");
        let back = v2::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!(back.pids.limit, 10);
    }
}
