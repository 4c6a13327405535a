//! Mount option parsing: runc's `parseMountOptions` (specconv).
//!
//! Each option of an OCI mount is, in this order of precedence: an `MS_*` flag that is set or
//! cleared (`ro`/`rw`, `nosuid`/`suid`, ...), a propagation type (`[r]private`, `[r]slave`,
//! `[r]shared`, `[r]unbindable`), a recursive `mount_setattr(2)` attribute (`rro`, `rnosuid`, ...),
//! an extension (`tmpcopyup`), an id-mapping request (`idmap`, `ridmap`), or else file-system data
//! (`mode=755`, `size=65536k`, ...), kept in order and joined with commas.

use super::model::{Mount, RecAttr};

/// How an `MS_*` option acts on the flags.
#[derive(Clone, Copy)]
enum FlagOp {
    Set(u64),
    Clear(u64),
}

/// An `MS_*` constant (a `c_ulong`) as the `u64` the model stores.
#[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit targets; From is not const
pub(crate) const fn ms(flag: libc::c_ulong) -> u64 {
    flag as u64
}

/// `MS_*` flag options (runc's `mountFlags`).
const MOUNT_FLAGS: &[(&str, FlagOp)] = &[
    ("acl", FlagOp::Set(ms(libc::MS_POSIXACL))),
    ("async", FlagOp::Clear(ms(libc::MS_SYNCHRONOUS))),
    ("atime", FlagOp::Clear(ms(libc::MS_NOATIME))),
    ("bind", FlagOp::Set(ms(libc::MS_BIND))),
    ("dev", FlagOp::Clear(ms(libc::MS_NODEV))),
    ("diratime", FlagOp::Clear(ms(libc::MS_NODIRATIME))),
    ("dirsync", FlagOp::Set(ms(libc::MS_DIRSYNC))),
    ("exec", FlagOp::Clear(ms(libc::MS_NOEXEC))),
    ("iversion", FlagOp::Set(ms(libc::MS_I_VERSION))),
    ("lazytime", FlagOp::Set(ms(libc::MS_LAZYTIME))),
    ("loud", FlagOp::Clear(ms(libc::MS_SILENT))),
    ("mand", FlagOp::Set(ms(libc::MS_MANDLOCK))),
    ("noacl", FlagOp::Clear(ms(libc::MS_POSIXACL))),
    ("noatime", FlagOp::Set(ms(libc::MS_NOATIME))),
    ("nodev", FlagOp::Set(ms(libc::MS_NODEV))),
    ("nodiratime", FlagOp::Set(ms(libc::MS_NODIRATIME))),
    ("noexec", FlagOp::Set(ms(libc::MS_NOEXEC))),
    ("noiversion", FlagOp::Clear(ms(libc::MS_I_VERSION))),
    ("nolazytime", FlagOp::Clear(ms(libc::MS_LAZYTIME))),
    ("nomand", FlagOp::Clear(ms(libc::MS_MANDLOCK))),
    ("norelatime", FlagOp::Clear(ms(libc::MS_RELATIME))),
    ("nostrictatime", FlagOp::Clear(ms(libc::MS_STRICTATIME))),
    ("nosuid", FlagOp::Set(ms(libc::MS_NOSUID))),
    ("nosymfollow", FlagOp::Set(ms(libc::MS_NOSYMFOLLOW))),
    ("rbind", FlagOp::Set(ms(libc::MS_BIND | libc::MS_REC))),
    ("relatime", FlagOp::Set(ms(libc::MS_RELATIME))),
    ("remount", FlagOp::Set(ms(libc::MS_REMOUNT))),
    ("ro", FlagOp::Set(ms(libc::MS_RDONLY))),
    ("rw", FlagOp::Clear(ms(libc::MS_RDONLY))),
    ("silent", FlagOp::Set(ms(libc::MS_SILENT))),
    ("strictatime", FlagOp::Set(ms(libc::MS_STRICTATIME))),
    ("suid", FlagOp::Clear(ms(libc::MS_NOSUID))),
    ("sync", FlagOp::Set(ms(libc::MS_SYNCHRONOUS))),
    ("symfollow", FlagOp::Clear(ms(libc::MS_NOSYMFOLLOW))),
];

