//! Tests of the seccomp compiler: a small cBPF interpreter runs the generated programs, and
//! child processes load them for real.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::path::Path;

use super::bpf::{self, Insn};
use super::*;
use crate::config::SeccompArg;
use crate::security::child::{in_child, run_in_child};
use proptest::prelude::*;

const X86_64: u32 = AUDIT_ARCH_X86_64;
const I386: u32 = AUDIT_ARCH_I386;
const AARCH64: u32 = 0xc000_00b7;
const ALLOW: u32 = RET_ALLOW;
const fn errno(e: i32) -> u32 {
    RET_ERRNO | e as u32
}

/// Runs a seccomp program on `struct seccomp_data` like the kernel does; checks the kernel's
/// static rules on the way (jumps in range, aligned loads in `seccomp_data`, ends in a return).
fn run(p: &Program, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let prog = p.insns();
    check(&prog);
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        let cond = |c: bool| if c { i.jt as usize } else { i.jf as usize };
        match i.code {
            bpf::LD_ABS => {
                let k = i.k as usize;
                a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
            }
            bpf::ALU_AND => a &= i.k,
            bpf::JA => pc += i.k as usize,
            bpf::JEQ => pc += cond(a == i.k),
            bpf::JGT => pc += cond(a > i.k),
            bpf::JGE => pc += cond(a >= i.k),
            bpf::JSET => pc += cond(a & i.k != 0),
            bpf::RET => return i.k,
            c => panic!("unexpected opcode {c:#x} at {}", pc - 1),
        }
    }
}

/// The checks of the kernel's `seccomp_check_filter` + `bpf_check_classic` that matter here.
fn check(prog: &[Insn]) {
    assert!(!prog.is_empty() && prog.len() <= MAX_INSNS);
    assert_eq!(
        prog.last().unwrap().code,
        bpf::RET,
        "must end with a return"
    );
    for (pc, i) in prog.iter().enumerate() {
        match i.code {
            bpf::LD_ABS => assert!(i.k % 4 == 0 && i.k < 64, "load {} at {pc}", i.k),
            bpf::JA => assert!(
                pc + 1 + (i.k as usize) < prog.len(),
                "ja out of range at {pc}"
            ),
            bpf::JEQ | bpf::JGT | bpf::JGE | bpf::JSET => {
                assert!(
                    pc + 1 + (i.jt.max(i.jf) as usize) < prog.len(),
                    "jump at {pc}"
                );
            }
            _ => {}
        }
    }
}

fn nr(name: &str) -> u32 {
    Abi::X86_64.resolve(name).unwrap()
}

fn rule(names: &[&str], action: &str, args: Vec<SeccompArg>) -> SeccompRule {
    SeccompRule {
        names: names.iter().map(|s| s.to_string()).collect(),
        action: action.into(),
        errno_ret: None,
        args,
    }
}

fn arg(index: u32, op: &str, value: u64, value_two: u64) -> SeccompArg {
    SeccompArg {
        index,
        value,
        value_two,
        op: op.into(),
    }
}

fn profile(default: &str, rules: Vec<SeccompRule>) -> Seccomp {
    Seccomp {
        default_action: default.into(),
        default_errno_ret: None,
        architectures: vec![],
        flags: vec![],
        listener_path: None,
        listener_metadata: None,
        syscalls: rules,
    }
}

