//! `binary://` log URIs: a logging binary per process, as the runc v2 shim starts it.
//!
//! `binary:///path/to/logger?key=value&...` runs `/path/to/logger key value ...` with only
//! `CONTAINER_ID` (the container's id, or the exec id) and `CONTAINER_NAMESPACE` in its
//! environment, stdio on /dev/null, the read ends of the process's stdout and stderr pipes as
//! fds 3 and 4, and the write end of a "ready" pipe as fd 5. The shim waits until the logger
//! closes fd 5 (or writes to it, or exits) before the process is started, so that no output is
//! written before the logger reads. The logger runs until both pipes reach EOF (every holder of
//! the process's stdout/stderr closed them); the shim's reaper reaps it.

use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use crate::io_error::IoError;

/// The program and arguments of a `binary://` URI (percent-escapes decoded; a query key
/// without a value gives no argument after it, as the runc v2 shim).
pub fn parse(uri: &str) -> Option<(String, Vec<String>)> {
    let rest = uri.strip_prefix("binary://")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = decode(path, false);
    if !path.starts_with('/') {
        return None;
    }
    let mut args = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        args.push(decode(k, true));
        args.push(decode(v, true));
    }
    Some((path, args))
}

/// URL percent-decoding (`+` is a space in a query).
fn decode(s: &str, query: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if query => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Starts the logging binary of `uri` for process `id` of `namespace` and waits until it is
/// ready. Returns the write ends of the stdout and stderr pipes, for the process.
pub fn start(uri: &str, id: &str, namespace: &str) -> Result<(OwnedFd, OwnedFd), IoError> {
    let fail = |what, source| IoError::Logger {
        uri: uri.into(),
        what,
        source,
    };
    let (path, args) = parse(uri).ok_or_else(|| {
        fail(
            "parse",
            std::io::Error::other("not binary:///ABSOLUTE/PATH[?KEY=VALUE&...]"),
        )
    })?;
    let pipe = || {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| fail("pipe", e.into()))
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (ready_r, ready_w) = pipe()?;
    let mut cmd = Command::new(&path);
    cmd.args(&args)
        .env_clear()
        .env("CONTAINER_ID", id)
        .env("CONTAINER_NAMESPACE", namespace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    crate::sys::pass_fds(&mut cmd, [out_r, err_r, ready_w]);
    // The child is reaped by the shim's reaper (the caller holds its gate: not during spawn).
    let child = cmd.spawn().map_err(|e| fail("start", e))?;
    // Our copies of the logger's ends went with `cmd`.
    drop(cmd);
    log::debug!("logging binary {path} pid {} for {id}", child.id());
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(&ready_r, &mut b) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(fail("wait until ready", e.into())),
        }
    }
    Ok((out_w, err_w))
}

/// With `-debug`: the waterfall of one task call (the library's stamps and the shim's), to the
/// shim's log at debug level, so that containerd's log shows where its milliseconds went.
pub fn report_waterfall(call: &str, id: &str) {
    for line in lashing::waterfall::take_lines() {
        log::debug!("waterfall {call} {id} {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_give_the_program_and_its_arguments() {
        assert_eq!(
            parse("binary:///usr/bin/logger"),
            Some(("/usr/bin/logger".into(), vec![]))
        );
        assert_eq!(
            parse("binary:///opt/my%20log?id=a+b&level=%21x&flag"),
            Some((
                "/opt/my log".into(),
                vec![
                    "id".into(),
                    "a b".into(),
                    "level".into(),
                    "!x".into(),
                    "flag".into(),
                    "".into()
                ]
            ))
        );
        // Not absolute, or not binary://.
        assert_eq!(parse("binary://logger"), None);
        assert_eq!(parse("file:///x"), None);
        // A broken escape stays as it is.
        assert_eq!(parse("binary:///a%2"), Some(("/a%2".into(), vec![])));
    }

    /// A real logger (sh): it gets both streams on fds 3 and 4 and its environment.
    #[test]
    fn a_logger_reads_both_streams_and_gets_its_environment() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("logger");
        std::fs::write(
            &script,
            "#!/bin/sh\nexec 5>&-\necho \"$CONTAINER_ID $CONTAINER_NAMESPACE $*\" > \"$1.env\"\n\
             cat <&3 > \"$1.out\" &\ncat <&4 > \"$1.err\"\nwait\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let base = d.path().join("log");
        let uri = format!("binary://{}?{}", script.display(), base.display());
        let (out, err) = start(&uri, "c1", "ns1").unwrap();
        rustix::io::write(&out, b"to-out").unwrap();
        rustix::io::write(&err, b"to-err").unwrap();
        drop((out, err));
        let read =
            |ext: &str| std::fs::read_to_string(base.with_extension(ext)).unwrap_or_default();
        let t0 = std::time::Instant::now();
        while read("err").len() < 6 || read("out").len() < 6 {
            assert!(t0.elapsed() < lashing_testsupport::WAIT, "logger output");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(read("out"), "to-out");
        assert_eq!(read("err"), "to-err");
        let env = read("env");
        assert!(env.starts_with("c1 ns1 "), "{env}");
        // A logger that cannot start: an error naming the URI.
        let e = start("binary:///nonexistent/logger", "c1", "ns1").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/logger"), "{e}");
    }
}
