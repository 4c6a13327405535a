//! Unit tests of the state directory and its file.

use super::*;
use proptest::prelude::*;

#[test]
fn ids() {
    for ok in ["a", "abc-1.2_3+x", "A9"] {
        assert!(validate_id(ok).is_ok(), "{ok}");
    }
    for bad in ["", ".", "..", "a/b", "a b", "ä", "../x"] {
        assert!(
            matches!(validate_id(bad), Err(Error::InvalidId(_))),
            "{bad}"
        );
    }
}

#[test]
fn rfc3339_shape() {
    let t = crate::time::now_rfc3339_nanos();
    assert_eq!(t.len(), "2026-11-29T06:00:00.000000000Z".len(), "{t}");
    assert!(t.starts_with("20"), "{t}");
    assert!(t.ends_with('Z'));
}

/// The configuration of `lashing spec`'s bundle, as `create` makes it.
pub(crate) fn example_config(dir: &Path) -> Config {
    let bundle = dir.join("bundle");
    fs::create_dir_all(bundle.join("rootfs")).unwrap();
    let mut spec = crate::config::example_spec_json();
    spec["linux"]["cgroupsPath"] = "/lashing-test/some-container".into();
    fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    Config::from_bundle(&crate::config::CreateOpts {
        bundle,
        no_pivot_root: false,
        no_new_keyring: false,
    })
    .unwrap()
}

pub(crate) fn cgroup_paths() -> BTreeMap<String, PathBuf> {
    [
        "", "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
    ]
    .iter()
    .map(|k| {
        let h = if k.is_empty() { "unified" } else { k };
        (
            k.to_string(),
            PathBuf::from(format!("/sys/fs/cgroup/{h}/lashing-test/some-container")),
        )
    })
    .collect()
}

#[test]
fn state_round_trip_and_exists() {
    let root = tempfile::tempdir().unwrap();
    let (dir, creating) = create_dir(root.path(), "c1").unwrap();
    assert!(!stale(&dir), "locked by its creator");
    drop(creating);
    assert!(stale(&dir), "no state file, and nobody holds it");
    assert!(matches!(
        create_dir(root.path(), "c1"),
        Err(Error::Exists(_))
    ));
    let config = example_config(root.path());
    let mut st = State::new("c1", cgroup_paths(), config.clone());
    st.init_process_pid = 7;
    st.init_process_start = 9;
    st.config.namespaces.truncate(2);
    st.save(&dir).unwrap();
    assert!(!stale(&dir), "a live creator");
    let back = State::load(&dir).unwrap();
    assert_eq!(back.init_process_pid, 7);
    assert_eq!(back.id, "c1");
    assert_eq!(back.version, STATE_VERSION);
    assert_eq!(back.creator, st.creator);
    assert_eq!(
        *back.config, *st.config,
        "the packed config reads back the same"
    );
    assert_eq!(back.cgroup_paths, st.cgroup_paths);
    assert_eq!(back.namespace_paths.len(), 2);
    let first = back.config.namespaces[0].typ.proc_name();
    assert_eq!(
        back.namespace_paths[first],
        PathBuf::from(format!("/proc/7/ns/{first}"))
    );
    assert!(!dir.join(format!(".{STATE_FILE}.tmp")).exists());
}

fn read_head<'b>(root: &Path, buf: &'b mut Vec<u8>) -> Result<Head<'b>> {
    let fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    Head::read_at(fd.as_fd(), root, "c1", buf)
}

