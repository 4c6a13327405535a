//! Security at the CLI level: `exec --cap` never grants inheritable capabilities
//! (CVE-2022-29162), an unknown capability name in config.json is warned about and dropped,
//! `features` reports the seccomp support of the library, and the protected executable
//! (CVE-2019-5736) attached in the container's mount namespace leaves no mount anywhere.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{BIN, Sandbox, sandbox, status_field};

/// The protected executable's debug line of init when it attached the mount in the container.
const ATTACHED: &str = "protected executable attached at ";

/// `lashing --debug create ID` (JSON log at `log`) in a private mount namespace whose mounts are
/// all shared, as a host whose `/` is shared (systemd's default): a mount made in the container's
/// namespace before its propagation is cut would show up there. Returns the command's output
/// (its stdout is that namespace's mountinfo, read after `create` returned) and the debug lines.
fn create_in_shared_ns(sb: &Sandbox, id: &str, log: &Path) -> (support::Out, Vec<String>) {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "shared", "sh", "-c"])
        .arg(r#""$0" "$@" && cat /proc/self/mountinfo"#)
        .arg(BIN)
        .args(["--root", &sb.root, "--debug", "--log"])
        .arg(log)
        .args(["--log-format", "json", "create", id])
        .current_dir(sb.bundle());
    let o = lashing_testsupport::run_command(cmd, "unshare -m lashing create");
    let msgs = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .collect();
    (o, msgs)
}

/// The mount points of a mountinfo text (field 5, octal escapes of space, tab, newline and `\`
/// undone).
fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| {
            PathBuf::from(
                m.replace("\\040", " ")
                    .replace("\\011", "\t")
                    .replace("\\012", "\n")
                    .replace("\\134", "\\"),
            )
        })
        .collect()
}

/// The binary's own path, where init attaches its protected mount.
fn bin_path() -> PathBuf {
    std::fs::canonicalize(BIN).expect("the lashing binary's path")
}

/// Waits for a created container's run to end: `start`, then its exit (status `stopped`).
fn start_and_finish(sb: &Sandbox, id: &str) {
    let o = sb.run(&["start", id]);
    assert_eq!(o.code, 0, "start {id}: {}", o.stderr);
    sb.wait_status(id, "stopped");
    let o = sb.run(&["delete", id]);
    assert_eq!(o.code, 0, "delete {id}: {}", o.stderr);
}

/// CVE-2019-5736's protected executable, the fast way: a new container (own mount namespace,
/// default `rslave` propagation) gets the read-only mount attached by its init at the binary's
/// path (init's debug line says so), and it is gone with the old root: no mount at that path in
/// the container's mountinfo nor in the caller's namespace, even when the caller's mounts are
/// shared (the attach happens only after the container's `/` was made a slave).
#[test]
fn protected_exe_attached_in_container_leaves_no_mount() {
    if which("unshare").is_none() {
        return lashing_testsupport::missing("unshare (util-linux) is not installed");
    }
    let sb = sandbox(&["true"]);
    let log = sb.path("debug.json");
    let bin = bin_path();
    let host_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let (o, msgs) = create_in_shared_ns(&sb, "exe1", &log);
    assert_eq!(o.code, 0, "create: {}", o.stderr);
    let want = format!("{ATTACHED}{} until the pivot", bin.display());
    assert!(
        msgs.contains(&want),
        "init did not attach the protected executable ({want:?}): {msgs:#?}"
    );
    assert!(
        !mount_points(&o.stdout).contains(&bin),
        "the attach reached the caller's shared namespace: {}",
        o.stdout
    );
    let pid = sb.pid("exe1");
    let inside = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    // A bind of the binary shows it as its root (field 4) and, in the caller's view, its mount
    // point: neither may be left.
    let roots: Vec<PathBuf> = inside
        .lines()
        .filter_map(|l| l.split(' ').nth(3))
        .map(PathBuf::from)
        .collect();
    assert!(
        !roots.contains(&bin) && !mount_points(&inside).contains(&bin),
        "the container still has the protected executable's mount: {inside}"
    );
    let host_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for m in mount_points(&host_after) {
        assert!(
            m != bin || mount_points(&host_before).contains(&m),
            "a mount at {} appeared on the host",
            m.display()
        );
    }
    start_and_finish(&sb, "exe1");
}

