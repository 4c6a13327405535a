//! Configuration errors.

/// An invalid or unreadable configuration: each variant names the field and the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field has an invalid value.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (`linux.namespaces[2].type`, `mounts[0].destination`, ...).
        field: String,
        /// What is wrong, naming the value.
        reason: String,
    },
}
