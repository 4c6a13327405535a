//! runc's `update` semantics: a patch of resources overlaid on the current ones
//! ([`Resources::merge_update`]), shared by `lashing update` and the containerd shim.

use crate::resources::{Resources, ThrottleDevice, WeightDevice};

impl Resources {
    /// Overlays `patch` on these resources as runc's `update` does: zero or absent values keep
    /// the current ones; a lone CPU quota or period keeps the other; a block-I/O device already
    /// listed gets the new values and a new one is appended; device rules are kept.
    pub fn merge_update(&mut self, patch: Resources) {
        merge(self, patch);
    }
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
        old.merge_update(patch);
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
        old.merge_update(patch);
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
        old.merge_update(patch);
        merge(
            &mut old,
            serde_json::from_str(r#"{"pids": {"limit": 6}}"#).unwrap(),
        );
        assert_eq!(old.cpu.as_ref().unwrap().shares, Some(128));
    }
}