/// The OCI JSON of a profile (camelCase) as the model.
pub(super) fn from_oci_json(v: &serde_json::Value) -> Seccomp {
    let strs = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    Seccomp {
        default_action: v["defaultAction"].as_str().unwrap().into(),
        default_errno_ret: v["defaultErrnoRet"].as_u64().map(|e| e as u32),
        architectures: strs(&v["architectures"]),
        flags: strs(&v["flags"]),
        listener_path: None,
        listener_metadata: None,
        syscalls: v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| SeccompRule {
                names: strs(&r["names"]),
                action: r["action"].as_str().unwrap().into(),
                errno_ret: r["errnoRet"].as_u64().map(|e| e as u32),
                args: r["args"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| SeccompArg {
                                index: x["index"].as_u64().unwrap() as u32,
                                value: x["value"].as_u64().unwrap(),
                                value_two: x["valueTwo"].as_u64().unwrap_or(0),
                                op: x["op"].as_str().unwrap().into(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

fn docker_default() -> Seccomp {
    let text = include_str!("../../../tests/fixtures/seccomp/docker-default.json");
    from_oci_json(&serde_json::from_str(text).unwrap())
}

#[test]
fn errno_default_with_allow_list() {
    let p = compile(&profile(
        "SCMP_ACT_ERRNO",
        vec![rule(
            &["read", "write", "getpid", "no_such_call"],
            "SCMP_ACT_ALLOW",
            vec![],
        )],
    ))
    .unwrap();
    assert_eq!(
        p.flags, FLAG_SPEC_ALLOW,
        "no flags given: SPEC_ALLOW as runc"
    );
    assert!(!p.needs_listener);
    let z = [0; 6];
    assert_eq!(run(&p, X86_64, nr("read"), z), ALLOW);
    assert_eq!(run(&p, X86_64, nr("getpid"), z), ALLOW);
    assert_eq!(run(&p, X86_64, nr("open"), z), errno(libc::EPERM));
    assert_eq!(run(&p, X86_64, nr("close"), z), errno(libc::EPERM));
    // Above getpid (39), the largest number named: the ENOSYS stub.
    assert_eq!(run(&p, X86_64, nr("getppid"), z), errno(libc::ENOSYS));
    // Other ABIs are not in the filter.
    assert_eq!(run(&p, I386, 3, z), RET_KILL_THREAD);
    assert_eq!(run(&p, AARCH64, 63, z), RET_KILL_THREAD);
    assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT, z), RET_KILL_THREAD);
}

#[test]
fn enosys_stub() {
    let p = compile(&profile(
        "SCMP_ACT_KILL_PROCESS",
        vec![rule(&["getpid", "openat"], "SCMP_ACT_ALLOW", vec![])],
    ))
    .unwrap();
    let z = [0; 6];
    let max = nr("openat"); // 257
    assert_eq!(run(&p, X86_64, max, z), ALLOW);
    assert_eq!(run(&p, X86_64, max - 1, z), RET_KILL_PROCESS);
    assert_eq!(run(&p, X86_64, max + 1, z), errno(libc::ENOSYS));
    assert_eq!(run(&p, X86_64, nr("clone3"), z), errno(libc::ENOSYS));
    // Permissive defaults and defaultErrnoRet = ENOSYS get no stub.
    for (default, errno_ret) in [("SCMP_ACT_ALLOW", None), ("SCMP_ACT_LOG", None)] {
        let mut prof = profile(default, vec![rule(&["getpid"], "SCMP_ACT_ERRNO", vec![])]);
        prof.default_errno_ret = errno_ret;
        let p = compile(&prof).unwrap();
        let d = run(&p, X86_64, 1000, z);
        assert_eq!(
            d,
            if default == "SCMP_ACT_ALLOW" {
                ALLOW
            } else {
                RET_LOG
            }
        );
        assert_eq!(run(&p, X86_64, nr("getpid"), z), errno(libc::EPERM));
    }
    let mut prof = profile(
        "SCMP_ACT_ERRNO",
        vec![rule(&["getpid"], "SCMP_ACT_ALLOW", vec![])],
    );
    prof.default_errno_ret = Some(libc::ENOSYS as u32);
    let p = compile(&prof).unwrap();
    let stubless = p.len();
    prof.default_errno_ret = Some(libc::EACCES as u32);
    assert_eq!(compile(&prof).unwrap().len(), stubless + 2);
}

#[test]
fn masked_eq() {
    // Docker's clone rule: no namespace flags (mask 0x7E020000, datum 0).
    let p = compile(&profile(
        "SCMP_ACT_ERRNO",
        vec![rule(
            &["clone"],
            "SCMP_ACT_ALLOW",
            vec![arg(0, "SCMP_CMP_MASKED_EQ", 0x7E02_0000, 0)],
        )],
    ))
    .unwrap();
    let call = |flags: u64| run(&p, X86_64, nr("clone"), [flags, 0, 0, 0, 0, 0]);
    let thread = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD) as u64;
    assert_eq!(call(thread), ALLOW);
    assert_eq!(call(libc::SIGCHLD as u64), ALLOW);
    assert_eq!(call(libc::CLONE_NEWUSER as u64), errno(libc::EPERM));
    assert_eq!(call(libc::CLONE_NEWNS as u64 | thread), errno(libc::EPERM));
    // Bits above 32 are not masked: allowed.
    assert_eq!(call(1 << 40), ALLOW);
    // A 64-bit mask and datum.
    let p = compile(&profile(
        "SCMP_ACT_ALLOW",
        vec![rule(
            &["ioctl"],
            "SCMP_ACT_ERRNO",
            vec![arg(
                1,
                "SCMP_CMP_MASKED_EQ",
                0xff00_0000_0000_00ff,
                0x1200_0000_0000_0034,
            )],
        )],
    ))
    .unwrap();
    let call = |x: u64| run(&p, X86_64, nr("ioctl"), [0, x, 0, 0, 0, 0]);
    assert_eq!(call(0x12ab_cdef_0000_5634), errno(libc::EPERM));
    assert_eq!(call(0x1300_0000_0000_0034), ALLOW);
    assert_eq!(call(0x1200_0000_0000_0035), ALLOW);
}

#[test]
fn several_args() {
    // Different indexes: ANDed.
    let p = compile(&profile(
        "SCMP_ACT_ERRNO",
        vec![rule(
            &["dup3"],
            "SCMP_ACT_ALLOW",
            vec![arg(0, "SCMP_CMP_EQ", 1, 0), arg(2, "SCMP_CMP_GT", 5, 0)],
        )],
    ))
    .unwrap();
    let call = |a: u64, c: u64| run(&p, X86_64, nr("dup3"), [a, 0, c, 0, 0, 0]);
    assert_eq!(call(1, 6), ALLOW);
    assert_eq!(call(1, 5), errno(libc::EPERM));
    assert_eq!(call(2, 6), errno(libc::EPERM));
    // The same index twice: each condition is a rule of its own (ORed), as runc.
    let p = compile(&profile(
        "SCMP_ACT_ERRNO",
        vec![rule(
            &["personality"],
            "SCMP_ACT_ALLOW",
            vec![
                arg(0, "SCMP_CMP_EQ", 0, 0),
                arg(0, "SCMP_CMP_EQ", 8, 0),
                arg(1, "SCMP_CMP_EQ", 3, 0),
            ],
        )],
    ))
    .unwrap();
    let call = |a: u64, b: u64| run(&p, X86_64, nr("personality"), [a, b, 0, 0, 0, 0]);
    assert_eq!(call(0, 0), ALLOW);
    assert_eq!(call(8, 0), ALLOW);
    assert_eq!(call(9, 3), ALLOW);
    assert_eq!(call(9, 0), errno(libc::EPERM));
}

#[test]
fn rule_order_and_actions() {
    let mut r_errno = rule(
        &["kill"],
        "SCMP_ACT_ERRNO",
        vec![arg(1, "SCMP_CMP_EQ", 9, 0)],
    );
    r_errno.errno_ret = Some(libc::EACCES as u32);
    let mut r_trace = rule(&["ptrace"], "SCMP_ACT_TRACE", vec![]);
    r_trace.errno_ret = Some(7);
    let p = compile(&profile(
        "SCMP_ACT_KILL",
        vec![
            rule(&["kill"], "SCMP_ACT_ALLOW", vec![]),
            r_errno,
            rule(&["getpid"], "SCMP_ACT_LOG", vec![]),
            rule(&["getppid"], "SCMP_ACT_TRAP", vec![]),
            rule(&["gettid"], "SCMP_ACT_KILL_PROCESS", vec![]),
            rule(&["getuid"], "SCMP_ACT_KILL_THREAD", vec![]),
            r_trace,
            rule(&["read"], "SCMP_ACT_ALLOW", vec![]),
        ],
    ))
    .unwrap();
    let z = [0; 6];
    // The unconditional rule wins over the conditional one (libseccomp, so runc, does so too).
    assert_eq!(run(&p, X86_64, nr("kill"), [1, 9, 0, 0, 0, 0]), ALLOW);
    assert_eq!(run(&p, X86_64, nr("kill"), [1, 15, 0, 0, 0, 0]), ALLOW);
    // Without it, the conditional rule applies.
    let mut r_errno = rule(
        &["kill"],
        "SCMP_ACT_ERRNO",
        vec![arg(1, "SCMP_CMP_EQ", 9, 0)],
    );
    r_errno.errno_ret = Some(libc::EACCES as u32);
    let p2 = compile(&profile("SCMP_ACT_ALLOW", vec![r_errno])).unwrap();
    assert_eq!(
        run(&p2, X86_64, nr("kill"), [1, 9, 0, 0, 0, 0]),
        errno(libc::EACCES)
    );
    assert_eq!(run(&p, X86_64, nr("getpid"), z), RET_LOG);
    assert_eq!(run(&p, X86_64, nr("getppid"), z), RET_TRAP);
    assert_eq!(run(&p, X86_64, nr("gettid"), z), RET_KILL_PROCESS);
    assert_eq!(run(&p, X86_64, nr("getuid"), z), RET_KILL_THREAD);
    assert_eq!(run(&p, X86_64, nr("ptrace"), z), RET_TRACE | 7);
    assert_eq!(run(&p, X86_64, nr("write"), z), RET_KILL_THREAD);
}

#[test]
fn architectures() {
    let mut prof = profile(
        "SCMP_ACT_ERRNO",
        vec![rule(&["getpid", "arch_prctl"], "SCMP_ACT_ALLOW", vec![])],
    );
    prof.architectures = vec![
        "SCMP_ARCH_X86".into(),
        "SCMP_ARCH_X32".into(),
        "SCMP_ARCH_AARCH64".into(),
    ];
    let p = compile(&prof).unwrap();
    let z = [0; 6];
    assert_eq!(run(&p, X86_64, 39, z), ALLOW); // x86_64 getpid (native, always there)
    assert_eq!(run(&p, I386, 20, z), ALLOW); // i386 getpid
    assert_eq!(run(&p, I386, 39, z), errno(libc::EPERM)); // i386 39 is mkdir
    assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 39, z), ALLOW); // x32 getpid
    assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 158, z), ALLOW); // x32 arch_prctl
    assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 40, z), errno(libc::EPERM));
    assert_eq!(run(&p, AARCH64, 172, z), RET_KILL_THREAD);
    // i386 compares only the low 32 bits of an argument.
    let mut prof = profile(
        "SCMP_ACT_ERRNO",
        vec![rule(
            &["personality"],
            "SCMP_ACT_ALLOW",
            vec![arg(0, "SCMP_CMP_EQ", 8, 0)],
        )],
    );
    prof.architectures = vec!["SCMP_ARCH_X86".into()];
    let p = compile(&prof).unwrap();
    assert_eq!(run(&p, I386, 136, [8 | 1 << 32, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        run(&p, X86_64, 135, [8 | 1 << 32, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(run(&p, X86_64, 135, [8, 0, 0, 0, 0, 0]), ALLOW);
}

#[test]
fn errors_and_flags() {
    let mut prof = profile("SCMP_ACT_NOTIFY", vec![]);
    prof.listener_path = Some("/run/agent.sock".into());
    assert!(matches!(compile(&prof), Err(SeccompError::Notify(_))));
    let mut prof = profile(
        "SCMP_ACT_ALLOW",
        vec![rule(&["write", "read"], "SCMP_ACT_NOTIFY", vec![])],
    );
    prof.listener_path = Some("/run/agent.sock".into());
    let e = compile(&prof).unwrap_err();
    assert!(e.to_string().contains("write"), "{e}");
    let prof = profile(
        "SCMP_ACT_ALLOW",
        vec![rule(&["read"], "SCMP_ACT_NOTIFY", vec![])],
    );
    assert!(
        compile(&prof)
            .unwrap_err()
            .to_string()
            .contains("listenerPath")
    );
    let mut prof = profile(
        "SCMP_ACT_ALLOW",
        vec![rule(&["getppid"], "SCMP_ACT_NOTIFY", vec![])],
    );
    prof.listener_path = Some("/run/agent.sock".into());
    prof.flags = vec!["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".into()];
    let p = compile(&prof).unwrap();
    assert!(p.needs_listener);
    assert_eq!(p.flags, FLAG_WAIT_KILLABLE_RECV);
    assert_eq!(run(&p, X86_64, nr("getppid"), [0; 6]), RET_USER_NOTIF);

    let e = compile(&profile("SCMP_ACT_MAYBE", vec![])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "seccomp: unknown action \"SCMP_ACT_MAYBE\" (linux.seccomp.defaultAction)"
    );
    let e = compile(&profile(
        "SCMP_ACT_ERRNO",
        vec![rule(
            &["read"],
            "SCMP_ACT_ALLOW",
            vec![arg(6, "SCMP_CMP_EQ", 0, 0)],
        )],
    ))
    .unwrap_err();
    assert!(e.to_string().contains("syscalls[0].args[0]"), "{e}");
    let e = compile(&profile(
        "SCMP_ACT_ERRNO",
        vec![rule(
            &["read"],
            "SCMP_ACT_ALLOW",
            vec![arg(0, "SCMP_CMP_ABOUT", 0, 0)],
        )],
    ))
    .unwrap_err();
    assert!(e.to_string().contains("SCMP_CMP_ABOUT"), "{e}");
    let mut prof = profile("SCMP_ACT_ERRNO", vec![]);
    prof.default_errno_ret = Some(70000);
    assert!(compile(&prof).unwrap_err().to_string().contains("70000"));
    prof.default_errno_ret = None;
    prof.architectures = vec!["SCMP_ARCH_VAX".into()];
    assert!(matches!(compile(&prof), Err(SeccompError::UnknownArch(_))));
    prof.architectures = vec![];
    prof.flags = vec!["SECCOMP_FILTER_FLAG_TSYNC".into()];
    assert_eq!(compile(&prof).unwrap().flags, 0);
    prof.flags = vec![
        "SECCOMP_FILTER_FLAG_LOG".into(),
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW".into(),
    ];
    assert_eq!(compile(&prof).unwrap().flags, FLAG_LOG | FLAG_SPEC_ALLOW);
    prof.flags = vec!["SECCOMP_FILTER_FLAG_FAST".into()];
    assert!(matches!(compile(&prof), Err(SeccompError::UnknownFlag(_))));
}

#[test]
fn program_round_trips_as_json() {
    let p = compile(&docker_default()).unwrap();
    let j = serde_json::to_string(&p).unwrap();
    let back: Program = serde_json::from_str(&j).unwrap();
    assert_eq!(back, p);
    assert!(
        serde_json::from_str::<Program>(r#"{"filter":"0g","flags":0,"needs_listener":false}"#)
            .is_err()
    );
}

#[test]
fn docker_default_profile() {
    let p = compile(&docker_default()).unwrap();
    assert_eq!(p.flags, FLAG_SPEC_ALLOW);
    let z = [0; 6];
    let eperm = errno(libc::EPERM);
    for name in [
        "read",
        "write",
        "openat",
        "execve",
        "exit_group",
        "futex",
        "arch_prctl",
        "ptrace",
    ] {
        assert_eq!(run(&p, X86_64, nr(name), z), ALLOW, "{name}");
    }
    for name in [
        "mount",
        "unshare",
        "setns",
        "bpf",
        "reboot",
        "init_module",
        "kexec_load",
        "open_by_handle_at",
    ] {
        assert_eq!(run(&p, X86_64, nr(name), z), eperm, "{name}");
    }
    assert_eq!(run(&p, X86_64, nr("clone3"), z), errno(libc::ENOSYS));
    // Syscalls newer than the profile: ENOSYS (the largest one it names is futex_waitv, 449).
    assert_eq!(run(&p, X86_64, 450, z), errno(libc::ENOSYS));
    assert_eq!(run(&p, X86_64, nr("mseal"), z), errno(libc::ENOSYS));
    assert_eq!(run(&p, X86_64, 449, z), ALLOW);
    let clone = |flags: u64| run(&p, X86_64, nr("clone"), [flags, 0, 0, 0, 0, 0]);
    assert_eq!(clone(libc::SIGCHLD as u64), ALLOW);
    assert_eq!(clone((libc::CLONE_NEWPID | libc::SIGCHLD) as u64), eperm);
    let socket = |domain: u64| run(&p, X86_64, nr("socket"), [domain, 1, 0, 0, 0, 0]);
    assert_eq!(socket(libc::AF_INET as u64), ALLOW);
    assert_eq!(socket(libc::AF_VSOCK as u64), eperm);
    let personality = |v: u64| run(&p, X86_64, nr("personality"), [v, 0, 0, 0, 0, 0]);
    for v in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(personality(v), ALLOW, "{v:#x}");
    }
    assert_eq!(personality(1), eperm);
    // i386 and x32.
    assert_eq!(run(&p, I386, 20, z), ALLOW); // getpid
    assert_eq!(run(&p, I386, 102, z), ALLOW); // socketcall
    assert_eq!(run(&p, I386, 21, z), eperm); // mount
    assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | nr("read"), z), ALLOW);
    assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | 512, z), ALLOW); // x32 rt_sigaction
    assert_eq!(run(&p, X86_64, X32_SYSCALL_BIT | nr("mount"), z), eperm);
    assert_eq!(run(&p, AARCH64, 63, z), RET_KILL_THREAD);
    assert!(p.len() < 1300, "{} instructions", p.len());
}

