//! The example `config.json` written by `lashing spec` (runc's `specconv.Example` and
//! `ToRootless`).

use serde_json::{Value, json};

/// The OCI runtime-spec version lashing writes and implements.
pub const OCI_VERSION: &str = "1.2.1";

/// The example spec that `lashing spec` writes: exactly runc 1.3's `Example()` (hostname `"runc"`
/// included, so that tools written for `runc spec` find what they expect): a `sh` with a terminal
/// as root, a read-only `rootfs`, the standard mounts, the default masked and read-only paths, and
/// new pid, network, ipc, uts and mount namespaces (no cgroup namespace, as runc).
///
/// Object keys come out in the order written here only if serde_json's `preserve_order`
/// feature is enabled; otherwise they are sorted (the content is the same).
pub fn example_spec_json() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps.clone(),
                "effective": caps.clone(),
                "permitted": caps,
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            {
                "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
            },
            {
                "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
            },
            {
                "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
            },
            {
                "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"]
            },
            {
                "destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"]
            },
            {
                "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
            }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        }
    })
}

/// `lashing spec --rootless`: runc's `ToRootless` applied to `spec`. Drops the network (and any
/// user) namespace and adds a new user namespace mapping container root to `uid`/`gid` (the
/// caller's euid and egid); replaces the `/sys` mount by a read-only rbind of the host's `/sys`;
/// strips `uid=`/`gid=` mount options; removes `linux.resources`.
pub fn rootless_example(spec: &Value, uid: u32, gid: u32) -> Value {
    let mut spec = spec.clone();
    if let Some(linux) = spec.get_mut("linux").and_then(Value::as_object_mut) {
        let mut namespaces: Vec<Value> = linux
            .get("namespaces")
            .and_then(Value::as_array)
            .map(|ns| {
                ns.iter()
                    .filter(|n| {
                        !matches!(
                            n.get("type").and_then(Value::as_str),
                            Some("network" | "user")
                        )
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        namespaces.push(json!({ "type": "user" }));
        linux.insert("namespaces".into(), Value::Array(namespaces));
        linux.insert(
            "uidMappings".into(),
            json!([{ "containerID": 0, "hostID": uid, "size": 1 }]),
        );
        linux.insert(
            "gidMappings".into(),
            json!([{ "containerID": 0, "hostID": gid, "size": 1 }]),
        );
        linux.remove("resources");
    }
    if let Some(mounts) = spec.get_mut("mounts").and_then(Value::as_array_mut) {
        for m in mounts.iter_mut() {
            let dest = m.get("destination").and_then(Value::as_str).unwrap_or("");
            if dest.trim_end_matches('/') == "/sys" {
                *m = json!({
                    "destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
                });
                continue;
            }
            if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
                opts.retain(|o| {
                    let o = o.as_str().unwrap_or("");
                    !o.starts_with("uid=") && !o.starts_with("gid=")
                });
            }
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_as_oci_spec() {
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(example_spec_json()).expect("example must be a valid spec");
        assert_eq!(spec.version(), OCI_VERSION);
        assert_eq!(spec.hostname().as_deref(), Some("runc"));
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.args().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(p.terminal(), Some(true));
        assert_eq!(spec.mounts().as_ref().unwrap().len(), 7);
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.namespaces().as_ref().unwrap().len(), 5);
        assert_eq!(linux.masked_paths().as_ref().unwrap().len(), 10);
        assert_eq!(linux.readonly_paths().as_ref().unwrap().len(), 5);
    }

    #[test]
    fn example_values() {
        let v = example_spec_json();
        assert_eq!(v["root"], json!({"path": "rootfs", "readonly": true}));
        assert_eq!(v["process"]["user"], json!({"uid": 0, "gid": 0}));
        assert_eq!(v["process"]["cwd"], "/");
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert_eq!(
            v["process"]["rlimits"],
            json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])
        );
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            v["process"]["capabilities"]["permitted"]
        );
        assert!(v["process"]["capabilities"].get("inheritable").is_none());
        assert_eq!(
            v["mounts"][1]["options"],
            json!(["nosuid", "strictatime", "mode=755", "size=65536k"])
        );
        assert_eq!(
            v["linux"]["resources"]["devices"],
            json!([{"allow": false, "access": "rwm"}])
        );
    }

    #[test]
    fn rootless() {
        let v = rootless_example(&example_spec_json(), 1000, 1001);
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "user"]);
        assert_eq!(
            v["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        );
        assert_eq!(v["linux"]["gidMappings"][0]["hostID"], 1001);
        assert!(v["linux"].get("resources").is_none());
        let sys = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert_eq!(sys["source"], "/sys");
        assert_eq!(sys["options"][0], "rbind");
        let pts = &v["mounts"][2];
        assert_eq!(
            pts["options"],
            json!([
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620"
            ])
        );
        // Still a valid spec.
        let _: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
    }
}
