//! Intel RDT (`linux.intelRdt`) through the kernel's resctrl file system: runc's
//! `libcontainer/intelrdt` manager.
//!
//! resctrl is a one-level tree: its root is the default class of service (CLOS), each directory
//! below is another CLOS group with a `schemata` file (the L3 cache bitmasks and memory bandwidth
//! it may use: `L3:0=7f0;1=1f`, `MB:0=20;1=70`) and a `tasks` file (its processes; a fork stays
//! in its parent's group). A group may hold monitoring groups (`mon_groups/<name>`, their own
//! `tasks`) whose `mon_data/mon_L3_<domain>/` counters are the CMT/MBM statistics.
//!
//! What lashing does, as runc and the OCI runtime spec (1.3) say:
//! - the group is `<resctrl>/<closID>`, or `<resctrl>/<container id>` without `closID`;
//! - with `closID` and no schema the group must exist already (it is managed by someone else);
//!   with `closID` and schemas, a group that exists must already hold them (compared by value:
//!   see [`schemata`]), one that does not is created;
//! - the schemas (`l3CacheSchema`, `memBwSchema`, then each `schemata` line) are written to the
//!   group's `schemata` in one write, then the init's pid to its `tasks`; with `enableMonitoring`
//!   a monitoring group `mon_groups/<container id>` is made in it and the pid added there too;
//! - an `exec`'d process joins the same groups;
//! - `delete` removes the monitoring group, and the CLOS group only when lashing named it (no
//!   `closID`: a group named by `closID` is shared and stays, as in runc);
//! - a failed write says what the kernel's `info/last_cmd_status` says about it.
//!
//! The mount is found at `/sys/fs/resctrl` (by its magic number) or anywhere in mountinfo; the
//! features from its `info/` directory (`L3`: CAT, `MB`: MBA, `L3_MON`: monitoring). Nothing of
//! this runs for a container without `linux.intelRdt`. Untested on RDT hardware: the tests run
//! the same code against a directory laid out as resctrl is (`Resctrl::at`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod schemata;
mod stats;

use stats::line_of;
pub use stats::{CacheInfo, CmtStats, MbmStats, MemBwInfo, RdtStats};

/// `linux.intelRdt` of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelRdt {
    /// `closID`: the CLOS group to join (created when schemas are given and it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clos_id: Option<String>,
    /// `l3CacheSchema`: `L3:<cache id>=<bitmask>;...` (needs CAT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l3_cache_schema: Option<String>,
    /// `memBwSchema`: `MB:<cache id>=<bandwidth>;...` (needs MBA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_bw_schema: Option<String>,
    /// `schemata`: lines written as they are, after the two schemas above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemata: Vec<String>,
    /// `enableMonitoring`: a monitoring group of the container's own.
    #[serde(default)]
    pub enable_monitoring: bool,
}

