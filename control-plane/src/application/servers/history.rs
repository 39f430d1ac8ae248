//! A server over time, read from its event stream: every version with what changed in it, and
//! the server as it was at a sequence or a time. Secrets show only as `{"set": true}`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use mcpgw_shared::ServerId;
use mcpgw_shared::model::JwtValidation;
use serde_json::{Map, Value, json};

use super::super::{Caller, Service, ServiceError};
use crate::domain::Aggregate;
use crate::domain::DomainEvent;
use crate::domain::server::{Server, ServerEvent, ServerState};
use crate::store::{ServerRow, StoreError, StoredEvent};

/// A point in a server's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAt {
    /// After the event with this global sequence (and all before it).
    Seq(i64),
    /// After every event recorded up to this time.
    Time(DateTime<Utc>),
}

/// The point is neither a sequence nor an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is neither a sequence number nor an RFC 3339 time (such as 2026-12-01T10:00:00Z)")]
pub struct BadPoint(String);

impl FromStr for ServerAt {
    type Err = BadPoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(seq) = s.parse::<i64>() {
            return Ok(Self::Seq(seq));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| Self::Time(t.with_timezone(&Utc)))
            .map_err(|_| BadPoint(s.chars().take(64).collect()))
    }
}

impl ServerAt {
    fn includes(&self, event: &StoredEvent) -> bool {
        match self {
            Self::Seq(seq) => event.seq <= *seq,
            Self::Time(at) => event.recorded_at <= *at,
        }
    }
}

/// One field that changed, with its value before and after (`null` where it had none).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerChange {
    /// The field, as `GET /v1/servers/{id}` names it.
    pub field: String,
    /// Its value before.
    pub before: Value,
    /// Its value after.
    pub after: Value,
}

/// One version of a server: the event that made it and what it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerVersion {
    /// The server's version after the event.
    pub version: i64,
    /// The event's global sequence.
    pub seq: i64,
    /// The event's type, such as `ServerUpstreamChanged`.
    pub change: &'static str,
    /// Who made it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The fields it changed.
    pub changes: Vec<ServerChange>,
}

impl Service {
    /// Every version of a server the caller may see (deleted servers included), oldest first.
    pub async fn server_history(
        &self,
        caller: &Caller,
        id: &ServerId,
    ) -> Result<Vec<ServerVersion>, ServiceError> {
        let events = self.visible_stream(caller, id).await?;
        let mut state = Server::default();
        let mut versions = Vec::with_capacity(events.len());
        for stored in events {
            let event = server_event(stored.event)?;
            let before = state.current.as_ref().map(described);
            state.apply(&event);
            let after = state.current.as_ref().map(described);
            let mut changes = diff(before.as_ref(), after.as_ref());
            if let ServerEvent::AuthChanged { auth } = &event
                && !changes.iter().any(|c| c.field == "auth")
            {
                // Only secrets changed: they cannot be shown, but the change can.
                let shown = json!(auth.redacted());
                changes.push(ServerChange {
                    field: "auth".into(),
                    before: shown.clone(),
                    after: shown,
                });
            }
            versions.push(ServerVersion {
                version: stored.stream_version,
                seq: stored.seq,
                change: event.event_type(),
                actor: stored.actor,
                at: stored.recorded_at,
                changes,
            });
        }
        Ok(versions)
    }

    /// The server as it was at `at`: not found if it did not exist then.
    pub async fn server_at(
        &self,
        caller: &Caller,
        id: &ServerId,
        at: ServerAt,
    ) -> Result<ServerRow, ServiceError> {
        let events = self.visible_stream(caller, id).await?;
        let mut state = Server::default();
        let mut meta: Option<Versioning> = None;
        for stored in events.into_iter().take_while(|e| at.includes(e)) {
            let event = server_event(stored.event)?;
            let bump = i64::from(event.changes_connection());
            meta = Some(match meta {
                None => Versioning {
                    version: stored.stream_version,
                    last_seq: stored.seq,
                    connection_version: bump,
                    created_at: stored.recorded_at,
                    updated_at: stored.recorded_at,
                },
                Some(previous) => Versioning {
                    version: stored.stream_version,
                    last_seq: stored.seq,
                    connection_version: previous.connection_version + bump,
                    updated_at: stored.recorded_at,
                    ..previous
                },
            });
            state.apply(&event);
        }
        let (Some(live), Some(meta)) = (state.current, meta) else {
            return Err(ServiceError::not_found(
                "server",
                format!("{id} at that point"),
            ));
        };
        Ok(ServerRow {
            id: *id,
            workspace_id: live.workspace_id,
            provisioned: live.provisioned.into_iter().collect(),
            slug: live.slug,
            name: live.name,
            description: live.description,
            url: live.url,
            auth: live.auth,
            tools: live.tools,
            enabled: live.enabled,
            request_logging: live.request_logging,
            rate_limits: live.rate_limits,
            virtual_server: live.virtual_server,
            identity_forwarding: live.identity_forwarding,
            jwt_validation: live.jwt_validation,
            version: meta.version,
            connection_version: meta.connection_version,
            last_seq: meta.last_seq,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
        })
    }

    /// The stream of a server whose home workspace the caller manages.
    async fn visible_stream(
        &self,
        caller: &Caller,
        id: &ServerId,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        let events = self.db.load_stream(&id.stream()).await?;
        let home = events.first().and_then(|first| match &first.event {
            DomainEvent::Server(ServerEvent::Registered { workspace_id, .. }) => Some(workspace_id),
            _ => None,
        });
        match home {
            Some(home) if caller.manages(home) => Ok(events),
            _ => Err(ServiceError::not_found("server", id)),
        }
    }
}

/// The bookkeeping of a server folded up to a point, as its read-model row keeps it.
#[derive(Clone, Copy)]
struct Versioning {
    version: i64,
    last_seq: i64,
    connection_version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn server_event(event: DomainEvent) -> Result<ServerEvent, ServiceError> {
    Server::own(event)
        .ok_or_else(|| {
            StoreError::Corrupt("a server stream holds another aggregate's event".into())
        })
        .map_err(ServiceError::from)
}

/// A live server's fields as the admin API shows them.
fn described(state: &ServerState) -> Map<String, Value> {
    let value = json!({
        "workspace_id": state.workspace_id,
        "slug": state.slug,
        "name": state.name,
        "description": state.description,
        "url": state.url,
        "auth": state.auth.redacted(),
        "tools": state.tools,
        "enabled": state.enabled,
        "request_logging": state.request_logging,
        "rate_limits": state.rate_limits,
        "virtual_server": state.virtual_server,
        "identity_forwarding": state.identity_forwarding,
        "jwt_validation": state.jwt_validation.as_ref().map(JwtValidation::shown),
        "provisioned_workspaces": state.provisioned,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// The fields that differ between two descriptions (`None`: the server did not exist).
fn diff(
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> Vec<ServerChange> {
    let empty = Map::new();
    let (before, after) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter_map(|field| {
            let old = before.get(field).cloned().unwrap_or(Value::Null);
            let new = after.get(field).cloned().unwrap_or(Value::Null);
            (old != new).then(|| ServerChange {
                field: field.clone(),
                before: old,
                after: new,
            })
        })
        .collect()
}
