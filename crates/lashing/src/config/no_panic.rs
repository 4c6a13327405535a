//! No config.json reaches a panic: property tests that mutate the example spec at every field
//! that lashing converts (numbers at their extremes, wrong types, hostile strings, added hooks,
//! mappings, seccomp rules, ...) and push each result through everything that is computed from
//! a config before a container exists: parsing, `from_oci`, `validate`, `validate_process`, the
//! seccomp compiler, the scheduler / I/O priority / memory policy / personality values, the
//! cgroup resources model, id mapping, and the state file's serde round trip; and the same for
//! the model's own JSON (the copy `state.json` keeps) with leaves replaced. Errors are expected;
//! a panic (incl. an arithmetic overflow: tests build with overflow checks) fails.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::example::example_spec_json;
use super::from_oci::{CreateOpts, parse_spec};
use super::validate::validate_process;
use crate::config::{Config, parse_cpu_list};

/// The JSON kind a field takes (most mutations keep it, so that they get past the parser).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Uint,
    Int,
    Bool,
    Strs,
    Uints,
    Any,
}

/// The fields mutated: every place where config.json gives lashing a number, a name, a path or
/// a list it converts. Missing intermediate objects and array entries are created.
const POINTERS: &[(&str, Kind)] = &[
    ("/ociVersion", Kind::Str),
    ("/hostname", Kind::Str),
    ("/domainname", Kind::Str),
    ("/root/path", Kind::Str),
    ("/root/readonly", Kind::Bool),
    ("/annotations/a", Kind::Str),
    ("/process", Kind::Any),
    ("/process/terminal", Kind::Bool),
    ("/process/consoleSize/height", Kind::Uint),
    ("/process/consoleSize/width", Kind::Uint),
    ("/process/user/uid", Kind::Uint),
    ("/process/user/gid", Kind::Uint),
    ("/process/user/umask", Kind::Uint),
    ("/process/user/additionalGids", Kind::Uints),
    ("/process/user/additionalGids/0", Kind::Uint),
    ("/process/args", Kind::Strs),
    ("/process/args/0", Kind::Str),
    ("/process/env", Kind::Strs),
    ("/process/env/0", Kind::Str),
    ("/process/env/2", Kind::Str),
    ("/process/cwd", Kind::Str),
    ("/process/capabilities/bounding", Kind::Strs),
    ("/process/capabilities/ambient/0", Kind::Str),
    ("/process/capabilities/inheritable", Kind::Strs),
    ("/process/rlimits/0/type", Kind::Str),
    ("/process/rlimits/0/hard", Kind::Uint),
    ("/process/rlimits/0/soft", Kind::Uint),
    ("/process/rlimits/1", Kind::Any),
    ("/process/noNewPrivileges", Kind::Bool),
    ("/process/apparmorProfile", Kind::Str),
    ("/process/selinuxLabel", Kind::Str),
    ("/process/oomScoreAdj", Kind::Int),
    ("/process/scheduler/policy", Kind::Str),
    ("/process/scheduler/nice", Kind::Int),
    ("/process/scheduler/priority", Kind::Int),
    ("/process/scheduler/flags", Kind::Strs),
    ("/process/scheduler/flags/0", Kind::Str),
    ("/process/scheduler/runtime", Kind::Uint),
    ("/process/scheduler/deadline", Kind::Uint),
    ("/process/scheduler/period", Kind::Uint),
    ("/process/ioPriority/class", Kind::Str),
    ("/process/ioPriority/priority", Kind::Int),
    ("/process/execCPUAffinity/initial", Kind::Str),
    ("/process/execCPUAffinity/final", Kind::Str),
    ("/mounts/0/destination", Kind::Str),
    ("/mounts/0/type", Kind::Str),
    ("/mounts/0/source", Kind::Str),
    ("/mounts/0/options", Kind::Strs),
    ("/mounts/1/options/0", Kind::Str),
    ("/mounts/7", Kind::Any),
    ("/mounts/7/options", Kind::Strs),
    ("/mounts/2/uidMappings/0/size", Kind::Uint),
    ("/hooks/prestart/0/path", Kind::Str),
    ("/hooks/prestart/0/timeout", Kind::Int),
    ("/hooks/createRuntime/0/timeout", Kind::Int),
    ("/hooks/poststop/1/timeout", Kind::Int),
    ("/hooks/poststart/0/args", Kind::Strs),
    ("/hooks/startContainer/0/env", Kind::Strs),
    ("/linux/uidMappings/0/containerID", Kind::Uint),
    ("/linux/uidMappings/0/hostID", Kind::Uint),
    ("/linux/uidMappings/0/size", Kind::Uint),
    ("/linux/gidMappings/0/hostID", Kind::Uint),
    ("/linux/gidMappings/0/size", Kind::Uint),
    ("/linux/namespaces/5", Kind::Any),
    ("/linux/namespaces/5/type", Kind::Str),
    ("/linux/namespaces/0/path", Kind::Str),
    ("/linux/namespaces/2/type", Kind::Str),
    ("/linux/devices/0/path", Kind::Str),
    ("/linux/devices/0/type", Kind::Str),
    ("/linux/devices/0/major", Kind::Int),
    ("/linux/devices/0/minor", Kind::Int),
    ("/linux/devices/0/fileMode", Kind::Uint),
    ("/linux/devices/0/uid", Kind::Uint),
    ("/linux/devices/0/gid", Kind::Uint),
    ("/linux/resources/devices/1/access", Kind::Str),
    ("/linux/resources/devices/1/type", Kind::Str),
    ("/linux/resources/devices/1/major", Kind::Int),
    ("/linux/resources/devices/1/minor", Kind::Int),
    ("/linux/resources/devices/1/allow", Kind::Bool),
    ("/linux/resources/memory/limit", Kind::Int),
    ("/linux/resources/memory/swap", Kind::Int),
    ("/linux/resources/memory/reservation", Kind::Int),
    ("/linux/resources/memory/swappiness", Kind::Uint),
    ("/linux/resources/cpu/shares", Kind::Uint),
    ("/linux/resources/cpu/quota", Kind::Int),
    ("/linux/resources/cpu/period", Kind::Uint),
    ("/linux/resources/cpu/cpus", Kind::Str),
    ("/linux/resources/cpu/idle", Kind::Int),
    ("/linux/resources/pids/limit", Kind::Int),
    ("/linux/resources/blockIO/weight", Kind::Uint),
    (
        "/linux/resources/blockIO/throttleReadBpsDevice/0/rate",
        Kind::Uint,
    ),
    ("/linux/resources/hugepageLimits/0/limit", Kind::Uint),
    ("/linux/resources/unified/memory.max", Kind::Str),
    ("/linux/cgroupsPath", Kind::Str),
    ("/linux/rootfsPropagation", Kind::Str),
    ("/linux/maskedPaths/0", Kind::Str),
    ("/linux/maskedPaths/10", Kind::Str),
    ("/linux/readonlyPaths/0", Kind::Str),
    ("/linux/sysctl/net.ipv4.ip_forward", Kind::Str),
    ("/linux/sysctl/kernel.shmmax", Kind::Str),
    ("/linux/timeOffsets/monotonic/secs", Kind::Int),
    ("/linux/timeOffsets/monotonic/nanosecs", Kind::Uint),
    ("/linux/timeOffsets/boottime/secs", Kind::Int),
    ("/linux/seccomp/defaultAction", Kind::Str),
    ("/linux/seccomp/defaultErrnoRet", Kind::Uint),
    ("/linux/seccomp/architectures/0", Kind::Str),
    ("/linux/seccomp/flags/0", Kind::Str),
    ("/linux/seccomp/syscalls/0/names/0", Kind::Str),
    ("/linux/seccomp/syscalls/0/action", Kind::Str),
    ("/linux/seccomp/syscalls/0/errnoRet", Kind::Uint),
    ("/linux/seccomp/syscalls/0/args/0/index", Kind::Uint),
    ("/linux/seccomp/syscalls/0/args/0/value", Kind::Uint),
    ("/linux/seccomp/syscalls/0/args/0/valueTwo", Kind::Uint),
    ("/linux/seccomp/syscalls/0/args/0/op", Kind::Str),
    ("/linux/memoryPolicy/mode", Kind::Str),
    ("/linux/memoryPolicy/nodes", Kind::Str),
    ("/linux/memoryPolicy/flags/0", Kind::Str),
    ("/linux/personality/domain", Kind::Str),
    ("/linux/personality/flags", Kind::Strs),
    ("/linux/mountLabel", Kind::Str),
];

