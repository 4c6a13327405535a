//! The serialized form of [`Config`] is a compatibility promise: `state.json` keeps a copy of it,
//! so a configuration written by an earlier lashing must still load. The fixtures in `testdata/`
//! were written by the model before it was typed (resources as OCI JSON, mount flags as raw
//! `u64`, device types as `char` with `-1` for "any"); they must keep deserializing to what
//! `from_oci` makes of the same specs today, and the model must keep writing the same JSON.

use std::path::Path;

use serde_json::{Value, json};

use super::example::example_spec_json;
use super::{Config, CreateOpts};

const EXAMPLE: &str = include_str!("testdata/config-example.json");
const FULL: &str = include_str!("testdata/config-full.json");

/// The example spec with resources, devices, mounts with flags, a root propagation, seccomp and
/// hooks: every part of the model whose representation was changed by typing it.
fn full_spec() -> Value {
    let mut v = example_spec_json();
    v["mounts"].as_array_mut().unwrap().extend([
        json!({"destination": "/data", "type": "bind", "source": "/srv/data",
               "options": ["rbind", "ro", "nosuid", "nodev", "rprivate", "rro", "rnoatime"]}),
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
               "options": ["noexec", "rw", "suid", "mode=1777", "tmpcopyup", "shared"]}),
        json!({"destination": "/idm", "type": "bind", "source": "/srv/idm",
               "options": ["bind", "ridmap"],
               "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
               "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}),
    ]);
    let linux = v["linux"].as_object_mut().unwrap();
    linux.insert("rootfsPropagation".into(), json!("rshared"));
    linux.insert(
        "devices".into(),
        json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438},
            {"path": "/dev/loop9", "type": "b", "major": 7, "minor": 9, "uid": 0, "gid": 0},
            {"path": "/dev/fifo0", "type": "p", "major": 0, "minor": 0},
            {"path": "/dev/ubuf", "type": "u", "major": 1, "minor": 3, "fileMode": 384},
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3}
        ]),
    );
    linux.insert(
        "resources".into(),
        json!({
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
                {"allow": true, "type": "b", "major": 7, "access": "mwr"},
                {"allow": false, "type": "c", "minor": 3, "access": "w"}
            ],
            "memory": {"limit": 268435456, "reservation": 134217728, "swap": 536870912,
                       "swappiness": 10, "disableOOMKiller": false},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 100},
            "blockIO": {"weight": 500,
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "unified": {"memory.high": "200000000"}
        }),
    );
    linux.insert(
        "seccomp".into(),
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
               "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}),
    );
    v["hooks"] = json!({"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]});
    v
}

fn convert(v: Value) -> Config {
    let spec = super::from_oci::parse_spec(Path::new("/bundle/config.json"), &v.to_string())
        .expect("test spec must parse");
    let opts = CreateOpts {
        bundle: Path::new("/bundle").to_path_buf(),
        ..CreateOpts::default()
    };
    Config::from_oci(&spec, &opts).expect("test spec must convert")
}

/// Writes the fixtures anew (`LASHING_BLESS_CONFIG_FIXTURES=1`): only when the serialized form is
/// meant to change, which breaks loading the state of running containers.
fn bless(name: &str, c: &Config) {
    if std::env::var_os("LASHING_BLESS_CONFIG_FIXTURES").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/config/testdata")
            .join(name);
        std::fs::write(&path, serde_json::to_string_pretty(c).unwrap() + "\n").unwrap();
    }
}

fn check(name: &str, fixture: &str, spec: Value) {
    let now = convert(spec);
    bless(name, &now);
    let old: Config = serde_json::from_str(fixture)
        .unwrap_or_else(|e| panic!("{name}: a Config written before must load: {e}"));
    assert_eq!(old, now, "{name}: the old JSON loads as something else");
    let written: Value = serde_json::to_value(&now).unwrap();
    let fixture: Value = serde_json::from_str(fixture).unwrap();
    assert_eq!(written, fixture, "{name}: the serialized shape changed");
}

#[test]
fn example_config_json_is_stable() {
    check("config-example.json", EXAMPLE, example_spec_json());
}

#[test]
fn full_config_json_is_stable() {
    check("config-full.json", FULL, full_spec());
}
