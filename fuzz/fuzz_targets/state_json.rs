//! `<root>/<id>/state.json` loading (every verb after `create`).
#![no_main]

use lashing_fuzz::scratch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = scratch().join("state");
    let _ = std::fs::create_dir_all(&dir);
    std::fs::write(dir.join("state.json"), data).expect("write state.json");
    if let Ok(st) = lashing::fuzzing::load_state(&dir) {
        let _ = serde_json::to_vec(&st).expect("a loaded state serializes");
    }
});
