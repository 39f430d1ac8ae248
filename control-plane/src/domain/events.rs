//! Domain events as stored: `(type, schema version, JSON payload)` in the stream of the
//! aggregate they belong to. Each aggregate has its own event enum; [`DomainEvent`] is any of
//! them. Each event type has its own schema version; older ones are upcast on read in
//! [`DomainEvent::decode`] (see [`upcast`]).

pub mod upcast;

use mcpgw_shared::StreamId;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::api_key::ApiKeyEvent;
use super::connection::ConnectionEvent;
use super::data_plane::DataPlaneEvent;
use super::oauth_client::OAuthClientEvent;
use super::oauth_grant::OAuthGrantEvent;
use super::server::ServerEvent;
use super::signing_key::SigningKeyEvent;
use super::workspace::WorkspaceEvent;

/// An event of any aggregate. Server registrations are large, but events live one batch at a
/// time (an append, a page of the log), so they are not boxed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum DomainEvent {
    /// A workspace's event.
    Workspace(WorkspaceEvent),
    /// A server's event.
    Server(ServerEvent),
    /// An API key's event.
    ApiKey(ApiKeyEvent),
    /// A data-plane registration's event.
    DataPlane(DataPlaneEvent),
    /// A user's connection's event.
    Connection(ConnectionEvent),
    /// An OAuth client's event.
    OAuthClient(OAuthClientEvent),
    /// An OAuth grant's event.
    OAuthGrant(OAuthGrantEvent),
    /// A signing key's event.
    SigningKey(SigningKeyEvent),
}

/// A stored event could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read stored event {event_type} v{schema_version} of {stream}: {source}")]
pub struct DecodeError {
    stream: StreamId,
    event_type: String,
    schema_version: i64,
    source: DecodeFailure,
}

/// Why a stored event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeFailure {
    /// Its version cannot be brought to the current shape.
    #[error(transparent)]
    Upcast(#[from] upcast::UpcastError),
    /// Its payload does not fit the current shape.
    #[error(transparent)]
    Shape(#[from] serde_json::Error),
}

impl DomainEvent {
    /// The stored type name, such as `ServerRegistered`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Workspace(e) => e.event_type(),
            Self::Server(e) => e.event_type(),
            Self::ApiKey(e) => e.event_type(),
            Self::DataPlane(e) => e.event_type(),
            Self::Connection(e) => e.event_type(),
            Self::OAuthClient(e) => e.event_type(),
            Self::OAuthGrant(e) => e.event_type(),
            Self::SigningKey(e) => e.event_type(),
        }
    }

    /// The schema version of this event's shape in this release.
    pub fn schema_version(&self) -> i64 {
        upcast::current_version(self.event_type())
    }

    /// The JSON payload to store (the event's fields; `{}` for events without any).
    pub fn payload(&self) -> serde_json::Value {
        match self {
            Self::Workspace(e) => payload_of(e),
            Self::Server(e) => payload_of(e),
            Self::ApiKey(e) => payload_of(e),
            Self::DataPlane(e) => payload_of(e),
            Self::Connection(e) => payload_of(e),
            Self::OAuthClient(e) => payload_of(e),
            Self::OAuthGrant(e) => payload_of(e),
            Self::SigningKey(e) => payload_of(e),
        }
    }

    /// Reads an event stored in `stream`, upcasting older schema versions.
    pub fn decode(
        stream: &StreamId,
        event_type: &str,
        schema_version: i64,
        payload: serde_json::Value,
    ) -> Result<Self, DecodeError> {
        let decoded = upcast::upcast(event_type, schema_version, payload)
            .map_err(DecodeFailure::from)
            .and_then(|payload| {
                let event = match stream {
                    StreamId::Workspace(_) => decode_as(event_type, payload).map(Self::Workspace),
                    StreamId::Server(_) => decode_as(event_type, payload).map(Self::Server),
                    StreamId::ApiKey(_) => decode_as(event_type, payload).map(Self::ApiKey),
                    StreamId::DataPlane(_) => decode_as(event_type, payload).map(Self::DataPlane),
                    StreamId::Connection(_) => decode_as(event_type, payload).map(Self::Connection),
                    StreamId::OAuthClient(_) => {
                        decode_as(event_type, payload).map(Self::OAuthClient)
                    }
                    StreamId::OAuthGrant(_) => decode_as(event_type, payload).map(Self::OAuthGrant),
                    StreamId::SigningKey(_) => decode_as(event_type, payload).map(Self::SigningKey),
                };
                Ok(event?)
            });
        decoded.map_err(|source| DecodeError {
            stream: stream.clone(),
            event_type: event_type.to_owned(),
            schema_version,
            source,
        })
    }
}

/// The `data` of an adjacently tagged event (`{"type", "data"}`), `{}` for a unit variant.
fn payload_of<E: Serialize>(event: &E) -> serde_json::Value {
    let mut tagged = serde_json::to_value(event).expect("domain events serialize to JSON");
    tagged
        .get_mut("data")
        .map(serde_json::Value::take)
        .unwrap_or_else(|| serde_json::json!({}))
}

fn decode_as<E: DeserializeOwned>(
    event_type: &str,
    payload: serde_json::Value,
) -> Result<E, serde_json::Error> {
    let data = match payload {
        serde_json::Value::Object(map) if map.is_empty() => None,
        other => Some(other),
    };
    let mut tagged = serde_json::json!({ "type": event_type });
    if let Some(data) = data {
        tagged["data"] = data;
    }
    serde_json::from_value(tagged)
}

/// `From<$event> for DomainEvent`, naming the variant.
macro_rules! into_domain_event {
    ($($event:ident => $variant:ident),* $(,)?) => {
        $(
            impl From<$event> for DomainEvent {
                fn from(event: $event) -> Self {
                    Self::$variant(event)
                }
            }
        )*
    };
}

into_domain_event!(
    WorkspaceEvent => Workspace,
    ServerEvent => Server,
    ApiKeyEvent => ApiKey,
    DataPlaneEvent => DataPlane,
    ConnectionEvent => Connection,
    OAuthClientEvent => OAuthClient,
    OAuthGrantEvent => OAuthGrant,
    SigningKeyEvent => SigningKey,
);

#[cfg(test)]
mod tests;
