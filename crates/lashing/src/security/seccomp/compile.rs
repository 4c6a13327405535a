//! The compiler: one section per ABI (with runc's ENOSYS stub), a jump table of syscall numbers,
//! the argument conditions of each syscall.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bpf::{self, Asm, Insn, MAX_INSNS, To};
use super::error::SeccompError;
use super::profile::*;
use crate::config::Seccomp;

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
pub(super) fn flush_run(asm: &mut Asm, run: &mut Vec<u32>, k: u32) {
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
pub(super) fn syscall_body(
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
pub(super) fn emit_cond(asm: &mut Asm, abi: Abi, c: &Cond, pass: usize, fail: usize) {
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
