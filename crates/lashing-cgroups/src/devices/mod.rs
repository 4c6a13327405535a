//! Device cgroup rules: v1 `devices.allow` / `devices.deny` through the [`emulator`]'s minimal
//! transition, and on cgroup v2 an eBPF program ([`ebpf`]) built from the same rule set.

pub mod ebpf;
pub mod emulator;

use std::os::fd::AsFd;

pub use emulator::{Access, DevType, Emulator, Rule};

use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::DeviceCgroup;

fn num(n: Option<i64>) -> String {
    match n {
        Some(v) if v >= 0 => v.to_string(),
        _ => "*".to_owned(),
    }
}

/// The v1 rule text of `rule`: `TYPE MAJOR:MINOR ACCESS` with `*` wildcards.
pub fn rule_string(rule: &DeviceCgroup) -> Result<String> {
    let typ = rule.typ.as_deref().unwrap_or("a");
    let access = rule.access.as_deref().unwrap_or("rwm");
    if !matches!(typ, "a" | "b" | "c")
        || access.is_empty()
        || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
    {
        return Err(Error::InvalidResource {
            resource: "devices".to_owned(),
            value: format!("{rule:?}"),
            reason: "type must be a, b or c and access a subset of rwm".to_owned(),
        });
    }
    Ok(format!(
        "{typ} {}:{} {access}",
        num(rule.major),
        num(rule.minor)
    ))
}

/// Applies OCI device rules to a v1 devices cgroup as runc does: the rules are applied in order
/// to a deny-all [`Emulator`], the cgroup's current state is read from `devices.list`, only the
/// minimal transition is written (so that a running container never sees a moment of deny-all
/// when nothing changes), and `devices.list` is read back to check the result.
pub(crate) fn set_v1(node: &Node, rules: &[DeviceCgroup]) -> Result<()> {
    let target = Emulator::from_oci(rules)?;
    let current = Emulator::from_list(&node.read("devices.list")?)?;
    for rule in current.transition(&target) {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        node.write(file, &rule.cgroup_string())?;
    }
    let after = Emulator::from_list(&node.read("devices.list")?)?;
    let ok = if target.is_blacklist() {
        after.is_blacklist()
    } else {
        after == target
    };
    if !ok {
        return Err(Error::InvalidResource {
            resource: "devices".to_owned(),
            value: node.read("devices.list").unwrap_or_default(),
            reason: format!(
                "the devices cgroup {} does not match the rules after writing them",
                node.path().display()
            ),
        });
    }
    Ok(())
}

/// Applies OCI device rules to a cgroup v2 directory: the emulator's rule set becomes a
/// `BPF_PROG_TYPE_CGROUP_DEVICE` program, attached with `BPF_F_ALLOW_MULTI`; the device programs
/// attached before are detached afterwards (so the cgroup is never without a filter). The
/// program is attached even when it allows everything: device filtering is never a silent no-op.
pub(crate) fn set_v2(node: &Node, rules: &[DeviceCgroup]) -> Result<()> {
    let emu = Emulator::from_oci(rules)?;
    let prog = ebpf::to_bytes(&ebpf::program(&emu)?);
    let bpf_err = |op: &'static str, source: std::io::Error| Error::Io {
        op,
        path: node.path(),
        source,
    };
    let dir = node
        .open_dir(rustix::fs::OFlags::RDONLY)
        .map_err(|e| bpf_err("open", std::io::Error::from_raw_os_error(e.raw_os_error())))?;
    let old = crate::sys::bpf_query_device_progs(dir.as_fd())
        .map_err(|e| bpf_err("query the device programs (bpf BPF_PROG_QUERY) of", e))?;
    let fd = crate::sys::bpf_load_device_prog(&prog).map_err(|(e, log)| {
        if !log.is_empty() {
            tracing::error!(verifier_log = %log, "device filter program rejected");
        }
        bpf_err("load the device filter program (bpf BPF_PROG_LOAD) for", e)
    })?;
    crate::sys::bpf_prog_attach(dir.as_fd(), fd.as_fd(), true, crate::sys::BPF_F_ALLOW_MULTI)
        .map_err(|e| bpf_err("attach the device filter (bpf BPF_PROG_ATTACH) to", e))?;
    for id in old {
        let old_fd = match crate::sys::bpf_prog_fd_by_id(id) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => {
                return Err(bpf_err(
                    "open an old device program (bpf BPF_PROG_GET_FD_BY_ID) of",
                    e,
                ));
            }
        };
        match crate::sys::bpf_prog_attach(dir.as_fd(), old_fd.as_fd(), false, 0) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err(bpf_err(
                    "detach an old device program (bpf BPF_PROG_DETACH) from",
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// The ids of the device programs attached to the v2 cgroup `node`.
pub(crate) fn attached_v2(node: &Node) -> Result<Vec<u32>> {
    let dir = node
        .open_dir(rustix::fs::OFlags::RDONLY)
        .map_err(|e| Error::Io {
            op: "open",
            path: node.path(),
            source: std::io::Error::from_raw_os_error(e.raw_os_error()),
        })?;
    crate::sys::bpf_query_device_progs(dir.as_fd()).map_err(|source| Error::Io {
        op: "query the device programs (bpf BPF_PROG_QUERY) of",
        path: node.path(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        typ: Option<&str>,
        major: Option<i64>,
        minor: Option<i64>,
        access: Option<&str>,
    ) -> DeviceCgroup {
        DeviceCgroup {
            allow,
            typ: typ.map(str::to_owned),
            major,
            minor,
            access: access.map(str::to_owned),
        }
    }

    #[test]
    fn rule_strings() {
        assert_eq!(
            rule_string(&rule(true, Some("c"), Some(1), Some(3), Some("rw"))).unwrap(),
            "c 1:3 rw"
        );
        assert_eq!(
            rule_string(&rule(false, None, None, Some(-1), None)).unwrap(),
            "a *:* rwm"
        );
        assert!(rule_string(&rule(true, Some("x"), None, None, None)).is_err());
        assert!(rule_string(&rule(true, Some("c"), None, None, Some("rx"))).is_err());
    }
}
