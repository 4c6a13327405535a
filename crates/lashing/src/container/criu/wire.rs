//! The protobuf (proto2) wire format, the subset CRIU's `rpc.proto` uses: varints (`int32`,
//! `uint32`, `bool`, enums), length-delimited fields (`string`, `bytes`, nested messages) and
//! repeated fields as repeated keys. Unknown fields of other wire types (fixed 32/64-bit) are
//! skipped on decode, as protobuf requires, so a newer CRIU's extra fields do no harm.
//!
//! Hand-written instead of a protobuf crate: a few dozen lines cover the format, and the
//! messages (`rpc.rs`) are a small fixed subset (see ARCHITECTURE.md "Dependencies and why").

/// Wire type of a varint field.
const VARINT: u8 = 0;
/// Wire type of a 64-bit field.
const FIXED64: u8 = 1;
/// Wire type of a length-delimited field.
const LEN: u8 = 2;
/// Wire type of a 32-bit field.
const FIXED32: u8 = 5;

/// A malformed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message ends inside a field.
    #[error("truncated protobuf message at byte {0}")]
    Truncated(usize),
    /// A varint longer than 10 bytes.
    #[error("varint too long at byte {0}")]
    LongVarint(usize),
    /// A wire type protobuf does not define (or the deprecated groups).
    #[error("unsupported wire type {wire_type} of field {field}")]
    WireType {
        /// The field number.
        field: u32,
        /// The wire type.
        wire_type: u8,
    },
    /// A field with the wrong wire type or an invalid value (bad UTF-8 in a string).
    #[error("field {field}: {what}")]
    Field {
        /// The field number.
        field: u32,
        /// What is wrong.
        what: &'static str,
    },
}

/// A message being encoded.
#[derive(Debug, Default, Clone)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    /// A varint field (`uint32`, `uint64`, enums).
    pub fn uint(&mut self, field: u32, v: u64) {
        self.key(field, VARINT);
        self.varint(v);
    }

    /// An `int32` field: a negative value is sign-extended to 64 bits (10 bytes), as protobuf
    /// encodes it.
    pub fn int32(&mut self, field: u32, v: i32) {
        self.uint(field, i64::from(v) as u64);
    }

    /// A `bool` field.
    pub fn bool(&mut self, field: u32, v: bool) {
        self.uint(field, u64::from(v));
    }

    /// A `bytes` field (or a nested message's encoding).
    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
    }

    /// A `string` field.
    pub fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    /// A nested message.
    pub fn message(&mut self, field: u32, m: Writer) {
        self.bytes(field, &m.0);
    }
}

/// One field of a decoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A varint.
    Varint(u64),
    /// A length-delimited payload.
    Len(&'a [u8]),
    /// A fixed-width value (skipped by every message here).
    Fixed(u64),
}

impl<'a> Value<'a> {
    /// As an `int32` (the low 32 bits of the varint, as protobuf truncates).
    pub fn int32(self, field: u32) -> Result<i32, WireError> {
        match self {
            Value::Varint(v) => Ok(v as i32),
            _ => Err(WireError::Field {
                field,
                what: "not a varint",
            }),
        }
    }

    /// As a `uint32`/enum.
    pub fn uint32(self, field: u32) -> Result<u32, WireError> {
        self.int32(field).map(|v| v as u32)
    }

    /// As a `bool`.
    pub fn bool(self, field: u32) -> Result<bool, WireError> {
        match self {
            Value::Varint(v) => Ok(v != 0),
            _ => Err(WireError::Field {
                field,
                what: "not a varint",
            }),
        }
    }

    /// As `bytes` or a nested message.
    pub fn bytes(self, field: u32) -> Result<&'a [u8], WireError> {
        match self {
            Value::Len(b) => Ok(b),
            _ => Err(WireError::Field {
                field,
                what: "not length-delimited",
            }),
        }
    }

    /// As a `string`.
    pub fn string(self, field: u32) -> Result<String, WireError> {
        let b = self.bytes(field)?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::Field {
            field,
            what: "invalid UTF-8",
        })
    }
}

