//! Writing [`Resources`] into v1 and v2 cgroup files, in runc's order and with its conversions.

use crate::error::{Error, Result};
use crate::fs::Node;
use crate::manager::Dir;
use crate::resources::{
    BlockIo, Cpu, Memory, Resources, ThrottleDevice, convert_blkio_weight_to_io_weight,
    convert_cpu_shares_to_weight, convert_memory_swap_to_v2,
};

fn warn_ignored(r: &Resources, v2: bool) {
    if let Some(m) = &r.memory {
        if m.kernel.is_some_and(|v| v != 0) || m.kernel_tcp.is_some_and(|v| v != 0) {
            tracing::warn!("kernel memory limits (memory.kernel, memory.kernelTCP) are ignored");
        }
        if v2 && m.swappiness.is_some_and(|s| s as i64 != -1) {
            tracing::warn!("memory.swappiness is not supported on cgroup v2: ignored");
        }
        if v2 && m.disable_oom_killer == Some(true) {
            tracing::warn!("memory.disableOOMKiller is not supported on cgroup v2: ignored");
        }
    }
    if v2
        && r.block_io
            .as_ref()
            .is_some_and(|b| b.leaf_weight.is_some_and(|w| w != 0))
    {
        tracing::warn!("blockIO.leafWeight is not supported on cgroup v2: ignored");
    }
    if v2 && r.network.is_some() {
        tracing::warn!("network (net_cls/net_prio) is not supported on cgroup v2: ignored");
    }
    if !r.devices.is_empty() {
        tracing::debug!("device rules are applied by the caller, not by Manager::set");
    }
}

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
fn v1_requested(r: &Resources) -> Vec<(&'static str, &'static str)> {
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
fn check_v1(dirs: &[Dir], r: &Resources) -> Result<()> {
    if !r.unified.is_empty() {
        return Err(Error::InvalidConfig {
            reason: "cannot use unified on cgroup v1".to_owned(),
        });
    }
    let v1 = |c: &str| {
        dirs.iter()
            .find(|d| !d.node.unified() && d.has_controller(c))
            .map(|d| &d.node)
    };
    for (controller, what) in v1_requested(r) {
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
        let v2 = dirs.iter().find(|d| d.node.unified()).map(|d| &d.node);
        if v1("hugetlb").is_none() && !v2.is_some_and(|n| v2_has_controller(n, "hugetlb")) {
            return Err(controller_missing("hugetlb", "hugepageLimits"));
        }
    }
    Ok(())
}

/// A requested limit whose controller this host does not have.
fn no_controller(controller: &str, file: &str) -> Error {
    Error::Unsupported {
        resource: controller.to_owned(),
        reason: format!(
            "no {controller} controller is available for this cgroup (file {file} cannot be written)"
        ),
    }
}

/// Refuses huge page sizes the host does not have (their files would not exist).
fn check_page_sizes(r: &Resources) -> Result<()> {
    let sizes = crate::stats::hugepage_sizes();
    for h in &r.hugepage_limits {
        if !sizes.contains(&h.page_size) {
            return Err(Error::Unsupported {
                resource: format!("hugetlb {}", h.page_size),
                reason: format!(
                    "the host has no {} huge pages (sizes: {}), so hugetlb.{}.limit_in_bytes / \
                     hugetlb.{}.max do not exist",
                    h.page_size,
                    if sizes.is_empty() {
                        "none".to_owned()
                    } else {
                        sizes.join(", ")
                    },
                    h.page_size,
                    h.page_size
                ),
            });
        }
    }
    Ok(())
}

/// Decimal, with -1 (or any negative) as `max`.
fn num_or_max(v: i64) -> String {
    if v < 0 {
        "max".to_owned()
    } else {
        v.to_string()
    }
}

/// Applies `r` to a v1 (or hybrid) cgroup.
pub(crate) fn set_v1(dirs: &[Dir], r: &Resources) -> Result<()> {
    warn_ignored(r, false);
    check_v1(dirs, r)?;
    // Below, a missing controller means that nothing is asked of it (checked above).
    let v1 = |c: &str| {
        dirs.iter()
            .find(|d| !d.node.unified() && d.has_controller(c))
            .map(|d| &d.node)
    };
    if let Some(cpu) = &r.cpu
        && (cpu.cpus.is_some() || cpu.mems.is_some())
        && let Some(n) = v1("cpuset")
    {
        set_cpuset(n, cpu)?;
    }
    if let Some(m) = &r.memory
        && let Some(n) = v1("memory")
    {
        v1_memory(n, m)?;
    }
    if let Some(c) = &r.cpu
        && let Some(n) = v1("cpu")
    {
        v1_cpu(n, c)?;
    }
    if let Some(limit) = r.pids.as_ref().and_then(|p| p.limit)
        && let Some(n) = v1("pids")
    {
        n.write("pids.max", &num_or_max(if limit <= 0 { -1 } else { limit }))?;
    }
    if let Some(b) = &r.block_io
        && let Some(n) = v1("blkio")
    {
        v1_blkio(n, b)?;
    }
    if !r.hugepage_limits.is_empty() {
        // On a hybrid host hugetlb may be bound to the v2 hierarchy.
        let v2 = dirs.iter().find(|d| d.node.unified()).map(|d| &d.node);
        match (v1("hugetlb"), v2) {
            (Some(n), _) => {
                for h in &r.hugepage_limits {
                    let limit = h.limit.to_string();
                    n.write(&format!("hugetlb.{}.limit_in_bytes", h.page_size), &limit)?;
                    let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", h.page_size);
                    if n.has_file(&rsvd) {
                        n.write(&rsvd, &limit)?;
                    }
                }
            }
            (None, Some(n)) if v2_has_controller(n, "hugetlb") => set_v2_hugetlb(n, r)?,
            _ => return Err(controller_missing("hugetlb", "hugepageLimits")),
        }
    }
    if let Some(net) = &r.network {
        if let Some(id) = net.class_id
            && let Some(n) = v1("net_cls")
        {
            n.write("net_cls.classid", &id.to_string())?;
        }
        if let Some(n) = v1("net_prio") {
            for p in &net.priorities {
                n.write("net_prio.ifpriomap", &format!("{} {}", p.name, p.priority))?;
            }
        }
    }
    if !r.rdma.is_empty()
        && let Some(n) = v1("rdma")
    {
        set_rdma(n, r)?;
    }
    Ok(())
}

fn set_cpuset(n: &Node, cpu: &Cpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus.as_deref().filter(|s| !s.is_empty()) {
        n.write("cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems.as_deref().filter(|s| !s.is_empty()) {
        n.write("cpuset.mems", mems)?;
    }
    Ok(())
}

fn read_u64(n: &Node, file: &str) -> Result<u64> {
    let s = n.read(file)?;
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| Error::Parse {
        path: n.path().join(file),
        value: t.to_owned(),
        reason: "not an unsigned integer".to_owned(),
    })
}

fn v1_set_limit(n: &Node, val: i64) -> Result<()> {
    if val == 0 {
        return Ok(());
    }
    match n.write("memory.limit_in_bytes", &val.to_string()) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let usage = read_u64(n, "memory.usage_in_bytes").unwrap_or(0);
            let peak = read_u64(n, "memory.max_usage_in_bytes").unwrap_or(0);
            Err(Error::InvalidResource {
                resource: "memory.limit".to_owned(),
                value: val.to_string(),
                reason: format!("below the current usage {usage} (peak {peak})"),
            })
        }
        r => r,
    }
}

