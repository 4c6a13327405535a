//! `NOTIFY_SOCKET` datagrams from a container (0xff separates datagrams), read as `run`/`start`
//! read them before relaying `READY=` to the host.
#![no_main]

use lashing_fuzz::split;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let grams = split(data, 0xff, 16);
    if let Some(line) = lashing_cli::fuzzing::notify_datagrams(&grams) {
        assert!(line.starts_with("READY="));
        assert!(!line.contains('\n'));
    }
});