proptest! {
    /// Every operator agrees with the unsigned 64-bit comparison it stands for.
    #[test]
    fn operators_match_u64_semantics(
        value in prop_oneof![any::<u64>(), 0u64..4, Just(u64::MAX), (0u64..4).prop_map(|x| x << 32)],
        delta in prop_oneof![Just(0i64), -2i64..3, any::<i64>()],
        hi_flip in any::<bool>(),
        mask in any::<u64>(),
        op in 0usize..7,
    ) {
        let ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
        let mut x = value.wrapping_add(delta as u64);
        if hi_flip { x ^= 1 << 33; }
        let (v1, v2) = if op == 6 { (mask, value & mask) } else { (value, 0) };
        let p = compile(&profile(
            "SCMP_ACT_ERRNO",
            vec![rule(&["lseek"], "SCMP_ACT_ALLOW", vec![arg(3, ops[op], v1, v2)])],
        )).unwrap();
        let want = match op {
            0 => x != value,
            1 => x < value,
            2 => x <= value,
            3 => x == value,
            4 => x >= value,
            5 => x > value,
            _ => x & mask == value & mask,
        };
        let got = run(&p, X86_64, nr("lseek"), [0, 0, 0, x, 0, 0]) == ALLOW;
        prop_assert_eq!(got, want, "{} {:#x} vs {:#x}", ops[op], x, value);
    }
}

