//! What both inits share from the cwd on: the program and its environment, `Ready`, the LSM
//! labels, seccomp, the user and capability switch, and the final `execve`.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::Mode;

use crate::channel::{self, Payload, ToInit, ToParent};
use crate::config::{Config, HookKind, NamespaceType, ProcessConfig};
use crate::procfs::{ProcFs, ProcPolicy};
use crate::security;
use crate::sys::process as sysp;

use super::caps;
use super::context::Init;
use super::cwd::verify_cwd;
use super::report::{Fail, R};

impl Init {
    /// What both inits share from the cwd on. The cwd and the program are checked before `Ready`,
    /// so that errors reach the caller of `create`/`exec`; then, after `Run`: the SELinux exec
    /// label, seccomp (before the uid switch without NNP, while init still has CAP_SYS_ADMIN),
    /// user and capabilities, the cwd verified again, the umask, and seccomp with NNP (as late as
    /// possible, but while the socket is still there for a notify listener).
    pub(super) fn prepare_exec(&mut self, p: &Payload) -> R<Exec> {
        let (config, proc) = (&p.config, &p.process);
        if proc.no_new_privileges {
            rustix::thread::set_no_new_privs(true)
                .map_err(|e| Fail::io("prctl(PR_SET_NO_NEW_PRIVS)", None, e))?;
        }
        let cwd = if proc.cwd.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            proc.cwd.clone()
        };
        let cwd_err = |step, e: io::Error| Fail::io(step, Some(cwd.display().to_string()), e);
        // As runc: into the cwd before the user switch, so that a user without access to it can
        // still start there; on a permission error, again after the switch (a directory only the
        // container's user may enter).
        let chdir_after_switch = match rustix::process::chdir(&cwd) {
            Ok(()) => false,
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => true,
            Err(e) => return Err(cwd_err("chdir to cwd", e.into())),
        };
        let exec = Exec {
            program: find_program(proc)?,
            argv: c_args(proc)?,
            env: process_env(proc)?,
        };
        apply_attributes(config, proc)?;
        // Past the pivot (or the join of the container's mount namespace), the mounted /proc is
        // the container's; without a mount namespace it would be the host's.
        let policy = ProcPolicy::in_container_root(config.has_namespace(NamespaceType::Mount));
        apply_apparmor(proc, policy)?;
        crate::waterfall::mark_init("ready: cwd and program found");
        self.send(&ToParent::Ready {
            stamps: crate::waterfall::drain(),
        })?;
        self.expect(|m| matches!(m, ToInit::Run), "Run")?;
        crate::waterfall::mark_init("run received");
        apply_selinux(proc, policy)?;
        if !proc.no_new_privileges {
            self.load_seccomp(p)?;
        }
        self.switch_user(config, proc)?;
        crate::waterfall::mark_init("user and capabilities set");
        // The uid switch cleared the parent-death signal: set it again (as runc).
        if config.parent_death_signal != 0 {
            sysp::set_pdeathsig(config.parent_death_signal)
                .map_err(|e| Fail::io("prctl(PR_SET_PDEATHSIG)", None, e))?;
        }
        if chdir_after_switch {
            rustix::process::chdir(&cwd).map_err(|e| cwd_err("chdir to cwd", e.into()))?;
        }
        // CVE-2024-21626: a cwd that is (or leads to) a leaked host fd is outside the root.
        verify_cwd()?;
        rustix::process::umask(Mode::from_raw_mode(proc.user.umask.unwrap_or(0o022)));
        if proc.no_new_privileges {
            self.load_seccomp(p)?;
        }
        Ok(exec)
    }

    /// Loads the seccomp program compiled by the parent; a notify listener goes to the parent,
    /// which hands it to the agent.
    pub(super) fn load_seccomp(&self, p: &Payload) -> R<()> {
        let Some(prog) = &p.seccomp else {
            return Ok(());
        };
        let listener = crate::sys::seccomp::load(&prog.filter, prog.flags, prog.needs_listener)
            .map_err(|e| Fail::io("load seccomp filter", None, e))?;
        if let Some(fd) = listener {
            channel::send(self.sock()?, &ToParent::SeccompFd, &[fd.as_fd()])
                .map_err(|e| Fail::io("send seccomp listener", None, e))?;
            self.expect(|m| matches!(m, ToInit::SeccompDone), "SeccompDone")?;
        }
        Ok(())
    }

    pub(super) fn start_container_hooks(
        &self,
        config: &Config,
        id: &str,
        env: &[CString],
    ) -> R<()> {
        let Some(list) = config.hooks.get(&HookKind::StartContainer) else {
            return Ok(());
        };
        let state = serde_json::json!({
            "ociVersion": crate::config::OCI_VERSION, "id": id, "status": "created",
            "pid": rustix::process::getpid().as_raw_nonzero().get(), "bundle": config.bundle,
            "annotations": config.annotations,
        })
        .to_string();
        for (i, h) in list.iter().enumerate() {
            let mut h = h.clone();
            if h.env.is_empty() {
                h.env = env
                    .iter()
                    .map(|e| e.to_string_lossy().into_owned())
                    .collect();
            }
            crate::hooks::run(&h, HookKind::StartContainer, i, &state).map_err(|e| {
                Fail::msg(
                    "startContainer hook",
                    Some(h.path.display().to_string()),
                    e.to_string(),
                )
            })?;
        }
        Ok(())
    }

    pub(super) fn switch_user(&self, config: &Config, proc: &ProcessConfig) -> R<()> {
        let u = &proc.user;
        let caps = proc.capabilities.as_ref();
        if let Some(c) = caps {
            caps::drop_bounding(&c.bounding)
                .map_err(|e| Fail::io("drop bounding capabilities", None, e))?;
        }
        rustix::thread::set_keep_capabilities(true)
            .map_err(|e| Fail::io("prctl(PR_SET_KEEPCAPS)", None, e))?;
        let policy = ProcPolicy::in_container_root(config.has_namespace(NamespaceType::Mount));
        // runc: a rootless runtime never sets the supplementary groups (the process keeps the
        // mapped groups it was started with), nor does anyone where setgroups is denied.
        let setgroups_allowed = !config.rootless_euid
            && (!config.has_namespace(NamespaceType::User)
                || ProcFs::open_with(policy)
                    .and_then(|p| p.read("self/setgroups"))
                    .map(|s| s.trim() != "deny")
                    .unwrap_or(true));
        if setgroups_allowed {
            sysp::setgroups(&u.additional_gids)
                .map_err(|e| Fail::io("setgroups", Some(format!("{:?}", u.additional_gids)), e))?;
        }
        sysp::set_ids(u.uid, u.gid)
            .map_err(|e| Fail::io("set user", Some(format!("{}:{}", u.uid, u.gid)), e))?;
        rustix::thread::set_keep_capabilities(false)
            .map_err(|e| Fail::io("prctl(PR_SET_KEEPCAPS)", None, e))?;
        if let Some(c) = caps {
            caps::apply(c).map_err(|e| Fail::io("set capabilities", None, e))?;
        }
        Ok(())
    }
}

