//! The resctrl manager against a directory laid out as resctrl is (this machine's CPU has no
//! RDT, so the kernel's side is not exercised: see the module documentation).

use super::*;

/// A resctrl root with the `info/` directories of the features asked for, the root group's
/// files as the kernel shows them, and `info/last_cmd_status`.
fn fake(cat: bool, mba: bool, mon: bool) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let put = |p: &str, text: &str| {
        let p = r.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    put("info/last_cmd_status", "ok\n");
    put("tasks", "1\n");
    let mut root = String::new();
    if cat {
        put("info/L3/cbm_mask", "fffff\n");
        put("info/L3/min_cbm_bits", "1\n");
        put("info/L3/num_closids", "16\n");
        root.push_str("    L3:0=fffff;1=fffff\n");
    }
    if mba {
        put("info/MB/bandwidth_gran", "10\n");
        put("info/MB/delay_linear", "1\n");
        put("info/MB/min_bandwidth", "10\n");
        put("info/MB/num_closids", "8\n");
        root.push_str("    MB:0=100;1=100\n");
    }
    if mon {
        put(
            "info/L3_MON/mon_features",
            "llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n",
        );
    }
    put("schemata", &root);
    d
}

fn rdt(clos: Option<&str>, l3: Option<&str>, mb: Option<&str>) -> IntelRdt {
    IntelRdt {
        clos_id: clos.map(Into::into),
        l3_cache_schema: l3.map(Into::into),
        mem_bw_schema: mb.map(Into::into),
        ..Default::default()
    }
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p).unwrap()
}

#[test]
fn features_come_from_info() {
    let d = fake(true, false, true);
    let r = Resctrl::at(d.path());
    assert!(r.cat && !r.mba && r.monitoring);
    assert_eq!(r.root(), d.path());
}

#[test]
fn a_group_of_its_own_gets_the_schemata_and_the_pid_and_goes_at_delete() {
    let d = fake(true, true, false);
    let r = Resctrl::at(d.path());
    let mut cfg = rdt(None, Some("L3:0=ff0;1=f"), Some("MB:0=50;1=70"));
    cfg.schemata = vec!["L3:1=3".into()];
    r.apply("c1", &cfg, 4242).unwrap();
    let g = d.path().join("c1");
    assert_eq!(
        read(g.join("schemata")),
        "L3:0=ff0;1=f\nMB:0=50;1=70\nL3:1=3\n"
    );
    assert_eq!(read(g.join("tasks")), "4242");
    // An exec'd process joins it.
    r.join_pid("c1", &cfg, 4343, false).unwrap();
    assert_eq!(read(g.join("tasks")), "4343");
    r.remove("c1", &cfg).unwrap();
    assert!(!g.exists());
    // Twice is fine (delete --force after a delete that failed later).
    r.remove("c1", &cfg).unwrap();
}

#[test]
fn clos_id_without_schemas_needs_the_group_and_leaves_it() {
    let d = fake(true, false, false);
    let r = Resctrl::at(d.path());
    let cfg = rdt(Some("shared"), None, None);
    let e = r.apply("c1", &cfg, 7).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(
            "clos dir not accessible (must be pre-created when l3CacheSchema and memBwSchema are empty): "
        ) && text.contains("/shared"),
        "{text}"
    );
    assert!(!d.path().join("shared").exists(), "created a group");
    fs::create_dir(d.path().join("shared")).unwrap();
    r.apply("c1", &cfg, 7).unwrap();
    assert_eq!(read(d.path().join("shared/tasks")), "7");
    r.remove("c1", &cfg).unwrap();
    assert!(d.path().join("shared").is_dir(), "removed a shared group");
}

