//! Stored events to wire messages: one per audience an event concerns.

use mcpgw_shared::bus::BusMessage;
use mcpgw_shared::subjects::Subjects;
use mcpgw_shared::wire::{Audience, ConfigEvent, WIRE_VERSION};

use crate::store::StoredEvent;

/// The messages that publish `events` on the cluster's `subjects`, in sequence order. The wire type carries no payload
/// beyond the change's identity, so no secret can leak onto the bus.
pub fn wire_messages(events: &[StoredEvent], subjects: &Subjects) -> Vec<BusMessage> {
    let mut messages = Vec::with_capacity(events.len());
    for event in events {
        let global = [Audience::Global];
        let audience = if event.audience.is_empty() {
            &global[..]
        } else {
            &event.audience[..]
        };
        for workspace in audience {
            let wire = ConfigEvent {
                v: WIRE_VERSION,
                seq: event.seq,
                workspace: *workspace,
                kind: event.stream.kind(),
                id: event.stream.entity_id(),
                change: event.event.event_type().to_owned(),
                at: event.recorded_at,
            };
            messages.push(BusMessage {
                subject: wire.subject(subjects),
                message_id: Some(wire.message_id()),
                payload: serde_json::to_vec(&wire)
                    .expect("wire events serialize")
                    .into(),
            });
        }
    }
    messages
}
