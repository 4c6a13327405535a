//! runc's option syntax that clap does not take: runc parses its options with Go's `flag`
//! package (through urfave/cli), which accepts a long option with one dash as well as two
//! (`-no-subreaper`, `-root /r`), a short one with two (`--d`), and a boolean option with a value
//! (`--detach=true`, `-q=false`). Engines rely on it: containerd's runc shim (go-runc) restores
//! with `-no-subreaper`. [`normalize`] rewrites such words, before clap parses the line, into
//! the form clap takes; anything it does not recognize is left for clap to judge.
//!
//! [`usage_error`]: a command-line error in runc's words, for the log (runc logs an error in a
//! command's options to `--log`, where containerd's shim reads it).
//!
//! As Go's `flag`, only the options before the first operand are rewritten (`exec`'s command
//! and its arguments, `ps`'s `ps` options, are never touched), and `--` ends the options.

use std::ffi::OsString;

/// Rewrites the options of `cmd` in `argv[start..]` (up to the first operand or `--`) into the
/// form clap takes, as described in the module doc. Returns the index of the first word that is
/// not an option or an option's value (`argv.len()` when there is none).
pub fn normalize(cmd: &clap::Command, argv: &mut Vec<OsString>, start: usize) -> usize {
    let mut i = start;
    while i < argv.len() {
        let Some(word) = argv[i].to_str().map(str::to_owned) else {
            return i;
        };
        if word == "--" || word == "-" || !word.starts_with('-') {
            return i;
        }
        let body = word.strip_prefix("--").unwrap_or(&word[1..]);
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(arg) = find(cmd, name) else {
            // Unknown to us (a cluster of short options, `-h`, a typo): clap's to judge. It
            // may have taken a value: the next word is then taken for an operand, and the
            // rewriting stops early, never wrongly.
            i += 1;
            continue;
        };
        let canonical = match (arg.get_long(), arg.get_short()) {
            (Some(l), _) => format!("--{l}"),
            (None, Some(s)) => format!("-{s}"),
            (None, None) => {
                i += 1;
                continue;
            }
        };
        if arg.get_action().takes_values() {
            argv[i] = match value {
                Some(v) => format!("{canonical}={v}").into(),
                // The value is the next word, whatever it is (Go's `flag`: `--cpu-quota -1`,
                // `--env -X`): joined with `=`, so that clap never reads it as an option.
                None if i + 1 < argv.len() => {
                    let mut joined = OsString::from(format!("{canonical}="));
                    joined.push(argv.remove(i + 1));
                    joined
                }
                // No word left: clap says a value is required.
                None => canonical.into(),
            };
            i += 1;
            continue;
        }
        match value.map(go_bool) {
            None | Some(Some(true)) => {
                argv[i] = canonical.into();
                i += 1;
            }
            // `--detach=false`: the option is off, as if not given.
            Some(Some(false)) => {
                argv.remove(i);
            }
            // Not a boolean (`--detach=yes`): clap refuses it.
            Some(None) => i += 1,
        }
    }
    argv.len()
}

/// The option of `cmd` that `name` names: its long name, or its short one for one letter (Go's
/// `flag` takes either with one dash or two).
fn find<'a>(cmd: &'a clap::Command, name: &str) -> Option<&'a clap::Arg> {
    let mut chars = name.chars();
    let short = match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    };
    cmd.get_arguments().find(|a| {
        !a.is_positional()
            && (a.get_long() == Some(name) || (short.is_some() && a.get_short() == short))
    })
}

