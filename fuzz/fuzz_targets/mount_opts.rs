//! runc's mount-option parser (`mounts[].options`, comma-separated here).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts: Vec<&str> = text.split(',').collect();
    let parsed = lashing::config::parse_mount_options(&opts);
    let _ = format!("{parsed:?}");
});
