//! Not an API. With the feature `fuzzing` (and only then: without it this library is empty),
//! the CLI's modules are compiled as a library too, so that the fuzz targets in `fuzz/` reach the
//! command-line parser and the socket message parsers of the `lashing` binary.
#![cfg(feature = "fuzzing")]
// The binary uses everything; as a library only the fuzzing entry points are reachable.
#![allow(dead_code, unused_imports)]

mod cli;
mod commands;
mod error;
mod globals;
mod logging;
mod notify_socket;
mod signals;
mod sys;
mod tty;

#[doc(hidden)]
pub mod fuzzing;
