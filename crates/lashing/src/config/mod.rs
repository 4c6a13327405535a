//! Container configuration: the validated model ([`Config`]), its conversion from an OCI bundle
//! (`from_oci`, the only place where `oci-spec` types appear) and its validation.

mod builder;
mod capabilities;
#[cfg(test)]
mod compat;
mod device;
mod error;
mod example;
mod from_oci;
mod model;
mod mount;
mod mount_opts;
mod namespace;
#[cfg(test)]
mod no_panic;
mod paths;
mod rlimits;
mod validate;

pub use builder::ConfigBuilder;
pub use capabilities::{ALL_CAPS, cap_from_name, cap_name};
pub use device::{Device, DeviceRule, DeviceRuleType, DeviceType};
pub use error::ConfigError;
pub use example::{OCI_VERSION, example_spec_json, rootless_example};
pub use from_oci::CreateOpts;
pub use model::{
    Capabilities, CgroupConfig, Config, CpuAffinity, Hook, HookKind, IoPriority, MemoryPolicy,
    Personality, ProcessConfig, Resources, Rlimit, Scheduler, Seccomp, SeccompArg, SeccompRule,
    User, parse_cpu_list,
};
pub use mount::{Mount, MountIdMapping, MsFlags, RecAttr};
pub use mount_opts::{MountOptions, known_mount_options, parse_mount_options};
pub use namespace::{IdMap, Namespace, NamespaceType};
pub use rlimits::{rlimit_from_name, rlimit_name};
pub use validate::{MAX_HOOK_TIMEOUT, NGROUPS_MAX, validate_process};
