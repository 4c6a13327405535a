//! `lashing ps <id> [ps options]`: the processes of a container.

use std::collections::BTreeSet;
use std::io::Write;

use lashing::Container;

use super::{CmdResult, Format, FormatArg};
use crate::error::CliError;
use crate::globals::Globals;

/// `lashing ps` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    output: FormatArg,
    /// the container id
    #[arg(value_name = "container-id")]
    id: String,
    /// options for ps (default -ef)
    #[arg(
        value_name = "ps options",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    ps_args: Vec<String>,
}

/// Runs `lashing ps`.
pub fn run(g: &Globals, a: &Args) -> CmdResult {
    let container = Container::load(&g.root, &a.id)?;
    let pids = container.processes()?;
    let text = match a.output.format {
        Format::Json => {
            // ps options are not used with json (runc ignores them too: no ps to run).
            // No process: runc marshals a nil slice, `null` (not `[]`).
            let mut s = if pids.is_empty() {
                "null".to_string()
            } else {
                serde_json::to_string(&pids).map_err(|source| CliError::Json {
                    what: "pids",
                    source,
                })?
            };
            s.push('\n');
            s
        }
        Format::Table => {
            let args = if a.ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                a.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| CliError::io("run", "ps", e))?;
            if !out.status.success() {
                return Err(CliError::Refused(format!(
                    "ps {}: {}: {}",
                    args.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            filter_ps(
                &String::from_utf8_lossy(&out.stdout),
                &pids.into_iter().collect(),
            )?
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::sys("write to stdout", e))?;
    Ok(0)
}

/// Keeps the header of `ps` output and the lines whose PID column is in `pids`.
fn filter_ps(output: &str, pids: &BTreeSet<i32>) -> Result<String, CliError> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| CliError::Refused("couldn't find PID field in ps output".into()))?;
    let mut s = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok())
            .is_some_and(|p: i32| pids.contains(&p))
        {
            s.push_str(l);
            s.push('\n');
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_container_pids() {
        let out = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n";
        let got = filter_ps(out, &BTreeSet::from([42])).unwrap();
        assert_eq!(got, "UID PID PPID CMD\nroot 42 1 sleep\n");
        assert!(filter_ps("USER CMD\n", &BTreeSet::new()).is_err());
    }
}
