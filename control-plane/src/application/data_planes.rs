//! Data-plane registrations and their instances' status.

use chrono::{DateTime, Utc};
use mcpgw_shared::wire::GLOBAL_WORKSPACE;
use mcpgw_shared::{Credential, CredentialKind, DataPlaneId};
use serde::Deserialize;

use super::{Admin, Service, ServiceError};
use crate::domain::data_plane::{DataPlane, RegisterDataPlane};
use crate::store::{DataPlaneInstanceRow, DataPlaneRow};

/// `POST /v1/data-planes`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDataPlaneInput {
    /// Display name.
    pub name: String,
    /// Workspaces it serves; omitted: all.
    #[serde(default)]
    pub workspaces: Option<Vec<String>>,
}

/// A newly registered data plane: the only time its token is shown.
#[derive(Debug, Clone)]
pub struct RegisteredDataPlane {
    /// The stored registration.
    pub row: DataPlaneRow,
    /// Its token, the data plane's `MCPGW_DATA_PLANE_TOKEN`.
    pub token: String,
}

/// A registration with its instances' reports.
#[derive(Debug, Clone)]
pub struct DataPlaneStatus {
    /// The registration.
    pub row: DataPlaneRow,
    /// Its instances.
    pub instances: Vec<DataPlaneInstanceRow>,
}

impl Service {
    /// Registers a data plane (global admins only) and returns its token once.
    pub async fn register_data_plane(
        &self,
        admin: &Admin,
        input: RegisterDataPlaneInput,
    ) -> Result<RegisteredDataPlane, ServiceError> {
        admin.require_global("registering a data plane")?;
        let workspaces = match &input.workspaces {
            Some(ids) => {
                let mut parsed = Vec::with_capacity(ids.len());
                for (index, id) in ids.iter().enumerate() {
                    parsed.push(
                        self.existing_workspace(&format!("workspaces[{index}]"), id)
                            .await?,
                    );
                }
                Some(parsed)
            }
            None => None,
        };
        let token = Credential::generate(CredentialKind::DataPlaneToken);
        let id = DataPlaneId::new();
        let command = RegisterDataPlane {
            name: input.name,
            workspaces,
            token_id: token.id().to_string(),
            token_hash: hex::encode(token.secret_hash()),
        };
        let key = id.to_string();
        self.execute::<DataPlane>(
            &id.stream(),
            None,
            &admin.actor(),
            |state| state.register(&key, command.clone()),
            |_, _| vec![GLOBAL_WORKSPACE.to_owned()],
        )
        .await?;
        let row = self
            .db()
            .reader()
            .await?
            .data_plane_by_token(token.id().as_str())
            .await?
            .ok_or_else(|| ServiceError::not_found("data plane", key))?;
        Ok(RegisteredDataPlane {
            row,
            token: token.expose(),
        })
    }

    /// Every registration with its instances (global admins only).
    pub async fn data_planes(&self, admin: &Admin) -> Result<Vec<DataPlaneStatus>, ServiceError> {
        admin.require_global("listing data planes")?;
        let mut reader = self.db().reader().await?;
        let rows = reader.data_planes().await?;
        let mut instances = reader.data_plane_instances().await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mine = instances
                    .extract_if(.., |i| i.data_plane_id == row.id)
                    .collect();
                DataPlaneStatus {
                    row,
                    instances: mine,
                }
            })
            .collect())
    }

    /// Authenticates a data plane by its token.
    pub async fn authenticate_data_plane(&self, token: &str) -> Result<DataPlaneRow, ServiceError> {
        let invalid = || {
            ServiceError::Unauthenticated(
                "the data-plane token is invalid; create one with POST /v1/data-planes".into(),
            )
        };
        let credential =
            Credential::parse(CredentialKind::DataPlaneToken, token).map_err(|_| invalid())?;
        let row = self
            .db()
            .reader()
            .await?
            .data_plane_by_token(credential.id().as_str())
            .await?
            .ok_or_else(invalid)?;
        let hash = hex::decode(&row.token_hash).map_err(|_| invalid())?;
        if !credential.verify(&hash) {
            return Err(invalid());
        }
        Ok(row)
    }

    /// Records an instance's status report.
    pub async fn record_instance_status(
        &self,
        data_plane: &DataPlaneRow,
        instance_id: &str,
        version: &str,
        applied_seq: i64,
        healthy: bool,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let valid_id = !instance_id.is_empty()
            && instance_id.len() <= 128
            && instance_id.bytes().all(|b| b.is_ascii_graphic());
        if !valid_id {
            return Err(crate::domain::DomainError::invalid(
                "instance_id",
                "must be 1 to 128 visible ASCII characters",
            )
            .into());
        }
        self.db()
            .record_instance_status(&DataPlaneInstanceRow {
                data_plane_id: data_plane.id.clone(),
                instance_id: instance_id.to_owned(),
                version: version.chars().take(64).collect(),
                applied_seq,
                healthy,
                last_seen: now,
            })
            .await?;
        Ok(())
    }
}
