//! Writes the structured seeds of fuzz/corpus that are easier to make than to write by hand. Built
//! like the targets (it links the instrumented crates), so it runs under libFuzzer's main:
//! `SEEDS="examples/bundle crates/lashing/tests/fixtures/seccomp/docker-default.json fuzz/corpus"
//! target/fuzz/x86_64-unknown-linux-gnu/release/make_seeds -runs=0` from the repository root.
#![no_main]

use std::path::PathBuf;

libfuzzer_sys::fuzz_target!(init: make(), |_data: &[u8]| {});

fn make() {
    let args: Vec<PathBuf> = std::env::var("SEEDS")
        .expect("SEEDS=\"BUNDLE SECCOMP_PROFILE OUT_DIR\"")
        .split_whitespace()
        .map(PathBuf::from)
        .collect();
    let [bundle, seccomp, out] = &args[..] else {
        panic!("SEEDS=\"BUNDLE SECCOMP_PROFILE OUT_DIR\"");
    };
    // A bundle of our own with the example's config.json and an empty rootfs.
    let dir = std::env::temp_dir().join(format!("make-seeds-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    std::fs::copy(bundle.join("config.json"), dir.join("config.json")).unwrap();
    let config = lashing::fuzzing::config_from_bundle(&dir).expect("the example bundle");
    std::fs::copy(
        bundle.join("config.json"),
        out.join("config_json/example.json"),
    )
    .unwrap();

    // A config.json with the seccomp profile, hooks and a few mounts of every kind.
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(seccomp).unwrap()).unwrap();
    spec["linux"]["seccomp"] = profile;
    spec["hooks"] = serde_json::json!({
        "prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}],
        "poststop": [{"path": "/bin/true", "env": ["A=b"]}]
    });
    spec["linux"]["resources"] = serde_json::json!({
        "memory": {"limit": 1_000_000_000i64, "swap": -1},
        "cpu": {"shares": 512, "quota": 100000, "period": 100000, "cpus": "0-1"},
        "pids": {"limit": 100},
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    });
    spec["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(serde_json::json!({"type": "user"}));
    spec["linux"]["uidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["gidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let full = serde_json::to_vec_pretty(&spec).unwrap();
    std::fs::write(out.join("config_json/full.json"), &full).unwrap();

    // The same profile in the model's form (what the compiler takes).
    std::fs::write(dir.join("config.json"), &full).unwrap();
    let with = lashing::fuzzing::config_from_bundle(&dir).expect("the full seed is valid");
    let model = with.seccomp.as_ref().expect("a profile");
    std::fs::write(
        out.join("seccomp/docker.json"),
        serde_json::to_vec(model).unwrap(),
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    // A state.json as `create` writes it.
    let state = lashing::fuzzing::state_json(
        "seed",
        config.clone(),
        4242,
        123_456,
        [
            ("".to_string(), PathBuf::from("/sys/fs/cgroup/unified/seed")),
            (
                "memory".to_string(),
                PathBuf::from("/sys/fs/cgroup/memory/seed"),
            ),
        ]
        .into(),
    );
    std::fs::write(
        out.join("state_json/state.json"),
        &state,
    )
    .unwrap();

    // Init messages: a payload (first byte: no fds) and the small ones.
    let payload = serde_json::json!({"Payload": {
        "kind": "Standard", "id": "seed", "config": config, "process": config.process,
        "join": [], "join_fds": [], "unshare": 0, "fork": false, "time_offsets": [],
        "fds": {"stdio": [true, true, true], "fifo": true, "console": false, "preserved": 0,
                "preserved_gaps": [], "namespaces": 0},
        "cgroup_v1": [], "cgroup_v2": null, "seccomp": null, "hook_state": null,
        "clear_onlcr": false, "log_level": "Info"}});
    let mut p = vec![3u8];
    p.extend(serde_json::to_vec(&payload).unwrap());
    std::fs::write(out.join("init_message/payload"), p).unwrap();
    for (name, m) in [
        ("run", "\"Run\""),
        ("pid", "{\"Pid\":42}"),
        ("maps", "\"MapsDone\""),
        ("log", "{\"Log\":{\"level\":\"Warn\",\"message\":\"x\"}}"),
        (
            "error",
            "{\"Error\":{\"step\":\"exec\",\"path\":\"/x\",\"errno\":2,\"message\":\"m\"}}",
        ),
    ] {
        let mut v = vec![0u8];
        v.extend(m.as_bytes());
        std::fs::write(out.join(format!("init_message/{name}")), v).unwrap();
    }
}
