//! An emulator of the v1 devices cgroup (runc's `devices.emulator`): a default policy plus a set
//! of exceptions, built by applying rules in order with the kernel's semantics. It yields the
//! minimal transition between two states (for `devices.allow`/`devices.deny`) and the clean rule
//! set the v2 eBPF program is generated from, so that both versions enforce the same policy.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// Access bits, with the values of the eBPF device context (`BPF_DEVCG_ACC_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Access(u8);

impl Access {
    /// `m`: mknod.
    pub const MKNOD: Access = Access(1);
    /// `r`: read.
    pub const READ: Access = Access(2);
    /// `w`: write.
    pub const WRITE: Access = Access(4);
    /// `rwm`.
    pub const ALL: Access = Access(7);
    /// No access.
    pub const NONE: Access = Access(0);

    /// Parses a subset of `rwm` (empty is refused).
    pub fn parse(s: &str) -> Option<Access> {
        if s.is_empty() {
            return None;
        }
        let mut bits = 0;
        for c in s.chars() {
            bits |= match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => return None,
            };
        }
        Some(Access(bits))
    }

    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From raw bits (masked to `rwm`).
    pub fn from_bits(bits: u8) -> Access {
        Access(bits & 7)
    }

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn union(self, o: Access) -> Access {
        Access(self.0 | o.0)
    }

    fn difference(self, o: Access) -> Access {
        Access(self.0 & !o.0)
    }

    fn intersects(self, o: Access) -> bool {
        self.0 & o.0 != 0
    }

    fn contains(self, o: Access) -> bool {
        o.0 & !self.0 == 0
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(2, 'r'), (4, 'w'), (1, 'm')] {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Device type of a rule: `a` (all), `b` (block) or `c` (char).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DevType {
    /// All devices (`a`): only in a rule that resets the whole cgroup.
    All,
    /// Block devices.
    Block,
    /// Character devices.
    Char,
}

impl DevType {
    fn letter(self) -> char {
        match self {
            DevType::All => 'a',
            DevType::Block => 'b',
            DevType::Char => 'c',
        }
    }
}

/// One device rule: `allow` or deny `access` on the devices of type `typ` with `major:minor`
/// (`None` = `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    /// Allow or deny.
    pub allow: bool,
    /// Device type.
    pub typ: DevType,
    /// Major number or any.
    pub major: Option<u32>,
    /// Minor number or any.
    pub minor: Option<u32>,
    /// Access.
    pub access: Access,
}

impl Rule {
    /// The v1 text `TYPE MAJOR:MINOR ACCESS` (`a` alone resets).
    pub fn cgroup_string(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_owned(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.typ.letter(),
            n(self.major),
            n(self.minor),
            self.access
        )
    }

    /// Converts an OCI rule (absent type = `a`, absent or negative numbers = `*`, absent access
    /// = `rwm`).
    pub fn from_oci(r: &crate::resources::DeviceCgroup) -> Result<Rule> {
        let invalid = |reason: &str| Error::InvalidResource {
            resource: "devices".to_owned(),
            value: format!("{r:?}"),
            reason: reason.to_owned(),
        };
        let typ = match r.typ.as_deref().unwrap_or("a") {
            "a" => DevType::All,
            "b" => DevType::Block,
            "c" => DevType::Char,
            _ => return Err(invalid("type must be a, b or c")),
        };
        let num = |v: Option<i64>| -> Result<Option<u32>> {
            match v {
                None => Ok(None),
                Some(v) if v < 0 => Ok(None),
                Some(v) => u32::try_from(v)
                    .ok()
                    .filter(|v| *v <= i32::MAX as u32)
                    .map(Some)
                    .ok_or_else(|| invalid("device number out of range")),
            }
        };
        let access = match r.access.as_deref() {
            None => Access::ALL,
            Some(a) => Access::parse(a).ok_or_else(|| invalid("access must be a subset of rwm"))?,
        };
        Ok(Rule {
            allow: r.allow,
            typ,
            major: num(r.major)?,
            minor: num(r.minor)?,
            access,
        })
    }
}

/// The identity of an exception: type, major, minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Meta {
    typ: DevType,
    major: Option<u32>,
    minor: Option<u32>,
}

