//! The v1 `cpuset` controller (runc's `fs/cpuset.go`): a new cgroup gets its parent's cpus and
//! mems. Setting them and reading them back are the same on v1 and v2 (`common`).

use crate::error::Result;
use crate::fs::Node;

/// Copies `cpuset.cpus` and `cpuset.mems` from the parent into every level of `node` (from the
/// top) where they are empty: a v1 cpuset cgroup without them refuses tasks.
pub(crate) fn fill_from_parent(node: &Node) -> Result<()> {
    let mut chain = Vec::new();
    let mut cur = Some(node.clone());
    while let Some(n) = cur {
        cur = n.parent();
        if !n.is_root() {
            chain.push(n);
        }
    }
    for n in chain.iter().rev() {
        let Some(parent) = n.parent() else { continue };
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = n.read(file)?;
            if own.trim().is_empty() {
                let from = parent.read(file)?;
                if !from.trim().is_empty() {
                    n.write(file, from.trim())?;
                }
            }
        }
    }
    Ok(())
}
