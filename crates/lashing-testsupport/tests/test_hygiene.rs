//! Rules every test of the workspace keeps, checked by scanning the Rust sources:
//!
//! - no test asserts a wall-clock duration or a rate (issue 8.19): a loaded CI machine must not
//!   fail a test (timing belongs in `scripts/bench`). Flagged: an `assert` on a measured time
//!   (`elapsed()`, `Instant::now()`, a name bound to an `elapsed()`), unless it bounds a wait (a
//!   `WAIT`, `limit` or `deadline`: poll until done, give up after a generous time), and test
//!   names that promise speed;
//! - no test passes silently without running (8.20): a "skipped" message must come with a CI
//!   check (`lashing_testsupport::missing` or `in_ci`: in CI it fails), and a root check must
//!   not return early;
//! - no test asserts nothing when a step fails (issue 10.12): a `let Some(..)/Ok(..) = step else
//!   { return }` reports the skip (`missing`, there or in the called helper), and an
//!   `if let Ok(..)/Some(..) = step { assert… }` has an `else` (the failure is asserted on too).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The argument text of every `assert…!(…)` in `src`, with its line number.
fn asserts(src: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut rest = src;
    let mut offset = 0;
    while let Some(i) = rest.find("assert") {
        let start = offset + i;
        let after = &src[start..];
        let Some(open) = after.find("!(") else {
            break;
        };
        // Only `assert!`, `assert_eq!`, ... : the bang follows the name directly.
        let name = &after[..open];
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let mut depth = 0;
            // Without a closing parenthesis (a parse this scan gets wrong), the rest of the file.
            let mut end = after.len();
            // Parentheses inside string literals do not count.
            let (mut in_str, mut escaped) = (false, false);
            for (j, c) in after[open + 1..].char_indices() {
                if in_str {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => in_str = false,
                        _ => {}
                    }
                    continue;
                }
                match c {
                    '"' => in_str = true,
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + 1 + j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let line = src[..start].lines().count().max(1);
            found.push((line, after[open + 2..end].to_string()));
        }
        offset = start + "assert".len();
        rest = &src[offset..];
    }
    found
}

/// Names bound to a measured duration in `src` (`let wall = t0.elapsed()…`, `best =
/// best.min(t.elapsed())`), three characters or more.
fn timed_names(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    for l in src.lines() {
        let l = l.trim_start();
        let Some((lhs, rhs)) = l.split_once(" = ") else {
            continue;
        };
        if !rhs.contains("elapsed()") {
            continue;
        }
        let name = lhs
            .trim_start_matches("let ")
            .trim_start_matches("mut ")
            .trim();
        if name.len() >= 3 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.push(name.to_string());
        }
    }
    names
}

/// Whether an assertion's text checks a measured time (or a rate made from one), rather than
/// bounding a wait (a `WAIT`, `limit` or `deadline`).
fn times_something(text: &str, timed: &[String]) -> bool {
    if ["WAIT", "limit", "deadline"]
        .iter()
        .any(|b| text.contains(b))
    {
        return false;
    }
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    text.contains("elapsed()")
        || text.contains("Instant::now()")
        || timed.iter().any(|n| words.contains(&n.as_str()))
}

