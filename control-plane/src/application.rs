//! The service layer under both admin APIs: authorizes the caller, loads the aggregate, decides,
//! appends the events with the read-model updates, and wakes the outbox relay.

mod admin;
mod api_keys;
mod data_planes;
mod error;
mod events;
mod servers;
mod workspaces;

use std::sync::Arc;

use mcpgw_shared::SecretCipher;
use tokio::sync::Notify;

pub use admin::Admin;
pub use api_keys::{IssueApiKeyInput, IssuedApiKey};
pub use data_planes::{DataPlaneStatus, RegisterDataPlaneInput, RegisteredDataPlane};
pub use error::ServiceError;
pub use servers::{RegisterServerInput, UpdateServerInput, secret_context};

use crate::domain::{Aggregate, DomainError, DomainEvent};
use crate::store::{AppendRequest, Database, StoreError, StoredEvent};

/// Attempts at an append whose stream moved on between read and write, when the caller did not
/// pin a version.
const APPEND_ATTEMPTS: usize = 3;

/// The control plane's operations.
#[derive(Clone)]
pub struct Service {
    db: Database,
    cipher: SecretCipher,
    relay_wakeup: Arc<Notify>,
}

/// What a command did: the new stream version and the events it recorded (none when nothing
/// changed).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The stream's version after the command.
    pub version: i64,
    /// The recorded events.
    pub events: Vec<StoredEvent>,
}

impl Service {
    /// A service over `db`, sealing secrets with `cipher`, waking the relay on every commit.
    pub fn new(db: Database, cipher: SecretCipher, relay_wakeup: Arc<Notify>) -> Self {
        Self {
            db,
            cipher,
            relay_wakeup,
        }
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The secret cipher.
    pub fn cipher(&self) -> &SecretCipher {
        &self.cipher
    }

    /// Runs one command against the aggregate in `stream`: load, check the caller's expected
    /// version, decide, append. `concerns` names the workspaces the change concerns, given the
    /// state before and the decided events.
    async fn execute<A: Aggregate>(
        &self,
        stream: &str,
        expected_version: Option<i64>,
        actor: &str,
        decide: impl Fn(&A) -> Result<Vec<DomainEvent>, DomainError>,
        concerns: impl Fn(&A, &[DomainEvent]) -> Vec<String>,
    ) -> Result<Outcome, ServiceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let history = self.db.load_stream(stream).await?;
            let version = history.last().map_or(0, |e| e.stream_version);
            if let Some(expected) = expected_version
                && expected != version
            {
                return Err(ServiceError::VersionConflict {
                    expected,
                    actual: version,
                });
            }
            let state = A::from_events(history.iter().map(|e| &e.event));
            let events = decide(&state)?;
            if events.is_empty() {
                return Ok(Outcome {
                    version,
                    events: vec![],
                });
            }
            let request = AppendRequest {
                stream_id: stream.to_owned(),
                expected_version: version,
                workspaces: concerns(&state, &events),
                events,
                actor: actor.to_owned(),
            };
            match self.db.append(request).await {
                Ok(events) => {
                    self.relay_wakeup.notify_one();
                    return Ok(Outcome {
                        version: events.last().map_or(version, |e| e.stream_version),
                        events,
                    });
                }
                Err(StoreError::Conflict { actual, .. }) => {
                    if expected_version.is_some() || attempt >= APPEND_ATTEMPTS {
                        return Err(ServiceError::VersionConflict {
                            expected: version,
                            actual,
                        });
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
    }
}
