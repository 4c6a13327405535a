//! The cgroup v2 device filter: a `BPF_PROG_TYPE_CGROUP_DEVICE` program assembled by hand from
//! the emulator's clean rule set (as runc's and crun's), with the same semantics as v1: with a
//! default allow, a deny exception matches when it overlaps the requested access; with a default
//! deny, an allow exception matches when it covers all of it.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` in
//! `r1`, where `access_type` is `(access << 16) | type` (type 1 block, 2 char; access bits
//! mknod 1, read 2, write 4), and returns 1 to allow, 0 to deny.

use super::emulator::{DevType, Emulator, Rule};
use crate::error::{Error, Result};

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Offset (jumps: instructions to skip).
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

// Opcodes (class | size/op | source).
const LDX_W_MEM: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JNE_K: u8 = 0x55;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_X: u8 = 0x5d;
const EXIT: u8 = 0x95;

/// `BPF_DEVCG_DEV_BLOCK` / `BPF_DEVCG_DEV_CHAR`.
pub const DEV_BLOCK: u32 = 1;
/// `BPF_DEVCG_DEV_CHAR`.
pub const DEV_CHAR: u32 = 2;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

impl Insn {
    /// The 8-byte little-endian encoding the kernel takes.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }
}

/// Encodes a program as the byte stream of its instructions.
pub fn to_bytes(prog: &[Insn]) -> Vec<u8> {
    prog.iter().flat_map(Insn::encode).collect()
}

/// Builds the device filter of the emulator's state: one block per exception, then the default.
pub fn program(emu: &Emulator) -> Result<Vec<Insn>> {
    let rules = emu.rules();
    let default_allow = emu.is_blacklist();
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut p = vec![
        insn(LDX_W_MEM, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W_MEM, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_W_MEM, 4, 1, 4, 0),
        insn(LDX_W_MEM, 5, 1, 8, 0),
    ];
    for (i, rule) in rules.iter().enumerate() {
        if rule.typ == DevType::All {
            if i != 0 || rule.allow != default_allow {
                return Err(invalid(rule, "a reset rule may only come first"));
            }
            continue;
        }
        if rule.allow == default_allow {
            return Err(invalid(rule, "an exception must differ from the default"));
        }
        p.extend(block(rule)?);
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(default_allow)));
    p.push(insn(EXIT, 0, 0, 0, 0));
    Ok(p)
}

fn invalid(rule: &Rule, reason: &str) -> Error {
    Error::InvalidResource {
        resource: "devices".to_owned(),
        value: rule.cgroup_string(),
        reason: reason.to_owned(),
    }
}

/// The checks of one exception; each failing check jumps to the next block (the offset is the
/// number of instructions left in this block after the jump).
fn block(rule: &Rule) -> Result<Vec<Insn>> {
    // Checks as (instructions, index of the jump inside them).
    let mut checks: Vec<Insn> = Vec::new();
    let mut jumps: Vec<usize> = Vec::new();
    let typ = match rule.typ {
        DevType::Block => DEV_BLOCK,
        DevType::Char => DEV_CHAR,
        DevType::All => unreachable!("filtered by the caller"),
    };
    jumps.push(checks.len());
    checks.push(insn(JMP_JNE_K, 2, 0, 0, typ as i32));
    let bits = i32::from(rule.access.bits());
    if rule.allow {
        // Requested access must be a subset: (r3 & bits) == r3.
        if bits != 7 {
            checks.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            checks.push(insn(ALU32_AND_K, 1, 0, 0, bits));
            jumps.push(checks.len());
            checks.push(insn(JMP_JNE_X, 1, 3, 0, 0));
        }
    } else {
        // Requested access must overlap: (r3 & bits) != 0.
        checks.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
        checks.push(insn(ALU32_AND_K, 1, 0, 0, bits));
        jumps.push(checks.len());
        checks.push(insn(JMP_JEQ_K, 1, 0, 0, 0));
    }
    for (reg, v) in [(4u8, rule.major), (5u8, rule.minor)] {
        if let Some(v) = v {
            let imm = i32::try_from(v).map_err(|_| invalid(rule, "device number too large"))?;
            jumps.push(checks.len());
            checks.push(insn(JMP_JNE_K, reg, 0, 0, imm));
        }
    }
    checks.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)));
    checks.push(insn(EXIT, 0, 0, 0, 0));
    let len = checks.len();
    for j in jumps {
        // Jump to the first instruction after this block.
        checks[j].off = (len - j - 1) as i16;
    }
    Ok(checks)
}

