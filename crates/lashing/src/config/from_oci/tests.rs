use std::path::{Path, PathBuf};

use super::super::example::example_spec_json;
use super::parse::unknown_fields;
use super::*;
use crate::config::*;
use serde_json::{Value, json};

/// `exec -p`: runc accepts a process.json without `user` (root) or `cwd` (refused later
/// with runc's message), and a `null` user.
#[test]
fn process_json_without_user_or_cwd_parses() {
    let dir = tempfile::tempdir().unwrap();
    for (text, cwd) in [
        (r#"{"args":["sh"],"cwd":"/"}"#, "/"),
        (r#"{"args":["sh"],"cwd":"/","user":null}"#, "/"),
        (r#"{"args":["sh"]}"#, ""),
        ("null", ""),
    ] {
        let f = dir.path().join("process.json");
        std::fs::write(&f, text).unwrap();
        let p = ProcessConfig::from_json_file(&f).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.user, User::default(), "{text}");
        assert_eq!(p.cwd, Path::new(cwd), "{text}");
    }
}

fn bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    dir
}

fn opts(dir: &Path) -> CreateOpts {
    CreateOpts {
        bundle: dir.to_path_buf(),
        ..CreateOpts::default()
    }
}

fn convert(v: Value) -> Result<Config, ConfigError> {
    let spec: oci::Spec = serde_json::from_value(v).expect("test spec must parse");
    Config::from_oci(&spec, &opts(Path::new("/bundle")))
}

/// The example spec with `patch` applied at JSON pointer `ptr`.
fn example_with(ptr: &str, value: Value) -> Value {
    let mut v = example_spec_json();
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).expect(parent)
    };
    match target {
        Value::Object(o) => {
            o.insert(key.to_string(), value);
        }
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        _ => panic!("bad pointer {ptr}"),
    }
    v
}

fn field_of(e: &ConfigError) -> &str {
    e.field().unwrap_or_else(|| panic!("no field in {e}"))
}

#[test]
fn example_round_trips() {
    let dir = bundle();
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec_pretty(&example_spec_json()).unwrap(),
    )
    .unwrap();
    let c = Config::from_bundle(&opts(dir.path())).unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(c.bundle, dir.path());
    assert_eq!(c.rootfs, dir.path().join("rootfs"));
    assert!(c.readonly_rootfs);
    assert_eq!(c.oci_version, "1.2.1");
    assert_eq!(c.hostname.as_deref(), Some("runc"));
    assert_eq!(c.domainname, None);
    let ns: Vec<_> = c.namespaces.iter().map(|n| n.typ).collect();
    use NamespaceType::*;
    assert_eq!(ns, [Pid, Network, Ipc, Uts, Mount]);
    assert!(c.namespaces.iter().all(|n| n.path.is_none()));

    assert_eq!(c.mounts.len(), 7);
    let dev = &c.mounts[1];
    assert_eq!(dev.destination, Path::new("/dev"));
    assert_eq!(dev.device, "tmpfs");
    assert_eq!(dev.flags, MsFlags::NOSUID | MsFlags::STRICTATIME);
    assert_eq!(dev.data, "mode=755,size=65536k");
    let sys = &c.mounts[5];
    assert_eq!(
        sys.flags,
        MsFlags::NOSUID | MsFlags::NOEXEC | MsFlags::NODEV | MsFlags::RDONLY
    );
    assert_eq!(
        c.mounts[2].data,
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    );
    assert!(c.mounts.iter().all(|m| !m.is_bind()));

    let paths: Vec<_> = c.devices.iter().map(|d| d.path.clone()).collect();
    assert_eq!(paths.len(), 6);
    assert!(paths.contains(&PathBuf::from("/dev/tty")));
    assert!(c.devices.iter().all(|d| d.file_mode == 0o666 && d.uid == 0));

    assert_eq!(c.cgroup.path, "");
    assert!(c.cgroup.resources.is_some());
    let rules = &c.cgroup.device_rules;
    assert_eq!(rules.len(), 12);
    assert_eq!(
        rules[0],
        DeviceRule {
            typ: DeviceRuleType::All,
            major: None,
            minor: None,
            permissions: "rwm".into(),
            allow: false
        }
    );
    assert_eq!(
        (rules[1].typ, rules[1].major, rules[1].permissions.as_str()),
        (DeviceRuleType::Char, None, "m")
    );
    assert_eq!((rules[9].major, rules[9].minor), (Some(136), None));
    assert_eq!((rules[11].major, rules[11].minor), (Some(10), Some(200)));
    assert!(rules[1..].iter().all(|r| r.allow));

    let p = &c.process;
    assert_eq!(p.args, ["sh"]);
    assert_eq!(p.cwd, Path::new("/"));
    assert!(p.terminal && p.no_new_privileges);
    assert_eq!(p.env.len(), 2);
    assert_eq!(
        p.rlimits,
        [Rlimit {
            resource: 7,
            hard: 1024,
            soft: 1024
        }]
    );
    let caps = p.capabilities.as_ref().unwrap();
    assert_eq!(caps.bounding, [5, 10, 29]);
    assert_eq!(caps.effective, [5, 10, 29]);
    assert!(caps.inheritable.is_empty() && caps.ambient.is_empty());
    assert_eq!(c.masked_paths.len(), 10);
    assert_eq!(c.readonly_paths[3], Path::new("/proc/sys"));

    // The converted example is a valid configuration.
    let mut c = c;
    c.rootfs = real.join("rootfs");
    c.validate().unwrap();
    super::super::validate_process(&c.process).unwrap();
}

