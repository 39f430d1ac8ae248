//! Enforcement of configuration changes on this pod's open streams, per the change-to-action
//! table. After every change (and every half second, for expiry) each open stream is judged by
//! the same access rule as a new request ([`crate::access::check`]): a withdrawn key (revoked,
//! expired, deleted, permission lost), a server withdrawn from the key's workspace, disabled
//! or deleted loses its streams; so does a server whose URL or auth changed (its sessions answer
//! 404 on their next request, since they were sealed against the old connection version). A
//! changed tool policy is announced with `notifications/tools/list_changed` on the server's open
//! GET streams. A user's ended connection (revoked by an administrator) closes their streams to
//! the server; a user's sign-in completes their URL elicitation with
//! `notifications/elicitation/complete` on their open GET streams to it.

mod registry;

use std::time::Duration;

use chrono::Utc;
use mcpgw_shared::{ConnectionId, ServerId};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

pub use registry::{StreamGuard, StreamRegistry};

use bytes::Bytes;

use crate::access;
use crate::oauth::Vault;
use crate::snapshot::{Config, ConfigStore};

/// How often expiry is checked (keys expire by the clock, with no event).
const EXPIRY_SWEEP: Duration = Duration::from_millis(500);

/// The notification announcing a changed tool list, as one SSE event. It carries no `id:`, so
/// it never collides with the upstream's event ids and leaves the client's `Last-Event-ID` on
/// the upstream's last event.
pub const TOOLS_LIST_CHANGED_EVENT: &[u8] =
    b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n";

/// Applies every configuration change to the open streams of `registry` until `shutdown`;
/// `vault` opens users' connections (none: this pod keeps no users' tokens).
pub async fn run(
    store: ConfigStore,
    registry: StreamRegistry,
    vault: Option<Vault>,
    shutdown: CancellationToken,
) {
    let mut changes = store.subscribe();
    let mut sweep = tokio::time::interval(EXPIRY_SWEEP);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            received = changes.recv() => match received {
                Ok(change_set) => {
                    let config = store.load();
                    sweep_withdrawn(&config, &registry);
                    for change in &change_set.changes {
                        match change {
                            crate::Change::Server { id, how } => {
                                if change.changes_tools() {
                                    registry.announce(id, TOOLS_LIST_CHANGED_EVENT);
                                }
                                if how.tools || how.added || how.removed {
                                    announce_to_virtual_servers(&config, &registry, id);
                                }
                            }
                            crate::Change::Workspace { id, tools: true } => {
                                // Every server its keys reach shows another set of tools.
                                registry.inject_where(
                                    |stream| {
                                        config
                                            .api_key(&stream.key)
                                            .is_some_and(|key| key.workspace == Some(*id))
                                    },
                                    Bytes::from_static(TOOLS_LIST_CHANGED_EVENT),
                                );
                            }
                            crate::Change::Connection { id, removed: true } => {
                                close_connection(&config, &registry, id);
                            }
                            crate::Change::Connection { id, removed: false } => {
                                if let Some(vault) = &vault {
                                    complete_sign_in(&config, &registry, vault, id);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                // Missed change sets: the sweep still closes what must close.
                Err(RecvError::Lagged(_)) => sweep_withdrawn(&store.load(), &registry),
                Err(RecvError::Closed) => return,
            },
            _ = sweep.tick() => sweep_withdrawn(&store.load(), &registry),
        }
    }
}

/// Tells the sessions of every virtual server that has `server` among its members that its
/// tools may have changed (a member's tools changed, or it came or went).
fn announce_to_virtual_servers(config: &Config, registry: &StreamRegistry, server: &ServerId) {
    let slug = config.route(server).map(|r| r.slug().to_string());
    for route in config.routes() {
        let Some(members) = route.members() else {
            continue;
        };
        // A removed member is known by its slug no more: every virtual server hears it.
        let lists_it = slug
            .as_deref()
            .is_none_or(|slug| members.members.iter().any(|m| m.server == slug));
        if lists_it && &route.id() != server {
            registry.announce(&route.id(), TOOLS_LIST_CHANGED_EVENT);
        }
    }
}

/// Closes every stream the access rule no longer allows, or whose server's connection changed.
fn sweep_withdrawn(config: &Config, registry: &StreamRegistry) {
    let now = Utc::now();
    let closed = registry.close_where(|stream| {
        if stream
            .grant
            .is_some_and(|grant| config.grant_revoked(&grant, now))
        {
            return true;
        }
        let key = config.api_key(&stream.key).or(stream.external.as_ref());
        let allowed = match (key, config.route(&stream.server)) {
            (Some(key), Some(route)) => {
                access::allows(config, &stream.key, key, route, now).is_ok()
                    && route.connection_version() == stream.connection_version
            }
            _ => false,
        };
        !(allowed && config.is_ready())
    });
    if closed > 0 {
        tracing::info!(closed, "closed streams after a configuration change");
    }
}

/// Closes the streams of the user whose connection `id` ended (revoked by an admin, or a
/// refresh token refused): they were opened with that user's upstream token.
fn close_connection(config: &Config, registry: &StreamRegistry, id: &ConnectionId) {
    let closed = registry.close_where(|stream| {
        config
            .api_key(&stream.key)
            .and_then(|key| key.user.as_deref())
            .is_some_and(|user| ConnectionId::of(&stream.server, user) == *id)
    });
    if closed > 0 {
        tracing::info!(closed, connection = %id, "closed a user's streams after their connection ended");
    }
}

/// Tells the user of connection `id`, if this write is their sign-in, on their open GET
/// streams to the server that the URL elicitation that asked for it is complete.
fn complete_sign_in(config: &Config, registry: &StreamRegistry, vault: &Vault, id: &ConnectionId) {
    let Some(connection) = config.connections.get(id).map(|e| e.value.clone()) else {
        return;
    };
    let Some(elicitation) = vault.open(&connection).ok().and_then(|t| t.elicitation_id) else {
        return;
    };
    let message = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "notifications/elicitation/complete",
        "params": {"elicitationId": elicitation},
    });
    let event = Bytes::from(format!("event: message\ndata: {message}\n\n"));
    let sent = registry.inject_where(
        |stream| {
            stream.server == connection.server_id
                && config
                    .api_key(&stream.key)
                    .and_then(|key| key.user.as_deref())
                    .is_some_and(|user| user == connection.user_id)
        },
        event,
    );
    if sent > 0 {
        tracing::debug!(sent, connection = %id, "completed a URL elicitation on the user's streams");
    }
}

#[cfg(test)]
mod tests;
