//! Pure helpers of the rootfs setup: path cleaning, mount-option translation, `checkProcMount`
//! rules, sysctl key conversion. No system calls here, so everything is unit-tested.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use crate::config::MsFlags;
use crate::sys::mount::{
    MOUNT_ATTR_ATIME_MASK, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME, MountAttr,
};

// The raw bits of the model's typed flags, for the mount calls.
pub(crate) const MS_RDONLY: u64 = MsFlags::RDONLY.bits();
pub(crate) const MS_NOSUID: u64 = MsFlags::NOSUID.bits();
pub(crate) const MS_NODEV: u64 = MsFlags::NODEV.bits();
pub(crate) const MS_NOEXEC: u64 = MsFlags::NOEXEC.bits();
pub(crate) const MS_NOATIME: u64 = MsFlags::NOATIME.bits();
pub(crate) const MS_NODIRATIME: u64 = MsFlags::NODIRATIME.bits();
pub(crate) const MS_RELATIME: u64 = MsFlags::RELATIME.bits();
pub(crate) const MS_STRICTATIME: u64 = MsFlags::STRICTATIME.bits();
pub(crate) const MS_NOSYMFOLLOW: u64 = MsFlags::NOSYMFOLLOW.bits();
pub(crate) const MS_BIND: u64 = MsFlags::BIND.bits();
pub(crate) const MS_REC: u64 = MsFlags::REC.bits();
pub(crate) const MS_REMOUNT: u64 = MsFlags::REMOUNT.bits();
pub(crate) const MS_SHARED: u64 = MsFlags::SHARED.bits();
pub(crate) const MS_SLAVE: u64 = MsFlags::SLAVE.bits();
pub(crate) const MS_PRIVATE: u64 = MsFlags::PRIVATE.bits();
pub(crate) const MS_UNBINDABLE: u64 = MsFlags::UNBINDABLE.bits();

/// The atime-related `MS_*` flags.
const MS_ATIME_FLAGS: u64 = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
/// The per-mount flags a bind remount sets or clears (besides atime).
const MS_LOCKABLE: u64 = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

/// The normal components of `path` after lexical cleaning as an absolute path: `.` is dropped
/// and `..` removes the previous component (never going above `/`).
pub(crate) fn clean_components(path: &Path) -> Vec<&OsStr> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `path` cleaned lexically as an absolute path (`/a/./b/../c` → `/a/c`).
pub(crate) fn clean_path(path: &Path) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(clean_components(path));
    p
}

/// `path` cleaned and made relative to the root (`"."` for the root itself), for `openat2`.
pub(crate) fn rel_path(path: &Path) -> PathBuf {
    let comps = clean_components(path);
    if comps.is_empty() {
        PathBuf::from(".")
    } else {
        comps.iter().collect()
    }
}