#[test]
fn bundle_file_errors() {
    let dir = bundle();
    let o = opts(dir.path());
    match Config::from_bundle(&o).unwrap_err() {
        ConfigError::Read { path, source } => {
            assert_eq!(path, dir.path().join("config.json"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        e => panic!("{e}"),
    }

    let cfg = dir.path().join("config.json");
    std::fs::write(
        &cfg,
        "{\n  \"ociVersion\": \"1.2.0\",\n  \"root\": {\"path\": \"rootfs\"},,\n}",
    )
    .unwrap();
    match Config::from_bundle(&o).unwrap_err() {
        ConfigError::Parse {
            path,
            line,
            column,
            message,
        } => {
            assert_eq!(path, cfg);
            assert_eq!(line, 3);
            assert_eq!(column, 30);
            assert!(!message.contains("line"), "{message}");
        }
        e => panic!("{e}"),
    }

    // Truncated.
    let full = serde_json::to_string_pretty(&example_spec_json()).unwrap();
    std::fs::write(&cfg, &full[..full.len() / 2]).unwrap();
    let e = Config::from_bundle(&o).unwrap_err();
    assert!(
        matches!(e, ConfigError::Parse { line, .. } if line > 1),
        "{e}"
    );
    assert!(e.to_string().contains("config.json"), "{e}");

    // Empty.
    std::fs::write(&cfg, "").unwrap();
    assert!(matches!(
        Config::from_bundle(&o).unwrap_err(),
        ConfigError::Parse { line: 1, .. }
    ));

    // Valid JSON, wrong schema: located too.
    std::fs::write(&cfg, "{\n \"ociVersion\": \"1.2.0\",\n \"hostname\": 5\n}").unwrap();
    match Config::from_bundle(&o).unwrap_err() {
        ConfigError::Parse { line, message, .. } => {
            assert_eq!(line, 3);
            assert!(message.contains("invalid type"), "{message}");
        }
        e => panic!("{e}"),
    }
}

#[test]
fn unknown_names_in_file() {
    let dir = bundle();
    let o = opts(dir.path());
    let cfg = dir.path().join("config.json");

    let v = example_with(
        "/process/capabilities/bounding",
        json!(["CAP_KILL", "CAP_FOO", "CAP_SYS_ADMIN"]),
    );
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
    let c = Config::from_bundle(&o).unwrap();
    let caps = c.process.capabilities.unwrap();
    assert_eq!(caps.bounding, [5, 21], "unknown dropped, the rest kept");
    assert_eq!(caps.permitted, [5, 10, 29]);

    let v = example_with("/linux/namespaces/2", json!({"type": "bogusns"}));
    std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    match Config::from_bundle(&o).unwrap_err() {
        ConfigError::Parse { message, line, .. } => {
            assert!(message.contains("bogusns"), "{message}");
            assert!(line > 1);
        }
        e => panic!("{e}"),
    }

    let v = example_with(
        "/process/rlimits",
        json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
    );
    std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let e = Config::from_bundle(&o).unwrap_err();
    assert!(e.to_string().contains("RLIMIT_BOGUS"), "{e}");
}

#[test]
fn root_and_bundle() {
    let mut v = example_spec_json();
    v.as_object_mut().unwrap().remove("root");
    assert_eq!(field_of(&convert(v).unwrap_err()), "root");

    let c = convert(example_with("/root", json!({"path": "/abs/./root/"}))).unwrap();
    assert_eq!(c.rootfs, Path::new("/abs/root"));
    assert!(!c.readonly_rootfs);
    let c = convert(example_with("/root/path", json!("../x/rootfs"))).unwrap();
    assert_eq!(c.rootfs, Path::new("/x/rootfs"));
    let c = convert(example_with("/annotations", json!({"a": "b"}))).unwrap();
    assert_eq!(c.annotations.get("a").map(String::as_str), Some("b"));
    assert_eq!(c.bundle, Path::new("/bundle"));
    let o = CreateOpts {
        bundle: "rel".into(),
        no_pivot_root: true,
        no_new_keyring: true,
    };
    let spec: oci::Spec = serde_json::from_value(example_spec_json()).unwrap();
    let c = Config::from_oci(&spec, &o).unwrap();
    assert!(c.bundle.is_absolute() && c.bundle.ends_with("rel"));
    assert!(c.no_pivot_root && c.no_new_keyring);
}

#[test]
fn namespaces() {
    let v = example_with(
        "/linux/namespaces",
        json!([{"type": "pid"}, {"type": "pid", "path": "/proc/1/ns/pid"}]),
    );
    let e = convert(v).unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.namespaces[1]: duplicate namespace \"pid\""
    );

    let v = example_with(
        "/linux/namespaces",
        json!([{"type": "network", "path": "/run/netns/x"}, {"type": "mount", "path": ""}]),
    );
    let c = convert(v).unwrap();
    assert_eq!(c.namespaces[0].typ, NamespaceType::Network);
    assert_eq!(
        c.namespaces[0].path.as_deref(),
        Some(Path::new("/run/netns/x"))
    );
    assert_eq!(
        c.namespaces[1].path, None,
        "empty path means a new namespace"
    );
}

#[test]
fn mounts() {
    let v = example_with(
        "/mounts",
        json!([
            {"destination": "/data", "type": "none", "source": "data", "options": ["rbind", "ro"]},
            {"destination": "/x", "type": "bind", "source": "/host/x"},
            {"destination": "rel/dest", "type": "tmpfs", "source": "tmpfs",
             "options": ["tmpcopyup", "rro", "rprivate", "size=1k"]},
            {"destination": "/ab", "type": "bind", "source": "/a", "options": ["ridmap"]}
        ]),
    );
    let c = convert(v).unwrap();
    let m = &c.mounts[0];
    assert_eq!(m.device, "bind");
    assert_eq!(m.source, "/bundle/data");
    assert_eq!(m.flags, MsFlags::BIND | MsFlags::REC | MsFlags::RDONLY);
    let m = &c.mounts[1];
    assert_eq!((m.device.as_str(), m.source.as_str()), ("bind", "/host/x"));
    assert_eq!(m.flags, MsFlags::BIND, "type bind implies MS_BIND");
    let m = &c.mounts[2];
    assert_eq!(m.destination, Path::new("/rel/dest"));
    assert_eq!(m.source, "tmpfs", "non-bind sources are not paths");
    assert_eq!(m.extensions, Mount::EXT_COPYUP);
    assert_eq!(m.propagation_flags, [MsFlags::PRIVATE | MsFlags::REC]);
    assert_eq!(m.rec_attr.unwrap().attr_set, libc::MOUNT_ATTR_RDONLY);
    assert_eq!(m.data, "size=1k");
    let idm = c.mounts[3].id_mapping.as_ref().unwrap();
    assert!(idm.recursive && idm.uid_mappings.is_empty());

    let v = example_with(
        "/mounts",
        json!([{"destination": "/a\u{0}b", "type": "tmpfs", "source": "tmpfs"}]),
    );
    let e = convert(v).unwrap_err();
    assert_eq!(field_of(&e), "mounts[0].destination");
    let v = example_with(
        "/mounts",
        json!([{"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["x\u{0}"]}]),
    );
    assert_eq!(field_of(&convert(v).unwrap_err()), "mounts[0].options[0]");
}

#[test]
fn idmapped_mounts_inherit_container_maps() {
    let mut v = example_with(
        "/mounts",
        json!([
            {"destination": "/a", "type": "bind", "source": "/a", "options": ["idmap"]},
            {"destination": "/b", "type": "bind", "source": "/b",
             "uidMappings": [{"containerID": 0, "hostID": 5000, "size": 10}],
             "gidMappings": [{"containerID": 0, "hostID": 6000, "size": 10}]}
        ]),
    );
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    let c = convert(v).unwrap();
    let a = c.mounts[0].id_mapping.as_ref().unwrap();
    assert!(!a.recursive);
    assert_eq!(a.uid_mappings, c.uid_mappings);
    assert_eq!(a.gid_mappings[0].host_id, 200000);
    let b = c.mounts[1].id_mapping.as_ref().unwrap();
    assert_eq!(b.uid_mappings[0].host_id, 5000);
    assert_eq!(b.gid_mappings[0].host_id, 6000);
}

#[test]
fn rootfs_propagation() {
    let c = convert(example_with("/linux/rootfsPropagation", json!("rslave"))).unwrap();
    assert_eq!(c.root_propagation, MsFlags::SLAVE | MsFlags::REC);
    let c = convert(example_with("/linux/rootfsPropagation", json!(""))).unwrap();
    assert_eq!(c.root_propagation, MsFlags::empty());
    let e = convert(example_with("/linux/rootfsPropagation", json!("sideways"))).unwrap_err();
    assert_eq!(field_of(&e), "linux.rootfsPropagation");
    assert!(e.to_string().contains("sideways"));

    let spec: oci::Spec =
        serde_json::from_value(example_with("/linux/rootfsPropagation", json!("rprivate")))
            .unwrap();
    let no_pivot = CreateOpts {
        bundle: "/b".into(),
        no_pivot_root: true,
        ..CreateOpts::default()
    };
    let e = Config::from_oci(&spec, &no_pivot).unwrap_err();
    assert!(e.to_string().contains("pivot_root"), "{e}");
    assert!(Config::from_oci(&spec, &opts(Path::new("/b"))).is_ok());
    let spec: oci::Spec =
        serde_json::from_value(example_with("/linux/rootfsPropagation", json!("shared"))).unwrap();
    assert!(Config::from_oci(&spec, &no_pivot).is_ok());
}

/// Fields once refused as unsupported (netDevices, intelRdt: now implemented) and the
/// default personality convert.
#[test]
fn formerly_unsupported_fields_convert() {
    // The default personality is what every process has: accepted.
    convert(example_with(
        "/linux/personality",
        json!({"domain": "LINUX"}),
    ))
    .unwrap();
    convert(example_with("/linux/netDevices", json!({}))).unwrap();
}

#[test]
fn devices_and_owners() {
    let mut v = example_with(
        "/linux/devices",
        json!([
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o20600},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "uid": 5, "gid": 6}
        ]),
    );
    let c = convert(v.clone()).unwrap();
    let null: Vec<_> = c
        .devices
        .iter()
        .filter(|d| d.path == Path::new("/dev/null"))
        .collect();
    assert_eq!(null.len(), 1, "the spec's /dev/null replaces the default");
    assert_eq!(null[0].file_mode, 0o600, "file type bits stripped");
    assert_eq!(c.devices.len(), 7);
    let fuse = c.devices.last().unwrap();
    assert_eq!((fuse.uid, fuse.gid), (5, 6));
    // The default rule for /dev/null is dropped with the default node.
    assert_eq!(c.cgroup.device_rules.len(), 11);
    assert!(
        !c.cgroup
            .device_rules
            .iter()
            .any(|r| (r.major, r.minor) == (Some(1), Some(3)))
    );

    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    let c = convert(v.clone()).unwrap();
    let fuse = c.devices.last().unwrap();
    assert_eq!((fuse.uid, fuse.gid), (100005, 200006));
    assert!(
        c.devices[..6]
            .iter()
            .all(|d| d.uid == 100000 && d.gid == 200000)
    );

    v["linux"]["uidMappings"] = json!([{"containerID": 1, "hostID": 100000, "size": 10}]);
    let e = convert(v).unwrap_err();
    assert_eq!(field_of(&e), "linux.uidMappings");
    assert!(e.to_string().contains("uid 0"), "{e}");

    let v = example_with("/linux/devices", json!([{"path": "/dev/x", "type": "a"}]));
    assert_eq!(field_of(&convert(v).unwrap_err()), "linux.devices[0].type");
}

/// The resources as the cgroup managers get them, in JSON.
fn resources_json(c: &Config) -> Value {
    serde_json::to_value(c.cgroup.resources.as_ref().unwrap()).unwrap()
}

#[test]
fn cgroup() {
    let v = example_with(
        "/linux/resources",
        json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 4, "access": "rw"}
        ], "pids": {"limit": 10}}),
    );
    let mut v = v;
    v["linux"]["cgroupsPath"] = json!("/lashing-test/x");
    let c = convert(v).unwrap();
    assert_eq!(c.cgroup.path, "/lashing-test/x");
    assert_eq!(resources_json(&c)["pids"]["limit"], 10);
    let r = &c.cgroup.device_rules[1];
    assert_eq!(
        (r.typ, r.major, r.minor, r.allow),
        (DeviceRuleType::Char, Some(4), None, true)
    );
    assert_eq!(c.cgroup.device_rules.len(), 13);
    // resources.devices carries the same rules, defaults included, in OCI form.
    let res = resources_json(&c);
    let devs = res["devices"].as_array().unwrap();
    assert_eq!(devs.len(), 13);
    assert_eq!(devs[0], json!({"allow": false, "access": "rwm"}));
    assert_eq!(
        devs[1],
        json!({"allow": true, "type": "c", "major": 4, "access": "rw"})
    );
    assert_eq!(devs[2], json!({"allow": true, "type": "c", "access": "m"}));
    assert_eq!(
        devs[12],
        json!({"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"})
    );
    let back: oci::LinuxResources = serde_json::from_value(resources_json(&c)).unwrap();
    assert_eq!(back.devices().as_ref().unwrap().len(), 13);

    let mut v = example_spec_json();
    v["linux"].as_object_mut().unwrap().remove("resources");
    let c = convert(v).unwrap();
    assert!(c.cgroup.resources.is_none());
    assert_eq!(c.cgroup.device_rules.len(), 11, "defaults only");
}

