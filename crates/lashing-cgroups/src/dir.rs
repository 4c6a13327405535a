//! [`Dir`]: one directory of a container's cgroup, resolved to its mounted hierarchy, and the
//! lookups the v1 and v2 code make among a cgroup's directories.

use crate::fs::Node;
use crate::hierarchy::Hierarchy;

/// A resolved directory of a [`Manager`](crate::Manager): its hierarchy and hardened handle.
pub(crate) struct Dir {
    pub(crate) hierarchy: &'static Hierarchy,
    pub(crate) node: Node,
}

impl Dir {
    /// Whether this directory's hierarchy has controller `c` (v1: mounted with it).
    pub(crate) fn has_controller(&self, c: &str) -> bool {
        self.hierarchy.controllers.iter().any(|x| x == c)
    }
}

/// The v1 directory of controller `c`, if its hierarchy is mounted.
pub(crate) fn v1<'a>(dirs: &'a [Dir], c: &str) -> Option<&'a Node> {
    dirs.iter()
        .find(|d| !d.node.unified() && d.has_controller(c))
        .map(|d| &d.node)
}

/// The v2 directory (unified host, or the hybrid `unified` hierarchy).
pub(crate) fn unified(dirs: &[Dir]) -> Option<&Node> {
    dirs.iter().find(|d| d.node.unified()).map(|d| &d.node)
}
