//! [`Resources`]: the OCI `linux.resources` object (camelCase JSON, as in the runtime spec), and
//! runc's conversions from v1-style values to cgroup v2 ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Resource limits of a container (OCI `linux.resources`). Every field is optional: what is not
/// given is left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// Device cgroup rules. Not applied by [`crate::Manager::set`]: the caller owns the device
    /// policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceCgroup>,
    /// Memory limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// CPU limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Process-count limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
    /// Block I/O limits.
    #[serde(default, rename = "blockIO", skip_serializing_if = "Option::is_none")]
    pub block_io: Option<BlockIo>,
    /// Huge-page limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hugepage_limits: Vec<HugepageLimit>,
    /// Network class and priorities (v1 `net_cls`, `net_prio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// RDMA limits per device.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rdma: BTreeMap<String, Rdma>,
    /// cgroup v2 files written as given (file name → value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unified: BTreeMap<String, String>,
}

impl Resources {
    /// The controllers whose limits these resources set (device rules left out: the caller owns
    /// the device policy), in runc's order of names: `cpuset`, `memory`, `cpu`, `pids`,
    /// `blkio`, `hugetlb`, `net_cls`, `net_prio`, `rdma`, and `unified` for raw v2 files. An
    /// empty list means nothing needs a cgroup of the container's own (runc's
    /// `needAnyControllers`), which is when rootless mode may run without one.
    pub fn controllers_wanted(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let cpu = self.cpu.clone().unwrap_or_default();
        if cpu.cpus.is_some() || cpu.mems.is_some() {
            out.push("cpuset");
        }
        if self
            .memory
            .as_ref()
            .is_some_and(|m| *m != Memory::default())
        {
            out.push("memory");
        }
        let plain_cpu = Cpu {
            cpus: None,
            mems: None,
            ..cpu
        };
        if plain_cpu != Cpu::default() {
            out.push("cpu");
        }
        if self.pids.as_ref().is_some_and(|p| p.limit.is_some()) {
            out.push("pids");
        }
        if self
            .block_io
            .as_ref()
            .is_some_and(|b| *b != BlockIo::default())
        {
            out.push("blkio");
        }
        if !self.hugepage_limits.is_empty() {
            out.push("hugetlb");
        }
        if let Some(n) = &self.network {
            if n.class_id.is_some() {
                out.push("net_cls");
            }
            if !n.priorities.is_empty() {
                out.push("net_prio");
            }
        }
        if !self.rdma.is_empty() {
            out.push("rdma");
        }
        if !self.unified.is_empty() {
            out.push("unified");
        }
        out
    }
}

/// One device cgroup rule of the OCI spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCgroup {
    /// Allow or deny.
    pub allow: bool,
    /// `a`, `c` or `b` (all when absent).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Major number (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    /// Minor number (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    /// A subset of `rwm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
}

/// Memory limits (bytes; -1 means unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// Memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Soft limit (v1 `memory.soft_limit_in_bytes`, v2 `memory.low`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<i64>,
    /// Memory + swap limit (v1 semantics; converted for v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<i64>,
    /// Kernel memory limit (deprecated, ignored with a warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<i64>,
    /// Kernel TCP buffer limit (deprecated, ignored with a warning).
    #[serde(default, rename = "kernelTCP", skip_serializing_if = "Option::is_none")]
    pub kernel_tcp: Option<i64>,
    /// Swappiness, 0-100 (v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swappiness: Option<u64>,
    /// Disable the OOM killer (v1 only).
    #[serde(
        default,
        rename = "disableOOMKiller",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_oom_killer: Option<bool>,
    /// Hierarchical accounting (v1; always on in recent kernels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_hierarchy: Option<bool>,
    /// Refuse a limit below the current usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_before_update: Option<bool>,
}

/// CPU limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    /// Relative weight (v1 `cpu.shares`; converted to `cpu.weight` on v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    /// CFS quota in µs per period (-1: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    /// CFS burst in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// CFS period in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    /// Real-time runtime in µs (v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_runtime: Option<i64>,
    /// Real-time period in µs (v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_period: Option<u64>,
    /// CPUs allowed (`cpuset.cpus` list syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    /// Memory nodes allowed (`cpuset.mems`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mems: Option<String>,
    /// `cpu.idle` (SCHED_IDLE for the cgroup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<i64>,
}

