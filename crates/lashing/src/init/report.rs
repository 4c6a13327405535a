//! Init's failures: [`Fail`] (step, path or value, cause) and its bounded [`InitFailure`] report.

use std::io;

use crate::error::InitFailure;
use crate::rootfs;

/// An error of init: the step, the path or value, and the cause.
#[derive(Debug)]
pub(crate) struct Fail {
    step: &'static str,
    path: Option<String>,
    source: FailSource,
}

#[derive(Debug)]
pub(super) enum FailSource {
    Io(io::Error),
    Rootfs(rootfs::RootfsError),
    Msg(String),
}

impl Fail {
    pub(super) fn io(
        step: &'static str,
        path: impl Into<Option<String>>,
        e: impl Into<io::Error>,
    ) -> Fail {
        Fail {
            step,
            path: path.into(),
            source: FailSource::Io(e.into()),
        }
    }
    pub(super) fn msg(
        step: &'static str,
        path: impl Into<Option<String>>,
        m: impl Into<String>,
    ) -> Fail {
        Fail {
            step,
            path: path.into(),
            source: FailSource::Msg(m.into()),
        }
    }
    pub(super) fn into_failure(self) -> InitFailure {
        let (errno, cause) = match &self.source {
            FailSource::Io(e) => (e.raw_os_error(), crate::error::go_error_text(e)),
            FailSource::Rootfs(e) => {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(e);
                while let Some(c) = src {
                    s.push_str(": ");
                    s.push_str(&c.to_string());
                    src = c.source();
                }
                (e.errno(), s)
            }
            FailSource::Msg(m) => (None, m.clone()),
        };
        // Bounded (a value such as 65,537 additionalGids is huge) so that the failure always
        // fits in one message: an init that cannot report must never look successful.
        let path = self.path.map(|p| truncate(p, MAX_FAILURE_PATH));
        let cause = truncate(cause, MAX_FAILURE_TEXT);
        let message = match &path {
            Some(p) if !cause.contains(p.as_str()) => format!("{} {p}: {cause}", self.step),
            _ => format!("{}: {cause}", self.step),
        };
        InitFailure {
            step: self.step.to_string(),
            path,
            errno,
            message,
        }
    }
}

impl From<rootfs::RootfsError> for Fail {
    fn from(e: rootfs::RootfsError) -> Fail {
        Fail {
            step: e.step(),
            path: e.path(),
            source: FailSource::Rootfs(e),
        }
    }
}

pub(super) type R<T> = Result<T, Fail>;

/// The longest path or value of a reported failure, in bytes.
pub(super) const MAX_FAILURE_PATH: usize = 512;

/// The longest cause of a reported failure, in bytes.
pub(super) const MAX_FAILURE_TEXT: usize = 4096;

/// `s` cut to at most `max` bytes (at a char boundary), marked with `...` when cut.
pub(super) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}
