//! Tests of the procfs policy: private instances, the refusal to fall back to the host's `/proc`,
//! verification of files and of reopened fds.

use std::io::Read;
use std::os::fd::AsFd;

use rustix::fs::{Mode, OFlags};

use super::*;
use crate::security::child::{in_child, run_in_child};

#[test]
fn private_procfs_reads_own_status() {
    let p = ProcFs::open().unwrap();
    assert_eq!(
        p.source(),
        Source::Private,
        "running as root, fsopen(proc) should work"
    );
    let status = p.read("thread-self/status").unwrap();
    let pid = std::process::id().to_string();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Tgid:") && l.ends_with(&pid)),
        "{status}"
    );
    // The process directories only, unless all is asked for (sysctls).
    assert!(p.open_file("sys", OFlags::PATH).is_err());
    let all = ProcFs::open_as(ProcPolicy::PrivateOnly, Contents::All).unwrap();
    assert!(all.open_file("sys/kernel/hostname", OFlags::RDONLY).is_ok());
}

/// Without the privilege to make a private procfs, `open` fails clearly: it never falls back
/// to the mounted `/proc` (which, before the pivot, is the host's); only a caller whose policy
/// names the mounted one (in the container's root, or the runtime on the host) gets it.
#[test]
fn no_private_procfs_is_an_error_not_the_host_proc() {
    if !in_child() {
        run_in_child("procfs::tests::no_private_procfs_is_an_error_not_the_host_proc");
        return;
    }
    let mut sets = rustix::thread::capabilities(None).unwrap();
    sets.effective
        .remove(rustix::thread::CapabilitySet::SYS_ADMIN);
    rustix::thread::set_capabilities(None, sets).unwrap();
    let e = ProcFs::open().unwrap_err();
    assert!(matches!(e, ProcError::NoPrivate { .. }), "{e}");
    assert!(e.to_string().contains("never used"), "{e}");
    let e = ProcFs::open_as(ProcPolicy::PrivateOnly, Contents::All).unwrap_err();
    assert!(matches!(e, ProcError::NoPrivate { .. }), "{e}");
    for policy in [ProcPolicy::PrivateOrContainer, ProcPolicy::PrivateOrHost] {
        let p = ProcFs::open_with(policy).unwrap();
        assert_eq!(p.source(), Source::Mounted);
    }
}

#[test]
fn magic_links_are_refused() {
    let p = ProcFs::open().unwrap();
    let e = p.open_file("self/exe", OFlags::RDONLY).unwrap_err();
    assert!(matches!(e, ProcError::Open { .. }), "{e}");
}

/// An overmount on the attribute path is not followed (the CVE-2019-16884 pattern): a file
/// bind-mounted over `/proc/self/attr/exec` of the mounted `/proc` is invisible to the
/// private procfs, and the mounted-`/proc` handle refuses to cross it.
#[test]
fn overmounted_attr_is_not_written() {
    if !in_child() {
        run_in_child("procfs::tests::overmounted_attr_is_not_written");
        return;
    }
    let (_dir, fake) = private_overmount("attr/exec");
    // The mounted /proc now shows the fake file...
    let target = format!("/proc/{}/attr/exec", std::process::id());
    let via_proc = rustix::fs::statfs(target.as_str()).unwrap();
    assert_ne!(via_proc.f_type, rustix::fs::PROC_SUPER_MAGIC);
    // ... the private procfs does not.
    let p = ProcFs::open().unwrap();
    let path = format!("{}/attr/exec", std::process::id());
    assert!(is_procfs(p.open_file(&path, OFlags::RDONLY).unwrap()));
    // And the mounted /proc refuses to cross the bind mount.
    let mounted = ProcFs {
        root: open_mounted_root().unwrap(),
        source: Source::Mounted,
    };
    match mounted.open_file(&path, OFlags::RDONLY).unwrap_err() {
        ProcError::Open { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::EXDEV)),
        other => panic!("unexpected {other}"),
    }
    assert_eq!(std::fs::read_to_string(fake).unwrap(), "");
}

/// In a private mount namespace, bind-mounts an empty file over `/proc/<self>/<name>`; returns
/// the scratch directory and the fake file.
pub(crate) fn private_overmount(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    crate::sys::process::unshare(libc::CLONE_NEWNS as u64).unwrap();
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake");
    std::fs::write(&fake, "").unwrap();
    let target = format!("/proc/{}/{name}", std::process::id());
    rustix::mount::mount_bind(&fake, &target).unwrap();
    (dir, fake)
}

/// An `O_PATH` handle reopened for reading through `self/fd` of each kind of verified procfs
/// is the same file; the mounted `/proc` must be the root of a procfs.
#[test]
fn reopen_gives_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "content").unwrap();
    let handle = rustix::fs::open(&file, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap();
    let check = |fd: OwnedFd| {
        let mut s = String::new();
        std::fs::File::from(fd).read_to_string(&mut s).unwrap();
        assert_eq!(s, "content");
    };
    let p = ProcFs::open().unwrap();
    check(p.reopen(handle.as_fd(), OFlags::RDONLY).unwrap());
    let dir_fd = p.self_fd_dir().unwrap();
    drop(p);
    check(dir_fd.reopen(handle.as_fd(), OFlags::RDONLY).unwrap());
    check(reopen_through_container_proc(handle.as_fd(), OFlags::RDONLY).unwrap());
    // What a reopen gives is compared with the fd it came from.
    let other =
        rustix::fs::open(dir.path(), OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap();
    let e = check_same_file(handle.as_fd(), other.as_fd()).unwrap_err();
    assert!(matches!(e, ProcError::NotSameFile { .. }), "{e}");
    assert!(e.to_string().contains("was /proc replaced?"), "{e}");
}

/// The mounted `/proc` without a private instance reads what the path does; a `/proc` with
/// something mounted over it is refused, and rootless detection then reads a private instance
/// (the same answer, never the fake file's).
#[test]
fn mounted_proc_is_verified_and_detection_falls_back() {
    if !in_child() {
        run_in_child("procfs::tests::mounted_proc_is_verified_and_detection_falls_back");
        return;
    }
    let p = ProcFs::mounted().unwrap();
    assert_eq!(p.source(), Source::Mounted);
    assert_eq!(
        p.read("self/uid_map").unwrap(),
        std::fs::read_to_string("/proc/self/uid_map").unwrap()
    );
    assert!(!crate::rootless::running_in_userns());
    crate::sys::process::unshare(libc::CLONE_NEWNS as u64).unwrap();
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .unwrap();
    let fake = tempfile::tempdir().unwrap();
    std::fs::create_dir(fake.path().join("self")).unwrap();
    std::fs::write(fake.path().join("self/uid_map"), "0 1000 1\n").unwrap();
    rustix::mount::mount_bind(fake.path(), "/proc").unwrap();
    assert_eq!(
        std::fs::read_to_string("/proc/self/uid_map").unwrap(),
        "0 1000 1\n"
    );
    assert!(matches!(ProcFs::mounted(), Err(ProcError::NotProcRoot)));
    assert!(
        !crate::rootless::running_in_userns(),
        "the fake uid_map was read"
    );
}
