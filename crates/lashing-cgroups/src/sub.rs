//! Sub-cgroups of a container's cgroup for one more process (runc's `exec --cgroup`,
//! libcontainer's `Process.SubCgroupPaths`).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::hierarchy::{Hierarchy, mounted_hierarchies};
use crate::manager::Manager;

impl Manager {
    /// The cgroup of a process that runs in sub-cgroups of this one: `subs` maps a controller
    /// (`"memory"`, `"cpu"`, `"name=systemd"`, ...) to a path relative to the container's cgroup
    /// in that controller's hierarchy, or has the single key `""`: one path for every hierarchy
    /// (the only form on cgroup v2). Hierarchies not named keep the container's cgroup.
    ///
    /// A path may not leave the container's cgroup (`..` past it, also into a sibling whose
    /// name starts with the container's); a controller that no hierarchy of the container
    /// carries is refused. Nothing is created: the sub-cgroups must exist when the process is
    /// placed in them.
    pub fn sub_cgroup(&self, subs: &BTreeMap<String, String>) -> Result<Manager> {
        if subs.is_empty() {
            return Ok(self.clone());
        }
        let paths = sub_paths(self.paths(), mounted_hierarchies()?, subs)?;
        Ok(Manager::from_paths(paths))
    }
}

/// [`Manager::sub_cgroup`] on explicit paths and hierarchies (pure).
pub(crate) fn sub_paths(
    paths: &BTreeMap<String, PathBuf>,
    hierarchies: &[Hierarchy],
    subs: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = paths.clone();
    if let Some(sub) = subs.get("") {
        for (key, base) in paths {
            out.insert(key.clone(), join_below(base, sub)?);
        }
        return Ok(out);
    }
    // Which sub-path each hierarchy got, to refuse two different ones for co-mounted controllers.
    let mut chosen: BTreeMap<&str, &str> = BTreeMap::new();
    for (ctrl, sub) in subs {
        let key = hierarchies
            .iter()
            .filter(|h| !h.unified && paths.contains_key(&h.key))
            .find(|h| h.controllers.iter().any(|c| c == ctrl))
            .map(|h| h.key.as_str())
            .ok_or_else(|| Error::SubCgroup {
                sub: sub.clone(),
                reason: format!("unknown controller {ctrl} in SubCgroupPaths"),
            })?;
        if let Some(prev) = chosen.insert(key, sub)
            && prev != sub
        {
            return Err(Error::SubCgroup {
                sub: sub.clone(),
                reason: format!(
                    "controllers of hierarchy {key} are given different sub-cgroups ({prev} and {sub})"
                ),
            });
        }
        out.insert(key.to_owned(), join_below(&paths[key], sub)?);
    }
    Ok(out)
}

/// `base` joined with `sub` and cleaned as Go's `path.Join` (`.` dropped, `..` removes the
/// previous component): it must be `base` or below it, component by component.
fn join_below(base: &Path, sub: &str) -> Result<PathBuf> {
    let not_sub = || Error::SubCgroup {
        sub: sub.to_owned(),
        reason: format!("{sub} is not a sub cgroup path"),
    };
    if sub.contains('\0') {
        return Err(not_sub());
    }
    let mut parts: Vec<&std::ffi::OsStr> = base
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let depth = parts.len();
    for c in sub.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(std::ffi::OsStr::new(c)),
        }
    }
    if parts.len() < depth {
        return Err(not_sub());
    }
    let joined: PathBuf = std::iter::once(std::ffi::OsStr::new("/"))
        .chain(parts)
        .collect();
    if !joined.starts_with(base) {
        return Err(not_sub());
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(key: &str, ctrls: &[&str], unified: bool) -> Hierarchy {
        Hierarchy {
            key: key.into(),
            mount_point: PathBuf::from(format!("/sys/fs/cgroup/{key}")),
            root: "/".into(),
            controllers: ctrls.iter().map(|s| s.to_string()).collect(),
            unified,
        }
    }

    fn hybrid() -> (Vec<Hierarchy>, BTreeMap<String, PathBuf>) {
        let hs = vec![
            h("memory", &["memory"], false),
            h("cpu,cpuacct", &["cpu", "cpuacct"], false),
            h("systemd", &["name=systemd"], false),
            h("unified", &[], true),
        ];
        let paths = [
            ("memory", "/sys/fs/cgroup/memory/p/c1"),
            ("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/p/c1"),
            ("systemd", "/sys/fs/cgroup/systemd/p/c1"),
            ("", "/sys/fs/cgroup/unified/p/c1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), PathBuf::from(v)))
        .collect();
        (hs, paths)
    }

    fn subs(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn one_path_for_every_hierarchy() {
        let (hs, paths) = hybrid();
        let out = sub_paths(&paths, &hs, &subs(&[("", "a/b")])).unwrap();
        for (k, v) in &out {
            assert_eq!(*v, paths[k].join("a/b"), "{k}");
        }
    }

    #[test]
    fn per_controller_paths() {
        let (hs, paths) = hybrid();
        let out = sub_paths(
            &paths,
            &hs,
            &subs(&[("memory", "m"), ("cpuacct", "/c"), ("name=systemd", "")]),
        )
        .unwrap();
        assert_eq!(out["memory"], PathBuf::from("/sys/fs/cgroup/memory/p/c1/m"));
        assert_eq!(
            out["cpu,cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/p/c1/c")
        );
        assert_eq!(out["systemd"], paths["systemd"]);
        assert_eq!(out[""], paths[""], "not named: the container's");
    }

    #[test]
    fn runc_messages() {
        let (hs, paths) = hybrid();
        let err = |s: &[(&str, &str)]| sub_paths(&paths, &hs, &subs(s)).unwrap_err().to_string();
        assert_eq!(err(&[("memory", "../x")]), "../x is not a sub cgroup path");
        assert_eq!(err(&[("x", "y")]), "unknown controller x in SubCgroupPaths");
        assert_eq!(
            err(&[("systemd", "y")]),
            "unknown controller systemd in SubCgroupPaths"
        );
        // A sibling sharing the name prefix (runc < 1.5 let it through).
        assert_eq!(err(&[("", "../c1x")]), "../c1x is not a sub cgroup path");
        assert_eq!(err(&[("", "a/../..")]), "a/../.. is not a sub cgroup path");
        assert!(err(&[("cpu", "a"), ("cpuacct", "b")]).contains("different sub-cgroups"));
    }

    #[test]
    fn cleaned_as_path_join() {
        let (hs, paths) = hybrid();
        let out = sub_paths(&paths, &hs, &subs(&[("memory", "./a/../b//c/.")])).unwrap();
        assert_eq!(
            out["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/p/c1/b/c")
        );
        // Through the parent and back, as Go's path.Join (runc accepts it).
        let out = sub_paths(&paths, &hs, &subs(&[("", "../c1/a")])).unwrap();
        assert_eq!(out["memory"], PathBuf::from("/sys/fs/cgroup/memory/p/c1/a"));
        let out = sub_paths(&paths, &hs, &subs(&[("cpu", "x"), ("cpuacct", "x")])).unwrap();
        assert_eq!(
            out["cpu,cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/p/c1/x")
        );
    }
}
