//! Throwaway test root filesystems: the static testinit at `/init` and a static busybox.

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::testinit::testinit_path;

/// The environment variable that overrides [`busybox_path`].
pub const BUSYBOX_ENV: &str = "LASHING_BUSYBOX";

/// The busybox applets linked in `/bin` of every test rootfs.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ash", "ls", "cat", "echo", "sleep", "true", "false", "id", "env", "mount", "umount",
    "ps", "grep", "hostname", "pwd", "stat", "readlink", "touch", "mkdir", "rm", "wc", "head",
    "tail", "kill", "test", "printf", "chmod", "ln", "uname", "whoami", "nproc", "dd", "tr", "cut",
];

/// The `/etc/passwd` of every test rootfs: root and nobody.
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// The `/etc/group` of every test rootfs: root and nogroup.
pub const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// The static busybox to copy into test rootfs: `$LASHING_BUSYBOX` or `/bin/busybox`
/// (Debian's `busybox-static`). Panics with a hint when it is missing.
pub fn busybox_path() -> PathBuf {
    let p =
        std::env::var_os(BUSYBOX_ENV).map_or_else(|| PathBuf::from("/bin/busybox"), PathBuf::from);
    assert!(
        p.is_file(),
        "{} is missing: install a static busybox (apt-get install busybox-static) or set ${BUSYBOX_ENV}",
        p.display()
    );
    p
}

/// Copy an executable `src` to `dst` through `cp`, a process of its own: a copy made in this
/// process holds a writable fd that every process forked meanwhile by another thread (a
/// container's clone before its exec) inherits, and the exec of the copy in a container run by
/// a third thread then fails with ETXTBSY (`multithreaded_host_runs_50_containers`).
fn copy_executable(src: &Path, dst: &Path) -> io::Result<()> {
    let out = std::process::Command::new("cp")
        .arg("--")
        .arg(src)
        .arg(dst)
        .stdin(std::process::Stdio::null())
        .output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "cp {} {}: {}: {}",
        src.display(),
        dst.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Make `rootfs/bin` with a copy of the static busybox ([`busybox_path`]) and `applets` linked to
/// it (`rootfs` need not exist). A copy, not a hard link, so that a test that changes it in its
/// container cannot affect other tests or the host.
pub fn install_busybox(rootfs: &Path, applets: &[&str]) -> io::Result<()> {
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin)?;
    copy_executable(&busybox_path(), &bin.join("busybox"))?;
    for applet in applets {
        symlink("busybox", bin.join(applet))?;
    }
    Ok(())
}

/// Link more busybox applets in `rootfs/bin` (after [`install_busybox`]); an applet that is
/// already there is kept. Panics on any other failure.
pub fn add_applets(rootfs: &Path, applets: &[&str]) {
    for applet in applets {
        let link = rootfs.join("bin").join(applet);
        match symlink("busybox", &link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("cannot link {}: {e}", link.display()),
        }
    }
}

/// Fill `dir` (which must exist) with a busybox rootfs: `/bin/busybox` with the
/// [`BUSYBOX_APPLETS`] linked to it, empty `proc sys dev tmp etc root` (`tmp` mode 1777),
/// `/etc/passwd` and `/etc/group`. No `/init`: see [`populate`].
pub fn populate_busybox(dir: &Path) -> io::Result<()> {
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        fs::create_dir(dir.join(d))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    install_busybox(dir, BUSYBOX_APPLETS)?;
    fs::write(dir.join("etc/passwd"), PASSWD)?;
    fs::write(dir.join("etc/group"), GROUP)?;
    Ok(())
}

/// Fill `dir` (which must exist) with a test rootfs: [`populate_busybox`] and `/init` (the
/// static testinit). Binaries are copied, not hard-linked, so a test that changes them in its
/// container cannot affect other tests.
pub fn populate(dir: &Path) -> io::Result<()> {
    populate_busybox(dir)?;
    copy_executable(&testinit_path(), &dir.join("init"))?;
    Ok(())
}

/// A fresh test rootfs in its own temp dir, removed on drop.
#[derive(Debug)]
pub struct TestRootfs {
    dir: TempDir,
}

impl TestRootfs {
    /// Create a fresh rootfs (see [`populate`]); panics on failure.
    pub fn new() -> TestRootfs {
        let dir = tempfile::Builder::new()
            .prefix("lashing-rootfs-")
            .tempdir()
            .expect("cannot create a temp dir for a test rootfs");
        populate(dir.path()).unwrap_or_else(|e| {
            panic!(
                "cannot populate the test rootfs {}: {e}",
                dir.path().display()
            )
        });
        TestRootfs { dir }
    }

    /// The rootfs directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Keep the directory (do not remove it on drop) and return its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

impl Default for TestRootfs {
    fn default() -> Self {
        TestRootfs::new()
    }
}

/// A fresh test rootfs; shorthand for [`TestRootfs::new`].
pub fn rootfs() -> TestRootfs {
    TestRootfs::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn rootfs_has_the_expected_shape() {
        let r = rootfs();
        let p = r.path();
        assert!(p.join("init").is_file());
        assert!(fs::metadata(p.join("init")).unwrap().mode() & 0o111 != 0);
        assert_eq!(
            fs::read_link(p.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert!(p.join("bin/sh").is_file(), "bin/sh resolves to busybox");
        assert_eq!(fs::metadata(p.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
        for d in ["proc", "sys", "dev"] {
            assert_eq!(fs::read_dir(p.join(d)).unwrap().count(), 0, "{d} is empty");
        }
        let passwd = fs::read_to_string(p.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("\nnobody:x:65534:65534:"));
        assert!(
            fs::read_to_string(p.join("etc/group"))
                .unwrap()
                .contains("nogroup:x:65534:")
        );
        // The binaries are copies: changing one does not change the source.
        let src = fs::metadata(testinit_path()).unwrap();
        assert_ne!(fs::metadata(p.join("init")).unwrap().ino(), src.ino());
        let path = r.keep();
        assert!(path.is_dir());
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn busybox_rootfs_without_init_and_more_applets() {
        let d = tempfile::tempdir().unwrap();
        populate_busybox(d.path()).unwrap();
        assert!(!d.path().join("init").exists());
        assert!(d.path().join("bin/tr").is_file());
        add_applets(d.path(), &["tr", "ionice"]);
        assert_eq!(
            fs::read_link(d.path().join("bin/ionice")).unwrap(),
            Path::new("busybox")
        );
        let r = std::panic::catch_unwind(|| add_applets(Path::new("/nonexistent"), &["sh"]));
        assert!(r.is_err(), "a link that cannot be made fails the test");
    }

    /// Every test rootfs is removed when dropped. (How long one takes to make is never asserted:
    /// no test may depend on the machine's speed or load.)
    #[test]
    fn rootfs_is_removed_on_drop() {
        for _ in 0..3 {
            let r = rootfs();
            let p = r.path().to_path_buf();
            assert!(p.join("init").is_file());
            drop(r);
            assert!(!p.exists(), "{} is removed on drop", p.display());
        }
    }
}
