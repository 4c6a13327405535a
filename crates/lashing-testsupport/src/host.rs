//! Facts about the host that tests branch on: the cgroup layout, a block device, `/proc` text.

/// Whether the host has the pure cgroup v2 layout.
pub fn unified() -> bool {
    lashing_cgroups::detect() == lashing_cgroups::CgroupMode::Unified
}

/// A real block device of the host, for blkio/io limits: `(major, minor, scheduler line)` of the
/// first entry of `/sys/block`, loop, ram and zram devices last; `None` when there is none.
pub fn block_device() -> Option<(u32, u32, String)> {
    let mut devs: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    devs.sort_by_key(|d| {
        let n = d.file_name().to_string_lossy().into_owned();
        (
            n.starts_with("loop") || n.starts_with("ram") || n.starts_with("zram"),
            n,
        )
    });
    let d = devs.first()?;
    let dev = std::fs::read_to_string(d.path().join("dev")).ok()?;
    let (maj, min) = dev.trim().split_once(':')?;
    let sched = std::fs::read_to_string(d.path().join("queue/scheduler")).unwrap_or_default();
    Some((maj.parse().ok()?, min.parse().ok()?, sched))
}

/// The value of a `Key:\tvalue` line of a `/proc/<pid>/status` text, trimmed.
pub fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let t = "Name:\tsh\nCapEff:\t0000000000000000\nCap:\tx\n";
        assert_eq!(status_field(t, "CapEff"), Some("0000000000000000"));
        assert_eq!(status_field(t, "Cap"), Some("x"));
        assert_eq!(status_field(t, "Nope"), None);
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert_eq!(
            status_field(&own, "Pid"),
            Some(std::process::id().to_string().as_str())
        );
    }

    #[test]
    fn block_device_numbers_are_the_devices() {
        if let Some((maj, min, _)) = block_device() {
            assert!(maj > 0, "{maj}:{min}");
        } else {
            assert!(std::fs::read_dir("/sys/block").map_or(true, |mut d| d.next().is_none()));
        }
    }
}
