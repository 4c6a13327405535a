//! Process security: what init applies to itself right before it becomes the user process.
//!
//! - [`seccomp`]: the OCI profile compiled to classic BPF in the parent ([`seccomp::compile`]),
//!   loaded by init with [`crate::sys::seccomp::load`], and the notify listener handed to the
//!   seccomp agent ([`seccomp::send_listener`]).
//! - [`lsm`]: AppArmor profile and SELinux exec label, written through a private, verified
//!   procfs handle.
//! - [`attrs`]: `oom_score_adj`, personality, scheduler, I/O priority, memory policy and the
//!   session keyring.
//!
//! Init applies them in runc's order (`init/`): the session keyring first, then the LSM labels
//! and attributes; the seccomp filter before the user and capability switch without
//! `no_new_privs`, or last before `execve` with it.

pub(crate) mod attrs;
pub(crate) mod lsm;
pub(crate) mod seccomp;

#[cfg(test)]
pub(crate) mod child;
