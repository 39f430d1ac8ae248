//! The audit log: the event log as the caller may see it. Hashes of secrets never show, sealed
//! secrets show as `{"set": true}`, and a workspace admin sees the fields of an event only when
//! it is about something of its own workspace: of a server provisioned to it from elsewhere,
//! it learns that the server changed and how, not its fields, its URL or other workspaces.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ServerId, StreamId, WorkspaceId};
use serde_json::{Value, json};

use super::caller::as_scope;
use super::{Caller, Service, ServiceError};
use crate::domain::DomainEvent;
use crate::domain::server::ServerEvent;
use crate::domain::workspace::WorkspaceEvent;
use crate::store::StoredEvent;

/// Most events one page returns.
pub const MAX_PAGE: i64 = 1000;

/// One entry of the audit log as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Global sequence.
    pub seq: i64,
    /// The event's type.
    pub event_type: &'static str,
    /// The stream it belongs to.
    pub stream: StreamId,
    /// The entity's version after it.
    pub version: i64,
    /// Who made it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The audiences it concerns that the caller may know of.
    pub workspaces: Vec<Audience>,
    /// Its fields, as far as the caller may see them.
    pub data: Value,
}

impl Service {
    /// Up to `limit` events after `after` that the caller may see, and the head sequence.
    pub async fn audit_log(
        &self,
        caller: &Caller,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<AuditEntry>, i64), ServiceError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let head = self.db.head().await?;
        let scope = caller.scope();
        let events = self
            .db
            .read_log(after.max(0), limit, as_scope(&scope))
            .await?;
        let homes = match caller.is_global() {
            true => HashMap::new(),
            false => self.server_homes(&events).await?,
        };
        let entries = events
            .into_iter()
            .map(|event| entry(caller, &homes, event))
            .collect();
        Ok((entries, head))
    }

    /// The home workspace of every server the events are about.
    async fn server_homes(
        &self,
        events: &[StoredEvent],
    ) -> Result<HashMap<ServerId, WorkspaceId>, ServiceError> {
        let servers: BTreeSet<ServerId> = events
            .iter()
            .filter_map(|e| match e.stream {
                StreamId::Server(id) => Some(id),
                _ => None,
            })
            .collect();
        let mut homes = HashMap::with_capacity(servers.len());
        for server in servers {
            let registered = self.db.first_event(&server.stream()).await?;
            if let Some(DomainEvent::Server(ServerEvent::Registered { workspace_id, .. })) =
                registered.map(|e| e.event)
            {
                homes.insert(server, workspace_id);
            }
        }
        Ok(homes)
    }
}

fn entry(
    caller: &Caller,
    homes: &HashMap<ServerId, WorkspaceId>,
    event: StoredEvent,
) -> AuditEntry {
    let own = caller.is_global()
        || match &event.stream {
            StreamId::Server(id) => homes.get(id).is_some_and(|home| caller.manages(home)),
            _ => true,
        };
    let data = if own { shown(&event.event) } else { json!({}) };
    let workspaces = if own {
        event.audience
    } else {
        event
            .audience
            .into_iter()
            .filter(|a| matches!(a, Audience::Workspace(w) if caller.manages(w)))
            .collect()
    };
    AuditEntry {
        seq: event.seq,
        event_type: event.event.event_type(),
        stream: event.stream,
        version: event.stream_version,
        actor: event.actor,
        at: event.recorded_at,
        workspaces,
        data,
    }
}

/// An event's payload without hashes of secrets, sealed secrets as `{"set": true}`.
fn shown(event: &DomainEvent) -> Value {
    let mut data = event.payload();
    if let DomainEvent::Server(
        ServerEvent::Registered { auth, .. } | ServerEvent::AuthChanged { auth },
    ) = event
    {
        data["auth"] = json!(auth.redacted());
    }
    if let DomainEvent::Workspace(WorkspaceEvent::IdentityProviderChanged {
        identity_provider: Some(provider),
    }) = event
    {
        data["identity_provider"]["client_secret_set"] = json!(provider.client_secret.is_some());
        if let Some(Value::Object(fields)) = data.get_mut("identity_provider") {
            fields.remove("client_secret");
        }
    }
    if let DomainEvent::Workspace(WorkspaceEvent::JwtValidationChanged {
        jwt_validation: Some(rules),
    })
    | DomainEvent::Server(ServerEvent::JwtValidationChanged {
        jwt_validation: Some(rules),
    }) = event
    {
        data["jwt_validation"] = rules.shown();
    }
    if let Value::Object(fields) = &mut data {
        fields.remove("secret_hash");
        fields.remove("token_hash");
    }
    data
}
