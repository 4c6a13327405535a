//! `lashing spec`: write an example `config.json` into the bundle directory.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde::Serialize;

use super::CmdResult;
use crate::cli::Globals;
use crate::error::CliError;

/// `lashing spec` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// path to the root of the bundle directory
    #[arg(short, long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// generate a configuration for a rootless container
    #[arg(long)]
    rootless: bool,
}

/// Runs `lashing spec`: refuses to overwrite an existing `config.json`; writes the spec indented
/// with tabs and without a final newline, as runc does.
pub fn run(_g: &Globals, a: &Args) -> CmdResult {
    let dir = a.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(CliError::io(
                "use bundle directory",
                &dir,
                std::io::ErrorKind::NotADirectory,
            ));
        }
        Err(e) => return Err(CliError::io("use bundle directory", &dir, e)),
    }
    let path = dir.join("config.json");
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(CliError::Refused(
            "File config.json exists. Remove it first".into(),
        ));
    }
    let mut spec = lashing::config::example_spec_json();
    if a.rootless {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        spec = lashing::config::rootless_example(&spec, uid, gid);
    }
    let text = to_tab_indented(&spec)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::Refused("File config.json exists. Remove it first".into())
            } else {
                CliError::io("create", &path, e)
            }
        })?;
    f.write_all(&text)
        .map_err(|e| CliError::io("write", &path, e))?;
    Ok(0)
}

/// JSON indented with one tab per level (Go's `json.MarshalIndent(v, "", "\t")`).
fn to_tab_indented(v: &serde_json::Value) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    v.serialize(&mut ser).map_err(|source| CliError::Json {
        what: "example spec",
        source,
    })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_indent() {
        let v = serde_json::json!({"a": {"b": 1}});
        assert_eq!(
            String::from_utf8(to_tab_indented(&v).unwrap()).unwrap(),
            "{\n\t\"a\": {\n\t\t\"b\": 1\n\t}\n}"
        );
    }
}
