//! The `clone3` of init, and where init is when it returns: in its v2 cgroup when the kernel
//! took `CLONE_INTO_CGROUP`, and in its v1 cgroups when a thread made for it joined them first
//! and forked init there.
//!
//! Why the thread: moving a process into a v1 cgroup (`cgroup.procs`) takes the kernel's global
//! threadgroup lock for writing, and the first writer after an idle spell waits for a full RCU
//! grace period (10-20 ms on this kind of host: most of a cold container start, and every fork
//! on the machine waits behind it). A thread moving itself (`tasks`, `0`) takes no such lock,
//! and a process it forks is born in its cgroups. The thread forks init and ends at once; its
//! membership ends with it, before the caller goes on. A process whose only thread is the
//! caller's (the `lashing` command) moves that thread there and back instead: no thread to make.
//! Whatever fails on that way (a `pids` limit that counts the thread as well, a cgroup that
//! refuses the thread), init is forked again the usual way and moved in by pid.

use std::os::fd::BorrowedFd;

use lashing_cgroups::Manager;

use super::NsPlan;
use super::pidns::PidNsForChildren;
use crate::config::NamespaceType;
use crate::error::{Error, Result};
use crate::sys;

/// Where init already is when `clone3` returns.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    /// In its v2 cgroup (`CLONE_INTO_CGROUP`).
    pub into_cgroup: bool,
    /// In its v1 cgroups (forked by a thread that had joined them).
    pub v1: bool,
    /// In the pid namespace it was to be born in (`pidns.rs`).
    pub in_pidns: bool,
}

/// Forks init as `spec` says; first, when `born_in` is given, from a thread that joined its v1
/// cgroups (see the module doc), else (or if that fails) from the calling thread. With `pidns`
/// (an exec into a pid namespace), the forking thread joins that namespace for its children
/// first where it may (`pidns.rs`; a thread cannot be made once the calling thread has, so the
/// birth thread joins it itself).
pub(super) fn clone_init_placed(
    born_in: Option<&Manager>,
    pidns: Option<BorrowedFd<'_>>,
    spec: &mut sys::clone::SpawnSpec<'_>,
    plan: &mut NsPlan,
) -> Result<(sys::clone::Spawned, Placed)> {
    if let Some(cgroup) = born_in {
        let r = if single_threaded() {
            clone_in_place(cgroup, pidns, spec, plan)
        } else {
            clone_in_thread(cgroup, pidns, spec, plan)
        };
        match r {
            Ok((s, into_cgroup, in_pidns)) => {
                let placed = Placed {
                    into_cgroup,
                    v1: true,
                    in_pidns,
                };
                return Ok((s, placed));
            }
            Err(e) => tracing::debug!("init not forked in its v1 cgroups ({e}): placed by pid"),
        }
    }
    let joined = pidns.and_then(PidNsForChildren::enter);
    let (s, into_cgroup) = clone_init(spec, plan)?;
    let placed = Placed {
        into_cgroup,
        v1: false,
        in_pidns: joined.is_some(),
    };
    Ok((s, placed))
}

/// Whether this process has no other thread than the caller's (a short-lived program such as
/// the `lashing` command): from `/proc/self/stat`, through a verified procfs. Wrong at worst
/// costs the other way's price: either way only the calling thread moves.
fn single_threaded() -> bool {
    let Ok(proc) = crate::procfs::ProcFs::mounted() else {
        return false;
    };
    let Ok(stat) = proc.read("self/stat") else {
        return false;
    };
    // pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
    // stime cutime cstime priority nice num_threads ...
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.split(' ').nth(17))
        .is_some_and(|n| n == "1")
}

/// [`clone_init`] from the calling thread itself, the only one of its process, moved into
/// `cgroup`'s v1 hierarchies and back (no thread to make: less memory and work for a short-lived
/// program). Only the calling thread moves (`tasks`), so no lock's grace period either way.
fn clone_in_place(
    cgroup: &Manager,
    pidns: Option<BorrowedFd<'_>>,
    spec: &mut sys::clone::SpawnSpec<'_>,
    plan: &mut NsPlan,
) -> std::result::Result<(sys::clone::Spawned, bool, bool), String> {
    let home = cgroup
        .own_v1()
        .map_err(|e| format!("find this thread's own v1 cgroups: {e}"))?;
    if let Err(e) = cgroup.join_thread_v1() {
        let _ = home.join_thread_v1();
        return Err(format!("join the v1 cgroups: {e}"));
    }
    crate::waterfall::mark("runtime thread in the v1 cgroups");
    let joined = pidns.and_then(PidNsForChildren::enter);
    let r = clone_init(spec, plan);
    let in_pidns = joined.is_some();
    drop(joined);
    if let Err(e) = home.join_thread_v1() {
        tracing::warn!("could not move back to this process's own v1 cgroups: {e}");
    }
    let (child, into_cgroup) = r.map_err(|e| crate::error::chain(&e))?;
    Ok((child, into_cgroup, in_pidns))
}

/// [`clone_init`] from a thread made for it, once it has joined `cgroup`'s v1 hierarchies (and
/// `pidns` for its children, where it may). Returns the child, whether it is in its v2 cgroup
/// and whether in `pidns`.
fn clone_in_thread(
    cgroup: &Manager,
    pidns: Option<BorrowedFd<'_>>,
    spec: &mut sys::clone::SpawnSpec<'_>,
    plan: &mut NsPlan,
) -> std::result::Result<(sys::clone::Spawned, bool, bool), String> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("lashing-birth".into())
            .stack_size(256 << 10)
            .spawn_scoped(s, move || {
                cgroup
                    .join_thread_v1()
                    .map_err(|e| format!("join the v1 cgroups: {e}"))?;
                crate::waterfall::mark("birth thread in the v1 cgroups");
                let joined = pidns.and_then(PidNsForChildren::enter);
                let (child, into_cgroup) =
                    clone_init(spec, plan).map_err(|e| crate::error::chain(&e))?;
                Ok((child, into_cgroup, joined.is_some()))
            })
            .map_err(|e| format!("spawn a thread: {e}"))
            .and_then(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the thread panicked".into()))
            })
    })
}

/// `clone3`s init as `spec` says, into its v2 cgroup when `spec` has one, retried without it
/// if the kernel refuses it (then a new cgroup namespace is made by init, once it is in the
/// cgroup: `plan` says so). Returns the child and whether it is in the v2 cgroup.
fn clone_init(
    spec: &mut sys::clone::SpawnSpec<'_>,
    plan: &mut NsPlan,
) -> Result<(sys::clone::Spawned, bool)> {
    match sys::clone::spawn_init(spec) {
        Ok(s) => Ok((s, spec.cgroup_fd.is_some())),
        Err(e) if spec.cgroup_fd.is_some() => {
            tracing::debug!("clone3 with CLONE_INTO_CGROUP failed ({e}); retrying without it");
            spec.cgroup_fd = None;
            // The new cgroup namespace would be rooted at our own cgroup: init makes it once
            // it has been moved into the container's.
            let cgroupns = NamespaceType::Cgroup.clone_flag();
            if spec.clone_flags & cgroupns != 0 {
                spec.clone_flags &= !cgroupns;
                plan.unshare |= cgroupns;
            }
            let s = sys::clone::spawn_init(spec).map_err(|e| Error::Sys {
                op: "clone3 the container's init",
                source: e,
            })?;
            Ok((s, false))
        }
        Err(e) => Err(Error::Sys {
            op: "clone3 the container's init",
            source: e,
        }),
    }
}