/// Propagation options (runc's `mountPropagationMapping`, without the empty name).
const PROPAGATION: &[(&str, u64)] = &[
    ("private", ms(libc::MS_PRIVATE)),
    ("rprivate", ms(libc::MS_PRIVATE | libc::MS_REC)),
    ("slave", ms(libc::MS_SLAVE)),
    ("rslave", ms(libc::MS_SLAVE | libc::MS_REC)),
    ("shared", ms(libc::MS_SHARED)),
    ("rshared", ms(libc::MS_SHARED | libc::MS_REC)),
    ("unbindable", ms(libc::MS_UNBINDABLE)),
    ("runbindable", ms(libc::MS_UNBINDABLE | libc::MS_REC)),
];

/// Recursive `mount_setattr` options (runc's `recAttrFlags`).
const REC_ATTRS: &[(&str, FlagOp)] = &[
    ("rro", FlagOp::Set(libc::MOUNT_ATTR_RDONLY)),
    ("rrw", FlagOp::Clear(libc::MOUNT_ATTR_RDONLY)),
    ("rnosuid", FlagOp::Set(libc::MOUNT_ATTR_NOSUID)),
    ("rsuid", FlagOp::Clear(libc::MOUNT_ATTR_NOSUID)),
    ("rnodev", FlagOp::Set(libc::MOUNT_ATTR_NODEV)),
    ("rdev", FlagOp::Clear(libc::MOUNT_ATTR_NODEV)),
    ("rnoexec", FlagOp::Set(libc::MOUNT_ATTR_NOEXEC)),
    ("rexec", FlagOp::Clear(libc::MOUNT_ATTR_NOEXEC)),
    ("rnodiratime", FlagOp::Set(libc::MOUNT_ATTR_NODIRATIME)),
    ("rdiratime", FlagOp::Clear(libc::MOUNT_ATTR_NODIRATIME)),
    ("rrelatime", FlagOp::Set(libc::MOUNT_ATTR_RELATIME)),
    ("rnorelatime", FlagOp::Clear(libc::MOUNT_ATTR_RELATIME)),
    ("rnoatime", FlagOp::Set(libc::MOUNT_ATTR_NOATIME)),
    ("ratime", FlagOp::Clear(libc::MOUNT_ATTR_NOATIME)),
    ("rstrictatime", FlagOp::Set(libc::MOUNT_ATTR_STRICTATIME)),
    (
        "rnostrictatime",
        FlagOp::Clear(libc::MOUNT_ATTR_STRICTATIME),
    ),
    ("rnosymfollow", FlagOp::Set(libc::MOUNT_ATTR_NOSYMFOLLOW)),
    ("rsymfollow", FlagOp::Clear(libc::MOUNT_ATTR_NOSYMFOLLOW)),
];

/// The `tmpcopyup` extension.
const EXT_TMPCOPYUP: &str = "tmpcopyup";

/// The parsed options of one mount: everything of a [`Mount`] that comes from its `options`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags to set.
    pub flags: u64,
    /// `MS_*` flags explicitly cleared (`rw`, `suid`, ...). Disjoint from `flags`.
    pub cleared_flags: u64,
    /// Propagation flags, in order.
    pub propagation_flags: Vec<u64>,
    /// File-system data: the unrecognised options, comma-separated, in order.
    pub data: String,
    /// Recursive attributes (`r*` options), if any.
    pub rec_attr: Option<RecAttr>,
    /// Extension bits ([`Mount::EXT_COPYUP`]).
    pub extensions: u32,
    /// `Some(recursive)` when `idmap` (false) or `ridmap` (true) was given; the last one wins.
    pub idmap: Option<bool>,
}

