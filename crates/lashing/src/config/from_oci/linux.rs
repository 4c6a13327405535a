//! `linux`: namespaces, id mappings, cgroup path and resources, root propagation, masked and
//! read-only paths, sysctls, time offsets (runc's `CreateLibcontainerConfig`).

use oci_spec::runtime as oci;

use super::super::error::ConfigError;
use super::super::mount_opts::propagation_flags;
use super::common::{check_nul, non_empty, paths, via_json};
use super::resources::convert_resources;
use super::seccomp::convert_seccomp;
use crate::config::{Config, IdMap, MsFlags, Namespace, NamespaceType};

pub(super) fn convert_linux(
    linux: &oci::Linux,
    no_pivot_root: bool,
    c: &mut Config,
) -> Result<(), ConfigError> {
    for (host, dev) in linux.net_devices().iter().flatten() {
        let name = dev.name().clone().filter(|n| !n.is_empty());
        c.net_devices
            .insert(host.clone(), name.unwrap_or_else(|| host.clone()));
    }
    c.intel_rdt = linux.intel_rdt().as_ref().map(intel_rdt);
    c.memory_policy = via_json("linux.memoryPolicy", linux.memory_policy())?;
    c.personality = via_json("linux.personality", linux.personality())?;

    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let typ = namespace_type(ns.typ());
        if c.has_namespace(typ) {
            return Err(ConfigError::invalid(
                format!("linux.namespaces[{i}]"),
                format!("duplicate namespace {:?}", typ.oci_name()),
            ));
        }
        let path = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = path {
            check_nul(&format!("linux.namespaces[{i}].path"), p.as_os_str())?;
        }
        c.namespaces.push(Namespace {
            typ,
            path: path.cloned(),
        });
    }
    c.uid_mappings = id_maps(linux.uid_mappings());
    c.gid_mappings = id_maps(linux.gid_mappings());
    super::userns::cache_joined_maps(c)?;

    c.cgroup.path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(r) = linux.resources() {
        convert_resources(r, c)?;
    }

    if let Some(prop) = linux.rootfs_propagation() {
        let flags = propagation_flags(prop).ok_or_else(|| {
            ConfigError::invalid(
                "linux.rootfsPropagation",
                format!("unknown propagation {prop:?}"),
            )
        })?;
        if no_pivot_root && flags.contains(MsFlags::PRIVATE) {
            return Err(ConfigError::invalid(
                "linux.rootfsPropagation",
                format!("{prop:?} is not safe without pivot_root (--no-pivot)"),
            ));
        }
        c.root_propagation = flags;
    }

    c.masked_paths = paths(linux.masked_paths());
    c.readonly_paths = paths(linux.readonly_paths());
    c.mount_label = non_empty(linux.mount_label());
    c.sysctl = linux
        .sysctl()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    c.time_offsets = linux
        .time_offsets()
        .iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                (v.secs().unwrap_or(0), v.nanosecs().unwrap_or(0)),
            )
        })
        .collect();
    if let Some(s) = linux.seccomp() {
        c.seccomp = Some(convert_seccomp(s)?);
    }
    Ok(())
}

pub(super) fn namespace_type(t: oci::LinuxNamespaceType) -> NamespaceType {
    match t {
        oci::LinuxNamespaceType::Mount => NamespaceType::Mount,
        oci::LinuxNamespaceType::Cgroup => NamespaceType::Cgroup,
        oci::LinuxNamespaceType::Uts => NamespaceType::Uts,
        oci::LinuxNamespaceType::Ipc => NamespaceType::Ipc,
        oci::LinuxNamespaceType::User => NamespaceType::User,
        oci::LinuxNamespaceType::Pid => NamespaceType::Pid,
        oci::LinuxNamespaceType::Network => NamespaceType::Network,
        oci::LinuxNamespaceType::Time => NamespaceType::Time,
    }
}

pub(super) fn id_maps(maps: &Option<Vec<oci::LinuxIdMapping>>) -> Vec<IdMap> {
    maps.iter()
        .flatten()
        .map(|m| IdMap {
            container_id: m.container_id(),
            host_id: m.host_id(),
            size: m.size(),
        })
        .collect()
}

/// `linux.intelRdt`. The deprecated `enableCMT`/`enableMBM` are not read (as runc 1.3, which
/// reports the monitoring counters whenever resctrl has them).
fn intel_rdt(r: &oci::LinuxIntelRdt) -> crate::rdt::IntelRdt {
    crate::rdt::IntelRdt {
        clos_id: r.clos_id().clone(),
        l3_cache_schema: r.l3_cache_schema().clone().filter(|s| !s.is_empty()),
        mem_bw_schema: r.mem_bw_schema().clone().filter(|s| !s.is_empty()),
        schemata: r.schemata().clone().unwrap_or_default(),
        enable_monitoring: r.enable_monitoring().unwrap_or(false),
    }
}
