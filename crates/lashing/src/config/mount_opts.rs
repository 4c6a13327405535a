//! Mount option parsing: runc's `parseMountOptions` (specconv).
//!
//! Each option of an OCI mount is, in this order of precedence: an `MS_*` flag that is set or
//! cleared (`ro`/`rw`, `nosuid`/`suid`, ...), a propagation type (`[r]private`, `[r]slave`,
//! `[r]shared`, `[r]unbindable`), a recursive `mount_setattr(2)` attribute (`rro`, `rnosuid`, ...),
//! an extension (`tmpcopyup`), an id-mapping request (`idmap`, `ridmap`), or else file-system data
//! (`mode=755`, `size=65536k`, ...), kept in order and joined with commas.

use super::mount::{Mount, MsFlags, RecAttr};

/// How an `MS_*` option acts on the flags.
#[derive(Clone, Copy)]
enum FlagOp {
    Set(MsFlags),
    Clear(MsFlags),
}

/// How a recursive-attribute option acts on the `MOUNT_ATTR_*` bits.
#[derive(Clone, Copy)]
enum AttrOp {
    Set(u64),
    Clear(u64),
}

/// `MS_*` flag options (runc's `mountFlags`).
const MOUNT_FLAGS: &[(&str, FlagOp)] = &[
    ("acl", FlagOp::Set(MsFlags::POSIXACL)),
    ("async", FlagOp::Clear(MsFlags::SYNCHRONOUS)),
    ("atime", FlagOp::Clear(MsFlags::NOATIME)),
    ("bind", FlagOp::Set(MsFlags::BIND)),
    ("dev", FlagOp::Clear(MsFlags::NODEV)),
    ("diratime", FlagOp::Clear(MsFlags::NODIRATIME)),
    ("dirsync", FlagOp::Set(MsFlags::DIRSYNC)),
    ("exec", FlagOp::Clear(MsFlags::NOEXEC)),
    ("iversion", FlagOp::Set(MsFlags::I_VERSION)),
    ("lazytime", FlagOp::Set(MsFlags::LAZYTIME)),
    ("loud", FlagOp::Clear(MsFlags::SILENT)),
    ("mand", FlagOp::Set(MsFlags::MANDLOCK)),
    ("noacl", FlagOp::Clear(MsFlags::POSIXACL)),
    ("noatime", FlagOp::Set(MsFlags::NOATIME)),
    ("nodev", FlagOp::Set(MsFlags::NODEV)),
    ("nodiratime", FlagOp::Set(MsFlags::NODIRATIME)),
    ("noexec", FlagOp::Set(MsFlags::NOEXEC)),
    ("noiversion", FlagOp::Clear(MsFlags::I_VERSION)),
    ("nolazytime", FlagOp::Clear(MsFlags::LAZYTIME)),
    ("nomand", FlagOp::Clear(MsFlags::MANDLOCK)),
    ("norelatime", FlagOp::Clear(MsFlags::RELATIME)),
    ("nostrictatime", FlagOp::Clear(MsFlags::STRICTATIME)),
    ("nosuid", FlagOp::Set(MsFlags::NOSUID)),
    ("nosymfollow", FlagOp::Set(MsFlags::NOSYMFOLLOW)),
    ("rbind", FlagOp::Set(MsFlags::BIND.union(MsFlags::REC))),
    ("relatime", FlagOp::Set(MsFlags::RELATIME)),
    ("remount", FlagOp::Set(MsFlags::REMOUNT)),
    ("ro", FlagOp::Set(MsFlags::RDONLY)),
    ("rw", FlagOp::Clear(MsFlags::RDONLY)),
    ("silent", FlagOp::Set(MsFlags::SILENT)),
    ("strictatime", FlagOp::Set(MsFlags::STRICTATIME)),
    ("suid", FlagOp::Clear(MsFlags::NOSUID)),
    ("sync", FlagOp::Set(MsFlags::SYNCHRONOUS)),
    ("symfollow", FlagOp::Clear(MsFlags::NOSYMFOLLOW)),
];

/// Propagation options (runc's `mountPropagationMapping`, without the empty name).
const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::PRIVATE),
    ("rprivate", MsFlags::PRIVATE.union(MsFlags::REC)),
    ("slave", MsFlags::SLAVE),
    ("rslave", MsFlags::SLAVE.union(MsFlags::REC)),
    ("shared", MsFlags::SHARED),
    ("rshared", MsFlags::SHARED.union(MsFlags::REC)),
    ("unbindable", MsFlags::UNBINDABLE),
    ("runbindable", MsFlags::UNBINDABLE.union(MsFlags::REC)),
];