/// The fields of an encoded message, in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(WireError::Truncated(start));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError::LongVarint(start))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError::Truncated(self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field (number and value), `None` at the end.
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        let wire_type = (key & 7) as u8;
        let value = match wire_type {
            VARINT => Value::Varint(self.varint()?),
            LEN => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| WireError::Truncated(self.pos))?;
                Value::Len(self.take(n)?)
            }
            FIXED64 => Value::Fixed(u64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            FIXED32 => Value::Fixed(u64::from(u32::from_le_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            ))),
            _ => return Err(WireError::WireType { field, wire_type }),
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // From the protobuf encoding guide: field 1 = 150 is 08 96 01.
        let mut w = Writer::default();
        w.uint(1, 150);
        assert_eq!(w.into_bytes(), [0x08, 0x96, 0x01]);
        let mut w = Writer::default();
        w.string(2, "testing");
        assert_eq!(w.into_bytes(), b"\x12\x07testing");
        let mut w = Writer::default();
        w.int32(9, -1);
        let b = w.into_bytes();
        assert_eq!(b.len(), 11, "a negative int32 takes 10 bytes: {b:x?}");
        let mut r = Reader::new(&b);
        let (f, v) = r.next_field().unwrap().unwrap();
        assert_eq!((f, v.int32(f).unwrap()), (9, -1));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(
            Reader::new(&[0x08]).next_field(),
            Err(WireError::Truncated(1))
        );
        assert_eq!(
            Reader::new(&[0x12, 0x05, b'a']).next_field(),
            Err(WireError::Truncated(2))
        );
        assert!(matches!(
            Reader::new(&[0x0b]).next_field(),
            Err(WireError::WireType { wire_type: 3, .. })
        ));
        assert!(matches!(
            Reader::new(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .next_field(),
            Err(WireError::LongVarint(1))
        ));
        // Fixed-width fields are skipped, not refused.
        let mut r = Reader::new(&[0x0d, 1, 2, 3, 4, 0x08, 0x01]);
        assert_eq!(
            r.next_field().unwrap(),
            Some((1, Value::Fixed(0x0403_0201)))
        );
        assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(1))));
        assert_eq!(r.next_field().unwrap(), None);
    }

    #[derive(Debug, Clone)]
    enum F {
        U(u32, u64),
        I(u32, i32),
        B(u32, Vec<u8>),
    }

    fn field() -> impl Strategy<Value = F> {
        let num = 1u32..(1 << 29);
        prop_oneof![
            (num.clone(), any::<u64>()).prop_map(|(n, v)| F::U(n, v)),
            (num.clone(), any::<i32>()).prop_map(|(n, v)| F::I(n, v)),
            (num, proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(n, v)| F::B(n, v)),
        ]
    }

    proptest! {
        #[test]
        fn fields_round_trip(fields in proptest::collection::vec(field(), 0..20)) {
            let mut w = Writer::default();
            for f in &fields {
                match f {
                    F::U(n, v) => w.uint(*n, *v),
                    F::I(n, v) => w.int32(*n, *v),
                    F::B(n, v) => w.bytes(*n, v),
                }
            }
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            for f in &fields {
                let (n, v) = r.next_field().unwrap().unwrap();
                match f {
                    F::U(m, x) => prop_assert_eq!((n, v), (*m, Value::Varint(*x))),
                    F::I(m, x) => prop_assert_eq!((n, v.int32(n).unwrap()), (*m, *x)),
                    F::B(m, x) => prop_assert_eq!((n, v.bytes(n).unwrap()), (*m, &x[..])),
                }
            }
            prop_assert_eq!(r.next_field().unwrap(), None);
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = Reader::new(&bytes);
            for _ in 0..bytes.len() + 1 {
                match r.next_field() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }
    }
}
