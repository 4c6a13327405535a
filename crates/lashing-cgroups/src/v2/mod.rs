//! cgroup v2 on a unified host (runc's `fs2` package): one module per controller with its `set`
//! and its `stats`; here, runc's order of the writes and reads, the checks of the controllers a
//! resource needs, the `unified` files, and the enabling of controllers in the ancestors.

mod cpu;
pub(crate) mod devices;
pub(crate) mod freezer;
pub(crate) mod hugetlb;
mod io;
pub(crate) mod memory;
mod misc;
mod psi;

use crate::common::{
    check_page_sizes, cpuset_stats, pids_stats, rdma_stats, set_cpuset, set_pids, set_rdma,
    v2_has_controller, warn_ignored,
};
use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::Resources;
use crate::stats::Stats;

/// A requested limit whose controller this host does not have.
fn no_controller(controller: &str, file: &str) -> Error {
    Error::Unsupported {
        resource: controller.to_owned(),
        reason: format!(
            "no {controller} controller is available for this cgroup (file {file} cannot be written)"
        ),
    }
}

/// Applies `r` to a v2 cgroup (runc's fs2 order: pids, memory, io, cpu, cpuset, hugetlb, rdma,
/// then the `unified` files).
pub(crate) fn set(n: &Node, r: &Resources) -> Result<()> {
    warn_ignored(r, true);
    if let Some(limit) = r.pids.as_ref().and_then(|p| p.limit) {
        set_pids(n, limit)?;
    }
    if let Some(m) = &r.memory {
        memory::set(n, m)?;
    }
    if let Some(b) = &r.block_io {
        io::set(n, b)?;
    }
    if let Some(c) = &r.cpu {
        cpu::set(n, c)?;
        set_cpuset(n, c)?;
    }
    if !r.hugepage_limits.is_empty() {
        check_page_sizes(r)?;
        if !v2_has_controller(n, "hugetlb") {
            return Err(no_controller("hugetlb", "hugetlb.<size>.max"));
        }
        hugetlb::set(n, r)?;
    }
    if !r.rdma.is_empty() {
        if !v2_has_controller(n, "rdma") {
            return Err(no_controller("rdma", "rdma.max"));
        }
        set_rdma(n, r)?;
    }
    for (file, value) in &r.unified {
        if let Err(e) = n.write(file, value) {
            // A missing file usually means its controller is not enabled: say which.
            if e.raw_os_error() == Some(libc::ENOENT)
                && let Some((ctrl, _)) = file.split_once('.')
                && ctrl != "cgroup"
                && !v2_has_controller(n, ctrl)
            {
                return Err(Error::Unsupported {
                    resource: format!("unified {file}"),
                    reason: format!(
                        "controller {ctrl:?} is not available in {}",
                        n.path().display()
                    ),
                });
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Reads the statistics of a v2 cgroup.
pub(crate) fn stats(n: &Node) -> Result<Stats> {
    let mut st = Stats::default();
    cpu::stats(n, &mut st)?;
    st.cpuset_stats = cpuset_stats(n, "cpuset.cpus.effective", "cpuset.mems.effective")?;
    st.rdma_stats = rdma_stats(n)?;
    misc::stats(n, &mut st)?;
    memory::stats(n, &mut st)?;
    st.pids_stats = pids_stats(n)?;
    io::stats(n, &mut st)?;
    hugetlb::stats(n, &mut st)?;
    Ok(st)
}

/// Enables, in every ancestor of `node`, the controllers that ancestor has (runc's
/// `CreateCgroupPath`); best effort: a controller that cannot be enabled is left out.
pub(crate) fn enable_controllers(node: &Node) {
    let mut ancestors = Vec::new();
    let mut cur = node.parent();
    while let Some(n) = cur {
        cur = n.parent();
        ancestors.push(n);
    }
    for anc in ancestors.iter().rev() {
        let Ok(Some(available)) = anc.read_opt("cgroup.controllers") else {
            return;
        };
        let enabled = anc
            .read_opt("cgroup.subtree_control")
            .ok()
            .flatten()
            .unwrap_or_default();
        let missing: Vec<String> = available
            .split_whitespace()
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
            .map(|c| format!("+{c}"))
            .collect();
        if missing.is_empty() {
            continue;
        }
        if anc
            .write("cgroup.subtree_control", &missing.join(" "))
            .is_err()
        {
            for c in &missing {
                if let Err(e) = anc.write("cgroup.subtree_control", c) {
                    tracing::debug!(error = %e, "controller not enabled");
                }
            }
        }
    }
}
