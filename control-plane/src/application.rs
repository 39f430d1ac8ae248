//! The service layer, the one door to the control plane's state for both admin APIs and the
//! sync API: it authenticates and authorizes the caller, loads the aggregate, decides, appends
//! the events with the read-model updates, wakes the outbox relay, and answers queries. The
//! database and the secret cipher are private to it.

mod api_keys;
mod authenticate;
pub mod authorization;
mod caller;
mod connections;
mod data_planes;
mod error;
mod events;
mod requests;
mod servers;
mod sync;
mod workspaces;

use std::sync::Arc;

use mcpgw_shared::SecretCipher;
use mcpgw_shared::subjects::Subjects;
use tokio::sync::Notify;

pub use api_keys::{IssueApiKeyInput, IssuedApiKey};
pub use authenticate::{Refusal, Unauthenticated};
pub use authorization::{
    AuthorizationSettings, ClientCredentials, IssueCodeInput, IssuedCode, IssuedTokens,
    RegisterClientInput, RegisteredClient, RevokeGrantsInput, SignedAssertion, TokenInput,
    UserAssertionInput,
};
pub use caller::{Admin, AdminScope, Caller, Forbidden};
pub use connections::{StoreConnectionInput, StoredConnection};
pub use data_planes::{
    DataPlaneStatus, InstanceReport, IssuedDataPlaneToken, MAX_INSTANCES_PER_DATA_PLANE, NatsUser,
    RegisterDataPlaneInput, RegisteredDataPlane, RevokeDataPlaneInput, RotateTokenInput,
};
pub use error::ServiceError;
pub use events::AuditEntry;
pub use requests::{
    ConfigApplied, Diagnosis, RequestDiagnosis, RequestPage, RequestTail, TAIL_BUFFER,
};
pub use servers::{
    BadPoint, RegisterServerInput, ServerAt, ServerChange, ServerVersion, UpdateServerInput,
    secret_context,
};
pub use sync::{SyncEntity, SyncSnapshot, SyncState, SyncWorkspace};
pub use workspaces::WorkspaceChanges;

use crate::domain::{Actor, Aggregate};
use crate::store::{AppendRequest, Database, StoreError, StoredEvent};

/// Attempts at an append whose stream moved on between read and write, when the caller did not
/// pin a version. Every attempt authorizes and decides against the state it appends after.
const APPEND_ATTEMPTS: usize = 3;

/// The control plane's operations.
#[derive(Clone)]
pub struct Service {
    db: Database,
    cipher: SecretCipher,
    relay_wakeup: Arc<Notify>,
    bus: BusIdentity,
    requests_tail: tokio::sync::broadcast::Sender<Arc<crate::store::request_log::StoredRequest>>,
    /// Where the doctor may connect (`MCPGW_EGRESS_ALLOW` of the control plane).
    probe_egress: Arc<mcpgw_data_plane::egress::EgressPolicy>,
    /// Lifetimes of the authorization server's tokens and keys.
    authorization: AuthorizationSettings,
}

