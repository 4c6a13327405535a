//! Seccomp: compiles an OCI profile ([`Seccomp`]) into a classic BPF program in the parent, and
//! hands the notify listener of a container process to its seccomp agent.
//!
//! The compiler is pure Rust (no libseccomp): it knows the x86 ABIs (`SCMP_ARCH_X86_64`,
//! `SCMP_ARCH_X86`, `SCMP_ARCH_X32`) from syscall tables generated from the kernel headers
//! ([`tables`]). Semantics follow runc (libcontainer/seccomp + patchbpf):
//!
//! - the native architecture is always in the filter; other x86 ABIs are added when listed; an
//!   ABI outside the filter gets `SECCOMP_RET_KILL_THREAD` (libseccomp's bad-arch action); the
//!   non-x86 architectures of a multi-arch profile are ignored (they cannot run on this host);
//! - unknown syscall names are ignored (a name unknown to one ABI is skipped for that ABI);
//! - a rule whose action equals the default action is skipped (runc's `matchCall`);
//! - the conditions of a rule are ANDed, unless two of them test the same argument: then every
//!   condition becomes a rule of its own (runc's "old behaviour");
//! - for one syscall, an unconditional rule wins (the first one) over every conditional rule,
//!   whatever their order, as in libseccomp; otherwise conditional rules are tried in profile
//!   order (first match wins), then the default action. (libseccomp orders overlapping
//!   conditional rules with different actions by its own decision tree, not by profile order:
//!   such profiles can act differently, see `libseccomp_diff`);
//! - argument comparisons are unsigned 64-bit on x86_64, of the low 32 bits on i386 and x32 (as
//!   libseccomp's 32-bit ABIs);
//!   `SCMP_CMP_MASKED_EQ` compares `arg & value == valueTwo & value` (libseccomp's reading);
//! - runc's ENOSYS stub is prepended to each ABI's section: a syscall number above the largest
//!   one the profile names (for that ABI) returns `-ENOSYS`, so that libc falls back from new
//!   syscalls (clone3, ...) instead of failing with the default errno. No stub when the default
//!   action is permissive (ALLOW, LOG, TRACE) or already returns ENOSYS;
//! - flags: `SECCOMP_FILTER_FLAG_TSYNC` is ignored (init is single-threaded), `LOG`,
//!   `SPEC_ALLOW` and `WAIT_KILLABLE_RECV` are passed on; an empty flag list means "not set" and
//!   gives `SPEC_ALLOW` (runc's default);
//! - `SCMP_ACT_NOTIFY` needs `listenerPath`, and is rejected on `write` and as default action.

mod bpf;
mod tables;

#[cfg(test)]
mod libseccomp_diff;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::net::{
    AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};
use serde::{Deserialize, Serialize};

use crate::config::{Seccomp, SeccompRule};
use bpf::{Asm, Insn, To};

pub(crate) use bpf::MAX_INSNS;

/// `AUDIT_ARCH_X86_64` (also the arch of x32 syscalls, which set `__X32_SYSCALL_BIT`).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `SECCOMP_RET_KILL_THREAD`.
const RET_KILL_THREAD: u32 = 0x0000_0000;
/// `SECCOMP_RET_KILL_PROCESS`.
const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_TRAP`.
const RET_TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO`.
const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_USER_NOTIF`.
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_TRACE`.
const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`.
const RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ALLOW`.
const RET_ALLOW: u32 = 0x7fff_0000;

/// `SECCOMP_FILTER_FLAG_LOG`.
pub(crate) const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`.
pub(crate) const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`.
pub(crate) const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// The OCI version written in the state sent to a seccomp agent.
const OCI_VERSION: &str = "1.2.1";

