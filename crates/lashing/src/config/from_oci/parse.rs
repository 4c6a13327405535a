//! Parsing `config.json` and `process.json` into oci-spec types: the JSON fix-ups runc's decoder
//! makes unnecessary (capability and scheduler-flag names), located errors, unknown-field warnings.

use std::path::Path;

use oci_spec::runtime as oci;

use super::super::capabilities::cap_from_lenient_name;
use super::super::error::ConfigError;
use super::common::serde_name;

/// Parses the text of a `config.json`.
pub(crate) fn parse_spec(path: &Path, text: &str) -> Result<oci::Spec, ConfigError> {
    parse_normalized(path, text, |v| {
        if let Some(p) = v.get_mut("process") {
            normalize_process(p);
        }
    })
}

/// Parses `text` as a `T` after `normalize` has fixed up the JSON for oci-spec (names that
/// oci-spec spells differently from the OCI spec, names runc only warns about). A schema error
/// is located in the text (line and column) when parsing the text as it is gives the same error.
pub(super) fn parse_normalized<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    normalize: impl FnOnce(&mut serde_json::Value),
) -> Result<T, ConfigError> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| parse_error(path, &e))?;
    normalize(&mut value);
    let err = match serde_json::from_value::<T>(value) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let message = strip_position(&err);
    match serde_json::from_str::<T>(text) {
        Err(located) if located.line() > 0 && strip_position(&located) == message => {
            Err(parse_error(path, &located))
        }
        _ => Err(ConfigError::Schema {
            path: path.to_path_buf(),
            message,
        }),
    }
}

/// The scheduler flags of the OCI spec and the oci-spec variants that stand for them (oci-spec
/// serialises some under other names, e.g. `SCHED_RESET_ON_FORK`).
pub(super) const SCHED_FLAGS: [(&str, oci::LinuxSchedulerFlag); 7] = [
    (
        "SCHED_FLAG_RESET_ON_FORK",
        oci::LinuxSchedulerFlag::SchedResetOnFork,
    ),
    (
        "SCHED_FLAG_RECLAIM",
        oci::LinuxSchedulerFlag::SchedFlagReclaim,
    ),
    (
        "SCHED_FLAG_DL_OVERRUN",
        oci::LinuxSchedulerFlag::SchedFlagDLOverrun,
    ),
    (
        "SCHED_FLAG_KEEP_POLICY",
        oci::LinuxSchedulerFlag::SchedFlagKeepPolicy,
    ),
    (
        "SCHED_FLAG_KEEP_PARAMS",
        oci::LinuxSchedulerFlag::SchedFlagKeepParams,
    ),
    (
        "SCHED_FLAG_UTIL_CLAMP_MIN",
        oci::LinuxSchedulerFlag::SchedFlagUtilClampMin,
    ),
    (
        "SCHED_FLAG_UTIL_CLAMP_MAX",
        oci::LinuxSchedulerFlag::SchedFlagUtilClampMax,
    ),
];

/// The OCI spec's name of a scheduler flag.
pub(super) fn sched_flag_name(f: oci::LinuxSchedulerFlag) -> &'static str {
    SCHED_FLAGS
        .iter()
        .find(|(_, v)| *v == f)
        .map_or("SCHED_FLAG_RESET_ON_FORK", |(n, _)| n)
}

/// Fixes up an OCI `process` object for oci-spec: drops unknown capability names (with a
/// warning, as runc) and spells the spec's scheduler flag names as oci-spec expects them.
pub(super) fn normalize_process(process: &mut serde_json::Value) {
    drop_unknown_capabilities(process);
    if let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(|f| f.as_array_mut())
    {
        for f in flags.iter_mut() {
            if let Some((_, v)) = SCHED_FLAGS.iter().find(|(n, _)| Some(*n) == f.as_str()) {
                *f = serde_json::Value::String(serde_name(v));
            }
        }
    }
}

/// Warns about the fields of `text` that the OCI spec types do not know (and so dropped): a typo,
/// or a field newer than lashing.
pub(super) fn warn_unknown_fields(text: &str, spec: &oci::Spec) {
    let (Ok(original), Ok(parsed)) = (
        serde_json::from_str::<serde_json::Value>(text),
        serde_json::to_value(spec),
    ) else {
        return;
    };
    for field in unknown_fields(&original, &parsed) {
        tracing::warn!("config.json: unknown field {field} ignored");
    }
}

/// The keys of `original` (as dotted paths) that are missing from `parsed`; `null` values do not
/// count.
pub(super) fn unknown_fields(
    original: &serde_json::Value,
    parsed: &serde_json::Value,
) -> Vec<String> {
    fn walk(o: &serde_json::Value, p: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        use serde_json::Value;
        match (o, p) {
            (Value::Object(o), Value::Object(p)) => {
                for (k, v) in o {
                    let here = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    match p.get(k) {
                        Some(pv) => walk(v, pv, &here, out),
                        None if !v.is_null() => out.push(here),
                        None => {}
                    }
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                for (i, (ov, pv)) in o.iter().zip(p).enumerate() {
                    walk(ov, pv, &format!("{at}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(original, parsed, "", &mut out);
    out
}

pub(super) fn parse_error(path: &Path, err: &serde_json::Error) -> ConfigError {
    ConfigError::Parse {
        path: path.to_path_buf(),
        line: err.line(),
        column: err.column(),
        message: strip_position(err),
    }
}

/// serde_json's message without its ` at line L column C` suffix.
pub(super) fn strip_position(err: &serde_json::Error) -> String {
    let msg = err.to_string();
    match msg.rfind(" at line ") {
        Some(i) if err.line() > 0 => msg[..i].to_string(),
        _ => msg,
    }
}

/// Removes capability names unknown to lashing from `capabilities.*` of a process object, with a
/// warning for each; returns how many were removed.
pub(super) fn drop_unknown_capabilities(process: &mut serde_json::Value) -> usize {
    let mut dropped = 0;
    let Some(caps) = process
        .get_mut("capabilities")
        .and_then(|c| c.as_object_mut())
    else {
        return 0;
    };
    for (set, list) in caps.iter_mut() {
        if let Some(list) = list.as_array_mut() {
            list.retain(|name| match name.as_str() {
                Some(n) if cap_from_lenient_name(n).is_none() => {
                    tracing::warn!("process.capabilities.{set}: unknown capability {n:?} ignored");
                    dropped += 1;
                    false
                }
                _ => true,
            });
        }
    }
    dropped
}

pub(super) fn warn_other_platforms(spec: &oci::Spec) {
    for (name, present) in [
        ("solaris", spec.solaris().is_some()),
        ("windows", spec.windows().is_some()),
        ("vm", spec.vm().is_some()),
        ("zos", spec.zos().is_some()),
    ] {
        if present {
            tracing::warn!("{name}: configuration for another platform ignored");
        }
    }
}
