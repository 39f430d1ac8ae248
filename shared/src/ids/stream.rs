//! Event stream ids: which entity's history a stream holds. In the event log and wherever a
//! stream is named as text, it is `<kind>:<id>` (such as `server:0190…`); this type is the one
//! place that writes and reads that form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{
    ApiKeyId, ConnectionId, DataPlaneId, InvalidId, OAuthClientId, OAuthGrantId, ServerId,
    SigningKeyId, WorkspaceId,
};
use crate::wire::EntityKind;

/// The stream of one entity.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StreamId {
    /// A workspace's history.
    Workspace(WorkspaceId),
    /// An MCP server's history.
    Server(ServerId),
    /// An API key's history.
    ApiKey(ApiKeyId),
    /// A data-plane registration's history.
    DataPlane(DataPlaneId),
    /// A user's connection to a per-user OAuth server.
    Connection(ConnectionId),
    /// A client of the gateway's OAuth authorization server.
    OAuthClient(OAuthClientId),
    /// An OAuth grant: an authorization code and its refresh-token family.
    OAuthGrant(OAuthGrantId),
    /// An access-token signing key.
    SigningKey(SigningKeyId),
}

impl StreamId {
    /// The kind of entity the stream holds.
    pub fn kind(&self) -> EntityKind {
        match self {
            Self::Workspace(_) => EntityKind::Workspace,
            Self::Server(_) => EntityKind::Server,
            Self::ApiKey(_) => EntityKind::ApiKey,
            Self::DataPlane(_) => EntityKind::DataPlane,
            Self::Connection(_) => EntityKind::Connection,
            Self::OAuthClient(_) => EntityKind::OAuthClient,
            Self::OAuthGrant(_) => EntityKind::OAuthGrant,
            Self::SigningKey(_) => EntityKind::SigningKey,
        }
    }

    /// The entity's id as text (the part after `<kind>:`).
    pub fn entity_id(&self) -> String {
        match self {
            Self::Workspace(id) => id.to_string(),
            Self::Server(id) => id.to_string(),
            Self::ApiKey(id) => id.to_string(),
            Self::DataPlane(id) => id.to_string(),
            Self::Connection(id) => id.to_string(),
            Self::OAuthClient(id) => id.to_string(),
            Self::OAuthGrant(id) => id.to_string(),
            Self::SigningKey(id) => id.to_string(),
        }
    }

    /// The stream of the entity of `kind` with the id `id` (as the sync API names entities).
    pub fn from_parts(kind: EntityKind, id: &str) -> Result<Self, InvalidId> {
        Ok(match kind {
            EntityKind::Workspace => Self::Workspace(id.parse()?),
            EntityKind::Server => Self::Server(id.parse()?),
            EntityKind::ApiKey => Self::ApiKey(id.parse()?),
            EntityKind::DataPlane => Self::DataPlane(id.parse()?),
            EntityKind::Connection => Self::Connection(id.parse()?),
            EntityKind::OAuthClient => Self::OAuthClient(id.parse()?),
            EntityKind::OAuthGrant => Self::OAuthGrant(id.parse()?),
            EntityKind::SigningKey => Self::SigningKey(id.parse()?),
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind().as_str(), self.entity_id())
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({self})")
    }
}

impl FromStr for StreamId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidId {
            kind: "stream",
            value: s.chars().take(64).collect(),
        };
        let (kind, id) = s.split_once(':').ok_or_else(invalid)?;
        let kind = EntityKind::parse(kind).ok_or_else(invalid)?;
        Self::from_parts(kind, id)
    }
}

impl TryFrom<String> for StreamId {
    type Error = InvalidId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<StreamId> for String {
    fn from(value: StreamId) -> Self {
        value.to_string()
    }
}
