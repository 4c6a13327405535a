//! Intel RDT statistics (`events --stats`' `intel_rdt`, runc's `intelrdt.Stats` with its JSON
//! names): the read-only `info/` values, the root's and the group's schemata lines, and the
//! monitoring counters per L3 domain.

use std::fs;
use std::path::Path;

use serde::Serialize;

use super::{IntelRdt, RdtError, Resctrl};

/// `info/L3`: the cache allocation's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CacheInfo {
    /// `cbm_mask`: the whole cache's bitmask.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cbm_mask: String,
    /// `min_cbm_bits`.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_cbm_bits: u64,
    /// `num_closids`.
    #[serde(skip_serializing_if = "is_zero")]
    pub num_closids: u64,
}

/// `info/MB`: the memory bandwidth allocation's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemBwInfo {
    /// `bandwidth_gran`.
    #[serde(skip_serializing_if = "is_zero")]
    pub bandwidth_gran: u64,
    /// `delay_linear`.
    #[serde(skip_serializing_if = "is_zero")]
    pub delay_linear: u64,
    /// `min_bandwidth`.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_bandwidth: u64,
    /// `num_closids`.
    #[serde(skip_serializing_if = "is_zero")]
    pub num_closids: u64,
}

/// Memory bandwidth counters of one L3 domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MbmStats {
    /// `mbm_total_bytes`.
    pub mbm_total_bytes: u64,
    /// `mbm_local_bytes`.
    pub mbm_local_bytes: u64,
}

/// Cache occupancy of one L3 domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CmtStats {
    /// `llc_occupancy` (bytes).
    #[serde(skip_serializing_if = "is_zero")]
    pub llc_occupancy: u64,
}

/// The container's Intel RDT statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RdtStats {
    /// `info/L3` (with CAT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l3_cache_info: Option<CacheInfo>,
    /// The root group's `L3` line.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub l3_cache_schema_root: String,
    /// The container's group's `L3` line.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub l3_cache_schema: String,
    /// `info/MB` (with MBA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_bw_info: Option<MemBwInfo>,
    /// The root group's `MB` line.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mem_bw_schema_root: String,
    /// The container's group's `MB` line.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mem_bw_schema: String,
    /// Memory bandwidth per L3 domain (with MBM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mbm_stats: Option<Vec<MbmStats>>,
    /// Cache occupancy per L3 domain (with CMT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmt_stats: Option<Vec<CmtStats>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Resctrl {
    /// The statistics of the container `id`'s groups.
    pub fn stats(&self, id: &str, rdt: &IntelRdt) -> Result<RdtStats, RdtError> {
        let mut st = RdtStats::default();
        let root_lines = self.read(&self.root.join("schemata"))?;
        let group = self.group(id, rdt);
        let lines = self.read(&group.join("schemata"))?;
        let line_of = |text: &str, res: &str| {
            text.lines()
                .map(str::trim)
                .find(|l| l.split(':').next().map(str::trim) == Some(res))
                .unwrap_or("")
                .to_string()
        };
        let info = self.root.join("info");
        if self.cat {
            let d = info.join("L3");
            st.l3_cache_info = Some(CacheInfo {
                cbm_mask: self.read(&d.join("cbm_mask"))?.trim().to_string(),
                min_cbm_bits: self.number(&d.join("min_cbm_bits"))?,
                num_closids: self.number(&d.join("num_closids"))?,
            });
            st.l3_cache_schema_root = line_of(&root_lines, "L3");
            st.l3_cache_schema = line_of(&lines, "L3");
        }
        if self.mba {
            let d = info.join("MB");
            st.mem_bw_info = Some(MemBwInfo {
                bandwidth_gran: self.number(&d.join("bandwidth_gran"))?,
                delay_linear: self.number(&d.join("delay_linear"))?,
                min_bandwidth: self.number(&d.join("min_bandwidth"))?,
                num_closids: self.number(&d.join("num_closids"))?,
            });
            st.mem_bw_schema_root = line_of(&root_lines, "MB");
            st.mem_bw_schema = line_of(&lines, "MB");
        }
        if self.monitoring {
            let features = self.read(&info.join("L3_MON/mon_features"))?;
            let has = |f: &str| features.lines().any(|l| l.trim() == f);
            let (mbm, cmt) = (
                has("mbm_total_bytes") || has("mbm_local_bytes"),
                has("llc_occupancy"),
            );
            let counted = if rdt.enable_monitoring {
                self.mon_group(id, rdt)
            } else {
                group
            };
            let mut domains = self.mon_domains(&counted.join("mon_data"))?;
            domains.sort();
            if mbm {
                let mut v = Vec::new();
                for d in &domains {
                    v.push(MbmStats {
                        mbm_total_bytes: self.counter(d, "mbm_total_bytes", has)?,
                        mbm_local_bytes: self.counter(d, "mbm_local_bytes", has)?,
                    });
                }
                st.mbm_stats = Some(v);
            }
            if cmt {
                let mut v = Vec::new();
                for d in &domains {
                    v.push(CmtStats {
                        llc_occupancy: self.counter(d, "llc_occupancy", has)?,
                    });
                }
                st.cmt_stats = Some(v);
            }
        }
        Ok(st)
    }

    /// The `mon_data/mon_L3_*` directories.
    fn mon_domains(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>, RdtError> {
        let rd = fs::read_dir(dir).map_err(|e| self.io("read", dir, e))?;
        Ok(rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("mon_L3_"))
            .map(|e| e.path())
            .collect())
    }

    /// A counter the features list, else 0.
    fn counter(&self, dir: &Path, name: &str, has: impl Fn(&str) -> bool) -> Result<u64, RdtError> {
        if has(name) {
            self.number(&dir.join(name))
        } else {
            Ok(0)
        }
    }

    fn number(&self, path: &Path) -> Result<u64, RdtError> {
        let text = self.read(path)?;
        text.trim().parse().map_err(|_| {
            let e = std::io::Error::other(format!("not a number: {:?}", text.trim()));
            self.io("parse", path, e)
        })
    }
}
