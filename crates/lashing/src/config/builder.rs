//! [`ConfigBuilder`]: a [`Config`] written in Rust, with runc's defaults for what is not given.

use std::path::PathBuf;

use super::error::ConfigError;
use super::mount_opts::parse_mount_options;
use super::{Config, IdMap, Mount, MsFlags, Namespace, NamespaceType};

/// Builds a [`Config`] by hand. The result is validated by [`ConfigBuilder::build`].
///
/// ```
/// use lashing::Config;
/// use lashing::config::NamespaceType;
///
/// let dir = std::env::temp_dir();
/// let config = Config::builder(&dir)
///     .namespaces(&[NamespaceType::Mount, NamespaceType::Pid, NamespaceType::Uts])
///     .hostname("box")
///     .mount("tmpfs", "/tmp", "tmpfs", &["nosuid", "mode=1777"])
///     .args(["/bin/sh", "-c", "echo hi"])
///     .env(["PATH=/bin:/usr/bin"])
///     .cgroups_path("/my-runtime/box")
///     .build()
///     .unwrap();
/// assert_eq!(config.hostname.as_deref(), Some("box"));
/// assert!(config.new_namespace(NamespaceType::Pid));
/// ```
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    config: Config,
}

impl Config {
    /// Starts a configuration whose root file system is `rootfs` (an absolute path to an existing
    /// directory), with a `/proc` mount, cwd `/` and the default `PATH`.
    pub fn builder(rootfs: impl Into<PathBuf>) -> ConfigBuilder {
        let mut config = Config {
            rootfs: rootfs.into(),
            ..Default::default()
        };
        config.process.cwd = PathBuf::from("/");
        config.process.env =
            vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()];
        let b = ConfigBuilder { config };
        b.mount("proc", "/proc", "proc", &["nosuid", "noexec", "nodev"])
    }
}

impl ConfigBuilder {
    /// New namespaces of these types (replacing earlier entries of the same types).
    pub fn namespaces(mut self, types: &[NamespaceType]) -> Self {
        for t in types {
            self.config.namespaces.retain(|n| n.typ != *t);
            self.config.namespaces.push(Namespace {
                typ: *t,
                path: None,
            });
        }
        self
    }

    /// Joins the namespace at `path` (e.g. `/proc/42/ns/net`).
    pub fn join_namespace(mut self, typ: NamespaceType, path: impl Into<PathBuf>) -> Self {
        self.config.namespaces.retain(|n| n.typ != typ);
        self.config.namespaces.push(Namespace {
            typ,
            path: Some(path.into()),
        });
        self
    }

    /// uid and gid mappings of a new user namespace (one range each).
    pub fn id_mappings(mut self, uid: IdMap, gid: IdMap) -> Self {
        self.config.uid_mappings = vec![uid];
        self.config.gid_mappings = vec![gid];
        self
    }

    /// A mount with runc's option syntax (`["rbind", "ro"]`, `["mode=755", "size=1m"]`).
    pub fn mount(
        mut self,
        source: &str,
        destination: &str,
        fstype: &str,
        options: &[&str],
    ) -> Self {
        let o = parse_mount_options(options);
        let bind = fstype == "bind" || o.flags.contains(MsFlags::BIND);
        self.config.mounts.push(Mount {
            source: source.to_string(),
            destination: PathBuf::from(destination),
            device: if bind {
                "bind".into()
            } else {
                fstype.to_string()
            },
            flags: o.flags,
            cleared_flags: o.cleared_flags,
            propagation_flags: o.propagation_flags,
            data: o.data,
            rec_attr: o.rec_attr,
            extensions: o.extensions,
            id_mapping: None,
        });
        self
    }

    /// The hostname (needs a UTS namespace).
    pub fn hostname(mut self, name: &str) -> Self {
        self.config.hostname = Some(name.to_string());
        self
    }

    /// Makes the root file system read-only.
    pub fn readonly_rootfs(mut self, ro: bool) -> Self {
        self.config.readonly_rootfs = ro;
        self
    }

    /// The process's argv.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.config.process.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The process's environment (`KEY=value`), replacing the default.
    pub fn env<I: IntoIterator<Item = S>, S: Into<String>>(mut self, env: I) -> Self {
        self.config.process.env = env.into_iter().map(Into::into).collect();
        self
    }

    /// The process's working directory.
    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.config.process.cwd = cwd.into();
        self
    }

    /// The cgroup path (`linux.cgroupsPath`).
    pub fn cgroups_path(mut self, path: &str) -> Self {
        self.config.cgroup.path = path.to_string();
        self
    }

    /// Use the systemd cgroup driver (the cgroups path is then `slice:prefix:name`).
    pub fn systemd_cgroup(mut self, on: bool) -> Self {
        self.config.cgroup.systemd = on;
        self
    }

    /// Masked paths.
    pub fn masked_paths<I: IntoIterator<Item = S>, S: Into<PathBuf>>(mut self, paths: I) -> Self {
        self.config.masked_paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Read-only paths.
    pub fn readonly_paths<I: IntoIterator<Item = S>, S: Into<PathBuf>>(mut self, paths: I) -> Self {
        self.config.readonly_paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Rootless mode (see [`crate::rootless`]): usually `rootless::detect(RootlessFlag::Auto)`,
    /// what the CLI does for `--rootless auto`.
    pub fn rootless(mut self, r: crate::rootless::Rootless) -> Self {
        self.config.rootless_euid = r.euid;
        self.config.rootless_cgroups = r.cgroups;
        self
    }

    /// Any other change, on the model itself.
    pub fn with(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_validates() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let e = Config::builder(&root)
            .hostname("x")
            .args(["true"])
            .build()
            .unwrap_err();
        assert!(
            e.to_string().contains("uts") || e.to_string().contains("UTS"),
            "{e}"
        );
        let c = Config::builder(&root)
            .namespaces(&[NamespaceType::Uts, NamespaceType::Mount])
            .hostname("x")
            .mount("/src", "/dst", "bind", &["rbind", "ro"])
            .args(["true"])
            .build()
            .unwrap();
        assert_eq!(c.mounts.len(), 2);
        assert!(c.mounts[1].is_bind());
        assert_eq!(c.process.cwd, PathBuf::from("/"));
        // Rootless needs a user namespace with maps (runc's check).
        let rootless = crate::rootless::Rootless {
            euid: true,
            cgroups: true,
        };
        let e = Config::builder(&root)
            .rootless(rootless)
            .args(["true"])
            .build()
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("rootless container requires user namespaces"),
            "{e}"
        );
        let map = IdMap {
            container_id: 0,
            host_id: 1000,
            size: 1,
        };
        let c = Config::builder(&root)
            .namespaces(&[NamespaceType::User, NamespaceType::Mount])
            .id_mappings(map, map)
            .rootless(rootless)
            .args(["true"])
            .build()
            .unwrap();
        assert!(c.rootless_euid && c.rootless_cgroups);
        // uid=/gid= mount options must be mapped (runc's rootlessEUIDMount).
        let with_opt = |opt: &str| {
            Config::builder(&root)
                .namespaces(&[NamespaceType::User, NamespaceType::Mount])
                .id_mappings(map, map)
                .mount("tmpfs", "/t", "tmpfs", &[opt])
                .rootless(rootless)
                .args(["true"])
                .build()
        };
        let e = with_opt("uid=5").unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot specify uid=5 mount option for rootless container"),
            "{e}"
        );
        assert!(with_opt("gid=7").is_err());
        assert!(with_opt("uid=0").is_ok());
        assert!(
            with_opt("uid=x").is_ok(),
            "unknown values are left to the kernel"
        );
    }
}
