use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;

use proptest::prelude::*;

use super::message::{Kind, Message};
use super::wire::{decode_body, encode_body, split_signature};
use super::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(Value::Byte),
        any::<bool>().prop_map(Value::Bool),
        any::<i16>().prop_map(Value::I16),
        any::<u16>().prop_map(Value::U16),
        any::<i32>().prop_map(Value::I32),
        any::<u32>().prop_map(Value::U32),
        any::<i64>().prop_map(Value::I64),
        any::<u64>().prop_map(Value::U64),
        prop::num::f64::NORMAL.prop_map(Value::Double),
        "[a-zA-Z0-9 ./-]{0,24}".prop_map(Value::Str),
        "(/[a-z_0-9]{1,6}){0,3}".prop_map(|p| Value::ObjectPath(if p.is_empty() {
            "/".into()
        } else {
            p
        })),
        prop_oneof![Just("s"), Just("a(sv)"), Just("t")].prop_map(|s| Value::Signature(s.into())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Value::Struct),
            inner.clone().prop_map(Value::variant),
            (inner.clone(), 0..4usize).prop_map(|(v, n)| Value::Array(v.signature(), vec![v; n])),
            ("[a-z]{1,8}", inner, 0..3usize).prop_map(|(k, v, n)| {
                let e = Value::DictEntry(Box::new(Value::Str(k)), Box::new(v));
                Value::Array(e.signature(), vec![e; n])
            }),
        ]
    })
}

proptest! {
    #[test]
    fn values_round_trip(v in value(), lead in any::<bool>()) {
        // A byte first shifts the value off its natural alignment.
        let vals: Vec<Value> = if lead { vec![Value::Byte(7), v] } else { vec![v] };
        let (bytes, sig) = encode_body(&vals).unwrap();
        prop_assert_eq!(split_signature(&sig).unwrap().len(), vals.len());
        prop_assert_eq!(decode_body(&bytes, &sig).unwrap(), vals);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..96),
                            sig in prop_oneof![Just("a(sv)"), Just("sa{sv}as"), Just("(yv)v"), Just("ao")]) {
        let _ = decode_body(&bytes, sig);
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn messages_round_trip(body in prop::collection::vec(value(), 0..3), serial in 1u32..) {
        let m = Message::call("org.x", "/org/x", "org.x.I", "M", body);
        let b = m.encode(serial).unwrap();
        let back = Message::decode(&b).unwrap();
        prop_assert_eq!(back.serial, serial);
        prop_assert_eq!(back.body, m.body);
    }
}

#[test]
fn start_transient_unit_marshals_as_systemd_expects() {
    // ssa(sv)a(sa(sv)): name, mode, properties, aux units.
    let props = Value::Array(
        "(sv)".into(),
        vec![
            Value::Struct(vec![
                Value::Str("PIDs".into()),
                Value::variant(Value::Array("u".into(), vec![Value::U32(42)])),
            ]),
            Value::Struct(vec![
                Value::Str("Delegate".into()),
                Value::variant(Value::Bool(true)),
            ]),
        ],
    );
    let aux = Value::Array("(sa(sv))".into(), vec![]);
    let (bytes, sig) = encode_body(&[
        Value::Str("x.scope".into()),
        Value::Str("replace".into()),
        props,
        aux,
    ])
    .unwrap();
    assert_eq!(sig, "ssa(sv)a(sa(sv))");
    // "x.scope": len 7 + NUL; "replace" at 12: len 7 + NUL; the array's length at 24, its
    // first struct 8-aligned at 32.
    assert_eq!(&bytes[..4], &7u32.to_le_bytes());
    assert_eq!(&bytes[12..16], &7u32.to_le_bytes());
    assert_eq!(&bytes[32..36], &4u32.to_le_bytes()); // "PIDs"
    assert_eq!(&bytes[36..41], b"PIDs\0");
    assert_eq!(&bytes[41..45], b"\x02au\0"); // variant signature "au"
    // The aux array is empty: its length is 0 and it still pads to its element's alignment.
    let tail = &bytes[bytes.len() - 4..];
    assert_eq!(tail, &0u32.to_le_bytes());
}

#[test]
fn encoder_refuses_mixed_arrays_and_bad_paths() {
    let mixed = Value::Array("u".into(), vec![Value::U32(1), Value::Str("x".into())]);
    assert!(encode_body(&[mixed]).is_err());
    assert!(encode_body(&[Value::ObjectPath("no/slash".into())]).is_err());
    assert!(encode_body(&[Value::Str("nul\0".into())]).is_err());
    assert!(split_signature("a{vs}").is_err());
    assert!(split_signature("(").is_err());
    assert!(split_signature("a").is_err());
    assert!(split_signature("{ss}").is_err());
}

