//! containerd's runtime options, as the runc v2 shim reads them: `containerd.runc.v1.Options`
//! (ctr's `--runc-*` flags; CRI's `[...runtimes.NAME.options]` table when the runtime's
//! `runtime_type` is `io.containerd.runc.v2`, e.g. with `runtime_path` naming this shim).
//!
//! What applies to a shim that is its own runtime: `SystemdCgroup` (the library's systemd cgroup
//! driver), `NoPivotRoot`, `NoNewKeyring`, and `ShimCgroup` (the cgroup the serving shim is moved
//! into by `start`). `BinaryName` and `Root` name a runtime binary and its state directory:
//! there is none here (the state lives in `/run/containerd/lashing/<namespace>`), so they are
//! ignored with a log line. `IoUid`/`IoGid` set the owner of the pipes the runc shim creates
//! between itself and the process; this shim gives the process the FIFOs (or the terminal)
//! already opened, so there is no such pipe to own. Options of any other type (containerd 1.6's
//! CRI sends `runtimeoptions.v1.Options` for a `runtime_type` it does not know) are ignored.

use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::shim::oci::Options;

/// The type URL of the runc shims' options.
pub const RUNC_OPTIONS: &str = "containerd.runc.v1.Options";

/// Runtime options that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// The options claim to be runc's but do not decode.
    #[error("runtime options {type_url}: {source}")]
    Decode {
        /// The options' type URL.
        type_url: String,
        /// The protobuf error.
        source: containerd_shim::protos::protobuf::Error,
    },
    /// `ShimCgroup` could not be joined.
    #[error("shim cgroup {path}: {source}")]
    ShimCgroup {
        /// The cgroup.
        path: String,
        /// The cause (boxed: the cgroup errors are large).
        source: Box<lashing_cgroups::Error>,
    },
}

/// Decodes `any` when it is runc's options; `None` for no options or options of another type.
pub fn decode(any: &Any) -> Result<Option<Options>, OptionsError> {
    // containerd writes the bare type name; some clients prefix it as a URL.
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    if any.type_url.is_empty() && any.value.is_empty() {
        return Ok(None);
    }
    if name != RUNC_OPTIONS {
        log::info!("runtime options of type {:?} ignored", any.type_url);
        return Ok(None);
    }
    Options::parse_from_bytes(&any.value)
        .map(Some)
        .map_err(|source| OptionsError::Decode {
            type_url: any.type_url.clone(),
            source,
        })
}

/// Logs the options that do not apply to this shim (see the module doc).
pub fn log_ignored(o: &Options) {
    if !o.binary_name.is_empty() {
        log::info!(
            "runtime option BinaryName {:?} ignored: the runtime is linked into this shim",
            o.binary_name
        );
    }
    if !o.root.is_empty() {
        log::info!(
            "runtime option Root {:?} ignored: the state lives in /run/containerd/lashing",
            o.root
        );
    }
}

/// Applies the options that shape the container to its configuration.
pub fn apply(o: &Options, opts: &mut lashing::config::CreateOpts) {
    opts.no_pivot_root = o.no_pivot_root;
    opts.no_new_keyring = o.no_new_keyring;
}

