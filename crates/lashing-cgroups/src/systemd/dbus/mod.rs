//! A minimal synchronous D-Bus client: a Unix socket, `AUTH EXTERNAL`, `Hello` on a bus,
//! method calls with replies, and the signals it is asked to keep (systemd's `JobRemoved`).
//! No threads, no async runtime, no `unsafe`: the create path stays single-threaded.

pub mod message;
pub mod wire;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use message::{Kind, Message};
pub use wire::Value;

/// Errors of the D-Bus client. Each names what failed (the socket, the call) and the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbusError {
    /// Connecting to a bus socket failed.
    #[error("cannot connect to D-Bus socket {path}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("D-Bus I/O on {path} while {op}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server refused or garbled the authentication.
    #[error("D-Bus authentication on {path} failed: server said {reply:?}")]
    Auth {
        /// The socket.
        path: PathBuf,
        /// The server's line.
        reply: String,
    },
    /// A message could not be (un)marshalled.
    #[error("D-Bus message on {path}")]
    Wire {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: wire::WireError,
    },
    /// The peer answered a call with an error (`name` is e.g.
    /// `org.freedesktop.systemd1.NoSuchUnit`).
    #[error("{method}: {name}: {message}")]
    Remote {
        /// The method called.
        method: String,
        /// The D-Bus error name.
        name: String,
        /// The error message.
        message: String,
    },
    /// No reply (or signal) came in time.
    #[error("no answer from {path} within {timeout:?} while {what}")]
    Timeout {
        /// The socket.
        path: PathBuf,
        /// What was awaited.
        what: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// A reply had an unexpected shape.
    #[error("unexpected reply to {method}: {reason}")]
    BadReply {
        /// The method called.
        method: String,
        /// What was wrong.
        reason: String,
    },
}

impl DbusError {
    /// The D-Bus error name of a remote error.
    pub fn remote_name(&self) -> Option<&str> {
        match self {
            DbusError::Remote { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// A [`Result`](std::result::Result) of this module.
pub type Result<T, E = DbusError> = std::result::Result<T, E>;

/// How long a reply is waited for by default.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The `AUTH EXTERNAL` line for `uid` (the uid in decimal, hex-encoded).
pub fn auth_line(uid: u32) -> String {
    let hex: String = uid
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("AUTH EXTERNAL {hex}\r\n")
}

/// An open, authenticated connection.
#[derive(Debug)]
pub struct Connection {
    sock: UnixStream,
    path: PathBuf,
    serial: u32,
    /// Whether a bus daemon is on the other end (then `Hello` was sent, and signals need
    /// a match rule); `false` for systemd's private socket.
    bus: bool,
    /// Signals received while waiting for a reply, kept for [`Connection::wait_signal`].
    signals: VecDeque<Message>,
}

impl Connection {
    /// Connects to the socket `path`, authenticates as `uid` (EXTERNAL), and says `Hello` when
    /// `bus` (a bus daemon, not a peer-to-peer socket such as `/run/systemd/private`).
    pub fn open(path: &Path, uid: u32, bus: bool) -> Result<Connection> {
        let sock = UnixStream::connect(path).map_err(|source| DbusError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c = Connection {
            sock,
            path: path.to_path_buf(),
            serial: 0,
            bus,
            signals: VecDeque::new(),
        };
        c.authenticate(uid)?;
        if bus {
            c.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
                vec![],
            )?;
        }
        Ok(c)
    }

    /// Whether a bus daemon is on the other end.
    pub fn is_bus(&self) -> bool {
        self.bus
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, op: &'static str) -> impl FnOnce(std::io::Error) -> DbusError + '_ {
        move |source| DbusError::Io {
            path: self.path.clone(),
            op,
            source,
        }
    }

    /// `AUTH EXTERNAL` and `BEGIN` in one write, then the server's `OK` line (as sd-bus does).
    /// `BEGIN` goes before the `OK` is read: sent after it, together with the first message in
    /// one segment, systemd's server (sd-bus) switches to messages but leaves that first message
    /// unread until more bytes come (a call hung 30 s in the systemd guest).
    fn authenticate(&mut self, uid: u32) -> Result<()> {
        let line = format!("\0{}BEGIN\r\n", auth_line(uid));
        self.sock
            .set_read_timeout(Some(CALL_TIMEOUT))
            .map_err(self.io("setting a timeout"))?;
        self.sock
            .write_all(line.as_bytes())
            .map_err(self.io("authenticating"))?;
        // One line back, byte by byte (nothing may be read past it).
        let mut reply = Vec::new();
        let mut b = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            if reply.len() > 512 {
                break;
            }
            match self.sock.read(&mut b).map_err(self.io("authenticating"))? {
                0 => break,
                _ => reply.push(b[0]),
            }
        }
        let reply = String::from_utf8_lossy(&reply).trim_end().to_owned();
        if !reply.starts_with("OK ") {
            return Err(DbusError::Auth {
                path: self.path.clone(),
                reply,
            });
        }
        Ok(())
    }

    /// Sends `m` with a fresh serial and returns the serial.
    pub fn send(&mut self, m: &Message) -> Result<u32> {
        self.serial = self.serial.wrapping_add(1).max(1);
        let bytes = m.encode(self.serial).map_err(|source| DbusError::Wire {
            path: self.path.clone(),
            source,
        })?;
        self.sock
            .write_all(&bytes)
            .map_err(self.io("sending a message"))?;
        Ok(self.serial)
    }

    /// Reads one message, waiting until `deadline`.
    fn recv(&mut self, deadline: Instant, what: &str) -> Result<Message> {
        let mut head = [0u8; 16];
        self.read_exact(&mut head, deadline, what)?;
        let total = Message::total_len(&head).map_err(|source| DbusError::Wire {
            path: self.path.clone(),
            source,
        })?;
        let mut buf = vec![0u8; total];
        buf[..16].copy_from_slice(&head);
        self.read_exact(&mut buf[16..], deadline, what)?;
        Message::decode(&buf).map_err(|source| DbusError::Wire {
            path: self.path.clone(),
            source,
        })
    }

    fn read_exact(&mut self, mut buf: &mut [u8], deadline: Instant, what: &str) -> Result<()> {
        while !buf.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timeout(what));
            }
            self.sock
                .set_read_timeout(Some(left))
                .map_err(self.io("setting a timeout"))?;
            match self.sock.read(buf) {
                Ok(0) => {
                    return Err(DbusError::Io {
                        path: self.path.clone(),
                        op: "reading a message",
                        source: std::io::ErrorKind::UnexpectedEof.into(),
                    });
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timeout(what));
                }
                Err(e) => return Err(self.io("reading a message")(e)),
            }
        }
        Ok(())
    }