/// A state as written: its configuration's OCI fields first and [`pack::TAIL`] last, read by
/// `list` up to them; the same state of an older layout (the configuration's members in
/// alphabetical order, no end mark) reads the same, parsed whole; and no truncation of a state
/// file is ever taken for a state (runc's `list` reports such a file and skips it).
#[test]
fn head_stops_early_only_in_a_whole_file() {
    let root = tempfile::tempdir().unwrap();
    let (dir, _creating) = create_dir(root.path(), "c1").unwrap();
    let mut config = example_config(root.path());
    config.annotations.insert("a".into(), "}}".into());
    let mut st = State::new("c1", cgroup_paths(), config);
    st.creator = None;
    st.init_process_pid = 7;
    st.save(&dir).unwrap();
    let data = fs::read(dir.join(STATE_FILE)).unwrap();
    assert!(data.ends_with(pack::TAIL));
    let text = String::from_utf8(data.clone()).unwrap();
    let config_at = text.find("\"config\":{").unwrap();
    assert!(
        text[config_at..].starts_with("\"config\":{\"oci_version\":"),
        "{}",
        &text[config_at..]
    );
    let fast = Head::parse_leading(&data).expect("the leading fields of a whole file");
    assert_eq!(fast.config.annotations["a"], "}}");
    assert_eq!(
        format!("{fast:?}"),
        format!("{:?}", read_head(root.path(), &mut Vec::new()).unwrap())
    );
    let full = State::load(&dir).unwrap();
    assert_eq!(full.config.annotations["a"], "}}");
    // The older layout: read whole, the same head.
    let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
    v["config"]
        .as_object_mut()
        .unwrap()
        .remove(pack::END)
        .unwrap();
    let old = serde_json::to_vec(&v).unwrap();
    assert!(!old.ends_with(pack::TAIL));
    assert!(Head::parse_leading(&old).is_none());
    assert_eq!(
        format!("{:?}", Head::parse(&old).unwrap()),
        format!("{fast:?}")
    );
    // Every cut is refused, with the parser's reason.
    for cut in 0..data.len() {
        let part = &data[..cut];
        assert!(Head::parse_leading(part).is_none(), "cut at {cut}");
        let err = Head::parse(part).expect_err(&format!("cut at {cut} was read"));
        assert!(!err.is_empty());
    }
}

/// `list` reads the head of a state file only: it tells what the whole load tells of the
/// OCI state (annotations included), and refuses another version with the same reason.
#[test]
fn head_reads_what_load_reads() {
    let root = tempfile::tempdir().unwrap();
    let (dir, _creating) = create_dir(root.path(), "c1").unwrap();
    let mut config = example_config(root.path());
    config
        .annotations
        .insert("org.example/a".into(), "1".into());
    let mut st = State::new("c1", cgroup_paths(), config);
    st.init_process_pid = 7;
    st.init_process_start = 9;
    st.owner = 1000;
    st.save(&dir).unwrap();
    let full = State::load(&dir).unwrap();
    let mut buf = Vec::new();
    let head = read_head(root.path(), &mut buf).unwrap();
    assert_eq!(head.id, full.id);
    assert_eq!(
        (head.init_process_pid, head.init_process_start),
        (full.init_process_pid, full.init_process_start)
    );
    assert_eq!(head.being_created(), full.creator.is_some());
    let paths: BTreeMap<String, PathBuf> = (head.cgroup_paths.0.iter())
        .map(|(k, v)| (k.to_string(), PathBuf::from(&**v)))
        .collect();
    assert_eq!(paths, full.cgroup_paths);
    assert_eq!(head.created, full.created);
    assert_eq!(head.owner, 1000);
    assert_eq!(head.config.rootfs, full.config.rootfs);
    assert_eq!(head.config.bundle, full.config.bundle);
    assert_eq!(head.config.annotations, full.config.annotations);
    let text = fs::read_to_string(dir.join(STATE_FILE)).unwrap();
    let other = text.replacen(&format!("\"version\":{STATE_VERSION}"), "\"version\":99", 1);
    assert_ne!(other, text);
    fs::write(dir.join(STATE_FILE), other).unwrap();
    let (Err(Error::State { reason: a, .. }), Err(Error::State { reason: b, .. })) =
        (read_head(root.path(), &mut Vec::new()), State::load(&dir))
    else {
        panic!("another version was read");
    };
    assert_eq!(a, b);
    assert!(a.contains("format version 99"), "{a}");
}

/// Issue 8.16: the state of `lashing spec`'s container fits in one page (4 KiB), so that a
/// create needs two pages of the state root (the file and its replacement), as runc.
#[test]
fn state_of_the_example_spec_fits_a_page() {
    let root = tempfile::tempdir().unwrap();
    let mut st = State::new(
        "some-container",
        cgroup_paths(),
        example_config(root.path()),
    );
    st.init_process_pid = 4_000_000;
    st.init_process_start = 123_456_789;
    st.creator = None;
    let packed = serde_json::to_vec(&st).unwrap();
    let plain = serde_json::to_vec(&st.config).unwrap();
    assert!(
        packed.len() < 4096,
        "state is {} bytes (config alone, unpacked: {})",
        packed.len(),
        plain.len()
    );
}

#[test]
fn other_versions_are_refused_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    let (dir, _lock) = create_dir(root.path(), "c1").unwrap();
    let st = State::new("c1", cgroup_paths(), Config::default());
    let mut v = serde_json::to_value(&st).unwrap();
    v["version"] = 99.into();
    fs::write(dir.join(STATE_FILE), v.to_string()).unwrap();
    let e = State::load(&dir).unwrap_err().to_string();
    assert!(e.contains("format version 99"), "{e}");
    v.as_object_mut().unwrap().remove("version");
    fs::write(dir.join(STATE_FILE), v.to_string()).unwrap();
    let e = State::load(&dir).unwrap_err().to_string();
    assert!(e.contains("no format version"), "{e}");
}