/// Parses the `options` of an OCI mount as runc does (see the module documentation).
///
/// Unknown options are not an error: they are file-system data for the kernel to judge. The
/// no-op `defaults` is dropped rather than passed on as data.
pub fn parse_mount_options<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut m = MountOptions::default();
    let (mut attr_set, mut attr_clr) = (0u64, 0u64);
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let o = opt.as_ref();
        if let Some((_, op)) = MOUNT_FLAGS.iter().find(|(n, _)| *n == o) {
            match *op {
                FlagOp::Set(f) => {
                    m.flags |= f;
                    m.cleared_flags &= !f;
                }
                FlagOp::Clear(f) => {
                    m.flags &= !f;
                    m.cleared_flags |= f;
                }
            }
        } else if let Some((_, f)) = PROPAGATION.iter().find(|(n, _)| *n == o) {
            m.propagation_flags.push(*f);
        } else if let Some((_, op)) = REC_ATTRS.iter().find(|(n, _)| *n == o) {
            match *op {
                FlagOp::Set(f) => {
                    attr_set |= f;
                    attr_clr &= !f;
                    // mount_setattr(2): an access-time mode in attr_set needs the whole
                    // MOUNT_ATTR__ATIME field in attr_clr.
                    if f & libc::MOUNT_ATTR__ATIME == f {
                        attr_clr |= libc::MOUNT_ATTR__ATIME;
                    }
                }
                FlagOp::Clear(f) => {
                    attr_clr |= f;
                    attr_set &= !f;
                    // As runc 1.3: clearing an access-time mode (`ratime`, `rnorelatime`,
                    // `rnostrictatime`) clears the whole field (back to relatime); a partial
                    // MOUNT_ATTR__ATIME in attr_clr is EINVAL.
                    if f & libc::MOUNT_ATTR__ATIME == f {
                        attr_clr |= libc::MOUNT_ATTR__ATIME;
                    }
                }
            }
        } else if o == EXT_TMPCOPYUP {
            m.extensions |= Mount::EXT_COPYUP;
        } else if o == "idmap" {
            m.idmap = Some(false);
        } else if o == "ridmap" {
            m.idmap = Some(true);
        } else if o == "defaults" {
            // fstab's placeholder: no flag, and not something to hand to the file system.
        } else {
            data.push(o);
        }
    }
    m.data = data.join(",");
    if attr_set != 0 || attr_clr != 0 {
        m.rec_attr = Some(RecAttr { attr_set, attr_clr });
    }
    m
}

/// Every option name [`parse_mount_options`] recognises (for `lashing features`), sorted.
pub fn known_mount_options() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = MOUNT_FLAGS
        .iter()
        .map(|(n, _)| *n)
        .chain(PROPAGATION.iter().map(|(n, _)| *n))
        .chain(REC_ATTRS.iter().map(|(n, _)| *n))
        .chain([EXT_TMPCOPYUP, "idmap", "ridmap"])
        .collect();
    v.sort_unstable();
    v
}