/// runc takes the access letters in any order, repeated, and ignores other letters; an access
/// that is missing, empty or has none of r, w, m is an error.
#[test]
fn device_access_as_runc() {
    let rule = |access: Value| {
        let mut d = json!({"allow": true, "type": "c", "major": 7, "minor": 0});
        if !access.is_null() {
            d["access"] = access;
        }
        convert(example_with("/linux/resources", json!({"devices": [d]})))
    };
    for (given, want) in [
        ("rwa", "rw"),
        ("mrw", "rwm"),
        ("rrw", "rw"),
        ("wr", "rw"),
        ("rw m", "rwm"),
        ("m", "m"),
        ("rwx", "rw"),
    ] {
        let c = rule(json!(given)).unwrap();
        assert_eq!(c.cgroup.device_rules[0].permissions, want, "{given:?}");
        let devs = &resources_json(&c)["devices"];
        assert_eq!(devs[0]["access"], want, "{given:?}");
    }
    for bad in [json!(""), json!("x"), json!("a"), Value::Null] {
        let e = rule(bad.clone()).unwrap_err();
        assert_eq!(field_of(&e), "linux.resources.devices[0].access", "{bad}");
    }
}

/// The OCI spec's scheduler flag names are accepted (oci-spec spells some differently) and
/// reach the model under the spec's names.
#[test]
fn scheduler_flags_with_the_spec_names() {
    let names = [
        "SCHED_FLAG_RESET_ON_FORK",
        "SCHED_FLAG_RECLAIM",
        "SCHED_FLAG_DL_OVERRUN",
        "SCHED_FLAG_KEEP_POLICY",
        "SCHED_FLAG_KEEP_PARAMS",
        "SCHED_FLAG_UTIL_CLAMP_MIN",
        "SCHED_FLAG_UTIL_CLAMP_MAX",
    ];
    let dir = bundle();
    let cfg = dir.path().join("config.json");
    let v = example_with(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 5, "flags": names}),
    );
    std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let c = Config::from_bundle(&opts(dir.path())).unwrap();
    let s = c.process.scheduler.unwrap();
    assert_eq!(s.policy, "SCHED_BATCH");
    assert_eq!(s.nice, 5);
    assert_eq!(s.flags, names);

    // process.json (exec --process) too.
    let pj = dir.path().join("process.json");
    let mut p = v["process"].clone();
    p["scheduler"]["flags"] = json!(["SCHED_FLAG_DL_OVERRUN"]);
    std::fs::write(&pj, serde_json::to_vec(&p).unwrap()).unwrap();
    let p = ProcessConfig::from_json_file(&pj).unwrap();
    assert_eq!(p.scheduler.unwrap().flags, ["SCHED_FLAG_DL_OVERRUN"]);

    // An unknown flag is a located parse error.
    let v = example_with(
        "/process/scheduler",
        json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_BOGUS"]}),
    );
    std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let e = Config::from_bundle(&opts(dir.path())).unwrap_err();
    assert!(
        matches!(e, ConfigError::Parse { line, .. } if line > 1),
        "{e}"
    );
    assert!(e.to_string().contains("SCHED_FLAG_BOGUS"), "{e}");
}

