//! The config-sync gRPC client, authenticated with the data plane's token.

use mcpgw_shared::proto::config_sync_client::ConfigSyncClient;
use mcpgw_shared::proto::{
    Changes, ChangesRequest, Snapshot, SnapshotRequest, StatusAck, StatusReport,
};
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
            _ => Self::Unavailable(format!("{}: {}", status.code(), status.message())),
        }
    }
}

/// A client of the control plane's `ConfigSync` service.
#[derive(Clone)]
pub struct SyncClient {
    inner: ConfigSyncClient<Channel>,
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
        Ok(Self {
            inner: ConfigSyncClient::new(link.endpoint().connect_lazy())
                .max_decoding_message_size(MAX_SYNC_MESSAGE_BYTES),
            authorization,
        })
    }

    fn request<T>(&self, message: T) -> Request<T> {
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
}
