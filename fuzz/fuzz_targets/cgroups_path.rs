//! cgroupsPath rules (`compute_paths`): `<cgroupsPath>\n<id>\n<proc/self/cgroup text>` against a
//! hybrid hierarchy set. A result must stay inside its hierarchy and never be the root itself.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use lashing_cgroups::hierarchy::{Hierarchy, compute_paths, parse_mountinfo};
use libfuzzer_sys::fuzz_target;

const MOUNTINFO: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 31 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
37 31 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
38 31 0:33 /sub /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
";

fn hierarchies() -> &'static [Hierarchy] {
    static H: OnceLock<Vec<Hierarchy>> = OnceLock::new();
    H.get_or_init(|| parse_mountinfo(MOUNTINFO))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let path = parts.next().unwrap_or("");
    let id = parts.next().unwrap_or("");
    let own = parts.next().unwrap_or("");
    let Ok(paths) = compute_paths(hierarchies(), own, path, id) else {
        return;
    };
    for dir in paths.values() {
        let inside = hierarchies()
            .iter()
            .any(|h| dir.starts_with(&h.mount_point) && dir != &h.mount_point);
        assert!(
            inside,
            "{path:?} (id {id:?}) gave {dir:?}, not inside a hierarchy"
        );
        assert!(
            !dir.components()
                .any(|c| matches!(c, std::path::Component::ParentDir)),
            "{dir:?} keeps a `..`"
        );
        assert!(dir.starts_with(Path::new("/sys/fs/cgroup")));
    }
});
