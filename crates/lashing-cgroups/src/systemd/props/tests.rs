use super::*;

fn res(json: &str) -> Resources {
    serde_json::from_str(json).unwrap()
}

fn find<'a>(p: &'a [Property], name: &str) -> Vec<&'a Value> {
    p.iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v)
        .collect()
}

const PROC_DEVICES: &str =
    "Character devices:\n  1 mem\n  4 tty\n136 pts\n\nBlock devices:\n  8 sd\n259 blkext\n";

#[test]
fn unit_properties_match_runc_apply() {
    let spec = path::parse("system.slice:lashing:c1", "c1", "lashing", false, "/").unwrap();
    let p = unit_properties(&spec, "c1", Some(42), false);
    let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Description",
            "Slice",
            "Delegate",
            "PIDs",
            "MemoryAccounting",
            "CPUAccounting",
            "IOAccounting",
            "TasksAccounting",
            "DefaultDependencies"
        ]
    );
    assert_eq!(find(&p, "Slice")[0], &Value::Str("system.slice".into()));
    assert_eq!(
        find(&p, "PIDs")[0],
        &Value::Array("u".into(), vec![Value::U32(42)])
    );
    assert_eq!(find(&p, "DefaultDependencies")[0], &Value::Bool(false));
    let legacy = unit_properties(&spec, "c1", Some(42), true);
    assert_eq!(find(&legacy, "BlockIOAccounting").len(), 1);
    // A slice unit: Wants= its parent, no Delegate, no PIDs.
    let slice = path::parse("system.slice::pod.slice", "x", "lashing", false, "/").unwrap();
    let p = unit_properties(&slice, "pod.slice", None, false);
    assert!(find(&p, "Slice").is_empty() && find(&p, "Delegate").is_empty());
    assert_eq!(
        find(&p, "Wants")[0],
        &Value::Array("s".into(), vec![Value::Str("system.slice".into())])
    );
}

#[test]
fn cpu_quota_matches_runc() {
    let mut p = Vec::new();
    cpu_quota(50_000, 100_000, 252, &mut p);
    assert_eq!(
        p,
        [
            prop("CPUQuotaPeriodUSec", Value::U64(100_000)),
            prop("CPUQuotaPerSecUSec", Value::U64(500_000))
        ]
    );
    // Rounded up to whole percents; the default period assumed.
    let mut p = Vec::new();
    cpu_quota(1_234, 0, 252, &mut p);
    assert_eq!(p, [prop("CPUQuotaPerSecUSec", Value::U64(20_000))]);
    // Unlimited quota with a period: infinity; old systemd: no period property.
    let mut p = Vec::new();
    cpu_quota(-1, 50_000, 241, &mut p);
    assert_eq!(p, [prop("CPUQuotaPerSecUSec", Value::U64(u64::MAX))]);
    let mut p = Vec::new();
    cpu_quota(0, 0, 252, &mut p);
    assert!(p.is_empty());
}

#[test]
fn range_to_bits_matches_runc() {
    assert_eq!(range_to_bits("0").unwrap(), [1]);
    assert_eq!(range_to_bits("0-3").unwrap(), [0x0f]);
    assert_eq!(range_to_bits("1,3-4,9").unwrap(), [0b0001_1010, 0b10]);
    assert_eq!(range_to_bits(" 8 ").unwrap(), [0, 1]);
    for bad in ["", "a", "3-1", "1,,2", "-1", "99999999"] {
        assert!(range_to_bits(bad).is_err(), "{bad}");
    }
}

