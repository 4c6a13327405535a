//! The v2 device filter (runc's `fs2/devices.go`): an eBPF program attached to the cgroup.

use std::os::fd::AsFd;

use crate::devices::{Emulator, ebpf};
use crate::error::{Error, Result};
use crate::fs::{Node, io_err};
use crate::resources::DeviceCgroup;
use crate::sys;

/// Applies OCI device rules to a cgroup v2 directory: the emulator's rule set becomes a
/// `BPF_PROG_TYPE_CGROUP_DEVICE` program, attached with `BPF_F_ALLOW_MULTI`; the device programs
/// attached before are detached afterwards (so the cgroup is never without a filter). The
/// program is attached even when it allows everything: device filtering is never a silent no-op.
pub(crate) fn set(node: &Node, rules: &[DeviceCgroup]) -> Result<()> {
    let emu = Emulator::from_oci(rules)?;
    let prog = ebpf::to_bytes(&ebpf::program(&emu)?);
    let bpf_err = |op: &'static str, source: std::io::Error| Error::Io {
        op,
        path: node.path(),
        source,
    };
    let dir = node
        .open_dir(rustix::fs::OFlags::RDONLY)
        .map_err(|e| bpf_err("open", io_err(e)))?;
    let old = sys::bpf_query_device_progs(dir.as_fd())
        .map_err(|e| bpf_err("query the device programs (bpf BPF_PROG_QUERY) of", e))?;
    let fd = sys::bpf_load_device_prog(&prog).map_err(|(e, log)| {
        if !log.is_empty() {
            tracing::error!(verifier_log = %log, "device filter program rejected");
        }
        bpf_err("load the device filter program (bpf BPF_PROG_LOAD) for", e)
    })?;
    sys::bpf_prog_attach(dir.as_fd(), fd.as_fd(), true, sys::BPF_F_ALLOW_MULTI)
        .map_err(|e| bpf_err("attach the device filter (bpf BPF_PROG_ATTACH) to", e))?;
    for id in old {
        let old_fd = match sys::bpf_prog_fd_by_id(id) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => {
                return Err(bpf_err(
                    "open an old device program (bpf BPF_PROG_GET_FD_BY_ID) of",
                    e,
                ));
            }
        };
        match sys::bpf_prog_attach(dir.as_fd(), old_fd.as_fd(), false, 0) {
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
pub(crate) fn attached(node: &Node) -> Result<Vec<u32>> {
    let dir = node
        .open_dir(rustix::fs::OFlags::RDONLY)
        .map_err(|e| Error::Io {
            op: "open",
            path: node.path(),
            source: io_err(e),
        })?;
    sys::bpf_query_device_progs(dir.as_fd()).map_err(|source| Error::Io {
        op: "query the device programs (bpf BPF_PROG_QUERY) of",
        path: node.path(),
        source,
    })
}