/// Relative masked and read-only paths are taken from the container's `/`, as runc does;
/// empty entries are dropped.
#[test]
fn relative_masked_and_readonly_paths() {
    let mut v = example_spec_json();
    v["linux"]["maskedPaths"] = json!(["proc/kcore", "../../proc/keys", "", "/sys/firmware"]);
    v["linux"]["readonlyPaths"] = json!(["./proc/sys/", "/proc/bus"]);
    let c = convert(v).unwrap();
    assert_eq!(
        c.masked_paths,
        [
            Path::new("/proc/kcore"),
            Path::new("/proc/keys"),
            Path::new("/sys/firmware")
        ]
    );
    assert_eq!(
        c.readonly_paths,
        [Path::new("/proc/sys"), Path::new("/proc/bus")]
    );
}

#[test]
fn linux_misc() {
    let mut v = example_spec_json();
    let l = &mut v["linux"];
    l["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    l["timeOffsets"] = json!({"monotonic": {"secs": 10}, "boottime": {"nanosecs": 5}});
    l["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    l["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "listenerPath": "/run/agent.sock",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 3}]}]
    });
    v["domainname"] = json!("example.org");
    let c = convert(v).unwrap();
    assert_eq!(c.sysctl["net.ipv4.ip_forward"], "1");
    assert_eq!(c.time_offsets["monotonic"], (10, 0));
    assert_eq!(c.time_offsets["boottime"], (0, 5));
    assert!(c.mount_label.as_deref().unwrap().starts_with("system_u"));
    assert_eq!(c.domainname.as_deref(), Some("example.org"));
    let s = c.seccomp.unwrap();
    assert_eq!(s.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(s.default_errno_ret, Some(38));
    assert_eq!(s.architectures, ["SCMP_ARCH_X86_64"]);
    assert_eq!(s.flags, ["SECCOMP_FILTER_FLAG_LOG"]);
    assert_eq!(
        s.listener_path.as_deref(),
        Some(Path::new("/run/agent.sock"))
    );
    let r = &s.syscalls[0];
    assert_eq!((r.names.len(), r.action.as_str()), (2, "SCMP_ACT_ALLOW"));
    assert_eq!(
        r.args[0],
        SeccompArg {
            index: 1,
            value: 2,
            value_two: 3,
            op: "SCMP_CMP_MASKED_EQ".into()
        }
    );
    let v = example_with(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
    );
    assert_eq!(
        field_of(&convert(v).unwrap_err()),
        "linux.seccomp.syscalls[0].args[0].index"
    );
}

