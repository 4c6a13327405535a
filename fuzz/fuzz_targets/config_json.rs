//! config.json through the parser, `Config::from_oci` and validation (what `create` does before
//! anything is created), then the seccomp compiler on the profile it gives.
#![no_main]

use lashing_fuzz::{cbpf, scratch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bundle = scratch().join("bundle");
    // The rootfs must exist; what is inside is not read before `create` mounts it.
    let _ = std::fs::create_dir_all(bundle.join("rootfs"));
    std::fs::write(bundle.join("config.json"), data).expect("write config.json");
    if let Ok(config) = lashing::fuzzing::config_from_bundle(&bundle) {
        // The state file embeds the config: it must round-trip.
        let json = serde_json::to_vec(&config).expect("a config serializes");
        let back: lashing::Config = serde_json::from_slice(&json).expect("and parses back");
        assert_eq!(serde_json::to_vec(&back).expect("serializes"), json);
        if let Some(profile) = &config.seccomp
            && let Ok((filter, _)) = lashing::fuzzing::seccomp_compile(profile)
        {
            let prog = cbpf::decode(&filter).expect("whole instructions");
            if let Err(e) = cbpf::check(&prog) {
                panic!("the kernel would refuse the compiled filter: {e}");
            }
        }
    }
});