/// The `MS_*` propagation flags of a `rootfsPropagation` / propagation option name
/// (`"rslave"` → `MS_SLAVE|MS_REC`); `Some(0)` for the empty name, `None` if unknown.
pub fn propagation_flags(name: &str) -> Option<u64> {
    if name.is_empty() {
        return Some(0);
    }
    PROPAGATION
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RDONLY: u64 = ms(libc::MS_RDONLY);
    const NOSUID: u64 = ms(libc::MS_NOSUID);
    const NODEV: u64 = ms(libc::MS_NODEV);
    const NOEXEC: u64 = ms(libc::MS_NOEXEC);
    const BIND: u64 = ms(libc::MS_BIND);
    const REC: u64 = ms(libc::MS_REC);

    #[test]
    fn flag_table() {
        let cases: &[(&[&str], u64, u64)] = &[
            (&["ro"], RDONLY, 0),
            (&["rw"], 0, RDONLY),
            (&["ro", "rw"], 0, RDONLY),
            (&["rw", "ro"], RDONLY, 0),
            (&["nosuid", "nodev", "noexec"], NOSUID | NODEV | NOEXEC, 0),
            (&["suid", "dev", "exec"], 0, NOSUID | NODEV | NOEXEC),
            (&["bind"], BIND, 0),
            (&["rbind"], BIND | REC, 0),
            (&["sync"], ms(libc::MS_SYNCHRONOUS), 0),
            (&["async"], 0, ms(libc::MS_SYNCHRONOUS)),
            (&["dirsync"], ms(libc::MS_DIRSYNC), 0),
            (&["remount"], ms(libc::MS_REMOUNT), 0),
            (&["mand"], ms(libc::MS_MANDLOCK), 0),
            (&["nomand"], 0, ms(libc::MS_MANDLOCK)),
            (&["noatime"], ms(libc::MS_NOATIME), 0),
            (&["atime"], 0, ms(libc::MS_NOATIME)),
            (&["nodiratime"], ms(libc::MS_NODIRATIME), 0),
            (&["diratime"], 0, ms(libc::MS_NODIRATIME)),
            (&["relatime"], ms(libc::MS_RELATIME), 0),
            (&["norelatime"], 0, ms(libc::MS_RELATIME)),
            (&["strictatime"], ms(libc::MS_STRICTATIME), 0),
            (&["nostrictatime"], 0, ms(libc::MS_STRICTATIME)),
            (&["nosymfollow"], 0x100, 0),
            (&["symfollow"], 0, 0x100),
            (&["lazytime"], 1 << 25, 0),
        ];
        for (opts, set, clr) in cases {
            let m = parse_mount_options(opts);
            assert_eq!((m.flags, m.cleared_flags), (*set, *clr), "{opts:?}");
            assert_eq!(m.data, "", "{opts:?}");
            assert!(m.propagation_flags.is_empty() && m.rec_attr.is_none());
        }
    }

    #[test]
    fn propagation_and_data() {
        let m = parse_mount_options(&[
            "rbind",
            "rprivate",
            "mode=755",
            "slave",
            "size=65536k",
            "ro",
            "defaults",
        ]);
        assert_eq!(m.flags, BIND | REC | RDONLY);
        assert_eq!(
            m.propagation_flags,
            vec![ms(libc::MS_PRIVATE) | REC, ms(libc::MS_SLAVE)]
        );
        assert_eq!(m.data, "mode=755,size=65536k");
        for (name, flag) in [
            ("shared", libc::MS_SHARED),
            ("rshared", libc::MS_SHARED | libc::MS_REC),
            ("unbindable", libc::MS_UNBINDABLE),
            ("runbindable", libc::MS_UNBINDABLE | libc::MS_REC),
            ("rslave", libc::MS_SLAVE | libc::MS_REC),
            ("private", libc::MS_PRIVATE),
        ] {
            assert_eq!(
                parse_mount_options(&[name]).propagation_flags,
                vec![ms(flag)]
            );
            assert_eq!(propagation_flags(name), Some(ms(flag)));
        }
        assert_eq!(propagation_flags(""), Some(0));
        assert_eq!(propagation_flags("bogus"), None);
    }

    #[test]
    fn rec_attrs() {
        let m = parse_mount_options(&["rro", "rnosuid", "rnodev"]);
        let ra = m.rec_attr.unwrap();
        assert_eq!(
            ra.attr_set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV
        );
        assert_eq!(ra.attr_clr, 0);
        assert_eq!(m.flags, 0);

        let ra = parse_mount_options(&["rro", "rrw", "rsuid"])
            .rec_attr
            .unwrap();
        assert_eq!(ra.attr_set, 0);
        assert_eq!(
            ra.attr_clr,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID
        );

        // Access-time modes also clear the whole atime field, set or cleared (runc 1.3.6 passes
        // attr_clr=MOUNT_ATTR__ATIME for ratime, rnorelatime and rnostrictatime).
        for o in ["ratime", "rnorelatime", "rnostrictatime"] {
            let ra = parse_mount_options(&[o]).rec_attr.unwrap();
            assert_eq!(
                (ra.attr_set, ra.attr_clr),
                (0, libc::MOUNT_ATTR__ATIME),
                "{o}"
            );
        }
        let ra = parse_mount_options(&["rdiratime"]).rec_attr.unwrap();
        assert_eq!((ra.attr_set, ra.attr_clr), (0, libc::MOUNT_ATTR_NODIRATIME));
        let ra = parse_mount_options(&["rnoatime"]).rec_attr.unwrap();
        assert_eq!(ra.attr_set, libc::MOUNT_ATTR_NOATIME);
        assert_eq!(ra.attr_clr, libc::MOUNT_ATTR__ATIME);
        let ra = parse_mount_options(&["rrelatime"]).rec_attr.unwrap();
        assert_eq!((ra.attr_set, ra.attr_clr), (0, libc::MOUNT_ATTR__ATIME));
        let ra = parse_mount_options(&["rstrictatime", "rnodiratime"])
            .rec_attr
            .unwrap();
        assert_eq!(
            ra.attr_set,
            libc::MOUNT_ATTR_STRICTATIME | libc::MOUNT_ATTR_NODIRATIME
        );
        let ra = parse_mount_options(&["rnosymfollow", "rnoexec", "rexec"])
            .rec_attr
            .unwrap();
        assert_eq!(ra.attr_set, libc::MOUNT_ATTR_NOSYMFOLLOW);
        assert_eq!(ra.attr_clr, libc::MOUNT_ATTR_NOEXEC);
        assert!(parse_mount_options(&["ro"]).rec_attr.is_none());
    }

    #[test]
    fn extensions_and_idmap() {
        let m = parse_mount_options(&["tmpcopyup", "mode=1777"]);
        assert_eq!(m.extensions, Mount::EXT_COPYUP);
        assert_eq!(m.data, "mode=1777");
        assert_eq!(parse_mount_options(&["idmap"]).idmap, Some(false));
        assert_eq!(parse_mount_options(&["ridmap"]).idmap, Some(true));
        assert_eq!(parse_mount_options(&["ridmap", "idmap"]).idmap, Some(false));
        assert_eq!(parse_mount_options::<&str>(&[]), MountOptions::default());
    }

    #[test]
    fn known_options_are_recognised() {
        let known = known_mount_options();
        assert!(known.contains(&"rro") && known.contains(&"tmpcopyup"));
        for o in &known {
            let m = parse_mount_options(&[o]);
            assert_eq!(m.data, "", "{o} must not be data");
        }
        assert!(!known.contains(&"defaults"));
    }

    fn option() -> impl Strategy<Value = String> {
        let known: Vec<String> = known_mount_options()
            .into_iter()
            .map(String::from)
            .collect();
        prop_oneof![
            proptest::sample::select(known),
            "[a-z=,0-9]{0,12}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_set_clear_disjoint(opts in proptest::collection::vec(option(), 0..24)) {
            let m = parse_mount_options(&opts);
            prop_assert_eq!(m.flags & m.cleared_flags, 0);
            if let Some(ra) = m.rec_attr {
                // Only the atime field may be both set and cleared (mount_setattr's rule).
                prop_assert_eq!(ra.attr_set & ra.attr_clr & !libc::MOUNT_ATTR__ATIME, 0);
            }
            let data_count = if m.data.is_empty() { 0 } else { m.data.split(',').count() };
            prop_assert!(data_count >= opts.iter().filter(|o| !o.is_empty() && !o.contains(',')
                && known_mount_options().iter().all(|k| k != o) && o.as_str() != "defaults").count());
        }
    }
}
