//! `runc update --l3-cache-schema/--mem-bw-schema`: new schemas for a container's CLOS group.

use super::Container;
use crate::error::Result;
use crate::rdt::{RdtError, Resctrl};
use crate::state;

impl Container {
    /// Checks an Intel RDT update before anything changes (runc's order and texts): a schema
    /// needs its feature (`Intel RDT/CAT: l3 cache schema is not enabled`), and the container
    /// must have `linux.intelRdt` (`updating a non-existent Intel RDT configuration is not
    /// supported`). Empty or `None` schemas are not an update.
    pub fn check_intel_rdt_update(&self, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
        let (l3, mb) = (non_empty(l3), non_empty(mb));
        if l3.is_none() && mb.is_none() {
            return Ok(());
        }
        let r = Resctrl::find().ok();
        if l3.is_some() && !r.as_ref().is_some_and(|r| r.cat) {
            return Err(RdtError::UpdateNotEnabled("CAT: l3 cache schema").into());
        }
        if mb.is_some() && !r.as_ref().is_some_and(|r| r.mba) {
            return Err(RdtError::UpdateNotEnabled("MBA: memory bandwidth schema").into());
        }
        if self.state.config.intel_rdt.is_none() {
            return Err(RdtError::NoConfig.into());
        }
        Ok(())
    }

    /// Replaces the container's L3 cache and/or memory bandwidth schema (the one not given is
    /// kept) and writes its CLOS group's schemata; saved in the state. See
    /// [`Container::check_intel_rdt_update`] for what is refused.
    pub fn update_intel_rdt(&mut self, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
        self.check_intel_rdt_update(l3, mb)?;
        let (l3, mb) = (non_empty(l3), non_empty(mb));
        let Some(mut rdt) = self.state.config.intel_rdt.clone() else {
            return Ok(());
        };
        let _lock = state::lock(&self.dir)?;
        self.refuse_stopped_update()?;
        if let Some(s) = l3 {
            rdt.l3_cache_schema = Some(s.to_string());
        }
        if let Some(s) = mb {
            rdt.mem_bw_schema = Some(s.to_string());
        }
        rdt.validate()?;
        Resctrl::find()?.write_schemata(&self.state.id, &rdt)?;
        self.state_mut().config.intel_rdt = Some(rdt);
        self.state.save(&self.dir)
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}
