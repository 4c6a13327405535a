//! Cgroup hierarchies: which cgroup mode the host runs, which hierarchies are mounted where
//! (`/proc/self/mountinfo`), and runc's rules for turning a `cgroupsPath` into one directory per
//! hierarchy. The parsing and path computation are pure functions over the file contents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Where cgroup file systems are normally mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// `CGROUP_SUPER_MAGIC` (cgroup v1).
pub const CGROUP_SUPER_MAGIC: u64 = 0x0027_e0eb;
/// `CGROUP2_SUPER_MAGIC` (cgroup v2).
pub const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
const TMPFS_MAGIC: u64 = 0x0102_1994;

/// The v1 controllers known to the kernel (mount options that name a controller).
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// How cgroups are set up on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CgroupMode {
    /// Only cgroup v1 hierarchies.
    V1,
    /// cgroup v1 controllers plus a cgroup2 hierarchy at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// A single cgroup2 hierarchy at `/sys/fs/cgroup`.
    Unified,
}

/// The file-system magic number of a `statfs` result.
pub(crate) fn fs_magic(st: &rustix::fs::StatFs) -> u64 {
    st.f_type as u64
}

/// Detects the cgroup mode of this host (statfs of `/sys/fs/cgroup`, then of
/// `/sys/fs/cgroup/unified`). The answer is computed once per process.
pub fn detect() -> CgroupMode {
    static MODE: OnceLock<CgroupMode> = OnceLock::new();
    *MODE.get_or_init(|| {
        let magic = rustix::fs::statfs(CGROUP_ROOT).map(|s| fs_magic(&s));
        match magic {
            Ok(CGROUP2_SUPER_MAGIC) => CgroupMode::Unified,
            Ok(TMPFS_MAGIC) => {
                match rustix::fs::statfs("/sys/fs/cgroup/unified").map(|s| fs_magic(&s)) {
                    Ok(CGROUP2_SUPER_MAGIC) => CgroupMode::Hybrid,
                    _ => CgroupMode::V1,
                }
            }
            _ => CgroupMode::V1,
        }
    })
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The key of this hierarchy in [`crate::Manager::paths`]: the mount directory's base name for
    /// v1 (`"memory"`, `"cpu,cpuacct"`, `"systemd"`), `""` for the cgroup2 hierarchy.
    pub key: String,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup that is the root of this mount (mountinfo field 4, usually `/`).
    pub root: String,
    /// The super-block options of a v1 mount that name its hierarchy: controllers and `name=...`.
    pub controllers: Vec<String>,
    /// Whether this is the cgroup2 hierarchy.
    pub unified: bool,
}

