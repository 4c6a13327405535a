//! Tests of the rpc.proto messages: known encodings, round trips of responses, arbitrary bytes.

use super::*;
use crate::container::criu::wire::Value;
use proptest::prelude::*;

#[test]
fn version_request_is_two_bytes() {
    // criu_req { type: VERSION }: field 1, varint 10.
    assert_eq!(Request::new(ReqType::Version).encode(), [0x08, 0x0a]);
}

#[test]
fn options_encode_the_fields_criu_reads() {
    let opts = Opts {
        images_dir_fd: 5,
        pid: Some(42),
        shell_job: true,
        ext_mnt: vec![("/a".into(), "/b".into())],
        manage_cgroups_mode: Some(CgMode::Strict),
        ..Default::default()
    };
    let req = Request {
        opts: Some(opts),
        ..Request::new(ReqType::Dump)
    };
    let bytes = req.encode();
    let mut r = Reader::new(&bytes);
    assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(1))));
    let (n, v) = r.next_field().unwrap().unwrap();
    assert_eq!(n, 2);
    let mut o = Reader::new(v.bytes(n).unwrap());
    let mut got = Vec::new();
    while let Some((n, v)) = o.next_field().unwrap() {
        got.push((n, v));
    }
    assert_eq!(got[0], (1, Value::Varint(5)));
    assert_eq!(got[1], (2, Value::Varint(42)));
    assert_eq!(got[2], (7, Value::Varint(1)));
    let (n, m) = got[3];
    assert_eq!(n, 23);
    assert_eq!(m.bytes(23).unwrap(), b"\x0a\x02/a\x12\x02/b");
    assert_eq!(got[4], (34, Value::Varint(5)));
    assert_eq!(got.len(), 5);
}

#[test]
fn a_response_needs_type_and_success() {
    assert!(Response::decode(&[0x08, 0x01]).is_err());
    assert!(Response::decode(&[0x10, 0x01]).is_err());
    let r = Response::decode(&[0x08, 0x01, 0x10, 0x00]).unwrap();
    assert_eq!((r.typ, r.success), (ReqType::Dump, false));
}

fn typ() -> impl Strategy<Value = ReqType> {
    prop_oneof![
        Just(ReqType::Dump),
        Just(ReqType::Restore),
        Just(ReqType::PreDump),
        Just(ReqType::Notify),
        Just(ReqType::FeatureCheck),
        Just(ReqType::Version),
        (11u32..1000).prop_map(ReqType::Other),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    (
        typ(),
        any::<bool>(),
        proptest::option::of(any::<i32>()),
        proptest::option::of((".{0,20}", any::<i32>())),
        proptest::option::of(any::<i32>()),
        proptest::option::of((
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
        )),
        proptest::option::of(".{0,40}"),
        proptest::option::of((
            0i32..100,
            0i32..100,
            0i32..100,
            proptest::option::of("[0-9a-f]{0,12}"),
        )),
    )
        .prop_map(
            |(typ, success, pid, notify, errno, feat, errmsg, ver)| Response {
                typ,
                success,
                restored_pid: pid,
                notify: notify.map(|(script, pid)| Notify { script, pid }),
                errno,
                features: feat.map(|(m, l)| Features {
                    mem_track: m,
                    lazy_pages: l,
                }),
                errmsg,
                version: ver.map(|(major, minor, sublevel, gitid)| Version {
                    major,
                    minor,
                    sublevel,
                    gitid,
                }),
            },
        )
}

proptest! {
    #[test]
    fn responses_round_trip(resp in response()) {
        let back = Response::decode(&resp.encode()).unwrap();
        prop_assert_eq!(back, resp);
    }

    #[test]
    fn any_bytes_decode_to_a_response_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Response::decode(&bytes);
    }
}
