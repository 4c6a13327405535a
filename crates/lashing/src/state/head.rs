//! The format's leaf: the state file's name and version, and [`Head`]: what `list` shows of a
//! container, read from `state.json` without its configuration. The configuration's four
//! fields of the OCI state are written first ([`pack::HEAD_KEYS`]): the parse stops after them,
//! once the file was seen to end as a whole one does ([`pack::TAIL`]). Any other file (of an
//! older lashing, or damaged) is parsed whole, its errors reported as before.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use serde::de::{self, IgnoredAny, MapAccess};
use serde::{Deserialize, Deserializer};

use super::pack;
use crate::error::{Error, Result};

/// The name of the state file.
pub(crate) const STATE_FILE: &str = "state.json";
/// The name of the exec fifo.
pub(crate) const FIFO: &str = "exec.fifo";
/// The format version of `state.json` written and read by this lashing (version 1, before it
/// was recorded, had no `version` field and embedded the configuration unpacked).
pub const STATE_VERSION: u32 = 2;

/// `Ok` when the state file `data` is JSON of the format version this lashing reads; the reason
/// otherwise. Only `version` is parsed: a file of another version need not have this layout.
pub(crate) fn check_version(data: &[u8]) -> std::result::Result<(), String> {
    #[derive(Deserialize)]
    struct Version {
        version: Option<u64>,
    }
    let v: Version = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    match v.version {
        Some(v) if v == u64::from(STATE_VERSION) => Ok(()),
        Some(v) => Err(format!(
            "format version {v} is not the one this lashing reads ({STATE_VERSION})"
        )),
        None => Err(format!(
            "no format version (written by an older lashing; this one reads version \
             {STATE_VERSION})"
        )),
    }
}

/// The fields of a state file that the OCI state and the status need (the cgroup paths borrowed
/// from the file's bytes: `list` only hands them to the freezer read).
#[derive(Debug, Deserialize)]
pub(crate) struct Head<'a> {
    pub(crate) version: Option<u64>,
    pub(crate) id: String,
    pub(crate) init_process_pid: i32,
    pub(crate) init_process_start: u64,
    /// Set while the container is being created (what it holds is [`super::ProcId`]'s).
    #[serde(default)]
    pub(crate) creator: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    pub(crate) cgroup_paths: CgroupPaths<'a>,
    pub(crate) created: String,
    #[serde(default)]
    pub(crate) owner: u32,
    pub(crate) config: HeadConfig,
}

/// The fields of the (packed) configuration that the OCI state shows: none of them is inside an
/// array, so packing leaves them as they are. Unknown fields (all the others) are skipped
/// unparsed, as serde does by default.
#[derive(Debug, Deserialize)]
pub(crate) struct HeadConfig {
    pub(crate) rootfs: PathBuf,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) bundle: PathBuf,
}

/// A state file's `cgroup_paths` (hierarchy key, directory), in the file's order, each borrowed
/// from the file's bytes unless it holds an escape.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct CgroupPaths<'a>(pub(crate) Vec<(Cow<'a, str>, Cow<'a, str>)>);

