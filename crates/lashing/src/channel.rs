//! The init socket: a `SOCK_SEQPACKET` socketpair between the runtime (parent) and `lashing init`.
//! Each message is one JSON datagram, optionally with file descriptors (`SCM_RIGHTS`).
//!
//! Parent → init: [`ToInit::Payload`] (with stdio, the exec-fifo handle and preserved fds), then
//! replies. Init → parent: [`ToParent`] messages. A new container's init ends with
//! [`ToParent::Created`] and closes its end: an EOF without it is a death, even after
//! [`ToParent::Ready`]. An `exec`'s init keeps its end until `execve` (close-on-exec): an EOF
//! after `Ready` means it exec'd. A `run`'s init ([`Payload::straight`]) sends `Created` and
//! keeps its end until `execve`, as an `exec`'s.
//!
//! This table is the protocol; the parent's column is `container::start`'s `Bootstrap` (one
//! `handle_*` method per [`ToParent`] message), the init's column is [`crate::init`]. Rows are in
//! the order they happen; rows marked *standard* or *setns* happen only for a new container or
//! only for `exec`.
//!
//! | step | init → parent | parent → init |
//! |---|---|---|
//! | spawn, user namespace made by `clone3` | (the child waits before its exec) | one raw byte, once `uid_map`/`gid_map` are written |
//! | spawn | exec failure: 5 raw bytes, [`crate::sys::clone::EXEC_FAILED`] + errno (little endian), then exit | `Payload` + fds, in [`FdLayout`]'s order: stdin, stdout, stderr (those present), exec fifo `O_PATH` handle (*standard*), console socket, preserved fds, namespace fds (*setns*), the protected executable's detached mount (*standard*, when `exe::attach_target` allows: init attaches it before `pivot_root`) |
//! | any time from here | `Log { level, message }` (bounded: [`crate::init`]'s log module; the parent re-emits a bounded number) | |
//! | user namespace made by init (`unshare`) | `MapsPlease` | `MapsDone` (uid/gid maps written) |
//! | an idmapped mount (*standard*), once per such mount, in the rootfs setup | `IdmapPlease { mount }` + the detached tree (`open_tree` clone of its source) | `IdmapDone` (the tree is idmapped: `mount_setattr(MOUNT_ATTR_IDMAP)`) |
//! | fork into a pid/time namespace | `Pid(pid)` from the intermediate process, which then exits (the parent reaps it and follows `pid`) | |
//! | before `pivot_root` (*standard*, only with prestart, createRuntime or createContainer hooks: [`Payload::hooks_sync`]) | `Hooks` | `HooksDone` (resources set, prestart/createRuntime hooks ran) |
//! | set up, cwd and program found, before the user switch | `Ready` | `Run` (rlimits set, pidfd sent to `--pidfd-socket`; *standard*: resources set if no `Hooks` came; *setns*: final CPU affinity set); *standard*: then the state is saved, while init goes on |
//! | seccomp with a listener | `SeccompFd` + the listener fd | `SeccompDone` (the fd reached the agent at `listenerPath`) |
//! | failure, any step | `Error(InitFailure)`, then exit | |
//! | set up (user, caps, seccomp) (*standard*) | `Created`, then EOF (init waits on the exec fifo); *straight* (`run`): `Created`, then the startContainer hooks | |
//! | (*setns*, *straight*) | EOF at `execve` (close-on-exec) | |
//! | after `Created` (*standard*) | a failure goes to the exec fifo after its byte (JSON `InitFailure`), read by `start`; *straight*: `Error` on the socket, a failure of the start | |
//!
//! With the start waterfall on ([`Payload::waterfall`]), `Hooks`, `Ready` and `Created` carry
//! init's phase stamps taken since its previous message ([`crate::waterfall`]): no extra datagram.
//!
//! No fd number is fixed: the socket's number is passed in `_LASHING_INITPIPE`, the fds of the
//! payload arrive wherever the kernel puts them and init moves them (`F_DUPFD_CLOEXEC` above the
//! preserved range, then `dup2` to 0-2 and 3..), so any `RLIMIT_NOFILE` that leaves room for a
//! handful of fds works.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType, recvmsg, sendmsg, socketpair,
};
use serde::{Deserialize, Serialize};

use crate::config::{Config, NamespaceType, ProcessConfig};
use crate::error::InitFailure;

