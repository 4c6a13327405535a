//! Finding (and building once, if missing or stale) the static `lashing-testinit` binary.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The environment variable that overrides [`testinit_path`].
pub const TESTINIT_ENV: &str = "LASHING_TESTINIT";

/// The target triple the static helper is built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The target dir of the static build, kept apart from the main one so that the different
/// RUSTFLAGS do not invalidate the main build cache.
pub fn static_target_dir() -> PathBuf {
    workspace_root().join("target/static")
}

/// The path of the static `lashing-testinit` binary, built on first use in this process when it
/// is missing or older than its sources. A file lock keeps parallel test processes from building
/// it at the same time. `$LASHING_TESTINIT` overrides the path (and disables the build).
///
/// Panics with a clear message when it cannot be found or built.
pub fn testinit_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(find_or_build).clone()
}

fn find_or_build() -> PathBuf {
    if let Some(p) = std::env::var_os(TESTINIT_ENV) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "${TESTINIT_ENV} is {}, which is not a file",
            p.display()
        );
        return p;
    }
    let bin = static_target_dir()
        .join(TARGET)
        .join("release/lashing-testinit");
    let sources = workspace_root().join("crates/lashing-testinit");
    if is_fresh(&bin, &sources) {
        return bin;
    }
    let dir = static_target_dir();
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let lock_path = dir.join(".testinit-build.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
    // Another process may have built it while we waited for the lock.
    if !is_fresh(&bin, &sources) {
        build(&dir);
    }
    drop(lock);
    assert!(
        bin.is_file(),
        "building lashing-testinit did not produce {}",
        bin.display()
    );
    bin
}

/// The command that builds the static helper into `target_dir`.
pub fn build_command(target_dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "lashing-testinit",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    cmd
}

fn build(target_dir: &Path) {
    let mut cmd = build_command(target_dir);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// Whether `bin` exists and is newer than every file under `sources` (when they exist).
fn is_fresh(bin: &Path, sources: &Path) -> bool {
    let Ok(built) = fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    newest_mtime(sources).is_none_or(|src| src <= built)
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let md = fs::symlink_metadata(path).ok()?;
    let mut newest = md.modified().ok();
    if md.is_dir() {
        for entry in fs::read_dir(path).ok()?.flatten() {
            if let Some(t) = newest_mtime(&entry.path()) {
                newest = Some(newest.map_or(t, |n| n.max(t)));
            }
        }
    }
    newest
}

/// Whether an ELF64 image has a PT_INTERP program header (i.e. is dynamically linked).
pub fn has_interp(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    if elf.get(..4) != Some(b"\x7fELF") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        elf.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_follows_mtimes() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("a.rs"), "x").unwrap();
        let bin = d.path().join("bin");
        assert!(!is_fresh(&bin, &src), "a missing binary is never fresh");
        fs::write(&bin, "b").unwrap();
        let t0 = SystemTime::now() - std::time::Duration::from_secs(100);
        fs::File::options()
            .write(true)
            .open(src.join("a.rs"))
            .unwrap()
            .set_modified(t0)
            .unwrap();
        fs::File::open(&src).unwrap().set_modified(t0).unwrap();
        assert!(is_fresh(&bin, &src));
        fs::File::options()
            .write(true)
            .open(src.join("a.rs"))
            .unwrap()
            .set_modified(SystemTime::now() + std::time::Duration::from_secs(100))
            .unwrap();
        assert!(
            !is_fresh(&bin, &src),
            "a newer source makes the binary stale"
        );
    }

    #[test]
    fn interp_detection() {
        let sh = fs::read("/bin/sh").unwrap();
        assert!(has_interp(&sh), "/bin/sh is dynamic on Debian");
        assert!(!has_interp(b"not an elf"));
    }

    #[test]
    fn testinit_is_static_and_runs() {
        let p = testinit_path();
        let out = Command::new(&p).args(["echo", "a", "b"]).output().unwrap();
        assert_eq!(out.stdout, b"a b\n");
        let elf = fs::read(&p).unwrap();
        assert!(
            !has_interp(&elf),
            "{} is not static: it has PT_INTERP",
            p.display()
        );
    }
}
