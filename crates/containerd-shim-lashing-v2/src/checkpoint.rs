//! Checkpoint and restore of a task through the library's CRIU support, as the runc v2 shim
//! does them. `Checkpoint` dumps the container into the request's path (containerd's temporary
//! image directory, archived into its content store afterwards) with the options of
//! `containerd.runc.v1.CheckpointOptions` (the task keeps running unless `exit`; CRIU's work
//! directory is `<bundle>/criu-work` unless one is given, removed afterwards; a failed dump's
//! log is kept as `<bundle>/criu-dump.log`). `Create` with a checkpoint creates the container
//! and remembers the image; `Start` restores it with the task's stdio in place of the
//! checkpointed pipes (the runc v2 shim runs `runc restore --detach` at `Start` too); a task
//! with a terminal gets the new pty CRIU makes for it, relayed as for a created task.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::shim::oci::CheckpointOptions;
use containerd_shim::protos::shim::shim::CheckpointTaskRequest;
use containerd_shim::protos::ttrpc::{self, Code};
use lashing::Container;
use lashing::config::NamespaceType;
use lashing::criu::{CheckpointOpts, CriuOpts, ManageCgroupsMode, RestoreOpts};

use crate::status::err;
use crate::task::{Ctr, lock};

/// The type name of runc's checkpoint options (containerd's typeurl registration).
const CHECKPOINT_OPTIONS: &str = "containerd.runc.v1.CheckpointOptions";

/// The checkpoint images of containers created for a restore, until their `Start`.
#[derive(Default)]
pub struct Restores(Mutex<HashMap<String, PathBuf>>);

impl Restores {
    /// Remembers that `id` is restored from `image` at its start.
    pub fn add(&self, id: &str, image: &str) {
        lock(&self.0).insert(id.into(), image.into());
    }

    /// The image `id` is to be restored from, once.
    pub fn take(&self, id: &str) -> Option<PathBuf> {
        lock(&self.0).remove(id)
    }
}

/// The checkpoint options of a request: runc's type (any other is refused), the defaults when
/// there is none (ctr sends none for a runtime other than runc's).
pub fn options(any: Option<&Any>) -> Result<CheckpointOptions, ttrpc::Error> {
    let Some(a) = any.filter(|a| !(a.type_url.is_empty() && a.value.is_empty())) else {
        return Ok(CheckpointOptions::default());
    };
    let name = a.type_url.rsplit('/').next().unwrap_or_default();
    if name != CHECKPOINT_OPTIONS {
        return Err(err(
            Code::INVALID_ARGUMENT,
            format!(
                "checkpoint options of type {:?}: only {CHECKPOINT_OPTIONS} is understood",
                a.type_url
            ),
        ));
    }
    CheckpointOptions::parse_from_bytes(&a.value).map_err(|e| {
        err(
            Code::INVALID_ARGUMENT,
            format!("decode {CHECKPOINT_OPTIONS}: {e}"),
        )
    })
}

/// The library's CRIU options for `o`, with the image directory `image` and CRIU's work
/// directory `work`.
pub fn criu_opts(
    o: &CheckpointOptions,
    image: &Path,
    work: PathBuf,
) -> Result<CriuOpts, ttrpc::Error> {
    let bad = |what: String| err(Code::INVALID_ARGUMENT, what);
    let manage_cgroups_mode = match o.cgroups_mode.as_str() {
        "" => None,
        m => Some(
            m.parse::<ManageCgroupsMode>()
                .map_err(|e| bad(format!("cgroups mode {m:?}: {e}")))?,
        ),
    };
    let empty_ns = o
        .empty_namespaces
        .iter()
        .map(|ns| match ns.as_str() {
            "network" => Ok(NamespaceType::Network),
            _ => Err(bad(format!("empty namespace {ns:?} is not supported"))),
        })
        .collect::<Result<_, _>>()?;
    Ok(CriuOpts {
        image_path: image.to_path_buf(),
        work_path: Some(work),
        tcp_established: o.open_tcp,
        ext_unix_sk: o.external_unix_sockets,
        shell_job: o.terminal,
        file_locks: o.file_locks,
        manage_cgroups_mode,
        empty_ns,
        ..Default::default()
    })
}

/// `Checkpoint` of container `c`'s task.
pub fn checkpoint(c: &Ctr, req: &CheckpointTaskRequest) -> Result<(), ttrpc::Error> {
    let o = options(req.options.as_ref())?;
    let image = if o.image_path.is_empty() {
        PathBuf::from(&req.path)
    } else {
        PathBuf::from(&o.image_path)
    };
    if image.as_os_str().is_empty() {
        return Err(err(Code::INVALID_ARGUMENT, "checkpoint: no image path"));
    }
    let (work, temporary) = if o.work_path.is_empty() {
        (c.bundle.join("criu-work"), true)
    } else {
        (PathBuf::from(&o.work_path), false)
    };
    let mut opts = CheckpointOpts {
        criu: criu_opts(&o, &image, work.clone())?,
        leave_running: !o.exit,
        ..Default::default()
    };
    let r = lock(&c.container).checkpoint(&mut opts);
    let r = r.map_err(|e| {
        let kept = c.bundle.join("criu-dump.log");
        let _ = std::fs::copy(work.join("dump.log"), &kept);
        err(
            Code::UNKNOWN,
            format!("{} path= {}", lashing::error::chain(&e), kept.display()),
        )
    });
    if temporary {
        let _ = std::fs::remove_dir_all(&work);
    }
    r
}

