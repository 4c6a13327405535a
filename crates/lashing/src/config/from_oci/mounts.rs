//! `mounts`: each OCI mount with its options parsed as runc does.

use std::ffi::OsStr;
use std::path::Path;

use oci_spec::runtime as oci;

use super::super::error::ConfigError;
use super::super::mount_opts::parse_mount_options;
use super::common::check_nul;
use super::linux::id_maps;
use crate::config::{Mount, MountIdMapping, MsFlags};

pub(super) fn convert_mount(i: usize, m: &oci::Mount, bundle: &Path) -> Result<Mount, ConfigError> {
    let field = format!("mounts[{i}]");
    check_nul(&format!("{field}.destination"), m.destination().as_os_str())?;
    if let Some(s) = m.source() {
        check_nul(&format!("{field}.source"), s.as_os_str())?;
    }
    if let Some(t) = m.typ() {
        check_nul(&format!("{field}.type"), OsStr::new(t))?;
    }
    let options = m.options().clone().unwrap_or_default();
    for (j, o) in options.iter().enumerate() {
        check_nul(&format!("{field}.options[{j}]"), OsStr::new(o))?;
    }

    let mut destination = m.destination().clone();
    if !destination.is_absolute() {
        tracing::warn!(
            "{field}.destination: relative path {:?} is deprecated, taken relative to /",
            destination
        );
        destination = Path::new("/").join(destination);
    }
    let opts = parse_mount_options(&options);
    let mut device = m.typ().clone().unwrap_or_default();
    let mut source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut flags = opts.flags;
    let bind = MsFlags::BIND;
    if flags.contains(bind) || device == "bind" {
        // The "type" of a bind mount is meaningless; runc's rootfs code keys on "bind".
        device = "bind".into();
        flags |= bind;
        if !source.is_empty() && !Path::new(&source).is_absolute() {
            source = bundle.join(&source).to_string_lossy().into_owned();
        }
    }
    let mut id_mapping = opts.idmap.map(|recursive| MountIdMapping {
        recursive,
        uid_mappings: Vec::new(),
        gid_mappings: Vec::new(),
        userns_path: None,
    });
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        let idm = id_mapping.get_or_insert(MountIdMapping {
            recursive: false,
            uid_mappings: Vec::new(),
            gid_mappings: Vec::new(),
            userns_path: None,
        });
        idm.uid_mappings = id_maps(m.uid_mappings());
        idm.gid_mappings = id_maps(m.gid_mappings());
    }
    Ok(Mount {
        source,
        destination,
        device,
        flags,
        cleared_flags: opts.cleared_flags,
        propagation_flags: opts.propagation_flags,
        data: opts.data,
        rec_attr: opts.rec_attr,
        extensions: opts.extensions,
        id_mapping,
    })
}