/// What `execve` gets.
pub(super) struct Exec {
    pub(super) program: CString,
    pub(super) argv: Vec<CString>,
    pub(super) env: Vec<CString>,
}

/// The default `PATH` used to look up the program when the process has no `PATH`.
pub(super) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Clears `ONLCR` on the terminal (now stdout) when asked ([`crate::Process::clear_onlcr`]):
/// before the process can write, unlike runc, which clears it from its CLI while the process
/// may already run.
pub(super) fn clear_onlcr(p: &Payload) -> R<()> {
    if !p.clear_onlcr {
        return Ok(());
    }
    let out = std::io::stdout();
    let mut t = rustix::termios::tcgetattr(&out)
        .map_err(|e| Fail::io("clear ONLCR", Some("the terminal".to_string()), e))?;
    t.output_modes.remove(rustix::termios::OutputModes::ONLCR);
    rustix::termios::tcsetattr(&out, rustix::termios::OptionalActions::Now, &t)
        .map_err(|e| Fail::io("clear ONLCR", Some("the terminal".to_string()), e))
}

/// A failed `execve` of the user program, in runc's words (`exec /x: exec format error`).
pub(super) fn exec_failed(arg0: &str, e: std::io::Error) -> Fail {
    Fail::msg(
        "exec",
        Some(arg0.to_string()),
        crate::error::go_error_text(&e),
    )
}

/// The session keyring `_ses.<id>` (unless `--no-new-keyring`).
pub(super) fn join_keyring(p: &Payload) -> R<()> {
    let config = &p.config;
    if !config.no_new_keyring {
        let user_ns = config.has_namespace(NamespaceType::User);
        security::attrs::join_session_keyring(&p.id, user_ns).map_err(|e| {
            Fail::msg(
                "join session keyring",
                Some(format!("_ses.{}", p.id)),
                crate::error::chain(&e),
            )
        })?;
    }
    // oom_score_adj is written by the parent (host root) before the payload is sent.
    Ok(())
}

/// Scheduler, I/O priority, personality and memory policy (runc's order, before `Ready`).
pub(super) fn apply_attributes(config: &Config, proc: &ProcessConfig) -> R<()> {
    use security::attrs;
    let fail =
        |step: &'static str, e: attrs::AttrError| Fail::msg(step, None, crate::error::chain(&e));
    if let Some(s) = &proc.scheduler {
        attrs::set_scheduler(s).map_err(|e| fail("set scheduler", e))?;
    }
    if let Some(p) = &proc.io_priority {
        attrs::set_io_priority(p).map_err(|e| fail("set I/O priority", e))?;
    }
    if let Some(p) = &config.personality {
        attrs::set_personality(p).map_err(|e| fail("set personality", e))?;
    }
    if let Some(m) = &config.memory_policy {
        attrs::set_memory_policy(m).map_err(|e| fail("set memory policy", e))?;
    }
    Ok(())
}

