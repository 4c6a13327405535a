//! The shim's process-level side: `start` (one shim per pod), `delete` (cleanup after a dead
//! shim) and the serving instance's setup.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{Config, DeleteResponse, ExitSignal, Flags, StartOpts};

use crate::service::Service;

/// The annotation that names a container's pod sandbox (CRI): containers of one sandbox share
/// one shim, as with the runc v2 shim.
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

/// The library's state root of a containerd namespace.
pub fn state_root(namespace: &str) -> PathBuf {
    Path::new("/run/containerd/lashing").join(namespace)
}

/// The shim instance.
pub struct Shim {
    namespace: String,
    id: String,
    /// The socket this instance serves (`unix://...`; empty for `start`/`delete`).
    socket: String,
    exit: Arc<ExitSignal>,
}

/// The grouping key of the container in `bundle`: its sandbox id, or its own id.
pub fn grouping(bundle: &Path, id: &str) -> String {
    std::fs::read_to_string(bundle.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.get("annotations")?
                .get(SANDBOX_ID)?
                .as_str()
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| id.to_string())
}

/// `start`: the address of the shim serving this container's group, starting that shim when
/// there is none yet. containerd runs it in the bundle directory.
pub fn start(opts: StartOpts) -> containerd_shim::Result<String> {
    let bundle = std::env::current_dir()
        .map_err(|e| containerd_shim::Error::Other(format!("current directory: {e}")))?;
    let group = grouping(&bundle, &opts.id);
    let address = containerd_shim::socket_address(&opts.address, &opts.namespace, &group);
    let path = address.trim_start_matches("unix://");
    let address = if UnixStream::connect(path).is_ok() {
        address
    } else {
        // The runtime options (`ShimCgroup`), as containerd writes them to `start`'s stdin.
        let mut options = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut options);
        let (pid, address) = containerd_shim::spawn(opts, &group, Vec::new())?;
        if let Err(e) = crate::options::join_shim_cgroup(&options, pid) {
            // As the runc v2 shim: the start fails, and the shim it started is ended (the
            // killed shim leaves its socket, which the next start replaces).
            if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
            let _ = std::fs::remove_file(address.trim_start_matches("unix://"));
            return Err(containerd_shim::Error::Other(e.to_string()));
        }
        address
    };
    // What containerd reads to reconnect after a restart.
    let _ = std::fs::write(bundle.join("address"), &address);
    Ok(address)
}

impl containerd_shim::Shim for Shim {
    type T = Service;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        if args.debug && !matches!(args.action.as_str(), "start" | "delete") {
            // The serving shim with `-debug` logs each Create's and Start's waterfall.
            lashing::waterfall::enable();
        }
        Shim {
            namespace: args.namespace.clone(),
            id: args.id.clone(),
            socket: args.socket.clone(),
            exit: Arc::new(ExitSignal::default()),
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        start(opts)
    }

    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let root = state_root(&self.namespace);
        match lashing::Container::load(&root, &self.id) {
            Ok(c) => {
                if let Err(e) = c.force_destroy() {
                    log::warn!("delete {}: {}", self.id, lashing::error::chain(&e));
                }
            }
            Err(_) => {
                let _ = lashing::remove_remains(&root, &self.id, true);
            }
        }
        if let Ok(cwd) = std::env::current_dir() {
            let rootfs = cwd.join("rootfs");
            let _ = rustix::mount::unmount(&rootfs, rustix::mount::UnmountFlags::DETACH);
        }
        Ok(DeleteResponse {
            exit_status: 128 + libc::SIGKILL as u32,
            exited_at: Some(crate::events::now()).into(),
            ..Default::default()
        })
    }

    fn wait(&mut self) {
        self.exit.wait();
        // The crate removes the socket named in the `address` file of its working directory: the
        // first container's bundle, which containerd may have removed already (a pod's shim
        // outlives its first container). Ours is removed here in any case.
        let path = self.socket.trim_start_matches("unix://");
        if !path.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Service {
        // Our own client (events.rs says why); the crate's connection is closed.
        drop(publisher);
        let address = std::env::var("TTRPC_ADDRESS").unwrap_or_default();
        let gate = Arc::new(crate::reaper::Gate::default());
        if let Err(e) = crate::reaper::start(gate.clone()) {
            log::error!("start the reaper: {e}");
        }
        let root = state_root(&self.namespace);
        if let Err(e) = std::fs::create_dir_all(&root) {
            log::error!("create {}: {e}", root.display());
        }
        let events = crate::events::Events::connect(&address, &self.namespace);
        Service::new(root, gate, events, self.exit.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_is_the_sandbox_id_or_the_container_id() {
        let d = tempfile::tempdir().unwrap();
        // No config.json: the container's own id.
        assert_eq!(grouping(d.path(), "c1"), "c1");
        let config = serde_json::json!({"annotations": {SANDBOX_ID: "pod-7"}});
        std::fs::write(d.path().join("config.json"), config.to_string()).unwrap();
        assert_eq!(grouping(d.path(), "c1"), "pod-7");
        // An empty annotation, or none, is no sandbox.
        let config = serde_json::json!({"annotations": {SANDBOX_ID: ""}});
        std::fs::write(d.path().join("config.json"), config.to_string()).unwrap();
        assert_eq!(grouping(d.path(), "c2"), "c2");
        std::fs::write(d.path().join("config.json"), "{}").unwrap();
        assert_eq!(grouping(d.path(), "c3"), "c3");
    }

    #[test]
    fn state_root_is_per_namespace() {
        assert_eq!(
            state_root("k8s.io"),
            Path::new("/run/containerd/lashing/k8s.io")
        );
    }
}
