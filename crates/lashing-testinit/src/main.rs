//! `lashing-testinit`: a small static helper run inside test containers (like crun's `tests/init`).
//!
//! `main` dispatches on `argv[1]`; see [`USAGE`]. Probes print their result on stdout and exit 0;
//! an operation that fails prints `testinit: CMD: ERROR` on stderr and exits 1; a usage error
//! exits 2. Errno values are printed as `NAME NUMBER` (e.g. `EACCES 13`).

mod sys;

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The command list, printed on a usage error.
const USAGE: &str = "\
usage: init COMMAND [ARGS...]
  true | false | exit N          exit 0, 1 or N
  echo ARGS...                   print ARGS joined by spaces
  cat [FILE|-]                   print FILE (or stdin)
  ls DIR                         names in DIR, sorted, one per line
  write FILE TEXT                create/truncate FILE with TEXT
  write-fd FD TEXT               write TEXT and a newline to fd FD
  mkdir DIR                      create DIR (mode 0777 & ~umask)
  stat PATH                      lstat: MODE TYPE UID GID [MAJOR:MINOR for devices]
  pause                          wait for SIGTERM/SIGINT, then exit 0
  sleep SECS                     sleep (fractions allowed)
  lock-count LOCK FILE           flock LOCK (created), then append 1, 2, ... to FILE, 10 a second, forever
  id                             uid=N gid=N groups=A,B
  cwd | env | umask              working dir | environment | umask (octal)
  rlimit NAME                    SOFT HARD (NAME like nofile or RLIMIT_NOFILE)
  hostname | domainname          from uname(2)
  pid | ppid                     getpid() | getppid()
  ns TYPE                        readlink /proc/self/ns/TYPE
  caps                           the Cap* lines of /proc/self/status
  status FIELD                   the FIELD: line of /proc/self/status
  mountinfo | cgroup             /proc/self/mountinfo | /proc/self/cgroup
  fds                            open fds: FD TARGET, one per line
  isatty FD                      true or false
  open PATH r|w|rw               ok, or the errno
  mknod PATH c|b|p MAJOR MINOR   ok, or the errno (mode 0666 & ~umask)
  fork-bomb N                    tries N forks; prints how many succeeded
  alloc MB                       allocate and touch MB MiB, then print ok
  kill-self SIG                  kill(getpid(), SIG); exits 1 if still alive
  exec PROG ARGS...              execv PROG (no PATH search)
  forever-child                  fork a child that closes stdio and sleeps forever,\n                                 print its pid, exit 0";

/// How a command ends.
enum Outcome {
    /// Exit with this status.
    Exit(u8),
    /// A usage error (exit 2).
    Usage(String),
}

type CmdResult = Result<Outcome, io::Error>;

fn ok() -> CmdResult {
    Ok(Outcome::Exit(0))
}

