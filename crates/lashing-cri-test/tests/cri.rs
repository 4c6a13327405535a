//! containerd's CRI plugin (the Kubernetes path) with lashing underneath, through our CRI client
//! over containerd's socket: a pod with the host's network (no CNI), a busybox container (its
//! output in the CRI log file), ExecSync, UpdateContainerResources, a container's exit code in ContainerStatus, an
//! OOM-killed container reported as `OOMKilled`, stop and removal of everything, and nothing left
//! behind (lashing state, cgroups, mounts, shims). Run twice: with the lashing shim
//! (`io.containerd.lashing.v2`) and with containerd's runc v2 shim running the lashing CLI
//! (`BinaryName`). Skipped with a message when containerd is not installed (CI installs it).

mod support;

use lashing_cri_test::v1;
use support::{BUSYBOX, Containerd, Shim};

#[test]
fn cri_pod_lifecycle_with_the_lashing_shim() {
    if let Some(c) = Containerd::start("shim", Shim::Lashing) {
        pod_lifecycle(&c);
    }
}

#[test]
fn cri_pod_lifecycle_with_runc_v2_running_lashing() {
    if let Some(c) = Containerd::start("runc", Shim::RuncV2) {
        pod_lifecycle(&c);
    }
}

/// Item 7 of issue 12: the CRI plugin with `SystemdCgroup = true` and lashing as runc v2's
/// binary, the pod in the slice `lashing-cri.slice`, against systemd as PID 1 (the systemd guest).
#[test]
#[ignore = "needs systemd as PID 1: run in the systemd guest (scripts/test-guest-systemd)"]
fn cri_pod_lifecycle_with_runc_v2_running_lashing_systemd() {
    if !lashing_cgroups::systemd::is_running_systemd() {
        lashing_testsupport::missing("systemd as PID 1 (tools/vm-run --systemd)");
        return;
    }
    if let Some(c) = Containerd::start("sd", Shim::RuncV2Systemd) {
        pod_lifecycle(&c);
    }
}