/// Why a seccomp profile could not be compiled, or the listener not handed over.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SeccompError {
    /// An action name lashing does not know.
    #[error("seccomp: unknown action {action:?} ({field})")]
    UnknownAction {
        /// The JSON field.
        field: String,
        /// The name.
        action: String,
    },
    /// An errno value that does not fit the 16 bits of `SECCOMP_RET_DATA`.
    #[error("seccomp: errno {errno} of {field} does not fit in 16 bits")]
    BadErrno {
        /// The JSON field.
        field: String,
        /// The value.
        errno: u32,
    },
    /// A comparison operator lashing does not know.
    #[error("seccomp: unknown operator {op:?} ({field})")]
    UnknownOp {
        /// The JSON field.
        field: String,
        /// The name.
        op: String,
    },
    /// An argument index above 5.
    #[error("seccomp: argument index {index} of {field} is not 0-5")]
    BadIndex {
        /// The JSON field.
        field: String,
        /// The index.
        index: u32,
    },
    /// An architecture name lashing does not know.
    #[error("seccomp: unknown architecture {0:?}")]
    UnknownArch(String),
    /// A flag name lashing does not know.
    #[error("seccomp: unknown flag {0:?}")]
    UnknownFlag(String),
    /// The host is not x86_64.
    #[error("seccomp: the native architecture {0} is not supported by the seccomp compiler")]
    UnsupportedNative(&'static str),
    /// `SCMP_ACT_NOTIFY` where runc forbids it.
    #[error("seccomp: SCMP_ACT_NOTIFY {0}")]
    Notify(&'static str),
    /// The program is larger than the kernel accepts.
    #[error("seccomp: the program has {0} instructions, more than the kernel's 4096")]
    TooLarge(usize),
    /// Internal: a jump of the generated program could not be encoded.
    #[error("seccomp: cannot assemble the program ({0})")]
    Assemble(String),
    /// Connecting to the agent's socket failed.
    #[error("seccomp: connect to the listener socket {path}")]
    Connect {
        /// `listenerPath`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Sending the state and the fd to the agent failed.
    #[error("seccomp: send the listener fd to {path}")]
    Send {
        /// `listenerPath`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// A compiled seccomp filter, made by the parent and loaded by init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Program {
    /// The instructions in the kernel's `struct sock_filter` layout (8 bytes each, native
    /// endian); in JSON as a hex string.
    #[serde(with = "hex_bytes")]
    pub filter: Vec<u8>,
    /// `SECCOMP_FILTER_FLAG_*` for `seccomp(2)`, without `NEW_LISTENER`.
    pub flags: u32,
    /// Some rule uses `SCMP_ACT_NOTIFY`: load with `SECCOMP_FILTER_FLAG_NEW_LISTENER` and send
    /// the listener fd to the parent.
    pub needs_listener: bool,
}

impl Program {
    #[cfg(test)]
    /// Number of instructions.
    pub(crate) fn len(&self) -> usize {
        self.filter.len() / 8
    }

    /// The decoded instructions.
    #[cfg(test)]
    pub(crate) fn insns(&self) -> Vec<Insn> {
        self.filter.chunks_exact(8).map(Insn::from_bytes).collect()
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(b.len() * 2);
        for byte in b {
            out.push_str(&format!("{byte:02x}"));
        }
        s.serialize_str(&out)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() % 2 != 0 {
            return Err(D::Error::custom("odd-length hex string"));
        }
        (0..s.len())
            .step_by(2)
            .map(|i| {
                s.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| D::Error::custom("bad hex digit"))
            })
            .collect()
    }
}

/// A seccomp action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Allow,
    Log,
    Notify,
}

impl Action {
    fn parse(name: &str, errno_ret: Option<u32>, field: &str) -> Result<Action, SeccompError> {
        let errno = || -> Result<u16, SeccompError> {
            match errno_ret {
                None => Ok(libc::EPERM as u16),
                Some(e) => u16::try_from(e).map_err(|_| SeccompError::BadErrno {
                    field: field.to_string(),
                    errno: e,
                }),
            }
        };
        Ok(match name {
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_ERRNO" => Action::Errno(errno()?),
            "SCMP_ACT_TRACE" => Action::Trace(errno()?),
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_NOTIFY" => Action::Notify,
            _ => {
                return Err(SeccompError::UnknownAction {
                    field: field.to_string(),
                    action: name.to_string(),
                });
            }
        })
    }

    fn ret(self) -> u32 {
        match self {
            Action::KillThread => RET_KILL_THREAD,
            Action::KillProcess => RET_KILL_PROCESS,
            Action::Trap => RET_TRAP,
            Action::Errno(e) => RET_ERRNO | u32::from(e),
            Action::Trace(e) => RET_TRACE | u32::from(e),
            Action::Allow => RET_ALLOW,
            Action::Log => RET_LOG,
            Action::Notify => RET_USER_NOTIF,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// One argument condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
    value_two: u64,
}

/// One alternative for a syscall: all conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alt {
    conds: Vec<Cond>,
    action: Action,
}

/// The rules of one ABI: syscall number → (conditional alternatives in profile order,
/// unconditional ones), and the largest syscall number the profile names.
type AbiRules = (BTreeMap<u32, (Vec<Alt>, Vec<Alt>)>, Option<u32>);

/// An x86 ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Abi {
    X86_64,
    X32,
    I386,
}

impl Abi {
    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => tables::X86_64,
            Abi::X32 => tables::X32,
            Abi::I386 => tables::I386,
        }
    }

    /// The number `seccomp_data.nr` shows for a syscall name, if the ABI has it.
    fn resolve(self, name: &str) -> Option<u32> {
        let t = self.table();
        let i = t.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
        let nr = t[i].1;
        Some(if self == Abi::X32 {
            nr | X32_SYSCALL_BIT
        } else {
            nr
        })
    }

    /// Whether argument conditions compare all 64 bits. Only on x86_64: libseccomp (and so
    /// runc) treats x32 as a 32-bit ABI too and compares the low 32 bits there, as on i386.
    fn is_64(self) -> bool {
        self == Abi::X86_64
    }
}

