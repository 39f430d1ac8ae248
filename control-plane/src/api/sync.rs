//! The config-sync gRPC service for data planes. Every call authenticates the data plane's
//! token and sees only the workspaces it serves, secrets decrypted for it; the service layer
//! decides what that is, this module only speaks protobuf.

use chrono::Utc;
use mcpgw_shared::proto::config_sync_server::{ConfigSync, ConfigSyncServer};
use mcpgw_shared::proto::{
    self, Changes, ChangesRequest, EntityKind, EntityRequest, EntityState, Removed, Snapshot,
    SnapshotFormat, SnapshotRequest, StatusAck, StatusReport, StoreConnectionRequest,
    StoreConnectionResult, entity_state,
};
use mcpgw_shared::version::VERSION;
use mcpgw_shared::{StreamId, wire};
use tonic::{Request, Response, Status};

use super::grpc::{self, status};
use crate::application::{
    InstanceReport, Service, StoreConnectionInput, SyncEntity, SyncState, SyncWorkspace,
};
use crate::metrics::ControlPlaneMetrics;
use crate::store::DataPlaneRow;

/// The gRPC service.
#[derive(Clone)]
pub struct SyncService {
    service: Service,
    metrics: ControlPlaneMetrics,
}

impl SyncService {
    /// A sync service over the service layer, counting its calls in `metrics`.
    pub fn new(service: Service, metrics: ControlPlaneMetrics) -> Self {
        Self { service, metrics }
    }

    /// Runs one call in its span and counts its outcome.
    async fn observed<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let count = |result| self.metrics.sync_call(method, result);
        grpc::observed("mcpgw.v1.ConfigSync", method, count, call).await
    }

    /// As a tonic server.
    pub fn into_server(self) -> ConfigSyncServer<Self> {
        ConfigSyncServer::new(self)
    }

    async fn authenticate<T>(&self, request: &Request<T>) -> Result<DataPlaneRow, Status> {
        grpc::authenticate(&self.service, request).await
    }
}

/// A workspace as a data plane is sent it; its identity provider's client secret in
/// plaintext, as servers' secrets are.
fn workspace_message(row: &SyncWorkspace) -> proto::Workspace {
    proto::Workspace {
        id: row.id.to_string(),
        name: row.name.clone(),
        tools: Some((&row.tools).into()),
        grants: row
            .grants
            .iter()
            .map(|(subject, grants)| (subject.clone(), grants.into()))
            .collect(),
        rate_limits: row.rate_limits.iter().map(Into::into).collect(),
        jwt_validation: row
            .jwt_validation
            .as_ref()
            .map(|rules| rules.to_json_with_secret()),
        identity_provider: row
            .identity_provider
            .as_ref()
            .map(|provider| provider.to_json_with_secret()),
    }
}

fn entity_message(entity: SyncEntity) -> EntityState {
    let kind = match entity.stream.kind() {
        wire::EntityKind::Workspace => EntityKind::Workspace,
        wire::EntityKind::Server => EntityKind::Server,
        wire::EntityKind::ApiKey => EntityKind::ApiKey,
        wire::EntityKind::Connection => EntityKind::Connection,
        wire::EntityKind::OAuthGrant => EntityKind::OauthGrant,
        wire::EntityKind::DataPlane
        | wire::EntityKind::OAuthClient
        | wire::EntityKind::SigningKey => EntityKind::Unspecified,
    };
    let state = match entity.state {
        SyncState::Removed => entity_state::State::Removed(Removed {}),
        SyncState::Workspace(row) => entity_state::State::Workspace(workspace_message(&row)),
        SyncState::Server(server) => entity_state::State::Server((&*server).into()),
        SyncState::ApiKey(key) => entity_state::State::ApiKey((&key).into()),
        SyncState::Connection(connection) => entity_state::State::Connection((&connection).into()),
        SyncState::RevokedGrant(grant) => entity_state::State::RevokedGrant((&grant).into()),
    };
    EntityState {
        kind: kind.into(),
        id: entity.stream.entity_id(),
        seq: entity.seq,
        state: Some(state),
    }
}

