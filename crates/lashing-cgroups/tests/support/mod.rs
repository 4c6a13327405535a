//! What `host.rs` and `resources.rs` need beyond `lashing_testsupport` (waits, skips, root
//! checks): a test cgroup `/lashing-test-<tag>-<pid>-<name>/x` held by this crate's `Manager`, with
//! the processes a test started in it, all removed on drop (even when the test fails).
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::process::{Child, Command};

use lashing_cgroups::Manager;

pub use lashing_testsupport::{WAIT, block_device, missing, unified};

/// Owns the test cgroups (a parent and its leaf `x`) and children; cleans up on drop.
pub struct Guard {
    pub parent: Manager,
    pub leaf: Manager,
    pub children: Vec<Child>,
}

impl Guard {
    /// The cgroups `/lashing-test-<tag>-<pid>-<name>` and its leaf `x`, not created yet.
    pub fn new(tag: &str, name: &str) -> Guard {
        lashing_testsupport::require_root();
        let top = format!("/lashing-test-{tag}-{}-{name}", std::process::id());
        Guard {
            parent: Manager::new(&top, "p").unwrap(),
            leaf: Manager::new(&format!("{top}/x"), "x").unwrap(),
            children: Vec::new(),
        }
    }

    /// The same with the leaf created.
    pub fn created(tag: &str, name: &str) -> Guard {
        let g = Guard::new(tag, name);
        g.leaf.create().unwrap();
        g
    }

    /// Starts `sleep 30` (killed on drop) and returns its pid.
    pub fn spawn_sleep(&mut self) -> i32 {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    /// The leaf's directory in the hierarchy holding `controller` (the v2 one on a unified host).
    pub fn dir(&self, controller: &str) -> PathBuf {
        if unified() {
            return self.leaf.path("").unwrap().to_owned();
        }
        self.leaf
            .paths()
            .iter()
            .find(|(k, _)| k.split(',').any(|c| c == controller))
            .unwrap_or_else(|| panic!("no {controller} hierarchy"))
            .1
            .clone()
    }

    /// The trimmed text of the leaf's `file` of `controller`.
    pub fn read(&self, controller: &str, file: &str) -> String {
        std::fs::read_to_string(self.dir(controller).join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .trim()
            .to_owned()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.leaf.freeze(false);
        let _ = self.leaf.destroy();
        let _ = self.parent.destroy();
    }
}