/// Names and texts that mean something somewhere in a config.
const WORDS: &[&str] = &[
    "",
    "..",
    "/",
    "/..",
    "a/../../b",
    "=x",
    "=",
    "HOME=",
    "A=\u{0}",
    "x\u{0}y",
    "rwm",
    "rwa",
    "mrw",
    "x",
    "a",
    "c",
    "b",
    "u",
    "p",
    "bind",
    "tmpfs",
    "proc",
    "rbind",
    "ro",
    "rro",
    "ridmap",
    "idmap",
    "mode=0",
    "size=99999999999999999999999k",
    "pid",
    "user",
    "time",
    "network",
    "cgroup",
    "mount",
    "/proc/1/ns/net",
    "/proc/self/ns/net",
    "RLIMIT_NOFILE",
    "RLIMIT_BOGUS",
    "CAP_SYS_ADMIN",
    "CAP_BOGUS",
    "SCHED_FIFO",
    "SCHED_DEADLINE",
    "SCHED_FLAG_RESET_ON_FORK",
    "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
    "IOPRIO_CLASS_RT",
    "IOPRIO_CLASS_IDLE",
    "0-3,7",
    "65535",
    "65536",
    "3-1",
    "0-4294967295",
    "18446744073709551616",
    "MPOL_BIND",
    "MPOL_F_STATIC_NODES",
    "0-1023",
    "0-1024",
    "LINUX32",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_GT",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_AARCH64",
    "SECCOMP_FILTER_FLAG_LOG",
    "read",
    "clone",
    "socketcall",
    "rprivate",
    "shared",
    "/lashing-test/x",
    "slice:prefix:name",
    "max",
];