/// The native ABI of the build target.
fn native() -> Result<Abi, SeccompError> {
    if cfg!(target_arch = "x86_64") {
        Ok(Abi::X86_64)
    } else {
        Err(SeccompError::UnsupportedNative(std::env::consts::ARCH))
    }
}

fn parse_op(name: &str, field: &str) -> Result<Op, SeccompError> {
    Ok(match name {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        _ => {
            return Err(SeccompError::UnknownOp {
                field: field.to_string(),
                op: name.to_string(),
            });
        }
    })
}

/// Architectures of other hosts that a multi-arch profile may list.
const FOREIGN_ARCHES: &[&str] = &[
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

fn parse_flags(names: &[String]) -> Result<u32, SeccompError> {
    if names.is_empty() {
        return Ok(FLAG_SPEC_ALLOW);
    }
    let mut flags = 0;
    for f in names {
        flags |= match f.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => 0,
            "SECCOMP_FILTER_FLAG_LOG" => FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => FLAG_WAIT_KILLABLE_RECV,
            _ => return Err(SeccompError::UnknownFlag(f.clone())),
        };
    }
    Ok(flags)
}

/// The alternatives of one profile rule (runc: conditions on the same argument index are split
/// into one rule each, otherwise they are ANDed).
fn alternatives(rule: &SeccompRule, action: Action, field: &str) -> Result<Vec<Alt>, SeccompError> {
    let mut conds = Vec::with_capacity(rule.args.len());
    let mut count = [0usize; 6];
    for (j, a) in rule.args.iter().enumerate() {
        let f = format!("{field}.args[{j}]");
        if a.index >= 6 {
            return Err(SeccompError::BadIndex {
                field: f,
                index: a.index,
            });
        }
        count[a.index as usize] += 1;
        conds.push(Cond {
            index: a.index,
            op: parse_op(&a.op, &f)?,
            value: a.value,
            value_two: a.value_two,
        });
    }
    if count.iter().any(|c| *c > 1) {
        Ok(conds
            .into_iter()
            .map(|c| Alt {
                conds: vec![c],
                action,
            })
            .collect())
    } else {
        Ok(vec![Alt { conds, action }])
    }
}