fn v1_memory(n: &Node, m: &Memory) -> Result<()> {
    let memory = m.limit.unwrap_or(0);
    let mut swap = m.swap.unwrap_or(0);
    const SWAP_FILE: &str = "memory.memsw.limit_in_bytes";
    // Unlimited memory without an explicit swap limit: unlimited swap too.
    if memory == -1 && swap == 0 && n.has_file(SWAP_FILE) {
        swap = -1;
    }
    let mut done = false;
    if memory != 0 && swap != 0 {
        // Order the two writes so that memory <= memory+swap holds at every step.
        let current = read_u64(n, "memory.limit_in_bytes")?;
        if swap == -1 || current < swap as u64 {
            n.write(SWAP_FILE, &swap.to_string())?;
            v1_set_limit(n, memory)?;
            done = true;
        }
    }
    if !done {
        v1_set_limit(n, memory)?;
        if swap != 0 {
            n.write(SWAP_FILE, &swap.to_string())?;
        }
    }
    if let Some(res) = m.reservation.filter(|v| *v != 0) {
        n.write("memory.soft_limit_in_bytes", &res.to_string())?;
    }
    if m.disable_oom_killer == Some(true) {
        n.write("memory.oom_control", "1")?;
    }
    if let Some(s) = m.swappiness.filter(|s| *s as i64 != -1) {
        if s > 100 {
            return Err(Error::InvalidResource {
                resource: "memory.swappiness".to_owned(),
                value: s.to_string(),
                reason: "valid range is 0-100".to_owned(),
            });
        }
        n.write("memory.swappiness", &s.to_string())?;
    }
    if let Some(h) = m.use_hierarchy
        && let Err(e) = n.write("memory.use_hierarchy", if h { "1" } else { "0" })
    {
        tracing::warn!(error = %e, "memory.useHierarchy not applied");
    }
    Ok(())
}

