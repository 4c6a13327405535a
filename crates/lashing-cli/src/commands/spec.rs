//! `lashing spec`: write an example `config.json` into the bundle directory.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::CmdResult;
use crate::error::CliError;
use crate::globals::Globals;

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

/// The order of the fields of runc's (Go) spec types, by the dotted path of the object (array
/// indices left out): `encoding/json` writes struct fields in declaration order. Keys not listed
/// come after, sorted.
fn go_field_order(path: &str) -> &'static [&'static str] {
    match path {
        "" => &[
            "ociVersion",
            "process",
            "root",
            "hostname",
            "domainname",
            "mounts",
            "hooks",
            "annotations",
            "linux",
        ],
        "process" => &[
            "terminal",
            "consoleSize",
            "user",
            "args",
            "commandLine",
            "env",
            "cwd",
            "capabilities",
            "rlimits",
            "noNewPrivileges",
            "apparmorProfile",
            "oomScoreAdj",
            "scheduler",
            "selinuxLabel",
            "ioPriority",
            "execCPUAffinity",
        ],
        "process.user" => &["uid", "gid", "umask", "additionalGids", "username"],
        "process.capabilities" => &[
            "bounding",
            "effective",
            "inheritable",
            "permitted",
            "ambient",
        ],
        "process.rlimits" => &["type", "hard", "soft"],
        "root" => &["path", "readonly"],
        "mounts" => &[
            "destination",
            "type",
            "source",
            "options",
            "uidMappings",
            "gidMappings",
        ],
        "linux" => &[
            "uidMappings",
            "gidMappings",
            "sysctl",
            "resources",
            "cgroupsPath",
            "namespaces",
            "devices",
            "netDevices",
            "seccomp",
            "rootfsPropagation",
            "maskedPaths",
            "readonlyPaths",
            "mountLabel",
            "intelRdt",
            "memoryPolicy",
            "personality",
            "timeOffsets",
        ],
        "linux.resources" => &[
            "devices",
            "memory",
            "cpu",
            "pids",
            "blockIO",
            "hugepageLimits",
            "network",
            "rdma",
            "unified",
        ],
        "linux.resources.devices" => &["allow", "type", "major", "minor", "access"],
        "linux.namespaces" => &["type", "path"],
        "linux.uidMappings" | "linux.gidMappings" | "mounts.uidMappings" | "mounts.gidMappings" => {
            &["containerID", "hostID", "size"]
        }
        _ => &[],
    }
}

/// The spec as runc writes it (Go's `json.MarshalIndent(spec, "", "\t")`): one tab per level, the
/// fields of each object in the order of runc's types, no final newline.
fn to_tab_indented(v: &serde_json::Value) -> Result<Vec<u8>, CliError> {
    let mut out = String::new();
    write_go(&mut out, v, "", 0)?;
    Ok(out.into_bytes())
}

fn write_go(
    out: &mut String,
    v: &serde_json::Value,
    path: &str,
    depth: usize,
) -> Result<(), CliError> {
    use serde_json::Value;
    let indent = |out: &mut String, d: usize| out.extend(std::iter::repeat_n('\t', d));
    match v {
        Value::Object(o) if !o.is_empty() => {
            let order = go_field_order(path);
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by_key(|k| order.iter().position(|f| f == k).unwrap_or(order.len()));
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str(&json_text(&Value::String((*k).clone()))?);
                out.push_str(": ");
                let child = if path.is_empty() {
                    (*k).clone()
                } else {
                    format!("{path}.{k}")
                };
                write_go(out, &o[k.as_str()], &child, depth + 1)?;
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, item) in a.iter().enumerate() {
                indent(out, depth + 1);
                write_go(out, item, path, depth + 1)?;
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        scalar => out.push_str(&json_text(scalar)?),
    }
    Ok(())
}

/// A scalar (or empty container) as JSON text.
fn json_text(v: &serde_json::Value) -> Result<String, CliError> {
    serde_json::to_string(v).map_err(|source| CliError::Json {
        what: "example spec",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_indent() {
        let v = serde_json::json!({"a": {"b": 1, "e": [], "o": {}}});
        assert_eq!(
            String::from_utf8(to_tab_indented(&v).unwrap()).unwrap(),
            "{\n\t\"a\": {\n\t\t\"b\": 1,\n\t\t\"e\": [],\n\t\t\"o\": {}\n\t}\n}"
        );
    }

    /// `runc-1.3.6 spec` and `runc-1.3.6 spec --rootless` (as root: ids 0), byte for byte.
    #[test]
    fn same_bytes_as_runc() {
        let spec = lashing::config::example_spec_json();
        let text = to_tab_indented(&spec).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            include_str!("../../tests/fixtures/runc-1.3.6-spec.json")
        );
        let rootless = lashing::config::rootless_example(&spec, 0, 0);
        let text = to_tab_indented(&rootless).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            include_str!("../../tests/fixtures/runc-1.3.6-spec-rootless.json")
        );
    }
}