impl Cond {
    /// Whether the condition holds for every argument of `abi`: `MASKED_EQ` with a mask of 0 in
    /// the bits the ABI compares. libseccomp drops such a condition, so a rule left without
    /// conditions is an unconditional one (which wins over the conditional ones).
    fn holds_always(&self, abi: Abi) -> bool {
        let mask = if abi.is_64() {
            self.value
        } else {
            self.value & 0xffff_ffff
        };
        self.op == Op::MaskedEq && mask == 0
    }
}

/// Compiles a profile for the host (x86_64). Runs in the parent.
pub(crate) fn compile(profile: &Seccomp) -> Result<Program, SeccompError> {
    let default = Action::parse(
        &profile.default_action,
        profile.default_errno_ret,
        "linux.seccomp.defaultAction",
    )?;
    if default == Action::Notify {
        return Err(SeccompError::Notify("cannot be the default action"));
    }
    let mut abis = vec![native()?];
    for a in &profile.architectures {
        let abi = match a.as_str() {
            "SCMP_ARCH_X86_64" => Abi::X86_64,
            "SCMP_ARCH_X86" => Abi::I386,
            "SCMP_ARCH_X32" => Abi::X32,
            a if FOREIGN_ARCHES.contains(&a) => {
                tracing::debug!("seccomp: ignoring architecture {a} (not runnable on x86_64)");
                continue;
            }
            _ => return Err(SeccompError::UnknownArch(a.clone())),
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    abis.sort();
    let mut flags = parse_flags(&profile.flags)?;

    // Per ABI: syscall number → alternatives (conditional ones in profile order, unconditional
    // ones after), and the largest number the profile names.
    let mut per_abi: BTreeMap<Abi, AbiRules> =
        abis.iter().map(|a| (*a, Default::default())).collect();
    let mut needs_listener = false;
    for (i, rule) in profile.syscalls.iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let action = Action::parse(&rule.action, rule.errno_ret, &field)?;
        if action == Action::Notify {
            if rule.names.iter().any(|n| n == "write") {
                return Err(SeccompError::Notify(
                    "cannot be used for the write syscall (it would block the runtime's logging)",
                ));
            }
            if profile.listener_path.is_none() {
                return Err(SeccompError::Notify("needs linux.seccomp.listenerPath"));
            }
        }
        let alts = alternatives(rule, action, &field)?;
        for name in &rule.names {
            let mut known = false;
            for (abi, (map, max)) in per_abi.iter_mut() {
                let Some(nr) = abi.resolve(name) else {
                    continue;
                };
                known = true;
                *max = Some(max.map_or(nr, |m: u32| m.max(nr)));
                if action == default {
                    continue;
                }
                let (cond, uncond) = map.entry(nr).or_default();
                for alt in &alts {
                    let conds: Vec<Cond> = alt
                        .conds
                        .iter()
                        .filter(|c| !c.holds_always(*abi))
                        .cloned()
                        .collect();
                    let alt = Alt {
                        conds,
                        action: alt.action,
                    };
                    if alt.conds.is_empty() {
                        uncond.push(alt);
                    } else {
                        cond.push(alt);
                    }
                }
                needs_listener |= action == Action::Notify;
            }
            if !known {
                tracing::debug!("seccomp: ignoring unknown syscall {name:?}");
            }
        }
    }
    if !needs_listener {
        flags &= !FLAG_WAIT_KILLABLE_RECV;
    }
    let stub = match default {
        Action::Allow | Action::Log | Action::Trace(_) => false,
        Action::Errno(e) => i32::from(e) != libc::ENOSYS,
        _ => true,
    };

    let mut asm = Asm::default();
    let bad_arch = asm.label();
    let has = |a| abis.contains(&a);
    let sections: Vec<(Abi, usize)> = abis.iter().map(|a| (*a, asm.label())).collect();
    let label_of = |a: Abi| sections.iter().find(|(x, _)| *x == a).map(|(_, l)| *l);
    asm.ld(bpf::OFF_ARCH);
    let x86_64_dispatch = asm.label();
    if has(Abi::X86_64) || has(Abi::X32) {
        asm.jump(bpf::JEQ, AUDIT_ARCH_X86_64, To::Next, To::Rel(1));
        asm.ja(x86_64_dispatch);
    }
    if let Some(l) = label_of(Abi::I386) {
        asm.jump(bpf::JEQ, AUDIT_ARCH_I386, To::Next, To::Rel(1));
        asm.ja(l);
    }
    asm.place(bad_arch);
    asm.ret(RET_KILL_THREAD);
    if has(Abi::X86_64) || has(Abi::X32) {
        asm.place(x86_64_dispatch);
        asm.ld(bpf::OFF_NR);
        match (label_of(Abi::X86_64), label_of(Abi::X32)) {
            (Some(l64), Some(lx32)) => {
                asm.jump(bpf::JSET, X32_SYSCALL_BIT, To::Next, To::Rel(1));
                asm.ja(lx32);
                asm.ja(l64);
            }
            (Some(l64), None) => {
                asm.jump(bpf::JSET, X32_SYSCALL_BIT, To::Next, To::Rel(1));
                asm.ret(RET_KILL_THREAD);
                asm.ja(l64);
            }
            (None, Some(lx32)) => {
                asm.jump(bpf::JSET, X32_SYSCALL_BIT, To::Rel(1), To::Next);
                asm.ret(RET_KILL_THREAD);
                asm.ja(lx32);
            }
            (None, None) => unreachable!("checked above"),
        }
    }
    for (abi, label) in &sections {
        let (map, max) = &per_abi[abi];
        asm.place(*label);
        asm.ld(bpf::OFF_NR);
        if let (true, Some(max)) = (stub, max) {
            asm.jump(bpf::JGT, *max, To::Next, To::Rel(1));
            asm.ret(RET_ERRNO | libc::ENOSYS as u32);
        }
        // Consecutive syscalls that just return the same value share one return.
        let mut run: Vec<u32> = Vec::new();
        let mut run_ret = 0;
        for (nr, (cond, uncond)) in map {
            let body = syscall_body(*abi, cond, uncond.first().map(|a| a.action), default)?;
            if body.len() == 1 {
                if !run.is_empty() && (run_ret != body[0].k || run.len() == 255) {
                    flush_run(&mut asm, &mut run, run_ret);
                }
                run_ret = body[0].k;
                run.push(*nr);
                continue;
            }
            flush_run(&mut asm, &mut run, run_ret);
            if body.len() <= 255 {
                asm.jump(bpf::JEQ, *nr, To::Next, To::Rel(body.len()));
            } else {
                asm.jump(bpf::JEQ, *nr, To::Rel(1), To::Next);
                asm.ja_rel(body.len());
            }
            asm.raw(&body);
        }
        flush_run(&mut asm, &mut run, run_ret);
        asm.ret(default.ret());
    }
    let insns = asm
        .finish()
        .map_err(|e| SeccompError::Assemble(format!("{e:?}")))?;
    if insns.len() > MAX_INSNS {
        return Err(SeccompError::TooLarge(insns.len()));
    }
    Ok(Program {
        filter: insns.iter().flat_map(|i| i.to_bytes()).collect(),
        flags,
        needs_listener,
    })
}

/// Emits `jeq nr → ret` for a run of syscalls (at most 255) that share the return value `k`.
fn flush_run(asm: &mut Asm, run: &mut Vec<u32>, k: u32) {
    if run.is_empty() {
        return;
    }
    let n = run.len();
    for (i, nr) in run.iter().enumerate() {
        let jf = if i + 1 == n { To::Rel(1) } else { To::Next };
        asm.jump(bpf::JEQ, *nr, To::Rel(n - 1 - i), jf);
    }
    asm.ret(k);
    run.clear();
}

/// The code run for one syscall number (entered with `A = nr`; always ends in a return).
fn syscall_body(
    abi: Abi,
    cond: &[Alt],
    uncond: Option<Action>,
    default: Action,
) -> Result<Vec<Insn>, SeccompError> {
    let mut asm = Asm::default();
    // An unconditional rule makes the conditional ones of the syscall moot, in whatever order
    // the profile has them (libseccomp's reading, so runc's).
    let cond = if uncond.is_some() { &[][..] } else { cond };
    for alt in cond {
        let fail = asm.label();
        for c in &alt.conds {
            let pass = asm.label();
            emit_cond(&mut asm, abi, c, pass, fail);
            asm.place(pass);
        }
        asm.ret(alt.action.ret());
        asm.place(fail);
    }
    asm.ret(uncond.unwrap_or(default).ret());
    asm.finish()
        .map_err(|e| SeccompError::Assemble(format!("{e:?}")))
}

/// Emits a test of one condition that jumps to `pass` or `fail`.
fn emit_cond(asm: &mut Asm, abi: Abi, c: &Cond, pass: usize, fail: usize) {
    let (p, f) = (To::L(pass), To::L(fail));
    let lo_off = bpf::OFF_ARGS + 8 * c.index;
    let hi_off = lo_off + 4;
    let (v_lo, v_hi) = (c.value as u32, (c.value >> 32) as u32);
    // MASKED_EQ compares with the value inside the mask (`valueTwo & value`), as libseccomp
    // does: a mask of 0 always matches, whatever `valueTwo` says.
    let masked = c.value_two & c.value;
    let (d_lo, d_hi) = (masked as u32, (masked >> 32) as u32);
    if !abi.is_64() {
        asm.ld(lo_off);
        match c.op {
            Op::Eq => asm.jump(bpf::JEQ, v_lo, p, f),
            Op::Ne => asm.jump(bpf::JEQ, v_lo, f, p),
            Op::Gt => asm.jump(bpf::JGT, v_lo, p, f),
            Op::Ge => asm.jump(bpf::JGE, v_lo, p, f),
            Op::Lt => asm.jump(bpf::JGE, v_lo, f, p),
            Op::Le => asm.jump(bpf::JGT, v_lo, f, p),
            Op::MaskedEq => {
                asm.and(v_lo);
                asm.jump(bpf::JEQ, d_lo, p, f);
            }
        }
        return;
    }
    asm.ld(hi_off);
    match c.op {
        Op::Eq => {
            asm.jump(bpf::JEQ, v_hi, To::Next, f);
            asm.ld(lo_off);
            asm.jump(bpf::JEQ, v_lo, p, f);
        }
        Op::Ne => {
            asm.jump(bpf::JEQ, v_hi, To::Next, p);
            asm.ld(lo_off);
            asm.jump(bpf::JEQ, v_lo, f, p);
        }
        Op::Gt | Op::Ge => {
            asm.jump(bpf::JGT, v_hi, p, To::Next);
            asm.jump(bpf::JEQ, v_hi, To::Next, f);
            asm.ld(lo_off);
            let code = if c.op == Op::Gt { bpf::JGT } else { bpf::JGE };
            asm.jump(code, v_lo, p, f);
        }
        Op::Lt | Op::Le => {
            asm.jump(bpf::JGE, v_hi, To::Next, p);
            asm.jump(bpf::JEQ, v_hi, To::Next, f);
            asm.ld(lo_off);
            // lo < v  ⇔ !(lo >= v); lo <= v ⇔ !(lo > v)
            let code = if c.op == Op::Lt { bpf::JGE } else { bpf::JGT };
            asm.jump(code, v_lo, f, p);
        }
        Op::MaskedEq => {
            asm.and(v_hi);
            asm.jump(bpf::JEQ, d_hi, To::Next, f);
            asm.ld(lo_off);
            asm.and(v_lo);
            asm.jump(bpf::JEQ, d_lo, p, f);
        }
    }
}

/// The state sent to a seccomp agent with the listener fd: runc's
/// `specs.ContainerProcessState`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerProcessState {
    /// OCI version.
    pub oci_version: String,
    /// Names of the fds that come with the message (`["seccompFd"]`).
    pub fds: Vec<String>,
    /// Pid of the container process (in the runtime's pid namespace).
    pub pid: i32,
    /// `listenerMetadata` of the profile.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    /// The container's OCI state.
    pub state: serde_json::Value,
}

