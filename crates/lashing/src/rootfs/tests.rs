//! Privileged tests of the whole rootfs setup. Each test re-runs itself (the test binary, with
//! `--exact`) under `unshare --mount --pid --fork --propagation private` with the scratch
//! directory in an environment variable: the child builds the container's file systems, pivots
//! into them and checks the result from inside; the parent checks the child's exit status and an
//! OK marker. All mounts live and die in the child's private mount namespace. Skipped (with a
//! message) when not running as root.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::options::*;
use super::{CgroupMountSource, Mounted, Pivoted, RootfsError, RootfsParams};
use crate::config::{Config, Device, DeviceType, Mount, MsFlags, Namespace, NamespaceType};

const CHILD_ENV: &str = "LASHING_ROOTFS_TEST_DIR";
const OK_MARK: &str = "LASHING-ROOTFS-CHILD-OK";

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_ENV).map(PathBuf::from)
}

// Panics unless root: a root-only test must never pass without running (as another user,
// `cargo nextest run --profile unprivileged` reports these tests as skipped).
use lashing_testsupport::require_root;

/// Runs the test `name` again inside new mount/pid/uts/ipc namespaces.
fn run_child(name: &str, dir: &Path) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--uts",
            "--ipc",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            "--",
        ])
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown by the harness on failure or with --nocapture.
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success() && stdout.contains(&format!("{OK_MARK} {name}")),
        "child {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

fn mnt(source: &str, dest: &str, device: &str, flags: u64, data: &str) -> Mount {
    Mount {
        source: source.into(),
        destination: dest.into(),
        device: device.into(),
        flags: MsFlags::from_bits_retain(flags),
        cleared_flags: MsFlags::empty(),
        propagation_flags: vec![],
        data: data.into(),
        rec_attr: None,
        extensions: 0,
        id_mapping: None,
    }
}

fn dev(path: &str, major: i64, minor: i64) -> Device {
    Device {
        path: path.into(),
        typ: DeviceType::Char,
        major,
        minor,
        file_mode: 0o666,
        uid: 0,
        gid: 0,
    }
}

fn base_config(rootfs: &Path) -> Config {
    Config {
        rootfs: rootfs.to_path_buf(),
        namespaces: [
            NamespaceType::Mount,
            NamespaceType::Pid,
            NamespaceType::Uts,
            NamespaceType::Ipc,
        ]
        .into_iter()
        .map(|typ| Namespace { typ, path: None })
        .collect(),
        ..Config::default()
    }
}

fn params(config: &Config) -> RootfsParams<'_> {
    RootfsParams {
        config,
        cgroup_v1_sources: &[],
        cgroup_v2_dir: None,
        cgroup_ns: false,
        idmap: None,
    }
}

/// The whole setup up to the jail, with nothing run at the `Hooks` sync point.
fn setup<'a>(p: &RootfsParams<'a>) -> Result<Pivoted<'a>, RootfsError> {
    Mounted::mount(p)?.hooks_synced().pivot()
}

/// The error of a setup that must fail.
fn setup_err(p: &RootfsParams<'_>) -> RootfsError {
    match setup(p) {
        Ok(_) => panic!("the setup succeeded"),
        Err(e) => e,
    }
}

/// (mount point, fs type, per-mount options) of each line of mountinfo.
fn mountinfo() -> Vec<(String, String, String)> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let fstype = post.split(' ').next()?.to_string();
            Some((unescape_mountinfo(pre[4]), fstype, pre[5].to_string()))
        })
        .collect()
}

/// The last (top) mount at `mp`.
fn top_mount(mi: &[(String, String, String)], mp: &str) -> (String, String) {
    let m = mi
        .iter()
        .rev()
        .find(|(p, _, _)| p == mp)
        .unwrap_or_else(|| panic!("no mount at {mp}: {mi:#?}"));
    (m.1.clone(), m.2.clone())
}

fn is_ro(opts: &str) -> bool {
    opts.split(',').any(|o| o == "ro")
}