#[test]
fn clos_id_with_schemas_must_match_an_existing_group() {
    let d = fake(true, true, false);
    let r = Resctrl::at(d.path());
    let g = d.path().join("gold");
    fs::create_dir(&g).unwrap();
    // As the kernel prints it: padded, no leading zeros.
    fs::write(
        g.join("schemata"),
        "    L3:0=0ff0;1=f\n    MB:0= 50;1=100\n",
    )
    .unwrap();
    let ok = rdt(Some("gold"), Some("L3:0=00ff0;1=F"), Some("MB:0=50"));
    r.apply("c1", &ok, 11).unwrap();
    assert_eq!(read(g.join("tasks")), "11");
    // The shared group's schemata were compared, not rewritten.
    assert!(read(g.join("schemata")).starts_with("    L3:0=0ff0"));
    let bad = rdt(Some("gold"), Some("L3:0=f"), None);
    fs::write(g.join("tasks"), "").unwrap();
    let e = r.apply("c2", &bad, 12).unwrap_err().to_string();
    assert!(
        e.contains("does not have the schemata asked for: L3 domain 0 is ff0, not f"),
        "{e}"
    );
    assert_eq!(
        read(g.join("tasks")),
        "",
        "the pid joined a mismatched group"
    );
    // A group named by closID that does not exist yet is made with the schemata.
    let new = rdt(Some("silver"), Some("L3:0=f"), None);
    r.apply("c3", &new, 13).unwrap();
    assert_eq!(read(d.path().join("silver/schemata")), "L3:0=f\n");
}

#[test]
fn features_missing_are_runcs_errors() {
    let d = fake(false, false, false);
    let r = Resctrl::at(d.path());
    let cases = [
        (
            rdt(None, Some("L3:0=f"), None),
            "intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled",
        ),
        (
            rdt(None, None, Some("MB:0=50")),
            "intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled",
        ),
        (
            IntelRdt {
                enable_monitoring: true,
                ..Default::default()
            },
            "intelRdt.enableMonitoring is specified in config, but Intel RDT/monitoring is not enabled",
        ),
    ];
    for (cfg, want) in cases {
        assert_eq!(r.apply("c1", &cfg, 1).unwrap_err().to_string(), want);
        assert!(!d.path().join("c1").exists(), "left a group behind");
    }
}

#[test]
fn invalid_clos_ids_and_schemas_are_refused_before_anything() {
    for id in ["", ".", "..", "a/b", "/x"] {
        let e = rdt(Some(id), None, None).validate().unwrap_err();
        assert_eq!(e.to_string(), format!("invalid intelRdt.ClosID {id:?}"));
    }
    rdt(Some("gold"), Some("L3:0=f"), None).validate().unwrap();
    let e = rdt(None, Some("L3:0=zz"), None).validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        "intelRdt: schemata line \"L3:0=zz\": a bitmask that is not hex"
    );
}

#[test]
fn a_refused_write_carries_last_cmd_status_and_leaves_nothing() {
    let d = fake(true, false, false);
    let r = Resctrl::at(d.path());
    // The kernel refuses a non-contiguous mask (EINVAL) and explains in last_cmd_status; here
    // the write fails because `schemata` is a directory.
    fs::write(
        d.path().join("info/last_cmd_status"),
        "Non-contiguous bitmask\n",
    )
    .unwrap();
    let blocker = d.path().join("blocked");
    fs::create_dir_all(blocker.join("schemata")).unwrap();
    let cfg = rdt(None, Some("L3:0=f0f"), None);
    let e = r.apply("blocked", &cfg, 5).unwrap_err().to_string();
    assert!(
        e.starts_with("intelrdt: write schemata to ")
            && e.ends_with(", last_cmd_status: Non-contiguous bitmask"),
        "{e}"
    );
    // The group existed before: it is not removed, and the pid joined nothing.
    assert!(blocker.is_dir() && !blocker.join("tasks").exists());
}