#[tonic::async_trait]
impl ConfigSync for SyncService {
    async fn get_snapshot(
        &self,
        request: Request<SnapshotRequest>,
    ) -> Result<Response<Snapshot>, Status> {
        self.observed("GetSnapshot", async move {
            let data_plane = self.authenticate(&request).await?;
            let snapshot = self
                .service
                .sync_snapshot(&data_plane)
                .await
                .map_err(status)?;
            Ok(Response::new(Snapshot {
                format: SnapshotFormat::V1.into(),
                seq: snapshot.seq,
                all_workspaces: snapshot.all_workspaces,
                workspaces: snapshot.workspaces.iter().map(workspace_message).collect(),
                servers: snapshot.servers.iter().map(Into::into).collect(),
                api_keys: snapshot.api_keys.iter().map(Into::into).collect(),
                connections: snapshot.connections.iter().map(Into::into).collect(),
                revoked_grants: snapshot.revoked_grants.iter().map(Into::into).collect(),
                control_plane_version: VERSION.to_owned(),
                data_plane_id: data_plane.id.to_string(),
            }))
        })
        .await
    }

    async fn get_changes(
        &self,
        request: Request<ChangesRequest>,
    ) -> Result<Response<Changes>, Status> {
        self.observed("GetChanges", async move {
            let data_plane = self.authenticate(&request).await?;
            let (head_seq, entities) = self
                .service
                .sync_changes(&data_plane, request.get_ref().after_seq)
                .await
                .map_err(status)?;
            Ok(Response::new(Changes {
                head_seq,
                entities: entities.into_iter().map(entity_message).collect(),
            }))
        })
        .await
    }

    async fn get_entity(
        &self,
        request: Request<EntityRequest>,
    ) -> Result<Response<EntityState>, Status> {
        self.observed("GetEntity", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let kind = match EntityKind::try_from(request.kind) {
                Ok(EntityKind::Workspace) => wire::EntityKind::Workspace,
                Ok(EntityKind::Server) => wire::EntityKind::Server,
                Ok(EntityKind::ApiKey) => wire::EntityKind::ApiKey,
                Ok(EntityKind::Connection) => wire::EntityKind::Connection,
                _ => {
                    return Err(Status::invalid_argument(
                        "kind must be WORKSPACE, SERVER, API_KEY or CONNECTION",
                    ));
                }
            };
            let stream = StreamId::from_parts(kind, &request.id)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let entity = self
                .service
                .sync_entity(&data_plane, stream)
                .await
                .map_err(status)?;
            Ok(Response::new(entity_message(entity)))
        })
        .await
    }

    async fn report_status(
        &self,
        request: Request<StatusReport>,
    ) -> Result<Response<StatusAck>, Status> {
        self.observed("ReportStatus", async move {
            let data_plane = self.authenticate(&request).await?;
            let report = request.into_inner();
            self.service
                .record_instance_status(
                    &data_plane,
                    &InstanceReport {
                        instance_id: report.instance_id,
                        version: report.version,
                        applied_seq: report.applied_seq,
                        healthy: report.healthy,
                        uptime_seconds: report.uptime_seconds,
                    },
                    Utc::now(),
                )
                .await
                .map_err(status)?;
            let head_seq = self.service.head().await.map_err(status)?;
            Ok(Response::new(StatusAck {
                head_seq,
                control_plane_version: VERSION.to_owned(),
                data_plane_id: data_plane.id.to_string(),
            }))
        })
        .await
    }

    async fn store_connection(
        &self,
        request: Request<StoreConnectionRequest>,
    ) -> Result<Response<StoreConnectionResult>, Status> {
        self.observed("StoreConnection", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let server_id =
                request
                    .server_id
                    .parse()
                    .map_err(|e: mcpgw_shared::ids::InvalidId| {
                        Status::invalid_argument(e.to_string())
                    })?;
            if request.user_id.is_empty() || request.user_id.len() > 256 {
                return Err(Status::invalid_argument(
                    "user_id must be 1 to 256 characters",
                ));
            }
            let stored = self
                .service
                .store_connection(
                    &data_plane,
                    StoreConnectionInput {
                        server_id,
                        user_id: request.user_id,
                        expected_version: request.expected_version,
                        sealed: request.sealed,
                        signed_out: request.signed_out,
                    },
                )
                .await
                .map_err(status)?;
            Ok(Response::new(StoreConnectionResult {
                version: stored.version,
                seq: stored.seq,
            }))
        })
        .await
    }
}

#[cfg(test)]
mod tests;
