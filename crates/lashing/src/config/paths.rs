//! Lexical path cleaning shared by the conversion and the validation.

use std::path::{Component, Path, PathBuf};

/// Go's `filepath.Clean` for absolute paths: removes `.`, empty components and resolves `..`
/// lexically (`/..` is `/`). Relative paths keep leading `..` components.
pub(super) fn clean_path(p: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for comp in p.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(comp),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        for (input, want) in [
            ("/a/b/../c", "/a/c"),
            ("/../a", "/a"),
            ("/a/./b//c/", "/a/b/c"),
            ("a/../../b", "../b"),
            ("/", "/"),
            ("", "."),
        ] {
            assert_eq!(clean_path(Path::new(input)), Path::new(want), "{input}");
        }
    }
}