/// Numbers at the edges of the types config.json fields have.
const EDGES: &[i128] = &[
    0,
    -1,
    1,
    2,
    5,
    6,
    7,
    8,
    63,
    64,
    1000,
    1001,
    65535,
    65536,
    65537,
    999_999_999,
    1_000_000_000,
    9_223_372_036,
    9_223_372_037,
    i32::MAX as i128,
    i32::MIN as i128,
    i32::MAX as i128 + 1,
    u32::MAX as i128,
    u32::MAX as i128 + 1,
    i64::MAX as i128,
    i64::MIN as i128,
    u64::MAX as i128,
];

fn number(n: i128) -> Value {
    match i64::try_from(n) {
        Ok(i) => Value::from(i),
        Err(_) => Value::from(u64::try_from(n).unwrap_or(u64::MAX)),
    }
}

fn uint() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => prop::sample::select(EDGES)
            .prop_filter("unsigned", |n| *n >= 0)
            .prop_map(number),
        2 => (0u32..70000).prop_map(Value::from),
        1 => any::<u32>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
    ]
}

fn int() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => prop::sample::select(EDGES).prop_map(number),
        2 => (-2000i32..70000).prop_map(Value::from),
        1 => any::<i32>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
    ]
}

fn string() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(Value::from),
        1 => "[ -~]{0,12}".prop_map(Value::from),
    ]
}

/// Any JSON value: the wrong type in most places.
fn any_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        int(),
        uint(),
        any::<f64>().prop_map(|f| json!(f)),
        string(),
    ];
    scalar.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(WORDS), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A value for a field of `kind`: of that kind mostly, anything sometimes.
fn value(kind: Kind) -> BoxedStrategy<Value> {
    let typed = match kind {
        Kind::Str => string().boxed(),
        Kind::Uint => uint().boxed(),
        Kind::Int => int().boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Kind::Strs => prop::collection::vec(string(), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        Kind::Uints => prop::collection::vec(uint(), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        Kind::Any => any_value().boxed(),
    };
    prop_oneof![12 => typed, 1 => any_value()].boxed()
}

/// A mutation: a field and its new value.
fn edit() -> impl Strategy<Value = (&'static str, Value)> {
    prop::sample::select(POINTERS).prop_flat_map(|(ptr, kind)| (Just(ptr), value(kind)))
}

/// Sets `ptr` in `v` to `x`, creating what is missing on the way (objects, or array entries
/// when the next step is a number).
fn set(v: &mut Value, ptr: &str, x: Value) {
    let steps: Vec<&str> = ptr.split('/').skip(1).collect();
    let mut cur = v;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let next_is_index = steps.get(i + 1).is_some_and(|s| s.parse::<usize>().is_ok());
        let fresh = || {
            if next_is_index {
                Value::Array(vec![])
            } else {
                Value::Object(Default::default())
            }
        };
        if let Ok(idx) = step.parse::<usize>() {
            if !cur.is_array() {
                *cur = Value::Array(vec![]);
            }
            let a = cur.as_array_mut().expect("array");
            let idx = idx.min(a.len());
            if idx == a.len() {
                a.push(fresh());
            }
            if last {
                a[idx] = x;
                return;
            }
            cur = &mut a[idx];
        } else {
            if !cur.is_object() {
                *cur = Value::Object(Default::default());
            }
            let o = cur.as_object_mut().expect("object");
            if last {
                o.insert(step.to_string(), x);
                return;
            }
            cur = o.entry(step.to_string()).or_insert_with(fresh);
        }
    }
}

/// The example spec, sometimes with a user namespace, hooks and a seccomp profile to mutate.
fn base() -> impl Strategy<Value = Value> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(userns, hooks, seccomp)| {
        let mut v = example_spec_json();
        if userns {
            set(&mut v, "/linux/namespaces/5", json!({"type": "user"}));
            v["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            v["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        }
        if hooks {
            v["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": 5}],
                "poststop": [{"path": "/bin/true"}, {"path": "/bin/false", "timeout": 1}]});
        }
        if seccomp {
            v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]});
        }
        v
    })
}