#[test]
fn remains_of_every_shape() {
    let mut st = State::new("c1", BTreeMap::new(), Config::default());
    // Paths that do not exist pass the check (nothing to do there); roots and paths
    // outside /sys/fs/cgroup never do.
    st.cgroup_paths
        .insert("".into(), "/sys/fs/cgroup/unified/no/such".into());
    st.cgroup_paths
        .insert("memory".into(), "/sys/fs/cgroup/memory".into());
    st.cgroup_paths.insert("pids".into(), "/tmp/x".into());
    st.cgroup_paths
        .insert("cpu".into(), "/sys/fs/cgroup/cpu/../x".into());
    st.init_process_pid = 42;
    st.init_process_start = 4242;
    st.cgroup_owned = true;
    st.systemd = Some(SystemdUnit {
        unit: "lashing-c1.scope".into(),
        user: false,
    });
    let data = serde_json::to_vec(&st).unwrap();
    let want = Remains {
        init: Some(ProcId {
            pid: 42,
            start: 4242,
        }),
        creator: st.creator,
        cgroup_paths: [("".to_string(), "/sys/fs/cgroup/unified/no/such".into())].into(),
        cgroup_owned: true,
        systemd: st.systemd.clone(),
        found: true,
    };
    assert_eq!(Remains::parse(&data), want, "whole file");
    // Truncated in the configuration, or anywhere after the cgroup paths.
    let cut = data.len() / 2;
    assert_eq!(Remains::parse(&data[..cut]), want, "truncated file");
    // Version 1: no version, no cgroup_owned (an init means it created the cgroup).
    let mut v = serde_json::to_value(&st).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("version");
    o.remove("cgroup_owned");
    o.remove("creator");
    let v1 = Remains::parse(v.to_string().as_bytes());
    assert!(v1.cgroup_owned && v1.init.is_some() && v1.creator.is_none());
    let garbage = Remains::parse(b"\x00\x01 not json");
    assert!(garbage.found && garbage.init.is_none() && garbage.cgroup_paths.is_empty());
    assert!(!Remains::read(Path::new("/nonexistent")).found);
}

#[test]
fn abandoned_means_a_dead_creator() {
    let mut r = Remains::default();
    assert!(!r.abandoned(), "no creator: not a create at all");
    r.creator = ProcId::current();
    assert!(!r.abandoned(), "a live creator");
    r.creator = Some(ProcId {
        pid: std::process::id() as i32,
        start: 1,
    });
    assert!(r.abandoned(), "a reused pid");
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-2i64..3).prop_map(serde_json::Value::from),
        prop_oneof![Just(""), Just("x"), Just(pack_mark())].prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![Just("a"), Just("b"), Just("c")].prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn pack_mark() -> &'static str {
    "\u{0}packed"
}

proptest! {
    #[test]
    fn pack_round_trips(v in json()) {
        let mut p = v.clone();
        pack::pack(&mut p);
        pack::unpack(&mut p);
        prop_assert_eq!(p, v);
    }
}

/// The packed configuration is kept from one save to the next ([`pack::Packed`]): the same
/// bytes as a first serialization, and never stale: a change of the configuration is saved.
#[test]
fn packed_config_is_kept_and_never_stale() {
    let root = tempfile::tempdir().unwrap();
    let (dir, _creating) = create_dir(root.path(), "c1").unwrap();
    let mut st = State::new("c1", cgroup_paths(), example_config(root.path()));
    let first = serde_json::to_vec(&st).unwrap();
    assert_eq!(
        serde_json::to_vec(&st).unwrap(),
        first,
        "kept: the same bytes"
    );
    let mut fresh = st.clone();
    fresh.config.hostname = st.config.hostname.clone(); // a DerefMut: drops the kept text
    assert_eq!(
        serde_json::to_vec(&fresh).unwrap(),
        first,
        "packed again: the same"
    );
    st.save(&dir).unwrap();
    st.config.hostname = Some("changed-after-a-save".into());
    st.save(&dir).unwrap();
    let back = State::load(&dir).unwrap();
    assert_eq!(
        back.config.hostname.as_deref(),
        Some("changed-after-a-save")
    );
    assert_eq!(*back.config, *st.config);
}