#[test]
fn v2_properties_match_runc() {
    let r = res(
        r#"{"memory": {"limit": 268435456, "reservation": 1048576, "swap": 536870912},
                    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
                    "pids": {"limit": 64}, "blockIO": {"weight": 500},
                    "unified": {"memory.high": "max", "pids.max": "32"}}"#,
    );
    let p = v2_properties(&r, None, "", 252).unwrap();
    assert_eq!(find(&p, "MemoryMax"), [&Value::U64(268_435_456)]);
    assert_eq!(find(&p, "MemoryLow"), [&Value::U64(1_048_576)]);
    assert_eq!(find(&p, "MemorySwapMax"), [&Value::U64(268_435_456)]);
    assert_eq!(find(&p, "CPUWeight"), [&Value::U64(100)]);
    assert_eq!(find(&p, "CPUQuotaPerSecUSec"), [&Value::U64(500_000)]);
    assert_eq!(find(&p, "TasksMax"), [&Value::U64(64), &Value::U64(32)]);
    assert_eq!(
        find(&p, "AllowedCPUs"),
        [&Value::Array("y".into(), vec![Value::Byte(3)])]
    );
    assert_eq!(
        find(&p, "AllowedMemoryNodes"),
        [&Value::Array("y".into(), vec![Value::Byte(1)])]
    );
    assert_eq!(find(&p, "IOWeight"), [&Value::U64(4_950)]);
    assert_eq!(find(&p, "MemoryHigh"), [&Value::U64(u64::MAX)]);
    // Unlimited memory is systemd's infinity; old systemd gets no cpuset properties.
    let r = res(r#"{"memory": {"limit": -1}, "cpu": {"cpus": "0"}, "pids": {"limit": -1}}"#);
    let p = v2_properties(&r, None, "", 243).unwrap();
    assert_eq!(find(&p, "MemoryMax"), [&Value::U64(u64::MAX)]);
    assert_eq!(find(&p, "TasksMax"), [&Value::U64(u64::MAX)]);
    assert!(find(&p, "AllowedCPUs").is_empty());
    // cpu.idle=1 on systemd >= 252 is CPUWeight=0, and wins over the shares.
    let r = res(r#"{"cpu": {"shares": 2048, "idle": 1}}"#);
    assert_eq!(
        find(&v2_properties(&r, None, "", 252).unwrap(), "CPUWeight"),
        [&Value::U64(0)]
    );
    // Swap without memory is refused, as by the fs manager.
    assert!(v2_properties(&res(r#"{"memory": {"swap": 5}}"#), None, "", 252).is_err());
    assert!(v2_properties(&res(r#"{"unified": {"a/b": "1"}}"#), None, "", 252).is_err());
    assert!(v2_properties(&res(r#"{"unified": {"memory.max": "x"}}"#), None, "", 252).is_err());
}

#[test]
fn v1_properties_match_runc() {
    let r = res(
        r#"{"memory": {"limit": 268435456}, "cpu": {"shares": 512, "quota": 20000},
                    "blockIO": {"weight": 300}, "pids": {"limit": 10}}"#,
    );
    let p = v1_properties(&r, None, "", 252).unwrap();
    assert_eq!(find(&p, "MemoryLimit"), [&Value::U64(268_435_456)]);
    assert_eq!(find(&p, "CPUShares"), [&Value::U64(512)]);
    assert_eq!(find(&p, "CPUQuotaPerSecUSec"), [&Value::U64(200_000)]);
    assert_eq!(find(&p, "BlockIOWeight"), [&Value::U64(300)]);
    assert_eq!(find(&p, "TasksMax"), [&Value::U64(10)]);
    assert!(find(&p, "MemoryMax").is_empty() && find(&p, "CPUWeight").is_empty());
}

fn dev(
    allow: bool,
    typ: Option<&str>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> DeviceCgroup {
    DeviceCgroup {
        allow,
        typ: typ.map(str::to_owned),
        major,
        minor,
        access: Some(access.into()),
    }
}

fn allow_list(p: &[Property]) -> Vec<(String, String)> {
    let Some(Value::Array(_, items)) = find(p, "DeviceAllow").last().copied() else {
        panic!("no DeviceAllow in {p:?}")
    };
    items
        .iter()
        .map(|s| match s {
            Value::Struct(f) => (
                f[0].as_str().unwrap().to_owned(),
                f[1].as_str().unwrap().to_owned(),
            ),
            _ => panic!("{s:?}"),
        })
        .collect()
}

#[test]
fn device_properties_match_runc() {
    let rules = [
        dev(false, None, None, None, "rwm"),
        dev(true, Some("c"), Some(1), Some(3), "rwm"),
        dev(true, Some("c"), Some(136), None, "rw"),
        dev(true, Some("c"), None, None, "m"),
        dev(true, Some("b"), None, Some(5), "r"),
        dev(true, Some("c"), Some(250), None, "r"),
    ];
    let p = device_properties(&rules, PROC_DEVICES).unwrap();
    assert_eq!(find(&p, "DevicePolicy"), [&Value::Str("strict".into())]);
    // First an empty DeviceAllow (clears the unit's list), then the rules.
    assert_eq!(
        find(&p, "DeviceAllow")[0],
        &Value::Array("(ss)".into(), vec![])
    );
    let mut got = allow_list(&p);
    got.sort();
    assert_eq!(
        got,
        [
            ("/dev/char/1:3".to_owned(), "rwm".to_owned()),
            ("char-*".into(), "m".into()),
            ("char-pts".into(), "rw".into()),
        ]
    );
    // Allow-all: DevicePolicy=auto and no list.
    let p = device_properties(&[dev(true, None, None, None, "rwm")], "").unwrap();
    assert_eq!(find(&p, "DevicePolicy"), [&Value::Str("auto".into())]);
    assert!(allow_list(&p).is_empty());
    // A deny list other than allow-all: the temporary deny-all.
    let p = device_properties(
        &[
            dev(true, None, None, None, "rwm"),
            dev(false, Some("c"), Some(1), Some(3), "rwm"),
        ],
        "",
    )
    .unwrap();
    assert_eq!(find(&p, "DevicePolicy"), [&Value::Str("strict".into())]);
    assert!(allow_list(&p).is_empty());
}

#[test]
fn device_group_reads_proc_devices() {
    assert_eq!(
        device_group(PROC_DEVICES, DevType::Char, 136).as_deref(),
        Some("char-pts")
    );
    assert_eq!(
        device_group(PROC_DEVICES, DevType::Block, 8).as_deref(),
        Some("block-sd")
    );
    assert_eq!(device_group(PROC_DEVICES, DevType::Block, 136), None);
    assert_eq!(device_group(PROC_DEVICES, DevType::Char, 8), None);
}

#[test]
fn oom_policy_from_unified() {
    assert_eq!(oom_policy(&res(r#"{}"#)).unwrap(), None);
    assert_eq!(
        oom_policy(&res(r#"{"unified": {"memory.oom.group": "1"}}"#)).unwrap(),
        Some(prop("OOMPolicy", Value::Str("kill".into())))
    );
    assert!(oom_policy(&res(r#"{"unified": {"memory.oom.group": "x"}}"#)).is_err());
}