    fn timeout(&self, what: &str) -> DbusError {
        DbusError::Timeout {
            path: self.path.clone(),
            what: what.to_owned(),
            timeout: CALL_TIMEOUT,
        }
    }

    /// Calls `iface.member` on `dest` at `path` and returns the reply's body; an error reply
    /// is [`DbusError::Remote`]. Signals that arrive meanwhile are kept.
    pub fn call(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Result<Vec<Value>> {
        let method = format!("{iface}.{member}");
        let serial = self.send(&Message::call(dest, path, iface, member, body))?;
        tracing::trace!(serial, method, "dbus: call sent");
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let m = self.recv(deadline, &method)?;
            tracing::trace!(kind = m.kind, serial = m.serial, reply = ?m.reply_serial, member = ?m.member, "dbus: received");
            if m.reply_serial == Some(serial) {
                if m.kind == Kind::Error as u8 {
                    return Err(DbusError::Remote {
                        method,
                        name: m.error_name.unwrap_or_default(),
                        message: m
                            .body
                            .first()
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    });
                }
                return Ok(m.body);
            }
            if m.kind == Kind::Signal as u8 && self.signals.len() < 1024 {
                self.signals.push_back(m);
            }
        }
    }

    /// Waits (until `timeout`) for a signal `iface.member` for which `matches` holds, taking
    /// the ones kept by earlier calls first; other signals are dropped.
    pub fn wait_signal(
        &mut self,
        iface: &str,
        member: &str,
        timeout: Duration,
        mut matches: impl FnMut(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        let is = |m: &Message| {
            m.kind == Kind::Signal as u8
                && m.interface.as_deref() == Some(iface)
                && m.member.as_deref() == Some(member)
        };
        while let Some(m) = self.signals.pop_front() {
            if is(&m) && matches(&m.body) {
                return Ok(m.body);
            }
        }
        let deadline = Instant::now() + timeout;
        let what = format!("waiting for signal {iface}.{member}");
        loop {
            let m = self.recv(deadline, &what)?;
            if is(&m) && matches(&m.body) {
                return Ok(m.body);
            }
        }
    }
}

#[cfg(test)]
mod tests;