impl IntelRdt {
    /// The checks that need no resctrl: `closID` must name one directory (runc's validator).
    pub fn validate(&self) -> Result<(), RdtError> {
        if let Some(id) = &self.clos_id
            && (id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0'))
        {
            return Err(RdtError::InvalidClosId(id.clone()));
        }
        for l in self.lines() {
            schemata::parse_line(l)?;
        }
        Ok(())
    }

    /// The schemata lines to write, in order.
    fn lines(&self) -> Vec<&str> {
        schemata::lines(
            self.l3_cache_schema.as_deref(),
            self.mem_bw_schema.as_deref(),
            &self.schemata,
        )
    }
}

/// A failure of Intel RDT, naming what and where.
#[derive(Debug, thiserror::Error)]
pub enum RdtError {
    /// No resctrl at all: the CPU or the kernel lacks RDT (the kernel makes `/sys/fs/resctrl`
    /// only when it supports it).
    #[error(
        "intelRdt is specified in config, but Intel RDT is not supported by this CPU or kernel (no resctrl: /sys/fs/resctrl is missing)"
    )]
    NotSupported,
    /// The kernel supports resctrl but it is not mounted.
    #[error(
        "intelRdt is specified in config, but the resctrl file system is not mounted (mount -t resctrl resctrl /sys/fs/resctrl)"
    )]
    NotMounted,
    /// A schema or monitoring asked for a feature resctrl does not offer.
    #[error("intelRdt.{field} is specified in config, but Intel RDT/{feature} is not enabled")]
    FeatureMissing {
        /// The configuration field.
        field: &'static str,
        /// The missing feature (`CAT`, `MBA`, `monitoring`).
        feature: &'static str,
    },
    /// `closID` is not one directory name.
    #[error("invalid intelRdt.ClosID {0:?}")]
    InvalidClosId(String),
    /// A schemata line that does not parse.
    #[error("intelRdt: {0}")]
    Schema(#[from] schemata::ParseError),
    /// `closID` without schemas names a group that does not exist.
    #[error(
        "clos dir not accessible (must be pre-created when l3CacheSchema and memBwSchema are empty): {path}: {source}"
    )]
    ClosMissing {
        /// The group's directory.
        path: PathBuf,
        /// Why it cannot be used.
        source: std::io::Error,
    },
    /// The group named by `closID` exists with other schemata.
    #[error("intelRdt: the existing CLOS group {path} does not have the schemata asked for: {why}")]
    SchemataMismatch {
        /// The group's directory.
        path: PathBuf,
        /// The first difference.
        why: String,
    },
    /// `update` of a schema whose feature resctrl does not offer (runc's text).
    #[error("Intel RDT/{0} is not enabled")]
    UpdateNotEnabled(&'static str),
    /// `update` of a schema for a container without `linux.intelRdt` (runc's text).
    #[error("updating a non-existent Intel RDT configuration is not supported")]
    NoConfig,
    /// A resctrl file operation failed; `status` is the kernel's `info/last_cmd_status`.
    #[error("intelrdt: {op} {path}: {source}{}", status.as_ref().map(|s| format!(", last_cmd_status: {s}")).unwrap_or_default())]
    Io {
        /// What was done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
        /// The kernel's explanation, when it gave one.
        status: Option<String>,
    },
}

/// The resctrl magic number (`RDTGROUP_SUPER_MAGIC`).
const RESCTRL_MAGIC: u64 = 0x7655821;
/// Where the kernel offers resctrl, and where it is normally mounted.
pub const DEFAULT_ROOT: &str = "/sys/fs/resctrl";

/// A mounted resctrl and the features it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resctrl {
    root: PathBuf,
    /// `info/L3`: cache allocation (CAT).
    pub cat: bool,
    /// `info/MB`: memory bandwidth allocation (MBA).
    pub mba: bool,
    /// `info/L3_MON`: monitoring (CMT/MBM).
    pub monitoring: bool,
}

impl Resctrl {
    /// Finds the host's resctrl: `/sys/fs/resctrl` when resctrl is mounted there, else the first
    /// `resctrl` mount of mountinfo. A clear error when the kernel has none or it is not mounted.
    pub fn find() -> Result<Resctrl, RdtError> {
        match rustix::fs::statfs(DEFAULT_ROOT) {
            Ok(st) if st.f_type as u64 == RESCTRL_MAGIC => return Ok(Resctrl::at(DEFAULT_ROOT)),
            Ok(_) => {}
            Err(rustix::io::Errno::NOENT) => return Err(RdtError::NotSupported),
            Err(e) => {
                return Err(RdtError::Io {
                    op: "statfs",
                    path: DEFAULT_ROOT.into(),
                    source: e.into(),
                    status: None,
                });
            }
        }
        let text = fs::read_to_string("/proc/self/mountinfo").map_err(|e| RdtError::Io {
            op: "read",
            path: "/proc/self/mountinfo".into(),
            source: e,
            status: None,
        })?;
        mount_point(&text)
            .map(Resctrl::at)
            .ok_or(RdtError::NotMounted)
    }

