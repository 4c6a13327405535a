//! The v1 `devices` controller (runc's `fs/devices.go`): `devices.allow` / `devices.deny`.

use crate::devices::Emulator;
use crate::error::{Error, Result};
use crate::fs::Node;
use crate::resources::DeviceCgroup;

/// Applies OCI device rules to a v1 devices cgroup as runc does: the rules are applied in order
/// to a deny-all [`Emulator`], the cgroup's current state is read from `devices.list`, only the
/// minimal transition is written (so that a running container never sees a moment of deny-all
/// when nothing changes), and `devices.list` is read back to check the result.
pub(crate) fn set(node: &Node, rules: &[DeviceCgroup]) -> Result<()> {
    let target = Emulator::from_oci(rules)?;
    let current = Emulator::from_list(&node.read("devices.list")?)?;
    // Runs of rules for the same file go through one open file (one rule per write): the
    // usual transition is one deny-all and a dozen allows, 3 opens instead of 13.
    let transition = current.transition(&target);
    for run in transition.chunk_by(|a, b| a.allow == b.allow) {
        let file = if run[0].allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let lines: Vec<String> = run.iter().map(|r| r.cgroup_string()).collect();
        node.write_each(file, lines.iter().map(String::as_str))?;
    }
    let after = Emulator::from_list(&node.read("devices.list")?)?;
    let ok = if target.is_blacklist() {
        after.is_blacklist()
    } else {
        after == target
    };
    if !ok {
        return Err(Error::InvalidResource {
            resource: "devices".to_owned(),
            value: node.read("devices.list").unwrap_or_default(),
            reason: format!(
                "the devices cgroup {} does not match the rules after writing them",
                node.path().display()
            ),
        });
    }
    Ok(())
}
