//! Bounded waits: poll until done, give up (and fail the test) after [`WAIT`]. No test asserts a
//! duration: these bounds only end a wait that normally ends much earlier.

use std::os::fd::BorrowedFd;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

/// The bound of a test's poll-until-done waits (a container to stop, a file to appear, a daemon to
/// answer): generous, because a loaded 2-core CI machine can be many times slower than a quiet
/// one. It only bounds a wait that normally ends much earlier; no test asserts a duration.
pub const WAIT: Duration = Duration::from_secs(60);

/// Calls `f` every 10 ms until it is true; fails the test (naming `what`) after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits ([`WAIT`] at most) until the file `path` holds exactly `text`; a read error other than
/// "not found" fails the test.
pub fn wait_for_file(path: &Path, text: &str) {
    wait_for(
        &format!("{text:?} in {}", path.display()),
        WAIT,
        || match std::fs::read_to_string(path) {
            Ok(t) => t == text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        },
    );
}

/// Waits for `child` at most `limit` (through its pidfd); kills and reaps it and returns `None`
/// when it is still running then.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    if let Some(st) = child.try_wait().expect("waitpid on a child") {
        return Some(st);
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child's pid is > 0");
    // Not reaped yet (try_wait above), so the pid is still ours: pidfd_open cannot miss it.
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .unwrap_or_else(|e| panic!("pidfd_open({}): {e}", child.id()));
    let ts = Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: 0,
    };
    loop {
        let mut p = [PollFd::new(&pidfd, PollFlags::IN)];
        match rustix::event::poll(&mut p, Some(&ts)) {
            Ok(0) => {
                // Killing may race with its exit: either way it is reaped below.
                let _ = child.kill();
                child.wait().expect("waitpid on a killed child");
                return None;
            }
            Ok(_) => return Some(child.wait().expect("waitpid on an exited child")),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("poll a pidfd: {e}"),
        }
    }
}

/// Waits for `child` ([`wait_bounded`]) and returns its exit code (-1 when killed by a signal);
/// fails the test, naming `what`, when it is still running after `limit` (it is killed then).
pub fn wait_exit(child: &mut Child, what: &str, limit: Duration) -> i32 {
    match wait_bounded(child, limit) {
        Some(st) => st.code().unwrap_or(-1),
        None => panic!("{what}: still running after {limit:?} (killed)"),
    }
}

/// `$LASHING_TEST_TIME_FACTOR` (at least 1, default 1): how many times slower than a normal host
/// this machine is (`scripts/test-guest` sets 10 for its emulated guest), to lengthen the bound
/// of a wait that a test chains several of.
pub fn time_factor() -> u32 {
    std::env::var("LASHING_TEST_TIME_FACTOR")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Reads from `fd` until `want` appears in what was read, the other end is closed, or `limit`
/// passes; returns everything read (the caller asserts on it).
pub fn read_until(fd: BorrowedFd<'_>, want: &str, limit: Duration) -> String {
    let start = Instant::now();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains(want) && start.elapsed() < limit {
        let mut p = [PollFd::new(&fd, PollFlags::IN)];
        let ts = Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        match rustix::event::poll(&mut p, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => panic!("poll fd {fd:?}: {e}"),
        }
        match rustix::io::read(fd, &mut buf) {
            // EOF, or EIO: the other side of a pty is closed.
            Ok(0) | Err(rustix::io::Errno::IO) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(e) => panic!("read fd {fd:?}: {e}"),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_bounded_returns_the_status_or_kills() {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        assert!(wait_bounded(&mut c, WAIT).unwrap().success());
        let mut c = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(wait_bounded(&mut c, Duration::from_millis(1)).is_none());
        assert!(c.try_wait().unwrap().is_some(), "killed and reaped");
        let mut c = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        assert_eq!(wait_exit(&mut c, "sh", WAIT), 7);
        let mut c = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_exit(&mut c, "sleep", Duration::from_millis(1))
        }));
        assert!(r.is_err(), "a hang fails the test");
        assert!(time_factor() >= 1);
    }

    #[test]
    fn wait_for_file_sees_the_text() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "x").unwrap();
        wait_for_file(&p, "x");
        let r = std::panic::catch_unwind(|| wait_for("never", Duration::from_millis(1), || false));
        assert!(r.is_err(), "a wait that never ends fails the test");
    }

    #[test]
    fn read_until_stops_at_eof_or_the_text() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&w, b"abc\ndef").unwrap();
        use std::os::fd::AsFd;
        assert_eq!(read_until(r.as_fd(), "abc", WAIT), "abc\ndef");
        drop(w);
        assert_eq!(read_until(r.as_fd(), "never", WAIT), "");
    }
}
