//! [`SystemdUnit`]: what `state.json` records of a container whose cgroup is a systemd unit.

use serde::{Deserialize, Serialize};

/// The systemd unit that is a container's cgroup (the systemd cgroup driver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    /// The unit's name (`lashing-<id>.scope`).
    pub unit: String,
    /// Whether it belongs to the user's manager rather than the system's.
    #[serde(default)]
    pub user: bool,
}

impl SystemdUnit {
    /// What a (maybe damaged) state file says after `"systemd":`.
    pub(super) fn scan(text: &str) -> Option<SystemdUnit> {
        let at = text.find("\"systemd\":{")? + "\"systemd\":".len();
        let body = &text[at..];
        serde_json::from_str(&body[..=body.find('}')?]).ok()
    }
}
