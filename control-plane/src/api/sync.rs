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
use mcpgw_shared::telemetry::sampling;
use mcpgw_shared::version::VERSION;
use mcpgw_shared::{StreamId, bearer::bearer_token, wire};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::application::{
    InstanceReport, Service, ServiceError, StoreConnectionInput, SyncEntity, SyncState,
};
use crate::domain::DomainError;
use crate::metrics::ControlPlaneMetrics;
use crate::store::{DataPlaneRow, WorkspaceRow};

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

    /// Runs one call in its span (a gRPC server span in traces) and counts its outcome.
    async fn observed<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let traced = async {
            let span = tracing::info_span!(
                "sync",
                otel.name = %format_args!("mcpgw.v1.ConfigSync/{method}"),
                otel.kind = "server",
                rpc.system = "grpc",
                rpc.service = "mcpgw.v1.ConfigSync",
                rpc.method = method,
                mcpgw.data_plane = tracing::field::Empty,
            );
            call.instrument(span).await
        };
        let result = sampling::scope(sampling::decide(None), traced).await;
        self.metrics
            .sync_call(method, result.as_ref().map(|_| ()).map_err(Status::code));
        result
    }

    /// As a tonic server.
    pub fn into_server(self) -> ConfigSyncServer<Self> {
        ConfigSyncServer::new(self)
    }

    async fn authenticate<T>(&self, request: &Request<T>) -> Result<DataPlaneRow, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Status::unauthenticated(
                    "send the data-plane token as `authorization: Bearer <MCPGW_DATA_PLANE_TOKEN>`",
                )
            })?;
        let token = bearer_token(header).ok_or_else(|| {
            Status::unauthenticated("the authorization metadata must be `Bearer <token>`")
        })?;
        let data_plane = self
            .service
            .authenticate_data_plane(token)
            .await
            .map_err(status)?;
        tracing::Span::current().record("mcpgw.data_plane", tracing::field::display(data_plane.id));
        Ok(data_plane)
    }
}

/// Maps a service error to a gRPC status (the one classifier for this API).
pub fn status(error: ServiceError) -> Status {
    match &error {
        ServiceError::Unauthenticated(_) => Status::unauthenticated(error.to_string()),
        ServiceError::Forbidden(_) => Status::permission_denied(error.to_string()),
        ServiceError::Domain(DomainError::NotFound { .. }) | ServiceError::NoSuchSlug { .. } => {
            Status::not_found(error.to_string())
        }
        ServiceError::Domain(_) => Status::invalid_argument(error.to_string()),
        ServiceError::VersionConflict { .. } | ServiceError::Taken(_) => {
            Status::aborted(error.to_string())
        }
        ServiceError::SnapshotNeeded { .. } => Status::failed_precondition(error.to_string()),
        ServiceError::SecretUnreadable { .. } => Status::internal(error.to_string()),
        ServiceError::Store(inner) => {
            tracing::error!(error = %inner, "sync API store failure");
            Status::unavailable("the control plane's database failed; retry shortly")
        }
    }
}

fn workspace_message(row: &WorkspaceRow) -> proto::Workspace {
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
            .and_then(|rules| serde_json::to_string(rules).ok()),
    }
}

fn entity_message(entity: SyncEntity) -> EntityState {
    let kind = match entity.stream.kind() {
        wire::EntityKind::Workspace => EntityKind::Workspace,
        wire::EntityKind::Server => EntityKind::Server,
        wire::EntityKind::ApiKey => EntityKind::ApiKey,
        wire::EntityKind::Connection => EntityKind::Connection,
        wire::EntityKind::DataPlane
        | wire::EntityKind::OAuthClient
        | wire::EntityKind::OAuthGrant
        | wire::EntityKind::SigningKey => EntityKind::Unspecified,
    };
    let state = match entity.state {
        SyncState::Removed => entity_state::State::Removed(Removed {}),
        SyncState::Workspace(row) => entity_state::State::Workspace(workspace_message(&row)),
        SyncState::Server(server) => entity_state::State::Server((&*server).into()),
        SyncState::ApiKey(key) => entity_state::State::ApiKey((&key).into()),
        SyncState::Connection(connection) => entity_state::State::Connection((&connection).into()),
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
