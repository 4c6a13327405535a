//! Rootless tests: an unprivileged user made once on the machine ([`test_user`]: idempotent,
//! with ranges in `/etc/subuid` and `/etc/subgid`), and [`UserSandbox`], a bundle whose runtime
//! runs as that user (through `setpriv`) with a private `XDG_RUNTIME_DIR`, so that the default
//! state root is the rootless one.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{Out, run_command};

/// The name of the test user.
pub const USER: &str = "lashing-rootless";

/// The test user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// Its name ([`USER`]).
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its subordinate uids: (first, count), from `/etc/subuid`.
    pub subuid: (u32, u32),
    /// Its subordinate gids: (first, count), from `/etc/subgid`.
    pub subgid: (u32, u32),
}

/// The first range of `user` in a `/etc/subuid`-format text.
pub fn sub_range(text: &str, user: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != user {
            return None;
        }
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// The path of a system program `name` in the usual directories (`/usr/sbin`, `/usr/bin`,
/// `/sbin`, `/bin`), if installed.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn sh(cmd: &mut Command) -> Result<(), String> {
    let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// The test user, created (no home, no login shell) with 65536 subordinate uids and gids if it
/// does not exist yet; `None` (after [`crate::missing`]) when a tool it needs is not installed
/// (`useradd`/`usermod` from passwd, `setpriv` from util-linux, `newuidmap`/`newgidmap` from
/// uidmap). Serialized across test processes by a file lock.
pub fn test_user() -> Option<TestUser> {
    for t in ["useradd", "usermod", "setpriv", "newuidmap", "newgidmap"] {
        if find_tool(t).is_none() {
            crate::missing(&format!(
                "{t} is not installed (packages passwd, util-linux, uidmap)"
            ));
            return None;
        }
    }
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("lashing-test-user.lock"))
        .expect("the test user lock file");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .expect("lock the test user lock file");
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, USER]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        sh(Command::new(find_tool("useradd").expect("useradd")).args([
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            USER,
        ]))
        .unwrap_or_else(|e| panic!("cannot create the test user: {e}"));
    }
    for (file, flag) in [
        ("/etc/subuid", "--add-subuids"),
        ("/etc/subgid", "--add-subgids"),
    ] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if sub_range(&text, USER).is_none() {
            // Above what useradd hands out by default (100000 + 65536 per user).
            let first = 3_000_000u32;
            let range = format!("{first}-{}", first + 65535);
            sh(Command::new(find_tool("usermod").expect("usermod")).args([flag, &range, USER]))
                .unwrap_or_else(|e| panic!("cannot give the test user {file} ranges: {e}"));
        }
    }
    let read = |f: &str| {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("cannot read {f}: {e}"));
        sub_range(&text, USER).unwrap_or_else(|| panic!("no range of {USER} in {f}"))
    };
    Some(TestUser {
        name: USER.to_string(),
        uid: id("-u").expect("the test user's uid"),
        gid: id("-g").expect("the test user's gid"),
        subuid: read("/etc/subuid"),
        subgid: read("/etc/subgid"),
    })
}

/// A bundle run by the test user: a temp dir owned by it with `bundle/` (config from
/// `RUNTIME spec --rootless` run as the user, a busybox rootfs owned by root) and `xdg/` (its
/// `XDG_RUNTIME_DIR`, so the state root is `xdg/<runtime's name>`). On drop every container
/// left is deleted (`delete --force`, as the user) and the directory removed.
#[derive(Debug)]
pub struct UserSandbox {
    /// The user.
    pub user: TestUser,
    runtime: PathBuf,
    dir: tempfile::TempDir,
}

