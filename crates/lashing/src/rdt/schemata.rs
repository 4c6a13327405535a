//! The text of a resctrl `schemata` file: what lashing writes (the lines of `linux.intelRdt`) and
//! the comparison with what a CLOS group that already exists holds (OCI runtime spec 1.3: a group
//! named by `closID` that exists must have the schemata the configuration asks for).
//!
//! A line is `RESOURCE:DOMAIN=VALUE;DOMAIN=VALUE;...` (`L3:0=7f0;1=1f`, `MB:0=20;1=70`). The
//! kernel reads cache bitmasks (`L3`, `L3CODE`, `L3DATA`, `L2`, ...) as hexadecimal and prints
//! them without leading zeros, and the other resources (`MB`, `SMBA`) as decimal: the comparison
//! normalizes both, so `L3:0=0ff` matches the kernel's `L3:0=ff`.

use std::collections::BTreeMap;

/// One parsed schemata line: the resource and its value per domain (normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) resource: String,
    pub(crate) domains: BTreeMap<String, String>,
}

/// A schemata line that does not parse, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schemata line {line:?}: {reason}")]
pub struct ParseError {
    /// The line as given.
    pub line: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Whether a resource's values are cache bitmasks (hexadecimal).
fn is_cache(resource: &str) -> bool {
    resource.starts_with('L') && resource[1..].starts_with(|c: char| c.is_ascii_digit())
}

/// Parses one line (surrounding spaces allowed, as the kernel's parser allows them).
pub(crate) fn parse_line(line: &str) -> Result<Line, ParseError> {
    let err = |reason| ParseError {
        line: line.to_string(),
        reason,
    };
    let (resource, rest) = line.split_once(':').ok_or_else(|| err("no ':'"))?;
    let resource = resource.trim();
    if resource.is_empty() || !resource.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(err("the resource name is empty or not alphanumeric"));
    }
    let mut domains = BTreeMap::new();
    for token in rest.split(';').map(str::trim).filter(|t| !t.is_empty()) {
        let (dom, val) = token
            .split_once('=')
            .ok_or_else(|| err("a domain without '='"))?;
        let (dom, val) = (dom.trim(), val.trim());
        if dom.is_empty() || val.is_empty() {
            return Err(err("an empty domain id or value"));
        }
        if !dom.chars().all(|c| c.is_ascii_digit()) {
            return Err(err("a domain id that is not a number"));
        }
        let value = if is_cache(resource) {
            let n = u64::from_str_radix(val, 16).map_err(|_| err("a bitmask that is not hex"))?;
            format!("{n:x}")
        } else {
            let n: u64 = val
                .parse()
                .map_err(|_| err("a value that is not a number"))?;
            n.to_string()
        };
        let dom = dom.trim_start_matches('0');
        domains.insert(if dom.is_empty() { "0" } else { dom }.to_string(), value);
    }
    if domains.is_empty() {
        return Err(err("no domain"));
    }
    Ok(Line {
        resource: resource.to_string(),
        domains,
    })
}

