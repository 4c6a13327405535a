//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; nothing here is compiled
//! without it). Each is a thin wrapper around a crate-private parser, so that the fuzzer reaches
//! exactly the code the runtime runs. Not an API: names and signatures change at will.

use std::path::Path;

/// Reads `<bundle>/config.json` as `create` does: parse, [`crate::Config::from_oci`] and
/// [`crate::Config::validate`]. The error text is returned so that targets can format it too.
pub fn config_from_bundle(bundle: &Path) -> Result<crate::Config, String> {
    let opts = crate::config::CreateOpts {
        bundle: bundle.to_path_buf(),
        no_pivot_root: false,
        no_new_keyring: false,
    };
    let c = crate::Config::from_bundle(&opts).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

/// Compiles a seccomp profile of the model (JSON of [`crate::config::Seccomp`]) to the kernel's
/// `struct sock_filter` array (8 bytes per instruction, native endian) and its flags.
pub fn seccomp_compile(profile: &crate::config::Seccomp) -> Result<(Vec<u8>, u32), String> {
    crate::security::seccomp::compile(profile)
        .map(|p| (p.filter, p.flags))
        .map_err(|e| e.to_string())
}

/// `/proc/<pid>/stat` text to (state letter, start time), as the liveness check reads it.
pub fn parse_proc_stat(text: &str) -> Option<(char, u64)> {
    crate::state::parse_proc_stat(text)
}

/// Loads `<dir>/state.json` as every verb after `create` does.
pub fn load_state(dir: &Path) -> Result<crate::State, String> {
    crate::state::State::load(dir).map_err(|e| e.to_string())
}

/// Parses one datagram from the init socket as each side of the protocol does; returns which
/// message types accepted it (bit 0: to init, bit 1: to the parent).
pub fn parse_init_message(data: &[u8]) -> u8 {
    use crate::channel::{ToInit, ToParent, parse};
    let to_init = parse::<ToInit>(data).is_ok();
    let to_parent = parse::<ToParent>(data).is_ok();
    u8::from(to_init) | (u8::from(to_parent) << 1)
}

/// Sends `data` with `fds` over a fresh socketpair and receives it with the init protocol's
/// receiver (size and fd bounds, then parsing as a message to init).
pub fn recv_init_message(data: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]) -> Result<u8, String> {
    use crate::channel::{ToInit, pair, recv};
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    use std::io::IoSlice;
    use std::mem::MaybeUninit;
    let (a, b) = pair().map_err(|e| e.to_string())?;
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len().max(1)))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err("cannot pack file descriptors".into());
    }
    // A datagram larger than the socket buffer is refused by the kernel: nothing to receive.
    if sendmsg(&a, &[IoSlice::new(data)], &mut control, SendFlags::NOSIGNAL).is_err() {
        return Ok(0);
    }
    drop(a);
    match recv::<ToInit>(&b) {
        Ok(Some((_, got))) => Ok(u8::try_from(got.len()).unwrap_or(u8::MAX)),
        Ok(None) => Ok(0),
        Err(e) => Err(e.to_string()),
    }
}

/// The mount points of procfs and sysfs in a mountinfo text that lie under `rootfs` (the check
/// behind runc's "mount on /proc or /sys" refusals).
pub fn host_proc_sys_mounts(mountinfo: &str, rootfs: &Path) -> Vec<std::path::PathBuf> {
    crate::rootfs::host_proc_sys_mounts(mountinfo, rootfs)
}

/// A `state.json` as `create` writes it (a seed of the state target): container `id` created
/// with `config`, its init `pid` with start time `start`, and its own cgroups at `cgroup_paths`.
pub fn state_json(
    id: &str,
    config: crate::Config,
    pid: i32,
    start: u64,
    cgroup_paths: std::collections::BTreeMap<String, std::path::PathBuf>,
) -> Vec<u8> {
    let mut st = crate::state::State::new(id, cgroup_paths, config);
    st.init_process_pid = pid;
    st.init_process_start = start;
    st.creator = None;
    st.cgroup_owned = true;
    serde_json::to_vec(&st).unwrap_or_default()
}