fn assert_erofs(path: &str) {
    let e = std::fs::write(path, b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "write {path}: {e}");
}

// ---------------------------------------------------------------------------------------------

fn full_setup_host(dir: &Path) {
    let r = dir.join("rootfs");
    for d in [
        "etc",
        "opt/copyup/sub",
        "masked-dir",
        "ro",
        "data2",
        "proc",
        "sys",
        "dev",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::write(r.join("etc/marker"), "rootfs-marker").unwrap();
    std::fs::write(r.join("opt/copyup/a.txt"), "copied").unwrap();
    std::fs::write(r.join("opt/copyup/sub/b.txt"), "deep").unwrap();
    std::fs::write(r.join("masked-dir/secret"), "secret").unwrap();
    std::fs::write(r.join("masked-file"), "secret").unwrap();
    std::fs::write(r.join("ro/file"), "ro").unwrap();
    symlink("/data2", r.join("datalink")).unwrap();
    std::fs::create_dir_all(dir.join("hostsrc")).unwrap();
    std::fs::write(dir.join("hostsrc/hello.txt"), "hello").unwrap();
    std::fs::write(dir.join("hostfile.txt"), "host file").unwrap();
    for cg in ["cg/cpu", "cg/systemd"] {
        std::fs::create_dir_all(dir.join(cg)).unwrap();
    }
    std::fs::write(dir.join("cg/cpu/cpu.shares"), "1024").unwrap();
}

fn full_setup_child(dir: &Path) {
    let nosuid_noexec_nodev = MS_NOSUID | MS_NOEXEC | MS_NODEV;
    let mut config = base_config(&dir.join("rootfs"));
    let mut copyup = mnt("tmpfs", "/opt/copyup", "tmpfs", 0, "");
    copyup.extensions = Mount::EXT_COPYUP;
    config.mounts = vec![
        mnt("proc", "/proc", "proc", nosuid_noexec_nodev, ""),
        mnt(
            "tmpfs",
            "/dev",
            "tmpfs",
            MS_NOSUID | MS_STRICTATIME,
            "mode=755,size=65536k",
        ),
        mnt(
            "devpts",
            "/dev/pts",
            "devpts",
            MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620",
        ),
        mnt(
            "shm",
            "/dev/shm",
            "tmpfs",
            nosuid_noexec_nodev,
            "mode=1777,size=65536k",
        ),
        mnt("mqueue", "/dev/mqueue", "mqueue", nosuid_noexec_nodev, ""),
        mnt(
            "sysfs",
            "/sys",
            "sysfs",
            nosuid_noexec_nodev | MS_RDONLY,
            "",
        ),
        mnt(
            "cgroup",
            "/sys/fs/cgroup",
            "cgroup",
            nosuid_noexec_nodev | MS_RELATIME | MS_RDONLY,
            "",
        ),
        mnt(
            dir.join("hostsrc").to_str().unwrap(),
            "/data",
            "bind",
            MS_BIND | MS_REC | MS_RDONLY,
            "",
        ),
        mnt(
            dir.join("hostsrc").to_str().unwrap(),
            "/datalink",
            "bind",
            MS_BIND | MS_REC,
            "",
        ),
        mnt(
            dir.join("hostfile.txt").to_str().unwrap(),
            "/etc/hostfile",
            "bind",
            MS_BIND,
            "",
        ),
        copyup,
        mnt("tmpfs", "/rotmp", "tmpfs", MS_RDONLY, ""),
    ];
    config.devices = vec![
        dev("/dev/null", 1, 3),
        dev("/dev/zero", 1, 5),
        dev("/dev/full", 1, 7),
        dev("/dev/urandom", 1, 9),
        dev("/dev/tty", 5, 0),
        dev("/dev/ptmx", 5, 2),
    ];
    config.masked_paths = [
        "/masked-file",
        "/masked-dir",
        "/proc/version",
        "/proc/kcore",
        "/nonexistent",
        "/masked-dir",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    config.readonly_paths = ["/ro", "/proc/sys", "/missing"]
        .iter()
        .map(PathBuf::from)
        .collect();
    config.hostname = Some("rootfs-test".into());
    config.domainname = Some("lashing.test".into());
    let cg = [
        CgroupMountSource {
            name: "cpu,cpuacct".into(),
            host_dir: dir.join("cg/cpu"),
        },
        CgroupMountSource {
            name: "systemd".into(),
            host_dir: dir.join("cg/systemd"),
        },
    ];
    let p = RootfsParams {
        config: &config,
        cgroup_v1_sources: &cg,
        cgroup_v2_dir: None,
        cgroup_ns: false,
        idmap: None,
    };
    let canonical_rootfs = std::fs::canonicalize(dir.join("rootfs")).unwrap();
    let mounted = Mounted::mount(&p).unwrap();
    assert_eq!(
        std::env::current_dir().unwrap(),
        canonical_rootfs,
        "the hooks run with the cwd at the rootfs"
    );
    let pivoted = mounted.hooks_synced().pivot().unwrap();
    pivoted.set_hostname().unwrap();
    pivoted.finalize().unwrap();
    // Sysctls after finalize (/proc/sys is read-only by now): must go through a private procfs.
    let mut sc = config.clone();
    sc.sysctl = BTreeMap::from([("kernel.hostname".to_string(), "from-sysctl".to_string())]);
    super::sysctl::write_sysctls(&sc, crate::procfs::ProcPolicy::PrivateOnly).unwrap();

    // We are inside the new root.
    assert_eq!(std::env::current_dir().unwrap(), Path::new("/"));
    assert_eq!(
        std::fs::read_to_string("/etc/marker").unwrap(),
        "rootfs-marker"
    );
    assert!(
        !dir.exists() || dir == Path::new("/"),
        "host scratch dir visible after pivot"
    );
    let mi = mountinfo();
    let host_prefix = dir.to_str().unwrap();
    assert!(
        !mi.iter().any(|(p, _, _)| p.starts_with(host_prefix)),
        "old root still attached: {mi:#?}"
    );
    assert_eq!(top_mount(&mi, "/proc").0, "proc");
    let (t, o) = top_mount(&mi, "/dev");
    assert_eq!(t, "tmpfs");
    assert!(o.contains("nosuid") && !is_ro(&o), "{o}");
    assert_eq!(top_mount(&mi, "/dev/pts").0, "devpts");
    assert_eq!(top_mount(&mi, "/dev/shm").0, "tmpfs");
    assert_eq!(top_mount(&mi, "/dev/mqueue").0, "mqueue");
    let (t, o) = top_mount(&mi, "/sys");
    assert!(t == "sysfs" && is_ro(&o), "{t} {o}");
    let (t, o) = top_mount(&mi, "/sys/fs/cgroup");
    assert!(t == "tmpfs" && is_ro(&o), "{t} {o}");
    let (_, o) = top_mount(&mi, "/sys/fs/cgroup/cpu,cpuacct");
    assert!(is_ro(&o), "{o}");
    assert_eq!(
        std::fs::read_to_string("/sys/fs/cgroup/cpu/cpu.shares").unwrap(),
        "1024"
    );
    assert_eq!(
        std::fs::read_link("/sys/fs/cgroup/cpuacct").unwrap(),
        Path::new("cpu,cpuacct")
    );
    assert!(Path::new("/sys/fs/cgroup/systemd").is_dir());
    // Bind mounts.
    assert_eq!(std::fs::read_to_string("/data/hello.txt").unwrap(), "hello");
    assert!(is_ro(&top_mount(&mi, "/data").1));
    assert_erofs("/data/new");
    assert_eq!(
        std::fs::read_to_string("/data2/hello.txt").unwrap(),
        "hello"
    );
    assert!(!is_ro(&top_mount(&mi, "/data2").1));
    assert_eq!(
        std::fs::read_to_string("/etc/hostfile").unwrap(),
        "host file"
    );
    // tmpfs: copyup, ro remount.
    assert_eq!(top_mount(&mi, "/opt/copyup").0, "tmpfs");
    assert_eq!(
        std::fs::read_to_string("/opt/copyup/a.txt").unwrap(),
        "copied"
    );
    assert_eq!(
        std::fs::read_to_string("/opt/copyup/sub/b.txt").unwrap(),
        "deep"
    );
    let (t, o) = top_mount(&mi, "/rotmp");
    assert!(t == "tmpfs" && is_ro(&o), "{t} {o}");
    assert_erofs("/rotmp/x");
    // Devices and links.
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(
        (
            rustix::fs::major(null.rdev()),
            rustix::fs::minor(null.rdev())
        ),
        (1, 3)
    );
    assert_eq!(null.permissions().mode() & 0o777, 0o666);
    std::fs::write("/dev/null", b"discarded").unwrap();
    assert_eq!(
        std::fs::read_link("/dev/ptmx").unwrap(),
        Path::new("pts/ptmx")
    );
    assert_eq!(
        std::fs::read_link("/dev/fd").unwrap(),
        Path::new("/proc/self/fd")
    );
    assert_eq!(
        std::fs::read_link("/dev/stderr").unwrap(),
        Path::new("/proc/self/fd/2")
    );
    assert!(Path::new("/dev/pts/ptmx").exists());
    // Masks and read-only paths.
    assert_eq!(std::fs::read_to_string("/masked-file").unwrap(), "");
    assert_eq!(std::fs::read_dir("/masked-dir").unwrap().count(), 0);
    assert_erofs("/masked-dir/x");
    assert_eq!(std::fs::read("/proc/version").unwrap().len(), 0);
    assert_erofs("/ro/file");
    assert!(is_ro(&top_mount(&mi, "/proc/sys").1));
    assert!(is_ro(&top_mount(&mi, "/ro").1));
    // Hostname: set_hostname, then overwritten by the sysctl.
    let u = rustix::system::uname();
    assert_eq!(u.nodename().to_str().unwrap(), "from-sysctl");
    assert_eq!(u.domainname().to_str().unwrap(), "lashing.test");
}

#[test]
fn full_container_setup() {
    const NAME: &str = "rootfs::tests::full_container_setup";
    if let Some(dir) = child_dir() {
        full_setup_child(&dir);
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    full_setup_host(tmp.path());
    run_child(NAME, tmp.path());
    // Nothing leaked to the host side: the device nodes were made in the container's tmpfs.
    assert!(!tmp.path().join("rootfs/dev/null").exists());
}

// ---------------------------------------------------------------------------------------------

#[test]
fn proc_on_a_symlink_is_refused() {
    const NAME: &str = "rootfs::tests::proc_on_a_symlink_is_refused";
    if let Some(dir) = child_dir() {
        let mut config = base_config(&dir.join("rootfs"));
        config.mounts = vec![mnt("proc", "/proc", "proc", 0, "")];
        let err = setup_err(&params(&config));
        assert!(matches!(err, RootfsError::Invalid { .. }), "{err:?}");
        assert_eq!(err.step(), "mount");
        assert_eq!(err.path().as_deref(), Some("/proc"));
        // Nothing was mounted on the symlink's target.
        assert!(
            !mountinfo()
                .iter()
                .any(|(p, t, _)| t == "proc" && p.ends_with("/elsewhere"))
        );
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("rootfs/elsewhere")).unwrap();
    symlink("/elsewhere", tmp.path().join("rootfs/proc")).unwrap();
    run_child(NAME, tmp.path());
}

#[test]
fn mounts_inside_proc_are_refused() {
    const NAME: &str = "rootfs::tests::mounts_inside_proc_are_refused";
    if let Some(dir) = child_dir() {
        let mut config = base_config(&dir.join("rootfs"));
        config.mounts = vec![
            mnt("proc", "/proc", "proc", 0, ""),
            mnt("tmpfs", "/proc/sys", "tmpfs", 0, ""),
        ];
        let err = setup_err(&params(&config));
        assert!(matches!(err, RootfsError::ProcMount { .. }), "{err:?}");
        assert_eq!(err.path().as_deref(), Some("/proc/sys"));
        // A bind of something that is not a procfs root onto /proc is refused too.
        let mut config = base_config(&dir.join("rootfs2"));
        config.mounts = vec![mnt(dir.to_str().unwrap(), "/proc", "bind", MS_BIND, "")];
        let err = setup_err(&params(&config));
        assert!(matches!(err, RootfsError::ProcMount { .. }), "{err:?}");
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("rootfs")).unwrap();
    std::fs::create_dir_all(tmp.path().join("rootfs2")).unwrap();
    run_child(NAME, tmp.path());
}

/// CVE-2026-41579 / CVE-2021-30465: `/dev` and a mount destination that are symlinks to host
/// paths must never make the setup touch the host.
#[test]
fn symlinks_to_the_host_stay_inside_the_root() {
    const NAME: &str = "rootfs::tests::symlinks_to_the_host_stay_inside_the_root";
    if let Some(dir) = child_dir() {
        let mut config = base_config(&dir.join("rootfs"));
        config.mounts = vec![mnt(
            dir.join("hostsrc").to_str().unwrap(),
            "/escape",
            "bind",
            MS_BIND,
            "",
        )];
        config.devices = vec![dev("/dev/null", 1, 3)];
        let outside = dir.join("outside");
        let in_root_outside = dir.join("rootfs").join(outside.strip_prefix("/").unwrap());
        let mounted = Mounted::mount(&params(&config)).unwrap();
        // Host view, before the pivot: the bind landed inside the root, not on the host.
        assert!(!outside.join("hello.txt").exists(), "bind mount escaped");
        assert!(in_root_outside.join("hello.txt").exists());
        let mi = mountinfo();
        assert!(!mi.iter().any(|(p, _, _)| Path::new(p) == outside));
        let _pivoted = mounted.hooks_synced().pivot().unwrap();
        // Container view: the symlinks resolved inside the root.
        assert_eq!(
            std::fs::read_to_string(outside.join("hello.txt")).unwrap(),
            "hello"
        );
        let null = std::fs::metadata(dir.join("hostdev/null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(
            std::fs::read_link(dir.join("hostdev/ptmx")).unwrap(),
            Path::new("pts/ptmx")
        );
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("rootfs")).unwrap();
    std::fs::create_dir_all(d.join("hostsrc")).unwrap();
    std::fs::write(d.join("hostsrc/hello.txt"), "hello").unwrap();
    std::fs::create_dir_all(d.join("outside")).unwrap();
    std::fs::create_dir_all(d.join("hostdev")).unwrap();
    std::fs::write(d.join("hostdev/ptmx"), "keep me").unwrap();
    symlink(d.join("hostdev"), d.join("rootfs/dev")).unwrap();
    symlink(d.join("outside"), d.join("rootfs/escape")).unwrap();
    run_child(NAME, d);
    assert_eq!(
        std::fs::read_to_string(d.join("hostdev/ptmx")).unwrap(),
        "keep me"
    );
    let entries: Vec<_> = std::fs::read_dir(d.join("hostdev")).unwrap().collect();
    assert_eq!(
        entries.len(),
        1,
        "files created in the host's dir: {entries:?}"
    );
    assert_eq!(std::fs::read_dir(d.join("outside")).unwrap().count(), 0);
}

#[test]
fn no_pivot_root_moves_and_chroots() {
    const NAME: &str = "rootfs::tests::no_pivot_root_moves_and_chroots";
    if let Some(dir) = child_dir() {
        let mut config = base_config(&dir.join("rootfs"));
        config.no_pivot_root = true;
        config.mounts = vec![mnt("proc", "/proc", "proc", 0, "")];
        let _pivoted = setup(&params(&config)).unwrap();
        assert_eq!(std::fs::read_to_string("/etc/marker").unwrap(), "no-pivot");
        assert_eq!(std::env::current_dir().unwrap(), Path::new("/"));
        // The only procfs left in our view is the container's.
        let procs: Vec<_> = mountinfo()
            .into_iter()
            .filter(|(_, t, _)| t == "proc")
            .map(|(p, _, _)| p)
            .collect();
        assert_eq!(procs, vec!["/proc".to_string()]);
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("rootfs/etc")).unwrap();
    std::fs::write(tmp.path().join("rootfs/etc/marker"), "no-pivot").unwrap();
    run_child(NAME, tmp.path());
}

// ---------------------------------------------------------------------------------------------
// Hardening (security review): tmpcopyup, deferred read-only remounts, bind sources in the
// rootfs.

/// A fifo where `statat` saw a regular file: the open must neither block nor read it.
#[test]
fn copyup_open_of_a_fifo_neither_blocks_nor_reads() {
    use std::os::fd::AsFd;
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::File::open(tmp.path()).unwrap();
    rustix::fs::mknodat(
        &dir,
        "fifo",
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let d = dir.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = super::copy::open_regular(d.as_fd(), c"fifo").map(|_| ());
        let _ = tx.send(r);
    });
    match rx.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(r) => {
            let e = r.expect_err("a fifo was opened as a regular file");
            assert!(e.to_string().contains("regular file"), "{e}");
        }
        Err(_) => {
            // Blocked in open(2): a writer releases the thread before failing.
            let _w = std::fs::OpenOptions::new()
                .write(true)
                .open(tmp.path().join("fifo"));
            panic!("opening a fifo for tmpcopyup blocked");
        }
    }
}

/// Nests `levels` directories under `root` (`d/d/d/...`) with a file at the bottom.
fn nest_dirs(root: &Path, levels: usize) -> PathBuf {
    let mut p = root.to_path_buf();
    for _ in 0..levels {
        p.push("d");
    }
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("bottom"), "deep").unwrap();
    p
}

#[test]
fn copyup_depth_is_bounded() {
    use super::copy::{MAX_COPY_DEPTH, copy_tree};
    use std::os::fd::AsFd;
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let bottom = nest_dirs(src.path(), MAX_COPY_DEPTH);
    let s = std::fs::File::open(src.path()).unwrap();
    let d = std::fs::File::open(dst.path()).unwrap();
    copy_tree(s.as_fd(), d.as_fd()).unwrap();
    let copied = dst.path().join(bottom.strip_prefix(src.path()).unwrap());
    assert_eq!(
        std::fs::read_to_string(copied.join("bottom")).unwrap(),
        "deep"
    );
    // One level more is refused with a clear error.
    std::fs::create_dir(bottom.join("d")).unwrap();
    let dst = tempfile::tempdir().unwrap();
    let d = std::fs::File::open(dst.path()).unwrap();
    let e = copy_tree(s.as_fd(), d.as_fd()).unwrap_err();
    assert!(e.to_string().contains("nested deeper than 64"), "{e}");
}

#[test]
fn bind_source_in_rootfs_is_detected_lexically() {
    use super::mounts::source_in_root;
    let roots = [Path::new("/b/rootfs"), Path::new("/b/./link/")];
    let cwd = Path::new("/b");
    let f = |s: &str| source_in_root(Path::new(s), cwd, &roots);
    assert_eq!(f("/b/rootfs/data"), Some(PathBuf::from("/data")));
    assert_eq!(f("rootfs/data/../etc"), Some(PathBuf::from("/etc")));
    assert_eq!(f("/b/rootfs"), Some(PathBuf::from("/")));
    assert_eq!(f("/b/link/x"), Some(PathBuf::from("/x")));
    assert_eq!(f("/b/rootfs2/data"), None);
    assert_eq!(f("/b/rootfs/../hostdir"), None);
    assert_eq!(f("/etc"), None);
}

/// A read-only tmpfs later covered by another mount: finalize makes the tmpfs read-only, not
/// the mount on top of it.
#[test]
fn read_only_tmpfs_remount_is_not_redirected() {
    const NAME: &str = "rootfs::tests::read_only_tmpfs_remount_is_not_redirected";
    if let Some(dir) = child_dir() {
        let mut config = base_config(&dir.join("rootfs"));
        config.mounts = vec![
            mnt("proc", "/proc", "proc", 0, ""),
            mnt("tmpfs", "/a", "tmpfs", MS_RDONLY, ""),
            mnt(
                dir.join("hostsrc").to_str().unwrap(),
                "/a",
                "bind",
                MS_BIND,
                "",
            ),
        ];
        setup(&params(&config)).unwrap().finalize().unwrap();
        let mi = mountinfo();
        let at_a: Vec<_> = mi.iter().filter(|(p, _, _)| p == "/a").collect();
        assert_eq!(at_a.len(), 2, "{mi:#?}");
        assert!(
            at_a[0].1 == "tmpfs" && is_ro(&at_a[0].2),
            "the tmpfs is not read-only: {at_a:?}"
        );
        assert!(
            !is_ro(&at_a[1].2),
            "the bind on top became read-only: {at_a:?}"
        );
        std::fs::write("/a/new", "written").unwrap();
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("rootfs")).unwrap();
    std::fs::create_dir_all(tmp.path().join("hostsrc")).unwrap();
    run_child(NAME, tmp.path());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("hostsrc/new")).unwrap(),
        "written"
    );
}