/// The lines lashing writes for a configuration: `l3CacheSchema`, `memBwSchema`, then the
/// `schemata` lines (which the spec lets override the other two: the kernel applies the lines
/// in order, so a later line for the same resource and domain wins). Each field may hold several
/// lines; empty lines are dropped.
pub(crate) fn lines<'a>(
    l3: Option<&'a str>,
    mb: Option<&'a str>,
    extra: &'a [String],
) -> Vec<&'a str> {
    l3.into_iter()
        .chain(mb)
        .chain(extra.iter().map(String::as_str))
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Checks that every domain value `wanted` asks for is what the group's `existing` schemata
/// holds (what the kernel prints). Resources and domains `wanted` does not name are not compared
/// (the kernel lists every resource of the group). `Err` names the first difference.
pub(crate) fn check_match(existing: &str, wanted: &[&str]) -> Result<(), String> {
    let mut have: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for l in existing.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // Lines this parser does not know (a new resource's format) cannot be compared: only
        // the resources asked for matter.
        if let Ok(p) = parse_line(l) {
            have.entry(p.resource).or_default().extend(p.domains);
        }
    }
    let mut want: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for l in wanted {
        let p = parse_line(l).map_err(|e| e.to_string())?;
        want.entry(p.resource).or_default().extend(p.domains);
    }
    for (res, doms) in &want {
        let Some(cur) = have.get(res) else {
            return Err(format!("the group has no {res} line"));
        };
        for (dom, val) in doms {
            match cur.get(dom) {
                Some(v) if v == val => {}
                Some(v) => return Err(format!("{res} domain {dom} is {v}, not {val}")),
                None => return Err(format!("{res} has no domain {dom}")),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_parse_and_normalize() {
        let l = parse_line("L3:0=07f0;1=1F").unwrap();
        assert_eq!(l.resource, "L3");
        assert_eq!(l.domains["0"], "7f0");
        assert_eq!(l.domains["1"], "1f");
        let m = parse_line(" MB: 0 = 020 ; 1=70 ;").unwrap();
        assert_eq!(m.resource, "MB");
        assert_eq!(m.domains["0"], "20");
        assert_eq!(m.domains["1"], "70");
        assert_eq!(parse_line("L3CODE:00=f").unwrap().domains["0"], "f");
    }

    #[test]
    fn bad_lines_are_refused_with_the_reason() {
        for (line, reason) in [
            ("L3 0=ff", "no ':'"),
            (":0=ff", "the resource name is empty or not alphanumeric"),
            ("L3:0ff", "a domain without '='"),
            ("L3:0=", "an empty domain id or value"),
            ("L3:a=ff", "a domain id that is not a number"),
            ("L3:0=xyz", "a bitmask that is not hex"),
            ("MB:0=ten", "a value that is not a number"),
            ("MB:", "no domain"),
        ] {
            assert_eq!(parse_line(line).unwrap_err().reason, reason, "{line}");
        }
    }

    #[test]
    fn the_lines_written_are_l3_mb_then_schemata() {
        let extra = vec!["L2:0=f".to_string(), String::new()];
        assert_eq!(
            lines(Some("L3:0=ff\n"), Some("MB:0=50"), &extra),
            ["L3:0=ff", "MB:0=50", "L2:0=f"]
        );
        assert!(lines(None, None, &[]).is_empty());
    }

    #[test]
    fn existing_schemata_match_what_is_asked() {
        // What the kernel prints for a group: every resource, no leading zeros.
        let kernel = "    L3:0=7f0;1=1f\n    MB:0= 20;1= 70\n";
        assert_eq!(check_match(kernel, &["L3:0=07f0;1=1f"]), Ok(()));
        assert_eq!(check_match(kernel, &["MB:1=70", "L3:1=1F"]), Ok(()));
        assert_eq!(
            check_match(kernel, &["L3:0=ff"]),
            Err("L3 domain 0 is 7f0, not ff".into())
        );
        assert_eq!(
            check_match(kernel, &["L3:2=ff"]),
            Err("L3 has no domain 2".into())
        );
        assert_eq!(
            check_match(kernel, &["L2:0=f"]),
            Err("the group has no L2 line".into())
        );
        assert!(check_match(kernel, &["L3"]).is_err());
    }

    proptest! {
        /// A bitmask reads the same whatever its leading zeros and case.
        #[test]
        fn cache_masks_compare_by_value(mask in 1u64..0xfffff, zeros in 0usize..4, upper: bool) {
            let mut hex = format!("{}{mask:x}", "0".repeat(zeros));
            if upper { hex = hex.to_uppercase(); }
            let kernel = format!("L3:0={mask:x}\n");
            let wanted = format!("L3:0={hex}");
            prop_assert_eq!(check_match(&kernel, &[wanted.as_str()]), Ok(()));
        }

        /// No input makes the parser panic.
        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = parse_line(&s);
        }
    }
}