/// The `access_type` word of the device context.
pub fn access_type(typ: DevType, access: super::emulator::Access) -> u32 {
    let t = match typ {
        DevType::Block => DEV_BLOCK,
        DevType::Char => DEV_CHAR,
        DevType::All => 0,
    };
    (u32::from(access.bits()) << 16) | t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        let i = insn(LDX_W_MEM, 4, 1, 4, 0);
        assert_eq!(i.encode(), [0x61, 0x14, 4, 0, 0, 0, 0, 0]);
        let i = insn(JMP_JNE_K, 2, 0, 3, -1);
        assert_eq!(i.encode(), [0x55, 0x02, 3, 0, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn allow_all_is_a_constant_program() {
        let mut e = Emulator::deny_all();
        e.apply(&Rule {
            allow: true,
            typ: DevType::All,
            major: None,
            minor: None,
            access: super::super::emulator::Access::ALL,
        })
        .unwrap();
        let p = program(&e).unwrap();
        assert_eq!(p.len(), 8);
        assert_eq!(p[6], insn(ALU64_MOV_K, 0, 0, 0, 1));
    }
}

#[cfg(test)]
mod interpreted {
    //! The generated program run by an eBPF interpreter (rbpf) against the emulator's v1
    //! semantics, for random rule sets and devices.
    use super::super::emulator::Access;
    use super::*;
    use proptest::prelude::*;

    fn run(prog: &[Insn], typ: DevType, access: Access, major: u32, minor: u32) -> bool {
        let bytes = to_bytes(prog);
        let vm = rbpf::EbpfVmRaw::new(Some(&bytes)).expect("program accepted by the verifier");
        let mut ctx = Vec::with_capacity(12);
        ctx.extend_from_slice(&access_type(typ, access).to_le_bytes());
        ctx.extend_from_slice(&major.to_le_bytes());
        ctx.extend_from_slice(&minor.to_le_bytes());
        match vm.execute_program(&mut ctx).expect("program runs") {
            0 => false,
            1 => true,
            other => panic!("program returned {other}"),
        }
    }

    fn rule_strategy() -> impl Strategy<Value = Rule> {
        (
            any::<bool>(),
            prop_oneof![
                1 => Just(DevType::All),
                4 => Just(DevType::Block),
                4 => Just(DevType::Char)
            ],
            prop::option::of(0u32..4),
            prop::option::of(0u32..4),
            1u8..8,
        )
            .prop_map(|(allow, typ, major, minor, a)| Rule {
                allow,
                typ,
                major,
                minor,
                access: Access::from_bits(a),
            })
    }

    #[test]
    fn runc_default_rules() {
        // Deny all, then runc's default allow list (null, zero, full, random, urandom, tty,
        // ptmx, pts) and mknod of any char/block device.
        let mut e = Emulator::deny_all();
        let allow = |typ, major, minor, a: &str| Rule {
            allow: true,
            typ,
            major,
            minor,
            access: Access::parse(a).unwrap(),
        };
        for r in [
            allow(DevType::Char, None, None, "m"),
            allow(DevType::Block, None, None, "m"),
            allow(DevType::Char, Some(1), Some(3), "rwm"),
            allow(DevType::Char, Some(1), Some(5), "rwm"),
            allow(DevType::Char, Some(5), Some(0), "rwm"),
            allow(DevType::Char, Some(136), None, "rwm"),
        ] {
            e.apply(&r).unwrap();
        }
        let p = program(&e).unwrap();
        let rw = Access::parse("rw").unwrap();
        assert!(run(&p, DevType::Char, rw, 1, 3));
        assert!(run(&p, DevType::Char, rw, 136, 7));
        assert!(run(&p, DevType::Char, Access::MKNOD, 10, 200));
        assert!(run(&p, DevType::Block, Access::MKNOD, 8, 0));
        assert!(!run(&p, DevType::Block, Access::READ, 8, 0));
        assert!(!run(&p, DevType::Char, rw, 1, 4));
        assert!(!run(&p, DevType::Char, Access::WRITE, 10, 200));
    }

    #[test]
    fn deny_exceptions_match_on_overlap() {
        let mut e = Emulator::deny_all();
        e.apply(&Rule {
            allow: true,
            typ: DevType::All,
            major: None,
            minor: None,
            access: Access::ALL,
        })
        .unwrap();
        e.apply(&Rule {
            allow: false,
            typ: DevType::Char,
            major: Some(1),
            minor: Some(3),
            access: Access::WRITE,
        })
        .unwrap();
        let p = program(&e).unwrap();
        assert!(run(&p, DevType::Char, Access::READ, 1, 3));
        assert!(!run(&p, DevType::Char, Access::parse("rw").unwrap(), 1, 3));
        assert!(run(&p, DevType::Block, Access::WRITE, 1, 3));
    }

    proptest! {
        #[test]
        fn program_agrees_with_emulator(
            rules in prop::collection::vec(rule_strategy(), 0..8),
            typ in prop_oneof![Just(DevType::Block), Just(DevType::Char)],
            major in 0u32..5,
            minor in 0u32..5,
            access in 1u8..8,
        ) {
            let mut e = Emulator::deny_all();
            for r in &rules {
                // Refused holes are refused by both; skip them as runc does (error).
                let _ = e.apply(r);
            }
            let p = program(&e).unwrap();
            let access = Access::from_bits(access);
            prop_assert_eq!(
                run(&p, typ, access, major, minor),
                e.allows(typ, major, minor, access),
                "rules {:?}", e.rules()
            );
        }
    }
}
