//! `lashing list`: the containers under the state root, as a table or as JSON.

use std::io::Write;

use lashing::OciState;

use super::{CmdResult, Format, FormatArg};
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing list` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    output: FormatArg,
    /// display only container IDs
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `lashing list`. Containers that cannot be loaded are reported on stderr and skipped;
/// those being created (or the remains of an interrupted create) are not listed, as runc,
/// which does not list a directory without a state file. Each state file is read up to what
/// the OCI state shows ([`lashing::summaries`]). A `--root` that does not exist is an error (runc's
/// `open ROOT: no such file or directory`); the default root missing lists nothing.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    // As runc: a missing default root means no container yet, a missing `--root` is an error.
    if g.root_given
        && let Err(e) = std::fs::metadata(&g.root)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return Err(CliError::io("open", &g.root, e));
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut states = Vec::new();
    // Containers are mostly of one owner: its name is looked up once.
    let mut last: Option<(u32, String)> = None;
    for (id, summary) in lashing::summaries(&g.root)? {
        match summary {
            Ok(lashing::Summary { mut state, owner }) => {
                state.owner = match &last {
                    Some((uid, name)) if *uid == owner => name.clone(),
                    _ => {
                        let name = owner_name(&passwd, owner);
                        last = Some((owner, name.clone()));
                        name
                    }
                };
                states.push(state);
            }
            // Gone since the directory was read.
            Err(lashing::Error::NotExist(_)) => {}
            Err(e) => eprintln!("load container {id}: {}", crate::error::chain(&e)),
        }
    }
    let text = if a.quiet {
        states.iter().map(|s| format!("{}\n", s.id)).collect()
    } else {
        match a.output.format {
            Format::Table => table(&states),
            Format::Json => json(&states)?,
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::sys("write to stdout", e))?;
    Ok(0)
}

/// The JSON output: an array of states, or `null` when there is none (as runc prints), and a newline.
fn json(states: &[OciState]) -> Result<String, CliError> {
    let mut s = if states.is_empty() {
        "null".to_string()
    } else {
        serde_json::to_string(states).map_err(|source| CliError::Json {
            what: "container list",
            source,
        })?
    };
    s.push('\n');
    Ok(s)
}

/// The table output, aligned as runc's (Go's tabwriter: minimum width 12, padding 3).
fn table(states: &[OciState]) -> String {
    let pids: Vec<String> = states.iter().map(|s| s.pid.to_string()).collect();
    // Borrowed unless a bundle path is not UTF-8 (shown lossily, as before).
    let bundles: Vec<_> = states.iter().map(|s| s.bundle.to_string_lossy()).collect();
    let mut rows: Vec<[&str; 6]> = Vec::with_capacity(states.len() + 1);
    rows.push(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
    for ((s, pid), bundle) in states.iter().zip(&pids).zip(&bundles) {
        rows.push([&s.id, pid, s.status.as_str(), bundle, &s.created, &s.owner]);
    }
    tabwrite(&rows, 12, 3)
}

/// The width of a cell as Go's tabwriter counts it: in characters (runes).
fn width(cell: &str) -> usize {
    if cell.is_ascii() {
        cell.len()
    } else {
        cell.chars().count()
    }
}

/// Lays `rows` out as Go's `tabwriter` (flags 0, pad char ' ') does for cells joined by tabs
/// with no trailing tab: every column but the last is padded to the widest cell plus
/// `padding`, and at least `min_width`; the last column is not padded.
fn tabwrite<R: AsRef<[C]>, C: AsRef<str>>(rows: &[R], min_width: usize, padding: usize) -> String {
    let cols = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    let mut total = 0;
    for r in rows {
        for (c, cell) in r.as_ref().iter().enumerate() {
            widths[c] = widths[c].max(width(cell.as_ref()));
        }
    }
    for w in &mut widths {
        *w = (*w + padding).max(min_width);
        total += *w;
    }
    let mut out = String::with_capacity(rows.len() * (total + 1));
    for r in rows {
        let r = r.as_ref();
        for (c, cell) in r.iter().enumerate() {
            let cell = cell.as_ref();
            out.push_str(cell);
            if c + 1 < r.len() {
                let pad = widths[c].saturating_sub(width(cell));
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// The user name of `uid` from `/etc/passwd` text, or `#uid` as runc prints an unknown one.
fn owner_name(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id: u32 = f.nth(1)?.parse().ok()?;
            (id == uid).then(|| name.to_string())
        })
        .next()
        .unwrap_or_else(|| format!("#{uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_runc_header() {
        assert_eq!(
            table(&[]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }

    #[test]
    fn table_aligns_as_go_tabwriter() {
        // The line runc 1.1.5 printed for one created container.
        let rows = [
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
            [
                "c1",
                "10156",
                "created",
                "/tmp/rbundle",
                "2026-11-29T06:05:37.123275541Z",
                "root",
            ],
        ];
        assert_eq!(
            tabwrite(&rows, 12, 3),
            "ID          PID         STATUS      BUNDLE         CREATED                          OWNER\n\
             c1          10156       created     /tmp/rbundle   2026-11-29T06:05:37.123275541Z   root\n"
        );
    }

    #[test]
    fn empty_json_is_null() {
        assert_eq!(json(&[]).unwrap(), "null\n");
    }

    #[test]
    fn owner_from_passwd() {
        let p = "root:x:0:0:root:/root:/bin/bash\nbad line\ndaemon:x:1:1::/:/bin/false\n";
        assert_eq!(owner_name(p, 0), "root");
        assert_eq!(owner_name(p, 1), "daemon");
        assert_eq!(owner_name(p, 4711), "#4711");
    }
}