/// Loads a filter for real in a child process: `getppid` fails with EPERM, `dup(12345)` with
/// errno 99 (argument condition), `dup(-1)` still reaches the kernel (EBADF), and the Docker
/// profile denies `mount`/`unshare` while normal calls work.
#[test]
fn load_errno_filter() {
    if !in_child() {
        run_in_child("security::seccomp::tests::load_errno_filter");
        return;
    }
    use crate::sys::seccomp::testing::syscall3;
    let mut r_dup = rule(
        &["dup"],
        "SCMP_ACT_ERRNO",
        vec![arg(0, "SCMP_CMP_EQ", 12345, 0)],
    );
    r_dup.errno_ret = Some(99);
    let p = compile(&profile(
        "SCMP_ACT_ALLOW",
        vec![rule(&["getppid"], "SCMP_ACT_ERRNO", vec![]), r_dup],
    ))
    .unwrap();
    assert!(syscall3(libc::SYS_getppid, 0, 0, 0).unwrap() > 0);
    rustix::thread::set_no_new_privs(true).unwrap();
    assert!(
        crate::sys::seccomp::load(&p.filter, p.flags, false)
            .unwrap()
            .is_none()
    );
    let e = syscall3(libc::SYS_getppid, 0, 0, 0).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    let e = syscall3(libc::SYS_dup, 12345, 0, 0).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(99));
    let e = syscall3(libc::SYS_dup, u64::MAX, 0, 0).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));

    let d = compile(&docker_default()).unwrap();
    crate::sys::seccomp::load(&d.filter, d.flags, false).unwrap();
    assert!(syscall3(libc::SYS_getpid, 0, 0, 0).unwrap() > 0);
    let e = syscall3(libc::SYS_unshare, libc::CLONE_NEWNS as u64, 0, 0).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    let e = syscall3(libc::SYS_clone3, 0, 0, 0).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOSYS));
    let e = syscall3(
        libc::SYS_socket,
        libc::AF_VSOCK as u64,
        libc::SOCK_STREAM as u64,
        0,
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    // Newer than the profile: ENOSYS (mseal, Linux 6.10).
    let e = syscall3(462, 0, 0, 0).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOSYS));
    assert!(
        std::fs::read_to_string("/proc/thread-self/status")
            .unwrap()
            .contains("Seccomp:\t2")
    );
}

