//! Which directory of a cgroup holds its freezer ([`pick`]), its state read, and
//! [`FreezerReader`]: the state of many cgroups read in a row (`list`), each parent directory
//! resolved and opened once.

use std::collections::HashMap;
use std::path::Path;

use crate::dir::Dir;
use crate::error::{Error, Result};
use crate::freezer::FreezerState;
use crate::fs::{Node, check_name};
use crate::hierarchy::{Hierarchy, hierarchy_of, mounted_hierarchies};

/// Whether a hierarchy can hold a freezer: v2, or v1 mounted with the `freezer` controller.
pub(crate) fn has_freezer(h: &Hierarchy) -> bool {
    h.unified || h.controllers.iter().any(|c| c == "freezer")
}

/// Whether a path's key likely names a hierarchy with a freezer (a key is its hierarchy's mount
/// directory's name, which names its controllers on every usual host): those paths are resolved
/// first, the others only when none of them is.
pub(crate) fn likely_key(key: &str) -> bool {
    key.is_empty() || key.split(',').any(|c| c == "freezer")
}

/// The directory whose freezer is used, among a cgroup's directories of hierarchies with a
/// freezer: the v1 freezer hierarchy's, else the v2 one (not its root).
pub(crate) fn pick(mut dirs: Vec<Dir>) -> Option<Dir> {
    let pos = dirs
        .iter()
        .position(|d| !d.node.unified() && d.has_controller("freezer"))
        .or_else(|| {
            dirs.iter()
                .position(|d| d.node.unified() && !d.node.is_root())
        });
    pos.map(|i| dirs.swap_remove(i))
}

/// Reads the state of the chosen freezer directory (`None`: none, undefined).
pub(crate) fn read(dir: Option<&Node>) -> Result<FreezerState> {
    match dir {
        Some(d) if d.unified() => crate::v2::freezer::state(d),
        Some(d) => crate::v1::freezer::state(d),
        None => Ok(FreezerState::Undefined),
    }
}

/// At most this many parent directories are kept open (a process's soft limit of open files is
/// often 1,024).
const MAX_OPEN_PARENTS: usize = 256;

/// What a [`FreezerReader`] knows of a parent directory.
enum Parent {
    /// Seen once: a parent opened for one child would cost an open more, not one less.
    Seen,
    /// Resolved and opened: its children are opened relative to it.
    Open(&'static Hierarchy, Node),
    /// Its children are resolved by their whole path (it could not be opened, or a hierarchy is
    /// mounted right under it, or too many are open).
    Whole,
}

/// The freezer state of many cgroups in a row, each as [`crate::Manager::freezer_state`] reads
/// it, for a caller such as `list` that asks it of every container: a parent directory shared by
/// several cgroups is resolved to its hierarchy and opened once (`openat2` beneath its
/// hierarchy's root, as every cgroup file), and each cgroup's `freezer.state` (v1) or
/// `cgroup.freeze` (v2) is opened relative to it, with the same rules.
#[derive(Default)]
pub struct FreezerReader {
    parents: HashMap<String, Parent>,
    open: usize,
}

impl FreezerReader {
    /// A reader with nothing resolved yet.
    pub fn new() -> FreezerReader {
        FreezerReader::default()
    }

    /// The freezer state of the cgroup whose directories are `paths` (each a hierarchy key, as
    /// [`crate::Manager::paths`] holds them, and an absolute directory): what
    /// `Manager::from_paths(paths).freezer_state()` answers.
    pub fn state<K: AsRef<str>, P: AsRef<str>>(
        &mut self,
        paths: &[(K, P)],
    ) -> Result<FreezerState> {
        let hierarchies = mounted_hierarchies()?;
        let mut dirs = self.dirs(hierarchies, paths, true)?;
        if dirs.is_empty() {
            dirs = self.dirs(hierarchies, paths, false)?;
        }
        read(pick(dirs).as_ref().map(|d| &d.node))
    }

    /// The directories of `paths` (only those of likely keys if `likely`) in hierarchies with a
    /// freezer; an error for a path in no hierarchy, as the manager's.
    fn dirs<K: AsRef<str>, P: AsRef<str>>(
        &mut self,
        hierarchies: &'static [Hierarchy],
        paths: &[(K, P)],
        likely: bool,
    ) -> Result<Vec<Dir>> {
        let mut dirs = Vec::new();
        for (key, path) in paths {
            if likely && !likely_key(key.as_ref()) {
                continue;
            }
            let path = path.as_ref();
            let (hierarchy, node) = self.resolve(hierarchies, path)?;
            if has_freezer(hierarchy) {
                let node = match node {
                    Some(node) => node,
                    None => Node::new(&hierarchy.mount_point, Path::new(path))?,
                };
                dirs.push(Dir { hierarchy, node });
            }
        }
        Ok(dirs)
    }

    /// The hierarchy of the directory `path`, and its node when its parent is open (else the
    /// caller makes it from the whole path, if it needs it, as the manager does). A parent is
    /// opened at its second child.
    fn resolve(
        &mut self,
        hierarchies: &'static [Hierarchy],
        path: &str,
    ) -> Result<(&'static Hierarchy, Option<Node>)> {
        if let Some((parent, name)) = path.rsplit_once('/')
            && !parent.is_empty()
            && check_name(name).is_ok()
        {
            match self.parents.get_mut(parent) {
                None => {
                    self.parents.insert(parent.to_owned(), Parent::Seen);
                }
                Some(slot) => {
                    if matches!(slot, Parent::Seen) {
                        *slot = if self.open < MAX_OPEN_PARENTS {
                            open_parent(hierarchies, parent)
                        } else {
                            Parent::Whole
                        };
                        if matches!(slot, Parent::Open(..)) {
                            self.open += 1;
                        }
                    }
                    if let Parent::Open(hierarchy, dir) = slot {
                        return Ok((hierarchy, Some(dir.child(name)?)));
                    }
                }
            }
        }
        let p = Path::new(path);
        let hierarchy = hierarchy_of(hierarchies, p)
            .ok_or_else(|| Error::NotInHierarchy { path: p.to_owned() })?;
        Ok((hierarchy, None))
    }
}

/// The parent directory `parent` resolved and opened, if its children can be resolved through
/// it: each child `parent/NAME` is then in the parent's hierarchy (as the longest mount point
/// that contains it), unless a hierarchy is mounted right under the parent.
fn open_parent(hierarchies: &'static [Hierarchy], parent: &str) -> Parent {
    let q = Path::new(parent);
    if hierarchies
        .iter()
        .any(|h| h.mount_point.parent() == Some(q))
    {
        return Parent::Whole;
    }
    let Some(hierarchy) = hierarchy_of(hierarchies, q) else {
        return Parent::Whole;
    };
    match Node::new(&hierarchy.mount_point, q).map(|n| n.as_root()) {
        Ok(Ok(node)) => Parent::Open(hierarchy, node),
        _ => Parent::Whole,
    }
}
