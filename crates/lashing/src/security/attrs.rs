//! Process attributes set by init before the user process runs: `oom_score_adj`, personality,
//! scheduler (`sched_setattr`), I/O priority, NUMA memory policy and the session keyring.
//!
//! The setting types mirror the OCI fields (`process.scheduler`, `process.ioPriority`,
//! `linux.memoryPolicy`, `linux.personality`) in camelCase JSON, so that the config model can
//! carry them as they are.

use crate::config::{IoPriority, MemoryPolicy, Personality, Scheduler};
use std::ffi::CString;
use std::io;

use crate::procfs::{ProcError, ProcFs, ProcPolicy};
use crate::sys::seccomp as sys;

/// An error setting a process attribute: what, with which value, and why.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttrError {
    /// A setting names something the kernel does not know.
    #[error("{what}: invalid value {value:?}")]
    Invalid {
        /// The setting.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The system call failed.
    #[error("{what} {value}")]
    Sys {
        /// The setting.
        what: &'static str,
        /// The value.
        value: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing `oom_score_adj` through procfs failed.
    #[error("oom_score_adj of pid {pid} = {value}")]
    Proc {
        /// The process.
        pid: i32,
        /// The value.
        value: i32,
        /// The cause.
        #[source]
        source: ProcError,
    },
}

fn invalid(what: &'static str, value: impl Into<String>) -> AttrError {
    AttrError::Invalid {
        what,
        value: value.into(),
    }
}

fn sys_err(
    what: &'static str,
    value: impl std::fmt::Display,
) -> impl FnOnce(io::Error) -> AttrError {
    let value = value.to_string();
    move |source| AttrError::Sys {
        what,
        value,
        source,
    }
}

/// Writes `oom_score_adj` of the process `pid` through a verified procfs handle
/// ([`crate::procfs`]: `<pid>/oom_score_adj`, nothing mounted on its path followed). The parent
/// calls it for the container's init (as host root, with [`ProcPolicy::PrivateOrHost`]: init,
/// non-dumpable and maybe in a user namespace, may not write its own).
pub(crate) fn set_oom_score_adj(pid: i32, adj: i32, policy: ProcPolicy) -> Result<(), AttrError> {
    let proc_err = |source| AttrError::Proc {
        pid,
        value: adj,
        source,
    };
    let proc = ProcFs::open_with(policy).map_err(proc_err)?;
    proc.write_pid_file(pid, "oom_score_adj", &adj.to_string())
        .map_err(proc_err)
}

/// `PER_LINUX`.
const PER_LINUX: u32 = 0x0000;
/// `PER_LINUX32`.
const PER_LINUX32: u32 = 0x0008;

impl Personality {
    /// The `personality(2)` value.
    pub(crate) fn value(&self) -> Result<u32, AttrError> {
        if let Some(f) = self.flags.first() {
            return Err(invalid("personality flag", f.clone()));
        }
        match self.domain.as_str() {
            "LINUX" => Ok(PER_LINUX),
            "LINUX32" => Ok(PER_LINUX32),
            d => Err(invalid("personality domain", d)),
        }
    }
}

/// Sets the execution domain (`personality(2)`).
pub(crate) fn set_personality(p: &Personality) -> Result<(), AttrError> {
    let v = p.value()?;
    sys::personality(v).map_err(sys_err("personality", &p.domain))
}

impl Scheduler {
    /// The `struct sched_attr` (runc's `ToSchedAttr`).
    pub(crate) fn attr(&self) -> Result<sys::SchedAttr, AttrError> {
        let policy = match self.policy.as_str() {
            "SCHED_OTHER" => 0,
            "SCHED_FIFO" => 1,
            "SCHED_RR" => 2,
            "SCHED_BATCH" => 3,
            "SCHED_ISO" => 4,
            "SCHED_IDLE" => 5,
            "SCHED_DEADLINE" => 6,
            p => return Err(invalid("scheduler policy", p)),
        };
        let mut flags = 0u64;
        for f in &self.flags {
            flags |= match f.as_str() {
                "SCHED_FLAG_RESET_ON_FORK" => 0x01,
                "SCHED_FLAG_RECLAIM" => 0x02,
                "SCHED_FLAG_DL_OVERRUN" => 0x04,
                "SCHED_FLAG_KEEP_POLICY" => 0x08,
                "SCHED_FLAG_KEEP_PARAMS" => 0x10,
                "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
                "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
                _ => return Err(invalid("scheduler flag", f.clone())),
            };
        }
        let priority = u32::try_from(self.priority)
            .map_err(|_| invalid("scheduler priority", self.priority.to_string()))?;
        Ok(sys::SchedAttr {
            size: std::mem::size_of::<sys::SchedAttr>() as u32,
            policy,
            flags,
            nice: self.nice,
            priority,
            runtime: self.runtime,
            deadline: self.deadline,
            period: self.period,
            util_min: 0,
            util_max: 0,
        })
    }
}

/// Sets the scheduling policy of the calling thread (`sched_setattr(0, ...)`).
pub(crate) fn set_scheduler(s: &Scheduler) -> Result<(), AttrError> {
    let attr = s.attr()?;
    sys::sched_setattr(&attr).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EPERM) {
            " (a real-time or deadline policy needs CAP_SYS_NICE, and the cgroup's cpuset must allow it)"
        } else {
            ""
        };
        sys_err("sched_setattr", format!("{s:?}{hint}"))(e)
    })
}