#[test]
fn hooks() {
    let v = example_with(
        "/hooks",
        json!({
            "prestart": [{"path": "/bin/a"}],
            "createRuntime": [{"path": "/bin/b", "args": ["b", "1"], "env": ["X=1"], "timeout": 5}],
            "createContainer": [{"path": "/bin/c"}],
            "startContainer": [{"path": "/bin/d"}],
            "poststart": [{"path": "/bin/e"}, {"path": "/bin/f"}],
            "poststop": []
        }),
    );
    let c = convert(v).unwrap();
    assert_eq!(c.hooks.len(), 5, "empty lists are not kept");
    let b = &c.hooks[&HookKind::CreateRuntime][0];
    assert_eq!(b.path, Path::new("/bin/b"));
    assert_eq!((b.args.len(), b.env.len(), b.timeout), (2, 1, Some(5)));
    assert_eq!(c.hooks[&HookKind::Poststart].len(), 2);
    assert!(c.hooks.contains_key(&HookKind::Prestart));

    let v = example_with(
        "/hooks",
        json!({"poststop": [{"path": "/x", "timeout": -1}]}),
    );
    assert_eq!(
        field_of(&convert(v).unwrap_err()),
        "hooks.poststop[0].timeout"
    );
    // Absurd timeouts are refused, naming the field (they used to overflow an Instant).
    for t in [i64::MAX, i64::MAX - 1, 9_223_372_037] {
        let v = example_with(
            "/hooks",
            json!({"prestart": [{"path": "/x", "timeout": 1}, {"path": "/x", "timeout": t}]}),
        );
        let e = convert(v).unwrap_err();
        assert_eq!(field_of(&e), "hooks.prestart[1].timeout", "{t}");
        assert!(e.to_string().contains("maximum"), "{e}");
    }
    let v = example_with(
        "/hooks",
        json!({"prestart": [{"path": "/x", "timeout": 9_223_372_036u64}]}),
    );
    assert_eq!(
        convert(v).unwrap().hooks[&HookKind::Prestart][0].timeout,
        Some(9_223_372_036)
    );
}