/// SCMP_ACT_NOTIFY for real: the filter is loaded with a listener, the listener goes to an
/// "agent" over a unix socket with [`send_listener`], the agent answers the `getppid`
/// notification with 4242.
#[test]
fn notify_listener() {
    if !in_child() {
        run_in_child("security::seccomp::tests::notify_listener");
        return;
    }
    use crate::sys::seccomp::testing::{notif_recv, notif_send, syscall3};
    use std::os::fd::AsFd;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let mut prof = profile(
        "SCMP_ACT_ALLOW",
        vec![rule(&["getppid"], "SCMP_ACT_NOTIFY", vec![])],
    );
    prof.listener_path = Some(sock_path.clone());
    prof.listener_metadata = Some("meta".into());
    let p = compile(&prof).unwrap();
    assert!(p.needs_listener);

    // The agent thread is created before the filter is loaded, so it is not filtered.
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (data, fds) = recv_all(&conn);
        let state: serde_json::Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(fds.len(), 1);
        let (id, _pid, nr, _args) = notif_recv(fds[0].as_fd()).unwrap();
        assert_eq!(nr as i64, libc::SYS_getppid);
        notif_send(fds[0].as_fd(), id, 4242, 0).unwrap();
        state
    });

    rustix::thread::set_no_new_privs(true).unwrap();
    let fd = crate::sys::seccomp::load(&p.filter, p.flags, true)
        .unwrap()
        .expect("listener");
    let state = ContainerProcessState::new(
        std::process::id() as i32,
        prof.listener_metadata.as_deref(),
        serde_json::json!({"ociVersion": "1.2.1", "id": "c1", "status": "creating", "pid": 1, "bundle": "/b"}),
    );
    send_listener(&sock_path, &state, fd.as_fd()).unwrap();
    drop(fd);
    assert_eq!(syscall3(libc::SYS_getppid, 0, 0, 0).unwrap(), 4242);
    let got = agent.join().unwrap();
    assert_eq!(got["fds"], serde_json::json!(["seccompFd"]));
    assert_eq!(got["metadata"], "meta");
    assert_eq!(got["state"]["id"], "c1");
    assert_eq!(got["pid"], std::process::id());
}

