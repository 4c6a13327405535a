//! Events to containerd (`/tasks/*` topics), through its TTRPC events service.
//!
//! The envelope's `Any` is written here with the event's type name from its topic, not through
//! the crate's publisher: that one names the type by protobuf reflection, whose first use builds
//! the descriptors of the event's whole proto file and its imports (heap and code pages that
//! every pod's shim would carry: docs/benchmarks.md). For the same reason the event is encoded
//! through its static type (`Message::write_to_vec`): the `dyn` encoder asks the descriptor for
//! the type's name at every call.

use containerd_shim::protos::protobuf::MessageFull;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::shim::event::Envelope;
use containerd_shim::protos::shim::events::ForwardRequest;
use containerd_shim::protos::shim_sync::EventsClient;
use containerd_shim::protos::topics::*;
use containerd_shim::protos::ttrpc;

/// The client of containerd's events service and the namespace the events belong to.
pub struct Events {
    client: Option<EventsClient>,
    namespace: String,
}

/// The protobuf type name of the event published on `topic` (containerd's `typeurl` reads it).
pub fn type_name(topic: &str) -> Option<&'static str> {
    Some(match topic {
        TASK_CREATE_EVENT_TOPIC => "containerd.events.TaskCreate",
        TASK_START_EVENT_TOPIC => "containerd.events.TaskStart",
        TASK_EXIT_EVENT_TOPIC => "containerd.events.TaskExit",
        TASK_DELETE_EVENT_TOPIC => "containerd.events.TaskDelete",
        TASK_OOM_EVENT_TOPIC => "containerd.events.TaskOOM",
        TASK_EXEC_ADDED_EVENT_TOPIC => "containerd.events.TaskExecAdded",
        TASK_EXEC_STARTED_EVENT_TOPIC => "containerd.events.TaskExecStarted",
        TASK_PAUSED_EVENT_TOPIC => "containerd.events.TaskPaused",
        TASK_RESUMED_EVENT_TOPIC => "containerd.events.TaskResumed",
        TASK_CHECKPOINTED_EVENT_TOPIC => "containerd.events.TaskCheckpointed",
        _ => return None,
    })
}

impl Events {
    /// Events of `namespace` to containerd's TTRPC socket `address` (a path, or `unix://...`).
    /// Without a connection the events are dropped with a log line (containerd also polls).
    pub fn connect(address: &str, namespace: &str) -> Events {
        let addr = if address.contains("://") {
            address.to_string()
        } else {
            format!("unix://{address}")
        };
        let client = match ttrpc::Client::connect(&addr) {
            Ok(c) => Some(EventsClient::new(c)),
            Err(e) => {
                log::error!("connect to containerd's events at {addr}: {e}");
                None
            }
        };
        Events {
            client,
            namespace: namespace.into(),
        }
    }

    /// The containerd namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Publishes `event` on `topic`; a failure is logged (containerd also polls the state).
    pub fn publish<M: MessageFull>(&self, topic: &str, event: M) {
        let Some(client) = &self.client else {
            return;
        };
        let mut value = Vec::new();
        if let Err(e) = event.write_to_vec(&mut value) {
            log::warn!("publish {topic}: encode: {e}");
            return;
        }
        // An event of a topic not listed (none today) is named by reflection.
        let type_url = match type_name(topic) {
            Some(n) => n.to_string(),
            None => M::descriptor().full_name().to_string(),
        };
        let req = ForwardRequest {
            envelope: Some(Envelope {
                timestamp: Some(now()).into(),
                namespace: self.namespace.clone(),
                topic: topic.into(),
                event: Some(Any {
                    type_url,
                    value,
                    ..Default::default()
                })
                .into(),
                ..Default::default()
            })
            .into(),
            ..Default::default()
        };
        if let Err(e) = client.forward(ttrpc::context::Context::default(), &req) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim::protos::events::task::*;

    /// The table agrees with the protobuf descriptors it stands in for.
    #[test]
    fn type_names_are_the_descriptors_full_names() {
        let cases: [(&str, String); 10] = [
            (
                TASK_CREATE_EVENT_TOPIC,
                TaskCreate::descriptor().full_name().into(),
            ),
            (
                TASK_START_EVENT_TOPIC,
                TaskStart::descriptor().full_name().into(),
            ),
            (
                TASK_EXIT_EVENT_TOPIC,
                TaskExit::descriptor().full_name().into(),
            ),
            (
                TASK_DELETE_EVENT_TOPIC,
                TaskDelete::descriptor().full_name().into(),
            ),
            (
                TASK_OOM_EVENT_TOPIC,
                TaskOOM::descriptor().full_name().into(),
            ),
            (
                TASK_EXEC_ADDED_EVENT_TOPIC,
                TaskExecAdded::descriptor().full_name().into(),
            ),
            (
                TASK_EXEC_STARTED_EVENT_TOPIC,
                TaskExecStarted::descriptor().full_name().into(),
            ),
            (
                TASK_PAUSED_EVENT_TOPIC,
                TaskPaused::descriptor().full_name().into(),
            ),
            (
                TASK_RESUMED_EVENT_TOPIC,
                TaskResumed::descriptor().full_name().into(),
            ),
            (
                TASK_CHECKPOINTED_EVENT_TOPIC,
                TaskCheckpointed::descriptor().full_name().into(),
            ),
        ];
        for (topic, name) in cases {
            assert_eq!(type_name(topic), Some(name.as_str()), "{topic}");
        }
        assert_eq!(type_name("/tasks/nosuch"), None);
    }
}
