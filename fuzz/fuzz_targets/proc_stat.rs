//! The `/proc/<pid>/stat` parser behind every liveness check (state letter, start time).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = lashing::fuzzing::parse_proc_stat(&text);
});
