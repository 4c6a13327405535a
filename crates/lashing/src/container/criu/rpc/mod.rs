//! The messages of CRIU's `rpc.proto` that lashing uses (field numbers as in CRIU 3.x's
//! `images/rpc.proto`): `criu_req` with `criu_opts` out, `criu_resp` (with `criu_notify`,
//! `criu_version`, `criu_features`) in. Encoded and decoded with [`super::wire`].

use super::wire::{Reader, WireError, Writer};

/// `criu_req_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqType {
    /// `DUMP`.
    Dump,
    /// `RESTORE`.
    Restore,
    /// `PRE_DUMP`.
    PreDump,
    /// `NOTIFY`: a notification (in a response) or its acknowledgement (in a request).
    Notify,
    /// `FEATURE_CHECK`.
    FeatureCheck,
    /// `VERSION`.
    Version,
    /// Any other type (a response to nothing lashing sends).
    Other(u32),
}

impl ReqType {
    fn code(self) -> u32 {
        match self {
            ReqType::Dump => 1,
            ReqType::Restore => 2,
            ReqType::PreDump => 4,
            ReqType::Notify => 6,
            ReqType::FeatureCheck => 9,
            ReqType::Version => 10,
            ReqType::Other(n) => n,
        }
    }

    fn from_code(n: u32) -> ReqType {
        match n {
            1 => ReqType::Dump,
            2 => ReqType::Restore,
            4 => ReqType::PreDump,
            6 => ReqType::Notify,
            9 => ReqType::FeatureCheck,
            10 => ReqType::Version,
            n => ReqType::Other(n),
        }
    }

    /// The name CRIU gives the type (for messages).
    pub fn name(self) -> String {
        match self {
            ReqType::Dump => "DUMP".into(),
            ReqType::Restore => "RESTORE".into(),
            ReqType::PreDump => "PRE_DUMP".into(),
            ReqType::Notify => "NOTIFY".into(),
            ReqType::FeatureCheck => "FEATURE_CHECK".into(),
            ReqType::Version => "VERSION".into(),
            ReqType::Other(n) => format!("type {n}"),
        }
    }
}

/// `criu_cg_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgMode {
    /// `IGNORE`.
    Ignore = 0,
    /// `SOFT`.
    Soft = 3,
    /// `FULL`.
    Full = 4,
    /// `STRICT`.
    Strict = 5,
    /// `DEFAULT` (runc's choice when no mode is given).
    Default = 6,
}

/// `criu_opts`: the options of a dump or restore (only those lashing sets).
#[derive(Debug, Clone, Default)]
pub struct Opts {
    /// `images_dir_fd` (required): the image directory as an fd of the CRIU process.
    pub images_dir_fd: i32,
    /// `pid`: the root of the tree to dump.
    pub pid: Option<i32>,
    /// `leave_running`.
    pub leave_running: bool,
    /// `ext_unix_sk`.
    pub ext_unix_sk: bool,
    /// `tcp_established`.
    pub tcp_established: bool,
    /// `evasive_devices`.
    pub evasive_devices: bool,
    /// `shell_job`.
    pub shell_job: bool,
    /// `file_locks`.
    pub file_locks: bool,
    /// `log_level`.
    pub log_level: Option<i32>,
    /// `log_file` (a name in the work directory).
    pub log_file: Option<String>,
    /// `ps`: the page server's address and port.
    pub page_server: Option<(String, i32)>,
    /// `notify_scripts`: send notifications.
    pub notify_scripts: bool,
    /// `root`.
    pub root: Option<String>,
    /// `parent_img`: the previous (pre-)dump, relative to the image directory.
    pub parent_img: Option<String>,
    /// `track_mem`.
    pub track_mem: bool,
    /// `auto_dedup`.
    pub auto_dedup: bool,
    /// `work_dir_fd`.
    pub work_dir_fd: Option<i32>,
    /// `ext_mnt`: external mounts (key, value).
    pub ext_mnt: Vec<(String, String)>,
    /// `manage_cgroups` (kept for old CRIUs; `manage_cgroups_mode` replaces it).
    pub manage_cgroups: bool,
    /// `cg_root`: (controller, path) where the restored tree's cgroups go.
    pub cg_root: Vec<(String, String)>,
    /// `rst_sibling`: the restored tree becomes a sibling of CRIU (our child).
    pub rst_sibling: bool,
    /// `inherit_fd`: (key, fd of the CRIU process).
    pub inherit_fd: Vec<(String, i32)>,
    /// `manage_cgroups_mode`.
    pub manage_cgroups_mode: Option<CgMode>,
    /// `external`.
    pub external: Vec<String>,
    /// `empty_ns`: `CLONE_NEW*` flags of the namespaces whose properties are not dumped/restored.
    pub empty_ns: Option<u32>,
    /// `join_ns`: (namespace name, path).
    pub join_ns: Vec<(String, String)>,
    /// `freeze_cgroup`: freeze with this cgroup instead of ptrace.
    pub freeze_cgroup: Option<String>,
    /// `lazy_pages`.
    pub lazy_pages: bool,
    /// `status_fd` (an fd of ours; CRIU < 3.15 writes the lazy-pages status byte to it).
    pub status_fd: Option<i32>,
    /// `orphan_pts_master`: send the master of a restored terminal back (notification).
    pub orphan_pts_master: bool,
    /// `config_file`.
    pub config_file: Option<String>,
    /// `lsm_profile`.
    pub lsm_profile: Option<String>,
    /// `lsm_mount_context`.
    pub lsm_mount_context: Option<String>,
}