    /// The resctrl mounted (or laid out, for tests) at `root`, with the features its `info/`
    /// directory shows.
    pub fn at(root: impl Into<PathBuf>) -> Resctrl {
        let root = root.into();
        let info = root.join("info");
        Resctrl {
            cat: info.join("L3").is_dir(),
            mba: info.join("MB").is_dir(),
            monitoring: info.join("L3_MON").is_dir(),
            root,
        }
    }

    /// The mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks that resctrl offers what `rdt` asks for (runc's validator, with its texts).
    pub fn check(&self, rdt: &IntelRdt) -> Result<(), RdtError> {
        rdt.validate()?;
        let missing = |field, feature| Err(RdtError::FeatureMissing { field, feature });
        if rdt.l3_cache_schema.is_some() && !self.cat {
            return missing("l3CacheSchema", "CAT");
        }
        if rdt.mem_bw_schema.is_some() && !self.mba {
            return missing("memBwSchema", "MBA");
        }
        if rdt.enable_monitoring && !self.monitoring {
            return missing("enableMonitoring", "monitoring");
        }
        Ok(())
    }

    /// The container's CLOS group: `closID`, or the container id.
    pub fn group(&self, id: &str, rdt: &IntelRdt) -> PathBuf {
        self.root.join(rdt.clos_id.as_deref().unwrap_or(id))
    }

    /// The container's monitoring group (`enableMonitoring`).
    pub fn mon_group(&self, id: &str, rdt: &IntelRdt) -> PathBuf {
        self.group(id, rdt).join("mon_groups").join(id)
    }

    /// Puts the container's init `pid` in its groups (creating them and writing the schemata as
    /// the module documentation says). On failure, what this call created is removed again.
    pub fn apply(&self, id: &str, rdt: &IntelRdt, pid: i32) -> Result<(), RdtError> {
        self.check(rdt)?;
        let group = self.group(id, rdt);
        let lines = rdt.lines();
        let exists = group.is_dir();
        let mut created = false;
        if rdt.clos_id.is_some() && exists && !lines.is_empty() {
            let have = self.read(&group.join("schemata"))?;
            schemata::check_match(&have, &lines).map_err(|why| RdtError::SchemataMismatch {
                path: group.clone(),
                why,
            })?;
        } else if rdt.clos_id.is_some() && lines.is_empty() {
            fs::metadata(&group).map_err(|source| RdtError::ClosMissing {
                path: group.clone(),
                source,
            })?;
        } else {
            if !exists {
                self.mkdir(&group)?;
                created = true;
            }
            if let Err(e) = self.write_schemata(id, rdt) {
                self.undo(created.then_some(&group), None);
                return Err(e);
            }
        }
        let r = self.join_pid(id, rdt, pid, true);
        if r.is_err() {
            self.undo(created.then_some(&group), Some(&self.mon_group(id, rdt)));
        }
        r
    }

    /// Adds `pid` to the container's groups (an `exec`'d process; `create_mon` makes the
    /// monitoring group first, for the init).
    pub fn join_pid(
        &self,
        id: &str,
        rdt: &IntelRdt,
        pid: i32,
        create_mon: bool,
    ) -> Result<(), RdtError> {
        let group = self.group(id, rdt);
        self.write(&group.join("tasks"), &pid.to_string(), "add the pid to")?;
        if rdt.enable_monitoring {
            let mon = self.mon_group(id, rdt);
            if create_mon && !mon.is_dir() {
                self.mkdir(&mon)?;
            }
            self.write(&mon.join("tasks"), &pid.to_string(), "add the pid to")?;
        }
        Ok(())
    }

    /// Removes what the container owns: its monitoring group, and its CLOS group unless
    /// `closID` named it. Gone already is fine.
    pub fn remove(&self, id: &str, rdt: &IntelRdt) -> Result<(), RdtError> {
        let mut dirs = Vec::new();
        if rdt.enable_monitoring {
            dirs.push(self.mon_group(id, rdt));
        }
        if rdt.clos_id.is_none() {
            dirs.push(self.group(id, rdt));
        }
        for d in dirs {
            remove_group(&d).map_err(|e| self.io("remove", &d, e))?;
        }
        Ok(())
    }