/// Process-count limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    /// Maximum number of tasks; 0 or negative means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// Block I/O limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockIo {
    /// Weight, 10-1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// Leaf weight, 10-1000 (v1 CFQ only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
    /// Per-device weights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<WeightDevice>,
    /// Per-device read bytes/s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_read_bps_device: Vec<ThrottleDevice>,
    /// Per-device write bytes/s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_write_bps_device: Vec<ThrottleDevice>,
    /// Per-device read operations/s.
    #[serde(
        default,
        rename = "throttleReadIOPSDevice",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_read_iops_device: Vec<ThrottleDevice>,
    /// Per-device write operations/s.
    #[serde(
        default,
        rename = "throttleWriteIOPSDevice",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_write_iops_device: Vec<ThrottleDevice>,
}

/// A per-device weight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightDevice {
    /// Device major number.
    pub major: i64,
    /// Device minor number.
    pub minor: i64,
    /// Weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// Leaf weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
}

/// A per-device rate limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleDevice {
    /// Device major number.
    pub major: i64,
    /// Device minor number.
    pub minor: i64,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// A huge-page limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HugepageLimit {
    /// Page size as in the cgroup file names (`2MB`, `1GB`).
    pub page_size: String,
    /// Limit in bytes.
    pub limit: u64,
}

/// Network class and priorities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// `net_cls.classid`.
    #[serde(default, rename = "classID", skip_serializing_if = "Option::is_none")]
    pub class_id: Option<u32>,
    /// `net_prio.ifpriomap` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<InterfacePriority>,
}

/// A network interface priority.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfacePriority {
    /// Interface name.
    pub name: String,
    /// Priority.
    pub priority: u32,
}

/// RDMA limits of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rdma {
    /// Maximum HCA handles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hca_handles: Option<u32>,
    /// Maximum HCA objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hca_objects: Option<u32>,
}

/// Converts v1 `cpu.shares` (2-262144, default 1024) to v2 `cpu.weight` (1-10000, default 100)
/// with runc's quadratic-in-log formula, which maps min, default and max onto each other.
/// 0 means unset.
pub fn convert_cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// Converts the OCI (v1) memory+swap limit to v2 `memory.swap.max` (swap alone), as runc:
/// -1 stays unlimited, 0 unset; otherwise `swap - memory`, which needs a memory limit below it.
pub fn convert_memory_swap_to_v2(swap: i64, memory: i64) -> Result<i64> {
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    let invalid = |reason: &str| Error::InvalidResource {
        resource: "memory.swap".to_owned(),
        value: swap.to_string(),
        reason: reason.to_owned(),
    };
    if memory == 0 || memory == -1 {
        return Err(invalid("a swap limit needs a memory limit"));
    }
    if memory < 0 {
        return Err(invalid("the memory limit is negative"));
    }
    if swap < memory {
        return Err(invalid("memory+swap must be >= the memory limit"));
    }
    Ok(swap - memory)
}