#[test]
fn monitoring_gets_a_group_of_its_own_and_stats() {
    let d = fake(true, true, true);
    let r = Resctrl::at(d.path());
    let mut cfg = rdt(None, Some("L3:0=f;1=f"), Some("MB:0=40;1=60"));
    cfg.enable_monitoring = true;
    r.apply("c1", &cfg, 99).unwrap();
    let mon = d.path().join("c1/mon_groups/c1");
    assert_eq!(read(mon.join("tasks")), "99");
    assert_eq!(read(d.path().join("c1/tasks")), "99");
    // The kernel's counters, per L3 domain.
    for (dom, total, local, occ) in [("00", 1000, 600, 4096), ("01", 2000, 700, 8192)] {
        let m = mon.join(format!("mon_data/mon_L3_{dom}"));
        fs::create_dir_all(&m).unwrap();
        fs::write(m.join("mbm_total_bytes"), format!("{total}\n")).unwrap();
        fs::write(m.join("mbm_local_bytes"), format!("{local}\n")).unwrap();
        fs::write(m.join("llc_occupancy"), format!("{occ}\n")).unwrap();
    }
    let st = r.stats("c1", &cfg).unwrap();
    assert_eq!(st.l3_cache_schema_root, "L3:0=fffff;1=fffff");
    assert_eq!(st.l3_cache_schema, "L3:0=f;1=f");
    assert_eq!(st.mem_bw_schema, "MB:0=40;1=60");
    assert_eq!(st.l3_cache_info.as_ref().unwrap().cbm_mask, "fffff");
    assert_eq!(st.mem_bw_info.as_ref().unwrap().min_bandwidth, 10);
    let mbm = st.mbm_stats.as_ref().unwrap();
    assert_eq!(
        (mbm[0].mbm_total_bytes, mbm[1].mbm_local_bytes),
        (1000, 700)
    );
    assert_eq!(st.cmt_stats.as_ref().unwrap()[1].llc_occupancy, 8192);
    // runc's JSON names (events --stats).
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["l3_cache_info"]["num_closids"], 16);
    assert_eq!(json["mbm_stats"][0]["mbm_total_bytes"], 1000);
    assert_eq!(json["cmt_stats"][0]["llc_occupancy"], 4096);
    r.remove("c1", &cfg).unwrap();
    assert!(!d.path().join("c1").exists());
}

#[test]
fn the_mount_is_found_in_mountinfo() {
    let mi = "22 1 0:21 / /proc rw - proc proc rw\n\
              40 22 0:40 / /mnt/rdt\\040x rw,relatime - resctrl resctrl rw,mba_MBps\n";
    assert_eq!(mount_point(mi), Some(PathBuf::from("/mnt/rdt x")));
    assert_eq!(mount_point("22 1 0:21 / /proc rw - proc proc rw\n"), None);
}

#[test]
fn this_host_says_why_there_is_no_rdt() {
    // The kernel makes /sys/fs/resctrl only when the CPU and the kernel support RDT.
    match Resctrl::find() {
        Ok(r) => assert!(r.root().is_dir()),
        Err(RdtError::NotSupported) => assert!(!Path::new(DEFAULT_ROOT).exists()),
        Err(RdtError::NotMounted) => assert!(Path::new(DEFAULT_ROOT).is_dir()),
        Err(e) => panic!("unexpected: {e}"),
    }
    let text = RdtError::NotSupported.to_string();
    assert!(
        text.contains("not supported by this CPU or kernel"),
        "{text}"
    );
}

#[test]
fn update_rewrites_the_groups_schemata() {
    let d = fake(true, true, false);
    let r = Resctrl::at(d.path());
    let mut cfg = rdt(None, Some("L3:0=ff"), None);
    r.apply("c1", &cfg, 3).unwrap();
    cfg.mem_bw_schema = Some("MB:0=30".into());
    r.write_schemata("c1", &cfg).unwrap();
    assert_eq!(read(d.path().join("c1/schemata")), "L3:0=ff\nMB:0=30\n");
    // Nothing to write: nothing written.
    r.write_schemata("c1", &IntelRdt::default()).unwrap();
    assert_eq!(read(d.path().join("c1/schemata")), "L3:0=ff\nMB:0=30\n");
}
