//! The v1 `hugetlb` controller (runc's `fs/hugetlb.go`): limits (and reservation limits) and
//! usage per huge page size. On a hybrid host without it, `v1` uses the v2 one.

use crate::common::{hugepage_sizes, read_num};
use crate::error::Result;
use crate::fs::Node;
use crate::resources::Resources;
use crate::stats::{HugetlbStats, Stats};

/// Writes every huge page limit.
pub(crate) fn set(n: &Node, r: &Resources) -> Result<()> {
    for h in &r.hugepage_limits {
        let limit = h.limit.to_string();
        n.write(&format!("hugetlb.{}.limit_in_bytes", h.page_size), &limit)?;
        let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", h.page_size);
        if n.has_file(&rsvd) {
            n.write(&rsvd, &limit)?;
        }
    }
    Ok(())
}

/// Reads the usage of every huge page size of the host.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
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
    Ok(())
}
