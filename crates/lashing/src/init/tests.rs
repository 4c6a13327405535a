use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use super::cwd::{check_cwd, verify_cwd};
use super::fds::close_fallback;
use super::report::{Fail, MAX_FAILURE_PATH, MAX_FAILURE_TEXT, truncate};
use crate::procfs::ProcFs;
use crate::security::child::{in_child, run_in_child};
use crate::sys::process as sysp;

/// The open fds of this process.
fn open_fds() -> Vec<u32> {
    let mut fds: Vec<u32> = fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| sysp::adopt_fd_check(*fd as RawFd))
        .collect();
    fds.sort_unstable();
    fds
}

/// Opens /dev/null at `n` numbers from `from` on and leaks them (closed by the test).
fn open_many(from: RawFd, n: usize) -> Vec<u32> {
    let null = fs::File::open("/dev/null").unwrap();
    (0..n)
        .map(|_| {
            let fd = sysp::dup_above(null.as_fd(), from).unwrap();
            let raw = fd.as_raw_fd() as u32;
            std::mem::forget(fd);
            raw
        })
        .collect()
}

/// The fallback where close_range is refused: every fd from `first` on is closed but `keep`,
/// `keep - 1` included (it used to survive); walking `self/fd` of a private procfs also
/// closes an fd above a lowered RLIMIT_NOFILE, which a loop up to the limit cannot.
#[test]
fn close_fallback_leaves_only_keep() {
    if !in_child() {
        run_in_child("init::tests::close_fallback_leaves_only_keep");
        return;
    }
    // Each round lowers the hard limit below an fd opened before (it cannot be raised again).
    for (walk, high_at, limit) in [(false, 600, 500), (true, 450, 400)] {
        let fds = open_many(20, 12);
        let (first, keep) = (fds[2], fds[6]);
        let high = open_many(high_at, 1)[0];
        let lim = rustix::process::Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        };
        rustix::process::setrlimit(rustix::process::Resource::Nofile, lim).unwrap();
        let procfs = walk.then(|| ProcFs::open().unwrap());
        close_fallback(
            &sysp::InitThread::for_test_child(),
            first,
            Some(keep),
            procfs.as_ref(),
        );
        drop(procfs);
        let left = open_fds();
        assert!(left.contains(&keep), "walk={walk}: {left:?}");
        assert!(
            !left.contains(&(keep - 1)),
            "walk={walk}: keep-1 survived: {left:?}"
        );
        assert!(left.contains(&fds[1]), "below first: {left:?}");
        let above: Vec<u32> = left
            .iter()
            .copied()
            .filter(|fd| *fd >= first && *fd != keep)
            .collect();
        if walk {
            assert!(above.is_empty(), "{above:?}");
        } else {
            // Without a procfs the loop stops at the hard limit: only the fd above it stays.
            assert_eq!(above, vec![high]);
            sysp::InitThread::for_test_child().close_fd(high as RawFd);
        }
        close_fallback(&sysp::InitThread::for_test_child(), 20, None, None);
    }
}

#[test]
fn cwd_must_be_absolute() {
    assert!(check_cwd(b"/root").is_ok());
    let e = check_cwd(b"(unreachable)/tmp/x")
        .unwrap_err()
        .into_failure();
    assert!(e.message.contains("possible container breakout"), "{e}");
}

/// A cwd outside the root: the raw getcwd(2) says "(unreachable)/..." (what musl returns
/// as success); the check refuses it whatever the libc.
#[test]
fn cwd_outside_the_root_is_refused() {
    if !in_child() {
        run_in_child("init::tests::cwd_outside_the_root_is_refused");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    sysp::unshare(libc::CLONE_NEWNS as u64).unwrap();
    std::env::set_current_dir(&a).unwrap();
    assert!(verify_cwd().is_ok());
    rustix::process::chroot(&b).unwrap();
    let raw = rustix::process::getcwd(Vec::new()).unwrap();
    assert!(raw.as_bytes().starts_with(b"(unreachable)"), "{raw:?}");
    let e = verify_cwd().unwrap_err().into_failure();
    assert!(e.message.contains("possible container breakout"), "{e}");
}

#[test]
fn failure_reports_are_bounded() {
    assert_eq!(truncate("short".into(), 10), "short");
    assert_eq!(truncate("0123456789".into(), 10), "0123456789");
    assert_eq!(truncate("0123456789a".into(), 10), "0123456...");
    // Never inside a UTF-8 sequence.
    let t = truncate("ééééé".into(), 8);
    assert!(t.len() <= 8 && t.ends_with("..."), "{t}");
    // 65,538 additional gids as the setgroups step reports them: the cause survives.
    let gids: Vec<u32> = (1..=65_538).collect();
    let f = Fail::io(
        "setgroups",
        Some(format!("{gids:?}")),
        io::Error::from_raw_os_error(libc::EINVAL),
    )
    .into_failure();
    assert!(f.path.as_ref().unwrap().len() <= MAX_FAILURE_PATH);
    assert!(f.message.len() <= MAX_FAILURE_PATH + MAX_FAILURE_TEXT + 64);
    assert!(f.message.ends_with(": invalid argument"), "{}", f.message);
    assert_eq!(f.errno, Some(libc::EINVAL));
}
