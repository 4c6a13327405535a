//! Container configuration: the validated model ([`Config`]), its conversion from an OCI bundle
//! (`from_oci`, the only place where `oci-spec` types appear) and its validation.

mod error;
mod model;

pub use error::ConfigError;
pub use model::*;
