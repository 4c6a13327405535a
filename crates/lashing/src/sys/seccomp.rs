//! Raw calls of the process-security step: loading a seccomp filter (`seccomp(2)`), and the
//! process attributes set by init right before the user process runs (`personality`,
//! `sched_setattr`, `ioprio_set`, `set_mempolicy`, `keyctl`). rustix wraps none of them.
//!
//! The loader runs in init and does not allocate; everything else only takes plain values.

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Largest program the kernel accepts (`BPF_MAXINSNS`).
const MAX_INSNS: usize = 4096;

/// Loads a seccomp filter into the calling thread with
/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`. `filter` holds `struct sock_filter`s
/// (8 bytes each, native endian); `flags` are `SECCOMP_FILTER_FLAG_*`. With `want_listener` the
/// filter is loaded with `SECCOMP_FILTER_FLAG_NEW_LISTENER` and the notify fd (`O_CLOEXEC`) is
/// returned.
///
/// Without `no_new_privs` the caller needs `CAP_SYS_ADMIN` in its user namespace.
pub(crate) fn load(filter: &[u8], flags: u32, want_listener: bool) -> io::Result<Option<OwnedFd>> {
    let n = filter.len() / 8;
    if !filter.len().is_multiple_of(8) || n == 0 || n > MAX_INSNS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // A stack copy: the bytes may not be aligned for `sock_filter`, and init should not need
    // the allocator here.
    let mut buf = [libc::sock_filter {
        code: 0,
        jt: 0,
        jf: 0,
        k: 0,
    }; MAX_INSNS];
    for (slot, b) in buf.iter_mut().zip(filter.chunks_exact(8)) {
        *slot = libc::sock_filter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        };
    }
    let prog = libc::sock_fprog {
        len: n as u16,
        filter: buf.as_mut_ptr(),
    };
    let mut flags = libc::c_ulong::from(flags);
    if want_listener {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    // SAFETY: seccomp(2) reads `prog` and the `n` instructions it points to, which live on this
    // stack frame for the whole call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if want_listener {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd that nothing else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }))
    } else {
        Ok(None)
    }
}

/// `personality(persona)`.
pub(crate) fn personality(persona: u32) -> io::Result<()> {
    // SAFETY: personality takes an integer and touches no memory.
    let r = unsafe { libc::personality(persona as libc::c_ulong) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
/// The current personality (`personality(0xffffffff)` queries without changing).
pub(crate) fn current_personality() -> io::Result<u32> {
    // SAFETY: as above; 0xffffffff only queries.
    let r = unsafe { libc::personality(0xffff_ffff) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u32)
    }
}

/// `struct sched_attr` of `<linux/sched/types.h>` (`SCHED_ATTR_SIZE_VER1`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SchedAttr {
    /// Size of this struct.
    pub size: u32,
    /// `SCHED_*` policy.
    pub policy: u32,
    /// `SCHED_FLAG_*`.
    pub flags: u64,
    /// Nice value (OTHER, BATCH).
    pub nice: i32,
    /// Static priority (FIFO, RR).
    pub priority: u32,
    /// DEADLINE runtime (ns).
    pub runtime: u64,
    /// DEADLINE deadline (ns).
    pub deadline: u64,
    /// DEADLINE period (ns).
    pub period: u64,
    /// Utilization clamp minimum.
    pub util_min: u32,
    /// Utilization clamp maximum.
    pub util_max: u32,
}

/// `sched_setattr(0, attr, 0)` for the calling thread.
pub(crate) fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let mut a = *attr;
    a.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: the kernel reads `size` bytes of a valid, initialised `SchedAttr`.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0u32) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
/// `sched_getattr(0, ...)` of the calling thread.
pub(crate) fn sched_getattr() -> io::Result<SchedAttr> {
    let mut a = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: the kernel writes at most `size` bytes into `a`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut a as *mut SchedAttr,
            size,
            0u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(a)
    }
}

#[cfg(test)]
/// `IOPRIO_WHO_PROCESS`.
pub(crate) const IOPRIO_WHO_PROCESS: i32 = 1;
/// `IOPRIO_WHO_PGRP`.
pub(crate) const IOPRIO_WHO_PGRP: i32 = 2;

/// `ioprio_set(which, who, ioprio)`.
pub(crate) fn ioprio_set(which: i32, who: i32, ioprio: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, which, who, ioprio) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
/// `ioprio_get(which, who)`.
pub(crate) fn ioprio_get(which: i32, who: i32) -> io::Result<u32> {
    // SAFETY: integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, which, who) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u32)
    }
}

/// `set_mempolicy(mode, nodemask, maxnode)`; `mask` holds one bit per node.
pub(crate) fn set_mempolicy(mode: i32, mask: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if mask.is_empty() {
        (std::ptr::null(), 0usize)
    } else {
        // The kernel reads maxnode - 1 bits.
        (mask.as_ptr(), mask.len() * 64 + 1)
    };
    // SAFETY: the kernel reads (maxnode - 1) bits, i.e. at most `mask.len()` words of `mask`.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
/// `get_mempolicy` of the calling thread: the mode only.
pub(crate) fn get_mempolicy_mode() -> io::Result<i32> {
    let mut mode: libc::c_int = 0;
    // SAFETY: the kernel writes one int into `mode`; no node mask is asked for.
    let r = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            std::ptr::null_mut::<u64>(),
            0usize,
            0usize,
            0usize,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(mode)
    }
}

const KEYCTL_JOIN_SESSION_KEYRING: i32 = 1;
const KEYCTL_SETPERM: i32 = 5;
const KEYCTL_DESCRIBE: i32 = 6;

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`: joins (or creates) the named session keyring and
/// returns its serial.
pub(crate) fn join_session_keyring(name: &CStr) -> io::Result<i32> {
    // SAFETY: the kernel reads a NUL-terminated string.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as i32)
    }
}

/// `keyctl(KEYCTL_DESCRIBE, id)`: `type;uid;gid;perm;description` into `buf`; returns the
/// length including the NUL.
pub(crate) fn describe_key(id: i32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            id,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// `keyctl(KEYCTL_SETPERM, id, perm)`.
pub(crate) fn set_key_perm(id: i32, perm: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, perm) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Test helpers: a raw system call with up to three arguments, and the agent side of a notify
/// listener.
#[cfg(test)]
pub(crate) mod testing {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};

    /// `syscall(nr, a, b, c)`: the raw result, or the errno.
    pub(crate) fn syscall3(nr: i64, a: u64, b: u64, c: u64) -> io::Result<i64> {
        // SAFETY: only used by tests with syscalls that take integer arguments.
        let r = unsafe { libc::syscall(nr, a, b, c) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    /// One notification: (id, pid, syscall nr, args).
    pub(crate) fn notif_recv(fd: BorrowedFd<'_>) -> io::Result<(u64, u32, i32, [u64; 6])> {
        // SAFETY: seccomp_notif is plain data; all-zero is its required initial state.
        let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl fills a `seccomp_notif` we own.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((n.id, n.pid, n.data.nr, n.data.args))
    }

    /// Answers notification `id`: the syscall returns `val`, or fails with `error` (negative).
    pub(crate) fn notif_send(fd: BorrowedFd<'_>, id: u64, val: i64, error: i32) -> io::Result<()> {
        let mut resp = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags: 0,
        };
        // SAFETY: the ioctl reads a `seccomp_notif_resp` we own.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}