/// Reads a stream until EOF, with the fds that came along.
fn recv_all(conn: &std::os::unix::net::UnixStream) -> (Vec<u8>, Vec<std::os::fd::OwnedFd>) {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
    let mut data = Vec::new();
    let mut fds = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let r = recvmsg(
            conn,
            &mut [io::IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .unwrap();
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(r) = m {
                fds.extend(r);
            }
        }
        if r.bytes == 0 {
            return (data, fds);
        }
        data.extend_from_slice(&buf[..r.bytes]);
    }
}

#[test]
fn send_listener_names_the_path() {
    let (a, _b) = rustix::pipe::pipe().unwrap();
    let state = ContainerProcessState::new(1, None, serde_json::json!({}));
    let e = send_listener(
        Path::new("/nonexistent/lashing-agent.sock"),
        &state,
        a.as_fd(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("/nonexistent/lashing-agent.sock"),
        "{e}"
    );
    assert_eq!(
        std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error),
        Some(libc::ENOENT)
    );
}

/// Compile time of Docker's default profile: median of 20 runs (run with `--release --ignored`).
#[test]
#[ignore = "timing; run with: cargo test --release -p lashing docker_profile_compile_time -- --ignored --nocapture"]
fn docker_profile_compile_time() {
    let prof = docker_default();
    let mut times: Vec<std::time::Duration> = (0..20)
        .map(|_| {
            let t = std::time::Instant::now();
            let p = compile(&prof).unwrap();
            let d = t.elapsed();
            assert!(p.len() > 100);
            d
        })
        .collect();
    times.sort();
    let len = compile(&prof).unwrap().len();
    println!(
        "docker default profile: {len} instructions, median compile {:?} (min {:?}, max {:?})",
        times[10], times[0], times[19]
    );
}

