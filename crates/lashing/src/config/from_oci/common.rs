//! Helpers shared by the conversions: field checks, path lists, oci-spec names, JSON round trips.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::super::error::ConfigError;
use super::super::paths::clean_path;

/// `linux.maskedPaths` / `linux.readonlyPaths`: as runc, which applies them after it has entered
/// the root with `/` as its working directory, a relative entry is taken from `/` (and cannot
/// climb above it); an empty entry names nothing and is dropped.
pub(super) fn paths(list: &Option<Vec<String>>) -> Vec<PathBuf> {
    list.iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                clean_path(&Path::new("/").join(p))
            }
        })
        .collect()
}

pub(super) fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.is_empty()).cloned()
}

pub(super) fn check_nul(field: &str, s: &OsStr) -> Result<(), ConfigError> {
    if s.as_bytes().contains(&0) {
        return Err(ConfigError::invalid(
            field,
            format!("{:?} contains a NUL byte", s),
        ));
    }
    Ok(())
}

/// The serde name of an oci-spec enum (`SCMP_ACT_ERRNO`, `RLIMIT_NOFILE`, ...).
pub(super) fn serde_name<T: Serialize + std::fmt::Debug>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}

/// Converts an OCI object into the model's type of the same JSON shape.
pub(super) fn via_json<T: Serialize, U: serde::de::DeserializeOwned>(
    field: &str,
    v: &Option<T>,
) -> Result<Option<U>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    let json = serde_json::to_value(v).map_err(|e| ConfigError::invalid(field, e.to_string()))?;
    serde_json::from_value(json)
        .map(Some)
        .map_err(|e| ConfigError::invalid(field, e.to_string()))
}
