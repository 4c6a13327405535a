//! The v2 `misc` controller (runc's `fs2/misc.go`): usage and limit hits of scalar resources.

use crate::common::read_map;
use crate::error::Result;
use crate::fs::Node;
use crate::stats::{MiscStats, Stats};

/// Reads `misc.current` and `misc.events`.
pub(crate) fn stats(n: &Node, st: &mut Stats) -> Result<()> {
    let misc_events = read_map(n, "misc.events")?;
    for (name, usage) in read_map(n, "misc.current")? {
        let events = misc_events
            .get(&format!("{name}.max"))
            .copied()
            .unwrap_or(0);
        st.misc_stats.insert(name, MiscStats { usage, events });
    }
    Ok(())
}
