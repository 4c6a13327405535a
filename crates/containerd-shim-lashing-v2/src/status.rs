//! The RPC errors the task service answers with.

use containerd_shim::protos::ttrpc::{self, Code};

/// An RPC error with its gRPC code.
pub fn err(code: Code, msg: impl std::fmt::Display) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.to_string()))
}