/// Splits mount data at commas that are not inside double quotes (SELinux contexts such as
/// `context="a:b:c:s0:c1,c2"` contain commas). Empty options are dropped.
pub(crate) fn split_data(data: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, ch) in data.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                if i > start {
                    out.push(&data[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < data.len() {
        out.push(&data[start..]);
    }
    out
}

/// One option of mount data for `fsconfig`: a flag (`FSCONFIG_SET_FLAG`) or a key with a string
/// value (`FSCONFIG_SET_STRING`, the value without surrounding double quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FsOption<'a> {
    /// `key`
    Flag(&'a str),
    /// `key=value`
    Value(&'a str, &'a str),
}

/// Parses mount data into `fsconfig` options.
pub(crate) fn fs_options(data: &str) -> Vec<FsOption<'_>> {
    split_data(data)
        .into_iter()
        .map(|opt| match opt.split_once('=') {
            Some((k, v)) => {
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                FsOption::Value(k, v)
            }
            None => FsOption::Flag(opt),
        })
        .collect()
}

/// Whether the data has an option `key=...`.
pub(crate) fn has_option(data: &str, key: &str) -> bool {
    split_data(data)
        .iter()
        .any(|o| o.split_once('=').map_or(*o, |(k, _)| k) == key)
}

/// Appends an option to comma-separated mount data.
pub(crate) fn append_option(data: &str, opt: &str) -> String {
    if data.is_empty() {
        opt.to_string()
    } else {
        format!("{data},{opt}")
    }
}

/// The `MOUNT_ATTR_*` bits (for `fsmount`/`mount_setattr` set) of the per-mount `MS_*` flags.
pub(crate) fn ms_to_attr(flags: u64) -> u64 {
    let mut a = 0;
    for (ms, attr) in [
        (MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MS_NODEV, MOUNT_ATTR_NODEV),
        (MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags & ms != 0 {
            a |= attr;
        }
    }
    a | atime_attr(flags)
}

/// The atime mode (`MOUNT_ATTR_RELATIME`, `_NOATIME` or `_STRICTATIME`) of `MS_*` flags.
fn atime_attr(flags: u64) -> u64 {
    if flags & MS_NOATIME != 0 {
        MOUNT_ATTR_NOATIME
    } else if flags & MS_STRICTATIME != 0 {
        MOUNT_ATTR_STRICTATIME
    } else {
        MOUNT_ATTR_RELATIME
    }
}

/// Whether a bind mount needs its flags applied after the bind. As runc 1.3: when a flag other
/// than `MS_BIND|MS_REC|MS_REMOUNT` is set *or* any flag is explicitly cleared (`rw`, `exec`,
/// ...); the remount then gives the mount exactly the requested flags, so flags of the source
/// mount that the config does not ask for (`ro`, `noexec`, `nosymfollow`, ...) are dropped. With
/// no flag at all the bind keeps the source's flags.
pub(crate) fn bind_needs_remount(flags: u64, cleared: u64) -> bool {
    flags & !(MS_BIND | MS_REC | MS_REMOUNT) & (MS_LOCKABLE | MS_ATIME_FLAGS | MS_NOSYMFOLLOW) != 0
        || cleared != 0
}

/// The recursive `mount_setattr` change of the `r*` options, made acceptable to the kernel the
/// way runc 1.3 does: an access-time mode is an enum, so any atime bit to set or to clear
/// (`ratime`, `rnostrictatime`, `rnorelatime` clear one) needs the whole `MOUNT_ATTR__ATIME`
/// field in `attr_clr` (a partial field is EINVAL); clearing the mode without setting one gives
/// the default, relatime.
pub(crate) fn rec_attr_for_kernel(attr_set: u64, attr_clr: u64) -> MountAttr {
    let mut clr = attr_clr;
    if (attr_set | attr_clr) & MOUNT_ATTR_ATIME_MASK != 0 {
        clr |= MOUNT_ATTR_ATIME_MASK;
    }
    MountAttr {
        attr_set,
        attr_clr: clr,
        propagation: 0,
    }
}

/// Whether `uid_map` (the text of `/proc/self/uid_map`) is the initial user namespace's: the
/// whole range mapped onto itself. Mount flags can only be locked (and a bind remount refused
/// with EPERM because of them) in another user namespace.
pub(crate) fn is_initial_uid_map(uid_map: &str) -> bool {
    let lines: Vec<Vec<&str>> = uid_map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| !f.is_empty())
        .collect();
    lines.len() == 1 && lines[0] == ["0", "0", "4294967295"]
}

/// The `mount_setattr` change that gives a bind mount exactly the flags of an
/// `MS_BIND|MS_REMOUNT|flags` remount: requested flags set, the other lockable flags cleared,
/// the atime mode replaced only when an atime flag is given.
pub(crate) fn bind_attr(flags: u64) -> MountAttr {
    let set = ms_to_attr(flags & (MS_LOCKABLE | MS_NOSYMFOLLOW));
    let mut clr = ms_to_attr(MS_LOCKABLE | MS_NOSYMFOLLOW) & !set;
    let mut set = set & !MOUNT_ATTR_ATIME_MASK;
    if flags & MS_ATIME_FLAGS != 0 {
        clr |= MOUNT_ATTR_ATIME_MASK | MOUNT_ATTR_NODIRATIME;
        set |= atime_attr(flags);
        if flags & MS_NODIRATIME != 0 {
            set |= MOUNT_ATTR_NODIRATIME;
        }
    }
    MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
    }
}

