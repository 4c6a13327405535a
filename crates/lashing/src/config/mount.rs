//! The mounts of the model: [`Mount`], its typed `MS_*` flags ([`MsFlags`]) and recursive
//! attributes. The option parser (`mount_opts`) builds these from an OCI mount's `options`.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::namespace::IdMap;

/// An `MS_*` constant (a `c_ulong`) as the `u64` of [`MsFlags`].
#[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit targets; From is not const
const fn ms(flag: libc::c_ulong) -> u64 {
    flag as u64
}

bitflags::bitflags! {
    /// Flags of `mount(2)` (`MS_*`): what a mount sets, what it clears, its propagation. The one
    /// definition of these flags in lashing; the rootfs code hands [`MsFlags::bits`] to the
    /// kernel. Serialized as the raw number, as `state.json` has always kept it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MsFlags: u64 {
        /// `MS_RDONLY` (`ro`).
        const RDONLY = ms(libc::MS_RDONLY);
        /// `MS_NOSUID`.
        const NOSUID = ms(libc::MS_NOSUID);
        /// `MS_NODEV`.
        const NODEV = ms(libc::MS_NODEV);
        /// `MS_NOEXEC`.
        const NOEXEC = ms(libc::MS_NOEXEC);
        /// `MS_SYNCHRONOUS` (`sync`).
        const SYNCHRONOUS = ms(libc::MS_SYNCHRONOUS);
        /// `MS_REMOUNT`.
        const REMOUNT = ms(libc::MS_REMOUNT);
        /// `MS_MANDLOCK` (`mand`).
        const MANDLOCK = ms(libc::MS_MANDLOCK);
        /// `MS_DIRSYNC`.
        const DIRSYNC = ms(libc::MS_DIRSYNC);
        /// `MS_NOSYMFOLLOW`.
        const NOSYMFOLLOW = ms(libc::MS_NOSYMFOLLOW);
        /// `MS_NOATIME`.
        const NOATIME = ms(libc::MS_NOATIME);
        /// `MS_NODIRATIME`.
        const NODIRATIME = ms(libc::MS_NODIRATIME);
        /// `MS_BIND`.
        const BIND = ms(libc::MS_BIND);
        /// `MS_MOVE`.
        const MOVE = ms(libc::MS_MOVE);
        /// `MS_REC`: recursive (with `BIND` or a propagation type).
        const REC = ms(libc::MS_REC);
        /// `MS_SILENT`.
        const SILENT = ms(libc::MS_SILENT);
        /// `MS_POSIXACL` (`acl`).
        const POSIXACL = ms(libc::MS_POSIXACL);
        /// `MS_UNBINDABLE`.
        const UNBINDABLE = ms(libc::MS_UNBINDABLE);
        /// `MS_PRIVATE`.
        const PRIVATE = ms(libc::MS_PRIVATE);
        /// `MS_SLAVE`.
        const SLAVE = ms(libc::MS_SLAVE);
        /// `MS_SHARED`.
        const SHARED = ms(libc::MS_SHARED);
        /// `MS_RELATIME`.
        const RELATIME = ms(libc::MS_RELATIME);
        /// `MS_I_VERSION` (`iversion`).
        const I_VERSION = ms(libc::MS_I_VERSION);
        /// `MS_STRICTATIME`.
        const STRICTATIME = ms(libc::MS_STRICTATIME);
        /// `MS_LAZYTIME`.
        const LAZYTIME = ms(libc::MS_LAZYTIME);
        // Bits without a name here are kept as they are (a config built by hand may use them).
        const _ = !0;
    }
}

impl Serialize for MsFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.bits())
    }
}

impl<'de> Deserialize<'de> for MsFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(MsFlags::from_bits_retain)
    }
}

/// Recursive mount attributes (`mount_setattr(2)` with `AT_RECURSIVE`), from the `r*` mount options
/// (`rro`, `rnosuid`, `rnoatime`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecAttr {
    /// `MOUNT_ATTR_*` bits to set.
    pub attr_set: u64,
    /// `MOUNT_ATTR_*` bits to clear.
    pub attr_clr: u64,
}

/// One mount of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Source: a host path for bind mounts (absolute: `from_oci` joins relative ones with the
    /// bundle), or the device / name for other file systems (`proc`, `tmpfs`, ...).
    pub source: String,
    /// Absolute path inside the container.
    pub destination: PathBuf,
    /// File-system type (`proc`, `tmpfs`, `cgroup`, ...), or `"bind"` for a bind mount.
    pub device: String,
    /// `MS_*` flags to set (incl. `MS_BIND`, `MS_REC`, `MS_RDONLY`, ...).
    pub flags: MsFlags,
    /// `MS_*` flags explicitly cleared by an option (`rw`, `suid`, `dev`, `exec`, ...): a bind
    /// remount must not keep them from the source.
    pub cleared_flags: MsFlags,
    /// Propagation flags applied after the mount, each one a single propagation type (with
    /// `MS_REC` for the recursive ones).
    pub propagation_flags: Vec<MsFlags>,
    /// File-system data (the options that are not flags), comma-separated.
    pub data: String,
    /// Recursive attributes from the `r*` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec_attr: Option<RecAttr>,
    /// Extensions: [`Mount::EXT_COPYUP`] (`tmpcopyup`).
    #[serde(default)]
    pub extensions: u32,
    /// The id mapping of an idmapped mount (`idmap`/`ridmap`, `uidMappings`/`gidMappings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_mapping: Option<MountIdMapping>,
}

impl Mount {
    /// Extension bit: copy the contents of the destination into the new tmpfs (`tmpcopyup`).
    pub const EXT_COPYUP: u32 = 1;

    /// Whether this is a bind mount (`device == "bind"` or `MS_BIND` in flags).
    pub fn is_bind(&self) -> bool {
        self.device == "bind" || self.flags.contains(MsFlags::BIND)
    }
}

/// The id mapping of an idmapped mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountIdMapping {
    /// `ridmap` (recursive) rather than `idmap`.
    pub recursive: bool,
    /// uid mappings.
    pub uid_mappings: Vec<IdMap>,
    /// gid mappings.
    pub gid_mappings: Vec<IdMap>,
    /// `idmap`/`ridmap` without maps of its own in a container that joins a user namespace by
    /// path: that user namespace carries the mapping (runc's `UserNSPath`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_path: Option<std::path::PathBuf>,
}
