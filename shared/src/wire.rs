//! What the control plane publishes on the event bus. This is a versioned wire type separate
//! from the stored events, and it never carries a secret: a data plane that sees a change asks
//! the sync API for the entity's current state.

use std::collections::BTreeMap;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{InvalidId, WorkspaceId};
use crate::subjects::Subjects;

/// The version of [`ConfigEvent`] and [`Heartbeat`] this build writes.
pub const WIRE_VERSION: u32 = 1;

/// The workspace token used for entities that belong to no workspace (global admin keys,
/// data-plane registrations).
pub const GLOBAL_WORKSPACE: &str = "_global";

/// Header that carries the idempotency key (`<seq>.<workspace>`) of a published message.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Who a change is published to: the data planes of one workspace, or every data plane (for
/// entities that belong to no workspace: global admin keys, data-plane registrations).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Audience {
    /// The workspace's data planes.
    Workspace(WorkspaceId),
    /// Every data plane ([`GLOBAL_WORKSPACE`] on the wire).
    Global,
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Workspace(id) => id.fmt(f),
            Self::Global => f.write_str(GLOBAL_WORKSPACE),
        }
    }
}

impl fmt::Debug for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Audience({self})")
    }
}

impl FromStr for Audience {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == GLOBAL_WORKSPACE {
            Ok(Self::Global)
        } else {
            s.parse().map(Self::Workspace)
        }
    }
}

impl TryFrom<String> for Audience {
    type Error = InvalidId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Audience> for String {
    fn from(value: Audience) -> Self {
        value.to_string()
    }
}

impl From<WorkspaceId> for Audience {
    fn from(value: WorkspaceId) -> Self {
        Self::Workspace(value)
    }
}

/// Which kind of entity changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A workspace.
    Workspace,
    /// An MCP server.
    Server,
    /// An API key.
    ApiKey,
    /// A data-plane registration.
    DataPlane,
    /// A user's connection to a per-user OAuth server (sealed tokens).
    Connection,
    /// A client of the gateway's OAuth authorization server (never sent to data planes).
    #[serde(rename = "oauth_client")]
    OAuthClient,
    /// An OAuth grant (sent to data planes only when revoked).
    #[serde(rename = "oauth_grant")]
    OAuthGrant,
    /// An access-token signing key (never sent to data planes).
    SigningKey,
}

impl EntityKind {
    /// The kind whose subject token is `token`.
    pub fn parse(token: &str) -> Option<Self> {
        [
            Self::Workspace,
            Self::Server,
            Self::ApiKey,
            Self::DataPlane,
            Self::Connection,
            Self::OAuthClient,
            Self::OAuthGrant,
            Self::SigningKey,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == token)
    }

    /// The subject token of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::Server => "server",
            Self::ApiKey => "api_key",
            Self::DataPlane => "data_plane",
            Self::Connection => "connection",
            Self::OAuthClient => "oauth_client",
            Self::OAuthGrant => "oauth_grant",
            Self::SigningKey => "signing_key",
        }
    }
}

/// One committed change, as published for one workspace it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEvent {
    /// Wire version, [`WIRE_VERSION`].
    pub v: u32,
    /// Global sequence of the event; the idempotency key.
    pub seq: i64,
    /// The workspace this copy is published for, or [`GLOBAL_WORKSPACE`].
    pub workspace: Audience,
    /// The kind of entity.
    pub kind: EntityKind,
    /// The entity's id.
    pub id: String,
    /// The stored event's type, such as `ApiKeyRevoked`.
    pub change: String,
    /// When it was committed.
    pub at: DateTime<Utc>,
}

impl ConfigEvent {
    /// The subject this event is published on in the cluster of `subjects`.
    pub fn subject(&self, subjects: &Subjects) -> String {
        subjects.config(self.workspace, self.kind)
    }

    /// The idempotency key of this copy.
    pub fn message_id(&self) -> String {
        format!("{}.{}", self.seq, self.workspace)
    }
}

/// Published every second: the head of the log, globally and per workspace, so a data plane
/// that missed a message notices within one heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Wire version, [`WIRE_VERSION`].
    pub v: u32,
    /// The highest published sequence.
    pub head: i64,
    /// The highest published sequence that concerns each workspace.
    pub workspaces: BTreeMap<Audience, i64>,
    /// When it was sent.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests;
