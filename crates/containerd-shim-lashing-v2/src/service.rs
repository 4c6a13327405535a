//! The task service: containerd's `containerd.task.v2.Task` API over the library, in process
//! (no runtime binary is executed for any call).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use containerd_shim::api::Empty;
use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim::protos::shim::shim::*;
use containerd_shim::protos::topics::*;
use containerd_shim::protos::ttrpc::{self, Code};
use containerd_shim::protos::types::task::{ProcessInfo, Status as TaskStatus};
use containerd_shim::{ExitSignal, TtrpcContext, TtrpcResult};
use lashing::config::{CreateOpts, ProcessConfig};
use lashing::{Config, Container, Process, waterfall};

use crate::events::Events;
use crate::io::Paths;
use crate::reaper::Gate;
use crate::status::err;
use crate::task::{Ctr, Phase, Proc, lock};

/// A library error as containerd expects it (`NotFound` for a container or process that is
/// gone, `FailedPrecondition` for a wrong state, `Unknown` otherwise).
fn lib_err(e: lashing::Error) -> ttrpc::Error {
    let code = match &e {
        lashing::Error::NotExist(_) => Code::NOT_FOUND,
        lashing::Error::Exists(_) => Code::ALREADY_EXISTS,
        lashing::Error::BadStatus { .. } => Code::FAILED_PRECONDITION,
        _ => Code::UNKNOWN,
    };
    err(code, lashing::error::chain(&e))
}

/// The shim's task service.
pub struct Service {
    /// The library's state root (`/run/containerd/lashing/<namespace>`).
    pub root: PathBuf,
    pub(crate) gate: Arc<Gate>,
    pub(crate) events: Arc<Events>,
    pub(crate) exit: Arc<ExitSignal>,
    ctrs: Mutex<HashMap<String, Arc<Ctr>>>,
    /// Containers created for a restore, restored at their start.
    restores: crate::checkpoint::Restores,
}

impl Service {
    /// A service with no container yet.
    pub fn new(root: PathBuf, gate: Arc<Gate>, events: Events, exit: Arc<ExitSignal>) -> Service {
        Service {
            root,
            gate,
            events: Arc::new(events),
            exit,
            ctrs: Mutex::new(HashMap::new()),
            restores: Default::default(),
        }
    }

    fn ctr(&self, id: &str) -> TtrpcResult<Arc<Ctr>> {
        lock(&self.ctrs)
            .get(id)
            .cloned()
            .ok_or_else(|| err(Code::NOT_FOUND, format!("container {id}: not found")))
    }

    fn proc(&self, id: &str, exec_id: &str) -> TtrpcResult<(Arc<Ctr>, Arc<Proc>)> {
        let c = self.ctr(id)?;
        let p = c
            .proc(exec_id)
            .ok_or_else(|| err(Code::NOT_FOUND, format!("process {exec_id}: not found")))?;
        Ok((c, p))
    }

