use super::super::example::example_spec_json;
use super::super::from_oci::CreateOpts;
use super::*;
use crate::config::*;
use std::path::PathBuf;

/// A valid config (the converted example spec) with a real rootfs.
fn valid() -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(real.join("rootfs")).unwrap();
    let spec: oci_spec::runtime::Spec = serde_json::from_value(example_spec_json()).unwrap();
    let c = Config::from_oci(
        &spec,
        &CreateOpts {
            bundle: real,
            ..CreateOpts::default()
        },
    )
    .unwrap();
    c.validate().expect("the example must be valid");
    (dir, c)
}

#[track_caller]
fn fails(c: &Config, field: &str, needle: &str) {
    let e = c.validate().expect_err("must fail");
    assert_eq!(e.field(), Some(field), "{e}");
    assert!(e.to_string().contains(needle), "{e:?} lacks {needle:?}");
}

fn without_ns(c: &mut Config, typ: NamespaceType) {
    c.namespaces.retain(|n| n.typ != typ);
}

fn add_ns(c: &mut Config, typ: NamespaceType, path: Option<&str>) {
    without_ns(c, typ);
    c.namespaces.push(Namespace {
        typ,
        path: path.map(PathBuf::from),
    });
}

#[test]
fn rootfs() {
    let (dir, c) = valid();
    let mut bad = c.clone();
    bad.rootfs = "rootfs".into();
    fails(&bad, "root.path", "not an absolute path");
    bad.rootfs = PathBuf::new();
    fails(&bad, "root.path", "empty");
    bad.rootfs = c.rootfs.join("missing");
    assert!(matches!(bad.validate(), Err(ConfigError::Access { .. })));
    let file = c.rootfs.with_file_name("file");
    std::fs::write(&file, "").unwrap();
    bad.rootfs = file;
    fails(&bad, "root.path", "not a directory");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&c.rootfs, &link).unwrap();
    bad.rootfs = std::fs::canonicalize(dir.path()).unwrap().join("link");
    fails(&bad, "root.path", "symlinks");
    // A `.` component is harmless (runc compares cleaned paths).
    let mut ok = c.clone();
    ok.rootfs = c.rootfs.parent().unwrap().join(".").join("rootfs");
    ok.validate().unwrap();
}

#[test]
fn namespaces() {
    let (_d, c) = valid();
    let mut bad = c.clone();
    bad.namespaces.push(Namespace {
        typ: NamespaceType::Pid,
        path: None,
    });
    let e = bad.validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.namespaces[5]: duplicate namespace \"pid\""
    );
    let mut bad = c.clone();
    bad.namespaces[1].path = Some("run/netns/x".into());
    fails(&bad, "linux.namespaces[1].path", "run/netns/x");
    let mut ok = c.clone();
    ok.namespaces[1].path = Some("/run/netns/x".into());
    ok.validate().unwrap();
}

#[test]
fn user_namespace() {
    let (_d, c) = valid();
    let map = IdMap {
        container_id: 0,
        host_id: 100000,
        size: 65536,
    };
    let mut bad = c.clone();
    add_ns(&mut bad, NamespaceType::User, None);
    fails(&bad, "linux.uidMappings", "mappings");
    bad.uid_mappings = vec![map];
    fails(&bad, "linux.gidMappings", "mappings");
    bad.gid_mappings = vec![map];
    bad.validate().unwrap();
    bad.gid_mappings[0].size = 0;
    fails(&bad, "linux.gidMappings[0]", "invalid mapping 0 100000 0");
    bad.gid_mappings[0] = IdMap {
        container_id: 0,
        host_id: u32::MAX,
        size: 2,
    };
    fails(&bad, "linux.gidMappings[0]", "invalid mapping");

    let mut joined = c.clone();
    add_ns(&mut joined, NamespaceType::User, Some("/proc/1/ns/user"));
    joined.validate().unwrap();

    let mut bad = c.clone();
    bad.uid_mappings = vec![map];
    fails(&bad, "linux.uidMappings", "no user namespace");
}

#[test]
fn time_namespace() {
    let (_d, c) = valid();
    let mut bad = c.clone();
    bad.time_offsets.insert("monotonic".into(), (5, 0));
    fails(&bad, "linux.timeOffsets", "no time namespace");
    add_ns(&mut bad, NamespaceType::Time, Some("/proc/1/ns/time"));
    fails(&bad, "linux.timeOffsets", "/proc/1/ns/time");
    add_ns(&mut bad, NamespaceType::Time, None);
    bad.validate().unwrap();
    bad.time_offsets.insert("realtime".into(), (1, 0));
    fails(&bad, "linux.timeOffsets", "realtime");
    bad.time_offsets.remove("realtime");
    bad.time_offsets
        .insert("boottime".into(), (1, 1_000_000_000));
    fails(&bad, "linux.timeOffsets.boottime.nanosecs", "1000000000");
}

