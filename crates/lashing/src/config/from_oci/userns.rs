//! A joined user namespace (`linux.namespaces` user with a `path`): its id maps, read from a
//! process that lives in it, are checked against the config's and cached in the config (runc's
//! `setupUserNamespace`): the device owners and idmapped mounts are computed with them.

use std::path::Path;

use rustix::fs::OFlags;

use super::super::error::ConfigError;
use crate::config::{Config, IdMap, NamespaceType};
use crate::procfs::{ProcFs, ProcPolicy};

/// runc's error when the config's maps are not those of the namespace it joins.
pub(crate) const MISMATCH: &str = "user namespaces enabled, but both namespace path and \
     non-matching mapping specified -- you may only provide one";

/// Parses an id map file (`container host size` per line).
pub(crate) fn parse_id_map(text: &str) -> Option<Vec<IdMap>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut w = l.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some(IdMap {
                container_id: w.next()??,
                host_id: w.next()??,
                size: w.next()??,
            })
        })
        .collect()
}

/// runc's `IsSameMapping`: the same ranges, in any order.
pub(crate) fn same_mapping(a: &[IdMap], b: &[IdMap]) -> bool {
    let key = |m: &IdMap| (m.container_id, m.host_id, m.size);
    let mut a: Vec<_> = a.iter().map(key).collect();
    let mut b: Vec<_> = b.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// The inode of a namespace link text (`user:[4026531837]`).
fn ns_inode(link: &str) -> Option<u64> {
    link.strip_prefix("user:[")?.strip_suffix(']')?.parse().ok()
}

/// The `(uid_map, gid_map)` of the user namespace at `path`, read from the first process found
/// in it (the pid of a `/proc/<pid>/ns/user` path first, then every visible process); `None`
/// when no visible process lives in it (a namespace pinned by a bind mount alone).
fn namespace_maps(path: &Path) -> Option<(Vec<IdMap>, Vec<IdMap>)> {
    let ino = rustix::fs::stat(path).ok()?.st_ino;
    let proc = ProcFs::open_with(ProcPolicy::PrivateOrHost).ok()?;
    let hinted = path
        .strip_prefix("/proc")
        .ok()
        .and_then(|p| p.iter().next())
        .and_then(|p| p.to_str()?.parse::<u32>().ok());
    let dir = proc
        .open_file(".", OFlags::RDONLY | OFlags::DIRECTORY)
        .ok()?;
    let pids = rustix::fs::Dir::read_from(&dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str().ok()?.parse::<u32>().ok());
    hinted.into_iter().chain(pids).find_map(|pid| {
        let link = proc
            .open_file(&format!("{pid}/ns/user"), OFlags::PATH | OFlags::NOFOLLOW)
            .ok()?;
        let text = rustix::fs::readlinkat(&link, "", Vec::new()).ok()?;
        if ns_inode(text.to_str().ok()?)? != ino {
            return None;
        }
        let uid = parse_id_map(&proc.read(&format!("{pid}/uid_map")).ok()?)?;
        let gid = parse_id_map(&proc.read(&format!("{pid}/gid_map")).ok()?)?;
        Some((uid, gid))
    })
}

/// runc's rule for a joined user namespace: maps given in the config must be the namespace's
/// (a warning when they are: only one should be given), and the namespace's maps are cached
/// in the config. When no process of the namespace is visible, the config is left as it is.
pub(super) fn cache_joined_maps(c: &mut Config) -> Result<(), ConfigError> {
    let Some(path) = c
        .namespace(NamespaceType::User)
        .and_then(|n| n.path.clone())
    else {
        return Ok(());
    };
    let Some((uid, gid)) = namespace_maps(&path) else {
        tracing::debug!(
            "no process found in the user namespace {}: its id maps are not checked",
            path.display()
        );
        return Ok(());
    };
    if !c.uid_mappings.is_empty() || !c.gid_mappings.is_empty() {
        if !same_mapping(&uid, &c.uid_mappings) || !same_mapping(&gid, &c.gid_mappings) {
            return Err(ConfigError::invalid("linux.uidMappings", MISMATCH));
        }
        tracing::warn!(
            "config.json has both a userns path to join and a matching userns mapping \
             specified -- you may only provide one"
        );
    }
    c.uid_mappings = uid;
    c.gid_mappings = gid;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, s: u32) -> IdMap {
        IdMap {
            container_id: c,
            host_id: h,
            size: s,
        }
    }

    #[test]
    fn maps_parse_and_compare_in_any_order() {
        let a = parse_id_map("         0     100000      65536\n     65536 1 1\n").unwrap();
        assert_eq!(a, vec![m(0, 100000, 65536), m(65536, 1, 1)]);
        assert!(same_mapping(&a, &[m(65536, 1, 1), m(0, 100000, 65536)]));
        assert!(!same_mapping(&a, &[m(0, 100000, 65536)]));
        assert_eq!(parse_id_map("0 1\n"), None);
        assert_eq!(ns_inode("user:[4026531837]"), Some(4026531837));
        assert_eq!(ns_inode("net:[1]"), None);
    }

    #[test]
    fn the_initial_namespace_is_found_with_its_full_map() {
        let (uid, gid) = namespace_maps(Path::new("/proc/self/ns/user")).expect("our own userns");
        let own = ProcFs::open_with(ProcPolicy::PrivateOrHost)
            .and_then(|p| p.read("self/uid_map"))
            .unwrap();
        assert_eq!(uid, parse_id_map(&own).unwrap());
        assert!(!gid.is_empty());
    }
}