/// Restores `container` (created, not started) from `image` with `process`'s stdio (set up by
/// the task's I/O); records the restored init's pid in `process`'s place for the caller.
///
/// With a terminal, as the runc v2 shim (`runc restore --console-socket`): the checkpointed
/// terminal's master is not in the image (the shim held it), so CRIU makes a new pty pair for
/// the restored process (`orphan-pts-master`) and the library sends its master to the console
/// socket the task's I/O set up, whence `Io::started` takes and relays it as for a created
/// task. CRIU's own stdio is then `/dev/null` (nothing of the task's is inherited).
pub fn restore(
    container: &mut Container,
    process: &mut lashing::Process,
    image: &Path,
) -> Result<i32, ttrpc::Error> {
    let (stdio, console_socket) = if process.terminal {
        let sock = process.console_socket.take().ok_or_else(|| {
            err(
                Code::INTERNAL,
                "restore: the task's console socket is not set up",
            )
        })?;
        let null = || -> Result<OwnedFd, ttrpc::Error> {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map(OwnedFd::from)
                .map_err(|e| err(Code::UNKNOWN, format!("restore: open /dev/null: {e}")))
        };
        ([null()?, null()?, null()?], Some(sock))
    } else {
        let fd = |s: &lashing::Stdio, what: &str| -> Result<OwnedFd, ttrpc::Error> {
            match s {
                lashing::Stdio::Fd(f) => f
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| err(Code::UNKNOWN, format!("restore: duplicate {what}: {e}"))),
                lashing::Stdio::Inherit => Err(err(
                    Code::INTERNAL,
                    format!("restore: the task's {what} is not set up"),
                )),
            }
        };
        let stdio = [
            fd(&process.stdin, "stdin")?,
            fd(&process.stdout, "stdout")?,
            fd(&process.stderr, "stderr")?,
        ];
        (stdio, None)
    };
    let opts = RestoreOpts {
        criu: CriuOpts {
            image_path: image.to_path_buf(),
            ..Default::default()
        },
        console_socket,
        stdio: Some(stdio),
        ..Default::default()
    };
    container
        .restore_created(&opts)
        .map_err(|e| err(Code::UNKNOWN, lashing::error::chain(&e)))?;
    Ok(container.state().init_process_pid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(name: &str, o: &CheckpointOptions) -> Any {
        Any {
            type_url: name.into(),
            value: o.write_to_bytes().unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn runc_options_decode_and_map() {
        let mut o = CheckpointOptions::new();
        o.exit = true;
        o.open_tcp = true;
        o.file_locks = true;
        o.cgroups_mode = "full".into();
        o.empty_namespaces = vec!["network".into()];
        o.work_path = "/w".into();
        let got = options(Some(&any("containerd.runc.v1.CheckpointOptions", &o))).unwrap();
        assert_eq!(got, o);
        let got = options(Some(&any(
            "type.googleapis.com/containerd.runc.v1.CheckpointOptions",
            &o,
        )))
        .unwrap();
        assert!(got.exit);
        let c = criu_opts(&got, Path::new("/img"), "/w".into()).unwrap();
        assert_eq!(c.image_path, Path::new("/img"));
        assert_eq!(c.work_path.as_deref(), Some(Path::new("/w")));
        assert!(c.tcp_established && c.file_locks && !c.ext_unix_sk && !c.shell_job);
        assert_eq!(c.manage_cgroups_mode, Some(ManageCgroupsMode::Full));
        assert_eq!(c.empty_ns, vec![NamespaceType::Network]);
    }

    #[test]
    fn no_options_are_the_defaults_and_others_are_refused() {
        assert_eq!(options(None).unwrap(), CheckpointOptions::default());
        assert!(!options(None).unwrap().exit, "leave running by default");
        assert!(
            options(Some(&any(
                "containerd.runhcs.v1.Options",
                &CheckpointOptions::new()
            )))
            .is_err()
        );
        let mut o = CheckpointOptions::new();
        o.cgroups_mode = "bogus".into();
        assert!(criu_opts(&o, Path::new("/i"), "/w".into()).is_err());
        o.cgroups_mode.clear();
        o.empty_namespaces = vec!["pid".into()];
        assert!(criu_opts(&o, Path::new("/i"), "/w".into()).is_err());
    }
}
