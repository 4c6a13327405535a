//! `--pidfd-socket`, `NOTIFY_SOCKET`, `LISTEN_FDS` and the foreground `run` behaviours (exit codes,
//! signals, `--no-subreaper`). Real busybox containers (root and /bin/busybox).

mod support;

use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{BIN, accept_fd, listener, log_msg, sandbox, wait_for_file};

/// Whether a pidfd refers to a process that has exited (readable pidfd).
fn pidfd_exited(fd: std::os::fd::BorrowedFd<'_>, wait: Duration) -> bool {
    let mut p = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let ts = rustix::event::Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    matches!(rustix::event::poll(&mut p, Some(&ts)), Ok(n) if n > 0)
}

#[test]
fn pidfd_socket_for_create_and_exec() {
    let sb = sandbox(&["sleep", "30"]);
    let sock = sb.path("pidfd.sock");
    let l = listener(&sock);
    let o = sb.run(&["create", "--pidfd-socket", sock.to_str().unwrap(), "p1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (name, pidfd) = accept_fd(&l);
    assert_eq!(name, "standard", "runc's payload for an init");
    // The pidfd is the container's init: killing through it stops the container.
    assert!(!pidfd_exited(pidfd.as_fd(), Duration::ZERO));
    let init = sb.pid("p1");
    let fdinfo = std::fs::read_to_string(format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(&pidfd)
    ))
    .unwrap();
    assert!(
        fdinfo.contains(&format!("Pid:\t{init}\n")),
        "pidfd of the init {init}: {fdinfo}"
    );
    assert_eq!(sb.run(&["start", "p1"]).code, 0);

    let o = sb.run(&[
        "exec",
        "-d",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "p1",
        "sleep",
        "30",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (name, exec_fd) = accept_fd(&l);
    assert_eq!(name, "setns", "runc's payload for an exec");
    rustix::process::pidfd_send_signal(&exec_fd, rustix::process::Signal::KILL).unwrap();
    assert!(
        pidfd_exited(exec_fd.as_fd(), lashing_testsupport::WAIT),
        "the exec'd process was killed through its pidfd"
    );
    // It was re-parented to us: reap it by pid.
    let info = std::fs::read_to_string(format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(&exec_fd)
    ))
    .unwrap();
    if let Some(p) = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:\t"))
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|p| *p > 0)
    {
        sb.reap(p);
    }
    assert_eq!(sb.status("p1"), "running", "only the exec'd process died");
    rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL).unwrap();
    assert!(pidfd_exited(pidfd.as_fd(), lashing_testsupport::WAIT));
    sb.wait_status("p1", "stopped");
    sb.reap(init);

    // Not a socket: a clear error, nothing left.
    let o = sb.run(&[
        "run",
        "-d",
        "--pidfd-socket",
        sb.bundle().to_str().unwrap(),
        "p2",
    ]);
    assert_eq!(o.code, 1);
    assert_eq!(
        log_msg(&o.stderr),
        format!("pidfd socket {}: not a unix socket", sb.bundle().display())
    );
    assert_eq!(sb.status("p2"), "");
}

/// Reads datagrams from the host's notify socket until `want` (or [`lashing_testsupport::WAIT`]).
fn recv_until(host: &UnixDatagram, want: usize) -> Vec<String> {
    host.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.len() < want && start.elapsed() < lashing_testsupport::WAIT {
        if let Ok(n) = host.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got
}

#[test]
fn notify_socket_is_relayed_by_start_with_the_init_pid() {
    // The container sends with the host's python3 (bind-mounted /usr): busybox has no unix
    // datagram client.
    if !std::path::Path::new("/usr/bin/python3").is_file() {
        lashing_testsupport::missing(
            "/usr/bin/python3 is not installed (Debian package `python3`)",
        );
        return;
    }
    let sb = sandbox(&[
        "sh",
        "-c",
        "test -S $NOTIFY_SOCKET || exit 9; sleep 0.2; /usr/bin/python3 -c \
         'import os, socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); \
         s.sendto(b\"STATUS=up\", os.environ[\"NOTIFY_SOCKET\"]); \
         s.sendto(b\"STATUS=x\\nREADY=1\", os.environ[\"NOTIFY_SOCKET\"])'; sleep 30",
    ]);
    let rootfs = sb.rootfs();
    for l in ["lib", "lib64"] {
        if let Ok(t) = std::fs::read_link(format!("/{l}")) {
            std::os::unix::fs::symlink(t, rootfs.join(l)).unwrap();
        }
    }
    sb.edit(|v| {
        v["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/usr", "type": "bind", "source": "/usr",
            "options": ["rbind", "ro", "nosuid", "nodev"]
        }))
    });
    let host_path = sb.path("host.sock");
    let host = UnixDatagram::bind(&host_path).unwrap();
    let env = [("NOTIFY_SOCKET", host_path.to_str().unwrap())];
    let o = sb.run_env(&["create", "n1"], &env);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let state_dir = std::path::Path::new(&sb.root).join("n1/notify");
    assert!(
        state_dir.is_dir(),
        "the notify directory exists after create"
    );
    let init = sb.pid("n1");
    let o = sb.run_env(&["start", "n1"], &env);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let got = recv_until(&host, 3);
    assert_eq!(
        got,
        vec![
            "READY=1\n".to_string(),
            format!("MAINPID={init}\n"),
            "BARRIER=1".to_string()
        ]
    );
    assert_eq!(sb.status("n1"), "running");
    assert_eq!(sb.run(&["kill", "n1", "KILL"]).code, 0);
    sb.wait_status("n1", "stopped");
    sb.reap(init);
    assert_eq!(sb.run(&["delete", "n1"]).code, 0);
}

