//! Domain events: past tense, one enum, stored as `(type, schema version, JSON payload)`.
//! Older schema versions are upcast on read in [`DomainEvent::decode`].

use chrono::{DateTime, Utc};
use mcpgw_shared::SealedSecret;
use mcpgw_shared::ids::WorkspaceId;
use mcpgw_shared::model::{KeyType, Permission, ToolFilter, UpstreamAuth};
use mcpgw_shared::slug::Slug;
use serde::{Deserialize, Serialize};

/// The schema version this build writes for every event type.
pub const SCHEMA_VERSION: i64 = 1;

/// Everything that can happen to the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DomainEvent {
    /// A workspace was created.
    WorkspaceCreated {
        /// Its name.
        name: String,
    },
    /// A workspace was renamed.
    WorkspaceRenamed {
        /// The new name.
        name: String,
    },
    /// An MCP server was registered.
    ServerRegistered {
        /// Home workspace.
        workspace_id: WorkspaceId,
        /// Globally unique slug.
        slug: Slug,
        /// Display name.
        name: String,
        /// Description.
        description: String,
        /// Upstream MCP endpoint.
        url: String,
        /// Upstream auth, secrets sealed.
        auth: UpstreamAuth<SealedSecret>,
        /// Tool visibility.
        tools: ToolFilter,
        /// Whether clients may use it.
        enabled: bool,
    },
    /// Name or description changed.
    ServerDetailsChanged {
        /// Display name.
        name: String,
        /// Description.
        description: String,
    },
    /// The upstream URL changed.
    ServerUpstreamChanged {
        /// New upstream URL.
        url: String,
    },
    /// The upstream auth changed.
    ServerAuthChanged {
        /// New auth, secrets sealed.
        auth: UpstreamAuth<SealedSecret>,
    },
    /// The tool filter changed.
    ServerToolsChanged {
        /// New tool filter.
        tools: ToolFilter,
    },
    /// The server was enabled or disabled.
    ServerEnabledChanged {
        /// Whether clients may use it.
        enabled: bool,
    },
    /// The server was provisioned to another workspace.
    ServerProvisioned {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
    /// The server was withdrawn from a workspace it was provisioned to.
    ServerDeprovisioned {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
    /// The server was deleted.
    ServerDeleted,
    /// An API key was issued.
    ApiKeyIssued {
        /// Its workspace, if bound to one.
        workspace_id: Option<WorkspaceId>,
        /// Display name.
        name: String,
        /// Service or user.
        key_type: KeyType,
        /// User of a user key.
        user_id: Option<String>,
        /// Granted permissions.
        permissions: Vec<Permission>,
        /// Expiry.
        expires_at: Option<DateTime<Utc>>,
        /// SHA-256 of the secret, hex.
        secret_hash: String,
    },
    /// An API key was revoked.
    ApiKeyRevoked,
    /// A data plane was registered.
    DataPlaneRegistered {
        /// Display name.
        name: String,
        /// Workspaces it serves; `None` for all.
        workspaces: Option<Vec<WorkspaceId>>,
        /// Public id of its token.
        token_id: String,
        /// SHA-256 of the token's secret, hex.
        token_hash: String,
    },
}

/// A stored event could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read stored event {event_type} v{schema_version}: {source}")]
pub struct DecodeError {
    event_type: String,
    schema_version: i64,
    source: serde_json::Error,
}

impl DomainEvent {
    /// The stored type name, such as `ServerRegistered`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::WorkspaceCreated { .. } => "WorkspaceCreated",
            Self::WorkspaceRenamed { .. } => "WorkspaceRenamed",
            Self::ServerRegistered { .. } => "ServerRegistered",
            Self::ServerDetailsChanged { .. } => "ServerDetailsChanged",
            Self::ServerUpstreamChanged { .. } => "ServerUpstreamChanged",
            Self::ServerAuthChanged { .. } => "ServerAuthChanged",
            Self::ServerToolsChanged { .. } => "ServerToolsChanged",
            Self::ServerEnabledChanged { .. } => "ServerEnabledChanged",
            Self::ServerProvisioned { .. } => "ServerProvisioned",
            Self::ServerDeprovisioned { .. } => "ServerDeprovisioned",
            Self::ServerDeleted => "ServerDeleted",
            Self::ApiKeyIssued { .. } => "ApiKeyIssued",
            Self::ApiKeyRevoked => "ApiKeyRevoked",
            Self::DataPlaneRegistered { .. } => "DataPlaneRegistered",
        }
    }

    /// The JSON payload to store (the event's fields; `{}` for events without any).
    pub fn payload(&self) -> serde_json::Value {
        let mut tagged = serde_json::to_value(self).expect("domain events serialize to JSON");
        tagged
            .get_mut("data")
            .map(serde_json::Value::take)
            .unwrap_or_else(|| serde_json::json!({}))
    }

    /// Reads a stored event, upcasting older schema versions.
    pub fn decode(
        event_type: &str,
        schema_version: i64,
        payload: serde_json::Value,
    ) -> Result<Self, DecodeError> {
        let data = match payload {
            serde_json::Value::Object(map) if map.is_empty() => None,
            other => Some(other),
        };
        let mut tagged = serde_json::json!({ "type": event_type });
        if let Some(data) = data {
            tagged["data"] = data;
        }
        serde_json::from_value(tagged).map_err(|source| DecodeError {
            event_type: event_type.to_owned(),
            schema_version,
            source,
        })
    }

    /// Whether this event changes how the gateway connects to the upstream, so that pooled
    /// connections and sealed sessions of the old config must go.
    pub fn changes_connection(&self) -> bool {
        matches!(
            self,
            Self::ServerRegistered { .. }
                | Self::ServerUpstreamChanged { .. }
                | Self::ServerAuthChanged { .. }
                | Self::ServerEnabledChanged { .. }
                | Self::ServerDeleted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_stored_form() {
        for event in [
            DomainEvent::WorkspaceCreated { name: "w".into() },
            DomainEvent::ServerDeleted,
            DomainEvent::ApiKeyRevoked,
            DomainEvent::ServerEnabledChanged { enabled: false },
        ] {
            let back =
                DomainEvent::decode(event.event_type(), SCHEMA_VERSION, event.payload()).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn unit_events_store_an_empty_object() {
        assert_eq!(DomainEvent::ServerDeleted.payload(), serde_json::json!({}));
    }

    #[test]
    fn an_unknown_event_type_is_an_error_not_a_panic() {
        assert!(DomainEvent::decode("Nope", 1, serde_json::json!({})).is_err());
    }
}