fn v1_cpu(n: &Node, c: &Cpu) -> Result<()> {
    // cpu.shares cannot be written while the cgroup is idle (EINVAL): leaving the idle state
    // comes first, entering it last.
    if c.idle == Some(0) {
        n.write("cpu.idle", "0")?;
    }
    if let Some(shares) = c.shares.filter(|s| *s != 0) {
        n.write("cpu.shares", &shares.to_string())?;
        let read = read_u64(n, "cpu.shares")?;
        if read != shares {
            return Err(Error::InvalidResource {
                resource: "cpu.shares".to_owned(),
                value: shares.to_string(),
                reason: format!(
                    "the {} allowed cpu-shares is {read}",
                    if shares > read { "maximum" } else { "minimum" }
                ),
            });
        }
    }
    let quota = c.quota.unwrap_or(0);
    // A period or burst rejected with EINVAL may only fit after the quota: retry after it.
    let mut period_later = None;
    if let Some(p) = c.period.filter(|p| *p != 0) {
        match n.write("cpu.cfs_period_us", &p.to_string()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota != 0 => {
                period_later = Some(p)
            }
            r => r?,
        }
    }
    let mut burst_later = None;
    if let Some(b) = c.burst {
        match n.write("cpu.cfs_burst_us", &b.to_string()) {
            // As runc: a kernel without the burst knob ignores it (said, not silent).
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                if b != 0 {
                    tracing::warn!(burst = b, "this kernel has no cpu.cfs_burst_us: ignored");
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota != 0 => burst_later = Some(b),
            r => r?,
        }
    }
    if quota != 0 {
        n.write("cpu.cfs_quota_us", &quota.to_string())?;
        if let Some(p) = period_later {
            n.write("cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(b) = burst_later {
            n.write("cpu.cfs_burst_us", &b.to_string())?;
        }
    }
    if let Some(idle) = c.idle.filter(|i| *i != 0) {
        n.write("cpu.idle", &idle.to_string())?;
    }
    // Real-time scheduling: period and runtime depend on each other.
    let runtime = c.realtime_runtime.unwrap_or(0);
    let mut rt_period_later = None;
    if let Some(p) = c.realtime_period.filter(|p| *p != 0) {
        match n.write("cpu.rt_period_us", &p.to_string()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && runtime != 0 => {
                rt_period_later = Some(p)
            }
            r => r?,
        }
    }
    if runtime != 0 {
        n.write("cpu.rt_runtime_us", &runtime.to_string())?;
        if let Some(p) = rt_period_later {
            n.write("cpu.rt_period_us", &p.to_string())?;
        }
    }
    Ok(())
}

fn throttles(b: &BlockIo) -> [(&'static str, &'static str, &[ThrottleDevice]); 4] {
    [
        (
            "blkio.throttle.read_bps_device",
            "rbps",
            &b.throttle_read_bps_device,
        ),
        (
            "blkio.throttle.write_bps_device",
            "wbps",
            &b.throttle_write_bps_device,
        ),
        (
            "blkio.throttle.read_iops_device",
            "riops",
            &b.throttle_read_iops_device,
        ),
        (
            "blkio.throttle.write_iops_device",
            "wiops",
            &b.throttle_write_iops_device,
        ),
    ]
}

fn v1_blkio(n: &Node, b: &BlockIo) -> Result<()> {
    let (weight_file, weight_device_file) = if n.has_file("blkio.weight") {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(w) = b.weight.filter(|w| *w != 0) {
        n.write(weight_file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight.filter(|w| *w != 0) {
        n.write("blkio.leaf_weight", &w.to_string())?;
    }
    for wd in &b.weight_device {
        if let Some(w) = wd.weight.filter(|w| *w != 0) {
            n.write(
                weight_device_file,
                &format!("{}:{} {w}", wd.major, wd.minor),
            )?;
        }
        if let Some(w) = wd.leaf_weight.filter(|w| *w != 0) {
            n.write(
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", wd.major, wd.minor),
            )?;
        }
    }
    for (file, _, devs) in throttles(b) {
        for d in devs {
            n.write(file, &format!("{}:{} {}", d.major, d.minor, d.rate))?;
        }
    }
    Ok(())
}

fn set_rdma(n: &Node, r: &Resources) -> Result<()> {
    for (dev, l) in &r.rdma {
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects {
            line.push_str(&format!(" hca_object={o}"));
        }
        n.write("rdma.max", &line)?;
    }
    Ok(())
}

/// Whether a v2 cgroup has `controller` enabled (listed in its `cgroup.controllers`).
pub(crate) fn v2_has_controller(n: &Node, controller: &str) -> bool {
    n.read_opt("cgroup.controllers")
        .ok()
        .flatten()
        .is_some_and(|c| c.split_whitespace().any(|x| x == controller))
}

fn set_v2_hugetlb(n: &Node, r: &Resources) -> Result<()> {
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

/// `0` → unset, negative → `max`.
fn v2_num(v: i64) -> Option<String> {
    match v {
        0 => None,
        v if v < 0 => Some("max".to_owned()),
        v => Some(v.to_string()),
    }
}

/// Applies `r` to a v2 cgroup (runc's fs2 order: pids, memory, io, cpu, cpuset, hugetlb, rdma,
/// then the `unified` files).
pub(crate) fn set_v2(n: &Node, r: &Resources) -> Result<()> {
    warn_ignored(r, true);
    if let Some(limit) = r.pids.as_ref().and_then(|p| p.limit) {
        n.write("pids.max", &num_or_max(if limit <= 0 { -1 } else { limit }))?;
    }
    if let Some(m) = &r.memory {
        v2_memory(n, m)?;
    }
    if let Some(b) = &r.block_io {
        v2_io(n, b)?;
    }
    if let Some(c) = &r.cpu {
        v2_cpu(n, c)?;
        set_cpuset(n, c)?;
    }
    if !r.hugepage_limits.is_empty() {
        check_page_sizes(r)?;
        if !v2_has_controller(n, "hugetlb") {
            return Err(no_controller("hugetlb", "hugetlb.<size>.max"));
        }
        set_v2_hugetlb(n, r)?;
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

fn v2_memory(n: &Node, m: &Memory) -> Result<()> {
    let memory = m.limit.unwrap_or(0);
    let swap = m.swap.unwrap_or(0);
    let reservation = m.reservation.unwrap_or(0);
    if memory == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    if m.check_before_update == Some(true) && memory > 0 {
        let usage = read_u64(n, "memory.current")?;
        if usage >= memory as u64 {
            return Err(Error::InvalidResource {
                resource: "memory.limit".to_owned(),
                value: memory.to_string(),
                reason: format!("below the current usage {usage}"),
            });
        }
    }
    let swap_v2 = convert_memory_swap_to_v2(swap, memory)?;
    let mut swap_str = v2_num(swap_v2);
    if swap_str.is_none() && swap_v2 == 0 && swap > 0 {
        // Memory and memory+swap equal: no swap at all.
        swap_str = Some("0".to_owned());
    }
    if let Some(s) = swap_str {
        match n.write("memory.swap.max", &s) {
            // Without swap accounting, "no limit" and "no swap" need nothing.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && (s == "max" || s == "0") => {}
            r => r?,
        }
    }
    if let Some(v) = v2_num(memory) {
        n.write("memory.max", &v)?;
    }
    if let Some(v) = v2_num(reservation) {
        n.write("memory.low", &v)?;
    }
    Ok(())
}

fn v2_io(n: &Node, b: &BlockIo) -> Result<()> {
    let weight = b.weight.unwrap_or(0);
    let bfq = (weight != 0 || !b.weight_device.is_empty()) && n.has_file("io.bfq.weight");
    if weight != 0 {
        if bfq {
            n.write("io.bfq.weight", &weight.to_string())?;
        } else {
            n.write(
                "io.weight",
                &convert_blkio_weight_to_io_weight(weight).to_string(),
            )?;
        }
    }
    if bfq {
        for wd in &b.weight_device {
            if let Some(w) = wd.weight.filter(|w| *w != 0) {
                n.write("io.bfq.weight", &format!("{}:{} {w}", wd.major, wd.minor))?;
            }
        }
    } else if !b.weight_device.is_empty() {
        tracing::warn!("blockIO.weightDevice needs the BFQ scheduler on cgroup v2: ignored");
    }
    for (_, key, devs) in throttles(b) {
        for d in devs {
            n.write(
                "io.max",
                &format!("{}:{} {key}={}", d.major, d.minor, d.rate),
            )?;
        }
    }
    Ok(())
}

fn v2_cpu(n: &Node, c: &Cpu) -> Result<()> {
    if c.realtime_runtime.is_some_and(|v| v != 0) || c.realtime_period.is_some_and(|v| v != 0) {
        return Err(Error::Unsupported {
            resource: "cpu.realtimeRuntime/realtimePeriod".to_owned(),
            reason: "real-time CPU limits do not exist on cgroup v2".to_owned(),
        });
    }
    if let Some(idle) = c.idle {
        n.write("cpu.idle", &idle.to_string())?;
    }
    let weight = convert_cpu_shares_to_weight(c.shares.unwrap_or(0));
    if weight != 0 {
        n.write("cpu.weight", &weight.to_string())?;
    }
    let quota = c.quota.unwrap_or(0);
    let period = c.period.unwrap_or(0);
    let mut burst_later = None;
    if let Some(b) = c.burst {
        match n.write("cpu.max.burst", &b.to_string()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota != 0 => burst_later = Some(b),
            r => r?,
        }
    }
    if quota != 0 || period != 0 {
        let mut v = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_owned()
        };
        if period != 0 {
            v.push_str(&format!(" {period}"));
        }
        n.write("cpu.max", &v)?;
        if let Some(b) = burst_later {
            n.write("cpu.max.burst", &b.to_string())?;
        }
    }
    Ok(())
}