/// The JSON pointers of every leaf (scalar or empty container) of `v`.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                leaves(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// A new value of the same JSON kind as `old` (a number for a number, ...), picked by `seed`.
fn same_kind(old: &Value, seed: u64, word: &str) -> Value {
    match old {
        Value::Number(_) => number(EDGES[(seed % EDGES.len() as u64) as usize]),
        Value::String(_) => Value::from(word),
        Value::Bool(b) => Value::from(!b),
        Value::Array(_) => json!([word]),
        Value::Object(_) | Value::Null => Value::from(word),
    }
}

/// What is computed from a config that is already in the model's form (a state file's copy,
/// or a library user's): validation and the derived values; `Err`s are fine.
fn exercise_model(c: &Config) {
    let _ = c.validate();
    let _ = validate_process(&c.process);
    if let Some(s) = &c.seccomp {
        let _ = crate::security::seccomp::compile(s);
    }
    if let Some(s) = &c.process.scheduler {
        let _ = s.attr();
    }
    if let Some(p) = &c.process.io_priority {
        let _ = p.value();
    }
    if let Some(m) = &c.memory_policy {
        let _ = m.value();
    }
    if let Some(p) = &c.personality {
        let _ = p.value();
    }
    if let Some(a) = &c.process.exec_cpu_affinity {
        for list in [&a.initial, &a.final_].into_iter().flatten() {
            let _ = parse_cpu_list(list);
        }
    }
    for id in [0, 1, 65535, 65536, u32::MAX] {
        let _ = (c.host_uid(id), c.host_gid(id));
    }
}

/// Everything lashing computes from a config before it starts a container; `Err`s are fine.
fn exercise(dir: &Path, text: &str) {
    let path = dir.join("config.json");
    let Ok(spec) = parse_spec(&path, text) else {
        return;
    };
    let opts = CreateOpts {
        bundle: dir.to_path_buf(),
        ..CreateOpts::default()
    };
    let Ok(c) = Config::from_oci(&spec, &opts) else {
        return;
    };
    exercise_model(&c);
    // The state file embeds the config: it must come back as it went.
    let saved = serde_json::to_string(&c).expect("a config serialises");
    let back: Config = serde_json::from_str(&saved).expect("and parses back");
    assert_eq!(back, c);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Up to six mutations of the example spec, each at a field lashing converts.
    #[test]
    fn no_config_json_panics(
        spec in base(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let mut spec = spec;
        for (ptr, x) in edits {
            set(&mut spec, ptr, x);
        }
        exercise(dir.path(), &spec.to_string());
    }

    /// The model's own JSON form (what `state.json` embeds), with leaves replaced by values of
    /// the same kind: no panic in deserialising, validating or deriving from it.
    #[test]
    fn no_model_json_panics(
        spec in base(),
        edits in prop::collection::vec((any::<u64>(), any::<u64>(), prop::sample::select(WORDS)), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let s: oci_spec::runtime::Spec = serde_json::from_value(spec).unwrap();
        let opts = CreateOpts { bundle: dir.path().to_path_buf(), ..CreateOpts::default() };
        let mut v = serde_json::to_value(Config::from_oci(&s, &opts).unwrap()).unwrap();
        for (pick, seed, word) in edits {
            let mut all = Vec::new();
            leaves(&v, String::new(), &mut all);
            let ptr = &all[(pick % all.len() as u64) as usize];
            let old = v.pointer(ptr).cloned().unwrap_or(Value::Null);
            if let Some(slot) = v.pointer_mut(ptr) {
                *slot = same_kind(&old, seed, word);
            }
        }
        if let Ok(c) = serde_json::from_value::<Config>(v) {
            exercise_model(&c);
        }
    }

    /// Truncated and byte-flipped config.json texts.
    #[test]
    fn no_damaged_config_text_panics(cut in 0usize..4000, flips in prop::collection::vec((0usize..4000, any::<u8>()), 0..4)) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = serde_json::to_vec_pretty(&example_spec_json()).unwrap();
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        exercise(dir.path(), &String::from_utf8_lossy(&bytes));
    }
}

/// The values that used to panic, as plain regression cases.
#[test]
fn known_overflows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    let mut v = example_spec_json();
    v["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": i64::MAX}]});
    exercise(dir.path(), &v.to_string());
    // A uid map whose host range wraps, with a device owner in it (mapped before validation).
    let mut v = example_spec_json();
    set(&mut v, "/linux/namespaces/5", json!({"type": "user"}));
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": u32::MAX, "size": 10}]);
    v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 10}]);
    v["linux"]["devices"] =
        json!([{"path": "/dev/x", "type": "c", "major": 1, "minor": 1, "uid": 5}]);
    exercise(dir.path(), &v.to_string());
}