fn pod_lifecycle(c: &Containerd) {
    let rt = || c.cri.runtime.clone();
    let logs = c.dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let pod_config = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: "pod".into(),
            uid: "uid-1".into(),
            namespace: "lashing-test".into(),
            attempt: 0,
        }),
        // No hostname: with the host's network the pod has no UTS namespace of its own, and a
        // hostname would be refused (by runc as by lashing).
        log_directory: logs.to_str().unwrap().into(),
        linux: Some(v1::LinuxPodSandboxConfig {
            cgroup_parent: c.cgroup_parent.clone(),
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(v1::NamespaceOption {
                    network: v1::NamespaceMode::Node as i32,
                    pid: v1::NamespaceMode::Pod as i32,
                    ipc: v1::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = c
        .cri
        .call(
            "RunPodSandbox",
            rt().run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(pod_config.clone()),
                runtime_handler: String::new(),
            }),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", c.log()))
        .pod_sandbox_id;
    let status = c
        .cri
        .call(
            "PodSandboxStatus",
            rt().pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: pod.clone(),
                verbose: false,
            }),
        )
        .unwrap()
        .status
        .unwrap();
    assert_eq!(status.state, v1::PodSandboxState::SandboxReady as i32);
    assert!(c.left().contains(&pod), "{:?}", c.left());
    // The pod's cgroup is under our cgroup parent (`<parent>/<sandbox id>` with cgroupfs), or
    // its unit in our slice.
    let cgroups = c.cgroups_left();
    if c.shim == Shim::RuncV2Systemd {
        let unit = format!("cri-containerd-{pod}.scope");
        assert!(cgroups.iter().any(|p| p.ends_with(&unit)), "{cgroups:?}");
        let p = lashing_testsupport::systemd::show(&unit, &["Slice", "ActiveState"]);
        assert_eq!(p["Slice"], support::SLICE, "{p:?}");
        assert_eq!(p["ActiveState"], "active", "{p:?}");
    } else {
        assert!(cgroups.iter().any(|p| p.ends_with(&pod)), "{cgroups:?}");
    }

    let create = |name: &str, cmd: &str, memory: i64| -> String {
        let config = v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: BUSYBOX.into(),
                ..Default::default()
            }),
            command: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
            log_path: format!("{name}.log"),
            linux: Some(v1::LinuxContainerConfig {
                resources: (memory > 0).then(|| v1::LinuxContainerResources {
                    memory_limit_in_bytes: memory,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = c
            .cri
            .call(
                "CreateContainer",
                rt().create_container(v1::CreateContainerRequest {
                    pod_sandbox_id: pod.clone(),
                    config: Some(config),
                    sandbox_config: Some(pod_config.clone()),
                }),
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", c.log()))
            .container_id;
        c.cri
            .call(
                "StartContainer",
                rt().start_container(v1::StartContainerRequest {
                    container_id: id.clone(),
                }),
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", c.log()));
        id
    };
    let state = |id: &str| -> v1::ContainerStatus {
        c.cri
            .call(
                "ContainerStatus",
                rt().container_status(v1::ContainerStatusRequest {
                    container_id: id.into(),
                    verbose: false,
                }),
            )
            .unwrap()
            .status
            .unwrap()
    };
    let exited = |id: &str| -> v1::ContainerStatus {
        let start = std::time::Instant::now();
        while state(id).state != v1::ContainerState::ContainerExited as i32 {
            if start.elapsed() > lashing_testsupport::WAIT {
                let unit = format!("cri-containerd-{id}.scope");
                let props = if c.shim == Shim::RuncV2Systemd {
                    format!(
                        "{:?}",
                        lashing_testsupport::systemd::show(
                            &unit,
                            &["ActiveState", "MemoryMax", "MemoryLimit", "MemorySwapMax"]
                        )
                    )
                } else {
                    String::new()
                };
                panic!("{id} did not exit: {:?} {props}\n{}", state(id), c.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        state(id)
    };

    // A long-running container: its output in the CRI log, an ExecSync in it.
    let main = create(
        "main",
        "echo out-line; echo err-line >&2; exec sleep 1000",
        0,
    );
    assert_eq!(
        state(&main).state,
        v1::ContainerState::ContainerRunning as i32
    );
    let log = logs.join("main.log");
    lashing_testsupport::wait_for("the container's log", lashing_testsupport::WAIT, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains(" stdout F out-line") && text.contains(" stderr F err-line")
    });
    let exec = c
        .cri
        .call(
            "ExecSync",
            rt().exec_sync(v1::ExecSyncRequest {
                container_id: main.clone(),
                cmd: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "echo from-exec; echo exec-err >&2; exit 5".into(),
                ],
                timeout: 0,
            }),
        )
        .unwrap();
    assert_eq!(exec.exit_code, 5);
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "from-exec\n");
    assert_eq!(String::from_utf8_lossy(&exec.stderr), "exec-err\n");

    // UpdateContainerResources (kubelet's in-place resize; runc v2 runs `update --resources -`):
    // the new memory limit reaches the container's cgroup.
    c.cri
        .call(
            "UpdateContainerResources",
            rt().update_container_resources(v1::UpdateContainerResourcesRequest {
                container_id: main.clone(),
                linux: Some(v1::LinuxContainerResources {
                    memory_limit_in_bytes: 96 << 20,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", c.log()));
    let verbose = c
        .cri
        .call(
            "ContainerStatus",
            rt().container_status(v1::ContainerStatusRequest {
                container_id: main.clone(),
                verbose: true,
            }),
        )
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&verbose.info["info"]).unwrap();
    let pid = info["pid"]
        .as_i64()
        .expect("the verbose status names the pid");
    assert_eq!(memory_limit(pid), (96u64 << 20).to_string(), "{info}");

    // A container that exits by itself: its exit code and reason.
    let done = create("done", "echo bye; exit 3", 0);
    let s = exited(&done);
    assert_eq!((s.exit_code, s.reason.as_str()), (3, "Error"), "{s:?}");

    // Over its memory limit: OOM-killed, reported so.
    let oom = create("oom", "head -c 67108864 /dev/zero | tail", 32 << 20);
    let s = exited(&oom);
    assert_eq!(s.reason, "OOMKilled", "{s:?}");
    assert_ne!(s.exit_code, 0, "{s:?}");

    // Stop (SIGTERM ends the sleep: 143) and remove the containers.
    c.cri
        .call(
            "StopContainer",
            rt().stop_container(v1::StopContainerRequest {
                container_id: main.clone(),
                timeout: 10,
            }),
        )
        .unwrap();
    let s = state(&main);
    assert_eq!(s.state, v1::ContainerState::ContainerExited as i32, "{s:?}");
    assert_eq!(s.exit_code, 143, "{s:?}");
    for id in [&main, &done, &oom] {
        c.cri
            .call(
                "RemoveContainer",
                rt().remove_container(v1::RemoveContainerRequest {
                    container_id: id.clone(),
                }),
            )
            .unwrap();
        assert!(!c.left().contains(id), "{id}: {:?}", c.left());
    }
    let listed = c
        .cri
        .call(
            "ListContainers",
            rt().list_containers(v1::ListContainersRequest::default()),
        )
        .unwrap();
    assert!(listed.containers.is_empty(), "{:?}", listed.containers);

    c.cri
        .call(
            "StopPodSandbox",
            rt().stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: pod.clone(),
            }),
        )
        .unwrap();
    c.cri
        .call(
            "RemovePodSandbox",
            rt().remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: pod.clone(),
            }),
        )
        .unwrap();

    // Nothing left: lashing state, cgroups, mounts, shims.
    assert!(c.left().is_empty(), "{:?}", c.left());
    assert!(c.cgroups_left().is_empty(), "{:?}", c.cgroups_left());
    assert!(c.mounts_left().is_empty(), "{:?}", c.mounts_left());
    lashing_testsupport::wait_for("the shims to exit", lashing_testsupport::WAIT, || {
        c.shims().is_empty()
    });
}

/// The memory limit of process `pid`'s cgroup, read from the host: `memory.max` (v2) or
/// `memory.limit_in_bytes` (the v1 memory hierarchy).
fn memory_limit(pid: i64) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        ctl.split(',')
            .any(|c| c == "memory")
            .then(|| path.to_string())
    });
    let file = match v1 {
        Some(path) => format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"),
        None => {
            let path = text.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
            format!("/sys/fs/cgroup{path}/memory.max")
        }
    };
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .trim()
        .to_string()
}
