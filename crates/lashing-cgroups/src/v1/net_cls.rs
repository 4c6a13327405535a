//! The v1 `net_cls` controller (runc's `fs/net_cls.go`): the class id of the cgroup's packets.

use crate::error::Result;
use crate::fs::Node;

/// Writes `net_cls.classid`.
pub(crate) fn set(n: &Node, class_id: u32) -> Result<()> {
    n.write("net_cls.classid", &class_id.to_string())
}
