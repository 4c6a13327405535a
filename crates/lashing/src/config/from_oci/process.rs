//! `process`: the container's process (runc's `newProcess`), also read alone from a
//! `process.json` (`exec -p`).

use std::path::Path;

use oci_spec::runtime as oci;

use super::super::capabilities::cap_from_name;
use super::super::error::ConfigError;
use super::super::rlimits::rlimit_from_name;
use super::common::{non_empty, serde_name, via_json};
use super::parse::{normalize_process, parse_normalized, sched_flag_name};
use crate::config::{
    Capabilities, CpuAffinity, ProcessConfig, Rlimit, Scheduler, User, parse_cpu_list,
};

impl ProcessConfig {
    /// Reads an OCI `process` object from a JSON file (`runc exec -p process.json`).
    pub fn from_json_file(path: &Path) -> Result<ProcessConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(path, &text)
    }

    /// Converts an OCI `process` object given as JSON text (e.g. the process spec of a
    /// containerd exec request); `origin` names it in errors.
    pub fn from_json(origin: &Path, text: &str) -> Result<ProcessConfig, ConfigError> {
        let p: oci::Process = parse_normalized(origin, text, |v| {
            default_process_fields(v);
            normalize_process(v);
        })?;
        convert_process(&p)
    }
}

/// Gives the fields of a `process` object that oci-spec requires and runc does not their Go zero
/// value, as runc's JSON decoder does: no `user` (or `null`) is uid 0, gid 0; no `cwd` is empty
/// (which the caller then refuses with runc's message); `null` for the whole object is `{}`.
pub(super) fn default_process_fields(v: &mut serde_json::Value) {
    if v.is_null() {
        *v = serde_json::json!({});
    }
    if let Some(o) = v.as_object_mut() {
        for (key, zero) in [
            ("user", serde_json::json!({})),
            ("cwd", serde_json::json!("")),
        ] {
            if o.get(key).is_none_or(serde_json::Value::is_null) {
                o.insert(key.to_string(), zero);
            }
        }
    }
}

pub(super) fn convert_process(p: &oci::Process) -> Result<ProcessConfig, ConfigError> {
    let exec_cpu_affinity: Option<CpuAffinity> =
        via_json("process.execCPUAffinity", p.exec_cpu_affinity())?;
    if let Some(a) = &exec_cpu_affinity {
        for (name, list) in [("initial", &a.initial), ("final", &a.final_)] {
            if let Some(list) = list {
                parse_cpu_list(list).map_err(|reason| {
                    ConfigError::invalid(format!("process.execCPUAffinity.{name}"), reason)
                })?;
            }
        }
    }
    if p.command_line().is_some() {
        tracing::warn!("process.commandLine: Windows-only field ignored");
    }
    if p.user().username().is_some() {
        tracing::warn!("process.user.username: Windows-only field ignored");
    }

    let console_size = match p.console_size() {
        None => None,
        Some(b) => {
            let dim = |v: u64, what: &str| {
                u16::try_from(v).map_err(|_| {
                    ConfigError::invalid(
                        format!("process.consoleSize.{what}"),
                        format!("{v} is larger than {}", u16::MAX),
                    )
                })
            };
            Some((dim(b.height(), "height")?, dim(b.width(), "width")?))
        }
    };

    let mut rlimits = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let name = serde_name(&r.typ());
        let resource = rlimit_from_name(&name).ok_or_else(|| {
            ConfigError::invalid(
                format!("process.rlimits[{i}].type"),
                format!("unknown rlimit {name:?}"),
            )
        })?;
        rlimits.push(Rlimit {
            resource,
            hard: r.hard(),
            soft: r.soft(),
        });
    }

    let capabilities = p.capabilities().as_ref().map(|caps| {
        let set = |name: &str, list: &Option<oci::Capabilities>| -> Vec<u32> {
            let mut nums: Vec<u32> = list
                .iter()
                .flatten()
                .filter_map(|cap| {
                    let n = serde_name(cap);
                    let num = cap_from_name(&n);
                    if num.is_none() {
                        tracing::warn!(
                            "process.capabilities.{name}: unknown capability {n:?} ignored"
                        );
                    }
                    num
                })
                .collect();
            nums.sort_unstable();
            nums.dedup();
            nums
        };
        Capabilities {
            bounding: set("bounding", caps.bounding()),
            effective: set("effective", caps.effective()),
            inheritable: set("inheritable", caps.inheritable()),
            permitted: set("permitted", caps.permitted()),
            ambient: set("ambient", caps.ambient()),
        }
    });

    let user = p.user();
    Ok(ProcessConfig {
        args: p.args().clone().unwrap_or_default(),
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        user: User {
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
        },
        terminal: p.terminal().unwrap_or(false),
        console_size,
        rlimits,
        capabilities,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        apparmor_profile: non_empty(p.apparmor_profile()),
        selinux_label: non_empty(p.selinux_label()),
        oom_score_adj: p.oom_score_adj(),
        scheduler: p.scheduler().as_ref().map(|s| Scheduler {
            policy: serde_name(s.policy()),
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0),
            flags: s
                .flags()
                .iter()
                .flatten()
                .map(|f| sched_flag_name(*f).to_string())
                .collect(),
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
        }),
        io_priority: via_json("process.ioPriority", p.io_priority())?,
        exec_cpu_affinity,
    })
}
