//! The id maps of a new user namespace, written by the parent (runc's nsexec stage 0): directly
//! through a verified procfs, or, when a runtime without root may not write them (several
//! ranges, ids that are not its own), through the setuid helpers `newuidmap`/`newgidmap`, which
//! check the ranges against `/etc/subuid`/`/etc/subgid`.

use std::path::PathBuf;
use std::process::Command;

use crate::config::{Config, IdMap};
use crate::error::{Error, Result};
use crate::procfs::{ProcFs, ProcPolicy};

/// The text of an id map file: one `container host size` line per range.
pub(super) fn id_map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// runc's `requiresRootOrMappingTool`: anything but the gid map `0 <egid> 1` needs root or
/// `newgidmap`. When it is that map and the runtime is rootless, `setgroups` is denied first
/// (the kernel's condition for an unprivileged write of `gid_map`).
fn deny_setgroups(config: &Config) -> bool {
    let own = [IdMap {
        container_id: 0,
        host_id: rustix::process::getegid().as_raw(),
        size: 1,
    }];
    config.rootless_euid && config.gid_mappings == own
}

/// Writes `setgroups` (when [`deny_setgroups`]), `uid_map` and `gid_map` of `pid`.
pub(super) fn write_id_maps(pid: i32, config: &Config) -> Result<()> {
    let proc = ProcFs::open_with(ProcPolicy::PrivateOrHost)
        .map_err(|e| Error::io("write id map", format!("/proc/{pid}"), e.into_io()))?;
    if deny_setgroups(config) {
        proc.write_pid_file(pid, "setgroups", "deny").map_err(|e| {
            Error::io(
                "deny setgroups",
                format!("/proc/{pid}/setgroups"),
                e.into_io(),
            )
        })?;
    }
    for (file, maps, tool) in [
        ("uid_map", &config.uid_mappings, "newuidmap"),
        ("gid_map", &config.gid_mappings, "newgidmap"),
    ] {
        let text = id_map_text(maps);
        let err = match proc.write_pid_file(pid, file, &text) {
            Ok(()) => continue,
            Err(e) => e.into_io(),
        };
        let fail = |reason: String| Error::IdMap {
            file,
            pid,
            maps: text.trim_end().replace('\n', ", "),
            reason,
        };
        if !config.rootless_euid || err.raw_os_error() != Some(libc::EPERM) {
            return Err(fail(format!("writing it: {err}")));
        }
        tracing::debug!("{file} of pid {pid}: {err}; trying {tool}");
        map_with_tool(tool, pid, maps).map_err(|why| {
            fail(format!(
                "writing it: {err} (an unprivileged user may only map its own id); {why}"
            ))
        })?;
    }
    Ok(())
}

/// Runs `tool` (`newuidmap`/`newgidmap`) from `PATH` with the maps as arguments; the error says
/// what is missing: the helper (Debian's `uidmap` package) or the ranges it allows.
fn map_with_tool(tool: &str, pid: i32, maps: &[IdMap]) -> std::result::Result<(), String> {
    let Some(path) = find_in_path(tool) else {
        return Err(format!(
            "{tool} is not in PATH (install the uidmap package and give the user ranges in \
             /etc/subuid and /etc/subgid)"
        ));
    };
    let mut cmd = Command::new(&path);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id.to_string(),
            m.host_id.to_string(),
            m.size.to_string(),
        ]);
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr = stderr.trim();
    Err(format!(
        "{} failed ({}): {} (are the ranges in /etc/sub{}id for this user?)",
        path.display(),
        out.status,
        if stderr.is_empty() {
            "no message"
        } else {
            stderr
        },
        if tool == "newuidmap" { "u" } else { "g" },
    ))
}

/// The first executable `name` in `PATH` (runc resolves the helpers in the parent the same way).
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(c: u32, h: u32, s: u32) -> IdMap {
        IdMap {
            container_id: c,
            host_id: h,
            size: s,
        }
    }

    #[test]
    fn id_maps_render() {
        let m = [map(0, 100000, 65536), map(65536, 1, 1)];
        assert_eq!(id_map_text(&m), "0 100000 65536\n65536 1 1\n");
    }

    #[test]
    fn setgroups_is_denied_only_for_the_callers_own_gid_as_root_when_rootless() {
        let egid = rustix::process::getegid().as_raw();
        let mut c = Config {
            gid_mappings: vec![map(0, egid, 1)],
            ..Config::default()
        };
        assert!(!deny_setgroups(&c), "not rootless");
        c.rootless_euid = true;
        assert!(deny_setgroups(&c));
        c.gid_mappings = vec![map(1000, egid, 1)];
        assert!(!deny_setgroups(&c), "runc's rule: only 0 -> egid");
        c.gid_mappings = vec![map(0, egid, 1), map(1, 100000, 65536)];
        assert!(!deny_setgroups(&c));
    }
}
