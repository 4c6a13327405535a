//! A small classic-BPF assembler for seccomp programs: instructions with symbolic jump targets,
//! resolved into the kernel's `struct sock_filter` layout.

/// `BPF_LD | BPF_W | BPF_ABS`: load a 32-bit word of `struct seccomp_data`.
pub(crate) const LD_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`.
pub(crate) const ALU_AND: u16 = 0x54;
/// `BPF_JMP | BPF_JA`.
pub(crate) const JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub(crate) const JEQ: u16 = 0x15;
/// `BPF_JMP | BPF_JGT | BPF_K`.
pub(crate) const JGT: u16 = 0x25;
/// `BPF_JMP | BPF_JGE | BPF_K`.
pub(crate) const JGE: u16 = 0x35;
/// `BPF_JMP | BPF_JSET | BPF_K`.
pub(crate) const JSET: u16 = 0x45;
/// `BPF_RET | BPF_K`.
pub(crate) const RET: u16 = 0x06;

/// Offset of `nr` in `struct seccomp_data`.
pub(crate) const OFF_NR: u32 = 0;
/// Offset of `arch`.
pub(crate) const OFF_ARCH: u32 = 4;
/// Offset of `args[0]` (each argument is 8 bytes, low word first on little-endian).
pub(crate) const OFF_ARGS: u32 = 16;

/// Largest program the kernel accepts (`BPF_MAXINSNS`).
pub(crate) const MAX_INSNS: usize = 4096;

/// One resolved instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    /// Opcode.
    pub code: u16,
    /// Offset when the condition holds.
    pub jt: u8,
    /// Offset when it does not.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

impl Insn {
    /// The 8 bytes of `struct sock_filter`, native endian.
    pub(crate) fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0..2].copy_from_slice(&self.code.to_ne_bytes());
        b[2] = self.jt;
        b[3] = self.jf;
        b[4..8].copy_from_slice(&self.k.to_ne_bytes());
        b
    }

    #[cfg(test)]
    /// Parses 8 bytes written by [`Insn::to_bytes`].
    pub(crate) fn from_bytes(b: &[u8]) -> Insn {
        Insn {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A jump target: the next instruction or a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum To {
    /// Fall through.
    Next,
    /// A label made by [`Asm::label`].
    L(usize),
    /// Already resolved: skip this many instructions.
    Rel(usize),
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    code: u16,
    jt: To,
    jf: To,
    k: u32,
}

/// Why a program could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AsmError {
    /// A conditional jump is longer than 255 instructions.
    JumpTooFar(usize),
    /// A label was used but never placed.
    Unplaced(usize),
    /// A label points backwards.
    Backwards(usize),
}

/// Instructions being assembled.
#[derive(Debug, Default)]
pub(crate) struct Asm {
    code: Vec<Pending>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    /// A new label, to be placed later with [`Asm::place`].
    pub(crate) fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    /// Places a label at the next instruction.
    pub(crate) fn place(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }

    /// `A = seccomp_data[off]`.
    pub(crate) fn ld(&mut self, off: u32) {
        self.push(LD_ABS, To::Next, To::Next, off);
    }

    /// `A &= k`.
    pub(crate) fn and(&mut self, k: u32) {
        self.push(ALU_AND, To::Next, To::Next, k);
    }

    /// A conditional jump (`JEQ`, `JGT`, `JGE`, `JSET`).
    pub(crate) fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.push(code, jt, jf, k);
    }

    /// An unconditional jump.
    pub(crate) fn ja(&mut self, to: usize) {
        self.push(JA, To::L(to), To::Next, 0);
    }

    /// An unconditional jump over the next `n` instructions.
    pub(crate) fn ja_rel(&mut self, n: usize) {
        self.push(JA, To::Rel(n), To::Next, 0);
    }

    /// Returns `k` to the kernel.
    pub(crate) fn ret(&mut self, k: u32) {
        self.push(RET, To::Next, To::Next, k);
    }

    /// Appends resolved instructions (whose jumps stay within them).
    pub(crate) fn raw(&mut self, insns: &[Insn]) {
        for i in insns {
            if i.code == JA {
                self.push(JA, To::Rel(i.k as usize), To::Next, 0);
            } else {
                self.push(i.code, To::Rel(i.jt.into()), To::Rel(i.jf.into()), i.k);
            }
        }
    }

    fn push(&mut self, code: u16, jt: To, jf: To, k: u32) {
        self.code.push(Pending { code, jt, jf, k });
    }

    fn offset(&self, at: usize, to: To) -> Result<usize, AsmError> {
        match to {
            To::Next => Ok(0),
            To::Rel(n) => Ok(n),
            To::L(l) => {
                let pos = self.labels[l].ok_or(AsmError::Unplaced(l))?;
                pos.checked_sub(at + 1).ok_or(AsmError::Backwards(l))
            }
        }
    }

    /// Resolves the labels.
    pub(crate) fn finish(self) -> Result<Vec<Insn>, AsmError> {
        let mut out = Vec::with_capacity(self.code.len());
        for (i, p) in self.code.iter().enumerate() {
            if p.code == JA {
                let off = self.offset(i, p.jt)?;
                out.push(Insn {
                    code: JA,
                    jt: 0,
                    jf: 0,
                    k: off as u32,
                });
                continue;
            }
            let short = |t| -> Result<u8, AsmError> {
                let o = self.offset(i, t)?;
                u8::try_from(o).map_err(|_| AsmError::JumpTooFar(i))
            };
            out.push(Insn {
                code: p.code,
                jt: short(p.jt)?,
                jf: short(p.jf)?,
                k: p.k,
            });
        }
        Ok(out)
    }
}