fn usage(msg: impl Into<String>) -> CmdResult {
    Ok(Outcome::Usage(msg.into()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let result = run(cmd, &rest);
    let _ = io::stdout().flush();
    match result {
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Ok(Outcome::Usage(msg)) => {
            eprintln!("testinit: {cmd}: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("testinit: {cmd}: {e}");
            ExitCode::from(1)
        }
    }
}

fn out(s: impl AsRef<[u8]>) -> io::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(s.as_ref())?;
    o.flush()
}

fn line(s: impl std::fmt::Display) -> io::Result<()> {
    out(format!("{s}\n"))
}

fn run(cmd: &str, a: &[&str]) -> CmdResult {
    match (cmd, a) {
        ("true", _) => ok(),
        ("false", _) => Ok(Outcome::Exit(1)),
        ("exit", [n]) => match n.parse::<u8>() {
            Ok(n) => Ok(Outcome::Exit(n)),
            Err(_) => usage(format!("not an exit code: {n}")),
        },
        ("echo", words) => line(words.join(" ")).and_then(|_| ok()),
        ("cat", [] | ["-"]) => {
            let mut buf = Vec::new();
            io::stdin().read_to_end(&mut buf)?;
            out(buf).and_then(|_| ok())
        }
        ("cat", [file]) => out(fs::read(file)?).and_then(|_| ok()),
        ("ls", [dir]) => {
            let mut names: Vec<String> = fs::read_dir(dir)?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()?;
            names.sort();
            out(names.iter().map(|n| format!("{n}\n")).collect::<String>())?;
            ok()
        }
        ("write", [file, text]) => fs::write(file, text).and_then(|_| ok()),
        ("write-fd", [fd, text]) => {
            let fd: i32 = match fd.parse() {
                Ok(fd) => fd,
                Err(_) => return usage(format!("not an fd: {fd}")),
            };
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(format!("/proc/self/fd/{fd}"))?;
            f.write_all(format!("{text}\n").as_bytes())?;
            ok()
        }
        ("mkdir", [dir]) => fs::create_dir(dir).and_then(|_| ok()),
        ("stat", [path]) => cmd_stat(path),
        ("pause", []) => {
            let sig = sys::wait_for_term()?;
            Ok(Outcome::Exit(if sig == libc::SIGTERM {
                0
            } else {
                128 + sig as u8
            }))
        }
        ("lock-count", [lock, file]) => {
            let l = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(lock)?;
            l.lock()?;
            // Appended, never rewritten: a reader never finds it empty or half-written. Opened
            // for each line: no fd on FILE for a checkpoint to carry.
            for i in 1u64.. {
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)?
                    .write_all(format!("{i}\n").as_bytes())?;
                std::thread::sleep(Duration::from_millis(100));
            }
            ok()
        }
        ("sleep", [secs]) => match secs.parse::<f64>() {
            Ok(s) if s >= 0.0 && s.is_finite() => {
                std::thread::sleep(Duration::from_secs_f64(s));
                ok()
            }
            _ => usage(format!("not a number of seconds: {secs}")),
        },
        ("id", []) => {
            let groups: Vec<String> = sys::getgroups()?.iter().map(u32::to_string).collect();
            line(format!(
                "uid={} gid={} groups={}",
                sys::getuid(),
                sys::getgid(),
                groups.join(",")
            ))?;
            ok()
        }
        ("cwd", []) => line(std::env::current_dir()?.display()).and_then(|_| ok()),
        ("env", []) => {
            let mut s = Vec::new();
            for (k, v) in std::env::vars_os() {
                use std::os::unix::ffi::OsStrExt;
                s.extend_from_slice(k.as_bytes());
                s.push(b'=');
                s.extend_from_slice(v.as_bytes());
                s.push(b'\n');
            }
            out(s).and_then(|_| ok())
        }
        ("umask", []) => line(format!("{:04o}", sys::umask())).and_then(|_| ok()),
        ("rlimit", [name]) => {
            let Some(res) = rlimit_resource(name) else {
                return usage(format!("unknown rlimit: {name}"));
            };
            let (soft, hard) = sys::getrlimit(res)?;
            let f = |v: Option<u64>| v.map_or("unlimited".to_string(), |v| v.to_string());
            line(format!("{} {}", f(soft), f(hard))).and_then(|_| ok())
        }
        ("hostname", []) => line(sys::uname()?.0).and_then(|_| ok()),
        ("domainname", []) => line(sys::uname()?.1).and_then(|_| ok()),
        ("pid", []) => line(std::process::id()).and_then(|_| ok()),
        ("ppid", []) => line(sys::getppid()).and_then(|_| ok()),
        ("ns", [ty]) => {
            line(fs::read_link(format!("/proc/self/ns/{ty}"))?.display()).and_then(|_| ok())
        }
        ("caps", []) => {
            let status = fs::read_to_string("/proc/self/status")?;
            let caps: String = status
                .lines()
                .filter(|l| l.starts_with("Cap"))
                .map(|l| format!("{l}\n"))
                .collect();
            out(caps).and_then(|_| ok())
        }
        ("status", [field]) => {
            let status = fs::read_to_string("/proc/self/status")?;
            let prefix = format!("{field}:");
            match status.lines().find(|l| l.starts_with(&prefix)) {
                Some(l) => line(l).and_then(|_| ok()),
                None => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no field {field} in /proc/self/status"),
                )),
            }
        }
        ("mountinfo", []) => out(fs::read("/proc/self/mountinfo")?).and_then(|_| ok()),
        ("cgroup", []) => out(fs::read("/proc/self/cgroup")?).and_then(|_| ok()),
        ("fds", []) => cmd_fds(),
        ("isatty", [fd]) => match fd.parse::<i32>() {
            Ok(fd) => line(sys::isatty(fd)).and_then(|_| ok()),
            Err(_) => usage(format!("not an fd: {fd}")),
        },
        ("open", [path, mode]) => {
            let mut o = fs::OpenOptions::new();
            match *mode {
                "r" => o.read(true),
                "w" => o.write(true),
                "rw" => o.read(true).write(true),
                _ => return usage(format!("mode must be r, w or rw, not {mode}")),
            };
            match o.open(path) {
                Ok(_) => line("ok")?,
                Err(e) => line(errno_str(&e))?,
            }
            ok()
        }
        ("mknod", [path, ty, major, minor]) => {
            let kind = match *ty {
                "c" => libc::S_IFCHR,
                "b" => libc::S_IFBLK,
                "p" => libc::S_IFIFO,
                _ => return usage(format!("type must be c, b or p, not {ty}")),
            };
            let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
                return usage("MAJOR and MINOR must be numbers");
            };
            match sys::mknod(Path::new(path), kind | 0o666, sys::makedev(major, minor)) {
                Ok(()) => line("ok")?,
                Err(e) => line(errno_str(&e))?,
            }
            ok()
        }
        ("fork-bomb", [n]) => {
            let Ok(n) = n.parse::<u32>() else {
                return usage(format!("not a count: {n}"));
            };
            let mut children = Vec::new();
            let mut first_err = None;
            for _ in 0..n {
                match sys::fork_sleeper(sys::ChildKind::SleepTiedToParent) {
                    Ok(pid) => children.push(pid),
                    Err(e) => {
                        first_err = Some(e);
                        break;
                    }
                }
            }
            line(children.len())?;
            if let Some(e) = first_err {
                eprintln!(
                    "testinit: fork-bomb: fork {} failed: {}",
                    children.len() + 1,
                    errno_str(&e)
                );
            }
            for &pid in &children {
                let _ = sys::kill(pid, libc::SIGKILL);
            }
            for &pid in &children {
                let _ = sys::waitpid(pid);
            }
            ok()
        }
        ("alloc", [mb]) => {
            let Ok(mb) = mb.parse::<usize>() else {
                return usage(format!("not a size in MiB: {mb}"));
            };
            let mut v: Vec<u8> = Vec::with_capacity(mb << 20);
            // Touch every page so the memory is really charged.
            v.resize(mb << 20, 1);
            for i in (0..v.len()).step_by(4096) {
                v[i] = (i & 0xff) as u8;
            }
            line("ok")?;
            std::hint::black_box(&v);
            ok()
        }
        ("kill-self", [sig]) => {
            let Some(sig) = signal_number(sig) else {
                return usage(format!("unknown signal: {sig}"));
            };
            sys::kill(std::process::id() as i32, sig)?;
            std::thread::sleep(Duration::from_millis(100));
            line("still alive")?;
            Ok(Outcome::Exit(1))
        }
        ("exec", [prog, args @ ..]) => {
            let err = std::process::Command::new(prog).args(args).exec();
            eprintln!("testinit: exec {prog}: {}", errno_str(&err));
            Ok(Outcome::Exit(127))
        }
        ("forever-child", []) => {
            let pid = sys::fork_sleeper(sys::ChildKind::SleepDetached)?;
            line(pid).and_then(|_| ok())
        }
        _ => usage("unknown command or wrong arguments"),
    }
}

