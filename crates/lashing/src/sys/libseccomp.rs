//! libseccomp, for tests only: the reference the seccomp compiler is checked against
//! (`security::seccomp::libseccomp_diff`). Linked into the test binary alone (`#[link]` in this
//! `#[cfg(test)]` module): lashing itself never links libseccomp (ARCHITECTURE.md). Needs
//! libseccomp's shared library (Debian: libseccomp-dev, installed by `.ci/run`).

use std::ffi::{CString, c_char, c_int, c_void};
use std::io::{Read, Seek};
use std::os::fd::AsRawFd;

/// `struct scmp_arg_cmp`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArgCmp {
    /// The argument index (0-5).
    pub arg: u32,
    /// `enum scmp_compare`: `SCMP_CMP_NE` = 1 ... `SCMP_CMP_MASKED_EQ` = 7.
    pub op: u32,
    /// The value (the mask for `SCMP_CMP_MASKED_EQ`).
    pub datum_a: u64,
    /// The second value (the masked value for `SCMP_CMP_MASKED_EQ`).
    pub datum_b: u64,
}

#[link(name = "seccomp")]
unsafe extern "C" {
    fn seccomp_init(def_action: u32) -> *mut c_void;
    fn seccomp_release(ctx: *mut c_void);
    fn seccomp_arch_add(ctx: *mut c_void, arch_token: u32) -> c_int;
    fn seccomp_attr_set(ctx: *mut c_void, attr: c_int, value: u32) -> c_int;
    fn seccomp_syscall_resolve_name(name: *const c_char) -> c_int;
    fn seccomp_rule_add_array(
        ctx: *mut c_void,
        action: u32,
        syscall: c_int,
        arg_cnt: u32,
        arg_array: *const ArgCmp,
    ) -> c_int;
    fn seccomp_export_bpf(ctx: *const c_void, fd: c_int) -> c_int;
}

/// `SCMP_FLTATR_CTL_OPTIMIZE`.
const ATTR_OPTIMIZE: c_int = 8;
/// `__NR_SCMP_ERROR`.
const NR_SCMP_ERROR: c_int = -1;

/// A libseccomp filter context (`scmp_filter_ctx`), released on drop.
pub(crate) struct Filter {
    ctx: *mut c_void,
}

impl Filter {
    /// `seccomp_init(default_action)`; `None` when libseccomp refuses the action.
    pub(crate) fn new(default_action: u32) -> Option<Filter> {
        // SAFETY: seccomp_init takes a plain integer and returns an owned context or NULL.
        let ctx = unsafe { seccomp_init(default_action) };
        (!ctx.is_null()).then_some(Filter { ctx })
    }

    /// `seccomp_arch_add` (an arch already in the filter is `-EEXIST`, returned as is).
    pub(crate) fn add_arch(&mut self, token: u32) -> Result<(), i32> {
        // SAFETY: ctx is a live context owned by self.
        check(unsafe { seccomp_arch_add(self.ctx, token) })
    }

    /// `seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE, level)`.
    pub(crate) fn set_optimize(&mut self, level: u32) -> Result<(), i32> {
        // SAFETY: ctx is a live context owned by self; the attribute takes an integer.
        check(unsafe { seccomp_attr_set(self.ctx, ATTR_OPTIMIZE, level) })
    }

    /// `seccomp_rule_add_array` (not "exact": libseccomp rewrites the rule per architecture,
    /// as libseccomp-golang's `AddRule`/`AddRuleConditional` that runc calls).
    pub(crate) fn add_rule(
        &mut self,
        action: u32,
        syscall: i32,
        args: &[ArgCmp],
    ) -> Result<(), i32> {
        // SAFETY: ctx is live; args points to args.len() initialized `struct scmp_arg_cmp`s
        // (repr(C)) that libseccomp only reads during the call.
        check(unsafe {
            seccomp_rule_add_array(self.ctx, action, syscall, args.len() as u32, args.as_ptr())
        })
    }

    /// The classic BPF program (`seccomp_export_bpf`), as the kernel's `struct sock_filter`s.
    pub(crate) fn export(&self) -> Result<Vec<u8>, i32> {
        let mut f = tempfile::tempfile().map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        // SAFETY: ctx is live; the fd is open for writing for the duration of the call.
        check(unsafe { seccomp_export_bpf(self.ctx, f.as_raw_fd()) })?;
        let mut out = Vec::new();
        f.rewind()
            .and_then(|_| f.read_to_end(&mut out))
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        Ok(out)
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        // SAFETY: ctx came from seccomp_init and is released exactly once.
        unsafe { seccomp_release(self.ctx) }
    }
}

/// `seccomp_syscall_resolve_name` (the native architecture, as libseccomp-golang's
/// `GetSyscallFromName`): a negative "pseudo" number for a syscall that exists only on other
/// architectures, `None` for a name libseccomp does not know.
pub(crate) fn resolve_name(name: &str) -> Option<i32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let nr = unsafe { seccomp_syscall_resolve_name(c.as_ptr()) };
    (nr != NR_SCMP_ERROR).then_some(nr)
}

fn check(rc: c_int) -> Result<(), i32> {
    if rc < 0 { Err(-rc) } else { Ok(()) }
}
