//! Events to containerd (`/tasks/*` topics), through its TTRPC events service.

use containerd_shim::Context;
use containerd_shim::protos::protobuf::MessageDyn;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::publisher::RemotePublisher;

/// The publisher and the namespace the events belong to.
pub struct Events {
    publisher: RemotePublisher,
    namespace: String,
}

impl Events {
    /// Events of `namespace` through `publisher`.
    pub fn new(publisher: RemotePublisher, namespace: &str) -> Events {
        Events {
            publisher,
            namespace: namespace.into(),
        }
    }

    /// Publishes `event` on `topic`; a failure is logged (containerd also polls the state).
    pub fn publish(&self, topic: &str, event: Box<dyn MessageDyn>) {
        if let Err(e) = self
            .publisher
            .publish(Context::default(), topic, &self.namespace, event)
        {
            log::warn!("publish {topic}: {e}");
        }
    }
}

/// The current time as a protobuf timestamp.
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
        ..Default::default()
    }
}