#[test]
fn uts() {
    let (_d, c) = valid();
    let mut bad = c.clone();
    without_ns(&mut bad, NamespaceType::Uts);
    fails(&bad, "hostname", "\"runc\"");
    bad.hostname = None;
    bad.validate().unwrap();
    bad.domainname = Some("example.org".into());
    fails(&bad, "domainname", "example.org");
    let mut ok = c.clone();
    ok.domainname = Some("example.org".into());
    ok.validate().unwrap();
}

#[test]
fn masked_and_readonly_paths() {
    let (_d, c) = valid();
    let mut bad = c.clone();
    without_ns(&mut bad, NamespaceType::Mount);
    bad.mounts.clear();
    fails(&bad, "linux.maskedPaths", "mount namespace");
    bad.masked_paths.clear();
    fails(&bad, "linux.readonlyPaths", "mount namespace");
    bad.readonly_paths.clear();
    bad.validate().unwrap();
    let mut bad = c.clone();
    bad.masked_paths.push("proc/x".into());
    fails(&bad, "linux.maskedPaths[10]", "proc/x");
}

fn with_sysctl(c: &Config, key: &str) -> Config {
    let mut c = c.clone();
    c.sysctl.insert(key.into(), "1".into());
    c
}

#[test]
fn sysctls() {
    let (_d, c) = valid();
    for key in ["kernel.shmmax", "fs.mqueue.msg_max", "kernel/sem"] {
        with_sysctl(&c, key).validate().unwrap();
        let mut bad = with_sysctl(&c, key);
        without_ns(&mut bad, NamespaceType::Ipc);
        fails(&bad, &format!("linux.sysctl[{key:?}]"), "IPC namespace");
    }

    for key in ["net.ipv4.ip_forward", "net/ipv4/conf/eth0.100/rp_filter"] {
        with_sysctl(&c, key).validate().unwrap();
        let mut bad = with_sysctl(&c, key);
        without_ns(&mut bad, NamespaceType::Network);
        fails(&bad, &format!("linux.sysctl[{key:?}]"), "network namespace");
        // Joining our own network namespace is the host's.
        add_ns(&mut bad, NamespaceType::Network, Some("/proc/self/ns/net"));
        fails(&bad, &format!("linux.sysctl[{key:?}]"), "network namespace");
        add_ns(&mut bad, NamespaceType::Network, Some("/nonexistent/net"));
        assert!(matches!(bad.validate(), Err(ConfigError::Access { .. })));
    }

    with_sysctl(&c, "kernel.domainname").validate().unwrap();
    fails(
        &with_sysctl(&c, "kernel.hostname"),
        "linux.sysctl[\"kernel.hostname\"]",
        "hostname",
    );
    let mut bad = with_sysctl(&c, "kernel.domainname");
    without_ns(&mut bad, NamespaceType::Uts);
    bad.hostname = None;
    fails(
        &bad,
        "linux.sysctl[\"kernel.domainname\"]",
        "not in a separate",
    );

    let mut user = with_sysctl(&c, "user.max_user_namespaces");
    fails(
        &user,
        "linux.sysctl[\"user.max_user_namespaces\"]",
        "not in a separate",
    );
    add_ns(&mut user, NamespaceType::User, Some("/proc/1/ns/user"));
    user.validate().unwrap();

    fails(
        &with_sysctl(&c, "vm.swappiness"),
        "linux.sysctl[\"vm.swappiness\"]",
        "vm.swappiness",
    );
}

