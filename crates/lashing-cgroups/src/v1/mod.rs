//! cgroup v1, and the v1 hierarchies of a hybrid host (runc's `fs` package): one module per
//! controller with its `set` and its `stats`; here, what is asked of which controller, the checks
//! made before anything is written, and runc's order of the writes and reads.

mod blkio;
mod cpu;
mod cpuacct;
pub(crate) mod cpuset;
pub(crate) mod devices;
pub(crate) mod freezer;
mod hugetlb;
pub(crate) mod memory;
mod net_cls;
mod net_prio;

use crate::common::{
    self, check_page_sizes, cpuset_stats, rdma_stats, set_cpuset, set_pids, set_rdma, throttles,
    v2_has_controller, warn_ignored,
};
use crate::dir::{self, Dir};
use crate::error::{Error, Result};
use crate::resources::Resources;
use crate::stats::Stats;

/// A v1 controller a resource asks for and the cgroup does not have (not mounted on this host):
/// runc refuses to create (or update) the container with `cannot set <controller> limit:
/// container could not join or create cgroup`. A resource asked for and not applied is an
/// error, never silence.
fn controller_missing(controller: &str, what: &str) -> Error {
    Error::Unsupported {
        resource: format!("{controller} limit"),
        reason: format!(
            "container could not join or create cgroup ({what} is set, and this host has no \
             {controller} controller for it)"
        ),
    }
}

/// The v1 controllers the resources ask for (a value that would be written), each with the
/// resource that asks for it. Zero and empty values are "not set", as runc's `fs` manager.
fn requested(r: &Resources) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if let Some(c) = &r.cpu {
        if c.cpus.as_deref().is_some_and(|s| !s.is_empty())
            || c.mems.as_deref().is_some_and(|s| !s.is_empty())
        {
            out.push(("cpuset", "cpu.cpus/mems"));
        }
        let nz = |v: Option<i64>| v.is_some_and(|v| v != 0);
        let nzu = |v: Option<u64>| v.is_some_and(|v| v != 0);
        if nzu(c.shares)
            || nz(c.quota)
            || nzu(c.period)
            || c.burst.is_some()
            || c.idle.is_some()
            || nz(c.realtime_runtime)
            || nzu(c.realtime_period)
        {
            out.push(("cpu", "cpu"));
        }
    }
    if let Some(m) = &r.memory {
        let nz = |v: Option<i64>| v.is_some_and(|v| v != 0);
        if nz(m.limit)
            || nz(m.swap)
            || nz(m.reservation)
            || m.disable_oom_killer == Some(true)
            || m.swappiness.is_some_and(|s| s as i64 != -1)
        {
            out.push(("memory", "memory"));
        }
    }
    if r.pids.as_ref().is_some_and(|p| p.limit.is_some()) {
        out.push(("pids", "pids.limit"));
    }
    if let Some(b) = &r.block_io {
        let nz = |v: Option<u16>| v.is_some_and(|v| v != 0);
        if nz(b.weight)
            || nz(b.leaf_weight)
            || b.weight_device
                .iter()
                .any(|d| nz(d.weight) || nz(d.leaf_weight))
            || throttles(b).iter().any(|(_, _, devs)| !devs.is_empty())
        {
            out.push(("blkio", "blockIO"));
        }
    }
    if let Some(n) = &r.network {
        if n.class_id.is_some_and(|id| id != 0) {
            out.push(("net_cls", "network.classID"));
        }
        if !n.priorities.is_empty() {
            out.push(("net_prio", "network.priorities"));
        }
    }
    if !r.rdma.is_empty() {
        out.push(("rdma", "rdma"));
    }
    out
}