#[test]
fn notify_socket_run_detached_returns_after_ready_and_a_dead_container_does_not_hang() {
    let sb = sandbox(&["true"]);
    let host_path = sb.path("host.sock");
    let host = UnixDatagram::bind(&host_path).unwrap();
    let env = [("NOTIFY_SOCKET", host_path.to_str().unwrap())];
    // The container never notifies and exits: `run -d` returns (`run_env` fails a command that
    // hangs), with nothing relayed.
    let o = sb.run_env(&["run", "-d", "n2"], &env);
    assert_eq!(o.code, 0, "{}", o.stderr);
    sb.ok(&["delete", "--force", "n2"]);
    host.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    assert!(host.recv(&mut buf).is_err(), "nothing relayed");
    // The mount and the env are there.
    sb.edit(|v| {
        v["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "echo $NOTIFY_SOCKET; cat /proc/self/mountinfo | while read a b c d e f g; do \
             test $e = /run/notify && echo $f; done; true"
        ])
    });
    let o = sb.run_env(&["run", "n3"], &env);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next(), Some("/run/notify/notify.sock"));
    let opts = lines.next().unwrap_or_default();
    assert!(
        opts.split(',').any(|o| o == "ro") && opts.contains("nosuid"),
        "{opts}"
    );
}

#[test]
fn listen_fds_are_passed_as_socket_activation() {
    let sb = sandbox(&[
        "sh",
        "-c",
        "echo fds=$LISTEN_FDS pid=$LISTEN_PID; echo to-three >&3; echo to-four >&4",
    ]);
    let three = sb.path("three");
    let four = sb.path("four");
    // LISTEN_PID must be the runtime's own pid: `exec` keeps the shell's.
    let script = format!(
        "export LISTEN_PID=$$ LISTEN_FDS=1; exec {BIN} --root {} run --preserve-fds 1 -b {} l1 3>{} 4>{}",
        sb.root,
        sb.bundle().display(),
        three.display(),
        four.display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fds=1 pid=1\n");
    assert_eq!(std::fs::read_to_string(&three).unwrap(), "to-three\n");
    assert_eq!(
        std::fs::read_to_string(&four).unwrap(),
        "to-four\n",
        "--preserve-fds counts after the LISTEN_FDS"
    );
    // Another pid in LISTEN_PID: not for us, nothing passed.
    let script = format!(
        "export LISTEN_PID=1 LISTEN_FDS=1; exec {BIN} --root {} run -b {} l2 3>{}",
        sb.root,
        sb.bundle().display(),
        three.display(),
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fds= pid=\n");
}

#[test]
fn run_exit_codes_signals_and_no_subreaper() {
    let sb = sandbox(&["sh", "-c", "kill -TERM $$; sleep 5"]);
    // Killed by a signal: 128 + the signal (without a pid namespace, so that the shell is not a
    // namespace init, which ignores signals it has no handler for).
    sb.edit(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid")
    });
    let o = sb.run(&["run", "s1"]);
    assert_eq!(o.code, 128 + 15, "{}", o.stderr);
    assert!(sb.left().is_empty(), "deleted after the run");
    // --keep: the stopped container stays.
    let o = sb.run(&["run", "--keep", "s2"]);
    assert_eq!(o.code, 128 + 15);
    assert_eq!(sb.status("s2"), "stopped");
    assert_eq!(sb.run(&["delete", "s2"]).code, 0);
    // --no-subreaper: the runtime is not a subreaper, the status still comes back (init is its
    // child).
    sb.edit(|v| v["process"]["args"] = serde_json::json!(["sh", "-c", "exit 5"]));
    let o = sb.run(&["run", "--no-subreaper", "s3"]);
    assert_eq!(o.code, 5, "{}", o.stderr);
    // Forwarded: SIGUSR1 to the runtime reaches the container's process.
    sb.edit(|v| {
        v["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "trap 'echo usr1; exit 6' USR1; echo ready; while :; do sleep 0.1; done"
        ])
    });
    let out = sb.path("out");
    let mut child = sb
        .command(&["run", "s4"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    wait_for_file(&out, "ready\n");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::USR1).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(6));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ready\nusr1\n");
}