#[test]
fn no_test_asserts_a_duration_or_a_rate() {
    let root = lashing_testsupport::workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    assert!(files.len() > 20, "found only {} sources", files.len());
    let me = Path::new(file!()).file_name().unwrap();
    let mut bad = Vec::new();
    for f in &files {
        if f.file_name() == Some(me) {
            continue;
        }
        let src = std::fs::read_to_string(f).unwrap();
        let timed = timed_names(&src);
        for (line, text) in asserts(&src) {
            if times_something(&text, &timed) {
                bad.push(format!("{}:{line}: assert!({})", f.display(), text.trim()));
            }
        }
        for (n, l) in src.lines().enumerate() {
            let l = l.trim_start();
            if l.starts_with("fn ") && (l.contains("_fast") || l.contains("fast_")) {
                bad.push(format!("{}:{}: {l}", f.display(), n + 1));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "tests must not assert wall-clock time or rates (use scripts/bench):\n{}",
        bad.join("\n")
    );
}

/// Runs `check` (source, whether it is a test file) over every Rust file of the workspace's
/// crates but this one, and returns its findings as `path:line: text`.
fn scan_crates(check: fn(&str, bool) -> Vec<(usize, String)>) -> Vec<String> {
    let root = lashing_testsupport::workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    let me = Path::new(file!()).file_name().unwrap();
    let mut bad = Vec::new();
    for f in &files {
        if f.file_name() == Some(me) {
            continue;
        }
        let src = std::fs::read_to_string(f).unwrap();
        let test_file = f.components().any(|c| c.as_os_str() == "tests")
            || f.file_name().is_some_and(|n| n == "tests.rs");
        // A module included with `#[path = "..."]` (a harness shared by some test files) is
        // read after the file, so a call into it finds the callee's body; findings are kept for
        // the file's own lines only (the module is scanned on its own too).
        let own = src.lines().count();
        let mut all = src.clone();
        for l in src.lines() {
            let Some(rel) = l
                .trim()
                .strip_prefix("#[path = \"")
                .and_then(|r| r.strip_suffix("\"]"))
            else {
                continue;
            };
            if let Ok(m) = std::fs::read_to_string(f.parent().unwrap().join(rel)) {
                all.push('\n');
                all.push_str(&m);
            }
        }
        bad.extend(
            check(&all, test_file)
                .into_iter()
                .filter(|(n, _)| *n <= own)
                .map(|(n, l)| format!("{}:{n}: {l}", f.display())),
        );
    }
    bad
}

#[test]
fn no_test_skips_silently() {
    let bad = scan_crates(silent_skips);
    assert!(
        bad.is_empty(),
        "a test that cannot run here must fail in CI (lashing_testsupport::missing) or be \
         ignored, and a root-only test must fail without root (require_root):\n{}",
        bad.join("\n")
    );
}

/// Lines of test code in `src` (all of a test file, else what follows `#[cfg(test)]`) that skip
/// a test silently: a "skipped"/"skipping" message without a CI check in the 8 lines before it,
/// or a root check followed by `return` within 3 lines.
fn silent_skips(src: &str, test_file: bool) -> Vec<(usize, String)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut bad = Vec::new();
    let mut in_tests = test_file;
    for (i, l) in lines.iter().enumerate() {
        in_tests |= l.contains("#[cfg(test)]");
        if !in_tests {
            continue;
        }
        let lower = l.to_lowercase();
        let prints = lower.contains("println!(") && lower.contains("skipp");
        let before = lines[i.saturating_sub(8)..i].join("\n");
        let ci_checked = ["in_ci", "ci()", "\"CI\""]
            .iter()
            .any(|c| before.contains(c));
        if prints && !ci_checked {
            bad.push((i + 1, l.trim().to_string()));
        }
        if l.contains("is_root()") && l.contains("if !") {
            let next = lines[i + 1..lines.len().min(i + 4)].join("\n");
            if next.contains("return") {
                bad.push((i + 1, l.trim().to_string()));
            }
        }
    }
    bad
}

#[test]
fn the_scan_sees_silent_skips() {
    let src = r#"fn a() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
}
fn b() {
    assert!(!in_ci(), "missing");
    eprintln!("skipped: {why}");
}
"#;
    let found: Vec<usize> = silent_skips(src, true).iter().map(|(n, _)| *n).collect();
    assert_eq!(found, [2, 3]);
    assert!(silent_skips(src, false).is_empty(), "not test code");
}

/// The scan finds what issue 8.19 removed (a budget, a rate, a name) and passes bounded waits.
#[test]
fn the_scan_sees_timing_assertions() {
    let src = r#"fn rootfs_is_fast_and_removed_on_drop() {
    best = best.min(t.elapsed());
    assert!(best < budget, "took {best:?}");
    let wall = t0.elapsed().as_nanos() as f64;
    assert!(used / wall < 0.3, "used {:.0}%", used / wall * 100.0);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "took"
    );
    assert_eq!(a, b);
    assert!(start.elapsed() < WAIT, "timed out");
    assert!(Instant::now() < deadline, "never emptied");
}
"#;
    let timed = timed_names(src);
    assert_eq!(timed, ["best", "wall"]);
    let found: Vec<bool> = asserts(src)
        .iter()
        .map(|(_, t)| times_something(t, &timed))
        .collect();
    assert_eq!(found, [true, true, true, false, false, false]);
}

/// The index of the `}` that closes the `{` at `open` in `src` (or the end).
fn block_end(src: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in src[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    src.len()
}

/// The byte ranges of test code in `src`: all of a test file, else the bodies of its `#[test]`
/// functions.
fn test_code(src: &str, test_file: bool) -> Vec<(usize, usize)> {
    if test_file {
        return vec![(0, src.len())];
    }
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(i) = src[from..].find("#[test]") {
        let at = from + i;
        let Some(open) = src[at..].find('{').map(|o| at + o) else {
            break;
        };
        let end = block_end(src, open);
        ranges.push((open, end));
        from = end.max(at + 1);
    }
    ranges
}

/// Whether `text` calls `assert…!` itself (not `prop_assert…!`, a property's condition).
fn plain_assert(text: &str) -> bool {
    text.match_indices("assert")
        .any(|(i, _)| !text[..i].ends_with("prop_") && !text[..i].ends_with("debug_"))
}

/// The body of `fn name(` in `src`, if defined there.
fn fn_body<'a>(src: &'a str, name: &str) -> Option<&'a str> {
    let at = src.find(&format!("fn {name}("))?;
    let open = at + src[at..].find('{')?;
    Some(&src[open..block_end(src, open)])
}