/// runc's retry rule for a bind remount refused with EPERM because the source mount has locked
/// flags (inside a user namespace): the source's lockable flags (`src_flags`, `ST_*` = `MS_*`
/// bits from statfs) are added to the request. Errors when the user explicitly cleared a locked
/// flag or asked for a different atime mode than the locked one.
pub(crate) fn locked_retry_flags(
    flags: u64,
    cleared: u64,
    src_flags: u64,
) -> Result<u64, &'static str> {
    let src_lockable = src_flags & MS_LOCKABLE;
    if src_lockable & cleared != 0 {
        return Err("cannot clear flags that are locked on the source mount");
    }
    let atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
    let mut out = flags | src_lockable;
    if flags & atime != 0 {
        // An explicit atime mode must match the source's (relatime is the default: no bit set
        // by statfs besides ST_RELATIME).
        let want = flags & atime;
        let have = src_flags & atime;
        let norm = |f: u64| {
            if f & (MS_NOATIME | MS_STRICTATIME) == 0 {
                MS_RELATIME
            } else {
                f
            }
        };
        if norm(want) != norm(have) {
            return Err("cannot change the locked atime mode of the source mount");
        }
    } else {
        out |= src_flags & (MS_NOATIME | MS_STRICTATIME | MS_NODIRATIME);
    }
    Ok(out)
}

/// What is being mounted, for [`check_proc_mount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcSource {
    /// A fresh `proc` mount.
    FreshProc,
    /// A bind mount of the root of a procfs (statfs PROC_SUPER_MAGIC, inode 1).
    ProcRootBind,
    /// A bind mount of something inside a procfs that is not its root.
    ProcSubBind,
    /// Anything else.
    Other,
}

/// The entries of `/proc` that may be mounted over (lxcfs and friends).
const VALID_PROC_MOUNTS: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// runc's `checkProcMount`: `dest` (the resolved, clean container path of a mount) may be `/proc`
/// only for a real procfs, and a path under `/proc` only for the lxcfs-style allow-list.
pub(crate) fn check_proc_mount(dest: &Path, src: ProcSource) -> Result<(), &'static str> {
    let dest = clean_path(dest);
    let Ok(rest) = dest.strip_prefix("/proc") else {
        return Ok(());
    };
    if rest.as_os_str().is_empty() {
        return match src {
            ProcSource::FreshProc | ProcSource::ProcRootBind => Ok(()),
            ProcSource::ProcSubBind => Err("the source is not the root of a procfs"),
            ProcSource::Other => Err("only a procfs can be mounted on /proc"),
        };
    }
    if VALID_PROC_MOUNTS.iter().any(|v| Path::new(v) == dest) {
        Ok(())
    } else {
        Err("the destination is inside /proc")
    }
}

/// The path of a sysctl below `/proc/sys`: `net.ipv4.ip_forward` → `net/ipv4/ip_forward`; a key
/// that already uses `/` is taken as is. `None` for an empty key or one with empty, `.` or `..`
/// components.
pub(crate) fn sysctl_path(key: &str) -> Option<PathBuf> {
    let key = key.trim_matches('/');
    let parts: Vec<&str> = if key.contains('/') {
        key.split('/').collect()
    } else {
        key.split('.').collect()
    };
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return None;
    }
    Some(parts.iter().collect())
}

pub(crate) use lashing_cgroups::hierarchy::unescape_mountinfo;