impl UserSandbox {
    /// A sandbox of `runtime` running `args` (no terminal) with busybox and `applets` in `/bin`;
    /// `None` when the test user cannot be made here (see [`test_user`]).
    pub fn new(runtime: &Path, args: &[&str], applets: &[&str]) -> Option<UserSandbox> {
        crate::require_containers();
        crate::become_subreaper();
        let user = test_user()?;
        let dir = tempfile::Builder::new()
            .prefix("lashing-rootless-")
            .tempdir()
            .expect("a temp dir for a rootless sandbox");
        let rootfs = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(&rootfs)
            .and_then(|()| crate::rootfs::install_busybox(&rootfs, applets))
            .unwrap_or_else(|e| panic!("cannot make the rootfs {}: {e}", rootfs.display()));
        let xdg = dir.path().join("xdg");
        std::fs::create_dir(&xdg).expect("the sandbox's XDG_RUNTIME_DIR");
        for p in [dir.path(), &dir.path().join("bundle"), &xdg] {
            std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))
                .unwrap_or_else(|e| panic!("cannot chown {}: {e}", p.display()));
        }
        // The user's own rootfs, as `lashing spec --rootless` users have it (its root in the
        // container may then create the mount points it needs).
        sh(Command::new("chown").args([
            "-R",
            &format!("{}:{}", user.uid, user.gid),
            rootfs.to_str().expect("a UTF-8 temp path"),
        ]))
        .unwrap_or_else(|e| panic!("cannot chown the rootfs: {e}"));
        std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700))
            .expect("chmod the XDG_RUNTIME_DIR");
        let sb = UserSandbox {
            user,
            runtime: runtime.to_path_buf(),
            dir,
        };
        sb.ok(&["spec", "--rootless"]);
        sb.edit(|v| {
            v["process"]["terminal"] = false.into();
            v["process"]["args"] = args.iter().map(|s| serde_json::Value::from(*s)).collect();
        });
        Some(sb)
    }

    /// The bundle directory.
    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    /// The user's `XDG_RUNTIME_DIR`.
    pub fn xdg(&self) -> PathBuf {
        self.dir.path().join("xdg")
    }

    /// A path in the sandbox's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Edits the bundle's config.json.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        crate::cli::edit_json(&self.bundle().join("config.json"), f);
    }

    /// `RUNTIME ARGS` as the user, in the bundle, with only `PATH`, `HOME` (the sandbox's
    /// directory), `USER` and the sandbox's `XDG_RUNTIME_DIR` in its environment, to spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        self.as_user(&self.runtime, args)
    }

    /// Any `PROGRAM ARGS` as the user, with the environment of [`UserSandbox::command`].
    pub fn as_user(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(find_tool("setpriv").expect("setpriv"));
        c.args([
            format!("--reuid={}", self.user.uid),
            format!("--regid={}", self.user.gid),
            "--clear-groups".to_string(),
            "--".to_string(),
        ])
        .arg(program)
        .args(args)
        .current_dir(self.bundle())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", self.dir.path())
        .env("USER", &self.user.name)
        .env("XDG_RUNTIME_DIR", self.xdg());
        c
    }

    /// Runs `RUNTIME ARGS` as the user, started in the cgroup directory `cgroup` (moved there
    /// by root before it drops to the user, as a login session is placed in its delegated
    /// scope).
    pub fn run_in_cgroup(&self, cgroup: &Path, args: &[&str]) -> Out {
        let inner = self.command(args);
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\""])
            .arg(cgroup)
            .arg(inner.get_program())
            .args(inner.get_args())
            .current_dir(self.bundle())
            .env_clear();
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        run_command(
            c,
            &format!(
                "{} {args:?} as {} in {}",
                self.runtime.display(),
                self.user.name,
                cgroup.display()
            ),
        )
    }

    /// Runs `RUNTIME ARGS` as the user (bounded, see [`crate::run_in`]).
    pub fn run(&self, args: &[&str]) -> Out {
        run_command(
            self.command(args),
            &format!("{} {args:?} as {}", self.runtime.display(), self.user.name),
        )
    }

    /// [`UserSandbox::run`] that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code,
            0,
            "{} {args:?} as {}: {}",
            self.runtime.display(),
            self.user.name,
            o.stderr
        );
        o.stdout
    }

    /// The ids of the containers under the default state root (`list -q`).
    pub fn left(&self) -> Vec<String> {
        let o = self.run(&["list", "-q"]);
        o.stdout.lines().map(str::to_owned).collect()
    }
}

impl Drop for UserSandbox {
    fn drop(&mut self) {
        // No panic here: a panic in a drop during a failing test's unwinding aborts.
        let o = self.run(&["list", "-q"]);
        for id in o.stdout.lines() {
            let d = self.run(&["delete", "--force", id]);
            if d.code != 0 {
                eprintln!("lashing-testsupport: delete --force {id}: {}", d.stderr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_ranges_parse() {
        let t = "a:100000:65536\nlashing-rootless:3000000:65536\n";
        assert_eq!(sub_range(t, USER), Some((3_000_000, 65536)));
        assert_eq!(sub_range(t, "b"), None);
        assert_eq!(sub_range("x:1\n", "x"), None);
    }
}
