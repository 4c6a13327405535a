//! Spawning a helper program with extra fds at fixed numbers (`criu swrk 3` takes its RPC socket
//! at fd 3 and the namespace files of an external-namespace restore at 4, 5, ...), as Go's
//! `exec.Cmd.ExtraFiles`: std's `Command` passes only stdio.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Spawns `cmd` with `fds[i]` at fd `3 + i` in the new program (without `FD_CLOEXEC`); every
/// other fd of the caller stays close-on-exec as it is. The caller's fds are not changed. The
/// program is killed (`PR_SET_PDEATHSIG`) if the calling thread ends first: a helper the caller
/// talks to must not outlive it (a CRIU page server would wait forever).
pub(crate) fn spawn_with_fds(cmd: &mut Command, fds: &[BorrowedFd<'_>]) -> io::Result<Child> {
    let sources: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let n = sources.len() as RawFd;
    // Filled in the child: the copies above the target range (no allocation after the fork).
    let mut high: Vec<RawFd> = vec![-1; sources.len()];
    let hook = move || -> io::Result<()> {
        // SAFETY: prctl(PR_SET_PDEATHSIG) with a signal number; async-signal-safe.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // First every source above 3 + n (a source may sit on a target number), then down to its
        // place: dup2 clears FD_CLOEXEC on the target; the high copies close at exec.
        for (i, &fd) in sources.iter().enumerate() {
            // SAFETY: fcntl(F_DUPFD_CLOEXEC) on an fd the caller borrowed (open in this forked
            // copy of the process); async-signal-safe, no allocation.
            let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3 + n) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            high[i] = r;
        }
        for (i, &fd) in high.iter().enumerate() {
            // SAFETY: dup2 of an fd made just above onto a number this child owns as a whole
            // (the forked copy's fd table is private to it); async-signal-safe.
            if unsafe { libc::dup2(fd, 3 + i as RawFd) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec and makes only async-signal-safe calls
    // (prctl, fcntl, dup2) on memory allocated before the fork.
    unsafe { cmd.pre_exec(hook) };
    cmd.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn fds_arrive_at_3_and_up() {
        let a = std::fs::File::open("/dev/null").unwrap();
        let b = std::fs::File::open("/proc/self/stat").unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "readlink /proc/self/fd/3 /proc/self/fd/4"])
            .stdout(std::process::Stdio::piped());
        let child = spawn_with_fds(&mut cmd, &[a.as_fd(), b.as_fd()]).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "/dev/null");
        assert!(lines[1].ends_with("/stat"), "{text}");
    }
}