impl Opts {
    fn encode(&self) -> Writer {
        let mut w = Writer::default();
        w.int32(1, self.images_dir_fd);
        if let Some(pid) = self.pid {
            w.int32(2, pid);
        }
        for (n, v) in [
            (3, self.leave_running),
            (4, self.ext_unix_sk),
            (5, self.tcp_established),
            (6, self.evasive_devices),
            (7, self.shell_job),
            (8, self.file_locks),
            (12, self.notify_scripts),
            (15, self.track_mem),
            (16, self.auto_dedup),
            (24, self.manage_cgroups),
            (26, self.rst_sibling),
            (48, self.lazy_pages),
            (50, self.orphan_pts_master),
        ] {
            if v {
                w.bool(n, true);
            }
        }
        if let Some(l) = self.log_level {
            w.int32(9, l);
        }
        for (n, s) in [
            (10, &self.log_file),
            (13, &self.root),
            (14, &self.parent_img),
            (44, &self.freeze_cgroup),
            (51, &self.config_file),
            (53, &self.lsm_profile),
            (63, &self.lsm_mount_context),
        ] {
            if let Some(s) = s {
                w.string(n, s);
            }
        }
        if let Some((addr, port)) = &self.page_server {
            let mut ps = Writer::default();
            ps.string(1, addr);
            ps.int32(2, *port);
            w.message(11, ps);
        }
        if let Some(fd) = self.work_dir_fd {
            w.int32(17, fd);
        }
        if let Some(fd) = self.status_fd {
            w.int32(49, fd);
        }
        for (k, v) in &self.ext_mnt {
            let mut m = Writer::default();
            m.string(1, k);
            m.string(2, v);
            w.message(23, m);
        }
        for (ctrl, path) in &self.cg_root {
            let mut m = Writer::default();
            m.string(1, ctrl);
            m.string(2, path);
            w.message(25, m);
        }
        for (k, fd) in &self.inherit_fd {
            let mut m = Writer::default();
            m.string(1, k);
            m.int32(2, *fd);
            w.message(27, m);
        }
        if let Some(mode) = self.manage_cgroups_mode {
            w.uint(34, mode as u64);
        }
        for e in &self.external {
            w.string(37, e);
        }
        if let Some(ns) = self.empty_ns {
            w.uint(38, u64::from(ns));
        }
        for (ns, file) in &self.join_ns {
            let mut m = Writer::default();
            m.string(1, ns);
            m.string(2, file);
            w.message(39, m);
        }
        w
    }
}

/// `criu_features`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// `mem_track` (needed by pre-dump).
    pub mem_track: Option<bool>,
    /// `lazy_pages`.
    pub lazy_pages: Option<bool>,
}

impl Features {
    fn encode(&self) -> Writer {
        let mut w = Writer::default();
        if let Some(v) = self.mem_track {
            w.bool(1, v);
        }
        if let Some(v) = self.lazy_pages {
            w.bool(2, v);
        }
        w
    }

    fn decode(buf: &[u8]) -> Result<Features, WireError> {
        let mut f = Features::default();
        let mut r = Reader::new(buf);
        while let Some((n, v)) = r.next_field()? {
            match n {
                1 => f.mem_track = Some(v.bool(n)?),
                2 => f.lazy_pages = Some(v.bool(n)?),
                _ => {}
            }
        }
        Ok(f)
    }
}

/// `criu_req`.
#[derive(Debug, Clone)]
pub struct Request {
    /// `type`.
    pub typ: ReqType,
    /// `opts`.
    pub opts: Option<Opts>,
    /// `notify_success`: the answer to a notification.
    pub notify_success: bool,
    /// `features`: what a `FEATURE_CHECK` asks about.
    pub features: Option<Features>,
}

impl Request {
    /// A request of `typ` without options.
    pub fn new(typ: ReqType) -> Request {
        Request {
            typ,
            opts: None,
            notify_success: false,
            features: None,
        }
    }

    /// The encoded request.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.uint(1, u64::from(self.typ.code()));
        if let Some(o) = &self.opts {
            w.message(2, o.encode());
        }
        if self.notify_success {
            w.bool(3, true);
        }
        if let Some(f) = &self.features {
            w.message(5, f.encode());
        }
        w.into_bytes()
    }
}

