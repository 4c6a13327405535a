//! Terminals: `process.terminal` in the foreground (relay), with `--console-socket`, for `exec -t`,
//! and the errors around them. Real busybox containers (root and /bin/busybox).

mod support;

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;

use support::{accept_fd, listener, log_msg, read_until, sandbox};

/// A pty of the test's own (master, peer), to stand for the user's terminal.
fn host_pty() -> Option<(OwnedFd, OwnedFd)> {
    use rustix::pty::OpenptFlags;
    let m =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).ok()?;
    rustix::pty::unlockpt(&m).ok()?;
    let p = rustix::pty::ioctl_tiocgptpeer(&m, OpenptFlags::RDWR | OpenptFlags::NOCTTY).ok()?;
    Some((m, p))
}

fn winsize(rows: u16, cols: u16) -> rustix::termios::Winsize {
    rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

#[test]
fn run_in_the_foreground_gets_a_terminal_inside_the_container() {
    let sb = sandbox(&[
        "sh",
        "-c",
        "tty; readlink /proc/self/fd/1; stat -c 'owner %u:%g' $(tty); \
         stat -c 'console %t:%T' /dev/console; stty size",
    ]);
    sb.edit(|v| {
        v["process"]["terminal"] = true.into();
        v["process"]["consoleSize"] = serde_json::json!({"height": 40, "width": 120});
        v["process"]["user"]["uid"] = 1000.into();
    });
    let o = sb.run(&["run", "t1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{:?}", o.stdout);
    assert!(lines[0].starts_with("/dev/pts/"), "{lines:?}");
    assert_eq!(lines[1], lines[0], "stdout is the terminal");
    assert_eq!(
        lines[2], "owner 1000:5",
        "the terminal belongs to the process's uid, group tty (as runc)"
    );
    assert_eq!(
        lines[3], "console 88:0",
        "/dev/console is the pty (136 = 0x88)"
    );
    assert_eq!(lines[4], "40 120", "consoleSize");
    assert!(
        !o.stdout.contains('\r'),
        "ONLCR is cleared (as runc): the output is the process's, byte for byte: {:?}",
        o.stdout
    );
    assert!(sb.left().is_empty());
}

#[test]
fn foreground_terminal_relays_stdin() {
    let sb = sandbox(&["sh", "-c", "read x; echo got:$x; exit 3"]);
    sb.edit(|v| v["process"]["terminal"] = true.into());
    let mut child = sb
        .command(&["run", "t1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("got:abc"), "{text:?}");
    assert_eq!(out.status.code(), Some(3), "the exit code goes through");
}

#[test]
fn host_terminal_is_raw_resized_on_sigwinch_and_restored() {
    // After the first line the container waits until its terminal has the new size (relayed on
    // SIGWINCH, whenever the loaded machine gets to it) and prints it.
    let script = "stty size; read x; until [ \"$(stty size)\" = '30 90' ]; do sleep 0.05; done; \
                  stty size; read y";
    let sb = sandbox(&["sh", "-c", script]);
    let Some((master, peer)) = host_pty() else {
        lashing_testsupport::missing("no pty (devpts) on this host");
        return;
    };
    sb.edit(|v| v["process"]["terminal"] = true.into());
    rustix::termios::tcsetwinsize(&peer, winsize(20, 70)).unwrap();
    let before = rustix::termios::tcgetattr(&peer).unwrap();
    let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
    let mut child = sb
        .command(&["run", "t1"])
        .stdin(stdio(&peer))
        .stdout(stdio(&peer))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let text = read_until(master.as_fd(), "20 70", lashing_testsupport::WAIT);
    assert!(text.contains("20 70"), "the host size at start: {text:?}");
    let raw = rustix::termios::tcgetattr(&peer).unwrap();
    assert!(
        !raw.local_modes
            .contains(rustix::termios::LocalModes::ICANON),
        "the host terminal is in raw mode while attached"
    );
    rustix::termios::tcsetwinsize(&peer, winsize(30, 90)).unwrap();
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::WINCH).unwrap();
    rustix::io::write(&master, b"\r").unwrap();
    let text = read_until(master.as_fd(), "30 90", lashing_testsupport::WAIT);
    assert!(text.contains("30 90"), "resized on SIGWINCH: {text:?}");
    rustix::io::write(&master, b"\r").unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
    let after = rustix::termios::tcgetattr(&peer).unwrap();
    assert_eq!(
        after.local_modes, before.local_modes,
        "the host terminal is restored"
    );
    assert_eq!(after.input_modes, before.input_modes);
}

#[test]
fn create_with_console_socket_sends_the_master() {
    let sb = sandbox(&["sh", "-c", "echo hello; read x; echo got:$x"]);
    sb.edit(|v| {
        v["process"]["terminal"] = true.into();
        v["process"]["consoleSize"] = serde_json::json!({"height": 11, "width": 22});
    });
    let sock = sb.path("console.sock");
    let l = listener(&sock);
    let o = sb.run(&["create", "--console-socket", sock.to_str().unwrap(), "t1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (name, master) = accept_fd(&l);
    assert_eq!(name, "/dev/pts/ptmx", "runc's payload");
    let ws = rustix::termios::tcgetwinsize(&master).unwrap();
    assert_eq!((ws.ws_row, ws.ws_col), (11, 22));
    assert_eq!(sb.status("t1"), "created");
    assert_eq!(sb.run(&["start", "t1"]).code, 0);
    let text = read_until(master.as_fd(), "hello", lashing_testsupport::WAIT);
    assert!(text.contains("hello"), "{text:?}");
    rustix::io::write(&master, b"xyz\n").unwrap();
    let text = read_until(master.as_fd(), "got:xyz", lashing_testsupport::WAIT);
    assert!(text.contains("got:xyz"), "{text:?}");
    let pid = sb.pid("t1");
    sb.wait_status("t1", "stopped");
    sb.reap(pid);
    assert_eq!(sb.run(&["delete", "t1"]).code, 0);
}

#[test]
fn exec_with_a_terminal_foreground_and_console_socket() {
    let sb = sandbox(&["sleep", "30"]);
    assert_eq!(sb.run(&["run", "-d", "t1"]).code, 0);
    // Foreground: the runtime relays.
    let o = sb.run(&["exec", "-t", "t1", "sh", "-c", "tty; exit 4"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stdout.starts_with("/dev/pts/"), "{:?}", o.stdout);
    // Without -t: no terminal.
    let o = sb.run(&["exec", "t1", "tty"]);
    assert_ne!(o.code, 0);
    assert!(o.stdout.contains("not a tty"), "{:?}", o.stdout);
    // Detached with a console socket.
    let sock = sb.path("exec.sock");
    let l = listener(&sock);
    let pid_file = sb.path("exec.pid");
    let o = sb.run(&[
        "exec",
        "-d",
        "-t",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        "t1",
        "sh",
        "-c",
        "echo in-exec; tty; sleep 1",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (_, master) = accept_fd(&l);
    let text = read_until(master.as_fd(), "/dev/pts/", lashing_testsupport::WAIT);
    assert!(text.contains("in-exec"), "{text:?}");
    // The detached exec process is re-parented to us: reap it, or the container's init (pid
    // namespace) cannot finish exiting.
    let exec_pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    sb.reap_blocking(exec_pid);
    let pid = sb.pid("t1");
    assert_eq!(sb.run(&["kill", "t1", "KILL"]).code, 0);
    sb.wait_status("t1", "stopped");
    sb.reap(pid);
}

#[test]
fn terminal_errors_are_clear_and_leave_nothing_behind() {
    let sb = sandbox(&["true"]);
    sb.edit(|v| v["process"]["terminal"] = true.into());
    let o = sb.run(&["create", "t1"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        log_msg(&o.stderr),
        "cannot allocate tty if lashing will detach without setting console socket"
    );
    let file = sb.path("not-a-socket");
    std::fs::write(&file, "").unwrap();
    let o = sb.run(&["create", "--console-socket", file.to_str().unwrap(), "t1"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        log_msg(&o.stderr),
        format!("console socket {}: not a unix socket", file.display())
    );
    let o = sb.run(&[
        "run",
        "-d",
        "--console-socket",
        sb.path("missing").to_str().unwrap(),
        "t1",
    ]);
    assert_eq!(o.code, 1);
    assert!(
        log_msg(&o.stderr).starts_with("console socket ")
            && o.stderr.contains("no such file or directory"),
        "{}",
        o.stderr
    );
    // A socket nobody listens on any more.
    let stale = sb.path("stale.sock");
    drop(listener(&stale));
    let o = sb.run(&["create", "--console-socket", stale.to_str().unwrap(), "t1"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("connection refused"), "{}", o.stderr);
    // No /dev/pts in the container: init reports it and nothing is left.
    sb.edit(|v| {
        let mounts = v["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/dev/pts");
    });
    let o = sb.run(&["run", "t1"]);
    assert_eq!(o.code, 1);
    assert!(
        log_msg(&o.stderr).contains("/dev/pts/ptmx"),
        "names the path: {}",
        o.stderr
    );
    sb.edit(|v| v["process"]["terminal"] = false.into());
    let l = listener(&sb.path("c.sock"));
    let o = sb.run(&[
        "create",
        "--console-socket",
        sb.path("c.sock").to_str().unwrap(),
        "t1",
    ]);
    assert_eq!(o.code, 1);
    assert_eq!(
        log_msg(&o.stderr),
        "cannot use console socket if lashing will not detach or allocate tty"
    );
    drop(l);
    assert!(sb.left().is_empty(), "left: {:?}", sb.left());
    assert!(!sb.cgroup_exists(), "cgroup left behind");
}
