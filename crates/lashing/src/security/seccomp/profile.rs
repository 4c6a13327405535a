//! The profile as the compiler reads it: actions, comparison operators, ABIs and their syscall
//! tables, flags, and the alternatives of each rule (runc's reading of a profile).

use std::collections::BTreeMap;

use super::error::SeccompError;
use super::tables;
use crate::config::SeccompRule;

/// `AUDIT_ARCH_X86_64` (also the arch of x32 syscalls, which set `__X32_SYSCALL_BIT`).
pub(super) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub(super) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`.
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `SECCOMP_RET_KILL_THREAD`.
pub(super) const RET_KILL_THREAD: u32 = 0x0000_0000;
/// `SECCOMP_RET_KILL_PROCESS`.
pub(super) const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_TRAP`.
pub(super) const RET_TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO`.
pub(super) const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_USER_NOTIF`.
pub(super) const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_TRACE`.
pub(super) const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`.
pub(super) const RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ALLOW`.
pub(super) const RET_ALLOW: u32 = 0x7fff_0000;

/// `SECCOMP_FILTER_FLAG_LOG`.
pub(super) const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`.
pub(super) const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`.
pub(super) const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// A seccomp action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
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
    pub(super) fn parse(
        name: &str,
        errno_ret: Option<u32>,
        field: &str,
    ) -> Result<Action, SeccompError> {
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

    pub(super) fn ret(self) -> u32 {
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
pub(super) enum Op {
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
pub(super) struct Cond {
    pub(super) index: u32,
    pub(super) op: Op,
    pub(super) value: u64,
    pub(super) value_two: u64,
}

/// One alternative for a syscall: all conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Alt {
    pub(super) conds: Vec<Cond>,
    pub(super) action: Action,
}

/// The rules of one ABI: syscall number → (conditional alternatives in profile order,
/// unconditional ones), and the largest syscall number the profile names.
pub(super) type AbiRules = (BTreeMap<u32, (Vec<Alt>, Vec<Alt>)>, Option<u32>);

/// An x86 ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Abi {
    X86_64,
    X32,
    I386,
}

impl Abi {
    pub(super) fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => tables::X86_64,
            Abi::X32 => tables::X32,
            Abi::I386 => tables::I386,
        }
    }

    /// The number `seccomp_data.nr` shows for a syscall name, if the ABI has it.
    pub(super) fn resolve(self, name: &str) -> Option<u32> {
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
    pub(super) fn is_64(self) -> bool {
        self == Abi::X86_64
    }
}

/// The native ABI of the build target.
pub(super) fn native() -> Result<Abi, SeccompError> {
    if cfg!(target_arch = "x86_64") {
        Ok(Abi::X86_64)
    } else {
        Err(SeccompError::UnsupportedNative(std::env::consts::ARCH))
    }
}

pub(super) fn parse_op(name: &str, field: &str) -> Result<Op, SeccompError> {
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
pub(super) const FOREIGN_ARCHES: &[&str] = &[
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

pub(super) fn parse_flags(names: &[String]) -> Result<u32, SeccompError> {
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
pub(super) fn alternatives(
    rule: &SeccompRule,
    action: Action,
    field: &str,
) -> Result<Vec<Alt>, SeccompError> {
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
    pub(super) fn holds_always(&self, abi: Abi) -> bool {
        let mask = if abi.is_64() {
            self.value
        } else {
            self.value & 0xffff_ffff
        };
        self.op == Op::MaskedEq && mask == 0
    }
}
