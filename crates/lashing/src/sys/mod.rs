//! Raw system-call wrappers: the only module of lashing with `unsafe` code. Every block carries a
//! `// SAFETY:` comment; everything else in the crate uses these wrappers or rustix.

pub(crate) mod clone;
pub(crate) mod net;
pub(crate) mod netlink;
pub(crate) mod pages;
pub(crate) mod process;

pub(crate) mod mount;

pub(crate) mod seccomp;

pub(crate) mod spawn;

pub(crate) mod userns;

#[cfg(test)]
pub(crate) mod libseccomp;
