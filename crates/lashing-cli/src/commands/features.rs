//! `lashing features`: what this runtime supports, as runc's `features` JSON (runtime-spec
//! `features.Features`).

use std::collections::BTreeMap;
use std::io::Write;

use lashing::config::{ALL_CAPS, HookKind, NamespaceType};
use serde::Serialize;

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing features` options (none).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// The features document (field order as runc prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    oci_version_min: String,
    oci_version_max: String,
    hooks: Vec<String>,
    mount_options: Vec<String>,
    linux: Linux,
    annotations: BTreeMap<String, String>,
    potentially_unsafe_config_annotations: Vec<String>,
}

/// The `linux` section.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Linux {
    namespaces: Vec<String>,
    capabilities: Vec<String>,
    cgroup: Cgroup,
    seccomp: Seccomp,
    apparmor: Enabled,
    selinux: Enabled,
    mount_extensions: MountExtensions,
    net_devices: Enabled,
    /// Intel RDT through resctrl (compiled in, as runc reports it; untested on RDT hardware).
    #[serde(rename = "intelRdt")]
    intel_rdt: Enabled,
}

/// `linux.mountExtensions`: idmapped mounts (`idmap`/`ridmap`, `uidMappings`/`gidMappings`).
#[derive(Debug, Serialize)]
struct MountExtensions {
    idmap: Enabled,
}

/// The `linux.seccomp` section: what profiles may use, from the library's compiler.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Seccomp {
    enabled: bool,
    actions: Vec<String>,
    operators: Vec<String>,
    archs: Vec<String>,
    known_flags: Vec<String>,
    supported_flags: Vec<String>,
}

/// Which cgroup setups are supported.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Cgroup {
    v1: bool,
    v2: bool,
    systemd: bool,
    systemd_user: bool,
    rdma: bool,
}

/// `{"enabled": bool}`.
#[derive(Debug, Serialize)]
struct Enabled {
    enabled: bool,
}

/// The hook kinds in the order of the runtime spec.
const HOOKS: [HookKind; 6] = [
    HookKind::Prestart,
    HookKind::CreateRuntime,
    HookKind::CreateContainer,
    HookKind::StartContainer,
    HookKind::Poststart,
    HookKind::Poststop,
];

/// Builds the features document from the library's tables.
pub fn features() -> Features {
    let spec = lashing::config::example_spec_json();
    let max = spec
        .get("ociVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("1.2.0")
        .to_string();
    let hooks = HOOKS
        .iter()
        .filter_map(|h| {
            serde_json::to_value(h)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
        })
        .collect();
    let mut namespaces: Vec<String> = NamespaceType::ALL
        .iter()
        .map(|n| n.oci_name().to_string())
        .collect();
    namespaces.sort();
    let mount_options = lashing::config::known_mount_options()
        .into_iter()
        .map(String::from)
        .collect();
    let annotations = BTreeMap::from([(
        "io.github.lashing.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )]);
    Features {
        oci_version_min: "1.0.0".into(),
        oci_version_max: max,
        hooks,
        mount_options,
        linux: Linux {
            namespaces,
            capabilities: ALL_CAPS.iter().map(|c| c.to_string()).collect(),
            cgroup: Cgroup {
                v1: true,
                v2: true,
                systemd: true,
                systemd_user: true,
                rdma: true,
            },
            seccomp: seccomp(),
            // Compiled in, as runc says it: the runtime spec's `enabled` is "unrelated to whether
            // the host supports" the LSM (a profile or label on a host without it is an error of
            // `create`).
            apparmor: Enabled { enabled: true },
            selinux: Enabled { enabled: true },
            // As runc: supported by the runtime; a kernel or file system that cannot is an
            // error of `create` naming them.
            mount_extensions: MountExtensions {
                idmap: Enabled { enabled: true },
            },
            net_devices: Enabled { enabled: true },
            intel_rdt: Enabled { enabled: true },
        },
        annotations,
        // runc's list of annotations an engine should not pass from an untrusted source: CRIU's
        // configuration file and systemd unit properties (lashing acts on both), and `bundle`
        // (runc reads its bundle path back from it; lashing does not, but engines filter by
        // this list, so it stays the same as runc's).
        potentially_unsafe_config_annotations: [
            "bundle",
            "org.systemd.property.",
            "org.criu.config",
        ]
        .map(String::from)
        .to_vec(),
    }
}

/// The seccomp section: the compiler's lists (enabled on x86_64, the only native architecture
/// the compiler knows).
fn seccomp() -> Seccomp {
    let strings = |v: Vec<&str>| v.into_iter().map(String::from).collect();
    Seccomp {
        enabled: cfg!(target_arch = "x86_64"),
        actions: strings(lashing::seccomp::known_actions()),
        operators: strings(lashing::seccomp::known_operators()),
        archs: strings(lashing::seccomp::known_archs()),
        known_flags: strings(lashing::seccomp::known_flags()),
        supported_flags: strings(lashing::seccomp::supported_flags()),
    }
}

/// SELinux is enabled when a selinuxfs is mounted (as runc's `selinux.GetEnabled`).
pub(crate) fn selinux_enabled() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|text| {
        text.lines().any(|l| {
            l.split_once(" - ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                == Some("selinuxfs")
        })
    })
}

/// Runs `lashing features`: the document indented with 4 spaces and a final newline, as runc.
///
/// Beside runc's document, the annotation `io.github.lashing.rootless` says whether this
/// invocation runs rootless (`--rootless` and the caller, as `create` would decide: `"true"`
/// for a non-root user or root in a user namespace that is not the initial one).
pub fn run(g: &Globals, _a: &Args) -> CmdResult {
    let mut buf = Vec::new();
    let mut doc = features();
    let r = lashing::rootless::detect(g.rootless);
    doc.annotations.insert(
        "io.github.lashing.rootless".to_string(),
        (r.euid || r.cgroups).to_string(),
    );
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    doc.serialize(&mut ser).map_err(|source| CliError::Json {
        what: "features",
        source,
    })?;
    buf.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::sys("write to stdout", e))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_the_spec_names() {
        assert_eq!(
            features().hooks,
            [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop"
            ]
        );
    }

    #[test]
    fn seccomp_lists_come_from_the_library() {
        let f = features();
        let s = &f.linux.seccomp;
        assert!(s.actions.iter().any(|a| a == "SCMP_ACT_NOTIFY"));
        assert!(s.operators.iter().any(|o| o == "SCMP_CMP_MASKED_EQ"));
        assert!(s.archs.iter().any(|a| a == "SCMP_ARCH_X86_64"));
        assert!(s.supported_flags.iter().all(|f| s.known_flags.contains(f)));
    }

    #[test]
    fn lsms_are_reported_as_compiled_in() {
        let f = features();
        assert!(f.linux.apparmor.enabled && f.linux.selinux.enabled);
        assert!(f.linux.cgroup.rdma);
    }

    #[test]
    fn namespaces_sorted_and_complete() {
        let f = features();
        let mut sorted = f.linux.namespaces.clone();
        sorted.sort();
        assert_eq!(f.linux.namespaces, sorted);
        for n in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
            assert!(f.linux.namespaces.iter().any(|x| x == n), "{n}");
        }
    }
}