/// The one-line message of a command-line error, for the log: runc's words for an unknown
/// option (`flag provided but not defined: -name`), else clap's first line.
pub fn usage_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
    {
        let name = arg.trim_start_matches('-');
        let name = name.split_once('=').map_or(name, |(n, _)| n);
        return format!("flag provided but not defined: -{name}");
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct T {
        #[arg(long)]
        no_subreaper: bool,
        #[arg(short, long)]
        detach: bool,
        #[arg(short, long, value_name = "DIR")]
        bundle: Option<String>,
        #[arg(value_name = "id")]
        id: Option<String>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    }

    fn norm(words: &[&str]) -> (Vec<String>, usize) {
        use clap::CommandFactory;
        let mut argv: Vec<OsString> = words.iter().map(Into::into).collect();
        let end = normalize(&T::command(), &mut argv, 1);
        let out = argv.into_iter().map(|w| w.into_string().unwrap()).collect();
        (out, end)
    }

    #[test]
    fn single_dash_long_options_become_double_dash() {
        assert_eq!(
            norm(&["x", "-no-subreaper", "-bundle", "/b", "-detach", "id"]),
            (
                ["x", "--no-subreaper", "--bundle=/b", "--detach", "id"]
                    .map(String::from)
                    .to_vec(),
                4
            )
        );
        assert_eq!(
            norm(&["x", "-bundle=/b", "--d", "id"]).0,
            ["x", "--bundle=/b", "--detach", "id"]
        );
    }

    #[test]
    fn boolean_values_as_go_takes_them() {
        assert_eq!(
            norm(&["x", "--detach=true", "-no-subreaper=false", "id"]).0,
            ["x", "--detach", "id"]
        );
        assert_eq!(norm(&["x", "-d=0", "id"]).0, ["x", "id"]);
        // Not a boolean: left for clap to refuse.
        assert_eq!(
            norm(&["x", "--detach=yes", "id"]).0,
            ["x", "--detach=yes", "id"]
        );
    }

    #[test]
    fn operands_and_what_follows_them_are_untouched() {
        let (out, end) = norm(&["x", "-b", "-detach", "id", "-no-subreaper", "-detach"]);
        // `-detach` is `-b`'s value (joined: clap takes it as one); the words after the
        // operand are not options.
        assert_eq!(
            out,
            ["x", "--bundle=-detach", "id", "-no-subreaper", "-detach"]
        );
        assert_eq!(end, 2);
        // A value that looks like a number or an option is the value all the same, as Go's.
        assert_eq!(
            norm(&["x", "--bundle", "-1", "id"]).0,
            ["x", "--bundle=-1", "id"]
        );
        assert_eq!(norm(&["x", "-b", "--", "id"]).0, ["x", "--bundle=--", "id"]);
        // The last word: no value to take, clap's to refuse.
        assert_eq!(norm(&["x", "-b"]).0, ["x", "--bundle"]);
        assert_eq!(norm(&["x", "--", "-detach"]).0, ["x", "--", "-detach"]);
        assert_eq!(norm(&["x", "-dx", "-detach"]).0, ["x", "-dx", "--detach"]);
        assert_eq!(norm(&["x"]), (vec!["x".to_string()], 1));
    }

    /// An unknown option is reported in runc's words; the global options of a line whose
    /// command is wrong are still read (for `--log`).
    #[test]
    fn usage_errors_and_global_options() {
        use super::super::Cli;
        let e = Cli::parse_from(["lashing", "restore", "--bogus", "x"]).unwrap_err();
        assert_eq!(usage_error(&e), "flag provided but not defined: -bogus");
        let e = Cli::parse_from(["lashing", "restore", "--bogus=1", "x"]).unwrap_err();
        assert_eq!(usage_error(&e), "flag provided but not defined: -bogus");
        let e = Cli::parse_from(["lashing", "restore"]).unwrap_err();
        let m = usage_error(&e);
        assert!(
            !m.is_empty() && !m.starts_with("error:") && !m.contains('\n'),
            "{m}"
        );
        let argv: Vec<OsString> = [
            "lashing",
            "-log",
            "/l",
            "--log-format=json",
            "restore",
            "--bogus",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let g = Cli::global_options(&argv).unwrap();
        assert_eq!(g.log.as_deref(), Some(std::path::Path::new("/l")));
        assert_eq!(g.log_format(), Ok(crate::logging::LogFormat::Json));
        let bad: Vec<OsString> = ["lashing", "--rootless", "maybe", "list"]
            .iter()
            .map(Into::into)
            .collect();
        assert!(Cli::global_options(&bad).is_none());
        // A bad log format parses; its value is refused when logging is set up (main.rs).
        let xml: Vec<OsString> = ["lashing", "--log-format", "xml", "list"]
            .iter()
            .map(Into::into)
            .collect();
        assert_eq!(Cli::global_options(&xml).unwrap().log_format(), Err("xml"));
    }

    /// The whole command line: containerd's runc shim's restore (go-runc) and other Go forms
    /// parse as their clap forms, global options included.
    #[test]
    fn runc_command_lines_parse_as_their_clap_forms() {
        use super::super::Cli;
        for (go, clap) in [
            (
                &[
                    "lashing",
                    "-root",
                    "/r",
                    "--log",
                    "/l",
                    "-log-format=json",
                    "restore",
                    "--image-path",
                    "/i",
                    "--work-path",
                    "/w",
                    "--detach",
                    "--pid-file",
                    "/p",
                    "-no-subreaper",
                    "--bundle",
                    "/b",
                    "ck1",
                ][..],
                &[
                    "lashing",
                    "--root",
                    "/r",
                    "--log",
                    "/l",
                    "--log-format=json",
                    "restore",
                    "--image-path",
                    "/i",
                    "--work-path",
                    "/w",
                    "--detach",
                    "--pid-file",
                    "/p",
                    "--no-subreaper",
                    "--bundle",
                    "/b",
                    "ck1",
                ][..],
            ),
            (
                &[
                    "lashing",
                    "-systemd-cgroup=true",
                    "list",
                    "-q=false",
                    "-format",
                    "json",
                ],
                &["lashing", "--systemd-cgroup", "list", "--format", "json"],
            ),
            (
                &["lashing", "exec", "-t", "-detach", "x", "sh", "-detach"],
                &["lashing", "exec", "-t", "--detach", "x", "sh", "-detach"],
            ),
            (
                &["lashing", "delete", "-force", "x"],
                &["lashing", "delete", "--force", "x"],
            ),
        ] {
            let a = format!("{:?}", Cli::parse_from(go).unwrap());
            let b = format!("{:?}", Cli::parse_from(clap).unwrap());
            assert_eq!(a, b, "{go:?}");
        }
        // What Go refuses stays refused.
        assert!(Cli::parse_from(["lashing", "list", "--quiet=yes"]).is_err());
        assert!(Cli::parse_from(["lashing", "-no-such", "list"]).is_err());
    }
}
