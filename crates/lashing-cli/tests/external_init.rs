//! A program that does not call `lashing::init()` runs containers with the `lashing` binary as
//! their init (`lashing::set_init_executable`): this test binary is such a program.

mod support;

use std::io::Read;

use lashing::config::NamespaceType;
use lashing::{Config, Container, Process, Stdio};
use support::{BIN, require_containers};

#[test]
fn the_lashing_binary_can_be_the_init_of_a_library_user() {
    require_containers();
    assert!(lashing::set_init_executable(BIN));
    assert!(
        !lashing::set_init_executable("/other"),
        "only the first call counts"
    );
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    lashing_testsupport::install_busybox(&rootfs, &["sh", "echo"]).unwrap();
    for d in ["proc", "dev", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let id = format!("extinit-{}", std::process::id());
    let cgroup = format!("/lashing-test-extinit-{}/{id}", std::process::id());
    let config = Config::builder(rootfs.canonicalize().unwrap())
        .namespaces(&[NamespaceType::Mount, NamespaceType::Pid, NamespaceType::Uts])
        .hostname("external")
        .args(["/bin/sh", "-c", "echo $(hostname) $$"])
        .env(["PATH=/bin"])
        .cgroups_path(&cgroup)
        .build()
        .unwrap();
    let mut p = Process::from_config(&config.process);
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    p.stdout = Stdio::Fd(w);
    let state = dir.path().join("state");
    let mut c = Container::create(&state, &id, config).unwrap();
    let res = c.run(&mut p);
    p.stdout = Stdio::Inherit;
    let mut out = String::new();
    if res.is_ok() {
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        assert_eq!(p.wait().unwrap().code(), 0);
    }
    let destroyed = c.force_destroy();
    for h in lashing_testsupport::hierarchies() {
        let _ = std::fs::remove_dir(h.join(format!("lashing-test-extinit-{}", std::process::id())));
    }
    res.unwrap();
    destroyed.unwrap();
    assert_eq!(out, "external 1\n", "ran with the lashing binary as init");
}