/// `ShimCgroup` at `start`: the options containerd writes to the shim's stdin (an `Any`, or
/// nothing), decoded; and the serving shim `pid` moved into the cgroup they name, if any.
pub fn join_shim_cgroup(stdin: &[u8], pid: u32) -> Result<(), OptionsError> {
    if stdin.is_empty() {
        return Ok(());
    }
    let any = Any::parse_from_bytes(stdin).map_err(|source| OptionsError::Decode {
        type_url: "(start options)".into(),
        source,
    })?;
    let Some(o) = decode(&any)? else {
        return Ok(());
    };
    if o.shim_cgroup.is_empty() {
        return Ok(());
    }
    let cg_err = |source| OptionsError::ShimCgroup {
        path: o.shim_cgroup.clone(),
        source: Box::new(source),
    };
    // An absolute path under every hierarchy's mount point (the runc shim loads it as is).
    let path = format!("/{}", o.shim_cgroup.trim_start_matches('/'));
    let m = lashing_cgroups::Manager::new(&path, "").map_err(cg_err)?;
    m.add_pid(pid as i32, false).map_err(cg_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(type_url: &str, o: &Options) -> Any {
        Any {
            type_url: type_url.into(),
            value: o.write_to_bytes().unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn runc_options_decode_by_their_type_url() {
        let o = Options {
            systemd_cgroup: true,
            no_pivot_root: true,
            binary_name: "runc".into(),
            ..Default::default()
        };
        for url in [
            RUNC_OPTIONS,
            "type.googleapis.com/containerd.runc.v1.Options",
        ] {
            let d = decode(&any(url, &o)).unwrap().unwrap();
            assert!(d.systemd_cgroup && d.no_pivot_root && !d.no_new_keyring);
            assert_eq!(d.binary_name, "runc");
        }
    }

    #[test]
    fn other_or_no_options_are_none() {
        assert!(decode(&Any::default()).unwrap().is_none());
        let o = Options {
            systemd_cgroup: true,
            ..Default::default()
        };
        assert!(
            decode(&any("runtimeoptions.v1.Options", &o))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn malformed_runc_options_are_an_error_naming_the_type() {
        let bad = Any {
            type_url: RUNC_OPTIONS.into(),
            value: vec![0xff, 0xff, 0xff],
            ..Default::default()
        };
        let e = decode(&bad).unwrap_err().to_string();
        assert!(e.contains(RUNC_OPTIONS), "{e}");
    }

    #[test]
    fn apply_sets_pivot_and_keyring() {
        let o = Options {
            no_pivot_root: true,
            no_new_keyring: true,
            ..Default::default()
        };
        let mut c = lashing::config::CreateOpts::default();
        apply(&o, &mut c);
        assert!(c.no_pivot_root && c.no_new_keyring);
        apply(&Options::default(), &mut c);
        assert!(!c.no_pivot_root && !c.no_new_keyring);
    }

    /// On the real kernel: a process moved into a `ShimCgroup` shows it in /proc/PID/cgroup.
    #[test]
    fn shim_cgroup_moves_the_started_shim() {
        lashing_testsupport::require_root();
        let cleanup = lashing_testsupport::Cleanup::new();
        let path = lashing_testsupport::test_cgroup_path("shimcg");
        cleanup.cgroup(&path);
        lashing_cgroups::Manager::new(&path, "")
            .unwrap()
            .create()
            .unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        cleanup.pid(child.id() as i32);
        let o = Options {
            // Relative, as the runc shim takes it too: under every hierarchy's root.
            shim_cgroup: path.trim_start_matches('/').into(),
            ..Default::default()
        };
        let stdin = any(RUNC_OPTIONS, &o).write_to_bytes().unwrap();
        join_shim_cgroup(&stdin, child.id()).unwrap();
        let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", child.id())).unwrap();
        // A cgroup that does not exist fails, naming it.
        let o = Options {
            shim_cgroup: format!("{path}-missing"),
            ..Default::default()
        };
        let stdin = any(RUNC_OPTIONS, &o).write_to_bytes().unwrap();
        let e = join_shim_cgroup(&stdin, child.id()).unwrap_err();
        let _ = child.kill();
        let _ = child.wait();
        assert!(e.to_string().contains("-missing"), "{e}");
        assert!(
            cg.lines()
                .all(|l| l.ends_with(&path) || l.contains("name=")),
            "{path} not in every hierarchy:\n{cg}"
        );
        assert!(cg.lines().any(|l| l.ends_with(&path)), "{cg}");
    }

    #[test]
    fn start_without_options_or_shim_cgroup_does_nothing() {
        join_shim_cgroup(&[], 1).unwrap();
        let a = any(RUNC_OPTIONS, &Options::default());
        join_shim_cgroup(&a.write_to_bytes().unwrap(), 1).unwrap();
        assert!(join_shim_cgroup(&[0xff, 0xff], 1).is_err());
    }
}