#[test]
fn auth_line_is_hex_of_the_decimal_uid() {
    assert_eq!(auth_line(0), "AUTH EXTERNAL 30\r\n");
    assert_eq!(auth_line(1000), "AUTH EXTERNAL 31303030\r\n");
}

/// A fake peer on a listening socket: checks the auth exchange, then answers each call with
/// what `answer` returns (messages to send back).
fn fake_peer(
    auth_reply: &'static str,
    answer: impl Fn(&Message) -> Vec<Message> + Send + 'static,
) -> (tempfile::TempDir, PathBuf, std::thread::JoinHandle<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus");
    let listener = UnixListener::bind(&path).unwrap();
    let h = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let mut r = BufReader::new(sock.try_clone().unwrap());
        let mut w = sock;
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let auth = line.clone();
        w.write_all(auth_reply.as_bytes()).unwrap();
        if !auth_reply.starts_with("OK") {
            return auth;
        }
        // BEGIN comes with the AUTH line (pipelined, as sd-bus does).
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "BEGIN\r\n");
        let mut serial = 100;
        loop {
            let mut head = [0u8; 16];
            if r.read_exact(&mut head).is_err() {
                return auth;
            }
            let mut buf = vec![0u8; Message::total_len(&head).unwrap()];
            buf[..16].copy_from_slice(&head);
            r.read_exact(&mut buf[16..]).unwrap();
            let m = Message::decode(&buf).unwrap();
            for mut out in answer(&m) {
                if out.kind != Kind::Signal as u8 {
                    out.reply_serial = Some(m.serial);
                }
                serial += 1;
                w.write_all(&out.encode(serial).unwrap()).unwrap();
            }
        }
    });
    (dir, path, h)
}

#[test]
fn auth_call_error_and_signals_against_a_fake_peer() {
    let (_dir, path, h) = fake_peer("OK 0123456789abcdef\r\n", |m| {
        match m.member.as_deref() {
            Some("Hello") => vec![Message {
                kind: Kind::Return as u8,
                body: vec![Value::Str(":1.5".into())],
                ..Message::default()
            }],
            Some("Fail") => vec![Message {
                kind: Kind::Error as u8,
                error_name: Some("org.freedesktop.systemd1.NoSuchUnit".into()),
                body: vec![Value::Str("Unit x.scope not loaded.".into())],
                ..Message::default()
            }],
            // A signal before the reply: kept for wait_signal.
            _ => vec![
                Message {
                    kind: Kind::Signal as u8,
                    path: Some("/org/freedesktop/systemd1".into()),
                    interface: Some("org.freedesktop.systemd1.Manager".into()),
                    member: Some("JobRemoved".into()),
                    body: vec![
                        Value::U32(9),
                        Value::ObjectPath("/org/freedesktop/systemd1/job/9".into()),
                        Value::Str("x.scope".into()),
                        Value::Str("done".into()),
                    ],
                    ..Message::default()
                },
                Message {
                    kind: Kind::Return as u8,
                    body: vec![Value::ObjectPath("/org/freedesktop/systemd1/job/9".into())],
                    ..Message::default()
                },
            ],
        }
    });
    let mut c = Connection::open(&path, 1000, true).unwrap();
    let e = c.call("d", "/p", "i.f", "Fail", vec![]).unwrap_err();
    assert_eq!(e.remote_name(), Some("org.freedesktop.systemd1.NoSuchUnit"));
    assert_eq!(
        e.to_string(),
        "i.f.Fail: org.freedesktop.systemd1.NoSuchUnit: Unit x.scope not loaded."
    );
    let r = c.call("d", "/p", "i.f", "Start", vec![]).unwrap();
    assert_eq!(r[0].as_str(), Some("/org/freedesktop/systemd1/job/9"));
    let sig = c
        .wait_signal(
            "org.freedesktop.systemd1.Manager",
            "JobRemoved",
            Duration::from_secs(1),
            |b| b.get(1).and_then(Value::as_str) == Some("/org/freedesktop/systemd1/job/9"),
        )
        .unwrap();
    assert_eq!(sig[3].as_str(), Some("done"));
    drop(c);
    assert_eq!(h.join().unwrap(), "\0AUTH EXTERNAL 31303030\r\n");
}

#[test]
fn refused_auth_is_a_clear_error() {
    let (_dir, path, h) = fake_peer("REJECTED EXTERNAL\r\n", |_| vec![]);
    let e = Connection::open(&path, 0, false).unwrap_err();
    assert!(matches!(e, DbusError::Auth { .. }), "{e}");
    assert!(e.to_string().contains("REJECTED EXTERNAL"), "{e}");
    h.join().unwrap();
    let e = Connection::open(Path::new("/nonexistent/bus"), 0, false).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/bus"), "{e}");
}
