//! Container configuration: the validated model ([`Config`]), its conversion from an OCI bundle
//! (`from_oci`, the only place where `oci-spec` types appear) and its validation.

mod builder;
pub mod capabilities;
#[cfg(test)]
mod compat;
mod error;
mod example;
mod from_oci;
mod model;
pub mod mount_opts;
#[cfg(test)]
mod no_panic;
pub mod rlimits;
mod validate;

pub use builder::ConfigBuilder;
pub use capabilities::{ALL_CAPS, cap_from_name, cap_name};
pub use error::ConfigError;
pub use example::{example_spec_json, rootless_example};
pub use from_oci::CreateOpts;
pub use model::*;
pub use mount_opts::{MountOptions, parse_mount_options};
pub use rlimits::{rlimit_from_name, rlimit_name};
pub use validate::{MAX_HOOK_TIMEOUT, NGROUPS_MAX, validate_process};
