//! Helpers shared by the fuzz targets: a private scratch directory per process, input splitting,
//! and a checker + interpreter of classic BPF with the kernel's rules for seccomp filters.

use std::path::PathBuf;
use std::sync::OnceLock;

pub mod cbpf;

// The instrumented code of a unit-test binary needs libFuzzer's coverage callbacks.
#[cfg(test)]
extern crate libfuzzer_sys;

/// A scratch directory of this fuzzing process (under `$TMPDIR`), created once. Removed by
/// `scripts/fuzz` after the run (libFuzzer ends the process with `exit`, so no destructor runs).
pub fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("lashing-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create the fuzz scratch directory");
        d
    })
}

/// Splits `data` at `sep` (at most `max` pieces; the last keeps the rest).
pub fn split(data: &[u8], sep: u8, max: usize) -> Vec<&[u8]> {
    data.splitn(max, |b| *b == sep).collect()
}
