//! A small rtnetlink client (`NETLINK_ROUTE`): what `linux.netDevices` needs. Look a link up by
//! name, bring it up or down, list and add its addresses, and move it to another network
//! namespace (by fd) under a new name in one `RTM_NEWLINK`, as runc's `devChangeNetNamespace`.
//!
//! A [`Netlink`] socket works in the network namespace it was created in;
//! [`Netlink::open_in`] makes one in another namespace by entering it on the calling thread for
//! the `socket(2)` call only (a network namespace is per thread: no other thread is affected).

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFF_UP: u32 = 1;
/// `IFA_F_PERMANENT`: an address configured by the user (not autoconfigured, no lifetime).
pub(crate) const IFA_F_PERMANENT: u32 = 0x80;
/// `RT_SCOPE_UNIVERSE`: a global address.
pub(crate) const RT_SCOPE_UNIVERSE: u8 = 0;

/// An address of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkAddr {
    /// The address (`IFA_LOCAL` for IPv4, else `IFA_ADDRESS`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// `IFA_F_*` flags (the 32-bit `IFA_FLAGS` when present).
    pub flags: u32,
    /// `RT_SCOPE_*`.
    pub scope: u8,
}

/// A `NETLINK_ROUTE` socket.
pub(crate) struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// A socket in the caller's network namespace.
    pub(crate) fn open() -> io::Result<Netlink> {
        // SAFETY: socket(2) with integer arguments; a valid fd is owned by nobody else.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Netlink { fd, seq: 0 })
    }

    /// A socket in the network namespace `netns`: this thread enters it for the `socket` call
    /// and returns to `own` (its current network namespace, opened by the caller) at once.
    pub(crate) fn open_in(netns: BorrowedFd<'_>, own: BorrowedFd<'_>) -> io::Result<Netlink> {
        super::process::setns(netns, libc::CLONE_NEWNET as u64)?;
        let sock = Netlink::open();
        if let Err(e) = super::process::setns(own, libc::CLONE_NEWNET as u64) {
            // This thread cannot go back: nothing it does later may act in the wrong
            // namespace.
            panic!("cannot return to the runtime's network namespace: {e}");
        }
        sock
    }

    /// The index of the link named `name`.
    pub(crate) fn link_index(&mut self, name: &str) -> io::Result<i32> {
        let mut m = Msg::new(RTM_GETLINK, NLM_F_REQUEST);
        m.ifinfo(0, 0, 0);
        m.attr_str(IFLA_IFNAME, name);
        let replies = self.request(m)?;
        replies
            .iter()
            .find(|(t, _)| *t == RTM_NEWLINK)
            .and_then(|(_, body)| body.get(4..8))
            .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no link in the reply"))
    }

    /// Sets the link up or down.
    pub(crate) fn set_up(&mut self, index: i32, up: bool) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        m.ifinfo(index, if up { IFF_UP } else { 0 }, IFF_UP);
        self.request(m).map(drop)
    }

    /// Moves the link to the network namespace `netns` under the name `name` (one message: no
    /// name conflict in between).
    pub(crate) fn move_to(
        &mut self,
        index: i32,
        name: &str,
        netns: BorrowedFd<'_>,
    ) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        m.ifinfo(index, 0, 0);
        m.attr_str(IFLA_IFNAME, name);
        m.attr(IFLA_NET_NS_FD, &(netns.as_raw_fd() as u32).to_ne_bytes());
        self.request(m).map(drop)
    }

    /// The addresses of the link.
    pub(crate) fn addrs(&mut self, index: i32) -> io::Result<Vec<LinkAddr>> {
        let mut m = Msg::new(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
        m.ifaddr(libc::AF_UNSPEC as u8, 0, 0, 0, 0);
        let mut out = Vec::new();
        for (t, body) in self.request(m)? {
            if t != RTM_NEWADDR || body.len() < 8 {
                continue;
            }
            let family = body[0];
            let prefix = body[1];
            let mut flags = u32::from(body[2]);
            let scope = body[3];
            let ifindex = u32::from_ne_bytes(body[4..8].try_into().expect("4 bytes"));
            if ifindex as i32 != index {
                continue;
            }
            let (mut local, mut address) = (None, None);
            for (ty, data) in attrs(&body[8..]) {
                match ty {
                    IFA_LOCAL => local = ip(family, data),
                    IFA_ADDRESS => address = ip(family, data),
                    IFA_FLAGS if data.len() >= 4 => {
                        flags = u32::from_ne_bytes(data[..4].try_into().expect("4 bytes"))
                    }
                    _ => {}
                }
            }
            if let Some(addr) = local.or(address) {
                out.push(LinkAddr {
                    addr,
                    prefix,
                    flags,
                    scope,
                });
            }
        }
        Ok(out)
    }

    /// Adds an address to the link (with the broadcast address of an IPv4 prefix shorter than
    /// /31, as `ip addr add` and runc's netlink library do).
    pub(crate) fn add_addr(&mut self, index: i32, a: &LinkAddr) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        );
        match a.addr {
            IpAddr::V4(v4) => {
                m.ifaddr(
                    libc::AF_INET as u8,
                    a.prefix,
                    0,
                    RT_SCOPE_UNIVERSE,
                    index as u32,
                );
                m.attr(IFA_LOCAL, &v4.octets());
                m.attr(IFA_ADDRESS, &v4.octets());
                if a.prefix < 31 {
                    let host_bits = u32::MAX.checked_shr(u32::from(a.prefix)).unwrap_or(0);
                    let brd = u32::from(v4) | host_bits;
                    m.attr(IFA_BROADCAST, &brd.to_be_bytes());
                }
            }
            IpAddr::V6(v6) => {
                m.ifaddr(
                    libc::AF_INET6 as u8,
                    a.prefix,
                    0,
                    RT_SCOPE_UNIVERSE,
                    index as u32,
                );
                m.attr(IFA_ADDRESS, &v6.octets());
            }
        }
        self.request(m).map(drop)
    }

    /// Sends one request and collects the replies (until the ack, or `NLMSG_DONE` of a dump);
    /// an error reply is the error.
    fn request(&mut self, mut m: Msg) -> io::Result<Vec<(u16, Vec<u8>)>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let dump = m.flags() & NLM_F_DUMP == NLM_F_DUMP;
        let wants_ack = m.flags() & NLM_F_ACK != 0;
        let data = m.finish(seq);
        // SAFETY: send(2) of a live buffer of the given length on a socket we own.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), data.as_ptr().cast(), data.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: recv(2) into a live buffer of the given length on a socket we own.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut rest = &buf[..n as usize];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
                let ty = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
                let rseq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
                if len < 16 || len > rest.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                let body = &rest[16..len];
                rest = &rest[align(len).min(rest.len())..];
                if rseq != seq {
                    continue;
                }
                match ty {
                    NLMSG_ERROR => {
                        let code = body
                            .get(0..4)
                            .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                            .unwrap_or(-libc::EIO);
                        if code != 0 {
                            return Err(io::Error::from_raw_os_error(-code));
                        }
                        return Ok(out);
                    }
                    NLMSG_DONE => return Ok(out),
                    _ => {
                        out.push((ty, body.to_vec()));
                        if !dump && !wants_ack {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
}

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `len` rounded up to the netlink alignment (4).
fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// The `(type, data)` of each route attribute in `buf`.
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((ty, &buf[4..len]));
        buf = &buf[align(len).min(buf.len())..];
    }
    out
}

