//! `org.systemd.property.<Name>` annotations as unit properties, with runc's rules: the name
//! is ASCII letters only (3 at least); the value is a GVariant text (`true`, `42`,
//! `uint64 42`, `@t 42`, `'text'`, `[1, 2]`, `@as []`, ...: the subset that godbus's
//! `ParseVariant` reads and unit properties use); a `...Sec` name whose letter before `Sec` is
//! lowercase becomes `...USec` with its number converted to a `t` of microseconds.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

use super::dbus::Value;
use super::props::Property;

/// The annotation prefix.
pub const PREFIX: &str = "org.systemd.property.";

fn bad(key: &str, value: &str, reason: String) -> Error {
    Error::InvalidResource {
        resource: format!("annotation {key}"),
        value: value.to_owned(),
        reason,
    }
}

/// The properties of every `org.systemd.property.` annotation, in key order.
pub fn properties(annotations: &BTreeMap<String, String>) -> Result<Vec<Property>> {
    let mut out = Vec::new();
    for (k, v) in annotations {
        let Some(name) = k.strip_prefix(PREFIX) else {
            continue;
        };
        if name.len() < 3 {
            return Err(bad(k, v, "name incorrect: too short".into()));
        }
        if !name.bytes().all(|c| c.is_ascii_alphabetic()) {
            return Err(bad(
                k,
                v,
                "name incorrect: contains non-alphabetic character".into(),
            ));
        }
        let value = parse_variant(v).map_err(|e| bad(k, v, format!("value parse error: {e}")))?;
        let (name, value) = match name.strip_suffix("Sec") {
            Some(stem) if stem.ends_with(|c: char| c.is_ascii_lowercase()) => {
                let usec = sec_to_usec(&value)
                    .ok_or_else(|| bad(k, v, "value parse error: not a number".into()))?;
                (format!("{stem}USec"), Value::U64(usec))
            }
            _ => (name.to_owned(), value),
        };
        out.push((name, value));
    }
    Ok(out)
}

fn sec_to_usec(v: &Value) -> Option<u64> {
    const M: u64 = 1_000_000;
    Some(match v {
        Value::Byte(x) => u64::from(*x) * M,
        Value::I16(x) => (*x as u64).wrapping_mul(M),
        Value::U16(x) => u64::from(*x) * M,
        Value::I32(x) => (*x as u64).wrapping_mul(M),
        Value::U32(x) => u64::from(*x) * M,
        Value::I64(x) => (*x as u64).wrapping_mul(M),
        Value::U64(x) => x.wrapping_mul(M),
        Value::Double(x) => (x * M as f64) as u64,
        _ => return None,
    })
}

/// Parses a GVariant text value (the subset described in the module doc).
pub fn parse_variant(text: &str) -> std::result::Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(None, 0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected {:?}", &text[p.i..]));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

const TYPE_WORDS: &[(&str, &str)] = &[
    ("boolean", "b"),
    ("byte", "y"),
    ("int16", "n"),
    ("uint16", "q"),
    ("int32", "i"),
    ("uint32", "u"),
    ("int64", "x"),
    ("uint64", "t"),
    ("double", "d"),
    ("string", "s"),
    ("objectpath", "o"),
];

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn word(&mut self) -> &str {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"_.+-".contains(c))
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }

    /// One value; `want` is the signature a type annotation or the array asked for.
    fn value(&mut self, want: Option<&str>, depth: usize) -> std::result::Result<Value, String> {
        if depth > 16 {
            return Err("nested too deeply".into());
        }
        self.ws();
        match self.s.get(self.i) {
            None => Err("empty value".into()),
            Some(b'@') => {
                self.i += 1;
                let start = self.i;
                while self.s.get(self.i).is_some_and(|c| !c.is_ascii_whitespace()) {
                    self.i += 1;
                }
                let sig = std::str::from_utf8(&self.s[start..self.i])
                    .unwrap_or("")
                    .to_owned();
                if sig.is_empty() {
                    return Err("empty type annotation".into());
                }
                self.value(Some(&sig), depth + 1)
            }
            Some(b'[') => {
                self.i += 1;
                let elem = match want {
                    Some(w) => Some(
                        w.strip_prefix('a')
                            .ok_or("an array where a scalar was asked")?,
                    ),
                    None => None,
                };
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        break;
                    }
                    if !items.is_empty() {
                        if self.s.get(self.i) != Some(&b',') {
                            return Err("expected , or ] in array".into());
                        }
                        self.i += 1;
                    }
                    let first: Option<String> = items.first().map(Value::signature);
                    let want = elem.map(str::to_owned).or(first);
                    items.push(self.value(want.as_deref(), depth + 1)?);
                }
                let elem = match (elem, items.first()) {
                    (Some(e), _) => e.to_owned(),
                    (None, Some(v)) => v.signature(),
                    (None, None) => return Err("an empty array needs a type (@as [])".into()),
                };
                if items.iter().any(|v| v.signature() != elem) {
                    return Err("array elements of different types".into());
                }
                Ok(Value::Array(elem, items))
            }
            Some(b'\'' | b'"') => {
                let s = self.string()?;
                match want {
                    None | Some("s") => Ok(Value::Str(s)),
                    Some("o") => Ok(Value::ObjectPath(s)),
                    Some(w) => Err(format!("a string where {w} was asked")),
                }
            }
            Some(_) => {
                let start = self.i;
                let w = self.word().to_owned();
                if let Some((_, sig)) = TYPE_WORDS.iter().find(|(n, _)| *n == w) {
                    if want.is_some_and(|x| x != *sig) {
                        return Err(format!("{w} where {} was asked", want.unwrap_or("")));
                    }
                    return self.value(Some(sig), depth + 1);
                }
                if w.is_empty() {
                    return Err(format!("unexpected {:?}", self.s[start] as char));
                }
                scalar(&w, want)
            }
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err("unterminated string".into());
            };
            self.i += 1;
            match c {
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err("unterminated string".into());
                    };
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        e => e,
                    });
                }
                c if c == quote => break,
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8".into())
    }
}