    /// Starts `p` (the init when `init`), watches its pid and takes its I/O over. The gate is
    /// returned held: the caller publishes the start before the process's exit can be.
    fn launch<'g>(
        &'g self,
        c_id: &str,
        container: &mut Container,
        p: &Arc<Proc>,
        init: bool,
    ) -> TtrpcResult<(u32, std::sync::RwLockReadGuard<'g, ()>)> {
        let mut guard = lock(&p.process);
        let process = guard
            .as_mut()
            .ok_or_else(|| err(Code::FAILED_PRECONDITION, "process already started"))?;
        let hold = self.gate.hold();
        let id = if init { c_id } else { p.exec_id.as_str() };
        p.io.prepare(&p.paths, process, id, self.events.namespace())
            .map_err(|e| err(Code::INVALID_ARGUMENT, e))?;
        waterfall::mark("shim: stdio opened");
        let pid = if let Some(image) = self.restores.take(c_id).filter(|_| init) {
            crate::checkpoint::restore(container, process, &image)? as u32
        } else {
            let r = if init {
                container.start(process)
            } else {
                container.exec(process)
            };
            r.map_err(lib_err)?;
            process.pid().unwrap_or(0) as u32
        };
        p.set_pid(pid);
        log::debug!("started pid {pid} of {c_id} {}", p.exec_id);
        let (events, proc_, cid) = (self.events.clone(), p.clone(), c_id.to_string());
        self.gate.watch(
            pid as i32,
            Box::new(move |code| {
                let exited_at = proc_.set_exited(code);
                let id = if proc_.exec_id.is_empty() {
                    cid.clone()
                } else {
                    proc_.exec_id.clone()
                };
                events.publish(
                    TASK_EXIT_EVENT_TOPIC,
                    TaskExit {
                        container_id: cid,
                        id,
                        pid,
                        exit_status: code,
                        exited_at: Some(exited_at).into(),
                        ..Default::default()
                    },
                );
            }),
        );
        p.io.started(&p.paths, process)
            .map_err(|e| err(Code::UNKNOWN, e))?;
        waterfall::mark("shim: stdio relayed");
        Ok((pid, hold))
    }

    /// Sends the container's OOM events to containerd, from a thread of its own.
    fn watch_oom(&self, c: &Ctr) {
        let Ok(mut n) = lock(&c.container).notify_oom() else {
            return;
        };
        let (events, id) = (self.events.clone(), c.id.clone());
        let _ = std::thread::Builder::new()
            .name("oom".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                while let Ok(Some(lashing_cgroups::OomEvent::Oom { .. })) = n.wait(None) {
                    events.publish(
                        TASK_OOM_EVENT_TOPIC,
                        TaskOOM {
                            container_id: id.clone(),
                            ..Default::default()
                        },
                    );
                }
            });
    }

    fn create_inner(&self, req: &CreateTaskRequest) -> TtrpcResult<(Arc<Ctr>, u32)> {
        if lock(&self.ctrs).contains_key(&req.id) {
            return Err(err(
                Code::ALREADY_EXISTS,
                format!("container {}: already exists", req.id),
            ));
        }
        let bundle = PathBuf::from(&req.bundle);
        let mounted =
            crate::rootfs::mount(&bundle, &req.rootfs).map_err(|e| err(Code::UNKNOWN, e))?;
        waterfall::mark("shim: rootfs mounted");
        let undo = |e: ttrpc::Error| {
            if let Some(r) = &mounted {
                crate::rootfs::unmount(r);
            }
            e
        };
        let mut opts = CreateOpts {
            bundle: bundle.clone(),
            ..Default::default()
        };
        let runc_opts = match req.options.as_ref() {
            Some(any) => crate::options::decode(any)
                .map_err(|e| undo(err(Code::INVALID_ARGUMENT, e)))?
                .unwrap_or_default(),
            None => Default::default(),
        };
        crate::options::log_ignored(&runc_opts);
        crate::options::apply(&runc_opts, &mut opts);
        let mut config = Config::from_bundle(&opts)
            .map_err(|e| undo(err(Code::INVALID_ARGUMENT, lashing::error::chain(&e))))?;
        config.cgroup.systemd = runc_opts.systemd_cgroup;
        let mut process = Process::from_config(&config.process);
        process.terminal = req.terminal;
        let hold = self.gate.hold();
        let mut container =
            Container::create(&self.root, &req.id, config).map_err(|e| undo(lib_err(e)))?;
        drop(hold);
        let paths = Paths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let init = Arc::new(Proc::new("", paths, process));
        if !req.checkpoint.is_empty() {
            // Restored at `Start` (as the runc v2 shim runs `runc restore`).
            self.restores.add(&req.id, &req.checkpoint);
        } else if let Err(e) = self.launch(&req.id, &mut container, &init, true) {
            let _hold = self.gate.hold();
            let _ = container.force_destroy();
            return Err(undo(e));
        }
        // (An init waits for `Start` until it is killed: no exit to order after the create.)
        let pid = init.state().pid;
        let c = Arc::new(Ctr {
            id: req.id.clone(),
            bundle,
            mounted,
            container: Mutex::new(container),
            init,
            execs: Mutex::new(HashMap::new()),
        });
        lock(&self.ctrs).insert(req.id.clone(), c.clone());
        Ok((c, pid))
    }

    fn start_inner(&self, req: &StartRequest) -> TtrpcResult<StartResponse> {
        let (c, p) = self.proc(&req.id, &req.exec_id)?;
        let pid = if req.exec_id.is_empty() {
            // A container created for a restore (no pid yet) is restored now; any other is
            // released from its fifo. `_hold` until the start is published: its exit comes after.
            let (pid, _hold) = if p.state().pid == 0 {
                self.launch(&c.id, &mut lock(&c.container), &p, true)?
            } else {
                let hold = self.gate.hold();
                lock(&c.container).release().map_err(lib_err)?;
                (p.state().pid, hold)
            };
            p.set_running();
            self.events.publish(
                TASK_START_EVENT_TOPIC,
                TaskStart {
                    container_id: c.id.clone(),
                    pid,
                    ..Default::default()
                },
            );
            pid
        } else {
            let (pid, _hold) = {
                let mut container = lock(&c.container);
                self.launch(&c.id, &mut container, &p, false)?
            };
            p.set_running();
            // `_hold` until the start is published: its exit comes after it.
            self.events.publish(
                TASK_EXEC_STARTED_EVENT_TOPIC,
                TaskExecStarted {
                    container_id: c.id.clone(),
                    exec_id: req.exec_id.clone(),
                    pid,
                    ..Default::default()
                },
            );
            pid
        };
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }
}

