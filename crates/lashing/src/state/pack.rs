//! The configuration as stored in `state.json`: its JSON with every array of objects packed
//! (a member that every element has is written once with its most frequent value, and only in
//! the elements where it differs), and `linux.resources.devices` left out when it is
//! the device rules in OCI form, as `from_oci` makes it. Loading reverses both exactly.
//!
//! Its members are written in a fixed order: the four that the OCI state shows first
//! ([`HEAD_KEYS`]), the others, then [`END`] (`true`) last, so that `list` can stop reading
//! after the first four and still know that the file is whole: a state file ends with
//! [`TAIL`] only if nothing of it was cut off ([`super::Head`]).

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde::de::Error as _;
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::config::{Config, DeviceRule};

/// First element of a packed array: no JSON string of a configuration holds a NUL.
const MARK: &str = "\u{0}packed";
/// Set in the packed configuration when `resources.devices` was left out.
const DEVICES_FROM_RULES: &str = "\u{0}devices_from_rules";
/// The configuration's members that the OCI state shows, written first, in this order.
pub(crate) const HEAD_KEYS: [&str; 4] = ["oci_version", "rootfs", "annotations", "bundle"];
/// The member written last (`true`): its key holds a NUL, which no configuration string does,
/// so that its text appears nowhere else in a state file.
pub(crate) const END: &str = "\u{0}end";
/// How a whole state file ends: [`END`] closes the configuration, which closes the state.
pub(crate) const TAIL: &[u8] = b"\"\\u0000end\":true}}";

/// A state's configuration and, once serialized, its packed JSON text ([`serialize`]), kept for
/// the next save: a start saves the state three or four times with the same configuration, and
/// packing it (a `Value` tree, the shared members of every array; at the size-optimized build's
/// speed) is most of a save's time, ~0.2 ms each. Reads go through `Deref`; a `DerefMut` (an
/// `update` of the resources, say) drops the text, so it is never stale.
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    config: Config,
    text: OnceLock<Box<RawValue>>,
}

impl Packed {
    pub(crate) fn new(config: Config) -> Packed {
        Packed {
            config,
            text: OnceLock::new(),
        }
    }
}

impl Deref for Packed {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.config
    }
}

impl DerefMut for Packed {
    fn deref_mut(&mut self) -> &mut Config {
        self.text = OnceLock::new();
        &mut self.config
    }
}

impl Serialize for Packed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// [`serialize`] as a type, for `to_raw_value`.
        struct View<'a>(&'a Config);
        impl Serialize for View<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize(self.0, s)
            }
        }
        if self.text.get().is_none() {
            let text =
                serde_json::value::to_raw_value(&View(&self.config)).map_err(S::Error::custom)?;
            let _ = self.text.set(text);
        }
        match self.text.get() {
            Some(text) => text.serialize(s),
            None => serialize(&self.config, s),
        }
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Packed, D::Error> {
        deserialize(d).map(Packed::new)
    }
}

pub(crate) fn serialize<S: Serializer>(c: &Config, s: S) -> Result<S::Ok, S::Error> {
    let mut v = serde_json::to_value(c).map_err(S::Error::custom)?;
    if let Some(res) = v
        .pointer_mut("/cgroup/resources")
        .and_then(Value::as_object_mut)
        && res.get("devices") == Some(&rules_json(&c.cgroup.device_rules))
    {
        res.remove("devices");
        if let Some(o) = v.as_object_mut() {
            o.insert(DEVICES_FROM_RULES.into(), Value::Bool(true));
        }
    }
    pack(&mut v);
    let Value::Object(members) = v else {
        return v.serialize(s);
    };
    let mut map = s.serialize_map(Some(members.len() + 1))?;
    for key in HEAD_KEYS {
        if let Some(value) = members.get(key) {
            map.serialize_entry(key, value)?;
        }
    }
    for (key, value) in members
        .iter()
        .filter(|(k, _)| !HEAD_KEYS.contains(&k.as_str()))
    {
        map.serialize_entry(key, value)?;
    }
    map.serialize_entry(END, &true)?;
    map.end()
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Config, D::Error> {
    let mut v = Value::deserialize(d)?;
    unpack(&mut v);
    let from_rules = v
        .as_object_mut()
        .and_then(|o| {
            o.remove(END);
            o.remove(DEVICES_FROM_RULES)
        })
        .is_some();
    let mut c: Config = serde_json::from_value(v).map_err(D::Error::custom)?;
    let rules = &c.cgroup.device_rules;
    if from_rules && let Some(res) = &mut c.cgroup.resources {
        res.devices = rules.iter().map(DeviceRule::to_cgroup).collect();
    }
    Ok(c)
}

/// The device rules in OCI `linux.resources.devices` form (no type/major/minor for
/// wildcards), as `from_oci` writes them.
fn rules_json(rules: &[DeviceRule]) -> Value {
    serde_json::to_value(rules.iter().map(DeviceRule::to_cgroup).collect::<Vec<_>>())
        .unwrap_or(Value::Null)
}

/// Packs every array of two or more objects into `[MARK, {member: shared value},
/// elements without the members equal to it...]`; an array that starts with `MARK` itself is
/// escaped the same way with no shared members.
pub(crate) fn pack(v: &mut Value) {
    match v {
        Value::Object(o) => o.values_mut().for_each(pack),
        Value::Array(a) => {
            a.iter_mut().for_each(pack);
            let objects = a.len() >= 2 && a.iter().all(Value::is_object);
            let marked = a.first().and_then(Value::as_str) == Some(MARK);
            if !objects && !marked {
                return;
            }
            let mut shared = Map::new();
            if objects && let Some(Value::Object(first)) = a.first() {
                for k in first.keys() {
                    let values: Option<Vec<&Value>> =
                        a.iter().map(|e| e.as_object()?.get(k)).collect();
                    let Some(values) = values else {
                        continue;
                    };
                    // The most frequent value (the first of equals), if it repeats.
                    let (best, n) = values
                        .iter()
                        .map(|v| (*v, values.iter().filter(|w| *w == v).count()))
                        .fold((values[0], 0), |acc, x| if x.1 > acc.1 { x } else { acc });
                    if n >= 2 {
                        shared.insert(k.clone(), best.clone());
                    }
                }
                for e in a.iter_mut() {
                    if let Value::Object(o) = e {
                        o.retain(|k, val| shared.get(k) != Some(val));
                    }
                }
            }
            let items = std::mem::take(a);
            a.push(Value::String(MARK.into()));
            a.push(Value::Object(shared));
            a.extend(items);
        }
        _ => {}
    }
}

/// Reverses [`pack`].
pub(crate) fn unpack(v: &mut Value) {
    match v {
        Value::Object(o) => o.values_mut().for_each(unpack),
        Value::Array(a) => {
            if a.len() >= 2
                && a[0].as_str() == Some(MARK)
                && let Value::Object(shared) = &a[1]
            {
                let shared = shared.clone();
                a.drain(..2);
                for e in a.iter_mut() {
                    if let Value::Object(o) = e {
                        for (k, val) in &shared {
                            if !o.contains_key(k) {
                                o.insert(k.clone(), val.clone());
                            }
                        }
                    }
                }
            }
            a.iter_mut().for_each(unpack);
        }
        _ => {}
    }
}