#[test]
fn process_fields() {
    let mut v = example_spec_json();
    let p = &mut v["process"];
    p["user"] = json!({"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 0o077});
    p["consoleSize"] = json!({"height": 24, "width": 80});
    p["apparmorProfile"] = json!("my-profile");
    p["selinuxLabel"] = json!("");
    p["oomScoreAdj"] = json!(100);
    p["rlimits"] = json!([{"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
                          {"type": "RLIMIT_RTTIME", "hard": 10, "soft": 5}]);
    p["capabilities"]["ambient"] = json!(["CAP_CHECKPOINT_RESTORE", "CAP_BPF"]);
    let c = convert(v).unwrap();
    let p = &c.process;
    assert_eq!(
        p.user,
        User {
            uid: 1000,
            gid: 100,
            additional_gids: vec![5, 6],
            umask: Some(0o077)
        }
    );
    assert_eq!(p.console_size, Some((24, 80)));
    assert_eq!(p.apparmor_profile.as_deref(), Some("my-profile"));
    assert_eq!(p.selinux_label, None);
    assert_eq!(p.oom_score_adj, Some(100));
    assert_eq!(
        p.rlimits.iter().map(|r| r.resource).collect::<Vec<_>>(),
        [4, 15]
    );
    assert_eq!(p.capabilities.as_ref().unwrap().ambient, [39, 40]);

    let v = example_with("/process/consoleSize", json!({"height": 70000, "width": 1}));
    assert_eq!(
        field_of(&convert(v).unwrap_err()),
        "process.consoleSize.height"
    );

    let mut v = example_spec_json();
    v.as_object_mut().unwrap().remove("process");
    let c = convert(v).unwrap();
    assert!(c.process.args.is_empty());
    assert_eq!(c.process, ProcessConfig::default());
}

#[test]
fn unknown_fields_are_found() {
    let mut v = example_spec_json();
    v["linux"]["fancyNewThing"] = json!({"x": 1});
    v["process"]["capabilities"]["bogus"] = json!(["CAP_KILL"]);
    v["mounts"][0]["extra"] = json!(true);
    v["domainname"] = Value::Null;
    let spec: oci::Spec = serde_json::from_value(v.clone()).unwrap();
    let mut found = unknown_fields(&v, &serde_json::to_value(&spec).unwrap());
    found.sort();
    assert_eq!(
        found,
        [
            "linux.fancyNewThing",
            "mounts[0].extra",
            "process.capabilities.bogus"
        ]
    );
    let spec: oci::Spec = serde_json::from_value(example_spec_json()).unwrap();
    assert!(unknown_fields(&example_spec_json(), &serde_json::to_value(&spec).unwrap()).is_empty());
}

#[test]
fn net_devices_are_converted_and_checked() {
    let c = convert(example_with(
        "/linux/netDevices",
        json!({"eth1": {"name": "ctr0"}, "eth2": {}}),
    ))
    .unwrap();
    assert_eq!(c.net_devices["eth1"], "ctr0");
    assert_eq!(c.net_devices["eth2"], "eth2", "no name: the same");
    for (devs, msg) in [
        (
            json!({"eth1": {"name": "a/b"}}),
            "invalid network device name \"a/b\"",
        ),
        (
            json!({"0123456789abcdef": {}}),
            "invalid network device name",
        ),
        (json!({"..": {}}), "invalid network device name"),
        (
            json!({"eth1": {"name": "a b"}}),
            "invalid network device name",
        ),
    ] {
        let e = validated(example_with("/linux/netDevices", devs)).unwrap_err();
        assert!(e.to_string().contains(msg), "{e}");
    }
    let mut v = example_with("/linux/netDevices", json!({"eth1": {}}));
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    let e = validated(v).unwrap_err();
    assert!(
        e.to_string()
            .contains("unable to move network devices without a NET namespace"),
        "{e}"
    );
}

/// Converted, then validated with an existing rootfs.
fn validated(v: Value) -> Result<Config, ConfigError> {
    let mut c = convert(v)?;
    c.rootfs = "/".into();
    c.validate().map(|()| c)
}

/// An idmapped mount needs the parent's CAP_SYS_ADMIN over the source's file system: refused
/// for a rootless caller, with the mount named.
#[test]
fn idmapped_mounts_are_refused_when_rootless() {
    let mut v = example_with(
        "/mounts",
        json!([{"destination": "/a", "type": "bind", "source": "/a", "options": ["idmap"],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}]),
    );
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    let mut c = convert(v).unwrap();
    c.rootfs = "/".into();
    c.validate().unwrap();
    c.rootless_euid = true;
    let e = c.validate().unwrap_err();
    assert_eq!(field_of(&e), "mounts[0].options");
    assert!(
        e.to_string()
            .contains("not supported for rootless containers"),
        "{e}"
    );
}

#[test]
fn idmapped_mounts_in_a_joined_user_namespace_use_it() {
    let mut v = example_with(
        "/mounts",
        json!([{"destination": "/a", "type": "bind", "source": "/a", "options": ["ridmap"]}]),
    );
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "path": "/proc/7/ns/user"}));
    let c = convert(v).unwrap();
    let a = c.mounts[0].id_mapping.as_ref().unwrap();
    assert!(a.recursive && a.uid_mappings.is_empty());
    assert_eq!(a.userns_path.as_deref(), Some(Path::new("/proc/7/ns/user")));
}

