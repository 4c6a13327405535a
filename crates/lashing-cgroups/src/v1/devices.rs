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
    for rule in current.transition(&target) {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        node.write(file, &rule.cgroup_string())?;
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
