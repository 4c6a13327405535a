//! Intel RDT statistics (`events --stats`' `intel_rdt`, runc's `intelrdt.Stats` with its JSON
//! names): the read-only `info/` values, the root's and the group's schemata lines, and the
//! monitoring counters per L3 domain.

use serde::Serialize;

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

/// The line of resource `res` in schemata text (trimmed), or "".
pub(super) fn line_of(text: &str, res: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.split(':').next().map(str::trim) == Some(res))
        .unwrap_or("")
        .to_string()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
