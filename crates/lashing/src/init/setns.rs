//! The init of a process joining a running container, `exec` (runc's setns_init_linux.go).

use std::os::fd::AsRawFd;

use crate::channel::Payload;
use crate::sys::process as sysp;

use super::context::Init;
use super::context::Never;
use super::exec::{clear_onlcr, exec_failed, join_keyring};
use super::fds::close_from_except;
use super::log;
use super::report::{Fail, R};

impl Init {
    /// `exec`: join the running container and execute the process. The socket stays open (it is
    /// `O_CLOEXEC`) until `execve`, so that an exec failure still reaches the caller.
    pub(super) fn setns(&mut self, p: Payload) -> R<Never> {
        self.enter_namespaces(&p)?;
        sysp::setsid().map_err(|e| Fail::io("setsid", None, e))?;
        let proc = &p.process;
        join_keyring(&p)?;
        // The terminal, from the container's devpts (no /dev/console mount for exec).
        if let Some(sock) = self.console.take() {
            crate::tty::setup_console(&self.thread, sock, proc.console_size, proc.user.uid, false)
                .map_err(|e| Fail::io(e.step, e.path, e.source))?;
            clear_onlcr(&p)?;
        }
        let exec = self.prepare_exec(&p)?;
        let sock = self.sock()?.as_raw_fd() as u32;
        let first = 3 + self.preserved as u32;
        // The socket stays (close-on-exec) so that an exec failure still reaches the caller; the
        // log's copy of it goes first (it is above `first`).
        log::detach();
        close_from_except(&self.thread, first, Some(sock));
        let e = sysp::execve(&exec.program, &exec.argv, &exec.env);
        Err(exec_failed(&proc.args[0], e))
    }
}
