//! mountinfo parsers: the cgroup crate's hierarchy detection and the rootfs check of procfs/sysfs
//! mounts under a root.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let h = lashing_cgroups::hierarchy::parse_mountinfo(&text);
    let _ = format!("{h:?}");
    let _ = lashing_cgroups::hierarchy::unescape_mountinfo(&text);
    let _ = lashing::fuzzing::host_proc_sys_mounts(&text, Path::new("/run/bundle/rootfs"));
    let _ = lashing::fuzzing::host_proc_sys_mounts(&text, Path::new("/"));
});
