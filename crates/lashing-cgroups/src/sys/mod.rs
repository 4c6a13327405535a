//! Raw system calls that rustix does not wrap in the shape needed here. The only module with `unsafe`.

/// `kill(pid, sig)` with any signal number (rustix's `Signal` rejects real-time signals).
pub(crate) fn kill(pid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) takes two plain integers and touches no memory of this process.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The `bpf(2)` system call with an attribute block `attr` (a `union bpf_attr` prefix).
fn bpf(cmd: i32, attr: &mut [u8]) -> std::io::Result<i32> {
    // SAFETY: `attr` is a valid, writable buffer of `attr.len()` bytes for the whole call; the
    // kernel reads (and for queries writes) at most that many bytes, and pointers stored in it
    // by the callers below refer to buffers that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc as i32)
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

const BPF_PROG_LOAD: i32 = 5;
const BPF_PROG_ATTACH: i32 = 8;
const BPF_PROG_DETACH: i32 = 9;
const BPF_PROG_GET_FD_BY_ID: i32 = 13;
const BPF_PROG_QUERY: i32 = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` attach type.
const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`.
pub(crate) const BPF_F_ALLOW_MULTI: u32 = 2;

/// Loads a cgroup device program (`insns`: encoded instructions). On failure the verifier log
/// is returned with the error.
pub(crate) fn bpf_load_device_prog(
    insns: &[u8],
) -> Result<std::os::fd::OwnedFd, (std::io::Error, String)> {
    use std::os::fd::FromRawFd;
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = [0u8; 72];
    put_u32(&mut attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE);
    put_u32(&mut attr, 4, (insns.len() / 8) as u32);
    put_u64(&mut attr, 8, insns.as_ptr() as u64);
    put_u64(&mut attr, 16, license.as_ptr() as u64);
    put_u32(&mut attr, 24, 1);
    put_u32(&mut attr, 28, log.len() as u32);
    put_u64(&mut attr, 32, log.as_mut_ptr() as u64);
    put_u32(&mut attr, 68, BPF_CGROUP_DEVICE);
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a successful BPF_PROG_LOAD returns a new fd that nothing else owns.
        Ok(fd) => Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }),
        Err(e) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            Err((e, String::from_utf8_lossy(&log[..end]).into_owned()))
        }
    }
}

/// The ids of the device programs attached to the cgroup `cgroup_fd`.
pub(crate) fn bpf_query_device_progs(
    cgroup_fd: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<Vec<u32>> {
    use std::os::fd::AsRawFd;
    let mut ids = vec![0u32; 64];
    let mut attr = [0u8; 32];
    put_u32(&mut attr, 0, cgroup_fd.as_raw_fd() as u32);
    put_u32(&mut attr, 4, BPF_CGROUP_DEVICE);
    put_u64(&mut attr, 16, ids.as_mut_ptr() as u64);
    put_u32(&mut attr, 24, ids.len() as u32);
    bpf(BPF_PROG_QUERY, &mut attr)?;
    let count = u32::from_ne_bytes(attr[24..28].try_into().unwrap_or_default()) as usize;
    ids.truncate(count.min(64));
    Ok(ids)
}

/// An fd of the program with id `id`.
pub(crate) fn bpf_prog_fd_by_id(id: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let mut attr = [0u8; 12];
    put_u32(&mut attr, 0, id);
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?;
    // SAFETY: a successful BPF_PROG_GET_FD_BY_ID returns a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Attaches (`attach`) or detaches a device program to or from a cgroup.
pub(crate) fn bpf_prog_attach(
    cgroup_fd: std::os::fd::BorrowedFd<'_>,
    prog_fd: std::os::fd::BorrowedFd<'_>,
    attach: bool,
    flags: u32,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut attr = [0u8; 20];
    put_u32(&mut attr, 0, cgroup_fd.as_raw_fd() as u32);
    put_u32(&mut attr, 4, prog_fd.as_raw_fd() as u32);
    put_u32(&mut attr, 8, BPF_CGROUP_DEVICE);
    put_u32(&mut attr, 12, flags);
    bpf(
        if attach {
            BPF_PROG_ATTACH
        } else {
            BPF_PROG_DETACH
        },
        &mut attr,
    )?;
    Ok(())
}
