//! Data-plane registrations: scoped to some workspaces or all, with tokens that can be rotated
//! (the old ones kept for an overlap window), revoked one by one or all at once, and deleted.

use chrono::{DateTime, Utc};
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ApiKeyId, DataPlaneId, StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};

use super::workspace::validate_name;
use super::{Aggregate, Decision, DomainError, DomainEvent};

/// Longest overlap a rotation may give the tokens it replaces.
pub const MAX_ROTATION_OVERLAP: chrono::Duration = chrono::Duration::days(7);

/// A data-plane registration's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DataPlaneEvent {
    /// It was registered with its first token.
    #[serde(rename = "DataPlaneRegistered")]
    Registered {
        /// Display name.
        name: String,
        /// Workspaces it serves; `None` for all.
        workspaces: Option<Vec<WorkspaceId>>,
        /// Public id of its token.
        token_id: ApiKeyId,
        /// SHA-256 of the token's secret (hex in the stored payload).
        #[serde(with = "super::hex_hash")]
        token_hash: [u8; 32],
        /// Public key of its NATS user (registrations before NATS users have none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nats_user: Option<String>,
    },
    /// A new token was issued; the tokens it replaces stop working at `retire_previous_at`.
    #[serde(rename = "DataPlaneTokenRotated")]
    TokenRotated {
        /// Public id of the new token.
        token_id: ApiKeyId,
        /// SHA-256 of its secret (hex in the stored payload).
        #[serde(with = "super::hex_hash")]
        token_hash: [u8; 32],
        /// When the earlier tokens expire (the overlap window's end).
        retire_previous_at: DateTime<Utc>,
    },
    /// One token was revoked: it stops working at once.
    #[serde(rename = "DataPlaneTokenRevoked")]
    TokenRevoked {
        /// The revoked token's public id.
        token_id: ApiKeyId,
    },
    /// The registration was deleted, with every token.
    #[serde(rename = "DataPlaneDeleted")]
    Deleted,
}

impl DataPlaneEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Registered { .. } => "DataPlaneRegistered",
            Self::TokenRotated { .. } => "DataPlaneTokenRotated",
            Self::TokenRevoked { .. } => "DataPlaneTokenRevoked",
            Self::Deleted => "DataPlaneDeleted",
        }
    }
}

/// What can be asked of a data-plane registration.
#[derive(Debug, Clone)]
pub enum DataPlaneCommand {
    /// Register it.
    Register(RegisterDataPlane),
    /// Issue a new token; the current ones keep working until `retire_previous_at`.
    RotateToken {
        /// Public id of the new token.
        token_id: ApiKeyId,
        /// SHA-256 of its secret.
        token_hash: [u8; 32],
        /// When the current tokens expire: now (no overlap) up to [`MAX_ROTATION_OVERLAP`]
        /// from `now`.
        retire_previous_at: DateTime<Utc>,
        /// The time of the decision.
        now: DateTime<Utc>,
    },
    /// Revoke one token, or every token still usable (`None`).
    Revoke {
        /// The token; `None` for all.
        token_id: Option<ApiKeyId>,
        /// The time of the decision.
        now: DateTime<Utc>,
    },
    /// Delete the registration.
    Delete,
}

/// `RegisterDataPlane`.
#[derive(Debug, Clone)]
pub struct RegisterDataPlane {
    /// Display name.
    pub name: String,
    /// Workspaces it serves; `None` for all.
    pub workspaces: Option<Vec<WorkspaceId>>,
    /// Public id of the generated token.
    pub token_id: ApiKeyId,
    /// SHA-256 of the token's secret.
    pub token_hash: [u8; 32],
    /// Public key of its generated NATS user.
    pub nats_user: String,
}

/// One token of a registration, as its events left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    /// Public id.
    pub id: ApiKeyId,
    /// When it stops working, if a rotation retired it.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl TokenState {
    /// Whether the token still works at `now`.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A data-plane registration's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DataPlane {
    /// Whether it was registered.
    pub registered: bool,
    /// Whether it was deleted.
    pub deleted: bool,
    /// Its tokens, oldest first.
    pub tokens: Vec<TokenState>,
}

impl Aggregate for DataPlane {
    type Id = DataPlaneId;
    type Event = DataPlaneEvent;
    type Command = DataPlaneCommand;

