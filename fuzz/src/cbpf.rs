//! Classic BPF as the kernel takes it for `seccomp(2)`: `check` applies the rules of
//! `bpf_check_classic` + `seccomp_check_filter` (linux/net/core/filter.c, kernel/seccomp.c) that
//! a filter must pass to load, and `run` interprets a checked program on one `seccomp_data`.

/// `BPF_MAXINSNS`.
pub const MAX_INSNS: usize = 4096;
/// `sizeof(struct seccomp_data)`.
pub const SECCOMP_DATA_LEN: u32 = 64;
/// `BPF_MEMWORDS`.
const MEMWORDS: u32 = 16;

/// One `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Decodes the native-endian array `seccomp(2)` is given.
pub fn decode(filter: &[u8]) -> Result<Vec<Insn>, String> {
    if !filter.len().is_multiple_of(8) {
        return Err(format!(
            "{} bytes: not a whole number of instructions",
            filter.len()
        ));
    }
    Ok(filter
        .chunks_exact(8)
        .map(|b| Insn {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect())
}

const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;

/// The kernel's checks; `Err` names the first instruction it would refuse and why.
pub fn check(prog: &[Insn]) -> Result<(), String> {
    let len = prog.len();
    if len == 0 || len > MAX_INSNS {
        return Err(format!("length {len} not in 1..={MAX_INSNS}"));
    }
    for (pc, i) in prog.iter().enumerate() {
        let bad = |why: &str| Err(format!("insn {pc} {i:?}: {why}"));
        let class = i.code & 0x07;
        match class {
            LD | LDX => {
                let mode = i.code & 0xe0;
                let size = i.code & 0x18;
                match mode {
                    // BPF_ABS: only 32-bit, aligned, inside seccomp_data (seccomp_check_filter).
                    0x20 if class == LD => {
                        if size != 0x00 {
                            return bad("BPF_ABS load that is not BPF_W");
                        }
                        if i.k >= SECCOMP_DATA_LEN || i.k & 3 != 0 {
                            return bad("load outside seccomp_data or unaligned");
                        }
                    }
                    0x00 => {} // BPF_IMM
                    0x60 if i.k >= MEMWORDS => return bad("BPF_MEM index out of range"),
                    0x60 => {}
                    0x80 if size == 0 => {} // BPF_LEN (seccomp turns it into the data length)
                    _ => return bad("load mode seccomp refuses (BPF_IND, BPF_MSH, ...)"),
                }
            }
            ST | STX => {
                if i.k >= MEMWORDS {
                    return bad("store index out of range");
                }
            }
            ALU => {
                let op = i.code & 0xf0;
                let src_k = i.code & 0x08 == 0;
                match op {
                    0x00 | 0x10 | 0x20 | 0x40 | 0x50 | 0xa0 | 0x80 => {}
                    0x30 | 0x90 if src_k && i.k == 0 => return bad("division by constant zero"),
                    0x30 | 0x90 => {}
                    0x60 | 0x70 if src_k && i.k >= 32 => return bad("shift of 32 or more"),
                    0x60 | 0x70 => {}
                    _ => return bad("unknown ALU op"),
                }
            }
            JMP => {
                let op = i.code & 0xf0;
                match op {
                    0x00 => {
                        // BPF_JA: k is an offset from the next instruction.
                        if u64::from(i.k) >= (len - pc - 1) as u64 {
                            return bad("BPF_JA out of range");
                        }
                    }
                    0x10 | 0x20 | 0x30 | 0x40 => {
                        if pc + 1 + usize::from(i.jt) >= len || pc + 1 + usize::from(i.jf) >= len {
                            return bad("conditional jump out of range");
                        }
                    }
                    _ => return bad("unknown jump"),
                }
            }
            RET => {
                if !matches!(i.code & 0x18, 0x00 | 0x10) {
                    return bad("RET of neither K nor A");
                }
            }
            MISC => {
                if !matches!(i.code & 0xf8, 0x00 | 0x80) {
                    return bad("unknown MISC op");
                }
            }
            _ => unreachable!("class is 3 bits"),
        }
    }
    let last = prog[len - 1];
    if last.code & 0x07 != RET {
        return Err(format!("last instruction {last:?} is not a RET"));
    }
    Ok(())
}

/// `struct seccomp_data` (x86_64 layout).
#[derive(Debug, Clone, Copy, Default)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, off: u32) -> u32 {
        let mut b = [0u8; SECCOMP_DATA_LEN as usize];
        b[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        b[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        b[8..16].copy_from_slice(&self.ip.to_ne_bytes());
        for (n, a) in self.args.iter().enumerate() {
            b[16 + 8 * n..24 + 8 * n].copy_from_slice(&a.to_ne_bytes());
        }
        let o = off as usize;
        u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
    }
}

/// Runs a program that passed [`check`]; returns the `SECCOMP_RET_*` value. Every jump is
/// forward, so this ends within `prog.len()` steps.
pub fn run(prog: &[Insn], d: &SeccompData) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; MEMWORDS as usize];
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        let src = if i.code & 0x08 != 0 { x } else { i.k };
        match i.code & 0x07 {
            LD | LDX => {
                let v = match i.code & 0xe0 {
                    0x20 => d.word(i.k),
                    0x00 => i.k,
                    0x60 => mem[i.k as usize],
                    _ => SECCOMP_DATA_LEN,
                };
                if i.code & 0x07 == LD { a = v } else { x = v }
            }
            ST => mem[i.k as usize] = a,
            STX => mem[i.k as usize] = x,
            ALU => {
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src).unwrap_or(0),
                    0x90 => a.checked_rem(src).unwrap_or(0),
                    0x40 => a | src,
                    0x50 => a & src,
                    0xa0 => a ^ src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    _ => a.wrapping_neg(),
                }
            }
            JMP => {
                let op = i.code & 0xf0;
                if op == 0x00 {
                    pc += i.k as usize;
                } else {
                    let t = match op {
                        0x10 => a == src,
                        0x20 => a > src,
                        0x30 => a >= src,
                        _ => a & src != 0,
                    };
                    pc += usize::from(if t { i.jt } else { i.jf });
                }
            }
            RET => return if i.code & 0x18 == 0x10 { a } else { i.k },
            _ => {
                if i.code & 0xf8 == 0x00 {
                    x = a
                } else {
                    a = x
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    #[test]
    fn the_checker_refuses_what_the_kernel_refuses() {
        assert!(check(&[]).is_err());
        assert!(check(&[i(0x20, 0, 0, 0)]).is_err(), "no RET at the end");
        assert!(
            check(&[i(0x20, 0, 0, 64), i(0x06, 0, 0, 0)]).is_err(),
            "load past data"
        );
        assert!(
            check(&[i(0x20, 0, 0, 2), i(0x06, 0, 0, 0)]).is_err(),
            "unaligned"
        );
        assert!(
            check(&[i(0x15, 1, 0, 0), i(0x06, 0, 0, 0)]).is_err(),
            "jt past the end"
        );
        assert!(
            check(&[i(0x05, 0, 0, 1), i(0x06, 0, 0, 0)]).is_err(),
            "ja past the end"
        );
        assert!(check(&vec![i(0x06, 0, 0, 0); MAX_INSNS + 1]).is_err());
        let ok = [
            i(0x20, 0, 0, 4),
            i(0x15, 0, 1, 0xc000_003e),
            i(0x06, 0, 0, 0x7fff_0000),
            i(0x06, 0, 0, 0),
        ];
        check(&ok).unwrap();
        let x86 = SeccompData {
            arch: 0xc000_003e,
            ..Default::default()
        };
        assert_eq!(run(&ok, &x86), 0x7fff_0000);
        assert_eq!(run(&ok, &SeccompData::default()), 0);
    }
}
