//! The v1 `blkio` controller (runc's `fs/blkio.go`): weights (CFQ or BFQ) and throttles; the
//! transfer counters and the scheduler statistics.

use crate::common::throttles;
use crate::error::Result;
use crate::fs::Node;
use crate::resources::BlockIo;
use crate::stats::{BlkioStatEntry, Stats};

/// Applies weights and throttles.
pub(crate) fn set(n: &Node, b: &BlockIo) -> Result<()> {
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

/// Reads the block I/O statistics.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    let (bytes, ios) = if n.has_file("blkio.io_service_bytes_recursive") {
        (
            "blkio.io_service_bytes_recursive",
            "blkio.io_serviced_recursive",
        )
    } else {
        (
            "blkio.throttle.io_service_bytes_recursive",
            "blkio.throttle.io_serviced_recursive",
        )
    };
    st.blkio_stats.io_service_bytes_recursive = entries(n.read_opt(bytes)?);
    st.blkio_stats.io_serviced_recursive = entries(n.read_opt(ios)?);
    // The scheduler statistics: CFQ names them blkio.*, BFQ blkio.bfq.*.
    let prefix = if n.has_file("blkio.io_queued_recursive") {
        "blkio."
    } else {
        "blkio.bfq."
    };
    let b = &mut st.blkio_stats;
    for (file, list) in [
        ("io_queued_recursive", &mut b.io_queue_recursive),
        (
            "io_service_time_recursive",
            &mut b.io_service_time_recursive,
        ),
        ("io_wait_time_recursive", &mut b.io_wait_time_recursive),
        ("io_merged_recursive", &mut b.io_merged_recursive),
        ("time_recursive", &mut b.io_time_recursive),
        ("sectors_recursive", &mut b.sectors_recursive),
    ] {
        *list = entries(n.read_opt(&format!("{prefix}{file}"))?);
    }
    Ok(())
}

/// Parses v1 blkio lines `MAJ:MIN Op value` (the `Total N` line has no device).
fn entries(s: Option<String>) -> Vec<BlkioStatEntry> {
    let mut out = Vec::new();
    for line in s.unwrap_or_default().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (dev, op, value) = match f.as_slice() {
            [dev, op, value] => (*dev, *op, *value),
            [dev, value] if dev.contains(':') => (*dev, "", *value),
            _ => continue,
        };
        let Some((maj, min)) = dev.split_once(':') else {
            continue;
        };
        if let (Ok(major), Ok(minor), Ok(value)) = (maj.parse(), min.parse(), value.parse()) {
            out.push(BlkioStatEntry {
                major,
                minor,
                op: op.to_owned(),
                value,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_lines() {
        let e = entries(Some(
            "8:0 Read 10\n8:0 Write 5\n8:16 7\nTotal 15\n".to_owned(),
        ));
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].major, e[0].minor, e[0].op.as_str(), e[0].value),
            (8, 0, "Read", 10)
        );
        assert_eq!((e[2].minor, e[2].op.as_str(), e[2].value), (16, "", 7));
    }
}
