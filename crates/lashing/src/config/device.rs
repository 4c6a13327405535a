//! Devices of the model: the nodes to create in the container's `/dev` and the device-cgroup
//! rules.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The type of a device node (OCI `linux.devices[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceType {
    /// `c`: a character device.
    #[serde(rename = "c")]
    Char,
    /// `u`: an unbuffered character device (made as a character device).
    #[serde(rename = "u")]
    Unbuffered,
    /// `b`: a block device.
    #[serde(rename = "b")]
    Block,
    /// `p`: a FIFO.
    #[serde(rename = "p")]
    Fifo,
}

impl DeviceType {
    /// The OCI letter of this type (`'c'`, `'u'`, `'b'`, `'p'`).
    pub fn letter(self) -> char {
        match self {
            DeviceType::Char => 'c',
            DeviceType::Unbuffered => 'u',
            DeviceType::Block => 'b',
            DeviceType::Fifo => 'p',
        }
    }
}

/// A device node to create in the container's `/dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Absolute path inside the container (`/dev/null`).
    pub path: PathBuf,
    /// Char, block, FIFO or unbuffered char.
    pub typ: DeviceType,
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// Permission bits of the node (e.g. `0o666`).
    pub file_mode: u32,
    /// Owner uid (host view: `from_oci` maps it through the user namespace).
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
}

/// The devices a device-cgroup rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceRuleType {
    /// `a`: every device.
    #[serde(rename = "a")]
    All,
    /// `c`: character devices.
    #[serde(rename = "c")]
    Char,
    /// `b`: block devices.
    #[serde(rename = "b")]
    Block,
}

impl DeviceRuleType {
    /// The letter of this type in the cgroup's rule syntax (`'a'`, `'c'`, `'b'`).
    pub fn letter(self) -> char {
        match self {
            DeviceRuleType::All => 'a',
            DeviceRuleType::Char => 'c',
            DeviceRuleType::Block => 'b',
        }
    }
}

/// A device-cgroup rule (`c 1:3 rwm`, `c 136:* rwm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// All devices, char or block.
    pub typ: DeviceRuleType,
    /// Major number, `None` for any.
    #[serde(with = "any_number")]
    pub major: Option<i64>,
    /// Minor number, `None` for any.
    #[serde(with = "any_number")]
    pub minor: Option<i64>,
    /// A subset of `"rwm"`.
    pub permissions: String,
    /// Allow (true) or deny (false).
    pub allow: bool,
}

impl DeviceRule {
    /// The rule in the OCI `linux.resources.devices` form the cgroup managers apply (no type,
    /// major or minor for "any").
    pub fn to_cgroup(&self) -> lashing_cgroups::resources::DeviceCgroup {
        lashing_cgroups::resources::DeviceCgroup {
            allow: self.allow,
            typ: (self.typ != DeviceRuleType::All).then(|| self.typ.letter().to_string()),
            major: self.major,
            minor: self.minor,
            access: Some(self.permissions.clone()),
        }
    }
}

/// A rule's major or minor in JSON: `-1` (any negative number when reading) stands for "any", as
/// in the cgroup syntax's `*` and in the `state.json` of earlier versions.
mod any_number {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(v.unwrap_or(-1))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        i64::deserialize(d).map(|n| (n >= 0).then_some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_numbers_any_is_minus_one() {
        let r = DeviceRule {
            typ: DeviceRuleType::Char,
            major: Some(136),
            minor: None,
            permissions: "rwm".into(),
            allow: true,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["major"], 136);
        assert_eq!(v["minor"], -1);
        assert_eq!(v["typ"], "c");
        assert_eq!(serde_json::from_value::<DeviceRule>(v).unwrap(), r);
    }

    #[test]
    fn types_are_the_oci_letters() {
        for t in [
            DeviceType::Char,
            DeviceType::Unbuffered,
            DeviceType::Block,
            DeviceType::Fifo,
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.letter().to_string());
        }
        for t in [
            DeviceRuleType::All,
            DeviceRuleType::Char,
            DeviceRuleType::Block,
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.letter().to_string());
        }
        // What validation refused before the types were enums cannot be read any more.
        assert!(serde_json::from_str::<DeviceType>("\"a\"").is_err());
        assert!(serde_json::from_str::<DeviceRuleType>("\"p\"").is_err());
    }
}
