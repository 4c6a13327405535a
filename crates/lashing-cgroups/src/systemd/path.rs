//! runc's systemd `cgroupsPath` rules: `slice:prefix:name`, the default slice, and the
//! expansion of a slice name into its cgroup path (`a-b.slice` is `/a.slice/a-b.slice`).

use crate::error::{Error, Result};

/// The unit a container's cgroup is, as computed from its `cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitSpec {
    /// The parent slice (`Slice=` of a scope, `Wants=` of a slice), e.g. `system.slice`.
    pub slice: String,
    /// The unit's name: `<prefix>-<name>.scope`, or `<name>` when it ends in `.slice`.
    pub unit: String,
    /// The name part (the container id when `cgroupsPath` is empty).
    pub name: String,
    /// The unit's cgroup relative to the manager's root cgroup, e.g.
    /// `/system.slice/lashing-ctr.scope` (for a user manager, below its own cgroup).
    pub cgroup: String,
}

impl UnitSpec {
    /// Whether the unit is a slice (created without processes) rather than a scope.
    pub fn is_slice(&self) -> bool {
        self.unit.ends_with(".slice")
    }
}

/// The slice used when `cgroupsPath` names none: `system.slice` for the system manager,
/// `user.slice` for a user's.
pub fn default_slice(user: bool) -> &'static str {
    if user { "user.slice" } else { "system.slice" }
}

/// Expands a slice name into its cgroup path, as systemd lays slices out: `-.slice` is `/`,
/// `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`. Names not ending in `.slice`, with a
/// `/`, or with an empty component (`a--b.slice`, `-a.slice`) are refused (runc's
/// `ExpandSlice`).
pub fn expand_slice(slice: &str) -> Result<String> {
    let invalid = |reason| Error::InvalidPath {
        path: slice.to_owned(),
        reason,
    };
    let Some(name) = slice.strip_suffix(".slice") else {
        return Err(invalid("a slice name must end in .slice"));
    };
    if slice.contains('/') {
        return Err(invalid("a slice name cannot contain /"));
    }
    if name == "-" {
        return Ok("/".to_owned());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for component in name.split('-') {
        if component.is_empty() {
            return Err(invalid("a slice name cannot have an empty component"));
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(component);
        path.push_str(".slice");
        prefix.push_str(component);
        prefix.push('-');
    }
    Ok(path)
}

/// Characters systemd accepts in a unit name (besides the type suffix).
fn valid_unit_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b":-_.\\@".contains(&c))
}

/// Parses a `cgroupsPath` for the systemd driver: runc's `slice:prefix:name` (an empty slice
/// is the default one), or an empty path: the default slice, `default_prefix` and the container
/// `id`. `user`: a user manager (default slice `user.slice`). The returned cgroup is below
/// `manager_cgroup`, the manager's own cgroup (`/` for the system manager).
pub fn parse(
    cgroups_path: &str,
    id: &str,
    default_prefix: &str,
    user: bool,
    manager_cgroup: &str,
) -> Result<UnitSpec> {
    let (slice, prefix, name) = if cgroups_path.is_empty() {
        ("", default_prefix, id)
    } else {
        let parts: Vec<&str> = cgroups_path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(Error::InvalidPath {
                path: cgroups_path.to_owned(),
                reason: "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd \
                         cgroups",
            });
        };
        (slice, prefix, name)
    };
    let invalid = |reason| Error::InvalidPath {
        path: cgroups_path.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("the name part of a systemd cgroupsPath is empty"));
    }
    let unit = if name.ends_with(".slice") {
        expand_slice(name)?;
        name.to_owned()
    } else {
        format!("{prefix}-{name}.scope")
    };
    if !valid_unit_chars(&unit) || unit.len() > 255 {
        return Err(invalid(
            "the unit name may only have ASCII letters, digits and :-_.\\@ (255 at most)",
        ));
    }
    let slice = if slice.is_empty() {
        default_slice(user)
    } else {
        slice
    };
    let slice_path = expand_slice(slice)?;
    let mut cgroup = manager_cgroup.trim_end_matches('/').to_owned();
    if slice_path != "/" {
        cgroup.push_str(&slice_path);
    }
    cgroup.push('/');
    cgroup.push_str(&unit);
    Ok(UnitSpec {
        slice: slice.to_owned(),
        unit,
        name: name.to_owned(),
        cgroup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_slice_matches_runc() {
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("test-a-b.slice").unwrap(),
            "/test.slice/test-a.slice/test-a-b.slice"
        );
        assert_eq!(
            expand_slice("machine-kubepods.slice").unwrap(),
            "/machine.slice/machine-kubepods.slice"
        );
        for bad in [
            ".slice",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
            "a.scope",
            "",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_matches_runc() {
        let u = parse("system.slice:docker:abc", "id", "lashing", false, "/").unwrap();
        assert_eq!(u.unit, "docker-abc.scope");
        assert_eq!(u.slice, "system.slice");
        assert_eq!(u.cgroup, "/system.slice/docker-abc.scope");
        let u = parse("", "ctr", "lashing", false, "/").unwrap();
        assert_eq!(u.cgroup, "/system.slice/lashing-ctr.scope");
        let u = parse(
            "",
            "ctr",
            "lashing",
            true,
            "/user.slice/user-1000.slice/user@1000.service",
        )
        .unwrap();
        assert_eq!(
            u.cgroup,
            "/user.slice/user-1000.slice/user@1000.service/user.slice/lashing-ctr.scope"
        );
        let u = parse(":p:n", "id", "lashing", false, "/").unwrap();
        assert_eq!(u.cgroup, "/system.slice/p-n.scope");
        let u = parse("-.slice:p:n", "id", "lashing", false, "/").unwrap();
        assert_eq!(u.cgroup, "/p-n.scope");
        let u = parse("a-b.slice:p:n", "id", "lashing", false, "/").unwrap();
        assert_eq!(u.cgroup, "/a.slice/a-b.slice/p-n.scope");
        // A name ending in .slice is a slice unit, placed below its parent.
        let u = parse("system.slice::pod-x.slice", "id", "lashing", false, "/").unwrap();
        assert_eq!(u.unit, "pod-x.slice");
        assert!(u.is_slice());
        assert_eq!(u.cgroup, "/system.slice/pod-x.slice");
    }

    #[test]
    fn parse_refuses_bad_paths_clearly() {
        let e = parse("/abs/path", "id", "lashing", false, "/").unwrap_err();
        assert!(e.to_string().contains("slice:prefix:name"), "{e}");
        assert!(parse("a:b", "id", "lashing", false, "/").is_err());
        assert!(parse("a:b:c:d", "id", "lashing", false, "/").is_err());
        assert!(parse("bad:p:n", "id", "lashing", false, "/").is_err());
        assert!(parse("system.slice:p:", "id", "lashing", false, "/").is_err());
        assert!(parse("system.slice:p:a/b", "id", "lashing", false, "/").is_err());
        assert!(parse("system.slice:p:a b", "id", "lashing", false, "/").is_err());
        assert!(parse("system.slice::a--b.slice", "id", "lashing", false, "/").is_err());
    }
}
