//! lashing: a Linux container runtime library, the Rust counterpart of runc's libcontainer.
#![deny(missing_docs)]

pub mod config;
mod sys;

pub use config::Config;