/// The environment variable that tells `lashing init` which fd is its socket (its only
/// environment).
pub(crate) const INIT_PIPE_ENV: &str = "_LASHING_INITPIPE";

/// The longest [`ToParent::Log`] line, in bytes: init cuts its lines there, and the parent cuts
/// what it re-emits there again.
pub(crate) const MAX_LOG_LINE: usize = 4096;
/// The most [`ToParent::Log`] messages of one init: init stops sending, and the parent stops
/// re-emitting, past this many.
pub(crate) const MAX_LOG_LINES: usize = 256;

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_at(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Largest message: payloads are a few KiB; this bounds what a hostile peer can make us allocate
/// and is checked before anything is parsed (cf. CVE-2021-43784).
pub(crate) const MAX_MSG: usize = 4 << 20;
/// Largest number of fds in one message.
const MAX_FDS: usize = 253;

/// What init is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum InitKind {
    /// Set up a new container and wait on the exec fifo.
    Standard,
    /// Join a running container (`exec`).
    Setns,
}

/// Which fds of a [`ToInit::Payload`] message are what, in the order they were sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FdLayout {
    /// The next fds are stdin, stdout, stderr (each present or not).
    pub stdio: [bool; 3],
    /// An `O_PATH` handle of the exec fifo follows.
    pub fifo: bool,
    /// Then the console socket (the process gets a terminal whose master goes there).
    #[serde(default)]
    pub console: bool,
    /// Then this many fds to install at 3, 4, ... (`--preserve-fds`, extra files), skipping
    /// the positions of [`FdLayout::preserved_gaps`].
    pub preserved: usize,
    /// Positions among 3, 4, ... (0 = fd 3) that stay closed in the process: the caller had
    /// those fds closed (`--preserve-fds` over a range with holes).
    #[serde(default)]
    pub preserved_gaps: Vec<usize>,
    /// Then this many namespace fds (`exec`), of the types in [`Payload::join_fds`], in order.
    #[serde(default)]
    pub namespaces: usize,
    /// Then the protected executable's detached read-only mount, which init attaches at
    /// [`Payload::exe_attach`] (see `container::exe`).
    #[serde(default)]
    pub exe_mount: bool,
}

/// A cgroup v1 hierarchy to show in the container's `/sys/fs/cgroup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CgroupSource {
    /// Directory name under `/sys/fs/cgroup`.
    pub name: String,
    /// Host directory of the container's cgroup in that hierarchy.
    pub host_dir: PathBuf,
}

/// The whole setup of init, sent once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// Standard or setns.
    pub kind: InitKind,
    /// Container id (keyring name, hooks state).
    pub id: String,
    /// The container's configuration.
    pub config: Config,
    /// The process to run (for `Standard` it is `config.process` overridden by the caller).
    pub process: ProcessConfig,
    /// Namespaces init joins by path, in order (namespaces given by path in the config).
    pub join: Vec<(NamespaceType, PathBuf)>,
    /// Namespaces init joins through the fds that come with the payload (`exec`: the parent
    /// opened the init's namespaces while it held a pidfd of it), in order.
    #[serde(default)]
    pub join_fds: Vec<NamespaceType>,
    /// Namespaces init creates itself with `unshare` (those clone3 could not create).
    pub unshare: u64,
    /// Init forks once more (pid or time namespace entered by setns/unshare) with CLONE_PARENT.
    pub fork: bool,
    /// Time namespace offsets to write before the fork.
    pub time_offsets: Vec<(String, i64, u32)>,
    /// fds that come with this message.
    pub fds: FdLayout,
    /// cgroup v1 sources for `/sys/fs/cgroup` emulation.
    pub cgroup_v1: Vec<CgroupSource>,
    /// Host dir of the container's v2 cgroup.
    pub cgroup_v2: Option<PathBuf>,
    /// The seccomp program, compiled by the parent; init only loads it.
    pub seccomp: Option<crate::security::seccomp::Program>,
    /// The OCI state JSON handed to createContainer/startContainer hooks.
    pub hook_state: Option<String>,
    /// Clear `ONLCR` on the process's terminal before it runs ([`crate::Process::clear_onlcr`]).
    #[serde(default)]
    pub clear_onlcr: bool,
    /// The most verbose level of init's log lines the parent wants ([`ToParent::Log`]).
    #[serde(default)]
    pub log_level: LogLevel,
    /// Init stops before `pivot_root` with [`ToParent::Hooks`] and waits for
    /// [`ToInit::HooksDone`]: the config has prestart, createRuntime or createContainer hooks
    /// (which run after the resources are set, as runc's). Without hooks, the parent sets the
    /// resources at [`ToParent::Ready`] instead: one answered message less per container.
    #[serde(default)]
    pub hooks_sync: bool,
    /// Init stamps its phases and sends the stamps with its messages ([`crate::waterfall`]).
    #[serde(default)]
    pub waterfall: bool,
    /// `run` (*standard*): init does not wait for `start` on the exec fifo (it gets no fifo
    /// handle). It sends `Created` and goes on to the startContainer hooks and `execve` with its
    /// socket open (close-on-exec): a failure after `Created` comes as `Error` on the socket (the
    /// start's failure), and the EOF is the exec. One wait on each side less than `create` +
    /// `start`.
    #[serde(default)]
    pub straight: bool,
    /// Where init attaches the protected executable's mount ([`FdLayout::exe_mount`]) in its
    /// new mount namespace, right before `pivot_root`.
    #[serde(default)]
    pub exe_attach: Option<PathBuf>,
}