impl ContainerProcessState {
    /// The message for a process `pid` of a container with the given OCI `state`.
    pub(crate) fn new(pid: i32, metadata: Option<&str>, state: serde_json::Value) -> Self {
        ContainerProcessState {
            oci_version: OCI_VERSION.to_string(),
            fds: vec!["seccompFd".to_string()],
            pid,
            metadata: metadata.unwrap_or_default().to_string(),
            state,
        }
    }
}

/// Connects to the agent's unix socket at `listener_path` and sends `state` (JSON) with the
/// listener `fd` (`SCM_RIGHTS`) in one message. Runs in the parent.
pub(crate) fn send_listener(
    listener_path: &Path,
    state: &ContainerProcessState,
    fd: BorrowedFd<'_>,
) -> Result<(), SeccompError> {
    let connect_err = |source: io::Error| SeccompError::Connect {
        path: listener_path.to_path_buf(),
        source,
    };
    let send_err = |source: io::Error| SeccompError::Send {
        path: listener_path.to_path_buf(),
        source,
    };
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| connect_err(e.into()))?;
    let addr = SocketAddrUnix::new(listener_path).map_err(|e| connect_err(e.into()))?;
    rustix::net::connect(&sock, &addr).map_err(|e| connect_err(e.into()))?;
    let data = serde_json::to_vec(state).map_err(|e| send_err(io::Error::other(e)))?;
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(send_err(io::Error::other("cannot pack the fd")));
    }
    let sent = rustix::net::sendmsg(
        sock.as_fd(),
        &[IoSlice::new(&data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(|e| send_err(e.into()))?;
    // The fd went with the first byte; the rest of the JSON follows on the stream.
    let mut rest = &data[sent..];
    while !rest.is_empty() {
        let n = rustix::io::write(&sock, rest).map_err(|e| send_err(e.into()))?;
        rest = &rest[n..];
    }
    Ok(())
}

/// What the seccomp support of lashing knows and what this kernel supports, for `features`
/// (re-exported as `lashing::seccomp`).
pub mod features {
    use super::FOREIGN_ARCHES;

    /// The action names a profile may use (`defaultAction`, `syscalls[].action`).
    pub fn known_actions() -> Vec<&'static str> {
        vec![
            "SCMP_ACT_ALLOW",
            "SCMP_ACT_ERRNO",
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG",
            "SCMP_ACT_NOTIFY",
            "SCMP_ACT_TRACE",
            "SCMP_ACT_TRAP",
        ]
    }

    /// The comparison operators of `syscalls[].args[].op`.
    pub fn known_operators() -> Vec<&'static str> {
        vec![
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_LE",
            "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE",
        ]
    }

    /// The architecture names a profile may list: the x86 ABIs, which get filter sections, and
    /// those of other hosts, which are accepted and ignored (they cannot run on x86_64).
    pub fn known_archs() -> Vec<&'static str> {
        let mut v = vec!["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"];
        v.extend(FOREIGN_ARCHES);
        v.sort_unstable();
        v
    }

    /// The filter flag names lashing accepts (`SECCOMP_FILTER_FLAG_TSYNC` is accepted and
    /// ignored: init is single-threaded).
    pub fn known_flags() -> Vec<&'static str> {
        vec![
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ]
    }

    /// The flags of [`known_flags`] that the running kernel supports, from its version (TSYNC
    /// 3.17, LOG 4.14, SPEC_ALLOW 4.17, WAIT_KILLABLE_RECV 5.19).
    pub fn supported_flags() -> Vec<&'static str> {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy();
        let Some(version) = parse_release(&release) else {
            return Vec::new();
        };
        [
            ("SECCOMP_FILTER_FLAG_TSYNC", (3, 17)),
            ("SECCOMP_FILTER_FLAG_LOG", (4, 14)),
            ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", (4, 17)),
            ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", (5, 19)),
        ]
        .into_iter()
        .filter(|(_, min)| version >= *min)
        .map(|(f, _)| f)
        .collect()
    }

    /// `6.1.0-18-amd64` → (6, 1).
    fn parse_release(release: &str) -> Option<(u32, u32)> {
        let mut it = release.split(|c: char| !c.is_ascii_digit());
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some((major, minor))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::config::{Seccomp, SeccompArg, SeccompRule};

        #[test]
        fn releases() {
            assert_eq!(parse_release("6.1.0-18-amd64"), Some((6, 1)));
            assert_eq!(parse_release("6.18.2"), Some((6, 18)));
            assert_eq!(parse_release("4.9"), Some((4, 9)));
            assert_eq!(parse_release("x"), None);
        }

        fn profile(default: &str, rules: Vec<SeccompRule>) -> Seccomp {
            Seccomp {
                default_action: default.into(),
                default_errno_ret: None,
                architectures: Vec::new(),
                flags: Vec::new(),
                listener_path: Some("/run/agent.sock".into()),
                listener_metadata: None,
                syscalls: rules,
            }
        }

        fn rule(action: &str, args: Vec<SeccompArg>) -> SeccompRule {
            SeccompRule {
                names: vec!["mkdir".into()],
                action: action.into(),
                errno_ret: None,
                args,
            }
        }

        /// Every listed name is accepted by the compiler (the lists cannot drift from it).
        #[test]
        fn every_known_name_compiles() {
            let compile = super::super::compile;
            for a in known_actions() {
                let p = profile("SCMP_ACT_ALLOW", vec![rule(a, Vec::new())]);
                assert!(compile(&p).is_ok(), "{a}");
            }
            for op in known_operators() {
                let arg = SeccompArg {
                    index: 0,
                    value: 1,
                    value_two: 1,
                    op: op.into(),
                };
                let p = profile("SCMP_ACT_ALLOW", vec![rule("SCMP_ACT_ERRNO", vec![arg])]);
                assert!(compile(&p).is_ok(), "{op}");
            }
            let mut p = profile("SCMP_ACT_ALLOW", Vec::new());
            p.architectures = known_archs().iter().map(|s| s.to_string()).collect();
            p.flags = known_flags().iter().map(|s| s.to_string()).collect();
            assert!(compile(&p).is_ok());
            assert!(compile(&profile("SCMP_ACT_NOPE", Vec::new())).is_err());
            let arg = SeccompArg {
                index: 0,
                value: 1,
                value_two: 1,
                op: "SCMP_CMP_NOPE".into(),
            };
            let p = profile("SCMP_ACT_ALLOW", vec![rule("SCMP_ACT_ERRNO", vec![arg])]);
            assert!(compile(&p).is_err());
        }

        #[test]
        fn supported_is_a_subset_of_known() {
            let known = known_flags();
            assert!(supported_flags().iter().all(|f| known.contains(f)));
        }
    }
}