    fn stream(id: &DataPlaneId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<DataPlaneEvent> {
        match event {
            DomainEvent::DataPlane(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &DataPlaneEvent) {
        match event {
            DataPlaneEvent::Registered { token_id, .. } => {
                self.registered = true;
                self.tokens.push(TokenState {
                    id: *token_id,
                    expires_at: None,
                    revoked: false,
                });
            }
            DataPlaneEvent::TokenRotated {
                token_id,
                retire_previous_at,
                ..
            } => {
                for token in &mut self.tokens {
                    token.expires_at = Some(
                        token
                            .expires_at
                            .map_or(*retire_previous_at, |at| at.min(*retire_previous_at)),
                    );
                }
                self.tokens.push(TokenState {
                    id: *token_id,
                    expires_at: None,
                    revoked: false,
                });
            }
            DataPlaneEvent::TokenRevoked { token_id } => {
                if let Some(token) = self.tokens.iter_mut().find(|t| t.id == *token_id) {
                    token.revoked = true;
                }
            }
            DataPlaneEvent::Deleted => self.deleted = true,
        }
    }

    fn decide(
        &self,
        id: &DataPlaneId,
        command: DataPlaneCommand,
    ) -> Result<Decision<DataPlaneEvent>, DomainError> {
        let events = match command {
            DataPlaneCommand::Register(register) => self.register(id, register)?,
            DataPlaneCommand::RotateToken {
                token_id,
                token_hash,
                retire_previous_at,
                now,
            } => {
                self.exists(id)?;
                if retire_previous_at < now || retire_previous_at > now + MAX_ROTATION_OVERLAP {
                    return Err(DomainError::invalid(
                        "overlap_seconds",
                        "must be between 0 and 604800 (7 days)",
                    ));
                }
                vec![DataPlaneEvent::TokenRotated {
                    token_id,
                    token_hash,
                    retire_previous_at,
                }]
            }
            DataPlaneCommand::Revoke { token_id, now } => {
                self.exists(id)?;
                self.revoke(token_id, now)?
            }
            DataPlaneCommand::Delete => {
                self.exists(id)?;
                vec![DataPlaneEvent::Deleted]
            }
        };
        Ok(Decision {
            events,
            audience: vec![Audience::Global],
        })
    }
}

impl DataPlane {
    fn exists(&self, id: &DataPlaneId) -> Result<(), DomainError> {
        if self.registered && !self.deleted {
            Ok(())
        } else {
            Err(DomainError::not_found("data plane", id))
        }
    }

    fn register(
        &self,
        id: &DataPlaneId,
        cmd: RegisterDataPlane,
    ) -> Result<Vec<DataPlaneEvent>, DomainError> {
        if self.registered {
            return Err(DomainError::AlreadyExists {
                kind: "data plane",
                id: id.to_string(),
            });
        }
        validate_name("name", &cmd.name)?;
        let workspaces = cmd.workspaces.map(|mut ws| {
            ws.sort();
            ws.dedup();
            ws
        });
        if workspaces.as_ref().is_some_and(Vec::is_empty) {
            return Err(DomainError::invalid(
                "workspaces",
                "name at least one workspace, or omit the field to serve all",
            ));
        }
        Ok(vec![DataPlaneEvent::Registered {
            name: cmd.name,
            workspaces,
            token_id: cmd.token_id,
            token_hash: cmd.token_hash,
            nats_user: Some(cmd.nats_user),
        }])
    }

    /// Revokes `token_id`, or every usable token.
    fn revoke(
        &self,
        token_id: Option<ApiKeyId>,
        now: DateTime<Utc>,
    ) -> Result<Vec<DataPlaneEvent>, DomainError> {
        let Some(token_id) = token_id else {
            let usable: Vec<_> = self
                .tokens
                .iter()
                .filter(|t| t.usable(now))
                .map(|t| DataPlaneEvent::TokenRevoked { token_id: t.id })
                .collect();
            if usable.is_empty() {
                return Err(DomainError::invalid(
                    "token_id",
                    "the data plane has no usable token left; rotate to issue a new one",
                ));
            }
            return Ok(usable);
        };
        match self.tokens.iter().find(|t| t.id == token_id) {
            None => Err(DomainError::not_found("data-plane token", token_id)),
            Some(token) if token.revoked => Err(DomainError::invalid(
                "token_id",
                format!("token {token_id} is revoked already"),
            )),
            Some(_) => Ok(vec![DataPlaneEvent::TokenRevoked { token_id }]),
        }
    }
}

#[cfg(test)]
mod tests;