#[test]
fn intel_rdt_converts_and_closid_is_checked() {
    let c = convert(example_with(
        "/linux/intelRdt",
        json!({"closID": "gold", "l3CacheSchema": "L3:0=f", "memBwSchema": "",
               "schemata": ["MB:0=50"], "enableMonitoring": true}),
    ))
    .unwrap();
    let rdt = c.intel_rdt.clone().unwrap();
    assert_eq!(rdt.clos_id.as_deref(), Some("gold"));
    assert_eq!(rdt.l3_cache_schema.as_deref(), Some("L3:0=f"));
    assert_eq!(rdt.mem_bw_schema, None);
    assert_eq!(rdt.schemata, ["MB:0=50"]);
    assert!(rdt.enable_monitoring);
    let rootfs = tempfile::tempdir().unwrap();
    let mut c = c;
    c.rootfs = rootfs.path().to_path_buf();
    c.validate().unwrap();
    c.intel_rdt.as_mut().unwrap().clos_id = Some("..".into());
    let e = c.validate().unwrap_err();
    assert_eq!(field_of(&e), "linux.intelRdt");
    assert!(
        e.to_string().contains(r#"invalid intelRdt.ClosID "..""#),
        "{e}"
    );
    assert!(
        convert(example_with("/linux/intelRdt", json!({})))
            .unwrap()
            .intel_rdt
            .is_some()
    );
}
