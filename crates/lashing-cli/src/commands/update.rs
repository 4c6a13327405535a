//! `lashing update`: update container resource constraints (runc's flags, or a
//! `LinuxResources` JSON with `-r`), applied with rollback by `Container::set`.

use std::io::Read;

use lashing::Container;
use lashing_cgroups::Resources;
use lashing_cgroups::resources::{BlockIo, Cpu, Memory, Pids, ThrottleDevice, WeightDevice};

use super::CmdResult;
use crate::cli::Globals;
use crate::error::CliError;

/// `lashing update` options (as runc's).
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// path to the file containing the resources to update or '-' to read from the standard input
    #[arg(short, long, value_name = "FILE")]
    resources: Option<String>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long, value_name = "N")]
    blkio_weight: Option<String>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long, value_name = "N")]
    cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period
    #[arg(long, value_name = "N")]
    cpu_burst: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long, value_name = "N")]
    cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long, value_name = "N")]
    cpu_share: Option<String>,
    /// CPU(s) to use
    #[arg(long, value_name = "LIST")]
    cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long, value_name = "LIST")]
    cpuset_mems: Option<String>,
    /// Memory limit (in bytes)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    #[arg(long, value_name = "N")]
    memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// CPU idle: 1 to set SCHED_IDLE for the cgroup, 0 to unset
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    cpu_idle: Option<String>,
    /// Kernel memory limit (obsolete, ignored)
    #[arg(long, value_name = "N", hide = true)]
    kernel_memory: Option<String>,
    /// Kernel TCP memory limit (obsolete, ignored)
    #[arg(long, value_name = "N", hide = true)]
    kernel_memory_tcp: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// The string of Intel RDT/CAT L3 cache schema
    #[arg(long, value_name = "SCHEMA")]
    l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema
    #[arg(long, value_name = "SCHEMA")]
    mem_bw_schema: Option<String>,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing update`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let mut container = Container::load(&g.root, &a.id)?;
    let (l3, mb) = (a.l3_cache_schema.as_deref(), a.mem_bw_schema.as_deref());
    // runc's order: the Intel RDT checks, the cgroup resources, then the schemata (a failure
    // there restores the previous resources).
    container.check_intel_rdt_update(l3, mb)?;
    let patch = patch_of(a)?;
    let old = container.resources()?;
    let mut res = old.clone();
    merge(&mut res, patch);
    container.set(&res)?;
    if let Err(e) = container.update_intel_rdt(l3, mb) {
        if let Err(re) = container.set(&old) {
            tracing::warn!(error = %re, "rolling back the previous resources failed");
        }
        return Err(e.into());
    }
    Ok(0)
}

/// The resources requested by the flags or the `-r` JSON (fields not given stay `None` or 0).
fn patch_of(a: &Args) -> Result<Resources, CliError> {
    if let Some(path) = &a.resources {
        let mut text = String::new();
        if path == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::io("read", "standard input", e))?;
        } else {
            text = std::fs::read_to_string(path).map_err(|e| CliError::io("read", path, e))?;
        }
        return serde_json::from_str(&text).map_err(|source| CliError::Json {
            what: "resources (decode)",
            source,
        });
    }
    let uint = |name: &str, v: &Option<String>| parse_value(name, v, str::parse::<u64>);
    let int = |name: &str, v: &Option<String>| parse_value(name, v, str::parse::<i64>);
    let bytes = |name: &str, v: &Option<String>| {
        parse_value(
            name,
            v,
            |s| if s == "-1" { Ok(-1) } else { ram_in_bytes(s) },
        )
    };
    let weight = uint("blkio-weight", &a.blkio_weight)?;
    let weight = weight
        .map(|w| {
            u16::try_from(w)
                .map_err(|_| CliError::Refused(format!("invalid value for blkio-weight: {w}")))
        })
        .transpose()?;
    Ok(Resources {
        memory: Some(Memory {
            limit: bytes("memory", &a.memory)?,
            reservation: bytes("memory-reservation", &a.memory_reservation)?,
            swap: bytes("memory-swap", &a.memory_swap)?,
            kernel: bytes("kernel-memory", &a.kernel_memory)?,
            kernel_tcp: bytes("kernel-memory-tcp", &a.kernel_memory_tcp)?,
            ..Memory::default()
        }),
        cpu: Some(Cpu {
            shares: uint("cpu-share", &a.cpu_share)?,
            quota: int("cpu-quota", &a.cpu_quota)?,
            burst: uint("cpu-burst", &a.cpu_burst)?,
            period: uint("cpu-period", &a.cpu_period)?,
            realtime_runtime: int("cpu-rt-runtime", &a.cpu_rt_runtime)?,
            realtime_period: uint("cpu-rt-period", &a.cpu_rt_period)?,
            cpus: a.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            mems: a.cpuset_mems.clone().filter(|s| !s.is_empty()),
            idle: int("cpu-idle", &a.cpu_idle)?,
        }),
        block_io: Some(BlockIo {
            weight,
            ..BlockIo::default()
        }),
        pids: Some(Pids {
            limit: int("pids-limit", &a.pids_limit)?,
        }),
        ..Resources::default()
    })
}

/// The value of the option `name` read by `parse`, `None` when unset or empty; refused as runc
/// (`invalid value for NAME: ERROR`) when it does not parse.
fn parse_value<T, E: std::fmt::Display>(
    name: &str,
    v: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, CliError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(|e| CliError::Refused(format!("invalid value for {name}: {e}"))))
        .transpose()
}

/// Parses a human size with binary multiples (`64m`, `1G`, `512KiB`, `100`), as docker's
/// `RAMInBytes`.
fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid size: {s:?}"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(format!("invalid suffix: {unit:?}")),
    };
    let v = n * mult;
    if !(0.0..9.2e18).contains(&v) {
        return Err(format!("size out of range: {s:?}"));
    }
    Ok(v as i64)
}

fn set_if<T: Copy + PartialEq + Default>(dst: &mut Option<T>, src: Option<T>) {
    if let Some(v) = src.filter(|v| *v != T::default()) {
        *dst = Some(v);
    }
}

/// Overlays the requested values on the container's resources as runc's `update`: zero or
/// absent values leave the old ones; a lone CPU quota or period keeps the other; the device
/// rules are kept.
fn merge(old: &mut Resources, p: Resources) {
    let shares_given = p.cpu.as_ref().is_some_and(|c| c.shares.is_some());
    if let Some(m) = p.memory {
        let o = old.memory.get_or_insert_default();
        set_if(&mut o.limit, m.limit);
        set_if(&mut o.reservation, m.reservation);
        set_if(&mut o.swap, m.swap);
        if m.limit == Some(-1) && m.swap.is_none() {
            // Unlimited memory without a swap value: unset swap too.
            o.swap = None;
        }
        set_if(&mut o.kernel, m.kernel);
        set_if(&mut o.kernel_tcp, m.kernel_tcp);
        if m.check_before_update.is_some() {
            o.check_before_update = m.check_before_update;
        }
    }
    if let Some(c) = p.cpu {
        let o = old.cpu.get_or_insert_default();
        if c.idle.is_some() && c.shares.is_none() {
            // As runc: cpu.idle without shares unsets the shares, which cannot be written
            // while the cgroup is idle (EINVAL), so that this and later updates (and their
            // rollback) do not fail on the old value.
            o.shares = None;
        }
        set_if(&mut o.shares, c.shares);
        set_if(&mut o.quota, c.quota);
        set_if(&mut o.period, c.period);
        if c.burst.is_some() {
            o.burst = c.burst;
        }
        set_if(&mut o.realtime_runtime, c.realtime_runtime);
        set_if(&mut o.realtime_period, c.realtime_period);
        if let Some(v) = c.cpus.filter(|s| !s.is_empty()) {
            o.cpus = Some(v);
        }
        if let Some(v) = c.mems.filter(|s| !s.is_empty()) {
            o.mems = Some(v);
        }
        if c.idle.is_some() {
            o.idle = c.idle;
        }
    }
    if let Some(b) = p.block_io {
        let o = old.block_io.get_or_insert_default();
        set_if(&mut o.weight, b.weight);
        set_if(&mut o.leaf_weight, b.leaf_weight);
        // As runc: a device already listed gets the new values, a new one is appended.
        for wd in b.weight_device {
            upsert_weight_device(&mut o.weight_device, wd);
        }
        for (dst, src) in [
            (&mut o.throttle_read_bps_device, b.throttle_read_bps_device),
            (
                &mut o.throttle_write_bps_device,
                b.throttle_write_bps_device,
            ),
            (
                &mut o.throttle_read_iops_device,
                b.throttle_read_iops_device,
            ),
            (
                &mut o.throttle_write_iops_device,
                b.throttle_write_iops_device,
            ),
        ] {
            for td in src {
                upsert_throttle_device(dst, td);
            }
        }
    }
    if let Some(limit) = p.pids.and_then(|p| p.limit).filter(|l| *l != 0) {
        old.pids.get_or_insert_default().limit = Some(limit);
    }
    old.unified.extend(p.unified);
    // The kernel refuses cpu.shares of an idle cgroup (and ignores them while it is idle): an
    // update that does not give shares must not re-write the old ones into it (runc fails
    // there, and so did its rollback).
    if let Some(o) = old.cpu.as_mut()
        && o.idle.is_some_and(|i| i != 0)
        && !shares_given
    {
        o.shares = None;
    }
}

/// runc's `upsertWeightDevice`: the last entry for the same device gets the given weights;
/// otherwise the device is appended.
fn upsert_weight_device(devs: &mut Vec<WeightDevice>, wd: WeightDevice) {
    match devs
        .iter_mut()
        .rev()
        .find(|d| d.major == wd.major && d.minor == wd.minor)
    {
        Some(d) => {
            if wd.weight.is_some() {
                d.weight = wd.weight;
            }
            if wd.leaf_weight.is_some() {
                d.leaf_weight = wd.leaf_weight;
            }
        }
        None => devs.push(wd),
    }
}

/// runc's `upsertThrottleDevice`: the last entry for the same device gets the new rate;
/// otherwise the device is appended.
fn upsert_throttle_device(devs: &mut Vec<ThrottleDevice>, td: ThrottleDevice) {
    match devs
        .iter_mut()
        .rev()
        .find(|d| d.major == td.major && d.minor == td.minor)
    {
        Some(d) => d.rate = td.rate,
        None => devs.push(td),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_unset_and_bad_ones_named() {
        let v = |s: &str| Some(s.to_string());
        assert_eq!(parse_value("n", &None, str::parse::<u64>).unwrap(), None);
        assert_eq!(parse_value("n", &v(""), str::parse::<u64>).unwrap(), None);
        assert_eq!(
            parse_value("n", &v("12"), str::parse::<u64>).unwrap(),
            Some(12)
        );
        let e = parse_value("cpu-share", &v("-5"), str::parse::<u64>).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for cpu-share: invalid digit found in string"
        );
    }

    #[test]
    fn sizes_parse_as_docker() {
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert_eq!(ram_in_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("512KiB").unwrap(), 512 << 10);
        assert_eq!(ram_in_bytes("1.5k").unwrap(), 1536);
        assert!(ram_in_bytes("12x").is_err());
        assert!(ram_in_bytes("m").is_err());
    }

    #[test]
    fn merge_upserts_block_devices_and_unsets_shares_for_idle() {
        let mut old: Resources = serde_json::from_str(
            r#"{"cpu": {"shares": 512},
                "blockIO": {"weight": 200,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 300, "leafWeight": 20}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}]}}"#,
        )
        .unwrap();
        let patch: Resources = serde_json::from_str(
            r#"{"cpu": {"idle": 1},
                "blockIO": {"leafWeight": 50,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 400},
                                   {"major": 254, "minor": 0, "weight": 500}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                  "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 10}]}}"#,
        )
        .unwrap();
        merge(&mut old, patch);
        let c = old.cpu.as_ref().unwrap();
        assert_eq!((c.shares, c.idle), (None, Some(1)));
        let b = old.block_io.as_ref().unwrap();
        assert_eq!((b.weight, b.leaf_weight), (Some(200), Some(50)));
        let wd: Vec<_> = b
            .weight_device
            .iter()
            .map(|d| (d.major, d.minor, d.weight, d.leaf_weight))
            .collect();
        assert_eq!(wd, [(8, 0, Some(400), Some(20)), (254, 0, Some(500), None)]);
        let rate = |v: &[ThrottleDevice]| v.iter().map(|d| (d.major, d.rate)).collect::<Vec<_>>();
        assert_eq!(rate(&b.throttle_read_bps_device), [(8, 1000)]);
        assert_eq!(rate(&b.throttle_write_iops_device), [(254, 10)]);
        // Shares given together with idle stay as given.
        let patch: Resources =
            serde_json::from_str(r#"{"cpu": {"idle": 1, "shares": 256}}"#).unwrap();
        merge(&mut old, patch);
        assert_eq!(old.cpu.as_ref().unwrap().shares, Some(256));
        // A later update without cpu values does not re-write shares into the idle cgroup.
        merge(
            &mut old,
            serde_json::from_str(r#"{"pids": {"limit": 5}}"#).unwrap(),
        );
        assert_eq!(old.cpu.as_ref().unwrap().shares, None);
        // Once not idle, the state keeps new shares.
        let patch: Resources =
            serde_json::from_str(r#"{"cpu": {"idle": 0, "shares": 128}}"#).unwrap();
        merge(&mut old, patch);
        merge(
            &mut old,
            serde_json::from_str(r#"{"pids": {"limit": 6}}"#).unwrap(),
        );
        assert_eq!(old.cpu.as_ref().unwrap().shares, Some(128));
    }

    #[test]
    fn merge_keeps_unset_values() {
        let mut old: Resources = serde_json::from_str(
            r#"{"memory": {"limit": 1000, "swap": 2000}, "cpu": {"quota": 5000, "period": 100000},
                "pids": {"limit": 10}, "devices": [{"allow": false, "access": "rwm"}]}"#,
        )
        .unwrap();
        let a = Args {
            cpu_period: Some("50000".into()),
            pids_limit: Some("-1".into()),
            memory: Some("2k".into()),
            ..Args::default()
        };
        merge(&mut old, patch_of(&a).unwrap());
        let c = old.cpu.as_ref().unwrap();
        assert_eq!((c.quota, c.period), (Some(5000), Some(50000)));
        let m = old.memory.as_ref().unwrap();
        assert_eq!((m.limit, m.swap), (Some(2048), Some(2000)));
        assert_eq!(old.pids.as_ref().unwrap().limit, Some(-1));
        assert_eq!(old.devices.len(), 1);
        let bad = Args {
            cpu_quota: Some("x".into()),
            ..Args::default()
        };
        assert!(
            patch_of(&bad)
                .unwrap_err()
                .to_string()
                .contains("cpu-quota")
        );
    }
}