pub(super) fn apply_apparmor(proc: &ProcessConfig, policy: ProcPolicy) -> R<()> {
    match proc.apparmor_profile.as_deref().filter(|p| !p.is_empty()) {
        Some(profile) => security::lsm::apply_apparmor(profile, policy).map_err(|e| {
            Fail::msg(
                "apply AppArmor profile",
                Some(profile.to_string()),
                crate::error::chain(&e),
            )
        }),
        None => Ok(()),
    }
}

pub(super) fn apply_selinux(proc: &ProcessConfig, policy: ProcPolicy) -> R<()> {
    match proc.selinux_label.as_deref().filter(|l| !l.is_empty()) {
        Some(label) => security::lsm::apply_selinux_exec_label(label, policy).map_err(|e| {
            Fail::msg(
                "apply SELinux label",
                Some(label.to_string()),
                crate::error::chain(&e),
            )
        }),
        None => Ok(()),
    }
}

/// argv as C strings.
pub(super) fn c_args(p: &ProcessConfig) -> R<Vec<CString>> {
    p.args
        .iter()
        .map(|a| {
            CString::new(a.as_bytes())
                .map_err(|_| Fail::msg("exec", Some(a.clone()), "argument contains NUL"))
        })
        .collect()
}

/// The environment of the process, checked for NULs, duplicates dropped (the last one counts),
/// and, as runc, `HOME` set from the container's `/etc/passwd` (or `/` for a user it does not
/// list) when it is missing or empty.
pub(super) fn process_env(p: &ProcessConfig) -> R<Vec<CString>> {
    let mut env: Vec<CString> = Vec::with_capacity(p.env.len() + 1);
    let mut seen = std::collections::BTreeSet::new();
    // Later entries win, as with runc's dedup.
    for kv in p.env.iter().rev() {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        if seen.insert(key.to_string()) {
            env.push(
                CString::new(kv.as_bytes())
                    .map_err(|_| Fail::msg("env", Some(key.to_string()), "contains NUL"))?,
            );
        }
    }
    env.reverse();
    let empty_home = env.iter().position(|kv| kv.as_bytes() == b"HOME=");
    if empty_home.is_some() || !seen.contains("HOME") {
        let home = home_of(p.user.uid).unwrap_or_else(|| "/".to_string());
        let kv = CString::new(format!("HOME={home}"))
            .map_err(|_| Fail::msg("env", Some("HOME".into()), "contains NUL"))?;
        match empty_home {
            Some(i) => env[i] = kv,
            None => env.push(kv),
        }
    }
    Ok(env)
}

/// The home directory of `uid` from the container's `/etc/passwd`.
pub(super) fn home_of(uid: u32) -> Option<String> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

/// Finds the program as runc does (Go's `exec.LookPath` with the process's `PATH`), with runc's
/// messages, which engines match to choose an exit status (Docker: 127 for "no such file or
/// directory" and "executable file not found in $PATH", 126 for "permission denied" and "is a
/// directory"): `exec: "/x": stat /x: no such file or directory`, `exec: "/x": permission
/// denied`, `exec: "/x": is a directory`, `exec: "x": executable file not found in $PATH`.
pub(super) fn find_program(p: &ProcessConfig) -> R<CString> {
    let Some(arg0) = p.args.first() else {
        return Err(Fail::msg(
            "exec",
            None,
            "process.args is empty: nothing to run",
        ));
    };
    let to_c = |path: &Path| {
        CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Fail::msg("exec", Some(arg0.clone()), "contains NUL"))
    };
    let lookup_err =
        |why: String| Fail::msg("exec", Some(arg0.clone()), format!("{arg0:?}: {why}"));
    if arg0.contains('/') {
        let path = Path::new(arg0);
        return match find_executable(path) {
            Ok(()) => to_c(path),
            Err(why) => Err(lookup_err(why)),
        };
    }
    let path_var = p
        .env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    if !arg0.is_empty() {
        for dir in path_var.split(':') {
            let cand = Path::new(if dir.is_empty() { "." } else { dir }).join(arg0);
            if find_executable(&cand).is_ok() {
                return to_c(&cand);
            }
        }
    }
    Err(lookup_err("executable file not found in $PATH".into()))
}

/// Go's `findExecutable`: `stat` (following symlinks), not a directory, and `X_OK` for the
/// effective ids (with the mode bits as fallback where `faccessat` is refused). The error is
/// Go's text: `stat /x: no such file or directory`, `is a directory`, `permission denied`.
pub(super) fn find_executable(path: &Path) -> Result<(), String> {
    let st = rustix::fs::stat(path)
        .map_err(|e| format!("stat {}: {}", path.display(), crate::error::errno_text(e)))?;
    let ft = rustix::fs::FileType::from_raw_mode(st.st_mode);
    if ft == rustix::fs::FileType::Directory {
        return Err(crate::error::errno_text(rustix::io::Errno::ISDIR));
    }
    match rustix::fs::accessat(
        rustix::fs::CWD,
        path,
        rustix::fs::Access::EXEC_OK,
        rustix::fs::AtFlags::EACCESS,
    ) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) if st.st_mode & 0o111 != 0 => {
            Ok(())
        }
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
            Err(crate::error::errno_text(rustix::io::Errno::ACCESS))
        }
        Err(e) => Err(crate::error::errno_text(e)),
    }
}
