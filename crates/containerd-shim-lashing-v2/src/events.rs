//! Events to containerd (`/tasks/*` topics), through its TTRPC events service.
//!
//! The envelope's `Any` is written here with the event's type name from its topic, not through
//! the crate's publisher: that one names the type by protobuf reflection, whose first use builds
//! the descriptors of the event's whole proto file and its imports (heap and code pages that
//! every pod's shim would carry: docs/benchmarks.md). For the same reason the event is encoded
//! through its static type (`Message::write_to_vec`): the `dyn` encoder asks the descriptor for
//! the type's name at every call.
//!
//! Events are sent by a thread of their own, in the order they are published (as the runc v2
//! shim's forwarding goroutine): a task API call (Create, Start, Exec, ...) answers without
//! waiting for containerd to take its event, and an exit still follows its start (one queue).
//! [`Events::flush`] waits for what is queued before the shim exits.

use containerd_shim::protos::protobuf::MessageFull;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::shim::event::Envelope;
use containerd_shim::protos::shim::events::ForwardRequest;
use containerd_shim::protos::shim_sync::EventsClient;
use containerd_shim::protos::topics::*;
use containerd_shim::protos::ttrpc;

/// The publisher of containerd's events (its queue, served by the sending thread) and the
/// namespace the events belong to.
pub struct Events {
    queue: Option<std::sync::mpsc::Sender<Queued>>,
    namespace: String,
}

/// What the sending thread is asked to do, in order.
enum Queued {
    /// Forward one event to containerd.
    Event(Box<ForwardRequest>),
    /// Answer once everything queued before has been sent.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// The sending thread's stack: it only encodes and writes small messages.
const SENDER_STACK: usize = 128 * 1024;

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
        let queue = match ttrpc::Client::connect(&addr) {
            Ok(c) => {
                let client = EventsClient::new(c);
                sender(move |req: &ForwardRequest| {
                    if let Err(e) = client.forward(ttrpc::context::Context::default(), req) {
                        log::warn!("publish {}: {e}", req.envelope.topic);
                    }
                })
            }
            Err(e) => {
                log::error!("connect to containerd's events at {addr}: {e}");
                None
            }
        };
        Events {
            queue,
            namespace: namespace.into(),
        }
    }

    /// Waits (at most `timeout`) until every event published so far has been sent; `false`
    /// if that did not happen in time (the events are then lost with the shim, which containerd
    /// copes with: it also polls the tasks' state).
    pub fn flush(&self, timeout: std::time::Duration) -> bool {
        let Some(queue) = &self.queue else {
            return true;
        };
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        queue.send(Queued::Flush(done)).is_ok() && wait.recv_timeout(timeout).is_ok()
    }

    /// The containerd namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Publishes `event` on `topic`; a failure is logged (containerd also polls the state).
    pub fn publish<M: MessageFull>(&self, topic: &str, event: M) {
        let Some(queue) = &self.queue else {
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
        if queue.send(Queued::Event(Box::new(req))).is_err() {
            log::warn!("publish {topic}: the events' sender is gone");
        }
    }
}

/// Starts the thread that sends the queued events, in order, with `send`; `None` (events
/// dropped, logged) when it cannot start.
fn sender(
    mut send: impl FnMut(&ForwardRequest) + Send + 'static,
) -> Option<std::sync::mpsc::Sender<Queued>> {
    let (queue, next) = std::sync::mpsc::channel::<Queued>();
    let spawned = std::thread::Builder::new()
        .name("events".into())
        .stack_size(SENDER_STACK)
        .spawn(move || {
            for q in next {
                match q {
                    Queued::Event(req) => send(&req),
                    Queued::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
    match spawned {
        Ok(_) => Some(queue),
        Err(e) => {
            log::error!("start the events' sender: {e}");
            None
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

    /// Events leave in the order they were published, each with its type and namespace, and a
    /// flush returns once all of them are sent.
    #[test]
    fn events_are_sent_in_order_and_flushed() {
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = sent.clone();
        let slow = std::time::Duration::from_millis(20);
        let events = Events {
            queue: sender(move |req: &ForwardRequest| {
                // Slower than the publisher: the queue must hold and keep the order.
                std::thread::sleep(slow);
                let env = &req.envelope;
                record.lock().unwrap().push(format!(
                    "{} {} {}",
                    env.namespace, env.topic, env.event.type_url
                ));
            }),
            namespace: "ns".into(),
        };
        let id = || "c1".to_string();
        events.publish(
            TASK_CREATE_EVENT_TOPIC,
            TaskCreate {
                container_id: id(),
                ..Default::default()
            },
        );
        events.publish(
            TASK_START_EVENT_TOPIC,
            TaskStart {
                container_id: id(),
                ..Default::default()
            },
        );
        events.publish(
            TASK_EXIT_EVENT_TOPIC,
            TaskExit {
                container_id: id(),
                ..Default::default()
            },
        );
        assert!(events.flush(lashing_testsupport::WAIT));
        assert_eq!(
            *sent.lock().unwrap(),
            [
                "ns /tasks/create containerd.events.TaskCreate",
                "ns /tasks/start containerd.events.TaskStart",
                "ns /tasks/exit containerd.events.TaskExit",
            ]
        );
        // Without a connection, nothing is queued and a flush has nothing to wait for.
        let none = Events {
            queue: None,
            namespace: "ns".into(),
        };
        none.publish(TASK_START_EVENT_TOPIC, TaskStart::default());
        assert!(none.flush(std::time::Duration::ZERO));
    }

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