/// Converts a v1 `blkio.weight` (10-1000) to v2 `io.weight` (1-10000). 0 means unset.
pub fn convert_blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_wanted_are_those_with_a_value() {
        assert!(Resources::default().controllers_wanted().is_empty());
        let empty_parts = Resources {
            memory: Some(Memory::default()),
            cpu: Some(Cpu::default()),
            pids: Some(Pids::default()),
            block_io: Some(BlockIo::default()),
            network: Some(Network::default()),
            devices: vec![DeviceCgroup::default()],
            ..Resources::default()
        };
        assert!(
            empty_parts.controllers_wanted().is_empty(),
            "objects without values"
        );
        let r = Resources {
            memory: Some(Memory {
                limit: Some(1 << 20),
                ..Memory::default()
            }),
            cpu: Some(Cpu {
                cpus: Some("0".into()),
                ..Cpu::default()
            }),
            pids: Some(Pids { limit: Some(5) }),
            unified: BTreeMap::from([("memory.high".into(), "max".into())]),
            ..Resources::default()
        };
        assert_eq!(
            r.controllers_wanted(),
            ["cpuset", "memory", "pids", "unified"]
        );
        let r = Resources {
            cpu: Some(Cpu {
                shares: Some(512),
                mems: Some("0".into()),
                ..Cpu::default()
            }),
            ..Resources::default()
        };
        assert_eq!(r.controllers_wanted(), ["cpuset", "cpu"]);
    }

    #[test]
    fn oci_json_deserializes() {
        let json = r#"{
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
            "memory": {"limit": 536870912, "reservation": 1, "swap": 1073741824, "kernel": -1, "kernelTCP": 5,
                       "swappiness": 10, "disableOOMKiller": true, "useHierarchy": true, "checkBeforeUpdate": true},
            "cpu": {"shares": 1024, "quota": 50000, "burst": 1000, "period": 100000, "realtimeRuntime": 950000,
                    "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0", "idle": 0},
            "pids": {"limit": 32},
            "blockIO": {"weight": 500, "leafWeight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 100}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 9223372036854772000}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
            "unified": {"memory.high": "max"}
        }"#;
        let r: Resources = serde_json::from_str(json).unwrap();
        let m = r.memory.as_ref().unwrap();
        assert_eq!(m.limit, Some(536_870_912));
        assert_eq!(m.kernel_tcp, Some(5));
        assert_eq!(m.disable_oom_killer, Some(true));
        assert_eq!(m.check_before_update, Some(true));
        let c = r.cpu.as_ref().unwrap();
        assert_eq!(c.realtime_runtime, Some(950_000));
        assert_eq!(c.cpus.as_deref(), Some("0-1"));
        assert_eq!(r.pids.as_ref().unwrap().limit, Some(32));
        let b = r.block_io.as_ref().unwrap();
        assert_eq!(b.leaf_weight, Some(300));
        assert_eq!(b.weight_device[0].leaf_weight, Some(100));
        assert_eq!(b.throttle_write_iops_device[0].rate, 300);
        assert_eq!(r.hugepage_limits[0].page_size, "2MB");
        assert_eq!(r.network.as_ref().unwrap().class_id, Some(1_048_577));
        assert_eq!(r.rdma["mlx5_1"].hca_objects, Some(10_000));
        assert_eq!(r.unified["memory.high"], "max");
        assert_eq!(r.devices[1].typ.as_deref(), Some("c"));
        let back: Resources = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            serde_json::from_str::<Resources>("{}").unwrap(),
            Resources::default()
        );
    }

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(convert_cpu_shares_to_weight(0), 0);
        assert_eq!(convert_cpu_shares_to_weight(2), 1);
        assert_eq!(convert_cpu_shares_to_weight(1024), 100);
        assert_eq!(convert_cpu_shares_to_weight(512), 59);
        assert_eq!(convert_cpu_shares_to_weight(262_144), 10_000);
        assert_eq!(convert_cpu_shares_to_weight(1_000_000), 10_000);
        // Monotonic over the range.
        let mut last = 0;
        for s in (2..262_144).step_by(97) {
            let w = convert_cpu_shares_to_weight(s);
            assert!(w >= last && (1..=10_000).contains(&w), "{s} -> {w}");
            last = w;
        }
    }

    #[test]
    fn swap_conversion_matches_runc() {
        assert_eq!(convert_memory_swap_to_v2(0, -1).unwrap(), -1);
        assert_eq!(convert_memory_swap_to_v2(-1, 100).unwrap(), -1);
        assert_eq!(convert_memory_swap_to_v2(0, 100).unwrap(), 0);
        assert_eq!(convert_memory_swap_to_v2(300, 100).unwrap(), 200);
        assert_eq!(convert_memory_swap_to_v2(100, 100).unwrap(), 0);
        assert!(convert_memory_swap_to_v2(50, 100).is_err());
        assert!(convert_memory_swap_to_v2(50, 0).is_err());
        assert!(convert_memory_swap_to_v2(50, -1).is_err());
    }

    #[test]
    fn blkio_weight_conversion_matches_runc() {
        assert_eq!(convert_blkio_weight_to_io_weight(0), 0);
        assert_eq!(convert_blkio_weight_to_io_weight(10), 1);
        assert_eq!(convert_blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
        assert_eq!(convert_blkio_weight_to_io_weight(1000), 10_000);
    }
}
