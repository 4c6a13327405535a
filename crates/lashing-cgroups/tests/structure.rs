//! The crate's structure (issue 10): no module cycle in `src` (a file's own tests aside) and no
//! source file over 600 lines (here, and in the library, the CLI and the shim), checked with `scripts/module-graph`; and that script's own
//! behaviour on small made-up crates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn module_graph(args: &[&str]) -> Output {
    let script = workspace().join("scripts/module-graph");
    Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn no_module_cycle_and_no_long_file() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let out = module_graph(&["--check", "--max-lines", "600", src.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "module-graph --check --max-lines 600 failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("no cycle"), "{text}");
    // The graph is really there (not an empty listing that passes by accident).
    assert!(text.contains("  manager "), "{text}");
}

/// The same rule for the library, the CLI and the containerd shim.
#[test]
fn the_other_crates_have_no_module_cycle_and_no_long_file() {
    for (krate, module) in [
        ("lashing", "  container "),
        ("lashing-cli", "  commands::run "),
        ("containerd-shim-lashing-v2", "  service "),
    ] {
        let src = workspace().join("crates").join(krate).join("src");
        let out = module_graph(&["--check", "--max-lines", "600", src.to_str().unwrap()]);
        let text = stdout(&out);
        assert!(
            out.status.success(),
            "{krate}: module-graph --check --max-lines 600 failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("no cycle"), "{krate}: {text}");
        assert!(text.contains(module), "{krate}: {text}");
    }
}

/// A made-up crate in a temp dir: `files` are (path under src, content).
fn fake_crate(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

#[test]
fn module_graph_finds_cycles_through_use_trees_inline_paths_and_parents() {
    let dir = fake_crate(&[
        ("lib.rs", "mod a;\nmod b;\nmod p;\n"),
        ("a.rs", "use crate::{b::{self, X as Y}};\npub struct A;\n"),
        ("b.rs", "pub struct X;\nfn f() { let _ = crate::a::A; }\n"),
        (
            "p/mod.rs",
            "mod c;\npub(crate) fn helper() {}\npub use c::C;\n",
        ),
        ("p/c.rs", "pub struct C;\nfn g() { super::helper() }\n"),
    ]);
    let out = module_graph(&["--check", dir.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("CYCLE: a <-> b"), "{text}");
    assert!(text.contains("CYCLE: p <-> p::c"), "{text}");
}

#[test]
fn module_graph_ignores_tests_comments_and_follows_reexports() {
    let dir = fake_crate(&[
        (
            "lib.rs",
            "mod a;\nmod b;\npub use a::A;\npub use b::B;\n\
             // crate::b in a comment\n",
        ),
        // `crate::A` is a re-export of a: an import of a, not of the root (which imports b).
        (
            "a.rs",
            "pub struct A;\n#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}\n",
        ),
        (
            "b.rs",
            "use crate::A;\npub struct B(A);\nconst S: &str = \"crate::b\";\n",
        ),
    ]);
    let out = module_graph(&["--check", "--max-lines", "5", dir.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no cycle"), "{text}");
    assert!(text.contains("+4 tests"), "{text}");
    let b_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("b "))
        .unwrap();
    assert!(b_line.ends_with("-> a"), "{b_line}");
    // Over the limit: marked and refused.
    let out = module_graph(&["--max-lines", "1", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("TOO LONG"));
}
