//! `linux.netDevices` (issue 11 item 8; OCI 1.2): a host interface moved into the container's
//! network namespace under its new name with its addresses, and back (first name, addresses)
//! on `delete`. Every test runs lashing inside a network namespace of its own (`ip netns add`)
//! holding a veth pair, so the host's interfaces are never touched: the guard deletes the
//! container from inside that namespace before the namespace goes.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use support::{BIN, Out, Sandbox, log_msg};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace of the test with a veth pair `v0`/`v1` (`v0`: 10.99.0.1/24 and
/// fd00::1/64, both up); on drop the container `id` of `root` is deleted from inside it, then
/// the namespace is removed (with whatever interface is left in it).
struct TestNetns {
    name: String,
    root: String,
    id: String,
}

impl TestNetns {
    /// `None` (and a skip, a failure in CI) without `ip` or `nsenter`.
    fn new(sb: &Sandbox, id: &str) -> Option<TestNetns> {
        for tool in ["ip", "nsenter"] {
            if Command::new(tool).arg("-V").output().is_err() {
                lashing_testsupport::missing(&format!("{tool} (iproute2, util-linux)"));
                return None;
            }
        }
        let name = format!(
            "lashing-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let ns = TestNetns {
            name,
            root: sb.root.clone(),
            id: id.to_owned(),
        };
        ns.ip(&["netns", "add", &ns.name]);
        for cmd in [
            "link add v0 type veth peer name v1",
            "addr add 10.99.0.1/24 dev v0",
            "addr add fd00::1/64 dev v0 nodad",
            "link set v0 up",
            "link set v1 up",
        ] {
            let mut args = vec!["-n", &ns.name];
            args.extend(cmd.split(' '));
            ns.ip(&args);
        }
        Some(ns)
    }

    fn ip(&self, args: &[&str]) -> String {
        let o = Command::new("ip").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `ip -n <ns> ARGS` whatever its status.
    fn ip_any(&self, args: &str) -> (bool, String) {
        let mut full = vec!["-n", &self.name];
        full.extend(args.split(' '));
        let o = Command::new("ip").args(&full).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    }

    /// `lashing --root <root> ARGS` inside the namespace, in the bundle.
    fn lashing(&self, bundle: &Path, args: &[&str]) -> Out {
        let net = format!("--net=/run/netns/{}", self.name);
        let mut full = vec![net.as_str(), BIN, "--root", &self.root];
        full.extend(args);
        lashing_testsupport::run_in(Path::new("nsenter"), bundle, &full, &[])
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let net = format!("--net=/run/netns/{}", self.name);
        let _ = Command::new("nsenter")
            .args([
                net.as_str(),
                BIN,
                "--root",
                &self.root,
                "delete",
                "-f",
                &self.id,
            ])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn netdev_sandbox() -> Sandbox {
    let mut applets = support::APPLETS.to_vec();
    applets.push("ip");
    let sb = Sandbox::new(Path::new(BIN), &["sleep", "100"], &applets);
    sb.edit(|v| {
        v["linux"]["netDevices"] = json!({"v0": {"name": "ctr0"}});
    });
    sb
}

/// The interface is inside the container under its new name with both addresses and up, gone
/// from the test namespace; `delete` of the running container gives it back under its first
/// name with its addresses.
#[test]
fn net_device_moves_in_with_its_addresses_and_back_on_delete() {
    let sb = netdev_sandbox();
    let id = "netdev";
    let Some(ns) = TestNetns::new(&sb, id) else {
        return;
    };
    let o = ns.lashing(&sb.bundle(), &["run", "-d", id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = ns.lashing(&sb.bundle(), &["exec", id, "ip", "addr", "show", "ctr0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("inet 10.99.0.1/24"), "{}", o.stdout);
    assert!(o.stdout.contains("inet6 fd00::1/64"), "{}", o.stdout);
    assert!(o.stdout.contains(",UP"), "up: {}", o.stdout);
    let (there, _) = ns.ip_any("link show v0");
    assert!(!there, "v0 left the test namespace");

    let o = ns.lashing(&sb.bundle(), &["delete", "-f", id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (there, out) = ns.ip_any("addr show v0");
    assert!(there, "v0 is back in the test namespace");
    assert!(out.contains("inet 10.99.0.1/24"), "{out}");
    assert!(out.contains("inet6 fd00::1/64"), "{out}");
    assert!(out.contains(",UP"), "{out}");
    let (there, _) = ns.ip_any("link show ctr0");
    assert!(!there, "no ctr0 in the test namespace");
}

/// A missing interface fails `create` with its name and leaves nothing (an interface moved
/// before it is moved back); runc's refusals of the config (no network namespace, bad names)
/// come before anything starts.
#[test]
fn net_device_refusals() {
    let sb = netdev_sandbox();
    let id = "netdev-bad";
    let Some(ns) = TestNetns::new(&sb, id) else {
        return;
    };
    sb.edit(|v| v["linux"]["netDevices"] = json!({"v0": {"name": "ctr0"}, "w0nosuch": {}}));
    let o = ns.lashing(&sb.bundle(), &["run", "-d", id]);
    assert_ne!(o.code, 0);
    let msg = log_msg(&o.stderr);
    assert!(
        msg.contains("link not found for interface w0nosuch"),
        "{msg}"
    );
    assert_eq!(sb.left(), Vec::<String>::new(), "nothing left behind");
    assert!(!sb.cgroup_exists(), "the cgroup is removed");
    // v0 (moved first: the devices go in name order) is back, with its address.
    let (there, out) = ns.ip_any("addr show v0");
    assert!(there && out.contains("inet 10.99.0.1/24"), "{out}");

    for (edit, want) in [
        (
            json!({"v0": {"name": "a/b"}}),
            "invalid network device name \"a/b\"",
        ),
        (
            json!({"v0": {"name": "0123456789abcdef"}}),
            "invalid network device name",
        ),
    ] {
        sb.edit(|v| v["linux"]["netDevices"] = edit.clone());
        let o = ns.lashing(&sb.bundle(), &["run", "-d", id]);
        assert_ne!(o.code, 0);
        assert!(log_msg(&o.stderr).contains(want), "{}", o.stderr);
    }
    sb.edit(|v| {
        v["linux"]["netDevices"] = json!({"v0": {}});
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network");
    });
    let o = ns.lashing(&sb.bundle(), &["run", "-d", id]);
    assert_ne!(o.code, 0);
    assert!(
        log_msg(&o.stderr).contains("unable to move network devices without a NET namespace"),
        "{}",
        o.stderr
    );
    let (there, _) = ns.ip_any("link show v0");
    assert!(there, "v0 untouched");
}

/// `features` announces `linux.netDevices`.
#[test]
fn features_list_net_devices() {
    let o = support::lashing(&["features"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["linux"]["netDevices"], json!({"enabled": true}));
}
