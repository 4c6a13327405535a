//! A small, blocking CRI (Kubernetes Container Runtime Interface, `runtime.v1`) client over a
//! unix socket, for lashing's tests: there is no CRI client on the test machines (Debian 12 has
//! no `crictl`, containerd 1.6's `ctr` has no CRI commands), and the CRI path is how Kubernetes
//! drives containerd and, through it, the runtime.
//!
//! [`Cri`] owns a current-thread tokio runtime and the two generated gRPC clients of
//! [`k8s_cri::v1`]; a test calls a method of [`Cri::runtime`] or [`Cri::images`] and waits for
//! it with [`Cri::call`]. The message types are re-exported as [`v1`].

use std::future::Future;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// The CRI `runtime.v1` messages and services.
pub use k8s_cri::v1;

/// Why a CRI call could not be made or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tokio runtime the client blocks on could not be built.
    #[error("building the CRI client's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The socket could not be connected.
    #[error("connecting to the CRI socket {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: tonic::transport::Error,
    },
    /// The server answered the call with an error status.
    #[error("CRI call {call} failed: {status}")]
    Call {
        /// The call, as the caller named it.
        call: String,
        /// The gRPC status.
        #[source]
        status: Box<tonic::Status>,
    },
}

/// A connected CRI client (runtime and image services of one socket).
pub struct Cri {
    rt: tokio::runtime::Runtime,
    /// The `RuntimeService` client.
    pub runtime: RuntimeServiceClient<Channel>,
    /// The `ImageService` client.
    pub images: ImageServiceClient<Channel>,
}

impl Cri {
    /// Connects to the CRI server listening on the unix socket `path`.
    pub fn connect(path: &Path) -> Result<Cri, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let sock = path.to_path_buf();
        // The URI is required by tonic but unused: the connector dials the socket.
        let endpoint = Endpoint::from_static("http://localhost");
        let channel = rt
            .block_on(
                endpoint.connect_with_connector(tower::service_fn(move |_: Uri| {
                    let sock = sock.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(sock).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                })),
            )
            .map_err(|source| Error::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Cri {
            rt,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// Waits for the call `fut` (named `call` in errors) and returns its response's message.
    pub fn call<T>(
        &self,
        call: &str,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, Error> {
        self.rt
            .block_on(fut)
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::Call {
                call: call.to_string(),
                status: Box::new(status),
            })
    }
}
