//! The D-Bus wire format (little-endian): typed values, signatures, and the marshalling of
//! message bodies both ways. Only what talking to systemd needs, but every basic type and every
//! container type is handled, so that any reply systemd sends can be read (and skipped).

use std::fmt;

/// Why bytes or a signature could not be (un)marshalled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("D-Bus marshalling: {0}")]
pub struct WireError(pub String);

fn bad<T>(what: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(what.into()))
}

/// A D-Bus value. Arrays carry their element signature, so that an empty array keeps its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `y`
    Byte(u8),
    /// `b`
    Bool(bool),
    /// `n`
    I16(i16),
    /// `q`
    U16(u16),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `x`
    I64(i64),
    /// `t`
    U64(u64),
    /// `d`
    Double(f64),
    /// `s`
    Str(String),
    /// `o`
    ObjectPath(String),
    /// `g`
    Signature(String),
    /// `a<elem>`: the element signature and the elements.
    Array(String, Vec<Value>),
    /// `(...)`
    Struct(Vec<Value>),
    /// `{kv}` (only inside an array)
    DictEntry(Box<Value>, Box<Value>),
    /// `v`
    Variant(Box<Value>),
}

impl Value {
    /// The signature of this value (one complete type).
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// A variant holding `v`.
    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// The string of a `s`, `o` or `g` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    /// The value inside a variant (any other value is itself).
    pub fn unvariant(&self) -> &Value {
        match self {
            Value::Variant(v) => v.unvariant(),
            v => v,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Byte(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::Double(v) => write!(f, "{v}"),
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => write!(f, "{s:?}"),
            Value::Array(_, items) | Value::Struct(items) => {
                let open = if matches!(self, Value::Array(..)) {
                    "["
                } else {
                    "("
                };
                f.write_str(open)?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(if open == "[" { "]" } else { ")" })
            }
            Value::DictEntry(k, v) => write!(f, "{k}: {v}"),
            Value::Variant(v) => write!(f, "<{v}>"),
        }
    }
}

/// The alignment of a type by its first signature character.
fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' => 4,
        _ => 8, // x t d ( {
    }
}

/// The length of the first complete type in `sig`, checked (nesting depth, dict entries only
/// in arrays, basic dict keys).
pub fn complete_type_len(sig: &[u8]) -> Result<usize, WireError> {
    type_len(sig, false)
}

/// Whether `elem` is one complete type that an array may hold (dict entries included).
fn valid_element(elem: &str) -> bool {
    type_len(elem.as_bytes(), true).ok() == Some(elem.len())
}

fn type_len(sig: &[u8], in_array: bool) -> Result<usize, WireError> {
    fn walk(sig: &[u8], depth: usize, in_array: bool) -> Result<usize, WireError> {
        if depth > 64 {
            return bad("signature nested too deeply");
        }
        let Some(&c) = sig.first() else {
            return bad("signature ends inside a type");
        };
        match c {
            b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g'
            | b'v' | b'h' => Ok(1),
            b'a' => Ok(1 + walk(&sig[1..], depth + 1, true)?),
            b'(' => {
                let mut i = 1;
                while sig.get(i) != Some(&b')') {
                    if i >= sig.len() {
                        return bad("unterminated struct in signature");
                    }
                    i += walk(&sig[i..], depth + 1, false)?;
                }
                if i == 1 {
                    return bad("empty struct in signature");
                }
                Ok(i + 1)
            }
            b'{' if in_array => {
                let key = *sig.get(1).unwrap_or(&0);
                if !b"ybnqiuxtdsogh".contains(&key) {
                    return bad("dict entry key is not a basic type");
                }
                let vlen = walk(&sig[2..], depth + 1, false)?;
                if sig.get(2 + vlen) != Some(&b'}') {
                    return bad("dict entry must have exactly two types");
                }
                Ok(3 + vlen)
            }
            c => bad(format!("invalid signature character {:?}", c as char)),
        }
    }
    walk(sig, 0, in_array)
}

/// Splits a signature into its complete types (validating it).
pub fn split_signature(sig: &str) -> Result<Vec<&str>, WireError> {
    if sig.len() > 255 {
        return bad("signature longer than 255");
    }
    let b = sig.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let n = complete_type_len(&b[i..])?;
        out.push(&sig[i..i + n]);
        i += n;
    }
    Ok(out)
}

/// Marshals values into a buffer whose offset 0 is 8-aligned (a message or its body).
#[derive(Debug, Default)]
pub struct Encoder {
    /// The bytes so far.
    pub buf: Vec<u8>,
}