/// The profile's meaning, evaluated directly (no BPF): what the program must return.
fn model(prof: &Seccomp, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let default = Action::parse(&prof.default_action, prof.default_errno_ret, "").unwrap();
    let listed = |a: &str| prof.architectures.iter().any(|x| x == a);
    let abi = match arch {
        AUDIT_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => {
            if !listed("SCMP_ARCH_X32") {
                return RET_KILL_THREAD;
            }
            Abi::X32
        }
        AUDIT_ARCH_X86_64 => Abi::X86_64,
        AUDIT_ARCH_I386 if listed("SCMP_ARCH_X86") => Abi::I386,
        _ => return RET_KILL_THREAD,
    };
    let numbers =
        |r: &SeccompRule| -> Vec<u32> { r.names.iter().filter_map(|n| abi.resolve(n)).collect() };
    let max = prof.syscalls.iter().flat_map(numbers).max();
    let stub = !matches!(default, Action::Allow | Action::Log | Action::Trace(_))
        && default != Action::Errno(libc::ENOSYS as u16);
    if let (true, Some(m)) = (stub, max)
        && nr > m
    {
        return RET_ERRNO | libc::ENOSYS as u32;
    }
    let word = |x: u64| if abi.is_64() { x } else { x & 0xffff_ffff };
    let holds = |a: &SeccompArg| {
        let x = word(args[a.index as usize]);
        let v = word(a.value);
        match a.op.as_str() {
            "SCMP_CMP_NE" => x != v,
            "SCMP_CMP_LT" => x < v,
            "SCMP_CMP_LE" => x <= v,
            "SCMP_CMP_EQ" => x == v,
            "SCMP_CMP_GE" => x >= v,
            "SCMP_CMP_GT" => x > v,
            _ => x & v == word(a.value_two) & v,
        }
    };
    let same_index = |r: &SeccompRule| {
        r.args
            .iter()
            .any(|a| r.args.iter().filter(|b| b.index == a.index).count() > 1)
    };
    // A MASKED_EQ whose mask is 0 in the compared bits always holds and is dropped: a rule left
    // without conditions (or, when its conditions are separate rules, any of them) is
    // unconditional.
    let always = |a: &SeccompArg| a.op == "SCMP_CMP_MASKED_EQ" && word(a.value) == 0;
    let unconditional = |r: &SeccompRule| {
        if same_index(r) {
            r.args.iter().any(always)
        } else {
            r.args.iter().all(always)
        }
    };
    // The first unconditional rule of the syscall wins over the conditional ones.
    let applies = |r: &&SeccompRule| {
        Action::parse(&r.action, r.errno_ret, "").unwrap() != default && numbers(r).contains(&nr)
    };
    if let Some(r) = prof
        .syscalls
        .iter()
        .filter(applies)
        .find(|r| unconditional(r))
    {
        return Action::parse(&r.action, r.errno_ret, "").unwrap().ret();
    }
    for r in prof.syscalls.iter().filter(applies) {
        let action = Action::parse(&r.action, r.errno_ret, "").unwrap();
        let same_index = same_index(r);
        let matched = if same_index {
            r.args.iter().any(holds)
        } else {
            r.args.iter().all(holds)
        };
        if matched {
            return action.ret();
        }
    }
    default.ret()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// The compiled Docker profile agrees with the direct evaluation of the profile on random
    /// (ABI, syscall, arguments).
    #[test]
    fn docker_program_matches_the_profile(
        arch in prop_oneof![Just(X86_64), Just(I386), Just(AARCH64)],
        x32 in any::<bool>(),
        nr in prop_oneof![0u32..480, 500u32..560],
        args in proptest::array::uniform6(prop_oneof![
            Just(0u64), Just(8), Just(40), Just(0x20000), Just(0xffff_ffff),
            Just(libc::SIGCHLD as u64), Just((libc::CLONE_NEWNS | libc::SIGCHLD) as u64),
            any::<u64>(),
        ]),
    ) {
        static PROG: std::sync::OnceLock<(Seccomp, Program)> = std::sync::OnceLock::new();
        let (prof, p) = PROG.get_or_init(|| {
            let prof = docker_default();
            let p = compile(&prof).unwrap();
            (prof, p)
        });
        let nr = if x32 && arch == X86_64 { nr | X32_SYSCALL_BIT } else { nr };
        prop_assert_eq!(run(p, arch, nr, args), model(prof, arch, nr, args), "arch {:#x} nr {:#x}", arch, nr);
    }

    /// Same, on random small profiles mixing actions, operators and repeated indexes.
    #[test]
    fn random_profiles_match(
        rules in proptest::collection::vec(
            (
                proptest::collection::vec(0usize..8, 1..3),
                0usize..5,
                proptest::collection::vec((0u32..3, 0usize..7, prop_oneof![Just(0u64), Just(1), Just(8), Just(1 << 33)], 0u64..4), 0..3),
            ),
            0..6,
        ),
        default in 0usize..4,
        nr_pick in 0usize..9,
        args in proptest::array::uniform6(prop_oneof![Just(0u64), Just(1), Just(8), Just(9), Just(1 << 33), Just((1u64 << 33) | 8)]),
        arch in prop_oneof![Just(X86_64), Just(I386)],
    ) {
        let names = ["read", "write", "close", "dup", "getpid", "kill", "lseek", "mmap"];
        let actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_LOG", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"];
        let ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
        let mut prof = profile(actions[default], vec![]);
        prof.architectures = vec!["SCMP_ARCH_X86".into()];
        for (ns, act, conds) in rules {
            prof.syscalls.push(rule(
                &ns.iter().map(|i| names[*i]).collect::<Vec<_>>(),
                actions[act],
                conds.iter().map(|(i, op, v, v2)| arg(*i, ops[*op], *v, *v2)).collect(),
            ));
        }
        let p = compile(&prof).unwrap();
        let nr = if nr_pick == 8 { 300 } else {
            let abi = if arch == X86_64 { Abi::X86_64 } else { Abi::I386 };
            abi.resolve(names[nr_pick]).unwrap()
        };
        prop_assert_eq!(run(&p, arch, nr, args), model(&prof, arch, nr, args));
    }
}
