//! Container resources as systemd unit properties, as runc's systemd managers map them
//! (opencontainers/cgroups `systemd/v1.go`, `v2.go`, `common.go`, `devices/systemd.go`).
//! Everything here is pure: the systemd version and `/proc/devices` are inputs.

use crate::devices::emulator::{DevType, Emulator};
use crate::error::{Error, Result};
use crate::resources::{self, DeviceCgroup, Resources};

use super::dbus::Value;
#[cfg(test)]
use super::path;
use super::path::UnitSpec;

/// A unit property: its name and value (sent as `(sv)`).
pub type Property = (String, Value);

fn prop(name: &str, v: Value) -> Property {
    (name.to_owned(), v)
}

/// systemd's default CFS period (µs), assumed when only a quota is given.
const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// The properties of a new unit (runc's `Apply`): description, `Slice=` + `Delegate=yes` for
/// a scope (`Wants=` for a slice), `PIDs=`, accounting on, `DefaultDependencies=no`.
/// `legacy`: cgroup v1 (`BlockIOAccounting` instead of `IOAccounting`).
pub fn unit_properties(
    spec: &UnitSpec,
    name: &str,
    pid: Option<u32>,
    legacy: bool,
) -> Vec<Property> {
    let mut p = vec![prop(
        "Description",
        Value::Str(format!("libcontainer container {name}")),
    )];
    if spec.is_slice() {
        p.push(prop(
            "Wants",
            Value::Array("s".into(), vec![Value::Str(spec.slice.clone())]),
        ));
    } else {
        p.push(prop("Slice", Value::Str(spec.slice.clone())));
        p.push(prop("Delegate", Value::Bool(true)));
    }
    if let Some(pid) = pid {
        p.push(prop(
            "PIDs",
            Value::Array("u".into(), vec![Value::U32(pid)]),
        ));
    }
    let io = if legacy {
        "BlockIOAccounting"
    } else {
        "IOAccounting"
    };
    for acct in ["MemoryAccounting", "CPUAccounting", io, "TasksAccounting"] {
        p.push(prop(acct, Value::Bool(true)));
    }
    p.push(prop("DefaultDependencies", Value::Bool(false)));
    p
}

/// `OOMPolicy=` from `unified["memory.oom.group"]` (v2; set when the unit starts).
pub fn oom_policy(r: &Resources) -> Result<Option<Property>> {
    let Some(v) = r.unified.get("memory.oom.group") else {
        return Ok(None);
    };
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| invalid("memory.oom.group", v, "not a number"))?;
    Ok(match n {
        0 => Some(prop("OOMPolicy", Value::Str("continue".into()))),
        1 => Some(prop("OOMPolicy", Value::Str("kill".into()))),
        _ => None,
    })
}

