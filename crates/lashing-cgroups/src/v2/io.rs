//! The v2 `io` controller (runc's `fs2/io.go`): weights (BFQ, or `io.weight` converted from the
//! blkio weight) and `io.max` throttles; `io.stat` in the v1 blkio shape, and pressure.

use crate::common::throttles;
use crate::error::Result;
use crate::fs::Node;
use crate::resources::{BlockIo, convert_blkio_weight_to_io_weight};
use crate::stats::{BlkioStatEntry, Stats};
use crate::v2::psi;

/// Applies weights and throttles.
pub(crate) fn set(n: &Node, b: &BlockIo) -> Result<()> {
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

/// Reads `io.stat` and `io.pressure`.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    st.blkio_stats.psi = psi::read(n, "io.pressure")?;
    for line in n.read_opt("io.stat")?.unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let b = &mut st.blkio_stats;
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "dbytes" => (&mut b.io_service_bytes_recursive, "Discard"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                "dios" => (&mut b.io_serviced_recursive, "Discard"),
                "cost.usage" => (&mut b.io_cost_usage, ""),
                "cost.wait" => (&mut b.io_cost_wait, ""),
                "cost.indebt" => (&mut b.io_cost_indebt, ""),
                "cost.indelay" => (&mut b.io_cost_indelay, ""),
                _ => continue,
            };
            list.push(BlkioStatEntry {
                major,
                minor,
                op: op.to_owned(),
                value,
            });
        }
    }
    Ok(())
}
