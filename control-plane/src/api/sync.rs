//! The config-sync gRPC service for data planes. Every call authenticates the data plane's
//! token and sees only the workspaces it serves, secrets decrypted for it.

mod entities;

use chrono::Utc;
use mcpgw_shared::proto::config_sync_server::{ConfigSync, ConfigSyncServer};
use mcpgw_shared::proto::{
    Changes, ChangesRequest, EntityKind, EntityRequest, EntityState, Snapshot, SnapshotFormat,
    SnapshotRequest, StatusAck, StatusReport,
};
use tonic::{Request, Response, Status};

use crate::application::{Service, ServiceError};
use crate::store::DataPlaneRow;
use crate::store::read_models::Reader;
use entities::EntityResolver;

/// A data plane more than this many events behind takes a new snapshot instead of changes.
pub const MAX_CHANGES: i64 = 10_000;

/// The gRPC service.
#[derive(Clone)]
pub struct SyncService {
    service: Service,
}

impl SyncService {
    /// A sync service over the service layer.
    pub fn new(service: Service) -> Self {
        Self { service }
    }

    /// As a tonic server.
    pub fn into_server(self) -> ConfigSyncServer<Self> {
        ConfigSyncServer::new(self)
    }

    /// A reader on one consistent state of the database, and the head sequence it sees.
    async fn consistent_read(
        &self,
    ) -> Result<(Reader<sqlx::Transaction<'static, sqlx::Any>>, i64), Status> {
        let mut reader = self
            .service
            .db()
            .snapshot_reader()
            .await
            .map_err(into_status)?;
        let head = reader.head().await.map_err(into_status)?;
        Ok((reader, head))
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
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("the authorization metadata must be `Bearer <token>`")
            })?;
        self.service
            .authenticate_data_plane(token.trim())
            .await
            .map_err(status)
    }
}

/// Maps a service error to a gRPC status (the one classifier for this API).
pub fn status(error: ServiceError) -> Status {
    match &error {
        ServiceError::Unauthenticated(_) => Status::unauthenticated(error.to_string()),
        ServiceError::Forbidden(_) => Status::permission_denied(error.to_string()),
        ServiceError::Domain(crate::domain::DomainError::NotFound { .. }) => {
            Status::not_found(error.to_string())
        }
        ServiceError::Domain(_) => Status::invalid_argument(error.to_string()),
        ServiceError::VersionConflict { .. } | ServiceError::Taken { .. } => {
            Status::aborted(error.to_string())
        }
        ServiceError::Store(inner) => {
            tracing::error!(error = %inner, "sync API store failure");
            Status::unavailable("the control plane's database failed; retry shortly")
        }
    }
}

#[tonic::async_trait]
impl ConfigSync for SyncService {
    async fn get_snapshot(
        &self,
        request: Request<SnapshotRequest>,
    ) -> Result<Response<Snapshot>, Status> {
        let data_plane = self.authenticate(&request).await?;
        let scope = data_plane.scope();
        let (mut reader, seq) = self.consistent_read().await?;
        let resolver = EntityResolver::new(self.service.cipher(), scope.as_deref());
        let workspaces = reader
            .workspaces(scope.as_deref())
            .await
            .map_err(into_status)?;
        let servers = reader
            .servers(scope.as_deref())
            .await
            .map_err(into_status)?;
        let keys = reader
            .api_keys(scope.as_deref())
            .await
            .map_err(into_status)?;
        Ok(Response::new(Snapshot {
            format: SnapshotFormat::V1.into(),
            seq,
            all_workspaces: scope.is_none(),
            workspaces: workspaces.iter().map(EntityResolver::workspace).collect(),
            servers: servers
                .iter()
                .map(|s| resolver.server(s))
                .collect::<Result<_, _>>()?,
            api_keys: keys
                .iter()
                .filter_map(|k| resolver.api_key(k))
                .collect::<Result<_, _>>()?,
        }))
    }

    async fn get_changes(
        &self,
        request: Request<ChangesRequest>,
    ) -> Result<Response<Changes>, Status> {
        let data_plane = self.authenticate(&request).await?;
        let after = request.get_ref().after_seq;
        let scope = data_plane.scope();
        let resolver = EntityResolver::new(self.service.cipher(), scope.as_deref());
        let (mut reader, head) = self.consistent_read().await?;
        if after > head {
            return Err(Status::failed_precondition(format!(
                "sequence {after} is ahead of the log (head {head}): take a new snapshot"
            )));
        }
        if head - after > MAX_CHANGES || after < 0 {
            return Err(Status::failed_precondition(format!(
                "sequence {after} is too far behind the head {head}: take a new snapshot"
            )));
        }
        let changed = reader
            .changed_entities(after, head, scope.as_deref())
            .await
            .map_err(into_status)?;
        let mut entities = Vec::with_capacity(changed.len());
        for (stream, seq) in changed {
            if let Some(state) = resolver.resolve(&mut reader, &stream, seq).await? {
                entities.push(state);
            }
        }
        Ok(Response::new(Changes {
            head_seq: head,
            entities,
        }))
    }

    async fn get_entity(
        &self,
        request: Request<EntityRequest>,
    ) -> Result<Response<EntityState>, Status> {
        let data_plane = self.authenticate(&request).await?;
        let scope = data_plane.scope();
        let resolver = EntityResolver::new(self.service.cipher(), scope.as_deref());
        let request = request.into_inner();
        let prefix = match EntityKind::try_from(request.kind) {
            Ok(EntityKind::Workspace) => "workspace",
            Ok(EntityKind::Server) => "server",
            Ok(EntityKind::ApiKey) => "api_key",
            _ => {
                return Err(Status::invalid_argument(
                    "kind must be WORKSPACE, SERVER or API_KEY",
                ));
            }
        };
        let (mut reader, head) = self.consistent_read().await?;
        let stream = format!("{prefix}:{}", request.id);
        resolver
            .resolve(&mut reader, &stream, head)
            .await?
            .map(Response::new)
            .ok_or_else(|| Status::invalid_argument("unknown entity kind"))
    }

    async fn report_status(
        &self,
        request: Request<StatusReport>,
    ) -> Result<Response<StatusAck>, Status> {
        let data_plane = self.authenticate(&request).await?;
        let report = request.into_inner();
        self.service
            .record_instance_status(
                &data_plane,
                &report.instance_id,
                &report.version,
                report.applied_seq,
                report.healthy,
                Utc::now(),
            )
            .await
            .map_err(status)?;
        let head_seq = self.service.db().head().await.map_err(into_status)?;
        Ok(Response::new(StatusAck { head_seq }))
    }
}

fn into_status(error: crate::store::StoreError) -> Status {
    status(ServiceError::from(error))
}