fn ip(family: u8, data: &[u8]) -> Option<IpAddr> {
    match (i32::from(family), data.len()) {
        (libc::AF_INET, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(data).ok()?)),
        (libc::AF_INET6, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(data).ok()?)),
        _ => None,
    }
}

/// A request being built: header, then a fixed part, then attributes.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        Msg { buf }
    }

    fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.buf[6], self.buf[7]])
    }

    /// `struct ifinfomsg`.
    fn ifinfo(&mut self, index: i32, flags: u32, change: u32) {
        self.buf
            .extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&change.to_ne_bytes());
    }

    /// `struct ifaddrmsg`.
    fn ifaddr(&mut self, family: u8, prefix: u8, flags: u8, scope: u8, index: u32) {
        self.buf.extend_from_slice(&[family, prefix, flags, scope]);
        self.buf.extend_from_slice(&index.to_ne_bytes());
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
    }

    fn attr_str(&mut self, ty: u16, s: &str) {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(ty, &data);
    }

    fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_laid_out_as_the_kernel_reads_them() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        m.ifinfo(7, 0, 0);
        m.attr_str(IFLA_IFNAME, "eth1");
        let data = m.finish(9).to_vec();
        assert_eq!(
            data.len(),
            16 + 16 + 12,
            "header, ifinfomsg, ifname padded to 4"
        );
        assert_eq!(u32::from_ne_bytes(data[0..4].try_into().unwrap()), 44);
        assert_eq!(u32::from_ne_bytes(data[8..12].try_into().unwrap()), 9);
        assert_eq!(i32::from_ne_bytes(data[20..24].try_into().unwrap()), 7);
        let a = attrs(&data[32..]);
        assert_eq!(a, vec![(IFLA_IFNAME, &b"eth1\0"[..])]);
    }

    #[test]
    fn loopback_is_found_and_has_its_address() {
        // This test's own network namespace: lo always exists (index 1).
        let mut nl = Netlink::open().unwrap();
        let lo = nl.link_index("lo").unwrap();
        assert!(lo > 0);
        let err = nl.link_index("no-such-link0").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
        let addrs = nl.addrs(lo).unwrap();
        if !addrs.is_empty() {
            assert!(addrs.iter().any(|a| a.addr.is_loopback()), "{addrs:?}");
        }
    }
}