impl IoPriority {
    /// The `ioprio` value: `class << 13 | priority`.
    pub(crate) fn value(&self) -> Result<u32, AttrError> {
        let class = match self.class.as_str() {
            "IOPRIO_CLASS_RT" => 1,
            "IOPRIO_CLASS_BE" => 2,
            "IOPRIO_CLASS_IDLE" => 3,
            c => return Err(invalid("ioPriority class", c)),
        };
        if !(0..=7).contains(&self.priority) {
            return Err(invalid("ioPriority priority", self.priority.to_string()));
        }
        Ok(class << 13 | self.priority as u32)
    }
}

/// Sets the I/O priority of the caller's process group (`ioprio_set(IOPRIO_WHO_PGRP, 0, ...)`,
/// as runc; init is a session and group leader at that point).
pub(crate) fn set_io_priority(p: &IoPriority) -> Result<(), AttrError> {
    let v = p.value()?;
    sys::ioprio_set(sys::IOPRIO_WHO_PGRP, 0, v)
        .map_err(sys_err("ioprio_set", format!("{} {}", p.class, p.priority)))
}

impl MemoryPolicy {
    /// `(mode | flags, node mask)`.
    pub(crate) fn value(&self) -> Result<(i32, Vec<u64>), AttrError> {
        let mut mode = match self.mode.as_str() {
            "MPOL_DEFAULT" => 0,
            "MPOL_PREFERRED" => 1,
            "MPOL_BIND" => 2,
            "MPOL_INTERLEAVE" => 3,
            "MPOL_LOCAL" => 4,
            "MPOL_PREFERRED_MANY" => 5,
            "MPOL_WEIGHTED_INTERLEAVE" => 6,
            m => return Err(invalid("memoryPolicy mode", m)),
        };
        for f in &self.flags {
            mode |= match f.as_str() {
                "MPOL_F_NUMA_BALANCING" => 1 << 13,
                "MPOL_F_RELATIVE_NODES" => 1 << 14,
                "MPOL_F_STATIC_NODES" => 1 << 15,
                _ => return Err(invalid("memoryPolicy flag", f.clone())),
            };
        }
        Ok((mode, parse_nodes(&self.nodes)?))
    }
}

/// Parses a node list (`0-3,7`) into a bit mask (one bit per node, 64 per word).
fn parse_nodes(s: &str) -> Result<Vec<u64>, AttrError> {
    /// Linux's largest `MAX_NUMNODES`.
    const MAX_NODES: u32 = 1024;
    let bad = || invalid("memoryPolicy nodes", s);
    let mut mask: Vec<u64> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a > b || b >= MAX_NODES {
            return Err(bad());
        }
        for n in a..=b {
            let w = (n / 64) as usize;
            if mask.len() <= w {
                mask.resize(w + 1, 0);
            }
            mask[w] |= 1 << (n % 64);
        }
    }
    Ok(mask)
}

/// Sets the NUMA memory policy of the calling thread (`set_mempolicy`).
pub(crate) fn set_memory_policy(p: &MemoryPolicy) -> Result<(), AttrError> {
    let (mode, mask) = p.value()?;
    sys::set_mempolicy(mode, &mask).map_err(sys_err(
        "set_mempolicy",
        format!("{} nodes {:?}", p.mode, p.nodes),
    ))
}

/// `KEY_SPEC_SESSION_KEYRING`: the caller's session keyring.
const KEY_SPEC_SESSION_KEYRING: i32 = -3;

