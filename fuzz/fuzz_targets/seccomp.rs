//! The seccomp compiler: a profile (the model's JSON) to BPF, which must pass the kernel's checks
//! and, run on syscalls of both x86 ABIs and foreign archs, always end in a RET.
#![no_main]

use lashing_fuzz::cbpf::{self, SeccompData};
use libfuzzer_sys::fuzz_target;

const ARCHS: [u32; 4] = [0xc000_003e, 0x4000_0003, 0xc000_00b7, 0];

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<lashing::config::Seccomp>(data) else {
        return;
    };
    let Ok((filter, _flags)) = lashing::fuzzing::seccomp_compile(&profile) else {
        return;
    };
    let prog = cbpf::decode(&filter).expect("whole instructions");
    if let Err(e) = cbpf::check(&prog) {
        panic!("the kernel would refuse the compiled filter: {e}");
    }
    // Syscall numbers and argument values taken from the profile itself reach the rules' branches.
    let mut nrs: Vec<i32> = vec![0, 1, 59, 322, 435, 0x4000_0000, 0x4000_003b, -1, 1024];
    let mut vals: Vec<u64> = vec![0, 1, u64::MAX, 0xffff_ffff, 0x1_0000_0000];
    for r in &profile.syscalls {
        for a in &r.args {
            vals.push(a.value);
            vals.push(a.value_two);
            vals.push(a.value.wrapping_add(1));
        }
    }
    nrs.truncate(9);
    vals.truncate(16);
    for &arch in &ARCHS {
        for &nr in &nrs {
            for &v in &vals {
                let d = SeccompData {
                    nr,
                    arch,
                    ip: 0,
                    args: [v; 6],
                };
                let _ = cbpf::run(&prog, &d);
            }
        }
    }
});
