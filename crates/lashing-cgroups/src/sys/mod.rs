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
