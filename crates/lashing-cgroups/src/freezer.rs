//! [`FreezerState`]: the state of a cgroup's freezer (written and read by `v1::freezer` and
//! `v2::freezer`).

/// The state of a cgroup's freezer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// No freezer, or the cgroup does not exist.
    Undefined,
    /// Frozen (directly, not only through an ancestor).
    Frozen,
    /// Running.
    Thawed,
}