/// Checks, before anything is written, that every resource asked for can be applied to this v1
/// (or hybrid) cgroup: no `unified` (v2) files, every controller asked for is there, and the
/// files that depend on the kernel exist (`cpu.idle`). So a refused update writes nothing and
/// needs no rollback, and a refused create leaves nothing behind.
fn check(dirs: &[Dir], r: &Resources) -> Result<()> {
    if !r.unified.is_empty() {
        return Err(Error::InvalidConfig {
            reason: "cannot use unified on cgroup v1".to_owned(),
        });
    }
    let v1 = |c: &str| dir::v1(dirs, c);
    for (controller, what) in requested(r) {
        if v1(controller).is_none() {
            return Err(controller_missing(controller, what));
        }
    }
    if r.cpu.as_ref().is_some_and(|c| c.idle.is_some())
        && let Some(n) = v1("cpu")
        && n.exists()
        && !n.has_file("cpu.idle")
    {
        return Err(Error::Unsupported {
            resource: "cpu.idle".to_owned(),
            reason: format!(
                "this kernel's cgroup v1 cpu controller has no cpu.idle (in {})",
                n.path().display()
            ),
        });
    }
    if !r.hugepage_limits.is_empty() {
        check_page_sizes(r)?;
        // On a hybrid host hugetlb may be bound to the v2 hierarchy.
        let v2 = dir::unified(dirs);
        if v1("hugetlb").is_none() && !v2.is_some_and(|n| v2_has_controller(n, "hugetlb")) {
            return Err(controller_missing("hugetlb", "hugepageLimits"));
        }
    }
    Ok(())
}

/// Applies `r` to a v1 (or hybrid) cgroup.
pub(crate) fn set(dirs: &[Dir], r: &Resources) -> Result<()> {
    warn_ignored(r, false);
    check(dirs, r)?;
    // Below, a missing controller means that nothing is asked of it (checked above).
    let v1 = |c: &str| dir::v1(dirs, c);
    if let Some(cpu) = &r.cpu
        && (cpu.cpus.is_some() || cpu.mems.is_some())
        && let Some(n) = v1("cpuset")
    {
        set_cpuset(n, cpu)?;
    }
    if let Some(m) = &r.memory
        && let Some(n) = v1("memory")
    {
        memory::set(n, m)?;
    }
    if let Some(c) = &r.cpu
        && let Some(n) = v1("cpu")
    {
        cpu::set(n, c)?;
    }
    if let Some(limit) = r.pids.as_ref().and_then(|p| p.limit)
        && let Some(n) = v1("pids")
    {
        set_pids(n, limit)?;
    }
    if let Some(b) = &r.block_io
        && let Some(n) = v1("blkio")
    {
        blkio::set(n, b)?;
    }
    if !r.hugepage_limits.is_empty() {
        // On a hybrid host hugetlb may be bound to the v2 hierarchy.
        match (v1("hugetlb"), dir::unified(dirs)) {
            (Some(n), _) => hugetlb::set(n, r)?,
            (None, Some(n)) if v2_has_controller(n, "hugetlb") => crate::v2::hugetlb::set(n, r)?,
            _ => return Err(controller_missing("hugetlb", "hugepageLimits")),
        }
    }
    if let Some(net) = &r.network {
        if let Some(id) = net.class_id
            && let Some(n) = v1("net_cls")
        {
            net_cls::set(n, id)?;
        }
        if let Some(n) = v1("net_prio") {
            net_prio::set(n, &net.priorities)?;
        }
    }
    if !r.rdma.is_empty()
        && let Some(n) = v1("rdma")
    {
        set_rdma(n, r)?;
    }
    Ok(())
}

/// Reads the statistics of a v1 (or hybrid) cgroup.
pub(crate) fn stats(dirs: &[Dir]) -> Result<Stats> {
    let mut st = Stats::default();
    let v1 = |c: &str| dir::v1(dirs, c).filter(|n| n.exists());
    if let Some(n) = v1("cpuacct") {
        cpuacct::stats(n, &mut st)?;
    }
    if let Some(n) = v1("cpu") {
        cpu::stats(n, &mut st)?;
    }
    if let Some(n) = v1("cpuset") {
        st.cpuset_stats = cpuset_stats(n, "cpuset.cpus", "cpuset.mems")?;
    }
    if let Some(n) = v1("rdma") {
        st.rdma_stats = rdma_stats(n)?;
    }
    if let Some(n) = v1("memory") {
        memory::stats(n, &mut st)?;
    }
    if let Some(n) = v1("pids") {
        st.pids_stats = common::pids_stats(n)?;
    }
    if let Some(n) = v1("blkio") {
        blkio::stats(n, &mut st)?;
    }
    match v1("hugetlb") {
        Some(n) => hugetlb::stats(n, &mut st)?,
        None => {
            if let Some(n) = dir::unified(dirs).filter(|n| n.exists()) {
                crate::v2::hugetlb::stats(n, &mut st)?;
            }
        }
    }
    Ok(st)
}
