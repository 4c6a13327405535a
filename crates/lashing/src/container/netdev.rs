//! `linux.netDevices` (OCI 1.2; runc's `devChangeNetNamespace`): host network interfaces moved
//! into the container's network namespace, renamed in the same `RTM_NEWLINK`, with their
//! permanent global addresses put back (the kernel drops addresses on a move) and the link set
//! up; on `delete` of a container whose init still runs they are moved back the same way under
//! their first names. Through the rtnetlink client of [`crate::sys::netlink`].
//!
//! A container that stopped on its own has lost its network namespace already: the kernel gave
//! its physical interfaces to the initial namespace and deleted its virtual ones, and there is
//! nothing left to move back (runc leaves this to the kernel too).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::Container;
use crate::config::{Config, NamespaceType};
use crate::error::{Error, Result};
use crate::sys::netlink::{IFA_F_PERMANENT, LinkAddr, Netlink, RT_SCOPE_UNIVERSE};

/// The network namespace this thread is in.
fn own_netns() -> Result<OwnedFd> {
    let path = Path::new("/proc/thread-self/ns/net");
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::io("open the runtime's network namespace", path, e))
}

/// Moves the link `from_name` (in `from`'s namespace) into `to`'s namespace (`to_ns`) as
/// `to_name`: down, its permanent global addresses read, moved and renamed in one message, the
/// addresses added back, up.
fn move_link(
    from: &mut Netlink,
    to: &mut Netlink,
    from_name: &str,
    to_name: &str,
    to_ns: BorrowedFd<'_>,
    where_from: &str,
) -> Result<()> {
    let dev = |what: &str| format!("network device {from_name} {what}");
    let index = from.link_index(from_name).map_err(|e| {
        Error::io(
            "find",
            dev(&format!(
                "(link not found for interface {from_name} on {where_from})"
            )),
            e,
        )
    })?;
    // Listed before the link goes down: IPv6 addresses go with it (unless keep_addr_on_down),
    // which runc, listing them after, loses.
    let addrs: Vec<LinkAddr> = from
        .addrs(index)
        .map_err(|e| Error::io("list the addresses of", dev(""), e))?
        .into_iter()
        .filter(|a| a.flags & IFA_F_PERMANENT != 0 && a.scope == RT_SCOPE_UNIVERSE)
        .collect();
    from.set_up(index, false)
        .map_err(|e| Error::io("set down", dev(""), e))?;
    from.move_to(index, to_name, to_ns)
        .map_err(|e| Error::io("move", dev(&format!("to its namespace as {to_name}")), e))?;
    let new = to.link_index(to_name).map_err(|e| {
        Error::io(
            "find",
            format!("network device {to_name} after its move"),
            e,
        )
    })?;
    for a in &addrs {
        to.add_addr(new, a).map_err(|e| {
            Error::io(
                "add address",
                format!("{}/{} to network device {to_name}", a.addr, a.prefix),
                e,
            )
        })?;
    }
    to.set_up(new, true)
        .map_err(|e| Error::io("set up", format!("network device {to_name}"), e))?;
    tracing::debug!(
        "moved network device {from_name} as {to_name} with {} addresses",
        addrs.len()
    );
    Ok(())
}

/// Moves the config's network devices into the network namespace of the new init `pid` (or
/// the one the config names by path). On a failure the devices already moved are moved back.
pub(crate) fn attach(config: &Config, pid: i32) -> Result<()> {
    if config.net_devices.is_empty() {
        return Ok(());
    }
    // runc: rootless containers cannot move network devices (no CAP_NET_ADMIN over the host's
    // network namespace).
    if !rustix::process::geteuid().is_root() {
        return Err(Error::Config(crate::config::ConfigError::invalid(
            "linux.netDevices",
            "network devices are not supported for rootless containers",
        )));
    }
    let own = own_netns()?;
    let path = match config
        .namespace(NamespaceType::Network)
        .and_then(|n| n.path.clone())
    {
        Some(p) => p,
        None => format!("/proc/{pid}/ns/net").into(),
    };
    let target = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::io("open the container's network namespace", &path, e))?;
    let sock = |e| Error::Sys {
        op: "open a netlink socket",
        source: e,
    };
    let mut host = Netlink::open().map_err(sock)?;
    let mut ctr = Netlink::open_in(target.as_fd(), own.as_fd()).map_err(sock)?;
    let mut moved: Vec<(&str, &str)> = Vec::new();
    for (host_name, name) in &config.net_devices {
        let r = move_link(
            &mut host,
            &mut ctr,
            host_name,
            name,
            target.as_fd(),
            "runtime namespace",
        );
        if let Err(e) = r {
            for (h, n) in moved {
                let back = move_link(&mut ctr, &mut host, n, h, own.as_fd(), "the container");
                if let Err(b) = back {
                    tracing::warn!("{}", crate::error::chain(&b));
                }
            }
            return Err(e);
        }
        moved.push((host_name, name));
    }
    Ok(())
}

/// Moves the config's network devices out of the network namespace `ctr_ns` back into this
/// thread's under their first names, with their addresses. Best effort: failures are warnings.
pub(crate) fn detach(config: &Config, ctr_ns: BorrowedFd<'_>) {
    let warn = |e: Error| tracing::warn!("{}", crate::error::chain(&e));
    let own = match own_netns() {
        Ok(o) => o,
        Err(e) => return warn(e),
    };
    let (mut host, mut ctr) = match (Netlink::open(), Netlink::open_in(ctr_ns, own.as_fd())) {
        (Ok(h), Ok(c)) => (h, c),
        (Err(e), _) | (_, Err(e)) => {
            return warn(Error::Sys {
                op: "open a netlink socket",
                source: e,
            });
        }
    };
    for (host_name, name) in &config.net_devices {
        // Not there (never moved in, or moved back already): nothing to do.
        if ctr.link_index(name).is_err() {
            continue;
        }
        let r = move_link(
            &mut ctr,
            &mut host,
            name,
            host_name,
            own.as_fd(),
            "the container",
        );
        if let Err(e) = r {
            warn(e);
        }
    }
}

/// [`detach`] from the network namespace of the new init `pid` (a failed `create`: its
/// namespace would take the devices with it).
pub(crate) fn detach_from_pid(config: &Config, pid: i32) {
    if config.net_devices.is_empty() || !config.new_namespace(NamespaceType::Network) {
        return;
    }
    let path = format!("/proc/{pid}/ns/net");
    match rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => detach(config, fd.as_fd()),
        Err(e) => tracing::warn!("{}", crate::error::chain(&Error::io("open", path, e))),
    }
}

impl Container {
    /// `delete` of a container whose init runs in a network namespace of its own: its network
    /// devices go back to the caller's namespace under their first names, with their
    /// addresses. Best effort: a failure is a warning (the kernel still acts when the namespace
    /// goes).
    pub(super) fn return_net_devices(&self) {
        let config = &self.state.config;
        if config.net_devices.is_empty() || !config.new_namespace(NamespaceType::Network) {
            return;
        }
        let st = &self.state;
        let fds = match super::namespaces::open_init_namespaces(
            &st.id,
            st.init_process_pid,
            st.init_process_start,
            &[NamespaceType::Network],
        ) {
            Ok(f) => f,
            // Stopped: the namespace is gone with its devices (see the module doc).
            Err(_) => return,
        };
        let Some((_, ctr_ns)) = fds.first() else {
            return;
        };
        detach(config, ctr_ns.as_fd());
    }
}
