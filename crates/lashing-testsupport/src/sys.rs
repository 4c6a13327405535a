//! The few raw calls this crate needs; the only module with `unsafe`.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The effective user id.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// prctl(PR_SET_CHILD_SUBREAPER, 1).
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only; no memory is passed.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) }).map(drop)
}

/// kill(2).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory effects.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// waitpid(pid, WNOHANG): `Ok(true)` when the child was reaped.
pub fn try_reap(pid: i32) -> io::Result<bool> {
    let mut status = 0;
    // SAFETY: `status` is a valid, writable int.
    let r = cvt(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) })?;
    Ok(r == pid)
}

/// umount2(path, MNT_DETACH).
pub fn umount_detach(path: &Path) -> io::Result<()> {
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `p` is a valid NUL-terminated path.
    cvt(unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) }).map(drop)
}