#[test]
fn sysctl_separators() {
    assert_eq!(sysctl_dots("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
    assert_eq!(sysctl_dots("net/ipv4/ip_forward"), "net.ipv4.ip_forward");
    assert_eq!(
        sysctl_dots("net/ipv4/conf/eno2.100/rp_filter"),
        "net.ipv4.conf.eno2/100.rp_filter"
    );
    assert_eq!(
        sysctl_dots("net.ipv4.conf.eno2/100.rp_filter"),
        "net.ipv4.conf.eno2/100.rp_filter"
    );
    assert_eq!(sysctl_dots("plain"), "plain");
    assert_eq!(sysctl_dots(""), "");
}

#[test]
fn mounts() {
    let (_d, c) = valid();
    let mut bad = c.clone();
    bad.mounts[0].destination = "proc".into();
    fails(&bad, "mounts[0].destination", "\"proc\"");
    bad.mounts[0].destination = "/a/../../proc".into();
    fails(&bad, "mounts[0].destination", "..");
    let mut ok = c.clone();
    ok.mounts[0].destination = "/a/../proc".into();
    ok.validate().unwrap();

    let bind = Mount {
        source: "/host/data".into(),
        destination: "/data".into(),
        device: "bind".into(),
        flags: MsFlags::BIND | MsFlags::REC,
        cleared_flags: MsFlags::empty(),
        propagation_flags: vec![],
        data: String::new(),
        rec_attr: None,
        extensions: 0,
        id_mapping: None,
    };
    let mut ok = c.clone();
    ok.mounts.push(bind.clone());
    ok.validate().unwrap();

    let mut bad = c.clone();
    bad.mounts.push(Mount {
        source: "data".into(),
        ..bind.clone()
    });
    fails(&bad, "mounts[7].source", "absolute");

    let idmap = Some(MountIdMapping {
        recursive: false,
        uid_mappings: vec![],
        gid_mappings: vec![],
        userns_path: None,
    });
    let mut bad = c.clone();
    bad.mounts[1].id_mapping = idmap.clone();
    fails(&bad, "mounts[1].options", "need a bind mount");
    let mut bad = c.clone();
    bad.mounts.push(Mount {
        id_mapping: idmap,
        ..bind.clone()
    });
    fails(&bad, "mounts[7].uidMappings", "both uid and gid mappings");
    let map = IdMap {
        container_id: 0,
        host_id: 100000,
        size: 65536,
    };
    let mut ok = c.clone();
    ok.mounts.push(Mount {
        id_mapping: Some(MountIdMapping {
            recursive: true,
            uid_mappings: vec![map],
            gid_mappings: vec![map],
            userns_path: None,
        }),
        ..bind.clone()
    });
    ok.validate().unwrap();
    let mut bad = ok.clone();
    bad.mounts[7].id_mapping.as_mut().unwrap().gid_mappings[0].size = 0;
    fails(&bad, "mounts[7].gidMappings", "size 0");

    let mut bad = c.clone();
    bad.mounts.push(Mount {
        rec_attr: Some(RecAttr {
            attr_set: libc::MOUNT_ATTR_IDMAP,
            attr_clr: 0,
        }),
        ..bind
    });
    fails(&bad, "mounts[7].options", "MOUNT_ATTR_IDMAP");
}

#[test]
fn devices_and_hooks() {
    let (_d, c) = valid();
    let mut bad = c.clone();
    bad.devices[0].path = "dev/null".into();
    fails(&bad, "linux.devices[0].path", "dev/null");
    let mut bad = c.clone();
    bad.cgroup.device_rules[0].permissions = "rwx".into();
    fails(&bad, "linux.resources.devices[0].access", "rwx");

    let hook = Hook {
        path: "/bin/true".into(),
        args: vec![],
        env: vec![],
        timeout: Some(3),
    };
    let mut ok = c.clone();
    ok.hooks.insert(HookKind::CreateRuntime, vec![hook.clone()]);
    ok.validate().unwrap();
    let mut bad = c.clone();
    bad.hooks.insert(
        HookKind::CreateRuntime,
        vec![Hook {
            path: "true".into(),
            ..hook.clone()
        }],
    );
    fails(&bad, "hooks.createRuntime[0].path", "\"true\"");
    bad.hooks.insert(
        HookKind::CreateRuntime,
        vec![Hook {
            timeout: Some(0),
            ..hook
        }],
    );
    fails(&bad, "hooks.createRuntime[0].timeout", "greater than zero");
    bad.hooks.get_mut(&HookKind::CreateRuntime).unwrap()[0].timeout = Some(u64::MAX);
    fails(&bad, "hooks.createRuntime[0].timeout", "maximum");
    bad.hooks.get_mut(&HookKind::CreateRuntime).unwrap()[0].timeout = Some(MAX_HOOK_TIMEOUT);
    bad.validate().unwrap();
}

/// runc's environment rules, with runc's texts.
#[test]
fn env_as_runc() {
    let (_d, c) = valid();
    let with = |extra: &[&str]| {
        let mut c = c.clone();
        c.process.env.extend(extra.iter().map(|s| s.to_string()));
        c
    };
    fails(&with(&["=x"]), "process.env[2]", "name cannot be empty");
    fails(&with(&["="]), "process.env[2]", "name cannot be empty");
    fails(&with(&["NOEQ"]), "process.env[2]", "missing '='");
    fails(
        &with(&["A=x\0y"]),
        "process.env[2]",
        "\"A\": contains a NUL byte",
    );
    fails(&with(&["A\0=y"]), "process.env[2]", "NUL");
    // Only the last of several entries of one name counts (runc drops the others).
    with(&["A=x\0y", "A=1"]).validate().unwrap();
    fails(&with(&["A=1", "A=x\0y"]), "process.env[3]", "NUL");
    // But a missing '=' or name is an error wherever it is.
    fails(
        &with(&["=x", "A=1"]),
        "process.env[2]",
        "name cannot be empty",
    );
    with(&["A=", "B==", "C=a=b"]).validate().unwrap();
    let e = validate_process(&with(&["=x"]).process).unwrap_err();
    assert_eq!(
        e.to_string(),
        "process.env[2]: \"=x\": invalid environment variable: name cannot be empty"
    );
}

/// More supplementary groups than setgroups(2) takes is an error of validation.
#[test]
fn additional_gids_limit() {
    let (_d, c) = valid();
    let mut ok = c.clone();
    ok.process.user.additional_gids = (0..NGROUPS_MAX as u32).collect();
    ok.validate().unwrap();
    let mut bad = ok.clone();
    bad.process.user.additional_gids.push(7);
    fails(&bad, "process.user.additionalGids", "65537 groups");
    let e = validate_process(&bad.process).unwrap_err();
    assert!(e.to_string().contains("NGROUPS_MAX"), "{e}");
    assert!(e.to_string().contains("65536"), "{e}");
}

#[test]
fn process() {
    let (_d, c) = valid();
    let check = |f: &dyn Fn(&mut ProcessConfig), field: &str, needle: &str| {
        let mut bad = c.clone();
        f(&mut bad.process);
        fails(&bad, field, needle);
        let e = validate_process(&bad.process).unwrap_err();
        assert_eq!(e.field(), Some(field));
    };
    check(&|p| p.cwd = "work".into(), "process.cwd", "\"work\"");
    check(
        &|p| p.env.push("NOEQUALS".into()),
        "process.env[2]",
        "NOEQUALS",
    );
    check(&|p| p.env.push("A=\0".into()), "process.env[2]", "NUL");
    check(&|p| p.args.push("a\0b".into()), "process.args[1]", "NUL");
    check(
        &|p| {
            p.rlimits[0].soft = 2048;
        },
        "process.rlimits[0]",
        "RLIMIT_NOFILE: soft limit 2048 is above hard limit 1024",
    );
    check(
        &|p| p.rlimits[0].resource = 16,
        "process.rlimits[0].type",
        "16",
    );
    check(
        &|p| p.oom_score_adj = Some(1001),
        "process.oomScoreAdj",
        "1001",
    );
    check(
        &|p| p.oom_score_adj = Some(-1001),
        "process.oomScoreAdj",
        "-1001",
    );
    check(
        &|p| p.user.umask = Some(0o1777),
        "process.user.umask",
        "0o1777",
    );
    check(
        &|p| p.capabilities.as_mut().unwrap().ambient.push(41),
        "process.capabilities.ambient",
        "41",
    );

    let mut ok = c.clone();
    ok.process.oom_score_adj = Some(-1000);
    ok.process.rlimits[0].soft = 1024;
    ok.process.env.push("EMPTY=".into());
    ok.validate().unwrap();
    validate_process(&ok.process).unwrap();

    // An empty argv is fine for the library's config, not for a process to start.
    let mut no_args = c.clone();
    no_args.process.args.clear();
    no_args.validate().unwrap();
    let e = validate_process(&no_args.process).unwrap_err();
    assert_eq!(e.field(), Some("process.args"));

    // A config without a process skips the process checks.
    let mut none = c.clone();
    none.process = ProcessConfig::default();
    none.validate().unwrap();
}

#[test]
fn escaping_paths() {
    assert!(escapes_root(Path::new("/..")));
    assert!(escapes_root(Path::new("/a/../..")));
    assert!(escapes_root(Path::new("/a/../../b")));
    assert!(!escapes_root(Path::new("/a/..")));
    assert!(!escapes_root(Path::new("/a/./b/../c")));
    assert!(!escapes_root(Path::new("/")));
}