/// Init's phase stamps that travel with a message (empty unless [`Payload::waterfall`]).
pub(crate) type Stamps = Vec<crate::waterfall::Stamp>;

/// The level of a forwarded log line, most severe first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum LogLevel {
    /// Errors.
    Error = 0,
    /// Warnings (the default).
    #[default]
    Warn = 1,
    /// Information.
    Info = 2,
    /// Debugging.
    Debug = 3,
    /// Tracing.
    Trace = 4,
}

impl From<tracing::Level> for LogLevel {
    fn from(l: tracing::Level) -> LogLevel {
        match l {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

impl LogLevel {
    /// The most verbose level the current `tracing` subscriber of this process records.
    pub(crate) fn current() -> LogLevel {
        match tracing::level_filters::LevelFilter::current().into_level() {
            Some(l) => l.into(),
            // Off: only errors are worth a datagram (init's failures come as `Error` anyway).
            None => LogLevel::Error,
        }
    }
}

/// Messages to init.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToInit {
    /// The setup.
    Payload(Box<Payload>),
    /// The id maps of init's new user namespace are written.
    MapsDone,
    /// The seccomp listener fd reached the agent.
    SeccompDone,
    /// Prestart/createRuntime hooks ran and resources are set: go on to pivot_root.
    HooksDone,
    /// The tree sent with `IdmapPlease` is idmapped.
    IdmapDone,
    /// State saved: finish and wait on the exec fifo.
    Run,
}

/// Messages from init.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToParent {
    /// Init forked: this is the pid of the real container process (parent's view).
    Pid(i32),
    /// Init unshared a user namespace: write its uid/gid maps, then reply `MapsDone`.
    MapsPlease,
    /// Make the detached mount tree that comes with this message (the clone of the source of
    /// `config.mounts[mount]`) idmapped with that mount's maps, then reply `IdmapDone`.
    IdmapPlease {
        /// Index of the mount in `config.mounts`.
        mount: usize,
    },
    /// Mounts done: run prestart/createRuntime hooks, set resources, then reply `HooksDone`.
    Hooks {
        /// Init's stamps ([`crate::waterfall`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stamps: Stamps,
    },
    /// Setup done up to the security step: set rlimits (and the resources, when no `Hooks`
    /// came), save state, reply `Run`.
    Ready {
        /// Init's stamps ([`crate::waterfall`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stamps: Stamps,
    },
    /// Init loaded a seccomp filter with a notify listener; the fd comes with this message: send
    /// it to the agent at `listenerPath`, then reply `SeccompDone`.
    SeccompFd,
    /// A log line of init, to re-emit through the parent's `tracing` (cut at the init side's
    /// bound; the parent bounds how many it re-emits).
    Log {
        /// Its level.
        level: LogLevel,
        /// The message and its fields, one line.
        message: String,
    },
    /// Setup finished (user, capabilities, seccomp): init closes the socket and waits on the
    /// exec fifo. A failure after this point is written to the exec fifo (after its byte), where
    /// `start` reads it.
    Created {
        /// Init's stamps ([`crate::waterfall`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stamps: Stamps,
    },
    /// Init failed.
    Error(InitFailure),
}

impl ToParent {
    /// The message's name, for `--debug` logs (`read sync type:hooks`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ToParent::Pid(_) => "pid",
            ToParent::MapsPlease => "mapsPlease",
            ToParent::IdmapPlease { .. } => "idmapPlease",
            ToParent::Hooks { .. } => "hooks",
            ToParent::Ready { .. } => "ready",
            ToParent::SeccompFd => "seccompFd",
            ToParent::Log { .. } => "log",
            ToParent::Created { .. } => "created",
            ToParent::Error(_) => "error",
        }
    }
}

