//! `lashing events`: container events as JSON lines, as runc's (`{"type":"stats"|"oom","id":...,
//! "data":...}`): statistics every `--interval` (or once with `--stats`) and OOM notifications.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use lashing::{Container, Status};
use lashing_cgroups::OomEvent;
use lashing_cgroups::stats as cg;
use serde::Serialize;

use super::CmdResult;
use crate::cli::Globals;
use crate::error::CliError;

/// `lashing events` options (as runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// set the stats collection interval
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    interval: String,
    /// display the container's stats then exit
    #[arg(long)]
    stats: bool,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// One event (runc's `types.Event`).
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    /// `stats` or `oom`.
    #[serde(rename = "type")]
    pub typ: &'static str,
    /// Container id.
    pub id: &'a str,
    /// The statistics (stats events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

fn zero(v: &u64) -> bool {
    *v == 0
}

/// runc's `types.Stats`.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    cpu: Cpu,
    cpuset: CpuSet,
    memory: Memory,
    pids: Pids,
    blkio: Blkio,
    hugetlb: BTreeMap<String, Usage>,
    intel_rdt: BTreeMap<String, serde_json::Value>,
    network_interfaces: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rdma: Option<cg::RdmaStats>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    misc: BTreeMap<String, cg::MiscStats>,
}

/// Usage counters: runc's `Hugetlb`, and its `MemoryEntry` after the limit.
#[derive(Debug, Default, Serialize)]
struct Usage {
    #[serde(skip_serializing_if = "zero")]
    usage: u64,
    #[serde(skip_serializing_if = "zero")]
    max: u64,
    failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    major: u64,
    #[serde(skip_serializing_if = "zero")]
    minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    op: String,
    #[serde(skip_serializing_if = "zero")]
    value: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    io_queue_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_merged_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    io_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sectors_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    psi: Option<cg::PsiStats>,
}

#[derive(Debug, Default, Serialize)]
struct Pids {
    #[serde(skip_serializing_if = "zero")]
    current: u64,
    #[serde(skip_serializing_if = "zero")]
    limit: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    periods: u64,
    #[serde(skip_serializing_if = "zero")]
    throttled_periods: u64,
    #[serde(skip_serializing_if = "zero")]
    throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
struct CpuUsage {
    kernel: u64,
    user: u64,
    #[serde(skip_serializing_if = "zero")]
    total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    percpu_user: Vec<u64>,
}

#[derive(Debug, Default, Serialize)]
struct Cpu {
    usage: CpuUsage,
    throttling: Throttling,
    #[serde(skip_serializing_if = "Option::is_none")]
    psi: Option<cg::PsiStats>,
}

#[derive(Debug, Default, Serialize)]
struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cpus: Vec<u16>,
    cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mems: Vec<u16>,
    mem_hardwall: u64,
    mem_exclusive: u64,
    memory_migrate: u64,
    memory_spread_page: u64,
    memory_spread_slab: u64,
    memory_pressure: u64,
    sched_load_balance: u64,
    sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Serialize)]
struct MemoryEntry {
    limit: u64,
    #[serde(flatten)]
    counts: Usage,
}

#[derive(Debug, Default, Serialize)]
struct Memory {
    #[serde(skip_serializing_if = "zero")]
    cache: u64,
    usage: MemoryEntry,
    swap: MemoryEntry,
    kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    raw: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    psi: Option<cg::PsiStats>,
}

fn entries(v: &[cg::BlkioStatEntry]) -> Vec<BlkioEntry> {
    v.iter()
        .map(|e| BlkioEntry {
            major: e.major,
            minor: e.minor,
            op: e.op.clone(),
            value: e.value,
        })
        .collect()
}

fn mem(m: &cg::MemoryData) -> MemoryEntry {
    MemoryEntry {
        limit: m.limit,
        counts: Usage {
            usage: m.usage,
            max: m.max_usage,
            failcnt: m.failcnt,
        },
    }
}

/// Converts the library's statistics into runc's `events` shape (`convertLibcontainerStats`).
pub fn convert(s: &lashing_cgroups::Stats) -> Stats {
    let u = &s.cpu_stats.cpu_usage;
    let t = &s.cpu_stats.throttling_data;
    let c = &s.cpuset_stats;
    let b = &s.blkio_stats;
    let m = &s.memory_stats;
    let rdma = (!s.rdma_stats.rdma_limit.is_empty() || !s.rdma_stats.rdma_current.is_empty())
        .then(|| s.rdma_stats.clone());
    Stats {
        cpu: Cpu {
            usage: CpuUsage {
                kernel: u.usage_in_kernelmode,
                user: u.usage_in_usermode,
                total: u.total_usage,
                percpu: u.percpu_usage.clone(),
                percpu_kernel: u.percpu_usage_in_kernelmode.clone(),
                percpu_user: u.percpu_usage_in_usermode.clone(),
            },
            throttling: Throttling {
                periods: t.periods,
                throttled_periods: t.throttled_periods,
                throttled_time: t.throttled_time,
            },
            psi: s.cpu_stats.psi.clone(),
        },
        cpuset: CpuSet {
            cpus: c.cpus.clone(),
            cpu_exclusive: c.cpu_exclusive,
            mems: c.mems.clone(),
            mem_hardwall: c.mem_hardwall,
            mem_exclusive: c.mem_exclusive,
            memory_migrate: c.memory_migrate,
            memory_spread_page: c.memory_spread_page,
            memory_spread_slab: c.memory_spread_slab,
            memory_pressure: c.memory_pressure,
            sched_load_balance: c.sched_load_balance,
            sched_relax_domain_level: c.sched_relax_domain_level,
        },
        memory: Memory {
            cache: m.cache,
            usage: mem(&m.usage),
            swap: mem(&m.swap_usage),
            kernel: mem(&m.kernel_usage),
            kernel_tcp: mem(&m.kernel_tcp_usage),
            raw: m.stats.clone(),
            psi: m.psi.clone(),
        },
        pids: Pids {
            current: s.pids_stats.current,
            limit: s.pids_stats.limit,
        },
        blkio: Blkio {
            io_service_bytes_recursive: entries(&b.io_service_bytes_recursive),
            io_serviced_recursive: entries(&b.io_serviced_recursive),
            io_queue_recursive: entries(&b.io_queue_recursive),
            io_service_time_recursive: entries(&b.io_service_time_recursive),
            io_wait_time_recursive: entries(&b.io_wait_time_recursive),
            io_merged_recursive: entries(&b.io_merged_recursive),
            io_time_recursive: entries(&b.io_time_recursive),
            sectors_recursive: entries(&b.sectors_recursive),
            psi: b.psi.clone(),
        },
        hugetlb: s
            .hugetlb_stats
            .iter()
            .map(|(k, h)| {
                (
                    k.clone(),
                    Usage {
                        usage: h.usage,
                        max: h.max_usage,
                        failcnt: h.failcnt,
                    },
                )
            })
            .collect(),
        intel_rdt: BTreeMap::new(),
        network_interfaces: None,
        rdma,
        misc: s.misc_stats.clone(),
    }
}