impl Encoder {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn string(&mut self, s: &str) -> Result<(), WireError> {
        if s.contains('\0') {
            return bad("string contains a NUL byte");
        }
        let len = u32::try_from(s.len()).or_else(|_| bad("string too long"))?;
        self.pad(4);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    /// Appends one value.
    pub fn put(&mut self, v: &Value) -> Result<(), WireError> {
        match v {
            Value::Byte(x) => self.buf.push(*x),
            Value::Bool(x) => {
                self.pad(4);
                self.buf.extend_from_slice(&u32::from(*x).to_le_bytes());
            }
            Value::I16(x) => {
                self.pad(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U16(x) => {
                self.pad(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::I32(x) => {
                self.pad(4);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U32(x) => {
                self.pad(4);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::I64(x) => {
                self.pad(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U64(x) => {
                self.pad(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::Double(x) => {
                self.pad(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::Str(s) => self.string(s)?,
            Value::ObjectPath(s) => {
                if !valid_object_path(s) {
                    return bad(format!("invalid object path {s:?}"));
                }
                self.string(s)?;
            }
            Value::Signature(s) => {
                split_signature(s)?;
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                if !valid_element(elem) {
                    return bad(format!("invalid array element signature {elem:?}"));
                }
                self.pad(4);
                let len_at = self.buf.len();
                self.buf.extend_from_slice(&[0; 4]);
                self.pad(alignment(elem.as_bytes()[0]));
                let start = self.buf.len();
                for item in items {
                    if item.signature() != *elem {
                        return bad(format!("array of {elem:?} holds a {:?}", item.signature()));
                    }
                    self.put(item)?;
                }
                let len = u32::try_from(self.buf.len() - start)
                    .ok()
                    .filter(|l| *l <= 1 << 26)
                    .ok_or_else(|| WireError("array longer than 64 MiB".into()))?;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                if fields.is_empty() {
                    return bad("empty struct");
                }
                self.pad(8);
                for f in fields {
                    self.put(f)?;
                }
            }
            Value::DictEntry(k, val) => {
                self.pad(8);
                self.put(k)?;
                self.put(val)?;
            }
            Value::Variant(inner) => {
                let sig = inner.signature();
                self.put(&Value::Signature(sig))?;
                self.put(inner)?;
            }
        }
        Ok(())
    }
}

/// Whether `s` is a valid D-Bus object path.
pub fn valid_object_path(s: &str) -> bool {
    if s == "/" {
        return true;
    }
    s.starts_with('/')
        && !s.ends_with('/')
        && s[1..]
            .split('/')
            .all(|e| !e.is_empty() && e.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
}

/// Unmarshals values from a buffer whose offset 0 is 8-aligned.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    /// The read position.
    pub pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, pos: 0 }
    }

    fn align(&mut self, a: usize) -> Result<(), WireError> {
        let next = self.pos.next_multiple_of(a);
        if next > self.buf.len() {
            return bad("message truncated (padding)");
        }
        if self.buf[self.pos..next].iter().any(|b| *b != 0) {
            return bad("non-zero padding");
        }
        self.pos = next;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return bad("message truncated");
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        self.align(N)?;
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.fixed::<4>()?))
    }

    fn text(&mut self, len: usize) -> Result<String, WireError> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return bad("string not NUL-terminated");
        }
        let s = std::str::from_utf8(bytes).or_else(|_| bad("string is not UTF-8"))?;
        if s.contains('\0') {
            return bad("string contains a NUL byte");
        }
        Ok(s.to_owned())
    }

    /// Reads one value of complete type `sig`.
    pub fn get(&mut self, sig: &str) -> Result<Value, WireError> {
        self.get_depth(sig, 0)
    }

    fn get_depth(&mut self, sig: &str, depth: usize) -> Result<Value, WireError> {
        if depth > 64 {
            return bad("value nested too deeply");
        }
        let b = sig.as_bytes();
        Ok(match b.first().copied().unwrap_or(0) {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return bad(format!("boolean {n}")),
            },
            b'n' => Value::I16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed()?)),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.fixed()?)),
            b's' => {
                let len = self.u32()? as usize;
                Value::Str(self.text(len)?)
            }
            b'o' => {
                let len = self.u32()? as usize;
                let s = self.text(len)?;
                if !valid_object_path(&s) {
                    return bad(format!("invalid object path {s:?}"));
                }
                Value::ObjectPath(s)
            }
            b'g' => {
                let len = self.take(1)?[0] as usize;
                let s = self.text(len)?;
                split_signature(&s)?;
                Value::Signature(s)
            }
            b'v' => {
                let len = self.take(1)?[0] as usize;
                let s = self.text(len)?;
                if complete_type_len(s.as_bytes()).ok() != Some(s.len()) {
                    return bad(format!("variant signature {s:?} is not one complete type"));
                }
                Value::Variant(Box::new(self.get_depth(&s, depth + 1)?))
            }
            b'a' => {
                let elem = &sig[1..];
                let len = self.u32()? as usize;
                if len > 1 << 26 {
                    return bad("array longer than 64 MiB");
                }
                self.align(alignment(elem.as_bytes()[0]))?;
                let end = self.pos + len;
                if end > self.buf.len() {
                    return bad("message truncated (array)");
                }
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.get_depth(elem, depth + 1)?);
                }
                if self.pos != end {
                    return bad("array elements overrun its length");
                }
                Value::Array(elem.to_owned(), items)
            }
            b'(' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                for t in split_signature(inner)? {
                    fields.push(self.get_depth(t, depth + 1)?);
                }
                Value::Struct(fields)
            }
            b'{' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let parts = split_signature(inner)?;
                let k = self.get_depth(parts[0], depth + 1)?;
                let v = self.get_depth(parts[1], depth + 1)?;
                Value::DictEntry(Box::new(k), Box::new(v))
            }
            _ => return bad(format!("cannot decode signature {sig:?}")),
        })
    }
}

/// Marshals `values` as a message body; returns the bytes and the body signature.
pub fn encode_body(values: &[Value]) -> Result<(Vec<u8>, String), WireError> {
    let mut e = Encoder::default();
    let mut sig = String::new();
    for v in values {
        sig.push_str(&v.signature());
        e.put(v)?;
    }
    if sig.len() > 255 {
        return bad("body signature longer than 255");
    }
    Ok((e.buf, sig))
}

/// Unmarshals a message body of signature `sig`; every byte must be used.
pub fn decode_body(body: &[u8], sig: &str) -> Result<Vec<Value>, WireError> {
    let mut d = Decoder::new(body);
    let mut out = Vec::new();
    for t in split_signature(sig)? {
        out.push(d.get(t)?);
    }
    if d.pos != body.len() {
        return bad("trailing bytes after the body");
    }
    Ok(out)
}