impl InitKind {
    /// `standard` (a container's init) or `setns` (exec), as runc names them.
    pub(crate) fn name(self) -> &'static str {
        match self {
            InitKind::Standard => "standard",
            InitKind::Setns => "setns",
        }
    }
}

/// A socketpair (parent end, child end), both `O_CLOEXEC`.
pub(crate) fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (a, b) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    Ok((a, b))
}

/// Sends one message with optional fds.
pub(crate) fn send<T: Serialize>(
    sock: impl AsFd,
    msg: &T,
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> io::Result<()> {
    let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if data.len() > MAX_MSG || fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "init message too large",
        ));
    }
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len().max(1)))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("cannot pack file descriptors"));
    }
    let sent = sendmsg(
        sock,
        &[IoSlice::new(&data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    if sent != data.len() {
        return Err(io::Error::other("short write on the init socket"));
    }
    Ok(())
}

/// A received datagram.
pub(crate) struct Received {
    /// The bytes.
    pub data: Vec<u8>,
    /// The fds that came with it (`O_CLOEXEC`).
    pub fds: Vec<OwnedFd>,
}

/// Receives one datagram; `Ok(None)` on EOF.
pub(crate) fn recv_raw(sock: impl AsFd) -> io::Result<Option<Received>> {
    let sock = sock.as_fd();
    // Peek at the size first so that large payloads are read whole.
    let mut probe = [0u8; 1];
    let mut empty = RecvAncillaryBuffer::new(&mut []);
    let len = loop {
        match recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut probe)],
            &mut empty,
            RecvFlags::PEEK | RecvFlags::TRUNC,
        ) {
            Ok(r) => break r.bytes,
            // A peer that exits with a datagram of ours unread makes the next read fail once
            // with ECONNRESET; what it sent before exiting is still queued behind that.
            Err(rustix::io::Errno::INTR | rustix::io::Errno::CONNRESET) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if len == 0 {
        // Either EOF or an empty datagram: read it for real to tell.
        let mut space = [MaybeUninit::uninit(); 16];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut probe)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        return Ok(None);
    }
    if len > MAX_MSG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("init message of {len} bytes is too large"),
        ));
    }
    let mut data = vec![0u8; len];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let r = loop {
        match recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut data)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(r) => break r,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    data.truncate(r.bytes);
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    Ok(Some(Received { data, fds }))
}

/// The largest message init sends ([`ToParent`]): its failure reports and log lines are cut
/// well below this (tens of KiB at most, even with every byte escaped in JSON), so the parent
/// reads each message with one `recvmsg` into a buffer of this size ([`recv_bounded`]): pages
/// mapped for it (`sys::pages::ZeroedPages`), zeroed by the kernel, of which only those a message
/// fills become resident (a heap buffer would be cleared, all of it, by an allocator that does not
/// map large blocks itself, as the musl build's).
pub(crate) const MAX_TO_PARENT: usize = 256 << 10;

/// The largest reply to init after the payload (`Run`, `HooksDone`, ...): a unit variant's name.
pub(crate) const MAX_REPLY: usize = 64;

/// Receives one datagram of at most `buf.len()` bytes with a single `recvmsg` (no size probe:
/// for peers whose messages are bounded by construction); `Ok(None)` on EOF. A longer datagram
/// is an error (its tail is lost).
pub(crate) fn recv_bounded(sock: impl AsFd, buf: &mut [u8]) -> io::Result<Option<Received>> {
    let sock = sock.as_fd();
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let r = loop {
        match recvmsg(
            sock,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC | RecvFlags::TRUNC,
        ) {
            Ok(r) => break r,
            // As in `recv_raw`: what the peer sent before it exited is queued behind this.
            Err(rustix::io::Errno::INTR | rustix::io::Errno::CONNRESET) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    if r.bytes > buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "init message of {} bytes is larger than {} bytes",
                r.bytes,
                buf.len()
            ),
        ));
    }
    if r.bytes == 0 {
        return Ok(None);
    }
    Ok(Some(Received {
        data: buf[..r.bytes].to_vec(),
        fds,
    }))
}

