//! `lashing update`: update container resource constraints (runc's flags, or a
//! `LinuxResources` JSON with `-r`), applied with rollback by `Container::set`.

use std::io::Read;

use lashing::Container;
use lashing_cgroups::Resources;
use lashing_cgroups::resources::{BlockIo, Cpu, Memory, Pids};

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing update` options (as runc's).
#[derive(Debug, Default, clap::Args)]
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
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period
    #[arg(long, value_name = "N")]
    cpu_burst: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long, value_name = "N")]
    cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
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
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    #[arg(long, value_name = "N")]
    memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// CPU idle: 1 to set SCHED_IDLE for the cgroup, 0 to unset
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    cpu_idle: Option<String>,
    /// Kernel memory limit (obsolete, ignored)
    #[arg(long, value_name = "N", hide = true)]
    kernel_memory: Option<String>,
    /// Kernel TCP memory limit (obsolete, ignored)
    #[arg(long, value_name = "N", hide = true)]
    kernel_memory_tcp: Option<String>,
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

/// Runs `lashing update`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let mut container = Container::load(&g.root, &a.id)?;
    let (l3, mb) = (a.l3_cache_schema.as_deref(), a.mem_bw_schema.as_deref());
    // runc's order: the Intel RDT checks, the cgroup resources, then the schemata (a failure
    // there restores the previous resources).
    container.check_intel_rdt_update(l3, mb)?;
    let patch = patch_of(a)?;
    let old = container.resources()?;
    let mut res = old.clone();
    res.merge_update(patch);
    container.set(&res)?;
    if let Err(e) = container.update_intel_rdt(l3, mb) {
        if let Err(re) = container.set(&old) {
            tracing::warn!(error = %re, "rolling back the previous resources failed");
        }
        return Err(e.into());
    }
    Ok(0)
}

/// The resources requested by the flags or the `-r` JSON (fields not given stay `None` or 0).
fn patch_of(a: &Args) -> Result<Resources, CliError> {
    if let Some(path) = &a.resources {
        let mut text = String::new();
        if path == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::io("read", "standard input", e))?;
        } else {
            text = std::fs::read_to_string(path).map_err(|e| CliError::io("read", path, e))?;
        }
        return serde_json::from_str(&text).map_err(|source| CliError::Json {
            what: "resources (decode)",
            source,
        });
    }
    let uint = |name: &str, v: &Option<String>| parse_value(name, v, go_uint);
    let int = |name: &str, v: &Option<String>| parse_value(name, v, go_int);
    // runc's numeric flags (urfave's UintFlag, Int64Flag): Go's `flag` refuses a bad value.
    let flag = |name: &str, v: &Option<String>| {
        let bad = |s: &str| {
            CliError::Refused(format!("invalid value {s:?} for flag -{name}: parse error"))
        };
        let v = v.as_deref().filter(|s| !s.is_empty());
        v.map(|s| s.parse::<i64>().map_err(|_| bad(s))).transpose()
    };
    let bytes = |name: &str, v: &Option<String>| {
        parse_value(
            name,
            v,
            |s| if s == "-1" { Ok(-1) } else { ram_in_bytes(s) },
        )
    };
    let weight = flag("blkio-weight", &a.blkio_weight)?;
    let weight = weight
        .map(|w| {
            u16::try_from(w)
                .map_err(|_| CliError::Refused(format!("invalid value for blkio-weight: {w}")))
        })
        .transpose()?;
    Ok(Resources {
        memory: Some(Memory {
            limit: bytes("memory", &a.memory)?,
            reservation: bytes("memory-reservation", &a.memory_reservation)?,
            swap: bytes("memory-swap", &a.memory_swap)?,
            kernel: bytes("kernel-memory", &a.kernel_memory)?,
            kernel_tcp: bytes("kernel-memory-tcp", &a.kernel_memory_tcp)?,
            ..Memory::default()
        }),
        cpu: Some(Cpu {
            shares: uint("cpu-share", &a.cpu_share)?,
            quota: int("cpu-quota", &a.cpu_quota)?,
            burst: uint("cpu-burst", &a.cpu_burst)?,
            period: uint("cpu-period", &a.cpu_period)?,
            realtime_runtime: int("cpu-rt-runtime", &a.cpu_rt_runtime)?,
            realtime_period: uint("cpu-rt-period", &a.cpu_rt_period)?,
            cpus: a.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            mems: a.cpuset_mems.clone().filter(|s| !s.is_empty()),
            idle: int("cpu-idle", &a.cpu_idle)?,
        }),
        block_io: Some(BlockIo {
            weight,
            ..BlockIo::default()
        }),
        pids: Some(Pids {
            limit: flag("pids-limit", &a.pids_limit)?,
        }),
        ..Resources::default()
    })
}

/// The value of the option `name` read by `parse`, `None` when unset or empty; refused as runc
/// (`invalid value for NAME: ERROR`) when it does not parse.
fn parse_value<T, E: std::fmt::Display>(
    name: &str,
    v: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, CliError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(|e| CliError::Refused(format!("invalid value for {name}: {e}"))))
        .transpose()
}

/// Go's `strconv.ParseUint(s, 10, 64)`, with its error words (runc's string options).
fn go_uint(s: &str) -> Result<u64, String> {
    if !s.bytes().all(|b| b.is_ascii_digit()) || s.is_empty() {
        return Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"));
    }
    s.parse()
        .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: value out of range"))
}

/// Go's `strconv.ParseInt(s, 10, 64)`, with its error words (runc's string options).
fn go_int(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() {
        return Err(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"));
    }
    s.parse()
        .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: value out of range"))
}

/// Parses a human size with binary multiples (`64m`, `1G`, `512KiB`, `1 g`, `100`, `1e3`) as
/// runc does (docker's go-units `RAMInBytes`), with its error texts: the number is what runs up
/// to the last digit, dot or space (a space before the suffix is dropped), the suffix one of
/// `b`, `k`/`m`/`g`/`t`/`p` with an optional `b` or `ib`, in any case.
fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{s}'"));
    };
    // `sep` is the index of an ASCII character: both slices are on character boundaries.
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {num:?}: invalid syntax"))?;
    if size < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    let bad_suffix = |sfx: &str| Err(format!("invalid suffix: '{sfx}'"));
    let mult: f64 = if sfx.is_empty() {
        1.0
    } else if sfx.len() > 3 {
        return bad_suffix(sfx);
    } else {
        let sfx = sfx.to_ascii_lowercase();
        // Bytes, not a `str` slice: the suffix may hold any character (`64é`).
        let rest_ok = match sfx.len() {
            2 => &sfx.as_bytes()[1..] == b"b",
            3 => &sfx.as_bytes()[1..] == b"ib",
            _ => true,
        };
        let mult = match sfx.as_bytes()[0] {
            b'b' if sfx.len() == 1 => 1.0,
            b'k' => 1024.0,
            b'm' => 1024.0 * 1024.0,
            b'g' => 1024.0 * 1024.0 * 1024.0,
            b't' => 1024f64.powi(4),
            b'p' => 1024f64.powi(5),
            _ => return bad_suffix(&sfx),
        };
        if !rest_ok {
            return bad_suffix(&sfx);
        }
        mult
    };
    let v = size * mult;
    if !(0.0..9.2e18).contains(&v) {
        return Err(format!("size out of range: '{s}'"));
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_unset_and_bad_ones_named() {
        let v = |s: &str| Some(s.to_string());
        assert_eq!(parse_value("n", &None, str::parse::<u64>).unwrap(), None);
        assert_eq!(parse_value("n", &v(""), str::parse::<u64>).unwrap(), None);
        assert_eq!(
            parse_value("n", &v("12"), str::parse::<u64>).unwrap(),
            Some(12)
        );
        // Go's strconv words, as runc prints them.
        let e = parse_value("cpu-share", &v("-5"), go_uint).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for cpu-share: strconv.ParseUint: parsing \"-5\": invalid syntax"
        );
        assert_eq!(go_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            go_uint("99999999999999999999").unwrap_err(),
            "strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
        );
        assert!(go_uint("+5").is_err() && go_uint("").is_err() && go_uint("1 ").is_err());
        assert_eq!((go_int("-1"), go_int("+7")), (Ok(-1), Ok(7)));
        assert_eq!(
            go_int("abc").unwrap_err(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            go_int("-9223372036854775809").unwrap_err(),
            "strconv.ParseInt: parsing \"-9223372036854775809\": value out of range"
        );
        assert!(go_int("-").is_err() && go_int("--1").is_err());
    }

    #[test]
    fn sizes_parse_as_docker() {
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert_eq!(ram_in_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("512KiB").unwrap(), 512 << 10);
        assert_eq!(ram_in_bytes("1.5k").unwrap(), 1536);
        assert!(ram_in_bytes("12x").is_err());
        assert!(ram_in_bytes("m").is_err());
        // go-units' (runc's) reading and words.
        assert_eq!(ram_in_bytes("1 g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("1e3").unwrap(), 1000);
        assert_eq!(ram_in_bytes("7b").unwrap(), 7);
        assert_eq!(ram_in_bytes("2MB").unwrap(), 2 << 20);
        for (input, err) in [
            ("abc", "invalid size: 'abc'"),
            ("-5", "invalid size: '-5'"),
            ("64x", "invalid suffix: 'x'"),
            ("64KBB", "invalid suffix: 'kbb'"),
            ("64KiBs", "invalid suffix: 'KiBs'"),
            ("64bb", "invalid suffix: 'bb'"),
            ("64kx", "invalid suffix: 'kx'"),
            ("64é", "invalid suffix: 'é'"),
            ("64kΩ", "invalid suffix: 'kΩ'"),
            ("é", "invalid size: 'é'"),
            (" ", "strconv.ParseFloat: parsing \"\": invalid syntax"),
            (
                "1.5.5",
                "strconv.ParseFloat: parsing \"1.5.5\": invalid syntax",
            ),
            (
                "0x10",
                "strconv.ParseFloat: parsing \"0x10\": invalid syntax",
            ),
        ] {
            assert_eq!(ram_in_bytes(input).unwrap_err(), err, "{input:?}");
        }
    }

    #[test]
    fn merge_keeps_unset_values() {
        let mut old: Resources = serde_json::from_str(
            r#"{"memory": {"limit": 1000, "swap": 2000}, "cpu": {"quota": 5000, "period": 100000},
                "pids": {"limit": 10}, "devices": [{"allow": false, "access": "rwm"}]}"#,
        )
        .unwrap();
        let a = Args {
            cpu_period: Some("50000".into()),
            pids_limit: Some("-1".into()),
            memory: Some("2k".into()),
            ..Args::default()
        };
        old.merge_update(patch_of(&a).unwrap());
        let c = old.cpu.as_ref().unwrap();
        assert_eq!((c.quota, c.period), (Some(5000), Some(50000)));
        let m = old.memory.as_ref().unwrap();
        assert_eq!((m.limit, m.swap), (Some(2048), Some(2000)));
        assert_eq!(old.pids.as_ref().unwrap().limit, Some(-1));
        assert_eq!(old.devices.len(), 1);
        let bad = Args {
            cpu_quota: Some("x".into()),
            ..Args::default()
        };
        assert!(
            patch_of(&bad)
                .unwrap_err()
                .to_string()
                .contains("cpu-quota")
        );
    }

    proptest::proptest! {
        /// Any text is a size or an error, never a panic; a size is never negative, and the
        /// numbers are exact for whole numbers with a binary suffix.
        #[test]
        fn sizes_never_panic(s in "\\PC{0,8}|[0-9. ]{0,6}[a-zA-Zé ]{0,4}") {
            if let Ok(v) = ram_in_bytes(&s) {
                proptest::prop_assert!(v >= 0);
            }
        }

        #[test]
        fn whole_sizes_are_exact(n in 0u32..1_000_000, unit in 0usize..4, tail in 0usize..3) {
            let units = ["", "k", "m", "g"];
            let tails = ["", "b", "ib"];
            let text = format!("{n}{}{}", units[unit], if unit == 0 { "" } else { tails[tail] });
            proptest::prop_assert_eq!(ram_in_bytes(&text), Ok(i64::from(n) << (10 * unit)));
        }
    }
}