/// The state of a v1 devices cgroup: a default policy and exceptions to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Emulator {
    default_allow: bool,
    exceptions: BTreeMap<Meta, Access>,
}

impl Emulator {
    /// A cgroup that denies everything (the starting point of a container's rules).
    pub fn deny_all() -> Emulator {
        Emulator::default()
    }

    /// Whether the default is to allow (exceptions deny): a "black list".
    pub fn is_blacklist(&self) -> bool {
        self.default_allow
    }

    /// Applies OCI rules in order to a deny-all emulator.
    pub fn from_oci(rules: &[crate::resources::DeviceCgroup]) -> Result<Emulator> {
        let mut e = Emulator::deny_all();
        for r in rules {
            e.apply(&Rule::from_oci(r)?)?;
        }
        Ok(e)
    }

    /// Applies one rule as a write into `devices.allow` (allow) or `devices.deny` would. A type
    /// `a` rule resets the cgroup to allow-all or deny-all. Removing part of a wildcard
    /// exception is refused (v1 would silently ignore it).
    pub fn apply(&mut self, rule: &Rule) -> Result<()> {
        if rule.typ == DevType::All {
            *self = Emulator {
                default_allow: rule.allow,
                exceptions: BTreeMap::new(),
            };
            return Ok(());
        }
        if rule.allow == self.default_allow {
            self.remove(rule)
        } else {
            let meta = Meta {
                typ: rule.typ,
                major: rule.major,
                minor: rule.minor,
            };
            let e = self.exceptions.entry(meta).or_default();
            *e = e.union(rule.access);
            Ok(())
        }
    }

    /// Takes `rule.access` away from every exception the rule covers (an exception narrower than
    /// the rule loses those bits too, so that rules act in order: `allow c 1:3`, then `deny c *:*`
    /// leaves nothing allowed). An exception wider than the rule in some dimension cannot lose
    /// just the rule's part: that is refused (v1 would silently ignore it).
    fn remove(&mut self, rule: &Rule) -> Result<()> {
        let dim = |r: Option<u32>, e: Option<u32>| {
            (r.is_none() || r == e, r.is_none() || e.is_none() || r == e)
        };
        let mut covered = Vec::new();
        for (ex, access) in &self.exceptions {
            if ex.typ != rule.typ || !access.intersects(rule.access) {
                continue;
            }
            let (cov_major, overlap_major) = dim(rule.major, ex.major);
            let (cov_minor, overlap_minor) = dim(rule.minor, ex.minor);
            if cov_major && cov_minor {
                covered.push(*ex);
            } else if overlap_major && overlap_minor {
                return Err(Error::InvalidResource {
                    resource: "devices".to_owned(),
                    value: rule.cgroup_string(),
                    reason: format!(
                        "cannot punch a hole in the wildcard exception {}",
                        Rule {
                            allow: !self.default_allow,
                            typ: ex.typ,
                            major: ex.major,
                            minor: ex.minor,
                            access: *access,
                        }
                        .cgroup_string()
                    ),
                });
            }
        }
        for meta in covered {
            let new = self.exceptions[&meta].difference(rule.access);
            if new.is_empty() {
                self.exceptions.remove(&meta);
            } else {
                self.exceptions.insert(meta, new);
            }
        }
        Ok(())
    }

