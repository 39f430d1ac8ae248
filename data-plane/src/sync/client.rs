//! The config-sync gRPC client, authenticated with the data plane's token.

use mcpgw_shared::model::ConnectionRecord;
use mcpgw_shared::proto::authorization_client::AuthorizationClient;
use mcpgw_shared::proto::config_sync_client::ConfigSyncClient;
use mcpgw_shared::proto::{
    self, Changes, ChangesRequest, EntityRequest, Snapshot, SnapshotRequest, StatusAck,
    StatusReport, StoreConnectionRequest, StoreConnectionResult, entity_state,
};
use mcpgw_shared::{ConnectionId, ServerId};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request};

use super::SyncLink;

/// Largest sync message a data plane reads. A snapshot of 10k servers and 100k keys is about
/// 20 MiB; the default of gRPC (4 MiB) would refuse it.
pub const MAX_SYNC_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// A sync call failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The token cannot be sent as metadata.
    #[error("MCPGW_DATA_PLANE_TOKEN contains characters that cannot be sent")]
    BadToken,
    /// The control plane refused the token.
    #[error(
        "the control plane refused the data-plane token ({0}); create one with POST /v1/data-planes"
    )]
    Unauthenticated(String),
    /// The applied sequence is too old or ahead of the log: take a snapshot.
    #[error("the control plane asks for a new snapshot: {0}")]
    SnapshotNeeded(String),
    /// A compare-and-swap write found another version: read the entity again.
    #[error("another data plane wrote first: {0}")]
    Conflict(String),
    /// The control plane refused the request as invalid.
    #[error("the control plane refused the request: {0}")]
    Refused(String),
    /// The control plane is unreachable or failed.
    #[error("the control plane is unavailable: {0}")]
    Unavailable(String),
}

impl From<tonic::Status> for SyncError {
    fn from(status: tonic::Status) -> Self {
        match status.code() {
            Code::Unauthenticated | Code::PermissionDenied => {
                Self::Unauthenticated(status.message().to_owned())
            }
            Code::FailedPrecondition => Self::SnapshotNeeded(status.message().to_owned()),
            Code::Aborted => Self::Conflict(status.message().to_owned()),
            Code::InvalidArgument | Code::NotFound => Self::Refused(status.message().to_owned()),
            _ => Self::Unavailable(format!("{}: {}", status.code(), status.message())),
        }
    }
}

/// A client of the control plane's `ConfigSync` service.
#[derive(Clone)]
pub struct SyncClient {
    inner: ConfigSyncClient<Channel>,
    /// The authorization server's store, on the same channel.
    pub(super) oauth: AuthorizationClient<Channel>,
    authorization: MetadataValue<tonic::metadata::Ascii>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient").finish_non_exhaustive()
    }
}

impl SyncClient {
    /// A client over `link` (connected lazily, reconnecting as needed) sending `token`.
    pub fn new(link: &SyncLink, token: &str) -> Result<Self, SyncError> {
        let authorization = format!("Bearer {token}")
            .parse()
            .map_err(|_| SyncError::BadToken)?;
        let channel = link.endpoint().connect_lazy();
        Ok(Self {
            inner: ConfigSyncClient::new(channel.clone())
                .max_decoding_message_size(MAX_SYNC_MESSAGE_BYTES),
            oauth: AuthorizationClient::new(channel),
            authorization,
        })
    }

    pub(super) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }

    /// A consistent snapshot of every entity this data plane serves.
    pub async fn snapshot(&self) -> Result<Snapshot, SyncError> {
        Ok(self
            .inner
            .clone()
            .get_snapshot(self.request(SnapshotRequest {}))
            .await?
            .into_inner())
    }

    /// The entities changed after `after_seq`.
    pub async fn changes(&self, after_seq: i64) -> Result<Changes, SyncError> {
        Ok(self
            .inner
            .clone()
            .get_changes(self.request(ChangesRequest { after_seq }))
            .await?
            .into_inner())
    }

    /// Reports this instance's status.
    pub async fn report(&self, report: StatusReport) -> Result<StatusAck, SyncError> {
        Ok(self
            .inner
            .clone()
            .report_status(self.request(report))
            .await?
            .into_inner())
    }

    /// Stores `user`'s sealed tokens for `server` if the connection is still at
    /// `expected_version` (0: not connected); empty `sealed` ends the connection, and
    /// `signed_out` says the tokens no longer work (the user must sign in again).
    /// [`SyncError::Conflict`] when another pod wrote first.
    pub async fn store_connection(
        &self,
        server: &ServerId,
        user: &str,
        expected_version: i64,
        sealed: Vec<u8>,
        signed_out: bool,
    ) -> Result<StoreConnectionResult, SyncError> {
        let request = StoreConnectionRequest {
            server_id: server.to_string(),
            user_id: user.to_owned(),
            expected_version,
            sealed,
            signed_out,
        };
        Ok(self
            .inner
            .clone()
            .store_connection(self.request(request))
            .await?
            .into_inner())
    }

    /// The current state of connection `id`, `None` when there is none.
    pub async fn connection(
        &self,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRecord>, SyncError> {
        let state = self
            .inner
            .clone()
            .get_entity(self.request(EntityRequest {
                kind: proto::EntityKind::Connection.into(),
                id: id.to_string(),
            }))
            .await?
            .into_inner();
        match state.state {
            Some(entity_state::State::Connection(connection)) => {
                ConnectionRecord::try_from(connection)
                    .map(Some)
                    .map_err(|e| SyncError::Refused(e.to_string()))
            }
            _ => Ok(None),
        }
    }
}
