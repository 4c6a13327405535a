//! Pressure stall information (runc's `fs2/psi.go`): the `*.pressure` files of cpu, memory and io.

use crate::error::Result;
use crate::fs::Node;
use crate::stats::{PsiStats, parse_psi};

/// Reads a `*.pressure` file; `None` when it is absent or PSI is disabled.
pub(crate) fn read(n: &Node, file: &str) -> Result<Option<PsiStats>> {
    // Reading a pressure file fails with EOPNOTSUPP when PSI is disabled: no PSI then.
    match n.read_opt(file) {
        Ok(v) => Ok(v.as_deref().map(parse_psi)),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e),
    }
}
