//! `hooks`: the OCI hooks by kind, with their timeouts checked.

use std::collections::BTreeMap;

use oci_spec::runtime as oci;

use super::super::error::ConfigError;
use super::super::validate::check_hook_timeout;
use super::common::check_nul;
use crate::config::{Hook, HookKind};

pub(super) fn convert_hooks(
    hooks: &oci::Hooks,
) -> Result<BTreeMap<HookKind, Vec<Hook>>, ConfigError> {
    #[allow(deprecated)] // prestart is deprecated by the spec but still run, as runc does
    let prestart = hooks.prestart();
    let kinds = [
        (HookKind::Prestart, "prestart", prestart),
        (
            HookKind::CreateRuntime,
            "createRuntime",
            hooks.create_runtime(),
        ),
        (
            HookKind::CreateContainer,
            "createContainer",
            hooks.create_container(),
        ),
        (
            HookKind::StartContainer,
            "startContainer",
            hooks.start_container(),
        ),
        (HookKind::Poststart, "poststart", hooks.poststart()),
        (HookKind::Poststop, "poststop", hooks.poststop()),
    ];
    let mut out = BTreeMap::new();
    for (kind, name, list) in kinds {
        let Some(list) = list else { continue };
        let mut converted = Vec::with_capacity(list.len());
        for (i, h) in list.iter().enumerate() {
            let field = format!("hooks.{name}[{i}]");
            check_nul(&format!("{field}.path"), h.path().as_os_str())?;
            let timeout = match h.timeout() {
                None => None,
                Some(t) => {
                    let field = format!("{field}.timeout");
                    let t = u64::try_from(t).map_err(|_| {
                        ConfigError::invalid(&field, format!("{t}: must be greater than zero"))
                    })?;
                    check_hook_timeout(&field, t)?;
                    Some(t)
                }
            };
            converted.push(Hook {
                path: h.path().clone(),
                args: h.args().clone().unwrap_or_default(),
                env: h.env().clone().unwrap_or_default(),
                timeout,
            });
        }
        if !converted.is_empty() {
            out.insert(kind, converted);
        }
    }
    Ok(out)
}