/// Who the control plane is on the bus: its cluster's subjects and, when it connects with an
/// nkey, its NATS user's public key (both go into the NATS authorization it renders).
#[derive(Debug, Clone, Default)]
pub struct BusIdentity {
    /// The cluster's subjects.
    pub subjects: Subjects,
    /// The control plane's NATS user (public nkey).
    pub control_plane_user: Option<String>,
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
            bus: BusIdentity::default(),
            requests_tail: tokio::sync::broadcast::channel(TAIL_BUFFER).0,
            probe_egress: Arc::new(mcpgw_data_plane::egress::EgressPolicy::public_only()),
            authorization: AuthorizationSettings::default(),
        }
    }

    /// The same service, its doctor connecting where `egress` allows.
    pub fn with_egress(mut self, egress: mcpgw_data_plane::egress::EgressPolicy) -> Self {
        self.probe_egress = Arc::new(egress);
        self
    }

    /// Runs the doctor on a server named by its id or its slug: the triage of why it might not
    /// work, step by step. A slug no server has is not found, with the caller's slugs that
    /// look like it.
    pub async fn diagnose_server(
        &self,
        caller: &Caller,
        server: &str,
        input: &crate::doctor::DiagnoseInput,
    ) -> Result<crate::doctor::Report, ServiceError> {
        let id = match server.parse::<mcpgw_shared::ServerId>() {
            Ok(id) => id,
            Err(_) => self.server_by_slug(caller, server).await?,
        };
        // A diagnosis is rare: its HTTP clients live for it alone, and start-up builds none.
        crate::doctor::Doctor::new(self.probe_egress.clone())
            .diagnose(self, caller, &id, input)
            .await
    }

    /// Tests how the gateway signs in to the upstream of `server` (an id or a slug), step by
    /// step.
    pub async fn test_server_auth(
        &self,
        caller: &Caller,
        server: &str,
    ) -> Result<crate::doctor::Report, ServiceError> {
        let id = match server.parse::<mcpgw_shared::ServerId>() {
            Ok(id) => id,
            Err(_) => self.server_by_slug(caller, server).await?,
        };
        crate::doctor::Doctor::new(self.probe_egress.clone())
            .test_auth(self, caller, &id)
            .await
    }

    /// The same service, on the bus as `bus` says.
    pub fn with_bus_identity(mut self, bus: BusIdentity) -> Self {
        self.bus = bus;
        self
    }

    /// The sequence of the last committed event.
    pub async fn head(&self) -> Result<i64, ServiceError> {
        Ok(self.db.head().await?)
    }

    /// Folds the aggregate `id` from its stream; also returns the stream's version.
    async fn load<A: Aggregate>(&self, id: &A::Id) -> Result<(A, i64), ServiceError> {
        let stream = A::stream(id);
        let history = self.db.load_stream(&stream).await?;
        let version = history.last().map_or(0, |e| e.stream_version);
        let mut state = A::default();
        for stored in history {
            let event = A::own(stored.event).ok_or_else(|| {
                StoreError::Corrupt(format!("{stream} holds an event of another aggregate"))
            })?;
            state.apply(&event);
        }
        Ok((state, version))
    }

    /// Runs `command` against the aggregate `id`: load it, check the caller's expected version,
    /// `authorize` the caller against the loaded state, decide, and append pinned to the
    /// version that was loaded — so what was authorized is what the change applies to. When
    /// the stream moved on meanwhile and no version was pinned by the caller, all of it runs
    /// again on the new state. Each command is a span (`command`), carrying its stream and
    /// the events it recorded.
    async fn execute<A: Aggregate>(
        &self,
        caller: &Caller,
        id: &A::Id,
        expected_version: Option<i64>,
        authorize: impl Fn(&A) -> Result<(), ServiceError>,
        command: A::Command,
    ) -> Result<Outcome, ServiceError> {
        self.execute_as(caller.actor(), id, expected_version, authorize, command)
            .await
    }

    /// [`Self::execute`] for an author that is not an admin caller (a data plane).
    #[tracing::instrument(
        name = "command",
        skip_all,
        fields(stream = %A::stream(id), recorded = tracing::field::Empty, seq = tracing::field::Empty)
    )]
    async fn execute_as<A: Aggregate>(
        &self,
        actor: Actor,
        id: &A::Id,
        expected_version: Option<i64>,
        authorize: impl Fn(&A) -> Result<(), ServiceError>,
        command: A::Command,
    ) -> Result<Outcome, ServiceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (state, version) = self.load::<A>(id).await?;
            if let Some(expected) = expected_version
                && expected != version
            {
                return Err(ServiceError::VersionConflict {
                    expected,
                    actual: version,
                });
            }
            authorize(&state)?;
            let decision = state.decide(id, command.clone())?;
            if decision.events.is_empty() {
                return Ok(Outcome {
                    version,
                    events: vec![],
                });
            }
            let request = AppendRequest {
                stream: A::stream(id),
                expected_version: version,
                events: decision.events.into_iter().map(Into::into).collect(),
                audience: decision.audience,
                actor: actor.to_string(),
            };
            match self.db.append(request).await {
                Ok(events) => {
                    self.relay_wakeup.notify_one();
                    let span = tracing::Span::current();
                    span.record("recorded", events.len());
                    if let Some(last) = events.last() {
                        span.record("seq", last.seq);
                    }
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

#[cfg(test)]
pub(crate) mod tests;
