//! Raw system-call wrappers: the only module of lashing with `unsafe` code.
#![allow(unsafe_code)]