/// `criu_version`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    /// `major_number`.
    pub major: i32,
    /// `minor_number`.
    pub minor: i32,
    /// `sublevel`.
    pub sublevel: i32,
    /// `gitid`.
    pub gitid: Option<String>,
}

impl Version {
    /// As runc counts: `major * 10000 + minor * 100 + sublevel` (3.17.1 is 31701).
    pub fn number(&self) -> i32 {
        self.major * 10000 + self.minor * 100 + self.sublevel
    }

    fn decode(buf: &[u8]) -> Result<Version, WireError> {
        let mut v = Version::default();
        let mut r = Reader::new(buf);
        while let Some((n, x)) = r.next_field()? {
            match n {
                1 => v.major = x.int32(n)?,
                2 => v.minor = x.int32(n)?,
                3 => v.gitid = Some(x.string(n)?),
                4 => v.sublevel = x.int32(n)?,
                _ => {}
            }
        }
        Ok(v)
    }
}

/// `criu_notify`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    /// `script`: the event (`post-dump`, `setup-namespaces`, ...).
    pub script: String,
    /// `pid`: the restored init's pid, where the event has one.
    pub pid: i32,
}

impl Notify {
    fn decode(buf: &[u8]) -> Result<Notify, WireError> {
        let mut m = Notify::default();
        let mut r = Reader::new(buf);
        while let Some((n, v)) = r.next_field()? {
            match n {
                1 => m.script = v.string(n)?,
                2 => m.pid = v.int32(n)?,
                _ => {}
            }
        }
        Ok(m)
    }
}

/// `criu_resp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `type`.
    pub typ: ReqType,
    /// `success`.
    pub success: bool,
    /// `restore.pid`.
    pub restored_pid: Option<i32>,
    /// `notify`.
    pub notify: Option<Notify>,
    /// `cr_errno`.
    pub errno: Option<i32>,
    /// `features`.
    pub features: Option<Features>,
    /// `cr_errmsg`.
    pub errmsg: Option<String>,
    /// `version`.
    pub version: Option<Version>,
}

impl Response {
    /// Decodes a response; `type` and `success` are required.
    pub fn decode(buf: &[u8]) -> Result<Response, WireError> {
        let mut typ = None;
        let mut success = None;
        let mut resp = Response {
            typ: ReqType::Other(0),
            success: false,
            restored_pid: None,
            notify: None,
            errno: None,
            features: None,
            errmsg: None,
            version: None,
        };
        let mut r = Reader::new(buf);
        while let Some((n, v)) = r.next_field()? {
            match n {
                1 => typ = Some(ReqType::from_code(v.uint32(n)?)),
                2 => success = Some(v.bool(n)?),
                4 => {
                    let mut rr = Reader::new(v.bytes(n)?);
                    while let Some((m, x)) = rr.next_field()? {
                        if m == 1 {
                            resp.restored_pid = Some(x.int32(m)?);
                        }
                    }
                }
                5 => resp.notify = Some(Notify::decode(v.bytes(n)?)?),
                7 => resp.errno = Some(v.int32(n)?),
                8 => resp.features = Some(Features::decode(v.bytes(n)?)?),
                9 => resp.errmsg = Some(v.string(n)?),
                10 => resp.version = Some(Version::decode(v.bytes(n)?)?),
                _ => {}
            }
        }
        let missing = |what| WireError::Field {
            field: 0,
            what: match what {
                1 => "criu_resp without its type",
                _ => "criu_resp without success",
            },
        };
        resp.typ = typ.ok_or_else(|| missing(1))?;
        resp.success = success.ok_or_else(|| missing(2))?;
        Ok(resp)
    }

    /// The encoded response (CRIU's side; used by the tests).
    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.uint(1, u64::from(self.typ.code()));
        w.bool(2, self.success);
        if let Some(pid) = self.restored_pid {
            let mut m = Writer::default();
            m.int32(1, pid);
            w.message(4, m);
        }
        if let Some(n) = &self.notify {
            let mut m = Writer::default();
            m.string(1, &n.script);
            m.int32(2, n.pid);
            w.message(5, m);
        }
        if let Some(e) = self.errno {
            w.int32(7, e);
        }
        if let Some(f) = &self.features {
            w.message(8, f.encode());
        }
        if let Some(s) = &self.errmsg {
            w.string(9, s);
        }
        if let Some(v) = &self.version {
            let mut m = Writer::default();
            m.int32(1, v.major);
            m.int32(2, v.minor);
            if let Some(g) = &v.gitid {
                m.string(3, g);
            }
            m.int32(4, v.sublevel);
            w.message(10, m);
        }
        w.into_bytes()
    }
}

#[cfg(test)]
mod tests;
