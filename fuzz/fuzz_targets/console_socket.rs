//! The `--console-socket` receiver: a message with 0..=3 fds (first byte) and a name.
#![no_main]

use std::os::fd::{AsFd, BorrowedFd};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let fds: Vec<BorrowedFd<'_>> = (0..n % 4).map(|_| null.as_fd()).collect();
    let _ = lashing_cli::fuzzing::console_message(rest, &fds);
});
