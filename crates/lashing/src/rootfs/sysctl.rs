//! Hostname, domain name and sysctls (after the pivot).

use std::io::Write;

use rustix::fs::{OFlags, ResolveFlags};

use super::error::{Result, RootfsError};
use super::options::sysctl_path;
use crate::config::Config;
use crate::procfs::{Contents, ProcError, ProcFs, ProcPolicy};

/// Sets the hostname and the NIS domain name of the container's UTS namespace.
pub(crate) fn set_hostname(config: &Config) -> Result<()> {
    if let Some(h) = &config.hostname {
        rustix::system::sethostname(h.as_bytes())
            .map_err(|e| RootfsError::sys("sethostname", h, e))?;
    }
    if let Some(d) = &config.domainname {
        rustix::system::setdomainname(d.as_bytes())
            .map_err(|e| RootfsError::sys("setdomainname", d, e))?;
    }
    Ok(())
}

/// Resolve flags of every lookup below the procfs root (besides the `RESOLVE_NO_XDEV |
/// RESOLVE_NO_MAGICLINKS` of every procfs lookup): no symlinks, nothing above the root (so
/// nothing mounted over a sysctl file can receive the write).
const SYSCTL_RESOLVE: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS);

/// A procfs failure of the sysctl step, naming the key (or `/proc/sys`).
fn proc_err(key: &str, e: ProcError) -> RootfsError {
    match e {
        ProcError::Open { source, .. } => RootfsError::sys("sysctl", key, source),
        e => RootfsError::Proc {
            step: "sysctl",
            path: key.to_string(),
            source: Box::new(e),
        },
    }
}

/// Writes the config's sysctls through a verified procfs handle ([`crate::procfs`]: a private
/// instance, or the container's `/proc` when `policy` allows it), each file resolved with
/// `RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV` and checked to be
/// a procfs file.
pub(crate) fn write_sysctls(config: &Config, policy: ProcPolicy) -> Result<()> {
    if config.sysctl.is_empty() {
        return Ok(());
    }
    let proc = ProcFs::open_as(policy, Contents::All).map_err(|e| proc_err("/proc/sys", e))?;
    for (key, value) in &config.sysctl {
        let Some(rel) = sysctl_path(key) else {
            return Err(RootfsError::invalid("sysctl", key, "invalid sysctl name"));
        };
        let rel = std::path::Path::new("sys").join(rel);
        let Some(rel) = rel.to_str() else {
            return Err(RootfsError::invalid("sysctl", key, "invalid sysctl name"));
        };
        let fd = proc
            .open_resolved(rel, OFlags::WRONLY | OFlags::NOFOLLOW, SYSCTL_RESOLVE)
            .map_err(|e| proc_err(key, e))?;
        // A sysctl value must be written in one write(2).
        let n = std::fs::File::from(fd)
            .write(value.as_bytes())
            .map_err(|e| RootfsError::sys("sysctl", key, e))?;
        if n != value.len() {
            return Err(RootfsError::invalid("sysctl", key, "short write"));
        }
    }
    Ok(())
}