/// Steps of test code in `src` whose failure ends or skips a test without a word: `let Some(..)
/// = f(..) else { return }` with no `missing(` in the else block nor in `f` (when `f` is defined
/// in `src`), and `if let Ok(..)/Some(..) = step { assert… }` without an `else` (unless the
/// block returns: a re-executed child's branch).
fn unchecked_steps(src: &str, test_file: bool) -> Vec<(usize, String)> {
    let line_of = |i: usize| src[..i].lines().count().max(1);
    let first_line = |i: usize| src[i..].lines().next().unwrap_or("").trim().to_string();
    let mut bad = Vec::new();
    for (start, end) in test_code(src, test_file) {
        let code = &src[start..end];
        for pat in ["let Some(", "let Ok("] {
            for (i, _) in code.match_indices(pat) {
                let at = start + i;
                let stmt_end = code[i..].find(';').map_or(end, |e| start + i + e);
                let Some(els) = src[at..stmt_end].find(" else {").map(|e| at + e) else {
                    continue;
                };
                if src[at..els].starts_with("let Some(") && src[at..els].contains("if let") {
                    continue;
                }
                let open = els + " else ".len();
                let block = &src[open..block_end(src, open)];
                if !block.contains("return") || block.contains("missing(") {
                    continue;
                }
                // The callee: the last identifier before the first `(` of the initializer.
                let init = &src[at..els];
                let init = init.split_once(" = ").map_or("", |(_, r)| r);
                let callee = init
                    .split('(')
                    .next()
                    .unwrap_or("")
                    .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("");
                if !callee.is_empty()
                    && fn_body(src, callee).is_some_and(|b| b.contains("missing("))
                {
                    continue;
                }
                bad.push((line_of(at), first_line(at)));
            }
        }
        for pat in ["if let Ok(", "if let Some("] {
            for (i, _) in code.match_indices(pat) {
                let at = start + i;
                let Some(open) = src[at..end].find(" {\n").map(|o| at + o + 1) else {
                    continue;
                };
                let close = block_end(src, open);
                let body = &src[open..close];
                let has_else = src[close + 1..].trim_start().starts_with("else");
                if plain_assert(body) && !body.contains("return") && !has_else {
                    bad.push((line_of(at), first_line(at)));
                }
            }
        }
    }
    bad.sort();
    bad
}

#[test]
fn no_test_ignores_a_failed_step() {
    let bad = scan_crates(unchecked_steps);
    assert!(
        bad.is_empty(),
        "a test step that fails must fail the test, or report the skip \
         (lashing_testsupport::missing), never end the test silently:\n{}",
        bad.join("\n")
    );
}

/// The scan finds what issue 10.12 removed (exe.rs's reopen, a helper that returns `None`
/// without a word) and passes reported skips, asserted failures and non-test code.
#[test]
fn the_scan_sees_unchecked_steps() {
    let src = r#"fn sandbox() -> Option<u8> { None }
fn engine() -> Option<u8> {
    lashing_testsupport::missing("no engine");
    None
}
#[test]
fn a() {
    let Some(sb) = sandbox() else {
        return;
    };
    let Some(e) = Engine::engine() else {
        return;
    };
    let Some(t) = tool() else {
        missing("no tool");
        return;
    };
    if let Ok(w) = open(path) {
        assert!(write(&w).is_err());
    }
    if let Ok(w) = open(path) {
        assert!(write(&w).is_err());
    } else {
        assert_eq!(errno(), EPERM);
    }
    if let Some(dir) = child_dir() {
        assert!(dir.exists());
        return;
    }
    if let Some(ra) = rec_attr {
        prop_assert_eq!(ra, 0);
    }
}
fn not_a_test() {
    let Some(v) = parse() else {
        return;
    };
}
"#;
    let found: Vec<usize> = unchecked_steps(src, false)
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(found, [8, 18]);
    let all: Vec<usize> = unchecked_steps(src, true).iter().map(|(n, _)| *n).collect();
    assert_eq!(
        all,
        [8, 18, 35],
        "in a test file, every function is test code"
    );
}