/// Joins the session keyring `_ses.<id>` (created on first use; `exec` joins the same one) and
/// makes it searchable as runc does: "other search" (`0x8`) in a user namespace, "UID search"
/// (`0x80000`) otherwise. Returns the keyring serial, or `None` when the kernel has no keyrings
/// (`ENOSYS`, tolerated like runc).
pub(crate) fn join_session_keyring(id: &str, user_ns: bool) -> Result<Option<i32>, AttrError> {
    let name = format!("_ses.{id}");
    let c = CString::new(name.as_str()).map_err(|_| invalid("session keyring", name.clone()))?;
    let serial = match sys::join_session_keyring(&c) {
        // 0: it already is our session keyring.
        Ok(0) => KEY_SPEC_SESSION_KEYRING,
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return Ok(None),
        Err(e) => return Err(sys_err("join session keyring", &name)(e)),
    };
    let mut buf = [0u8; 512];
    let n = sys::describe_key(serial, &mut buf).map_err(sys_err("describe keyring", &name))?;
    let desc = String::from_utf8_lossy(&buf[..n.min(buf.len())]);
    let desc = desc.trim_end_matches('\0');
    // type;uid;gid;perm;description
    let perm = desc
        .split(';')
        .nth(3)
        .and_then(|p| u32::from_str_radix(p, 16).ok())
        .ok_or_else(|| invalid("keyring description", desc.to_string()))?;
    let add = if user_ns { 0x8 } else { 0x8_0000 };
    let new = perm | add;
    sys::set_key_perm(serial, new).map_err(sys_err(
        "set keyring permissions",
        format!("{name} {new:#x}"),
    ))?;
    Ok(Some(serial))
}

