//! The format's leaf: the state file's name and version, and [`Head`]: what `list` shows of a
//! container, read from `state.json` without its configuration (of which only the four fields
//! of the OCI state are read; the rest, most of the file, is skipped by the parser without
//! building anything).

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use serde::Deserialize;

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

/// The fields of a state file that the OCI state and the status need.
#[derive(Debug, Deserialize)]
pub(crate) struct Head {
    pub(crate) version: Option<u64>,
    pub(crate) id: String,
    pub(crate) init_process_pid: i32,
    pub(crate) init_process_start: u64,
    /// Set while the container is being created (what it holds is [`super::ProcId`]'s).
    #[serde(default)]
    pub(crate) creator: Option<serde::de::IgnoredAny>,
    pub(crate) cgroup_paths: BTreeMap<String, PathBuf>,
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
    #[serde(default)]
    pub(crate) oci_version: String,
    pub(crate) rootfs: PathBuf,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) bundle: PathBuf,
}

impl Head {
    /// Reads the head of container `id`'s state file under the state root `root`, opened as
    /// `root_fd` (the file is opened relative to it: `list` reads one per container), with the
    /// same errors as [`super::State::load`] (a missing file is an I/O error of kind
    /// `NotFound`; another format version is named).
    pub(crate) fn read_at(root_fd: BorrowedFd<'_>, root: &Path, id: &str) -> Result<Head> {
        let path = || root.join(id).join(STATE_FILE);
        let data = read_small(root_fd, format!("{id}/{STATE_FILE}"))
            .map_err(|e| Error::io("read state", path(), e))?;
        Head::parse(&data).map_err(|reason| Error::State {
            path: path(),
            reason,
        })
    }

    /// Parses the head of a state file's bytes; `Err` is the reason it is not one.
    pub(crate) fn parse(data: &[u8]) -> std::result::Result<Head, String> {
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

    /// Whether the container is still being created (not listed, as runc).
    pub(crate) fn being_created(&self) -> bool {
        self.creator.is_some()
    }
}

/// Reads a small file (a state file) whole, relative to `dir`: into a 4 KiB buffer first,
/// without the `statx` that `fs::read` asks for its size.
pub(crate) fn read_small(
    dir: BorrowedFd<'_>,
    path: impl rustix::path::Arg,
) -> std::io::Result<Vec<u8>> {
    let fd = rustix::fs::openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(len);
    Ok(buf)
}