/// A JSON string, borrowed from the input when it holds no escape.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CgroupPaths<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> de::Visitor<'de> for V<'a> {
            type Value = CgroupPaths<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of cgroup paths")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut paths = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some((Text(k), Text(v))) = map.next_entry::<Text<'a>, Text<'a>>()? {
                    paths.push((k, v));
                }
                Ok(CgroupPaths(paths))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'a> Head<'a> {
    /// Reads the head of container `id`'s state file under the state root `root`, opened as
    /// `root_fd` (the file is opened relative to it: `list` reads one per container), with the
    /// same errors as [`super::State::load`] (a missing file is an I/O error of kind
    /// `NotFound`; another format version is named).
    /// `buf` is reused from one call to the next.
    pub(crate) fn read_at(
        root_fd: BorrowedFd<'_>,
        root: &Path,
        id: &str,
        buf: &'a mut Vec<u8>,
    ) -> Result<Head<'a>> {
        let path = || root.join(id).join(STATE_FILE);
        read_small(root_fd, format!("{id}/{STATE_FILE}"), buf)
            .map_err(|e| Error::io("read state", path(), e))?;
        Head::parse(buf).map_err(|reason| Error::State {
            path: path(),
            reason,
        })
    }

    /// Parses the head of a state file's bytes; `Err` is the reason it is not one.
    pub(crate) fn parse(data: &'a [u8]) -> std::result::Result<Head<'a>, String> {
        if let Some(head) = Head::parse_leading(data) {
            return Ok(head);
        }
        // One pass when the file is of this version; the version check names the reason when
        // it is not (a file of another version need not have this layout).
        match serde_json::from_slice::<Head>(data) {
            Ok(head) if head.version == Some(u64::from(STATE_VERSION)) => Ok(head),
            parsed => {
                check_version(data)?;
                parsed.map_err(|e| e.to_string())
            }
        }
    }

    /// The head of a whole state file of this version written by this lashing (its
    /// configuration's OCI fields first): parsed up to them, the rest of the configuration not
    /// looked at. `None` for any other file: [`Head::parse`] then parses it whole, and reports
    /// what is wrong with it.
    pub(super) fn parse_leading(data: &'a [u8]) -> Option<Head<'a>> {
        if !data.trim_ascii_end().ends_with(pack::TAIL) {
            return None;
        }
        let mut head = None;
        // The visitor stops the parse with an error once it has the head.
        let _ = serde_json::Deserializer::from_slice(data)
            .deserialize_map(LeadingVisitor { head: &mut head });
        head.filter(|h| h.version == Some(u64::from(STATE_VERSION)))
    }

    /// Whether the container is still being created (not listed, as runc).
    pub(crate) fn being_created(&self) -> bool {
        self.creator.is_some()
    }
}

/// The error with which [`LeadingVisitor`] ends the parse once it has what it needs.
const STOP: &str = "\u{0}stop";

/// Reads a state file's members up to its configuration's OCI fields, into `head`.
struct LeadingVisitor<'h, 'a> {
    head: &'h mut Option<Head<'a>>,
}

impl<'de: 'a, 'a> de::Visitor<'de> for LeadingVisitor<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a state file")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut version = None;
        let mut id = None;
        let mut pid = None;
        let mut start = None;
        let mut creator = None;
        let mut cgroup_paths = None;
        let mut created = None;
        let mut owner = 0;
        while let Some(key) = map.next_key::<&str>()? {
            match key {
                "version" => version = map.next_value()?,
                "id" => id = Some(map.next_value()?),
                "init_process_pid" => pid = Some(map.next_value()?),
                "init_process_start" => start = Some(map.next_value()?),
                "creator" => creator = map.next_value()?,
                "cgroup_paths" => cgroup_paths = Some(map.next_value()?),
                "created" => created = Some(map.next_value()?),
                "owner" => owner = map.next_value()?,
                "config" => {
                    let mut config = None;
                    // Ends in an error whether it got the fields or not.
                    let _ = map.next_value_seed(LeadingConfig {
                        config: &mut config,
                    });
                    if let (Some(id), Some(pid), Some(start), Some(paths), Some(created), Some(c)) =
                        (id, pid, start, cgroup_paths, created, config)
                    {
                        *self.head = Some(Head {
                            version,
                            id,
                            init_process_pid: pid,
                            init_process_start: start,
                            creator,
                            cgroup_paths: paths,
                            created,
                            owner,
                            config: c,
                        });
                    }
                    return Err(de::Error::custom(STOP));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Err(de::Error::custom(STOP))
    }
}

/// Reads a configuration's leading members, which must be [`pack::HEAD_KEYS`] in that order,
/// into `config`; always ends the parse with an error.
struct LeadingConfig<'a> {
    config: &'a mut Option<HeadConfig>,
}

impl<'de> de::DeserializeSeed<'de> for LeadingConfig<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> de::Visitor<'de> for LeadingConfig<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a configuration")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let [v, r, a, b] = pack::HEAD_KEYS;
        // Written first, not shown: a state's version is the runtime's.
        next_key_is(&mut map, v)?;
        map.next_value::<de::IgnoredAny>()?;
        next_key_is(&mut map, r)?;
        let rootfs = map.next_value()?;
        next_key_is(&mut map, a)?;
        let annotations = map.next_value()?;
        next_key_is(&mut map, b)?;
        let bundle = map.next_value()?;
        *self.config = Some(HeadConfig {
            rootfs,
            annotations,
            bundle,
        });
        Err(de::Error::custom(STOP))
    }
}

/// `Ok` if the map's next key is `want`.
fn next_key_is<'de, A: MapAccess<'de>>(
    map: &mut A,
    want: &str,
) -> std::result::Result<(), A::Error> {
    match map.next_key::<&str>()? {
        Some(k) if k == want => Ok(()),
        _ => Err(de::Error::custom(STOP)),
    }
}

/// Reads a small file (a state file) whole, relative to `dir`, into `buf` (its capacity kept
/// from call to call: 4 KiB at least, which a state file usually fits; the bytes are read into
/// it as they are, not zeroed first), without the `statx` that `fs::read` asks for its size. A
/// read that returns less than asked for and ends the file as a whole state file does
/// ([`pack::TAIL`]) is taken as the end: no second `read` to see it (a regular file's short read
/// is its end; any other ending reads on to make sure).
pub(crate) fn read_small(
    dir: BorrowedFd<'_>,
    path: impl rustix::path::Arg,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    let fd = rustix::fs::openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    buf.clear();
    buf.reserve(4096);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len());
        }
        let asked = buf.capacity() - buf.len();
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(buf)) {
            Ok(0) => break,
            Ok(n) => {
                if n < asked && buf.ends_with(pack::TAIL) {
                    break;
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
