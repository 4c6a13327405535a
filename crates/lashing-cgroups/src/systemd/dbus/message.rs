//! D-Bus messages: the fixed header, the header fields, and whole messages to and from bytes.

use super::wire::{Decoder, Encoder, Value, WireError, decode_body, encode_body};

/// The message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A method call.
    Call = 1,
    /// A method's return.
    Return = 2,
    /// An error reply.
    Error = 3,
    /// A signal.
    Signal = 4,
}

/// `NO_REPLY_EXPECTED`.
pub const FLAG_NO_REPLY: u8 = 1;
/// The largest message accepted (the specification's limit is 128 MiB; systemd's replies are
/// small: 8 MiB is plenty and bounds what a broken peer can make us allocate).
pub const MAX_MESSAGE: usize = 8 << 20;

/// One message (header fields decoded, body decoded by its signature).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    /// Type (1-4).
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Serial.
    pub serial: u32,
    /// PATH.
    pub path: Option<String>,
    /// INTERFACE.
    pub interface: Option<String>,
    /// MEMBER.
    pub member: Option<String>,
    /// ERROR_NAME.
    pub error_name: Option<String>,
    /// REPLY_SERIAL.
    pub reply_serial: Option<u32>,
    /// DESTINATION.
    pub destination: Option<String>,
    /// SENDER.
    pub sender: Option<String>,
    /// The body.
    pub body: Vec<Value>,
}

impl Message {
    /// A method call.
    pub fn call(dest: &str, path: &str, iface: &str, member: &str, body: Vec<Value>) -> Message {
        Message {
            kind: Kind::Call as u8,
            destination: Some(dest.into()),
            path: Some(path.into()),
            interface: Some(iface.into()),
            member: Some(member.into()),
            body,
            ..Message::default()
        }
    }

    /// Marshals the message with `serial`.
    pub fn encode(&self, serial: u32) -> Result<Vec<u8>, WireError> {
        let (body, sig) = encode_body(&self.body)?;
        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![Value::Byte(code), Value::variant(v)]));
        };
        if let Some(p) = &self.path {
            field(1, Value::ObjectPath(p.clone()));
        }
        if let Some(i) = &self.interface {
            field(2, Value::Str(i.clone()));
        }
        if let Some(m) = &self.member {
            field(3, Value::Str(m.clone()));
        }
        if let Some(e) = &self.error_name {
            field(4, Value::Str(e.clone()));
        }
        if let Some(r) = self.reply_serial {
            field(5, Value::U32(r));
        }
        if let Some(d) = &self.destination {
            field(6, Value::Str(d.clone()));
        }
        if let Some(s) = &self.sender {
            field(7, Value::Str(s.clone()));
        }
        if !sig.is_empty() {
            field(8, Value::Signature(sig));
        }
        let body_len = u32::try_from(body.len()).map_err(|_| WireError("body too long".into()))?;
        let mut e = Encoder::default();
        e.buf.extend_from_slice(&[b'l', self.kind, self.flags, 1]);
        e.put(&Value::U32(body_len))?;
        e.put(&Value::U32(serial))?;
        e.put(&Value::Array("(yv)".into(), fields))?;
        while !e.buf.len().is_multiple_of(8) {
            e.buf.push(0);
        }
        e.buf.extend_from_slice(&body);
        if e.buf.len() > MAX_MESSAGE {
            return Err(WireError("message too long".into()));
        }
        Ok(e.buf)
    }

    /// How many bytes the message starting with these 16 header bytes has in all.
    pub fn total_len(head: &[u8; 16]) -> Result<usize, WireError> {
        if head[0] != b'l' {
            return Err(WireError(format!(
                "unsupported byte order {:?} (only little-endian is spoken)",
                head[0] as char
            )));
        }
        if head[3] != 1 {
            return Err(WireError(format!("protocol version {}", head[3])));
        }
        let body = u32::from_le_bytes(head[4..8].try_into().expect("4")) as usize;
        let fields = u32::from_le_bytes(head[12..16].try_into().expect("4")) as usize;
        let total = (16 + fields).next_multiple_of(8) + body;
        if fields > MAX_MESSAGE || total > MAX_MESSAGE {
            return Err(WireError(format!("message of {total} bytes is too long")));
        }
        Ok(total)
    }

    /// Unmarshals one whole message.
    pub fn decode(buf: &[u8]) -> Result<Message, WireError> {
        let head: &[u8; 16] = buf
            .get(..16)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| WireError("message shorter than its header".into()))?;
        let total = Message::total_len(head)?;
        if buf.len() != total {
            return Err(WireError(format!(
                "message of {} bytes, header says {total}",
                buf.len()
            )));
        }
        let mut d = Decoder::new(buf);
        d.pos = 12;
        let fields = d.get("a(yv)")?;
        let header_end = d.pos.next_multiple_of(8);
        let mut m = Message {
            kind: buf[1],
            flags: buf[2],
            serial: u32::from_le_bytes(buf[8..12].try_into().expect("4")),
            ..Message::default()
        };
        let mut sig = String::new();
        let Value::Array(_, fields) = fields else {
            unreachable!("decoded as an array")
        };
        for f in fields {
            let Value::Struct(f) = f else { continue };
            let (Value::Byte(code), Value::Variant(v)) = (&f[0], &f[1]) else {
                continue;
            };
            let text = v.as_str().map(str::to_owned);
            match (code, v.as_ref()) {
                (1, Value::ObjectPath(_)) => m.path = text,
                (2, Value::Str(_)) => m.interface = text,
                (3, Value::Str(_)) => m.member = text,
                (4, Value::Str(_)) => m.error_name = text,
                (5, Value::U32(r)) => m.reply_serial = Some(*r),
                (6, Value::Str(_)) => m.destination = text,
                (7, Value::Str(_)) => m.sender = text,
                (8, Value::Signature(s)) => sig = s.clone(),
                (1..=8, v) => {
                    return Err(WireError(format!(
                        "header field {code} has the wrong type {}",
                        v.signature()
                    )));
                }
                _ => {} // unknown fields (and UNIX_FDS) are ignored
            }
        }
        if !(1..=4).contains(&m.kind) {
            return Err(WireError(format!("unknown message type {}", m.kind)));
        }
        m.body = decode_body(&buf[header_end..], &sig)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_encodes_as_the_reference_bytes() {
        // org.freedesktop.DBus.Hello as dbus-daemon's clients send it (serial 1).
        let m = Message::call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            vec![],
        );
        let b = m.encode(1).unwrap();
        assert_eq!(
            &b[..16],
            b"l\x01\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\x6d\x00\x00\x00"
        );
        assert_eq!(b.len(), 16 + 0x70);
        assert_eq!(
            Message::decode(&b).unwrap().member.as_deref(),
            Some("Hello")
        );
    }

    #[test]
    fn message_round_trip_with_body() {
        let mut m = Message::call(
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StopUnit",
            vec![Value::Str("a.scope".into()), Value::Str("replace".into())],
        );
        m.flags = FLAG_NO_REPLY;
        let b = m.encode(7).unwrap();
        let back = Message::decode(&b).unwrap();
        assert_eq!(back.serial, 7);
        m.serial = 7;
        assert_eq!(back, m);
    }

    #[test]
    fn rejects_big_endian_and_oversized() {
        let mut head = [0u8; 16];
        head[0] = b'B';
        head[3] = 1;
        assert!(Message::total_len(&head).is_err());
        head[0] = b'l';
        head[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Message::total_len(&head).is_err());
        assert!(Message::decode(b"l\x01").is_err());
    }
}
