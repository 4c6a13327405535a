//! The v1 `net_prio` controller (runc's `fs/net_prio.go`): a priority per network interface.

use crate::error::Result;
use crate::fs::Node;
use crate::resources::InterfacePriority;

/// Writes one `net_prio.ifpriomap` line per interface.
pub(crate) fn set(n: &Node, priorities: &[InterfacePriority]) -> Result<()> {
    for p in priorities {
        n.write("net_prio.ifpriomap", &format!("{} {}", p.name, p.priority))?;
    }
    Ok(())
}