fn cmd_stat(path: &str) -> CmdResult {
    let md = fs::symlink_metadata(path)?;
    let ft = md.file_type();
    let ty = if ft.is_file() {
        "file"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "unknown"
    };
    let mut s = format!("{:04o} {ty} {} {}", md.mode() & 0o7777, md.uid(), md.gid());
    if ft.is_char_device() || ft.is_block_device() {
        let rdev = md.rdev();
        s.push_str(&format!(" {}:{}", libc::major(rdev), libc::minor(rdev)));
    }
    line(s).and_then(|_| ok())
}

fn cmd_fds() -> CmdResult {
    // Collect the names first and close the directory, so its own fd drops out of the list.
    let mut fds: Vec<i32> = fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    let mut s = String::new();
    for fd in fds {
        if let Ok(target) = fs::read_link(format!("/proc/self/fd/{fd}")) {
            s.push_str(&format!("{fd} {}\n", target.display()));
        }
    }
    out(s).and_then(|_| ok())
}

/// `NAME NUMBER` for an OS error (e.g. `EACCES 13`), or the error's text.
fn errno_str(e: &io::Error) -> String {
    const NAMES: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::ENXIO, "ENXIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::ENOEXEC, "ENOEXEC"),
        (libc::EBADF, "EBADF"),
        (libc::ECHILD, "ECHILD"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::EXDEV, "EXDEV"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENFILE, "ENFILE"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::ETXTBSY, "ETXTBSY"),
        (libc::EFBIG, "EFBIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ESPIPE, "ESPIPE"),
        (libc::EROFS, "EROFS"),
        (libc::EMLINK, "EMLINK"),
        (libc::EPIPE, "EPIPE"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ELOOP, "ELOOP"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    ];
    match e.raw_os_error() {
        Some(n) => {
            let name = NAMES.iter().find(|(v, _)| *v == n).map_or("E?", |(_, s)| s);
            format!("{name} {n}")
        }
        None => e.to_string(),
    }
}

/// The `RLIMIT_*` number for `nofile`, `NOFILE` or `RLIMIT_NOFILE`.
fn rlimit_resource(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let short = upper.strip_prefix("RLIMIT_").unwrap_or(&upper);
    let r = match short {
        "AS" => libc::RLIMIT_AS,
        "CORE" => libc::RLIMIT_CORE,
        "CPU" => libc::RLIMIT_CPU,
        "DATA" => libc::RLIMIT_DATA,
        "FSIZE" => libc::RLIMIT_FSIZE,
        "LOCKS" => libc::RLIMIT_LOCKS,
        "MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "NICE" => libc::RLIMIT_NICE,
        "NOFILE" => libc::RLIMIT_NOFILE,
        "NPROC" => libc::RLIMIT_NPROC,
        "RSS" => libc::RLIMIT_RSS,
        "RTPRIO" => libc::RLIMIT_RTPRIO,
        "RTTIME" => libc::RLIMIT_RTTIME,
        "SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "STACK" => libc::RLIMIT_STACK,
        _ => return None,
    };
    Some(r as i32)
}

/// A signal number from `9`, `KILL` or `SIGKILL`.
fn signal_number(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Some(n);
    }
    let upper = s.to_ascii_uppercase();
    let short = upper.strip_prefix("SIG").unwrap_or(&upper);
    Some(match short {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ABRT" => libc::SIGABRT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        assert_eq!(
            errno_str(&io::Error::from_raw_os_error(libc::EACCES)),
            "EACCES 13"
        );
        assert_eq!(errno_str(&io::Error::from_raw_os_error(4095)), "E? 4095");
    }

    #[test]
    fn rlimit_names() {
        assert_eq!(rlimit_resource("nofile"), Some(libc::RLIMIT_NOFILE as i32));
        assert_eq!(
            rlimit_resource("RLIMIT_NPROC"),
            Some(libc::RLIMIT_NPROC as i32)
        );
        assert_eq!(rlimit_resource("bogus"), None);
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("SIGTERM"), Some(libc::SIGTERM));
        assert_eq!(signal_number("usr1"), Some(libc::SIGUSR1));
        assert_eq!(signal_number("NOPE"), None);
    }
}