#[cfg(test)]
/// Reads the current `oom_score_adj` (for tests and diagnostics).
pub(crate) fn oom_score_adj() -> Result<i32, AttrError> {
    let proc_err = |source| AttrError::Proc {
        pid: 0,
        value: 0,
        source,
    };
    let proc = ProcFs::open().map_err(proc_err)?;
    let s = proc.read("self/oom_score_adj").map_err(proc_err)?;
    s.trim()
        .parse()
        .map_err(|_| invalid("oom_score_adj", s.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::child::{in_child, run_in_child};

    #[test]
    fn node_lists() {
        assert_eq!(parse_nodes("").unwrap(), Vec::<u64>::new());
        assert_eq!(parse_nodes("0").unwrap(), vec![1]);
        assert_eq!(parse_nodes("0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(parse_nodes("64").unwrap(), vec![0, 1]);
        for bad in ["x", "3-1", "1-", "5000", "1,,a"] {
            let e = parse_nodes(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn values() {
        let io = IoPriority {
            class: "IOPRIO_CLASS_BE".into(),
            priority: 4,
        };
        assert_eq!(io.value().unwrap(), 2 << 13 | 4);
        let e = IoPriority {
            class: "IOPRIO_CLASS_BE".into(),
            priority: 8,
        }
        .value()
        .unwrap_err();
        assert_eq!(e.to_string(), "ioPriority priority: invalid value \"8\"");
        let mp = MemoryPolicy {
            mode: "MPOL_BIND".into(),
            nodes: "0".into(),
            flags: vec!["MPOL_F_STATIC_NODES".into()],
        };
        assert_eq!(mp.value().unwrap(), (2 | 1 << 15, vec![1]));
        let s: Scheduler = serde_json::from_str(
            r#"{"policy":"SCHED_DEADLINE","flags":["SCHED_FLAG_RESET_ON_FORK"],"runtime":10,"deadline":20,"period":30}"#,
        )
        .unwrap();
        let a = s.attr().unwrap();
        assert_eq!(
            (a.policy, a.flags, a.runtime, a.deadline, a.period),
            (6, 1, 10, 20, 30)
        );
        assert_eq!(a.size, 56);
        let p = Personality {
            domain: "LINUX32".into(),
            flags: vec![],
        };
        assert_eq!(p.value().unwrap(), 8);
        assert!(
            Personality {
                domain: "BSD".into(),
                flags: vec![]
            }
            .value()
            .is_err()
        );
    }

    /// All the attributes, applied for real in a child process and read back.
    #[test]
    fn attributes_apply() {
        if !in_child() {
            run_in_child("security::attrs::tests::attributes_apply");
            return;
        }
        let me = std::process::id() as i32;
        set_oom_score_adj(me, 123, ProcPolicy::PrivateOnly).unwrap();
        assert_eq!(oom_score_adj().unwrap(), 123);

        set_personality(&Personality {
            domain: "LINUX32".into(),
            flags: vec![],
        })
        .unwrap();
        assert_eq!(sys::current_personality().unwrap() & 0xff, PER_LINUX32);
        set_personality(&Personality {
            domain: "LINUX".into(),
            flags: vec![],
        })
        .unwrap();

        set_scheduler(&Scheduler {
            policy: "SCHED_BATCH".into(),
            nice: 7,
            ..Default::default()
        })
        .unwrap();
        let a = sys::sched_getattr().unwrap();
        assert_eq!((a.policy, a.nice), (3, 7));

        // run_in_child puts this process in its own process group.
        set_io_priority(&IoPriority {
            class: "IOPRIO_CLASS_BE".into(),
            priority: 6,
        })
        .unwrap();
        assert_eq!(
            sys::ioprio_get(sys::IOPRIO_WHO_PROCESS, 0).unwrap(),
            2 << 13 | 6
        );

        match set_memory_policy(&MemoryPolicy {
            mode: "MPOL_BIND".into(),
            nodes: "0".into(),
            flags: vec![],
        }) {
            Ok(()) => assert_eq!(sys::get_mempolicy_mode().unwrap(), 2),
            // A kernel without CONFIG_NUMA: the error must name the call and the value.
            Err(e) => assert_eq!(e.to_string(), "set_mempolicy MPOL_BIND nodes \"0\""),
        }

        let id = format!("lashing-test-{}", std::process::id());
        let serial = join_session_keyring(&id, false).unwrap().expect("keyrings");
        let mut buf = [0u8; 512];
        let n = sys::describe_key(serial, &mut buf).unwrap();
        let desc = String::from_utf8_lossy(&buf[..n])
            .trim_end_matches('\0')
            .to_string();
        assert!(desc.starts_with("keyring;"), "{desc}");
        assert!(desc.ends_with(&format!(";_ses.{id}")), "{desc}");
        let perm = u32::from_str_radix(desc.split(';').nth(3).unwrap(), 16).unwrap();
        assert_eq!(perm & 0x8_0000, 0x8_0000, "{desc}");
        // Joining again keeps the same keyring (the kernel then answers 0).
        assert!(join_session_keyring(&id, true).unwrap().is_some());
        let n = sys::describe_key(serial, &mut buf).unwrap();
        let desc = String::from_utf8_lossy(&buf[..n])
            .trim_end_matches('\0')
            .to_string();
        let perm = u32::from_str_radix(desc.split(';').nth(3).unwrap(), 16).unwrap();
        assert_eq!(perm & 0x8, 0x8, "{desc}");
    }

    /// The parent's write of a process's `oom_score_adj` goes through a verified procfs: a file
    /// mounted over `/proc/<pid>/oom_score_adj` of the mounted `/proc` neither receives the value
    /// nor stops it from reaching the process (a write by path, as before, filled the fake).
    /// Without a private procfs (no `CAP_SYS_ADMIN`), the host's `/proc` is used only verified:
    /// the overmount is refused, not written.
    #[test]
    fn oom_score_adj_by_pid_ignores_an_overmount() {
        if !in_child() {
            run_in_child("security::attrs::tests::oom_score_adj_by_pid_ignores_an_overmount");
            return;
        }
        let (_dir, fake) = crate::procfs::tests::private_overmount("oom_score_adj");
        let me = std::process::id() as i32;
        set_oom_score_adj(me, 321, ProcPolicy::PrivateOrHost).unwrap();
        assert_eq!(oom_score_adj().unwrap(), 321);
        assert_eq!(std::fs::read_to_string(&fake).unwrap(), "");
        let mut sets = rustix::thread::capabilities(None).unwrap();
        sets.effective
            .remove(rustix::thread::CapabilitySet::SYS_ADMIN);
        rustix::thread::set_capabilities(None, sets).unwrap();
        let e = set_oom_score_adj(me, 322, ProcPolicy::PrivateOrHost).unwrap_err();
        let chain = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(
            chain.starts_with(&format!(
                "oom_score_adj of pid {me} = 322: open /proc/{me}/"
            )),
            "{chain}"
        );
        assert_eq!(std::fs::read_to_string(&fake).unwrap(), "");
    }

    #[test]
    fn bad_values_name_the_value() {
        let e = set_scheduler(&Scheduler {
            policy: "SCHED_FAST".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "scheduler policy: invalid value \"SCHED_FAST\""
        );
        let e = join_session_keyring("a\0b", false).unwrap_err();
        assert!(e.to_string().contains("_ses.a"), "{e}");
    }
}