/// The fallback: with `rootfsPropagation` `rshared` the container's namespace stays a peer of
/// the caller's, so init must not attach anything there (it would appear in the caller's
/// namespace): the parent's detached clone is used as before, and the container still runs.
#[test]
fn protected_exe_stays_detached_with_shared_root_propagation() {
    if which("unshare").is_none() {
        return lashing_testsupport::missing("unshare (util-linux) is not installed");
    }
    let sb = sandbox(&["true"]);
    sb.edit(|v| v["linux"]["rootfsPropagation"] = "rshared".into());
    let log = sb.path("debug.json");
    let bin = bin_path();
    let (o, msgs) = create_in_shared_ns(&sb, "exe2", &log);
    assert_eq!(o.code, 0, "create: {}", o.stderr);
    assert!(
        msgs.iter().any(|m| m.starts_with("started lashing init")),
        "no debug lines: {msgs:#?}"
    );
    assert!(
        !msgs.iter().any(|m| m.starts_with(ATTACHED)),
        "attached with a shared root propagation: {msgs:#?}"
    );
    assert!(
        !mount_points(&o.stdout).contains(&bin),
        "a mount at the binary's path in the caller's namespace: {}",
        o.stdout
    );
    start_and_finish(&sb, "exe2");
}

/// `PATH` lookup of a program.
fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

/// CVE-2022-29162: `exec --cap CAP_SYS_ADMIN` adds the capability to the bounding, effective and
/// permitted sets only; inheritable and ambient stay empty (the spec has no inheritable caps).
#[test]
fn exec_cap_adds_no_inheritable_capabilities() {
    let sb = sandbox(&["sleep", "100"]);
    let id = format!("seccli-cap-{}", std::process::id());
    let o = sb.run(&["run", "-d", &id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let plain = sb.run(&["exec", &id, "cat", "/proc/self/status"]);
    let more = sb.run(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "cat",
        "/proc/self/status",
    ]);
    let bad = sb.run(&["exec", "--cap", "CAP_LASHING_NOPE", &id, "true"]);
    let k = sb.run(&["delete", "--force", &id]);
    assert_eq!(k.code, 0, "{}", k.stderr);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(more.code, 0, "{}", more.stderr);
    assert_eq!(
        status_field(&plain.stdout, "CapEff"),
        Some("0000000020000420")
    );
    // CAP_SYS_ADMIN is bit 21.
    let with_admin = format!("{:016x}", 0x2000_0420u64 | 1 << 21);
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&more.stdout, k),
            Some(with_admin.as_str()),
            "{k}: {}",
            more.stdout
        );
    }
    for k in ["CapInh", "CapAmb"] {
        assert_eq!(
            status_field(&more.stdout, k),
            Some("0000000000000000"),
            "{k}"
        );
        assert_eq!(
            status_field(&plain.stdout, k),
            Some("0000000000000000"),
            "{k}"
        );
    }
    // runc: an unknown name is dropped with a warning, and the process runs.
    assert_eq!(bad.code, 0, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("level=warning")
            && bad
                .stderr
                .contains("ignoring unknown or unavailable capabilities: [CAP_LASHING_NOPE]"),
        "{}",
        bad.stderr
    );
}

/// An unknown capability name in config.json is dropped with a warning naming it; the known
/// ones are applied.
#[test]
fn unknown_capability_is_warned_and_dropped() {
    let sb = sandbox(&["cat", "/proc/self/status"]);
    sb.edit(|v| {
        for set in ["bounding", "effective", "permitted"] {
            v["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push("CAP_LASHING_FUTURE".into());
        }
    });
    let id = format!("seccli-unknown-{}", std::process::id());
    let o = sb.run(&["run", &id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("CAP_LASHING_FUTURE"),
        "warning: {}",
        o.stderr
    );
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&o.stdout, k),
            Some("0000000020000420"),
            "{}",
            o.stdout
        );
    }
}

/// `features` lists the seccomp support, and the LSMs as compiled in (not as this host has them).
#[test]
fn features_reports_seccomp_and_lsms() {
    let o = support::lashing_in(std::path::Path::new("/"), &["features"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let s = &v["linux"]["seccomp"];
    assert_eq!(s["enabled"], true);
    let has = |key: &str, name: &str| {
        s[key]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str() == Some(name))
    };
    assert!(has("actions", "SCMP_ACT_KILL_PROCESS"));
    assert!(has("actions", "SCMP_ACT_NOTIFY"));
    assert!(has("operators", "SCMP_CMP_MASKED_EQ"));
    assert!(has("archs", "SCMP_ARCH_X86_64"));
    assert!(has("knownFlags", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
    // This machine's kernel (6.x) supports every flag lashing knows.
    assert_eq!(s["supportedFlags"], s["knownFlags"]);
    // Compiled in, whatever the host has (the runtime spec; runc says the same).
    assert_eq!(v["linux"]["apparmor"]["enabled"], true);
    assert_eq!(v["linux"]["selinux"]["enabled"], true);
}
