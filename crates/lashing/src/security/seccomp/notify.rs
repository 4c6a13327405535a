//! The notify listener: the state and fd sent to a seccomp agent (`SCMP_ACT_NOTIFY`).

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::net::{
    AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};
use serde::{Deserialize, Serialize};

use super::error::SeccompError;

// The OCI version written in the state sent to a seccomp agent: the runtime's.
use crate::config::OCI_VERSION;

/// The state sent to a seccomp agent with the listener fd: runc's
/// `specs.ContainerProcessState`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerProcessState {
    /// OCI version.
    pub oci_version: String,
    /// Names of the fds that come with the message (`["seccompFd"]`).
    pub fds: Vec<String>,
    /// Pid of the container process (in the runtime's pid namespace).
    pub pid: i32,
    /// `listenerMetadata` of the profile.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    /// The container's OCI state.
    pub state: serde_json::Value,
}

impl ContainerProcessState {
    /// The message for a process `pid` of a container with the given OCI `state`.
    pub(crate) fn new(pid: i32, metadata: Option<&str>, state: serde_json::Value) -> Self {
        ContainerProcessState {
            oci_version: OCI_VERSION.to_string(),
            fds: vec!["seccompFd".to_string()],
            pid,
            metadata: metadata.unwrap_or_default().to_string(),
            state,
        }
    }
}

/// Connects to the agent's unix socket at `listener_path` and sends `state` (JSON) with the
/// listener `fd` (`SCM_RIGHTS`) in one message. Runs in the parent.
pub(crate) fn send_listener(
    listener_path: &Path,
    state: &ContainerProcessState,
    fd: BorrowedFd<'_>,
) -> Result<(), SeccompError> {
    let connect_err = |source: io::Error| SeccompError::Connect {
        path: listener_path.to_path_buf(),
        source,
    };
    let send_err = |source: io::Error| SeccompError::Send {
        path: listener_path.to_path_buf(),
        source,
    };
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| connect_err(e.into()))?;
    let addr = SocketAddrUnix::new(listener_path).map_err(|e| connect_err(e.into()))?;
    rustix::net::connect(&sock, &addr).map_err(|e| connect_err(e.into()))?;
    let data = serde_json::to_vec(state).map_err(|e| send_err(io::Error::other(e)))?;
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(send_err(io::Error::other("cannot pack the fd")));
    }
    let sent = rustix::net::sendmsg(
        sock.as_fd(),
        &[IoSlice::new(&data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(|e| send_err(e.into()))?;
    // The fd went with the first byte; the rest of the JSON follows on the stream.
    let mut rest = &data[sent..];
    while !rest.is_empty() {
        let n = rustix::io::write(&sock, rest).map_err(|e| send_err(e.into()))?;
        rest = &rest[n..];
    }
    Ok(())
}