    /// Parses a v1 `devices.list`: `a *:* rwm` alone means allow-all; otherwise each line is an
    /// allowed exception of a deny-all cgroup.
    pub fn from_list(list: &str) -> Result<Emulator> {
        let mut e = Emulator::deny_all();
        for line in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let bad = |reason: &str| Error::Parse {
                path: "devices.list".into(),
                value: line.to_owned(),
                reason: reason.to_owned(),
            };
            let f: Vec<&str> = line.split_whitespace().collect();
            let [typ, nums, access] = f.as_slice() else {
                return Err(bad("expected TYPE MAJOR:MINOR ACCESS"));
            };
            let (maj, min) = nums.split_once(':').ok_or_else(|| bad("no MAJOR:MINOR"))?;
            let num = |s: &str| -> Result<Option<u32>> {
                if s == "*" {
                    Ok(None)
                } else {
                    s.parse().map(Some).map_err(|_| bad("bad device number"))
                }
            };
            let access = Access::parse(access).ok_or_else(|| bad("bad access"))?;
            let typ = match *typ {
                "a" => DevType::All,
                "b" => DevType::Block,
                "c" => DevType::Char,
                _ => return Err(bad("bad type")),
            };
            if typ == DevType::All {
                if !e.exceptions.is_empty() || e.default_allow {
                    return Err(bad("an allow-all line must be the only one"));
                }
                e.default_allow = true;
                continue;
            }
            if e.default_allow {
                return Err(bad("an allow-all line must be the only one"));
            }
            e.apply(&Rule {
                allow: true,
                typ,
                major: num(maj)?,
                minor: num(min)?,
                access,
            })?;
        }
        Ok(e)
    }

    /// The clean rule set: the default (`a *:* rwm`) first, then every exception (with the
    /// opposite action), sorted.
    pub fn rules(&self) -> Vec<Rule> {
        let mut out = vec![Rule {
            allow: self.default_allow,
            typ: DevType::All,
            major: None,
            minor: None,
            access: Access::ALL,
        }];
        out.extend(self.exceptions.iter().map(|(m, a)| Rule {
            allow: !self.default_allow,
            typ: m.typ,
            major: m.major,
            minor: m.minor,
            access: *a,
        }));
        out
    }

    /// The minimal rules to write to go from `self` (the cgroup now) to `target`. A black list
    /// now (whose deny exceptions `devices.list` does not show) or a different default starts
    /// with a reset rule.
    pub fn transition(&self, target: &Emulator) -> Vec<Rule> {
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let mut old = &self.exceptions;
        if self.default_allow || self.default_allow != target.default_allow {
            out.push(Rule {
                allow: target.default_allow,
                typ: DevType::All,
                major: None,
                minor: None,
                access: Access::ALL,
            });
            old = &empty;
        }
        let rule = |m: &Meta, access, allow| Rule {
            allow,
            typ: m.typ,
            major: m.major,
            minor: m.minor,
            access,
        };
        for (m, a) in old {
            let dropped = a.difference(target.exceptions.get(m).copied().unwrap_or_default());
            if !dropped.is_empty() {
                out.push(rule(m, dropped, target.default_allow));
            }
        }
        for (m, a) in &target.exceptions {
            let gained = a.difference(old.get(m).copied().unwrap_or_default());
            if !gained.is_empty() {
                out.push(rule(m, gained, !target.default_allow));
            }
        }
        out
    }

    /// Whether the kernel's v1 check would allow `access` on the device: with default allow,
    /// denied if any exception overlaps the access; with default deny, allowed only if one
    /// exception covers all of it.
    pub fn allows(&self, typ: DevType, major: u32, minor: u32, access: Access) -> bool {
        let matching = self.exceptions.iter().filter(|(m, _)| {
            m.typ == typ && m.major.is_none_or(|v| v == major) && m.minor.is_none_or(|v| v == minor)
        });
        if self.default_allow {
            !matching.into_iter().any(|(_, a)| a.intersects(access))
        } else {
            matching.into_iter().any(|(_, a)| a.contains(access))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(allow: bool, typ: DevType, major: Option<u32>, minor: Option<u32>, a: &str) -> Rule {
        Rule {
            allow,
            typ,
            major,
            minor,
            access: Access::parse(a).unwrap(),
        }
    }

    #[test]
    fn later_deny_removes_narrower_allows() {
        // Rules act in order: a broad deny after narrow allows takes their access away.
        let mut e = Emulator::deny_all();
        e.apply(&r(true, DevType::Char, Some(1), Some(3), "rwm"))
            .unwrap();
        e.apply(&r(true, DevType::Char, Some(1), Some(5), "rwm"))
            .unwrap();
        e.apply(&r(false, DevType::Char, None, None, "w")).unwrap();
        assert!(e.allows(DevType::Char, 1, 3, Access::parse("r").unwrap()));
        assert!(!e.allows(DevType::Char, 1, 3, Access::parse("w").unwrap()));
        e.apply(&r(false, DevType::Char, Some(1), None, "rwm"))
            .unwrap();
        assert!(!e.allows(DevType::Char, 1, 5, Access::parse("r").unwrap()));
        assert!(
            e.rules().iter().all(|r| !r.allow),
            "nothing left allowed: {:?}",
            e.rules()
        );
        // A deny that only partly overlaps a wider allow cannot be expressed: refused.
        let mut e = Emulator::deny_all();
        e.apply(&r(true, DevType::Char, Some(1), None, "rwm"))
            .unwrap();
        assert!(
            e.apply(&r(false, DevType::Char, None, Some(3), "rwm"))
                .is_err()
        );
        assert!(
            e.apply(&r(false, DevType::Char, Some(1), Some(3), "rwm"))
                .is_err()
        );
        // Another type is untouched.
        let mut e = Emulator::deny_all();
        e.apply(&r(true, DevType::Block, Some(8), Some(0), "r"))
            .unwrap();
        e.apply(&r(false, DevType::Char, None, None, "rwm"))
            .unwrap();
        assert!(e.allows(DevType::Block, 8, 0, Access::parse("r").unwrap()));
    }

    #[test]
    fn list_round_trip_and_transition_minimal() {
        let cur = Emulator::from_list("c 1:3 rwm\nc 1:5 rw\nb 8:* r\n").unwrap();
        assert!(!cur.is_blacklist());
        let mut target = Emulator::deny_all();
        target
            .apply(&r(true, DevType::Char, Some(1), Some(3), "rwm"))
            .unwrap();
        target
            .apply(&r(true, DevType::Char, Some(1), Some(5), "r"))
            .unwrap();
        target
            .apply(&r(true, DevType::Char, Some(5), Some(0), "rw"))
            .unwrap();
        let t: Vec<String> = cur
            .transition(&target)
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    if r.allow { "allow" } else { "deny" },
                    r.cgroup_string()
                )
            })
            .collect();
        assert_eq!(t, ["deny b 8:* r", "deny c 1:5 w", "allow c 5:0 rw",]);
        // Same state: nothing to do.
        assert!(target.transition(&target).is_empty());
        // From allow-all: reset first.
        let all = Emulator::from_list("a *:* rwm\n").unwrap();
        assert!(all.is_blacklist());
        let t = all.transition(&target);
        assert_eq!(t[0].cgroup_string(), "a *:* rwm");
        assert!(!t[0].allow);
        assert_eq!(t.len(), 4);
        assert!(Emulator::from_list("a *:* rwm\nc 1:3 r\n").is_err());
        assert!(Emulator::from_list("x 1:3 r\n").is_err());
    }

    #[test]
    fn semantics_as_v1() {
        let mut e = Emulator::deny_all();
        e.apply(&r(true, DevType::All, None, None, "rwm")).unwrap();
        assert!(e.allows(DevType::Char, 1, 3, Access::ALL));
        e.apply(&r(false, DevType::Char, Some(1), Some(3), "w"))
            .unwrap();
        assert!(e.allows(DevType::Char, 1, 3, Access::READ));
        assert!(!e.allows(DevType::Char, 1, 3, Access::parse("rw").unwrap()));
        // Allowing again removes the deny exception.
        e.apply(&r(true, DevType::Char, Some(1), Some(3), "rwm"))
            .unwrap();
        assert!(e.allows(DevType::Char, 1, 3, Access::ALL));
        // Deny all, then allow c 1:*, then a hole in it is refused.
        let mut e = Emulator::deny_all();
        e.apply(&r(true, DevType::Char, Some(1), None, "rw"))
            .unwrap();
        assert!(e.allows(DevType::Char, 1, 9, Access::READ));
        assert!(!e.allows(DevType::Block, 1, 9, Access::READ));
        assert!(!e.allows(DevType::Char, 1, 9, Access::MKNOD));
        assert!(
            e.apply(&r(false, DevType::Char, Some(1), Some(3), "r"))
                .is_err()
        );
        assert!(
            e.apply(&r(false, DevType::Char, Some(1), Some(3), "m"))
                .is_ok()
        );
    }
}
