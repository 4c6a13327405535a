//! The command-line parser of `lashing` (arguments separated by NUL; any bytes, as argv can be).
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data
        .split(|b| *b == 0)
        .take(64)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    let _ = lashing_cli::fuzzing::parse_args(&args);
});
