//! Users' connections to per-user OAuth servers: the upstream tokens the gateway holds for one
//! user at one server. The tokens arrive sealed by a data plane (with `MCPGW_TOKEN_KEY`, which
//! the control plane never holds) and are kept as the opaque text they arrived as; data planes
//! write them with compare-and-swap on the stream version, so of two pods that refresh at once
//! one wins and the other reads the winner's tokens.

use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ConnectionId, ServerId, StreamId};
use serde::{Deserialize, Serialize};

use super::{Aggregate, Decision, DomainError, DomainEvent};

/// The largest sealed token set accepted (access and refresh tokens with their metadata).
pub const MAX_SEALED_BYTES: usize = 64 * 1024;

/// A connection's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ConnectionEvent {
    /// A data plane stored the user's tokens (after a sign-in or a refresh).
    #[serde(rename = "UpstreamTokensStored")]
    TokensStored {
        /// The server.
        server_id: ServerId,
        /// The user.
        user_id: String,
        /// The sealed tokens, base64.
        sealed: String,
        /// The tokens no longer work (refresh token refused or never issued): the user must
        /// sign in again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        signed_out: bool,
    },
    /// The connection was ended: by an administrator, or by a data plane whose refresh token
    /// the authorization server refused. The user must sign in again.
    #[serde(rename = "UpstreamConnectionRevoked")]
    Revoked {
        /// The server.
        server_id: ServerId,
        /// The user.
        user_id: String,
    },
}

impl ConnectionEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::TokensStored { .. } => "UpstreamTokensStored",
            Self::Revoked { .. } => "UpstreamConnectionRevoked",
        }
    }
}

/// What can be asked of a connection. Each command names who the change concerns: the
/// workspaces the server serves.
#[derive(Debug, Clone)]
pub enum ConnectionCommand {
    /// Store the user's sealed tokens.
    Store {
        /// The server.
        server_id: ServerId,
        /// The user.
        user_id: String,
        /// The sealed tokens, base64.
        sealed: String,
        /// The tokens no longer work.
        signed_out: bool,
        /// The server's workspaces.
        audience: Vec<Audience>,
    },
    /// End the connection.
    Revoke {
        /// The server's workspaces.
        audience: Vec<Audience>,
    },
}

/// A connection's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The server and user, once tokens were stored.
    pub owner: Option<(ServerId, String)>,
    /// Whether tokens are held now.
    pub connected: bool,
}

impl Aggregate for Connection {
    type Id = ConnectionId;
    type Event = ConnectionEvent;
    type Command = ConnectionCommand;

    fn stream(id: &ConnectionId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<ConnectionEvent> {
        match event {
            DomainEvent::Connection(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &ConnectionEvent) {
        match event {
            ConnectionEvent::TokensStored {
                server_id, user_id, ..
            } => {
                self.owner = Some((*server_id, user_id.clone()));
                self.connected = true;
            }
            ConnectionEvent::Revoked { .. } => self.connected = false,
        }
    }

    fn decide(
        &self,
        id: &ConnectionId,
        command: ConnectionCommand,
    ) -> Result<Decision<ConnectionEvent>, DomainError> {
        match command {
            ConnectionCommand::Store {
                server_id,
                user_id,
                sealed,
                signed_out,
                audience,
            } => {
                if ConnectionId::of(&server_id, &user_id) != *id {
                    return Err(DomainError::invalid(
                        "user_id",
                        "the connection id does not belong to this server and user",
                    ));
                }
                if sealed.is_empty() || sealed.len() > MAX_SEALED_BYTES {
                    return Err(DomainError::invalid(
                        "sealed",
                        format!("must hold 1 to {MAX_SEALED_BYTES} bytes"),
                    ));
                }
                Ok(Decision {
                    events: vec![ConnectionEvent::TokensStored {
                        server_id,
                        user_id,
                        sealed,
                        signed_out,
                    }],
                    audience,
                })
            }
            ConnectionCommand::Revoke { audience } => match &self.owner {
                Some((server_id, user_id)) if self.connected => Ok(Decision {
                    events: vec![ConnectionEvent::Revoked {
                        server_id: *server_id,
                        user_id: user_id.clone(),
                    }],
                    audience,
                }),
                _ => Err(DomainError::not_found("connection", id)),
            },
        }
    }
}

#[cfg(test)]
mod tests;
