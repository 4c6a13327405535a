//! `lashing update`: update container resource constraints (not supported yet: the options are accepted as runc's and the command fails).

use super::CmdResult;
use crate::cli::Globals;

/// `lashing update` options (as runc's).
#[derive(Debug, clap::Args)]
#[allow(dead_code)] // Parsed for compatibility; used once the command is implemented.
pub struct Args {
    /// path to the file containing the resources to update or '-' to read from the standard input
    #[arg(short, long, value_name = "FILE")]
    resources: Option<String>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long, value_name = "N")]
    blkio_weight: Option<String>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long, value_name = "N")]
    cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long, value_name = "N")]
    cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period
    #[arg(long, value_name = "N")]
    cpu_burst: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long, value_name = "N")]
    cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long, value_name = "N")]
    cpu_rt_runtime: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long, value_name = "N")]
    cpu_share: Option<String>,
    /// CPU(s) to use
    #[arg(long, value_name = "LIST")]
    cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long, value_name = "LIST")]
    cpuset_mems: Option<String>,
    /// Memory limit (in bytes)
    #[arg(long, value_name = "N")]
    memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    #[arg(long, value_name = "N")]
    memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// The string of Intel RDT/CAT L3 cache schema
    #[arg(long, value_name = "SCHEMA")]
    l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema
    #[arg(long, value_name = "SCHEMA")]
    mem_bw_schema: Option<String>,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
}

/// Runs `lashing update`: not supported yet.
pub fn run(_g: &Globals, _a: &Args) -> CmdResult {
    super::unsupported("update")
}