fn scalar(w: &str, want: Option<&str>) -> std::result::Result<Value, String> {
    let num = |w: &str| -> std::result::Result<i128, String> {
        let (neg, digits) = match w.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, w.strip_prefix('+').unwrap_or(w)),
        };
        let v = if let Some(h) = digits.strip_prefix("0x") {
            i128::from_str_radix(h, 16)
        } else {
            digits.parse::<i128>()
        }
        .map_err(|_| format!("{w:?} is not a number"))?;
        Ok(if neg { -v } else { v })
    };
    let range = |w: &str| format!("{w} out of range");
    let float = w.contains(['.', 'e', 'E']) && !w.starts_with("0x");
    Ok(match want {
        Some("b") | None if w == "true" || w == "false" => Value::Bool(w == "true"),
        Some("d") => Value::Double(w.parse().map_err(|_| format!("{w:?} is not a number"))?),
        None if float => Value::Double(w.parse().map_err(|_| format!("{w:?} is not a number"))?),
        None | Some("i") => Value::I32(num(w)?.try_into().map_err(|_| range(w))?),
        Some("y") => Value::Byte(num(w)?.try_into().map_err(|_| range(w))?),
        Some("n") => Value::I16(num(w)?.try_into().map_err(|_| range(w))?),
        Some("q") => Value::U16(num(w)?.try_into().map_err(|_| range(w))?),
        Some("u") => Value::U32(num(w)?.try_into().map_err(|_| range(w))?),
        Some("x") => Value::I64(num(w)?.try_into().map_err(|_| range(w))?),
        Some("t") => Value::U64(num(w)?.try_into().map_err(|_| range(w))?),
        Some(other) => return Err(format!("cannot read {w:?} as {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> Result<Vec<Property>> {
        properties(&BTreeMap::from([(format!("{PREFIX}{k}"), v.to_owned())]))
    }

    #[test]
    fn values_parse_as_godbus_does() {
        assert_eq!(parse_variant("true").unwrap(), Value::Bool(true));
        assert_eq!(parse_variant("42").unwrap(), Value::I32(42));
        assert_eq!(parse_variant("-1").unwrap(), Value::I32(-1));
        assert_eq!(parse_variant("1.5").unwrap(), Value::Double(1.5));
        assert_eq!(parse_variant("uint64 42").unwrap(), Value::U64(42));
        assert_eq!(parse_variant("@t 42").unwrap(), Value::U64(42));
        assert_eq!(parse_variant("'a b'").unwrap(), Value::Str("a b".into()));
        assert_eq!(
            parse_variant("\"x\\\"y\"").unwrap(),
            Value::Str("x\"y".into())
        );
        assert_eq!(
            parse_variant("['a', 'b']").unwrap(),
            Value::Array(
                "s".into(),
                vec![Value::Str("a".into()), Value::Str("b".into())]
            )
        );
        assert_eq!(
            parse_variant("@as []").unwrap(),
            Value::Array("s".into(), vec![])
        );
        assert_eq!(
            parse_variant("@au [1, 2]").unwrap(),
            Value::Array("u".into(), vec![Value::U32(1), Value::U32(2)])
        );
        for bad in [
            "",
            "[]",
            "[1, 'a']",
            "uint32 -1",
            "'open",
            "byte 300",
            "1 2",
            "@t 'x'",
        ] {
            assert!(parse_variant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn annotations_follow_runc_rules() {
        assert!(
            properties(&BTreeMap::from([("other".into(), "x".into())]))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            one("CollectMode", "'inactive-or-failed'").unwrap(),
            vec![(
                "CollectMode".into(),
                Value::Str("inactive-or-failed".into())
            )]
        );
        // ...Sec after a lowercase letter: ...USec in microseconds, from any number type.
        assert_eq!(
            one("TimeoutStopSec", "10").unwrap(),
            vec![("TimeoutStopUSec".into(), Value::U64(10_000_000))]
        );
        assert_eq!(
            one("RuntimeMaxSec", "uint64 2").unwrap(),
            vec![("RuntimeMaxUSec".into(), Value::U64(2_000_000))]
        );
        assert_eq!(
            one("TimeoutStopSec", "1.5").unwrap()[0].1,
            Value::U64(1_500_000)
        );
        // Not after a lowercase letter: as is.
        assert_eq!(one("FooUSec", "uint64 5").unwrap()[0].0, "FooUSec");
        let e = one("TimeoutStopSec", "'x'").unwrap_err().to_string();
        assert!(e.contains("value parse error: not a number"), "{e}");
        let e = one("ab", "1").unwrap_err().to_string();
        assert!(e.contains("too short"), "{e}");
        let e = one("Cpu1", "1").unwrap_err().to_string();
        assert!(e.contains("non-alphabetic"), "{e}");
        let e = one("CPUWeight", "[").unwrap_err().to_string();
        assert!(
            e.contains("annotation org.systemd.property.CPUWeight"),
            "{e}"
        );
    }
}