/// The host mount points of full `proc` and `sysfs` mounts (root `/`) outside `rootfs`, from
/// mountinfo text: what `msMoveRoot` must hide before `MS_MOVE`+`chroot`.
pub(crate) fn host_proc_sys_mounts(mountinfo: &str, rootfs: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let fstype = post.split(' ').next().unwrap_or("");
        if pre.len() < 5 || pre[3] != "/" || (fstype != "proc" && fstype != "sysfs") {
            continue;
        }
        let mp = PathBuf::from(unescape_mountinfo(pre[4]));
        if mp.starts_with(rootfs) {
            continue;
        }
        out.push(mp);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(clean_path(Path::new("../../x")), Path::new("/x"));
        assert_eq!(clean_path(Path::new("/")), Path::new("/"));
        assert_eq!(rel_path(Path::new("/")), Path::new("."));
        assert_eq!(rel_path(Path::new("/..")), Path::new("."));
        assert_eq!(rel_path(Path::new("/dev//pts/")), Path::new("dev/pts"));
    }

    proptest! {
        #[test]
        fn clean_path_never_escapes(parts in proptest::collection::vec("(\\.\\.|\\.|[a-z]{1,3})", 0..8)) {
            let p = format!("/{}", parts.join("/"));
            let c = clean_path(Path::new(&p));
            prop_assert!(c.is_absolute());
            prop_assert!(!c.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)));
            let r = rel_path(Path::new(&p));
            prop_assert!(r.is_relative());
            prop_assert!(!r.components().any(|c| matches!(c, Component::ParentDir | Component::RootDir)));
        }

        #[test]
        fn split_data_roundtrips_unquoted(opts in proptest::collection::vec("[a-z0-9=]{1,6}", 0..6)) {
            let joined = opts.join(",");
            prop_assert_eq!(split_data(&joined), opts.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    #[test]
    fn data_splitting_respects_quotes() {
        assert_eq!(split_data(""), Vec::<&str>::new());
        assert_eq!(split_data("a,,b,"), vec!["a", "b"]);
        assert_eq!(
            split_data("mode=755,context=\"system_u:object_r:x:s0:c1,c2\",size=1k"),
            vec![
                "mode=755",
                "context=\"system_u:object_r:x:s0:c1,c2\"",
                "size=1k"
            ]
        );
        assert_eq!(
            fs_options("newinstance,ptmxmode=0666,context=\"a:b,c\""),
            vec![
                FsOption::Flag("newinstance"),
                FsOption::Value("ptmxmode", "0666"),
                FsOption::Value("context", "a:b,c"),
            ]
        );
        assert!(has_option("size=1k,mode=0755", "mode"));
        assert!(!has_option("size=1k,nomode", "mode"));
        assert_eq!(append_option("", "mode=0755"), "mode=0755");
        assert_eq!(append_option("size=1k", "mode=0755"), "size=1k,mode=0755");
    }

    #[test]
    fn ms_flags_to_mount_attrs() {
        assert_eq!(ms_to_attr(0), MOUNT_ATTR_RELATIME);
        assert_eq!(
            ms_to_attr(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC
        );
        assert_eq!(
            ms_to_attr(MS_NOATIME | MS_NODIRATIME),
            MOUNT_ATTR_NOATIME | MOUNT_ATTR_NODIRATIME
        );
        assert_eq!(ms_to_attr(MS_STRICTATIME), MOUNT_ATTR_STRICTATIME);
        assert_eq!(ms_to_attr(MS_NOSYMFOLLOW), MOUNT_ATTR_NOSYMFOLLOW);
    }

    #[test]
    fn bind_attr_matches_remount_semantics() {
        assert!(!bind_needs_remount(MS_BIND | MS_REC, 0));
        assert!(bind_needs_remount(MS_BIND | MS_RDONLY, 0));
        // Only a cleared flag (`rbind,rw` / `rbind,exec`): runc remounts, dropping the source's
        // ro/noexec.
        assert!(bind_needs_remount(MS_BIND | MS_REC, MS_RDONLY));
        assert!(bind_needs_remount(MS_BIND, MS_NOEXEC));
        let a = bind_attr(MS_BIND | MS_REC);
        assert_eq!(a.attr_set, 0);
        assert_eq!(
            a.attr_clr,
            MOUNT_ATTR_RDONLY
                | MOUNT_ATTR_NOSUID
                | MOUNT_ATTR_NODEV
                | MOUNT_ATTR_NOEXEC
                | MOUNT_ATTR_NOSYMFOLLOW
        );
        let a = bind_attr(MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
        assert_eq!(a.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(
            a.attr_clr,
            MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSYMFOLLOW
        );
        // No atime flag: the atime mode is left alone.
        assert_eq!(a.attr_clr & MOUNT_ATTR_ATIME_MASK, 0);
        let a = bind_attr(MS_BIND | MS_NOATIME);
        assert_eq!(a.attr_set, MOUNT_ATTR_NOATIME);
        assert_eq!(
            a.attr_clr & (MOUNT_ATTR_ATIME_MASK | MOUNT_ATTR_NODIRATIME),
            MOUNT_ATTR_ATIME_MASK | MOUNT_ATTR_NODIRATIME
        );
        assert_eq!(a.attr_clr & MOUNT_ATTR_RDONLY, MOUNT_ATTR_RDONLY);
        let a = bind_attr(MS_BIND | MS_NODIRATIME);
        assert_eq!(a.attr_set, MOUNT_ATTR_RELATIME | MOUNT_ATTR_NODIRATIME);
    }

    #[test]
    fn rec_atime_attrs_clear_the_whole_field() {
        // ratime / rnostrictatime: a partial clear becomes the whole field (relatime).
        for clr in [MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME] {
            let a = rec_attr_for_kernel(0, clr);
            assert_eq!((a.attr_set, a.attr_clr), (0, MOUNT_ATTR_ATIME_MASK));
        }
        let a = rec_attr_for_kernel(MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME_MASK);
        assert_eq!(
            (a.attr_set, a.attr_clr),
            (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME_MASK)
        );
        // Not atime: unchanged (rdiratime, rro).
        let a = rec_attr_for_kernel(MOUNT_ATTR_RDONLY, MOUNT_ATTR_NODIRATIME);
        assert_eq!(
            (a.attr_set, a.attr_clr),
            (MOUNT_ATTR_RDONLY, MOUNT_ATTR_NODIRATIME)
        );
    }

    #[test]
    fn initial_user_namespace_map() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0     100000      65536\n"));
        assert!(!is_initial_uid_map("0 0 4294967295\n1 1 1\n"));
        assert!(!is_initial_uid_map(""));
    }

    #[test]
    fn locked_flags_retry() {
        // Source is ro+nosuid (locked); user asks for nodev only: keep ro and nosuid.
        let f = locked_retry_flags(MS_BIND | MS_NODEV, 0, MS_RDONLY | MS_NOSUID).unwrap();
        assert_eq!(f, MS_BIND | MS_NODEV | MS_RDONLY | MS_NOSUID);
        // User explicitly asked for rw on a locked-ro source.
        assert!(locked_retry_flags(MS_BIND, MS_RDONLY, MS_RDONLY).is_err());
        // Different atime mode than the locked one.
        assert!(locked_retry_flags(MS_BIND | MS_STRICTATIME, 0, MS_NOATIME).is_err());
        assert!(locked_retry_flags(MS_BIND | MS_NOATIME, 0, MS_NOATIME).is_ok());
        assert!(locked_retry_flags(MS_BIND | MS_RELATIME, 0, MS_RELATIME).is_ok());
        // No atime requested: keep the source's.
        assert_eq!(
            locked_retry_flags(MS_BIND | MS_RDONLY, 0, MS_NOATIME).unwrap(),
            MS_BIND | MS_RDONLY | MS_NOATIME
        );
    }

    #[test]
    fn proc_mount_rules() {
        use ProcSource::*;
        assert!(check_proc_mount(Path::new("/proc"), FreshProc).is_ok());
        assert!(check_proc_mount(Path::new("/proc/"), ProcRootBind).is_ok());
        assert!(check_proc_mount(Path::new("/proc"), Other).is_err());
        assert!(check_proc_mount(Path::new("/proc"), ProcSubBind).is_err());
        assert!(check_proc_mount(Path::new("/proc/cpuinfo"), Other).is_ok());
        assert!(check_proc_mount(Path::new("/proc/sys/kernel/ns_last_pid"), Other).is_ok());
        assert!(check_proc_mount(Path::new("/proc/sys"), Other).is_err());
        assert!(check_proc_mount(Path::new("/proc/self/attr"), Other).is_err());
        assert!(check_proc_mount(Path::new("/proc/cpuinfo/x"), Other).is_err());
        assert!(check_proc_mount(Path::new("/proc/sys/../cpuinfo"), Other).is_ok());
        // Not under /proc (component-wise).
        assert!(check_proc_mount(Path::new("/procfs"), Other).is_ok());
        assert!(check_proc_mount(Path::new("/sys/proc"), Other).is_ok());
        assert!(check_proc_mount(Path::new("/"), Other).is_ok());
    }

    #[test]
    fn sysctl_keys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            Path::new("net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/eth0.100/forwarding").unwrap(),
            Path::new("net/ipv4/conf/eth0.100/forwarding")
        );
        assert_eq!(
            sysctl_path("kernel.shmmax").unwrap(),
            Path::new("kernel/shmmax")
        );
        assert!(sysctl_path("").is_none());
        assert!(sysctl_path("net..x").is_none());
        assert!(sysctl_path("net/../../etc").is_none());
        assert!(sysctl_path("/").is_none());
    }

    #[test]
    fn mountinfo_parsing() {
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), "/a b\\c");
        assert_eq!(unescape_mountinfo(r"\04"), r"\04");
        let mi = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                  23 1 0:22 / /sys rw - sysfs sysfs rw\n\
                  24 1 0:21 /sys /mnt/procsys rw - proc proc rw\n\
                  25 1 0:30 / /run/c/rootfs/proc rw - proc proc rw\n\
                  26 1 0:31 / /my\\040proc rw - proc proc rw\n\
                  27 1 0:32 / /tmp rw - tmpfs tmpfs rw\n";
        assert_eq!(
            host_proc_sys_mounts(mi, Path::new("/run/c/rootfs")),
            vec![
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/my proc")
            ]
        );
    }
}