impl containerd_shim::Task for Service {
    fn create(
        &self,
        _ctx: &TtrpcContext,
        req: CreateTaskRequest,
    ) -> TtrpcResult<CreateTaskResponse> {
        waterfall::mark("shim: Create received");
        let r = self.create_inner(&req);
        crate::logger::report_waterfall("Create", &req.id);
        let (c, pid) = r?;
        self.watch_oom(&c);
        self.events.publish(
            TASK_CREATE_EVENT_TOPIC,
            TaskCreate {
                container_id: req.id.clone(),
                bundle: req.bundle.clone(),
                rootfs: req.rootfs.clone(),
                io: Some(TaskIO {
                    stdin: req.stdin.clone(),
                    stdout: req.stdout.clone(),
                    stderr: req.stderr.clone(),
                    terminal: req.terminal,
                    ..Default::default()
                })
                .into(),
                checkpoint: req.checkpoint.clone(),
                pid,
                ..Default::default()
            },
        );
        crate::sys::release_free_memory();
        Ok(CreateTaskResponse {
            pid,
            ..Default::default()
        })
    }

    fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        waterfall::mark("shim: Start received");
        let r = self.start_inner(&req);
        crate::logger::report_waterfall("Start", &req.id);
        r
    }

    fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> TtrpcResult<Empty> {
        let c = self.ctr(&req.id)?;
        let spec = req
            .spec
            .as_ref()
            .ok_or_else(|| err(Code::INVALID_ARGUMENT, "exec: no process spec"))?;
        let text = std::str::from_utf8(&spec.value)
            .map_err(|e| err(Code::INVALID_ARGUMENT, format!("exec: process spec: {e}")))?;
        let pc = ProcessConfig::from_json(Path::new("process spec"), text)
            .map_err(|e| err(Code::INVALID_ARGUMENT, lashing::error::chain(&e)))?;
        let mut process = Process::from_config(&pc);
        process.terminal = req.terminal;
        let paths = Paths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        {
            let mut execs = lock(&c.execs);
            if execs.contains_key(&req.exec_id) {
                return Err(err(
                    Code::ALREADY_EXISTS,
                    format!("id {}: already exists", req.exec_id),
                ));
            }
            execs.insert(
                req.exec_id.clone(),
                Arc::new(Proc::new(&req.exec_id, paths, process)),
            );
        }
        self.events.publish(
            TASK_EXEC_ADDED_EVENT_TOPIC,
            TaskExecAdded {
                container_id: c.id.clone(),
                exec_id: req.exec_id.clone(),
                ..Default::default()
            },
        );
        Ok(Empty::new())
    }

    fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> TtrpcResult<Empty> {
        let (_, p) = self.proc(&req.id, &req.exec_id)?;
        p.io.resize(req.width, req.height)
            .map_err(|e| err(Code::FAILED_PRECONDITION, e))?;
        Ok(Empty::new())
    }

    fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> TtrpcResult<Empty> {
        let (_, p) = self.proc(&req.id, &req.exec_id)?;
        if req.stdin {
            p.io.close_stdin();
        }
        Ok(Empty::new())
    }

    fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        let (c, p) = self.proc(&req.id, &req.exec_id)?;
        let sig = req.signal as i32;
        if req.exec_id.is_empty() {
            if req.all {
                return lock(&c.container)
                    .signal(sig, true)
                    .map(|()| Empty::new())
                    .map_err(lib_err);
            }
            if p.state().phase == Phase::Stopped {
                return Err(err(Code::NOT_FOUND, "process already finished"));
            }
            return lock(&c.container)
                .signal(sig, false)
                .map(|()| Empty::new())
                .map_err(lib_err);
        }
        match p.state().phase {
            Phase::Stopped => return Err(err(Code::NOT_FOUND, "process already finished")),
            Phase::Created => return Err(err(Code::FAILED_PRECONDITION, "process not started")),
            Phase::Running => {}
        }
        p.signal(sig).map(|()| Empty::new()).map_err(lib_err)
    }

    fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> TtrpcResult<PidsResponse> {
        let c = self.ctr(&req.id)?;
        let pids = lock(&c.container).processes().map_err(lib_err)?;
        Ok(PidsResponse {
            processes: pids
                .into_iter()
                .map(|pid| ProcessInfo {
                    pid: pid as u32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> TtrpcResult<Empty> {
        let c = self.ctr(&req.id)?;
        lock(&c.container).pause().map_err(lib_err)?;
        self.events.publish(
            TASK_PAUSED_EVENT_TOPIC,
            TaskPaused {
                container_id: c.id.clone(),
                ..Default::default()
            },
        );
        Ok(Empty::new())
    }

    fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> TtrpcResult<Empty> {
        let c = self.ctr(&req.id)?;
        lock(&c.container).resume().map_err(lib_err)?;
        self.events.publish(
            TASK_RESUMED_EVENT_TOPIC,
            TaskResumed {
                container_id: c.id.clone(),
                ..Default::default()
            },
        );
        Ok(Empty::new())
    }

    fn checkpoint(&self, _ctx: &TtrpcContext, req: CheckpointTaskRequest) -> TtrpcResult<Empty> {
        let c = self.ctr(&req.id)?;
        let _hold = self.gate.hold();
        crate::checkpoint::checkpoint(&c, &req)?;
        Ok(Empty::new())
    }

    fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> TtrpcResult<Empty> {
        let c = self.ctr(&req.id)?;
        let any = req
            .resources
            .as_ref()
            .ok_or_else(|| err(Code::INVALID_ARGUMENT, "update: no resources"))?;
        let patch: lashing_cgroups::Resources = serde_json::from_slice(&any.value)
            .map_err(|e| err(Code::INVALID_ARGUMENT, format!("update: resources: {e}")))?;
        let mut container = lock(&c.container);
        let mut res = container.resources().map_err(lib_err)?;
        res.merge_update(patch);
        container.set(&res).map_err(lib_err)?;
        Ok(Empty::new())
    }

    fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        let (_, p) = self.proc(&req.id, &req.exec_id)?;
        let (exit_status, exited_at) = p.wait();
        Ok(WaitResponse {
            exit_status,
            exited_at: Some(exited_at).into(),
            ..Default::default()
        })
    }

    fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> TtrpcResult<StatsResponse> {
        let c = self.ctr(&req.id)?;
        let stats = lock(&c.container).stats().map_err(lib_err)?;
        let any = crate::metrics::to_any(&stats, lashing_cgroups::detect())
            .map_err(|e| err(Code::INTERNAL, e))?;
        Ok(StatsResponse {
            stats: Some(any).into(),
            ..Default::default()
        })
    }

    fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        let (c, p) = self.proc(&req.id, &req.exec_id)?;
        let st = p.state();
        let status = match st.phase {
            Phase::Stopped => TaskStatus::STOPPED,
            Phase::Created => TaskStatus::CREATED,
            Phase::Running if !req.exec_id.is_empty() => TaskStatus::RUNNING,
            Phase::Running => match lock(&c.container).status() {
                lashing::Status::Paused => TaskStatus::PAUSED,
                lashing::Status::Created => TaskStatus::CREATED,
                lashing::Status::Stopped => TaskStatus::STOPPED,
                _ => TaskStatus::RUNNING,
            },
        };
        let (exit_status, exited_at) = st.exit.clone().unwrap_or_default();
        Ok(StateResponse {
            id: req.id.clone(),
            bundle: c.bundle.to_string_lossy().into_owned(),
            pid: st.pid,
            status: status.into(),
            stdin: p.paths.stdin.clone(),
            stdout: p.paths.stdout.clone(),
            stderr: p.paths.stderr.clone(),
            terminal: p.paths.terminal,
            exit_status,
            exited_at: st.exit.as_ref().map(|_| exited_at).into(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    fn delete(&self, _ctx: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        let (c, p) = self.proc(&req.id, &req.exec_id)?;
        if !req.exec_id.is_empty() {
            let st = p.state();
            if st.phase == Phase::Running {
                return Err(err(
                    Code::FAILED_PRECONDITION,
                    format!("cannot delete a running process {}", req.exec_id),
                ));
            }
            let (exit_status, exited_at) = st.exit.clone().unwrap_or_default();
            let pid = st.pid;
            drop(st);
            lock(&c.execs).remove(&req.exec_id);
            return Ok(DeleteResponse {
                pid,
                exit_status,
                exited_at: Some(exited_at).into(),
                ..Default::default()
            });
        }
        {
            let hold = self.gate.hold();
            let container = Container::load(&self.root, &c.id);
            let r = match container {
                Ok(ct) if ct.status() == lashing::Status::Stopped => ct.destroy(),
                Ok(ct) => ct.force_destroy(),
                Err(lashing::Error::NotExist(_)) => Ok(()),
                Err(e) => Err(e),
            };
            drop(hold);
            r.map_err(lib_err)?;
        }
        if let Some(r) = &c.mounted {
            crate::rootfs::unmount(r);
        }
        lock(&self.ctrs).remove(&c.id);
        let st = p.state();
        let (exit_status, exited_at) = st.exit.clone().unwrap_or_else(|| (0, crate::events::now()));
        let pid = st.pid;
        drop(st);
        self.events.publish(
            TASK_DELETE_EVENT_TOPIC,
            TaskDelete {
                container_id: c.id.clone(),
                pid,
                exit_status,
                exited_at: Some(exited_at.clone()).into(),
                ..Default::default()
            },
        );
        crate::sys::release_free_memory();
        Ok(DeleteResponse {
            pid,
            exit_status,
            exited_at: Some(exited_at).into(),
            ..Default::default()
        })
    }

    fn connect(&self, _ctx: &TtrpcContext, req: ConnectRequest) -> TtrpcResult<ConnectResponse> {
        let task_pid = lock(&self.ctrs)
            .get(&req.id)
            .map(|c| c.init.state().pid)
            .unwrap_or(0);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _ctx: &TtrpcContext, _req: ShutdownRequest) -> TtrpcResult<Empty> {
        // A shim of a pod serves more than one container: it ends with the last one.
        if lock(&self.ctrs).is_empty() {
            self.exit.signal();
        }
        Ok(Empty::new())
    }
}
