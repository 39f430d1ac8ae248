//! API keys: issuing and revoking them.

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{KeyType, Permission};
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ApiKeyId, StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};

use super::workspace::validate_name;
use super::{Aggregate, Decision, DomainError, DomainEvent};

/// An API key's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ApiKeyEvent {
    /// It was issued.
    #[serde(rename = "ApiKeyIssued")]
    Issued {
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
        /// SHA-256 of the secret (hex in the stored payload).
        #[serde(with = "super::hex_hash")]
        secret_hash: [u8; 32],
    },
    /// It was revoked.
    #[serde(rename = "ApiKeyRevoked")]
    Revoked,
}

impl ApiKeyEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Issued { .. } => "ApiKeyIssued",
            Self::Revoked => "ApiKeyRevoked",
        }
    }
}

/// What can be asked of an API key.
#[derive(Debug, Clone)]
pub enum ApiKeyCommand {
    /// Issue it.
    Issue(IssueApiKey),
    /// Revoke it; revoking a revoked key changes nothing.
    Revoke,
}

/// `IssueApiKey`.
#[derive(Debug, Clone)]
pub struct IssueApiKey {
    /// Workspace, if bound to one.
    pub workspace_id: Option<WorkspaceId>,
    /// Display name.
    pub name: String,
    /// Service or user.
    pub key_type: KeyType,
    /// User of a user key.
    pub user_id: Option<String>,
    /// Permissions to grant.
    pub permissions: Vec<Permission>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// SHA-256 of the generated secret.
    pub secret_hash: [u8; 32],
    /// The time of the decision (expiry must lie after it).
    pub now: DateTime<Utc>,
}

/// An API key's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Whether it was issued.
    pub issued: bool,
    /// Its workspace, if bound to one.
    pub workspace_id: Option<WorkspaceId>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl ApiKey {
    /// Who changes of this key concern: its workspace, or every data plane for a global key.
    pub fn audience(&self) -> Audience {
        self.workspace_id
            .map_or(Audience::Global, Audience::Workspace)
    }
}

impl Aggregate for ApiKey {
    type Id = ApiKeyId;
    type Event = ApiKeyEvent;
    type Command = ApiKeyCommand;

    fn stream(id: &ApiKeyId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<ApiKeyEvent> {
        match event {
            DomainEvent::ApiKey(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &ApiKeyEvent) {
        match event {
            ApiKeyEvent::Issued { workspace_id, .. } => {
                self.issued = true;
                self.workspace_id = *workspace_id;
            }
            ApiKeyEvent::Revoked => self.revoked = true,
        }
    }

    fn decide(
        &self,
        id: &ApiKeyId,
        command: ApiKeyCommand,
    ) -> Result<Decision<ApiKeyEvent>, DomainError> {
        let (events, audience) = match command {
            ApiKeyCommand::Issue(issue) => {
                let audience = issue
                    .workspace_id
                    .map_or(Audience::Global, Audience::Workspace);
                (self.issue(id, issue)?, audience)
            }
            ApiKeyCommand::Revoke => (self.revoke(id)?, self.audience()),
        };
        Ok(Decision {
            events,
            audience: vec![audience],
        })
    }
}

impl ApiKey {
    fn issue(&self, id: &ApiKeyId, cmd: IssueApiKey) -> Result<Vec<ApiKeyEvent>, DomainError> {
        if self.issued {
            return Err(DomainError::AlreadyExists {
                kind: "api key",
                id: id.to_string(),
            });
        }
        validate_name("name", &cmd.name)?;
        match (cmd.key_type, cmd.user_id.as_deref()) {
            (KeyType::User, None) => {
                return Err(DomainError::invalid(
                    "user_id",
                    "a user key needs the user's id",
                ));
            }
            (KeyType::User, Some(user)) if user.trim().is_empty() || user.len() > 256 => {
                return Err(DomainError::invalid(
                    "user_id",
                    "must be 1 to 256 characters",
                ));
            }
            (KeyType::Service, Some(_)) => {
                return Err(DomainError::invalid(
                    "user_id",
                    "only user keys have a user id; omit it or use \"type\": \"user\"",
                ));
            }
            _ => {}
        }
        if cmd.permissions.is_empty() {
            return Err(DomainError::invalid(
                "permissions",
                "grant at least one permission, such as \"mcp.invoke\"",
            ));
        }
        if cmd.permissions.contains(&Permission::McpInvoke) && cmd.workspace_id.is_none() {
            return Err(DomainError::invalid(
                "workspace_id",
                "a key with \"mcp.invoke\" must belong to a workspace",
            ));
        }
        if cmd.expires_at.is_some_and(|at| at <= cmd.now) {
            return Err(DomainError::invalid("expires_at", "must lie in the future"));
        }
        let mut permissions = cmd.permissions;
        permissions.sort();
        permissions.dedup();
        Ok(vec![ApiKeyEvent::Issued {
            workspace_id: cmd.workspace_id,
            name: cmd.name,
            key_type: cmd.key_type,
            user_id: cmd.user_id,
            permissions,
            expires_at: cmd.expires_at,
            secret_hash: cmd.secret_hash,
        }])
    }

    fn revoke(&self, id: &ApiKeyId) -> Result<Vec<ApiKeyEvent>, DomainError> {
        if !self.issued {
            return Err(DomainError::not_found("api key", id));
        }
        if self.revoked {
            return Ok(vec![]);
        }
        Ok(vec![ApiKeyEvent::Revoked])
    }
}

#[cfg(test)]
mod tests;