/// A bind source inside the rootfs through an image symlink to an absolute path: resolved inside
/// the root, never on the host.
#[test]
fn bind_source_in_rootfs_resolves_inside_the_root() {
    const NAME: &str = "rootfs::tests::bind_source_in_rootfs_resolves_inside_the_root";
    if let Some(dir) = child_dir() {
        let mut config = base_config(&dir.join("rootfs"));
        config.mounts = vec![mnt(
            dir.join("rootfs/data").to_str().unwrap(),
            "/mnt",
            "bind",
            MS_BIND | MS_REC,
            "",
        )];
        let _pivoted = setup(&params(&config)).unwrap();
        assert_eq!(
            std::fs::read_to_string("/mnt/marker").unwrap(),
            "in-root",
            "the bind source followed the image symlink on the host"
        );
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(tmp.path()).unwrap();
    let host_secret = d.join("hostsecret");
    std::fs::create_dir_all(&host_secret).unwrap();
    std::fs::write(host_secret.join("marker"), "host").unwrap();
    let in_root = d
        .join("rootfs")
        .join(host_secret.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&in_root).unwrap();
    std::fs::write(in_root.join("marker"), "in-root").unwrap();
    symlink(&host_secret, d.join("rootfs/data")).unwrap();
    run_child(NAME, &d);
}

/// A setup abandoned at the `Hooks` sync point (a prestart or createContainer hook failed) keeps
/// nothing behind: dropping the [`Mounted`] closes the handles of the read-only remounts it still
/// owned, so the mount is not busy. (They used to stay in a thread-local until the next setup.)
#[test]
fn abandoned_setup_releases_its_deferred_remounts() {
    const NAME: &str = "rootfs::tests::abandoned_setup_releases_its_deferred_remounts";
    if let Some(dir) = child_dir() {
        let mut config = base_config(&dir.join("rootfs"));
        config.mounts = vec![mnt("tmpfs", "/a", "tmpfs", MS_RDONLY, "")];
        let mounted = Mounted::mount(&params(&config)).unwrap();
        assert_eq!(mounted.deferred_ro.len(), 1);
        drop(mounted);
        let a = std::fs::canonicalize(dir.join("rootfs/a")).unwrap();
        rustix::mount::unmount(&a, rustix::mount::UnmountFlags::empty())
            .expect("the read-only tmpfs is still held open after the setup was dropped");
        println!("{OK_MARK} {NAME}");
        return;
    }
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("rootfs")).unwrap();
    run_child(NAME, tmp.path());
}
