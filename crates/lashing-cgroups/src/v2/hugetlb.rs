//! The v2 `hugetlb` controller (runc's `fs2/hugetlb.go`): `hugetlb.<size>.max` (and `.rsvd.max`),
//! usage and `max` events per page size. Also used on hybrid hosts that bind hugetlb to v2.

use crate::common::{hugepage_sizes, read_map, read_num};
use crate::error::Result;
use crate::fs::Node;
use crate::resources::Resources;
use crate::stats::{HugetlbStats, Stats};

/// Writes every huge page limit.
pub(crate) fn set(n: &Node, r: &Resources) -> Result<()> {
    for h in &r.hugepage_limits {
        let limit = h.limit.to_string();
        n.write(&format!("hugetlb.{}.max", h.page_size), &limit)?;
        let rsvd = format!("hugetlb.{}.rsvd.max", h.page_size);
        if n.has_file(&rsvd) {
            n.write(&rsvd, &limit)?;
        }
    }
    Ok(())
}

/// Reads the usage of every huge page size the cgroup has files for.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
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
