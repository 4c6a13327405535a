//! Conversion of an OCI runtime spec into the validated model: runc's `specconv`
//! (`CreateLibcontainerConfig`) plus the process fields that runc's CLI maps in `newProcess`.
//!
//! This is the only module of lashing that sees `oci-spec` types. One submodule per part of the
//! spec: `parse` (the JSON text), `linux`, `resources`, `mounts`, `devices`, `seccomp`, `hooks`,
//! `process`.

use std::path::PathBuf;

use oci_spec::runtime as oci;

use super::error::ConfigError;
use super::paths::clean_path;
use crate::config::Config;

mod common;
mod devices;
mod hooks;
mod linux;
mod mounts;
mod parse;
mod process;
mod resources;
mod seccomp;
#[cfg(test)]
mod tests;
mod userns;

use common::{check_nul, non_empty};
use devices::convert_devices;
use hooks::convert_hooks;
use linux::convert_linux;
use mounts::convert_mount;
pub(super) use parse::parse_spec;
use parse::{warn_other_platforms, warn_unknown_fields};
use process::convert_process;

/// Options of `create`/`run` that shape the configuration (runc's `specconv.CreateOpts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOpts {
    /// The bundle directory (holding `config.json`); relative paths are taken from the current
    /// directory.
    pub bundle: PathBuf,
    /// `--no-pivot`: use `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot_root: bool,
    /// `--no-new-keyring`: do not create a session keyring.
    pub no_new_keyring: bool,
}

impl Config {
    /// Reads `<bundle>/config.json` and converts it with [`Config::from_oci`].
    ///
    /// A missing or unreadable file gives [`ConfigError::Read`]; malformed or truncated JSON, or
    /// JSON that does not fit the OCI schema, gives [`ConfigError::Parse`] with the line and
    /// column. Unknown capability names are dropped with a warning (as runc does) rather than
    /// failing the parse.
    pub fn from_bundle(opts: &CreateOpts) -> Result<Config, ConfigError> {
        let path = opts.bundle.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let spec = parse_spec(&path, &text)?;
        // Two more parses of the file: only when someone reads debug output (`--debug`).
        if tracing::enabled!(tracing::Level::DEBUG) {
            warn_unknown_fields(&text, &spec);
        }
        Config::from_oci(&spec, opts)
    }

    /// Converts an OCI runtime spec into the model (runc's specconv).
    ///
    /// Relative paths (the rootfs, bind-mount sources) are taken relative to `opts.bundle`.
    /// Fields that lashing does not implement yet give [`ConfigError::Unsupported`] rather than
    /// being dropped. The result still has to pass [`Config::validate`].
    pub fn from_oci(spec: &oci::Spec, opts: &CreateOpts) -> Result<Config, ConfigError> {
        let bundle = clean_path(&std::path::absolute(&opts.bundle).map_err(|source| {
            ConfigError::Access {
                field: "bundle".into(),
                path: opts.bundle.clone(),
                source,
            }
        })?);
        let root = spec.root().as_ref().ok_or_else(|| {
            ConfigError::invalid("root", "missing: a root file system is required")
        })?;
        if root.path().as_os_str().is_empty() {
            return Err(ConfigError::invalid("root.path", "empty"));
        }
        check_nul("root.path", root.path().as_os_str())?;

        let mut c = Config {
            oci_version: spec.version().clone(),
            rootfs: clean_path(&bundle.join(root.path())),
            readonly_rootfs: root.readonly().unwrap_or(false),
            no_pivot_root: opts.no_pivot_root,
            no_new_keyring: opts.no_new_keyring,
            hostname: non_empty(spec.hostname()),
            domainname: non_empty(spec.domainname()),
            annotations: spec
                .annotations()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            bundle: bundle.clone(),
            ..Config::default()
        };
        warn_other_platforms(spec);

        if let Some(linux) = spec.linux() {
            convert_linux(linux, opts.no_pivot_root, &mut c)?;
        }
        if let Some(mounts) = spec.mounts() {
            for (i, m) in mounts.iter().enumerate() {
                c.mounts.push(convert_mount(i, m, &bundle)?);
            }
        }
        // idmap/ridmap mounts without mappings of their own use the container's: its maps, or
        // the user namespace it joins by path (runc's UserNSPath).
        let joined_userns = c
            .namespace(crate::config::NamespaceType::User)
            .and_then(|n| n.path.clone());
        for m in &mut c.mounts {
            if let Some(idm) = &mut m.id_mapping
                && idm.uid_mappings.is_empty()
                && idm.gid_mappings.is_empty()
            {
                match &joined_userns {
                    // That namespace itself, not the copy of its maps cached in the config.
                    Some(p) => idm.userns_path = Some(p.clone()),
                    _ => {
                        idm.uid_mappings = c.uid_mappings.clone();
                        idm.gid_mappings = c.gid_mappings.clone();
                    }
                }
            }
        }
        convert_devices(spec.linux().as_ref(), &mut c)?;
        if let Some(hooks) = spec.hooks() {
            c.hooks = convert_hooks(hooks)?;
        }
        if let Some(p) = spec.process() {
            c.process = convert_process(p)?;
        }
        Ok(c)
    }
}