/// Parses a Go-style duration (`5s`, `500ms`, `1m30s`, `2h`, `100us`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u..];
        total += v * mult;
    }
    Some(Duration::from_secs_f64(total))
}

fn emit(out: &mut impl Write, ev: &Event<'_>) -> Result<(), CliError> {
    let mut line = serde_json::to_string(ev).map_err(|source| CliError::Json {
        what: "event",
        source,
    })?;
    line.push('\n');
    out.write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::sys("write to stdout", e))
}

/// Runs `lashing events`: with `--stats` one stats event; otherwise stats every interval and
/// OOM events as they happen, until the container stops.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let interval = parse_duration(&a.interval)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CliError::Refused("duration interval must be greater than 0".into()))?;
    let container = Container::load(&g.root, &a.id)?;
    if container.status() == Status::Stopped {
        return Err(CliError::Refused(format!(
            "container with id {} is not running",
            a.id
        )));
    }
    let id = container.id().to_owned();
    let mut out = std::io::stdout().lock();
    let stats_event = |c: &Container| -> Result<Event<'_>, CliError> {
        Ok(Event {
            typ: "stats",
            id: &a.id,
            data: Some(convert(&c.stats()?)),
        })
    };
    if a.stats {
        emit(&mut out, &stats_event(&container)?)?;
        return Ok(0);
    }
    let mut oom = match container.notify_oom() {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!("no OOM notifications: {}", crate::error::chain(&e));
            None
        }
    };
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let got = match &mut oom {
            Some(n) => n.wait(Some(wait)).map_err(lashing::Error::from)?,
            None => {
                std::thread::sleep(wait);
                None
            }
        };
        match got {
            Some(OomEvent::Oom { .. }) => emit(
                &mut out,
                &Event {
                    typ: "oom",
                    id: &id,
                    data: None,
                },
            )?,
            Some(OomEvent::Gone) => oom = None,
            None => {}
        }
        if Instant::now() >= next {
            next += interval;
            if container.status() == Status::Stopped {
                return Ok(0);
            }
            match stats_event(&container) {
                Ok(ev) => emit(&mut out, &ev)?,
                Err(e) => tracing::error!("{}", e.message()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn runc_shape() {
        let mut s = lashing_cgroups::Stats::default();
        s.cpu_stats.cpu_usage.total_usage = 7;
        s.memory_stats.usage.limit = 9;
        s.pids_stats.current = 2;
        let v = serde_json::to_value(Event {
            typ: "stats",
            id: "c1",
            data: Some(convert(&s)),
        })
        .unwrap();
        assert_eq!(v["type"], "stats");
        assert_eq!(v["id"], "c1");
        assert_eq!(v["data"]["cpu"]["usage"]["total"], 7);
        assert_eq!(v["data"]["cpu"]["usage"]["kernel"], 0);
        assert_eq!(v["data"]["memory"]["usage"]["limit"], 9);
        assert!(v["data"]["memory"]["kernelTCP"].is_object());
        assert_eq!(v["data"]["pids"]["current"], 2);
        assert!(v["data"]["pids"].get("limit").is_none());
        let oom = serde_json::to_string(&Event {
            typ: "oom",
            id: "c1",
            data: None,
        })
        .unwrap();
        assert_eq!(oom, r#"{"type":"oom","id":"c1"}"#);
    }

    #[test]
    fn memory_and_hugetlb_entries_as_runc() {
        let mut s = lashing_cgroups::Stats::default();
        s.memory_stats.swap_usage.limit = 9;
        s.memory_stats.swap_usage.usage = 1;
        s.memory_stats.swap_usage.max_usage = 2;
        s.memory_stats.swap_usage.failcnt = 3;
        s.hugetlb_stats.insert("2MB".into(), Default::default());
        let big = lashing_cgroups::stats::HugetlbStats {
            usage: 4,
            max_usage: 5,
            failcnt: 6,
        };
        s.hugetlb_stats.insert("1GB".into(), big);
        // As text: a `Value` would sort the keys.
        let text = serde_json::to_string(&convert(&s)).unwrap();
        for want in [
            r#""usage":{"limit":0,"failcnt":0}"#,
            r#""swap":{"limit":9,"usage":1,"max":2,"failcnt":3}"#,
            r#""hugetlb":{"1GB":{"usage":4,"max":5,"failcnt":6},"2MB":{"failcnt":0}}"#,
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
    }
}
