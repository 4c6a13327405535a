//! The init socket protocol: a datagram parsed as a message to init and to the parent, and the
//! bounded receiver with 0..=255 fds attached (first byte: how many copies of stdin's fd).
#![no_main]

use std::os::fd::{AsFd, BorrowedFd};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lashing::fuzzing::parse_init_message(data);
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let fds: Vec<BorrowedFd<'_>> = (0..n).map(|_| null.as_fd()).collect();
    let _ = lashing::fuzzing::recv_init_message(rest, &fds);
});
