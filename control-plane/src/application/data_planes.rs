//! Data-plane registrations and their instances' status.

use std::fmt;

use chrono::{DateTime, Utc};
use mcpgw_shared::{Credential, CredentialKind, DataPlaneId};
use serde::Deserialize;

use super::{Caller, Service, ServiceError};
use crate::domain::DomainError;
use crate::domain::data_plane::{DataPlane, DataPlaneCommand, RegisterDataPlane};
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

/// A newly registered data plane: the only time its token is shown. Its `Debug` output hides
/// the token.
#[derive(Clone)]
pub struct RegisteredDataPlane {
    /// The stored registration.
    pub row: DataPlaneRow,
    /// Its token, the data plane's `MCPGW_DATA_PLANE_TOKEN`.
    pub token: String,
}

impl fmt::Debug for RegisteredDataPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredDataPlane")
            .field("row", &self.row)
            .field("token", &"[redacted]")
            .finish()
    }
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
        caller: &Caller,
        input: RegisterDataPlaneInput,
    ) -> Result<RegisteredDataPlane, ServiceError> {
        caller.require_global("registering a data plane")?;
        let workspaces = match &input.workspaces {
            Some(ids) => Some(self.managed_workspaces(caller, "workspaces", ids).await?),
            None => None,
        };
        let token = Credential::generate(CredentialKind::DataPlaneToken);
        let id = DataPlaneId::new();
        let command = DataPlaneCommand::Register(RegisterDataPlane {
            name: input.name,
            workspaces,
            token_id: *token.id(),
            token_hash: token.secret_hash(),
        });
        self.execute::<DataPlane>(caller, &id, None, |_| Ok(()), command)
            .await?;
        let row = self
            .db
            .reader()
            .await?
            .data_plane_by_token(token.id())
            .await?
            .ok_or_else(|| ServiceError::not_found("data plane", id))?;
        Ok(RegisteredDataPlane {
            row,
            token: token.expose(),
        })
    }

    /// Every registration with its instances (global admins only).
    pub async fn data_planes(&self, caller: &Caller) -> Result<Vec<DataPlaneStatus>, ServiceError> {
        caller.require_global("listing data planes")?;
        let mut reader = self.db.reader().await?;
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
            return Err(DomainError::invalid(
                "instance_id",
                "must be 1 to 128 visible ASCII characters",
            )
            .into());
        }
        self.db
            .record_instance_status(&DataPlaneInstanceRow {
                data_plane_id: data_plane.id,
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