    fn undo(&self, group: Option<&PathBuf>, mon: Option<&PathBuf>) {
        for d in mon.into_iter().chain(group) {
            let _ = remove_group(d);
        }
    }

    /// Creates a group (a monitoring group's `mon_groups` exists in every resctrl group; it is
    /// made too where it does not, in a directory laid out as resctrl for the tests).
    fn mkdir(&self, dir: &Path) -> Result<(), RdtError> {
        let r = if dir.parent().is_some_and(|p| p.ends_with("mon_groups")) {
            fs::create_dir_all(dir)
        } else {
            fs::create_dir(dir)
        };
        r.map_err(|e| self.io("create", dir, e))
    }

    /// One `write(2)` of `text` (resctrl parses each write as a whole; it has made the group's
    /// files with the group: `create` only matters in a directory laid out as resctrl).
    fn write(&self, path: &Path, text: &str, op: &'static str) -> Result<(), RdtError> {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| self.io(op, path, e))
    }

    fn read(&self, path: &Path) -> Result<String, RdtError> {
        fs::read_to_string(path).map_err(|e| self.io("read", path, e))
    }

    /// Writes the schemata lines of `rdt` to the container's CLOS group (`update`).
    pub fn write_schemata(&self, id: &str, rdt: &IntelRdt) -> Result<(), RdtError> {
        let lines = rdt.lines();
        if lines.is_empty() {
            return Ok(());
        }
        let mut text = lines.join("\n");
        text.push('\n');
        self.write(
            &self.group(id, rdt).join("schemata"),
            &text,
            "write schemata to",
        )
    }

    /// An I/O error with the kernel's `info/last_cmd_status` (runc's newLastCmdError).
    fn io(&self, op: &'static str, path: &Path, source: std::io::Error) -> RdtError {
        let status = fs::read_to_string(self.root.join("info/last_cmd_status"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "ok");
        RdtError::Io {
            op,
            path: path.to_path_buf(),
            source,
            status,
        }
    }
}

/// Statistics (the types are in `stats.rs`).
impl Resctrl {
    /// The statistics of the container `id`'s groups.
    pub fn stats(&self, id: &str, rdt: &IntelRdt) -> Result<RdtStats, RdtError> {
        let mut st = RdtStats::default();
        let root_lines = self.read(&self.root.join("schemata"))?;
        let group = self.group(id, rdt);
        let lines = self.read(&group.join("schemata"))?;
        let info = self.root.join("info");
        if self.cat {
            let d = info.join("L3");
            st.l3_cache_info = Some(CacheInfo {
                cbm_mask: self.read(&d.join("cbm_mask"))?.trim().to_string(),
                min_cbm_bits: self.number(&d.join("min_cbm_bits"))?,
                num_closids: self.number(&d.join("num_closids"))?,
            });
            st.l3_cache_schema_root = line_of(&root_lines, "L3");
            st.l3_cache_schema = line_of(&lines, "L3");
        }
        if self.mba {
            let d = info.join("MB");
            st.mem_bw_info = Some(MemBwInfo {
                bandwidth_gran: self.number(&d.join("bandwidth_gran"))?,
                delay_linear: self.number(&d.join("delay_linear"))?,
                min_bandwidth: self.number(&d.join("min_bandwidth"))?,
                num_closids: self.number(&d.join("num_closids"))?,
            });
            st.mem_bw_schema_root = line_of(&root_lines, "MB");
            st.mem_bw_schema = line_of(&lines, "MB");
        }
        if self.monitoring {
            let features = self.read(&info.join("L3_MON/mon_features"))?;
            let has = |f: &str| features.lines().any(|l| l.trim() == f);
            let (mbm, cmt) = (
                has("mbm_total_bytes") || has("mbm_local_bytes"),
                has("llc_occupancy"),
            );
            let counted = if rdt.enable_monitoring {
                self.mon_group(id, rdt)
            } else {
                group
            };
            let mut domains = self.mon_domains(&counted.join("mon_data"))?;
            domains.sort();
            if mbm {
                let mut v = Vec::new();
                for d in &domains {
                    v.push(MbmStats {
                        mbm_total_bytes: self.counter(d, "mbm_total_bytes", has)?,
                        mbm_local_bytes: self.counter(d, "mbm_local_bytes", has)?,
                    });
                }
                st.mbm_stats = Some(v);
            }
            if cmt {
                let mut v = Vec::new();
                for d in &domains {
                    v.push(CmtStats {
                        llc_occupancy: self.counter(d, "llc_occupancy", has)?,
                    });
                }
                st.cmt_stats = Some(v);
            }
        }
        Ok(st)
    }