fn invalid(resource: &str, value: &str, reason: &str) -> Error {
    Error::InvalidResource {
        resource: resource.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A byte count for systemd: -1 (unlimited) is `u64::MAX` (systemd's infinity), as runc's
/// `uint64(r.Memory)`.
fn bytes(v: i64) -> Value {
    Value::U64(v as u64)
}

/// `CPUQuotaPeriodUSec` (systemd >= 242) and `CPUQuotaPerSecUSec` (quota per second, rounded
/// up to whole percents: systemd keeps a percentage).
pub fn cpu_quota(quota: i64, period: u64, sd_version: i64, out: &mut Vec<Property>) {
    if period != 0 && sd_version >= 242 {
        out.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota != 0 || period != 0 {
        let mut per_sec = u64::MAX;
        if quota > 0 {
            let period = if period == 0 {
                DEFAULT_CPU_PERIOD
            } else {
                period
            };
            per_sec = (quota as u64).saturating_mul(1_000_000) / period;
            if per_sec % 10_000 != 0 {
                per_sec = (per_sec / 10_000 + 1) * 10_000;
            }
        }
        out.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
    }
}

/// A cpuset list (`0-3,8`) as systemd's bitmask bytes (byte 0 holds CPUs 0-7, lowest bit
/// first), runc's `RangeToBits`.
pub fn range_to_bits(list: &str) -> Result<Vec<u8>> {
    let bad = |reason: &str| invalid("cpuset", list, reason);
    let mut out: Vec<u8> = Vec::new();
    for part in list.trim().split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(bad("empty element"));
        }
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| bad("not a number"))?;
        let hi: usize = hi.parse().map_err(|_| bad("not a number"))?;
        if hi < lo {
            return Err(bad("range end below its start"));
        }
        if hi >= 1 << 16 {
            return Err(bad("CPU or node number too large"));
        }
        for bit in lo..=hi {
            if out.len() <= bit / 8 {
                out.resize(bit / 8 + 1, 0);
            }
            out[bit / 8] |= 1 << (bit % 8);
        }
    }
    Ok(out)
}

fn ay(bytes: Vec<u8>) -> Value {
    Value::Array("y".into(), bytes.into_iter().map(Value::Byte).collect())
}

fn cpuset(r: &Resources, sd_version: i64, out: &mut Vec<Property>) -> Result<()> {
    let Some(cpu) = &r.cpu else { return Ok(()) };
    let cpus = cpu.cpus.as_deref().filter(|s| !s.is_empty());
    let mems = cpu.mems.as_deref().filter(|s| !s.is_empty());
    if (cpus.is_none() && mems.is_none()) || sd_version < 244 {
        return Ok(());
    }
    if let Some(c) = cpus {
        out.push(prop("AllowedCPUs", ay(range_to_bits(c)?)));
    }
    if let Some(m) = mems {
        out.push(prop("AllowedMemoryNodes", ay(range_to_bits(m)?)));
    }
    Ok(())
}

fn pids(r: &Resources, out: &mut Vec<Property>) {
    if let Some(limit) = r.pids.as_ref().and_then(|p| p.limit)
        && (limit > 0 || limit == -1)
    {
        out.push(prop("TasksMax", Value::U64(limit as u64)));
    }
}

/// The resource properties on a legacy (v1) host (runc's `genV1ResourcesProperties`).
pub fn v1_properties(
    r: &Resources,
    devices: Option<&[DeviceCgroup]>,
    proc_devices: &str,
    sd_version: i64,
) -> Result<Vec<Property>> {
    let mut out = match devices {
        Some(rules) => device_properties(rules, proc_devices)?,
        None => Vec::new(),
    };
    if let Some(limit) = r.memory.as_ref().and_then(|m| m.limit)
        && limit != 0
    {
        out.push(prop("MemoryLimit", bytes(limit)));
    }
    if let Some(shares) = r.cpu.as_ref().and_then(|c| c.shares)
        && shares != 0
    {
        out.push(prop("CPUShares", Value::U64(shares)));
    }
    let (quota, period) = quota_period(r);
    cpu_quota(quota, period, sd_version, &mut out);
    if let Some(w) = r.block_io.as_ref().and_then(|b| b.weight)
        && w != 0
    {
        out.push(prop("BlockIOWeight", Value::U64(u64::from(w))));
    }
    pids(r, &mut out);
    cpuset(r, sd_version, &mut out)?;
    Ok(out)
}

fn quota_period(r: &Resources) -> (i64, u64) {
    let c = r.cpu.as_ref();
    (
        c.and_then(|c| c.quota).unwrap_or(0),
        c.and_then(|c| c.period).unwrap_or(0),
    )
}

/// The resource properties on a unified (v2) host (runc's `genV2ResourcesProperties`), plus
/// `IOWeight` from the block I/O weight (runc leaves it to the file, which systemd then resets
/// to its default when it re-applies the unit with `IOAccounting=yes`).
pub fn v2_properties(
    r: &Resources,
    devices: Option<&[DeviceCgroup]>,
    proc_devices: &str,
    sd_version: i64,
) -> Result<Vec<Property>> {
    let mut out = match devices {
        Some(rules) => device_properties(rules, proc_devices)?,
        None => Vec::new(),
    };
    if let Some(m) = &r.memory {
        let limit = m.limit.unwrap_or(0);
        if limit != 0 {
            out.push(prop("MemoryMax", bytes(limit)));
        }
        if let Some(res) = m.reservation.filter(|v| *v != 0) {
            out.push(prop("MemoryLow", bytes(res)));
        }
        let swap = resources::convert_memory_swap_to_v2(m.swap.unwrap_or(0), limit)?;
        if swap != 0 {
            out.push(prop("MemorySwapMax", bytes(swap)));
        }
    }
    let idle = r.cpu.as_ref().and_then(|c| c.idle) == Some(1) && sd_version >= 252;
    if idle {
        out.push(prop("CPUWeight", Value::U64(0)));
    }
    let weight =
        resources::convert_cpu_shares_to_weight(r.cpu.as_ref().and_then(|c| c.shares).unwrap_or(0));
    if weight != 0 && !idle {
        out.push(prop("CPUWeight", Value::U64(weight)));
    }
    let (quota, period) = quota_period(r);
    cpu_quota(quota, period, sd_version, &mut out);
    pids(r, &mut out);
    cpuset(r, sd_version, &mut out)?;
    let io = resources::convert_blkio_weight_to_io_weight(
        r.block_io.as_ref().and_then(|b| b.weight).unwrap_or(0),
    );
    if io != 0 {
        out.push(prop("IOWeight", Value::U64(io)));
    }
    unified_properties(r, sd_version, &mut out)?;
    Ok(out)
}

/// `linux.resources.unified` entries systemd knows (runc's `unifiedResToSystemdProps`); the
/// others are only written to the files.
fn unified_properties(r: &Resources, sd_version: i64, out: &mut Vec<Property>) -> Result<()> {
    let idle = |v: Option<&String>| v.map(|v| v.trim()) == Some("1") && sd_version >= 252;
    for (k, v) in &r.unified {
        if k.contains('/') {
            return Err(invalid(
                k,
                v,
                "a unified resource must be a file name (no slashes)",
            ));
        }
        if k.find('.').is_none_or(|i| i == 0) {
            return Err(invalid(
                k,
                v,
                "a unified resource must be CONTROLLER.PARAMETER",
            ));
        }
        let v = v.trim();
        let num = |v: &str| -> Result<u64> {
            if v == "max" {
                return Ok(u64::MAX);
            }
            v.parse().map_err(|_| invalid(k, v, "not a number"))
        };
        match k.as_str() {
            "cpu.idle" if idle(Some(&v.to_owned())) => {
                out.push(prop("CPUWeight", Value::U64(0)));
            }
            "cpu.max" => {
                let f: Vec<&str> = v.split_whitespace().collect();
                if f.is_empty() || f.len() > 2 {
                    return Err(invalid(k, v, "expected \"QUOTA [PERIOD]\""));
                }
                let quota = if f[0] == "max" {
                    0
                } else {
                    f[0].parse()
                        .map_err(|_| invalid(k, v, "quota is not a number"))?
                };
                let period = match f.get(1) {
                    Some(p) => p
                        .parse()
                        .map_err(|_| invalid(k, v, "period is not a number"))?,
                    None => DEFAULT_CPU_PERIOD,
                };
                cpu_quota(quota, period, sd_version, out);
            }
            "cpu.weight" if !idle(r.unified.get("cpu.idle")) => {
                let n = v.parse().map_err(|_| invalid(k, v, "not a number"))?;
                out.push(prop("CPUWeight", Value::U64(n)));
            }
            "cpuset.cpus" | "cpuset.mems" if sd_version >= 244 => {
                let name = if k == "cpuset.cpus" {
                    "AllowedCPUs"
                } else {
                    "AllowedMemoryNodes"
                };
                out.push(prop(name, ay(range_to_bits(v)?)));
            }
            "memory.high" | "memory.low" | "memory.min" | "memory.max" | "memory.swap.max" => {
                let name = match k.as_str() {
                    "memory.high" => "MemoryHigh",
                    "memory.low" => "MemoryLow",
                    "memory.min" => "MemoryMin",
                    "memory.max" => "MemoryMax",
                    _ => "MemorySwapMax",
                };
                out.push(prop(name, Value::U64(num(v)?)));
            }
            "pids.max" => out.push(prop("TasksMax", Value::U64(num(v)?))),
            _ => {}
        }
    }
    Ok(())
}

/// The device group systemd knows major `major` of type `typ` by (`char-pts` for 136), from
/// the text of `/proc/devices`.
pub fn device_group(proc_devices: &str, typ: DevType, major: u32) -> Option<String> {
    let (section, prefix) = match typ {
        DevType::Char => ("Character devices:", "char-"),
        DevType::Block => ("Block devices:", "block-"),
        DevType::All => return None,
    };
    let mut inside = false;
    for line in proc_devices.lines() {
        let line = line.trim();
        if line.ends_with(':') {
            inside = line == section;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((num, name)) = line.split_once(char::is_whitespace)
            && num.parse() == Ok(major)
        {
            return Some(format!("{prefix}{}", name.trim()));
        }
    }
    None
}

fn device_allow(entries: Vec<(String, String)>) -> Value {
    Value::Array(
        "(ss)".into(),
        entries
            .into_iter()
            .map(|(p, a)| Value::Struct(vec![Value::Str(p), Value::Str(a)]))
            .collect(),
    )
}

/// `DevicePolicy=` and `DeviceAllow=` for OCI device rules (runc's `systemdProperties`): the
/// rules' end state is a deny-all list of allowed devices; `n:m` rules become
/// `/dev/{char,block}/n:m`, `n:*` rules the device group of `/proc/devices`, `*:*` rules
/// `char-*`/`block-*`. What systemd cannot express (deny lists other than allow-all, `*:n`
/// rules, unknown groups) is left out with a warning: the cgroup files written afterwards by
/// the fs manager hold the exact rules.
pub fn device_properties(rules: &[DeviceCgroup], proc_devices: &str) -> Result<Vec<Property>> {
    let emu = Emulator::from_oci(rules)?;
    let mut out = vec![
        prop("DeviceAllow", device_allow(Vec::new())),
        prop("DevicePolicy", Value::Str("strict".into())),
    ];
    let all = emu.rules();
    if emu.is_blacklist() {
        if all.len() == 1 {
            return Ok(vec![
                prop("DevicePolicy", Value::Str("auto".into())),
                prop("DeviceAllow", device_allow(Vec::new())),
            ]);
        }
        tracing::warn!(
            "systemd does not support deny-list device rules: applying a temporary deny-all rule"
        );
        return Ok(out);
    }
    let mut entries = Vec::new();
    for rule in all.iter().skip(1) {
        let kind = match rule.typ {
            DevType::Char => "char",
            DevType::Block => "block",
            DevType::All => continue,
        };
        let path = match (rule.major, rule.minor) {
            (None, Some(_)) => {
                tracing::warn!(rule = %rule.cgroup_string(), "systemd does not support '*:n' device rules: left to the cgroup files");
                continue;
            }
            (None, None) => format!("{kind}-*"),
            (Some(major), None) => match device_group(proc_devices, rule.typ, major) {
                Some(g) => g,
                None => {
                    tracing::warn!(rule = %rule.cgroup_string(), "no device group in /proc/devices for this major: left to the cgroup files");
                    continue;
                }
            },
            (Some(major), Some(minor)) => format!("/dev/{kind}/{major}:{minor}"),
        };
        entries.push((path, rule.access.to_string()));
    }
    out.push(prop("DeviceAllow", device_allow(entries)));
    Ok(out)
}

#[cfg(test)]
mod tests;