/// Decodes the octal escapes (`\040`, `\011`, `\012`, `\134`) of a `/proc/self/mountinfo`
/// field (a mount point or a root).
///
/// ```
/// assert_eq!(lashing_cgroups::hierarchy::unescape_mountinfo(r"/a\040b"), "/a b");
/// ```
pub fn unescape_mountinfo(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            // \377 is the largest value that fits a byte: compute in u32 so that \777 cannot
            // overflow (it is not valid mountinfo; it truncates as the kernel never writes it).
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mountinfo` content into the cgroup hierarchies it mounts: every cgroup2
/// mount and every v1 mount that binds a controller or `name=systemd`. A hierarchy mounted
/// several times (same device) is listed once, at its first mount point.
pub fn parse_mountinfo(content: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    let mut seen_devs: Vec<&str> = Vec::new();
    let root = Path::new(CGROUP_ROOT);
    for line in content.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let fstype = post[0];
        let unified = match fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let dev = pre[2];
        let mount_point = PathBuf::from(unescape_mountinfo(pre[4]));
        let seen = seen_devs.iter().position(|d| *d == dev);
        if let Some(i) = seen {
            // Keep the first mount, unless a later one is the conventional /sys/fs/cgroup one.
            if out[i].mount_point.starts_with(root) || !mount_point.starts_with(root) {
                continue;
            }
        }
        let mount_root = unescape_mountinfo(pre[3]);
        let controllers: Vec<String> = if unified {
            Vec::new()
        } else {
            post[2]
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                .map(str::to_owned)
                .collect()
        };
        if !unified
            && !controllers
                .iter()
                .any(|c| c == "name=systemd" || !c.starts_with("name="))
        {
            continue;
        }
        let key = if unified {
            String::new()
        } else {
            mount_point
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let h = Hierarchy {
            key,
            mount_point,
            root: mount_root,
            controllers,
            unified,
        };
        match seen {
            Some(i) => out[i] = h,
            None => {
                seen_devs.push(dev);
                out.push(h);
            }
        }
    }
    out
}

/// The hierarchies mounted for this process: on a unified host `/sys/fs/cgroup` alone (no mount
/// table scan); otherwise parsed from `/proc/self/mountinfo`, once per process.
pub fn mounted_hierarchies() -> Result<&'static [Hierarchy]> {
    static TABLE: OnceLock<Vec<Hierarchy>> = OnceLock::new();
    if let Some(t) = TABLE.get() {
        return Ok(t);
    }
    let table = if detect() == CgroupMode::Unified {
        vec![Hierarchy {
            key: String::new(),
            mount_point: PathBuf::from(CGROUP_ROOT),
            root: "/".to_owned(),
            controllers: Vec::new(),
            unified: true,
        }]
    } else {
        parse_mountinfo(&read_proc_text(Path::new("/proc/self/mountinfo"))?)
    };
    if table.is_empty() {
        return Err(Error::NoHierarchy {
            path: PathBuf::from("/proc/self/mountinfo"),
        });
    }
    Ok(TABLE.get_or_init(|| table))
}

/// Reads `/proc/self/cgroup`.
pub(crate) fn read_proc_self_cgroup() -> Result<String> {
    read_proc_text(Path::new("/proc/self/cgroup"))
}

/// Reads `/proc/thread-self/cgroup` (the calling thread's cgroups).
pub(crate) fn read_proc_thread_self_cgroup() -> Result<String> {
    read_proc_text(Path::new("/proc/thread-self/cgroup"))
}

/// Reads a text file of procfs whole. A procfs file has no size (`fstat` says 0), so
/// `fs::read_to_string` starts from a 32-byte probe and grows: about six reads for a host's
/// mountinfo. Starting from 8 KiB, the `cgroup` files and most mount tables take one read and
/// the end-of-file read (the buffer still grows as needed).
fn read_proc_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let err = |source| Error::ProcFile {
        path: path.to_owned(),
        source,
    };
    let mut text = String::with_capacity(8192);
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(err)?;
    Ok(text)
}

/// The directory of the caller's own cgroup of hierarchy `h` (`proc_self_cgroup`: the content of
/// `/proc/self/cgroup` or `/proc/thread-self/cgroup`); `None` if it is not a member of `h`.
pub(crate) fn own_dir(h: &Hierarchy, proc_self_cgroup: &str) -> Result<Option<PathBuf>> {
    let Some(own) = own_cgroup(h, proc_self_cgroup) else {
        return Ok(None);
    };
    let rel = below_mount_root(h, own)?;
    Ok(Some(join(
        h.mount_point.clone(),
        &clean_components(rel, own)?,
    )))
}

/// The part of cgroup `own` (as `/proc/self/cgroup` names it) below the root of `h`'s mount:
/// what is joined to the mount point; an error if the mount does not show it.
fn below_mount_root<'a>(h: &Hierarchy, own: &'a str) -> Result<&'a str> {
    let rel = if h.root == "/" {
        Some(own)
    } else if own == h.root {
        Some("")
    } else {
        own.strip_prefix(h.root.as_str())
            .filter(|r| r.starts_with('/'))
    };
    rel.ok_or_else(|| Error::OwnCgroupOutsideMount {
        hierarchy: h.key.clone(),
        cgroup: own.to_owned(),
        root: h.root.clone(),
    })
}

/// Finds the cgroup of hierarchy `h` in `/proc/self/cgroup` content.
fn own_cgroup<'a>(h: &Hierarchy, proc_self_cgroup: &'a str) -> Option<&'a str> {
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if h.unified {
            if id == "0" && ctrls.is_empty() {
                return Some(path);
            }
        } else if !ctrls.is_empty()
            && ctrls
                .split(',')
                .all(|c| h.controllers.iter().any(|x| x == c))
        {
            return Some(path);
        }
    }
    None
}

/// Splits `path` into normal components, resolving `.` and `..` lexically; a `..` that would
/// leave the starting point is an error.
fn clean_components<'a>(path: &'a str, original: &str) -> Result<Vec<&'a str>> {
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(Error::InvalidPath {
                        path: original.to_owned(),
                        reason: "\"..\" escapes the cgroup hierarchy",
                    });
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn join(mut base: PathBuf, comps: &[&str]) -> PathBuf {
    for c in comps {
        base.push(c);
    }
    base
}

/// Checks that a container id can be used as a cgroup directory name.
pub(crate) fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(Error::InvalidId { id: id.to_owned() });
    }
    Ok(())
}

/// Computes the cgroup directory of every hierarchy by runc's rules:
/// - an absolute `cgroups_path` is the same relative path under every hierarchy's mount point;
/// - a relative one is under the caller's own cgroup of each hierarchy (from
///   `proc_self_cgroup`, the content of `/proc/self/cgroup`), on a pure v2 host under the
///   *parent* of the caller's cgroup (runc's fs2: the caller's own cgroup has processes, so no
///   controller can be enabled below it; rootless, the parent is the delegated slice);
/// - an empty one is that base + `/` + `container_id`.
///
/// A `..` that escapes the starting point is rejected. Hierarchies the caller does not belong to
/// are skipped for relative paths.
pub fn compute_paths(
    hierarchies: &[Hierarchy],
    proc_self_cgroup: &str,
    cgroups_path: &str,
    container_id: &str,
) -> Result<BTreeMap<String, PathBuf>> {
    if cgroups_path.contains('\0') {
        return Err(Error::InvalidPath {
            path: cgroups_path.to_owned(),
            reason: "contains a NUL byte",
        });
    }
    let absolute = cgroups_path.starts_with('/');
    let inner: Vec<&str> = if cgroups_path.is_empty() {
        validate_id(container_id)?;
        vec![container_id]
    } else {
        clean_components(cgroups_path, cgroups_path)?
    };
    if inner.is_empty() {
        // "/", "." or "a/..": the hierarchy root or the caller's own cgroup, which a container
        // must never own (its deletion kills every process in it).
        return Err(Error::InvalidPath {
            path: cgroups_path.to_owned(),
            reason: "names the cgroup root or the caller's own cgroup, not a cgroup of the container",
        });
    }
    let pure_v2 = hierarchies.len() == 1 && hierarchies[0].unified;
    let mut paths = BTreeMap::new();
    for h in hierarchies {
        let base = if absolute {
            h.mount_point.clone()
        } else {
            let Some(own) = own_cgroup(h, proc_self_cgroup) else {
                tracing::debug!(hierarchy = %h.key, "not a member of this hierarchy: skipped");
                continue;
            };
            let own_rel = below_mount_root(h, own)?;
            // runc's fs2 rule on a pure v2 host: the caller's own cgroup most probably holds
            // processes already (a user's session scope), so that no controller could be
            // enabled for a child of it; its parent (the delegated slice) is used instead.
            let own_rel = if pure_v2 {
                own_rel
                    .rsplit_once('/')
                    .map_or(own_rel, |(parent, _)| parent)
            } else {
                own_rel
            };
            join(h.mount_point.clone(), &clean_components(own_rel, own)?)
        };
        paths.insert(h.key.clone(), join(base, &inner));
    }
    if paths.is_empty() {
        return Err(Error::NoHierarchy {
            path: PathBuf::from("/proc/self/mountinfo"),
        });
    }
    Ok(paths)
}

/// Finds the hierarchy whose mount point contains `path` (the longest match).
pub(crate) fn hierarchy_of<'a>(hierarchies: &'a [Hierarchy], path: &Path) -> Option<&'a Hierarchy> {
    let normal = is_normal(path);
    hierarchies
        .iter()
        .filter(|h| {
            if normal && is_normal(&h.mount_point) {
                is_under_normal(path, &h.mount_point)
            } else {
                path.starts_with(&h.mount_point)
            }
        })
        .max_by_key(|h| h.mount_point.as_os_str().len())
}

/// Whether `path` has no empty and no `.` component (as lashing writes cgroup paths and
/// mountinfo shows mount points), so that bytes compare as components do.
fn is_normal(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str()
        .as_bytes()
        .split(|&b| b == b'/')
        .skip(1)
        .all(|c| !c.is_empty() && c != b".")
        || path.as_os_str().as_bytes() == b"/"
}

/// `path.starts_with(dir)` (whole components) by bytes, for paths in normal form ([`is_normal`]):
/// `list` asks it of every cgroup path of every container against every mount point, and the
/// component walk was most of its time.
fn is_under_normal(path: &Path, dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    p.starts_with(d) && (p.len() == d.len() || d == b"/" || p[d.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole file, however long: a mount table of more than the first buffer reads the
    /// same as `fs::read_to_string`'s, and a missing file names its path.
    #[test]
    fn proc_text_is_read_whole() {
        for p in [
            "/proc/self/mountinfo",
            "/proc/self/cgroup",
            "/proc/self/maps",
        ] {
            let path = Path::new(p);
            let ours = read_proc_text(path).unwrap();
            assert!(!ours.is_empty(), "{p}");
            assert!(ours.ends_with('\n'), "{p}: {ours:?}");
            if p.ends_with("cgroup") {
                assert_eq!(ours, std::fs::read_to_string(path).unwrap());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("long");
        let text = "a line of a long file\n".repeat(2000);
        std::fs::write(&long, &text).unwrap();
        assert_eq!(read_proc_text(&long).unwrap(), text);
        let missing = dir.path().join("missing");
        let e = read_proc_text(&missing).unwrap_err();
        assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");
    }

    proptest::proptest! {
        /// The byte comparison agrees with the component one on every path it decides.
        #[test]
        fn bytes_agree_with_components_on_normal_paths(
            p in proptest::collection::vec("[a-c]{0,2}|\\.", 0..5),
            d in proptest::collection::vec("[a-c]{0,2}|\\.", 0..4),
            rel_p in proptest::bool::ANY,
            slash in proptest::bool::ANY,
        ) {
            let p = format!("{}{}{}", if rel_p { "" } else { "/" }, p.join("/"), if slash { "/" } else { "" });
            let d = format!("/{}", d.join("/"));
            let (pp, dp) = (Path::new(&p), Path::new(&d));
            if is_normal(pp) && is_normal(dp) {
                proptest::prop_assert_eq!(is_under_normal(pp, dp), pp.starts_with(dp), "{} under {}", p, d);
            }
        }
    }

    const HYBRID_MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
42 31 0:39 / /sys/fs/cgroup/other rw,relatime - cgroup cgroup rw,name=other
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 22 0:32 /sub /mnt/memory-again rw - cgroup cgroup rw,memory
";

    const HYBRID_SELF: &str = "\
9:name=systemd:/user.slice
8:name=other:/
4:memory:/process_api/abc
3:cpuset:/
1:cpu,cpuacct:/a/b
0::/uni
";

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn mountinfo_keys_and_dedup() {
        let h = parse_mountinfo(HYBRID_MOUNTINFO);
        let keys: Vec<&str> = h.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["cpu,cpuacct", "cpuset", "memory", "systemd", ""]);
        assert_eq!(h[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(h[3].controllers, ["name=systemd"]);
        assert!(h[4].unified);
        assert_eq!(h[4].mount_point, p("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn mountinfo_unescapes_mount_points() {
        let h = parse_mountinfo("1 1 0:5 / /a\\040b rw - cgroup2 cgroup2 rw\n");
        assert_eq!(h[0].mount_point, p("/a b"));
    }

    #[test]
    fn absolute_path_under_every_mount() {
        let h = parse_mountinfo(HYBRID_MOUNTINFO);
        let paths = compute_paths(&h, HYBRID_SELF, "/foo/./bar/../c", "id").unwrap();
        assert_eq!(paths["memory"], p("/sys/fs/cgroup/memory/foo/c"));
        assert_eq!(paths["cpu,cpuacct"], p("/sys/fs/cgroup/cpu,cpuacct/foo/c"));
        assert_eq!(paths[""], p("/sys/fs/cgroup/unified/foo/c"));
        assert_eq!(paths.len(), 5);
    }

    #[test]
    fn relative_and_empty_paths_use_own_cgroup() {
        let h = parse_mountinfo(HYBRID_MOUNTINFO);
        let paths = compute_paths(&h, HYBRID_SELF, "x/y", "id").unwrap();
        assert_eq!(
            paths["memory"],
            p("/sys/fs/cgroup/memory/process_api/abc/x/y")
        );
        assert_eq!(
            paths["cpu,cpuacct"],
            p("/sys/fs/cgroup/cpu,cpuacct/a/b/x/y")
        );
        assert_eq!(paths["systemd"], p("/sys/fs/cgroup/systemd/user.slice/x/y"));
        assert_eq!(paths["cpuset"], p("/sys/fs/cgroup/cpuset/x/y"));
        assert_eq!(paths[""], p("/sys/fs/cgroup/unified/uni/x/y"));
        let paths = compute_paths(&h, HYBRID_SELF, "", "ctr1").unwrap();
        assert_eq!(
            paths["memory"],
            p("/sys/fs/cgroup/memory/process_api/abc/ctr1")
        );
        assert_eq!(paths[""], p("/sys/fs/cgroup/unified/uni/ctr1"));
    }

    #[test]
    fn dotdot_escape_is_rejected() {
        let h = parse_mountinfo(HYBRID_MOUNTINFO);
        for bad in ["/../x", "/a/../../x", "../x", "a/../.."] {
            assert!(
                matches!(
                    compute_paths(&h, HYBRID_SELF, bad, "id"),
                    Err(Error::InvalidPath { .. })
                ),
                "{bad}"
            );
        }
        assert!(compute_paths(&h, HYBRID_SELF, "a/../b", "id").is_ok());
        // The hierarchy root or the caller's own cgroup is never a container's cgroup: deleting
        // the container would kill everything in it.
        for root_or_own in ["/", "//", "/a/..", ".", "a/.."] {
            assert!(
                matches!(
                    compute_paths(&h, HYBRID_SELF, root_or_own, "id"),
                    Err(Error::InvalidPath { .. })
                ),
                "{root_or_own}"
            );
        }
        for bad_id in ["", ".", "..", "a/b"] {
            assert!(matches!(
                compute_paths(&h, HYBRID_SELF, "", bad_id),
                Err(Error::InvalidId { .. })
            ));
        }
    }

    #[test]
    fn mount_root_is_stripped() {
        let mi = "1 1 0:5 /ns /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let h = parse_mountinfo(mi);
        // A pure v2 host: under the parent of the caller's cgroup (runc's fs2).
        let paths = compute_paths(&h, "0::/ns/me/scope\n", "c", "id").unwrap();
        assert_eq!(paths[""], p("/sys/fs/cgroup/me/c"));
        let paths = compute_paths(&h, "0::/ns\n", "c", "id").unwrap();
        assert_eq!(paths[""], p("/sys/fs/cgroup/c"));
        assert!(matches!(
            compute_paths(&h, "0::/nsother\n", "c", "id"),
            Err(Error::OwnCgroupOutsideMount { .. })
        ));
    }

    #[test]
    fn unified_only() {
        let mi = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = parse_mountinfo(mi);
        // runc's fs2: the parent of the caller's (busy) cgroup, the delegated slice.
        let paths = compute_paths(&h, "0::/user.slice/s.scope\n", "", "abc").unwrap();
        assert_eq!(
            paths.into_iter().collect::<Vec<_>>(),
            vec![(String::new(), p("/sys/fs/cgroup/user.slice/abc"))]
        );
        let paths = compute_paths(&h, "0::/top\n", "x", "abc").unwrap();
        assert_eq!(paths[""], p("/sys/fs/cgroup/x"));
    }

    #[test]
    fn own_dir_is_the_callers_cgroup_below_the_mount_root() {
        let h = parse_mountinfo(HYBRID_MOUNTINFO);
        let memory = hierarchy_of(&h, Path::new("/sys/fs/cgroup/memory")).unwrap();
        let text = "9:name=systemd:/user.slice\n4:memory:/a/b\n0::/c\n";
        assert_eq!(
            own_dir(memory, text).unwrap(),
            Some(PathBuf::from("/sys/fs/cgroup/memory/a/b"))
        );
        // Not a member of the hierarchy: nothing to return to.
        assert_eq!(own_dir(memory, "0::/c\n").unwrap(), None);
        // A mount whose root is a cgroup below the hierarchy's: the path below that root; a
        // caller outside it cannot be named through the mount.
        let mut sub = memory.clone();
        sub.root = "/a".into();
        assert_eq!(
            own_dir(&sub, text).unwrap(),
            Some(PathBuf::from("/sys/fs/cgroup/memory/b"))
        );
        sub.root = "/z".into();
        assert!(own_dir(&sub, text).is_err());
        // `..` may not climb out of the mount.
        sub.root = "/".into();
        assert!(own_dir(&sub, "4:memory:/../x\n").is_err());
    }

    #[test]
    fn hierarchy_of_longest_match() {
        let h = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(
            hierarchy_of(&h, Path::new("/sys/fs/cgroup/unified/a"))
                .unwrap()
                .key,
            ""
        );
        assert_eq!(
            hierarchy_of(&h, Path::new("/sys/fs/cgroup/memory"))
                .unwrap()
                .key,
            "memory"
        );
        assert!(hierarchy_of(&h, Path::new("/tmp/x")).is_none());
    }

    proptest::proptest! {
        #[test]
        fn computed_paths_stay_under_their_mounts(path in "[a-z./]{0,24}") {
            let h = parse_mountinfo(HYBRID_MOUNTINFO);
            if let Ok(paths) = compute_paths(&h, HYBRID_SELF, &path, "id") {
                for (k, v) in &paths {
                    let hier = h.iter().find(|x| &x.key == k).unwrap();
                    proptest::prop_assert!(v.starts_with(&hier.mount_point));
                    proptest::prop_assert!(!v.components().any(|c| c == std::path::Component::ParentDir));
                }
            }
        }
    }
}