    /// The `mon_data/mon_L3_*` directories.
    fn mon_domains(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>, RdtError> {
        let rd = fs::read_dir(dir).map_err(|e| self.io("read", dir, e))?;
        Ok(rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("mon_L3_"))
            .map(|e| e.path())
            .collect())
    }

    /// A counter the features list, else 0.
    fn counter(&self, dir: &Path, name: &str, has: impl Fn(&str) -> bool) -> Result<u64, RdtError> {
        if has(name) {
            self.number(&dir.join(name))
        } else {
            Ok(0)
        }
    }

    fn number(&self, path: &Path) -> Result<u64, RdtError> {
        let text = self.read(path)?;
        text.trim().parse().map_err(|_| {
            let e = std::io::Error::other(format!("not a number: {:?}", text.trim()));
            self.io("parse", path, e)
        })
    }
}

/// `create`, before anything is made: resctrl is there and offers what `rdt` asks for.
/// Without resctrl a schema is refused with runc's text for its feature; anything else
/// (`closID` alone, monitoring), which runc 1.3 would silently ignore, with why there is none.
pub(crate) fn precheck(rdt: &IntelRdt) -> Result<(), RdtError> {
    rdt.validate()?;
    match Resctrl::find() {
        Ok(r) => r.check(rdt),
        Err(e @ (RdtError::NotSupported | RdtError::NotMounted)) => {
            let none = Resctrl::at("/nonexistent");
            match none.check(rdt) {
                Err(f @ RdtError::FeatureMissing { field, .. }) if field != "enableMonitoring" => {
                    Err(f)
                }
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Puts a new process of the container `id` in its groups: the init (`init`, creating them) or
/// an `exec`'d process, which joins the group only where it still exists (as runc's setns
/// process: a resctrl unmounted or a group removed since `create` is not an `exec` error).
pub(crate) fn place(id: &str, rdt: &IntelRdt, pid: i32, init: bool) -> Result<(), RdtError> {
    if init {
        return Resctrl::find()?.apply(id, rdt, pid);
    }
    match Resctrl::find() {
        Ok(r) if r.group(id, rdt).is_dir() => r.join_pid(id, rdt, pid, false),
        _ => Ok(()),
    }
}

/// `delete`: removes the container's groups; without resctrl there is nothing to remove.
pub(crate) fn remove(id: &str, rdt: &IntelRdt) -> Result<(), RdtError> {
    match Resctrl::find() {
        Ok(r) => r.remove(id, rdt),
        Err(RdtError::NotSupported | RdtError::NotMounted) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes a resctrl group: one `rmdir` (the kernel removes a group with its files), or, where
/// that finds files (a directory laid out as resctrl), the whole tree, as runc's `os.RemoveAll`.
/// Gone already is fine.
fn remove_group(dir: &Path) -> std::io::Result<()> {
    match fs::remove_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => fs::remove_dir_all(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// The first `resctrl` mount point in mountinfo text.
fn mount_point(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split(' ').next()? != "resctrl" {
            return None;
        }
        let mp = pre.split(' ').nth(4)?;
        Some(PathBuf::from(
            lashing_cgroups::hierarchy::unescape_mountinfo(mp),
        ))
    })
}

#[cfg(test)]
mod tests;