/// Recursive `mount_setattr` options (runc's `recAttrFlags`).
const REC_ATTRS: &[(&str, AttrOp)] = &[
    ("rro", AttrOp::Set(libc::MOUNT_ATTR_RDONLY)),
    ("rrw", AttrOp::Clear(libc::MOUNT_ATTR_RDONLY)),
    ("rnosuid", AttrOp::Set(libc::MOUNT_ATTR_NOSUID)),
    ("rsuid", AttrOp::Clear(libc::MOUNT_ATTR_NOSUID)),
    ("rnodev", AttrOp::Set(libc::MOUNT_ATTR_NODEV)),
    ("rdev", AttrOp::Clear(libc::MOUNT_ATTR_NODEV)),
    ("rnoexec", AttrOp::Set(libc::MOUNT_ATTR_NOEXEC)),
    ("rexec", AttrOp::Clear(libc::MOUNT_ATTR_NOEXEC)),
    ("rnodiratime", AttrOp::Set(libc::MOUNT_ATTR_NODIRATIME)),
    ("rdiratime", AttrOp::Clear(libc::MOUNT_ATTR_NODIRATIME)),
    ("rrelatime", AttrOp::Set(libc::MOUNT_ATTR_RELATIME)),
    ("rnorelatime", AttrOp::Clear(libc::MOUNT_ATTR_RELATIME)),
    ("rnoatime", AttrOp::Set(libc::MOUNT_ATTR_NOATIME)),
    ("ratime", AttrOp::Clear(libc::MOUNT_ATTR_NOATIME)),
    ("rstrictatime", AttrOp::Set(libc::MOUNT_ATTR_STRICTATIME)),
    (
        "rnostrictatime",
        AttrOp::Clear(libc::MOUNT_ATTR_STRICTATIME),
    ),
    ("rnosymfollow", AttrOp::Set(libc::MOUNT_ATTR_NOSYMFOLLOW)),
    ("rsymfollow", AttrOp::Clear(libc::MOUNT_ATTR_NOSYMFOLLOW)),
];

/// The `tmpcopyup` extension.
const EXT_TMPCOPYUP: &str = "tmpcopyup";

/// The parsed options of one mount: everything of a [`Mount`] that comes from its `options`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags to set.
    pub flags: MsFlags,
    /// `MS_*` flags explicitly cleared (`rw`, `suid`, ...). Disjoint from `flags`.
    pub cleared_flags: MsFlags,
    /// Propagation flags, in order.
    pub propagation_flags: Vec<MsFlags>,
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
                AttrOp::Set(f) => {
                    attr_set |= f;
                    attr_clr &= !f;
                    // mount_setattr(2): an access-time mode in attr_set needs the whole
                    // MOUNT_ATTR__ATIME field in attr_clr.
                    if f & libc::MOUNT_ATTR__ATIME == f {
                        attr_clr |= libc::MOUNT_ATTR__ATIME;
                    }
                }
                AttrOp::Clear(f) => {
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
        .chain([EXT_TMPCOPYUP, "idmap", "ridmap", "defaults"])
        .collect();
    v.sort_unstable();
    v
}

/// The `MS_*` propagation flags of a `rootfsPropagation` / propagation option name
/// (`"rslave"` → `MS_SLAVE|MS_REC`); empty flags for the empty name, `None` if unknown.
pub(crate) fn propagation_flags(name: &str) -> Option<MsFlags> {
    if name.is_empty() {
        return Some(MsFlags::empty());
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

    const RDONLY: MsFlags = MsFlags::RDONLY;
    const NOSUID: MsFlags = MsFlags::NOSUID;
    const NODEV: MsFlags = MsFlags::NODEV;
    const NOEXEC: MsFlags = MsFlags::NOEXEC;
    const BIND: MsFlags = MsFlags::BIND;
    const REC: MsFlags = MsFlags::REC;
    const NONE: MsFlags = MsFlags::empty();

    #[test]
    fn flag_table() {
        let cases: &[(&[&str], MsFlags, MsFlags)] = &[
            (&["ro"], RDONLY, NONE),
            (&["rw"], NONE, RDONLY),
            (&["ro", "rw"], NONE, RDONLY),
            (&["rw", "ro"], RDONLY, NONE),
            (
                &["nosuid", "nodev", "noexec"],
                NOSUID | NODEV | NOEXEC,
                NONE,
            ),
            (&["suid", "dev", "exec"], NONE, NOSUID | NODEV | NOEXEC),
            (&["bind"], BIND, NONE),
            (&["rbind"], BIND | REC, NONE),
            (&["sync"], MsFlags::SYNCHRONOUS, NONE),
            (&["async"], NONE, MsFlags::SYNCHRONOUS),
            (&["dirsync"], MsFlags::DIRSYNC, NONE),
            (&["remount"], MsFlags::REMOUNT, NONE),
            (&["mand"], MsFlags::MANDLOCK, NONE),
            (&["nomand"], NONE, MsFlags::MANDLOCK),
            (&["noatime"], MsFlags::NOATIME, NONE),
            (&["atime"], NONE, MsFlags::NOATIME),
            (&["nodiratime"], MsFlags::NODIRATIME, NONE),
            (&["diratime"], NONE, MsFlags::NODIRATIME),
            (&["relatime"], MsFlags::RELATIME, NONE),
            (&["norelatime"], NONE, MsFlags::RELATIME),
            (&["strictatime"], MsFlags::STRICTATIME, NONE),
            (&["nostrictatime"], NONE, MsFlags::STRICTATIME),
            (&["nosymfollow"], MsFlags::from_bits_retain(0x100), NONE),
            (&["symfollow"], NONE, MsFlags::from_bits_retain(0x100)),
            (&["lazytime"], MsFlags::from_bits_retain(1 << 25), NONE),
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
            vec![MsFlags::PRIVATE | REC, MsFlags::SLAVE]
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
                vec![MsFlags::from_bits_retain(flag)]
            );
            assert_eq!(
                propagation_flags(name),
                Some(MsFlags::from_bits_retain(flag))
            );
        }
        assert_eq!(propagation_flags(""), Some(MsFlags::empty()));
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
        assert_eq!(m.flags, NONE);

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
        // As runc 1.3 lists it (a no-op option).
        assert!(known.contains(&"defaults"));
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
            prop_assert!((m.flags & m.cleared_flags).is_empty());
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