/// Parses a datagram as a message.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(data: &[u8]) -> io::Result<T> {
    serde_json::from_slice(data).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Receives and parses one message; `Ok(None)` on EOF.
pub(crate) fn recv<T: for<'de> Deserialize<'de>>(
    sock: impl AsFd,
) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    match recv_raw(sock)? {
        None => Ok(None),
        Some(r) => Ok(Some((parse(&r.data)?, r.fds))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fds() {
        let (a, b) = pair().unwrap();
        let (r, _w) = rustix::pipe::pipe().unwrap();
        send(&a, &ToParent::Pid(42), &[r.as_fd()]).unwrap();
        let (msg, fds): (ToParent, _) = recv(&b).unwrap().unwrap();
        assert!(matches!(msg, ToParent::Pid(42)));
        assert_eq!(fds.len(), 1);
        drop(a);
        assert!(recv::<ToParent>(&b).unwrap().is_none());
    }

    #[test]
    fn bounded_receive_reads_one_datagram_and_refuses_a_longer_one() {
        let (a, b) = pair().unwrap();
        let (r, _w) = rustix::pipe::pipe().unwrap();
        let mut buf = vec![0u8; MAX_TO_PARENT];
        send(&a, &ToParent::Pid(7), &[r.as_fd()]).unwrap();
        send(&a, &ToParent::Pid(8), &[]).unwrap();
        let got = recv_bounded(&b, &mut buf).unwrap().unwrap();
        assert!(matches!(parse(&got.data).unwrap(), ToParent::Pid(7)));
        assert_eq!(got.fds.len(), 1);
        let got = recv_bounded(&b, &mut buf).unwrap().unwrap();
        assert!(matches!(parse(&got.data).unwrap(), ToParent::Pid(8)));
        assert!(got.fds.is_empty());
        send(&a, &ToParent::Pid(123456), &[]).unwrap();
        let e = recv_bounded(&b, &mut [0u8; 4]).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        drop(a);
        assert!(recv_bounded(&b, &mut buf).unwrap().is_none());
    }

    /// What init may send stays under [`MAX_TO_PARENT`] at its bounds, every byte escaped.
    #[test]
    fn init_messages_fit_the_bounded_receive() {
        let worst = "\u{1}".repeat(MAX_LOG_LINE);
        let log = ToParent::Log {
            level: LogLevel::Trace,
            message: worst.clone(),
        };
        let fail = ToParent::Error(InitFailure {
            step: "s".repeat(64),
            path: Some(worst[..2048].to_string()),
            errno: Some(1),
            message: worst,
        });
        for m in [log, fail] {
            let n = serde_json::to_vec(&m).unwrap().len();
            assert!(n < MAX_TO_PARENT, "{n} bytes");
        }
    }

    #[test]
    fn replies_to_init_fit_max_reply() {
        for m in [
            ToInit::MapsDone,
            ToInit::SeccompDone,
            ToInit::HooksDone,
            ToInit::IdmapDone,
            ToInit::Run,
        ] {
            assert!(serde_json::to_vec(&m).unwrap().len() <= MAX_REPLY, "{m:?}");
        }
    }

    #[test]
    fn large_message_is_read_whole() {
        let (a, b) = pair().unwrap();
        rustix::net::sockopt::set_socket_send_buffer_size(&a, 1 << 20).unwrap();
        let big = "x".repeat(100_000);
        send(
            &a,
            &ToParent::Error(InitFailure {
                step: "s".into(),
                path: None,
                errno: None,
                message: big.clone(),
            }),
            &[],
        )
        .unwrap();
        let (msg, _): (ToParent, _) = recv(&b).unwrap().unwrap();
        match msg {
            ToParent::Error(f) => assert_eq!(f.message, big),
            other => panic!("unexpected {other:?}"),
        }
    }
}
