//! OCI bundles for tests: a fresh rootfs and a `config.json` like `runc spec`'s, adjusted for
//! tests (no terminal, writable root, `/init true`, an absolute test cgroup path).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::cleanup::Cleanup;
use crate::rootfs;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A container id unique in this machine's test runs: `PREFIX-PID-N`.
pub fn unique_id(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh absolute test cgroup path: `/lashing-test-PID-N/ID`.
pub fn test_cgroup_path(id: &str) -> String {
    format!(
        "/lashing-test-{}-{}/{id}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The default test config for a container whose cgroup is `cgroups_path`: `runc spec`'s
/// defaults with `terminal: false`, `args: ["/init", "true"]`, a writable root, no
/// `/sys/fs/cgroup` mount, namespaces pid ipc uts mount network, and `linux.cgroupsPath` set.
pub fn default_config(cgroups_path: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/init", "true"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "lashing",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// A test bundle in its own temp dir: `rootfs/` (see [`rootfs::populate`]) and `config.json`
/// (written by [`Bundle::write`]). Dropping it runs its [`Cleanup`] (kills recorded pids, removes
/// the test cgroup, detaches leaked mounts under the bundle) before the directory is removed.
#[derive(Debug)]
pub struct Bundle {
    /// The cleanup guard, already watching the bundle dir for mounts and holding the cgroup.
    pub cleanup: Cleanup,
    /// The container id the config was made for (also the last component of the cgroup path).
    pub id: String,
    /// The config as JSON; edit it directly or with [`Bundle::set`], then [`Bundle::write`].
    pub config: Value,
    /// The rootfs directory (`<dir>/rootfs`).
    pub rootfs: PathBuf,
    /// The bundle directory.
    pub dir: TempDir,
}

impl Bundle {
    /// A bundle for a fresh [`unique_id`]`("t")`; panics on failure.
    pub fn new() -> Bundle {
        Bundle::with_id(&unique_id("t"))
    }

    /// A bundle for the container id `id`; panics on failure.
    pub fn with_id(id: &str) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("lashing-bundle-")
            .tempdir()
            .expect("cannot create a temp dir for a test bundle");
        let rootfs = dir.path().join("rootfs");
        fs::create_dir(&rootfs)
            .and_then(|()| rootfs::populate(&rootfs))
            .unwrap_or_else(|e| panic!("cannot populate {}: {e}", rootfs.display()));
        let cgroups_path = test_cgroup_path(id);
        let cleanup = Cleanup::new();
        cleanup.cgroup(&cgroups_path);
        cleanup.watch_mounts(dir.path());
        Bundle {
            cleanup,
            id: id.to_string(),
            config: default_config(&cgroups_path),
            rootfs,
            dir,
        }
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// The config's `linux.cgroupsPath`, if any.
    pub fn cgroups_path(&self) -> Option<&str> {
        self.config.pointer("/linux/cgroupsPath")?.as_str()
    }

    /// Set the value at a JSON pointer (RFC 6901, e.g. `/process/args` or `/linux/resources/pids`),
    /// creating missing objects on the way; `-` appends to an array. Panics when the pointer
    /// goes through a non-container value or past the end of an array.
    pub fn set(&mut self, pointer: &str, value: impl Into<Value>) -> &mut Bundle {
        set_pointer(&mut self.config, pointer, value.into());
        self
    }

    /// Remove the value at a JSON pointer; returns it.
    pub fn remove(&mut self, pointer: &str) -> Option<Value> {
        let (parent, last) = pointer.rsplit_once('/')?;
        let last = unescape_token(last);
        match self.config.pointer_mut(parent)? {
            Value::Object(m) => m.remove(&last),
            Value::Array(a) => {
                let i: usize = last.parse().ok()?;
                (i < a.len()).then(|| a.remove(i))
            }
            _ => None,
        }
    }

    /// Set `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Bundle {
        self.set("/process/args", json!(args))
    }

    /// Write `config.json` (pretty) and return the bundle directory; a changed test cgroup path
    /// is recorded for cleanup. Panics on failure.
    pub fn write(&self) -> &Path {
        if let Some(p) = self.cgroups_path()
            && crate::cleanup::test_cgroup_top(p).is_some()
        {
            self.cleanup.cgroup(p);
        }
        let text = serde_json::to_vec_pretty(&self.config).expect("a JSON value serializes");
        let path = self.config_path();
        fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        self.dir.path()
    }
}

impl Default for Bundle {
    fn default() -> Self {
        Bundle::new()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for p in self.cleanup.run() {
            eprintln!("lashing-testsupport: cleanup: {p}");
        }
        let leaks = self.cleanup.unmount_leaks();
        if !leaks.is_empty() {
            for m in &leaks {
                eprintln!(
                    "lashing-testsupport: leaked mount {} (detached)",
                    m.display()
                );
            }
            if !self.cleanup.leaked_mounts().is_empty() {
                // Never recurse through a mount into someone else's files: keep the dir.
                self.dir.disable_cleanup(true);
                eprintln!(
                    "lashing-testsupport: keeping {}: mounts remain under it",
                    self.dir.path().display()
                );
            }
        }
    }
}

fn unescape_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

/// Set `value` at `pointer` in `root`, creating objects on the way.
fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    if pointer.is_empty() {
        *root = value;
        return;
    }
    assert!(
        pointer.starts_with('/'),
        "a JSON pointer starts with '/': {pointer:?}"
    );
    let tokens: Vec<String> = pointer[1..].split('/').map(unescape_token).collect();
    let mut cur = root;
    for (i, tok) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        if cur.is_null() {
            *cur = Value::Object(Default::default());
        }
        cur = match cur {
            Value::Object(m) => {
                if last {
                    m.insert(tok.clone(), value);
                    return;
                }
                m.entry(tok.clone()).or_insert(Value::Null)
            }
            Value::Array(a) => {
                let idx = if tok == "-" {
                    a.push(Value::Null);
                    a.len() - 1
                } else {
                    let idx: usize = tok
                        .parse()
                        .unwrap_or_else(|_| panic!("{pointer:?}: {tok:?} is not an array index"));
                    assert!(idx < a.len(), "{pointer:?}: index {idx} is past the end");
                    idx
                };
                if last {
                    a[idx] = value;
                    return;
                }
                &mut a[idx]
            }
            other => panic!("{pointer:?}: cannot descend into {other}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_ids_differ() {
        let ids: HashSet<String> = (0..1000).map(|_| unique_id("x")).collect();
        assert_eq!(ids.len(), 1000);
        let id = unique_id("pre");
        assert!(id.starts_with(&format!("pre-{}-", std::process::id())));
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn default_config_shape() {
        let c = default_config("/lashing-test-1-2/x");
        assert_eq!(c["process"]["terminal"], false);
        assert_eq!(c["process"]["args"], json!(["/init", "true"]));
        assert_eq!(c["root"], json!({"path": "rootfs", "readonly": false}));
        assert_eq!(c["linux"]["cgroupsPath"], "/lashing-test-1-2/x");
        let dests: Vec<&str> = c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys"
            ]
        );
        assert!(
            c["mounts"][5]["options"]
                .as_array()
                .unwrap()
                .contains(&json!("ro"))
        );
        let ns: HashSet<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, HashSet::from(["pid", "ipc", "uts", "mount", "network"]));
    }

    #[test]
    fn bundle_writes_config_and_cleans_up() {
        let mut b = Bundle::new();
        let cg = b.cgroups_path().unwrap().to_string();
        assert!(cg.starts_with(&format!("/lashing-test-{}-", std::process::id())));
        assert!(cg.ends_with(&format!("/{}", b.id)));
        assert!(b.rootfs.join("init").is_file());
        b.args(&["/init", "echo", "hi"])
            .set("/linux/resources/pids/limit", 10)
            .set("/process/env/-", "A=b")
            .set("/annotations/a~1b", "c");
        let dir = b.write().to_path_buf();
        let back: Value =
            serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(back, b.config);
        assert_eq!(back["process"]["args"], json!(["/init", "echo", "hi"]));
        assert_eq!(back["linux"]["resources"]["pids"]["limit"], 10);
        assert_eq!(back["process"]["env"][2], "A=b");
        assert_eq!(back["annotations"]["a/b"], "c");
        assert_eq!(
            b.remove("/linux/resources/pids"),
            Some(json!({"limit": 10}))
        );
        assert_eq!(b.remove("/process/env/5"), None);
        assert!(b.cleanup.leaked_mounts().is_empty());
        drop(b);
        assert!(!dir.exists());
    }

    #[test]
    #[should_panic(expected = "cannot descend")]
    fn set_through_a_scalar_panics() {
        let mut v = json!({"a": 1});
        set_pointer(&mut v, "/a/b", json!(2));
    }

    #[test]
    fn set_pointer_on_arrays() {
        let mut v = json!({"a": [1, 2]});
        set_pointer(&mut v, "/a/0", json!(9));
        set_pointer(&mut v, "/a/-", json!({"k": 1}));
        set_pointer(&mut v, "/a/2/k", json!(3));
        assert_eq!(v, json!({"a": [9, 2, {"k": 3}]}));
    }

    #[test]
    fn leaked_mounts_are_found_and_detached() {
        crate::require_root();
        let b = Bundle::new();
        let target = b.rootfs.join("tmp");
        // Mount a tmpfs under the bundle in this process's namespace, as a runtime bug would:
        // the guard must report it, and detach it before the directory is removed.
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "leak", target.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        let leaks = b.cleanup.leaked_mounts();
        assert_eq!(leaks, vec![target.canonicalize().unwrap()]);
        let dir = b.path().to_path_buf();
        drop(b);
        assert!(!dir.exists(), "detached, then removed");
    }
}
