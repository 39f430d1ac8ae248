//! Stored events to wire messages: one per workspace an event concerns.

use mcpgw_shared::bus::BusMessage;
use mcpgw_shared::wire::{ConfigEvent, EntityKind, GLOBAL_WORKSPACE, WIRE_VERSION};

use crate::store::StoredEvent;

/// The entity kind named by a stream id's prefix.
pub fn entity_kind(stream_id: &str) -> Option<EntityKind> {
    match stream_id.split_once(':')?.0 {
        "workspace" => Some(EntityKind::Workspace),
        "server" => Some(EntityKind::Server),
        "api_key" => Some(EntityKind::ApiKey),
        "data_plane" => Some(EntityKind::DataPlane),
        _ => None,
    }
}

/// The messages that publish `events`, in sequence order. The wire type carries no payload
/// beyond the change's identity, so no secret can leak onto the bus.
pub fn wire_messages(events: &[StoredEvent]) -> Vec<BusMessage> {
    let mut messages = Vec::with_capacity(events.len());
    for event in events {
        let Some(kind) = entity_kind(&event.stream_id) else {
            tracing::error!(stream = %event.stream_id, seq = event.seq, "event of an unknown stream kind is not published");
            continue;
        };
        let global = [GLOBAL_WORKSPACE.to_owned()];
        let workspaces = if event.workspaces.is_empty() {
            &global[..]
        } else {
            &event.workspaces[..]
        };
        for workspace in workspaces {
            let wire = ConfigEvent {
                v: WIRE_VERSION,
                seq: event.seq,
                workspace: workspace.clone(),
                kind,
                id: event.entity_id().to_owned(),
                change: event.event.event_type().to_owned(),
                at: event.recorded_at,
            };
            messages.push(BusMessage {
                subject: wire.subject(),
                message_id: Some(wire.message_id()),
                payload: serde_json::to_vec(&wire)
                    .expect("wire events serialize")
                    .into(),
            });
        }
    }
    messages
}
