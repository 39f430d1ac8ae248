//! Data-plane registrations, their tokens and their instances' status.

use std::fmt;

use chrono::{DateTime, Utc};
use mcpgw_shared::nats::{self, Permissions};
use mcpgw_shared::{ApiKeyId, Credential, CredentialKind, DataPlaneId, Redacted};
use serde::Deserialize;

use super::{Caller, Service, ServiceError};
use crate::domain::DomainError;
use crate::domain::data_plane::{
    DataPlane, DataPlaneCommand, MAX_ROTATION_OVERLAP, RegisterDataPlane,
};
use crate::store::{DataPlaneInstanceRow, DataPlaneRow, DataPlaneTokenRow};

/// Most instance rows kept per data plane: the most recently seen ones. Pods that are gone
/// make room for new ones instead of piling up.
pub const MAX_INSTANCES_PER_DATA_PLANE: usize = 32;

/// Overlap a rotation gives the replaced tokens when the request names none.
pub const DEFAULT_ROTATION_OVERLAP_SECONDS: u64 = 3600;

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

/// `POST /v1/data-planes/{id}/rotate-token`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateTokenInput {
    /// How long the current tokens keep working, in seconds (0 to 604800; default 3600), so
    /// pods can be given the new token before the old one stops.
    #[serde(default)]
    pub overlap_seconds: Option<u64>,
}

/// `POST /v1/data-planes/{id}/revoke`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeDataPlaneInput {
    /// The token to revoke; omitted: every token still usable.
    #[serde(default)]
    pub token_id: Option<String>,
}

/// A newly issued data-plane token: the only time it is shown. Its `Debug` output hides it.
#[derive(Clone)]
pub struct IssuedDataPlaneToken {
    /// Public id of the token.
    pub token_id: ApiKeyId,
    /// The token, the data plane's `MCPGW_DATA_PLANE_TOKEN`.
    pub token: String,
    /// When the tokens it replaces stop working (registration: `None`).
    pub retire_previous_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for IssuedDataPlaneToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedDataPlaneToken")
            .field("token_id", &self.token_id)
            .field("token", &"[redacted]")
            .field("retire_previous_at", &self.retire_previous_at)
            .finish()
    }
}

/// A newly registered data plane with its first token and its NATS user's seed (the only time
/// either is shown; `Debug` hides both).
#[derive(Clone)]
pub struct RegisteredDataPlane {
    /// The registration as it now stands.
    pub status: DataPlaneStatus,
    /// Its first token.
    pub token: IssuedDataPlaneToken,
    /// Its NATS user's nkey seed, the data plane's `MCPGW_NATS_NKEY_SEED`.
    pub nats_seed: Redacted<String>,
}

impl fmt::Debug for RegisteredDataPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredDataPlane")
            .field("status", &self.status)
            .field("token", &self.token)
            .field("nats_seed", &"[redacted]")
            .finish()
    }
}

/// One user of the NATS authorization the control plane renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsUser {
    /// Who it is, for a comment (`control plane`, `data plane <name> (<id>)`).
    pub who: String,
    /// Its public nkey.
    pub nkey: String,
    /// What it may publish and subscribe to.
    pub permissions: Permissions,
}

/// What an instance reports about itself (the sync API's `StatusReport`).
#[derive(Debug, Clone)]
pub struct InstanceReport {
    /// Unique per process.
    pub instance_id: String,
    /// Its build version.
    pub version: String,
    /// The sequence it has applied.
    pub applied_seq: i64,
    /// Whether it serves.
    pub healthy: bool,
    /// Seconds since it started.
    pub uptime_seconds: i64,
}

/// A registration with its tokens and its instances' reports.
#[derive(Debug, Clone)]
pub struct DataPlaneStatus {
    /// The registration.
    pub row: DataPlaneRow,
    /// Its tokens, oldest first (hashes included; views leave them out).
    pub tokens: Vec<DataPlaneTokenRow>,
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
        let token = Credential::generate(CredentialKind::DataPlaneToken);
        self.register_data_plane_with(caller, input, token).await
    }

    /// `MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN`: registers a data plane serving every workspace with
    /// this token at start-up, unless the token is known already (a restart, another replica),
    /// so a first run can hand pods a token it generated itself.
    pub async fn ensure_bootstrap_data_plane(&self, token: &str) -> Result<(), ServiceError> {
        let token = Credential::parse(CredentialKind::DataPlaneToken, token)
            .map_err(|e| DomainError::invalid("MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN", e.to_string()))?;
        if self
            .db
            .reader()
            .await?
            .data_plane_token(token.id())
            .await?
            .is_some()
        {
            return Ok(());
        }
        let input = RegisterDataPlaneInput {
            name: "bootstrap".into(),
            workspaces: None,
        };
        match self
            .register_data_plane_with(&Caller::System, input, token)
            .await
        {
            Ok(_) | Err(ServiceError::Taken(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn register_data_plane_with(
        &self,
        caller: &Caller,
        input: RegisterDataPlaneInput,
        token: Credential,
    ) -> Result<RegisteredDataPlane, ServiceError> {
        caller.require_global("registering a data plane")?;
        let workspaces = match &input.workspaces {
            Some(ids) => Some(self.managed_workspaces(caller, "workspaces", ids).await?),
            None => None,
        };
        let (nats_seed, nats_user) = nats::new_user();
        let id = DataPlaneId::new();
        let command = DataPlaneCommand::Register(RegisterDataPlane {
            name: input.name,
            workspaces,
            token_id: *token.id(),
            token_hash: token.secret_hash(),
            nats_user,
        });
        self.execute::<DataPlane>(caller, &id, None, |_| Ok(()), command)
            .await?;
        Ok(RegisteredDataPlane {
            status: self.data_plane(caller, id).await?,
            token: IssuedDataPlaneToken {
                token_id: *token.id(),
                token: token.expose(),
                retire_previous_at: None,
            },
            nats_seed,
        })
    }

    /// The NATS users of this cluster and their permissions (global admins only): the control
    /// plane's (when it connects with an nkey) and one per data plane, which may read only
    /// its own workspaces' events and the heartbeat, and write only its own status and logs.
    pub async fn nats_users(&self, caller: &Caller) -> Result<Vec<NatsUser>, ServiceError> {
        caller.require_global("reading the NATS authorization")?;
        let subjects = &self.bus.subjects;
        let mut users: Vec<NatsUser> = self
            .bus
            .control_plane_user
            .iter()
            .map(|nkey| NatsUser {
                who: "control plane".to_owned(),
                nkey: nkey.clone(),
                permissions: Permissions::control_plane(subjects),
            })
            .collect();
        let rows = self.db.reader().await?.data_planes().await?;
        users.extend(rows.into_iter().filter_map(|row| {
            Some(NatsUser {
                permissions: Permissions::data_plane(subjects, row.id, row.scope()),
                who: format!("data plane {} ({})", row.name, row.id),
                nkey: row.nats_user?,
            })
        }));
        Ok(users)
    }

    /// Every registration with its tokens and instances (global admins only).
    pub async fn data_planes(&self, caller: &Caller) -> Result<Vec<DataPlaneStatus>, ServiceError> {
        caller.require_global("listing data planes")?;
        let mut reader = self.db.reader().await?;
        let rows = reader.data_planes().await?;
        let mut tokens = reader.data_plane_tokens().await?;
        let mut instances = reader.data_plane_instances().await?;
        Ok(rows
            .into_iter()
            .map(|row| DataPlaneStatus {
                tokens: tokens
                    .extract_if(.., |t| t.data_plane_id == row.id)
                    .collect(),
                instances: instances
                    .extract_if(.., |i| i.data_plane_id == row.id)
                    .collect(),
                row,
            })
            .collect())
    }

    /// One registration with its tokens and instances (global admins only).
    pub async fn data_plane(
        &self,
        caller: &Caller,
        id: DataPlaneId,
    ) -> Result<DataPlaneStatus, ServiceError> {
        self.data_planes(caller)
            .await?
            .into_iter()
            .find(|status| status.row.id == id)
            .ok_or_else(|| ServiceError::not_found("data plane", id))
    }

    /// Issues a new token; the current ones keep working for the overlap, then stop.
    pub async fn rotate_data_plane_token(
        &self,
        caller: &Caller,
        id: DataPlaneId,
        input: RotateTokenInput,
    ) -> Result<IssuedDataPlaneToken, ServiceError> {
        caller.require_global("rotating a data-plane token")?;
        let overlap = input
            .overlap_seconds
            .unwrap_or(DEFAULT_ROTATION_OVERLAP_SECONDS);
        let overlap = i64::try_from(overlap)
            .ok()
            .map(chrono::Duration::seconds)
            .filter(|overlap| *overlap <= MAX_ROTATION_OVERLAP)
            .ok_or_else(|| {
                DomainError::invalid("overlap_seconds", "must be between 0 and 604800 (7 days)")
            })?;
        let token = Credential::generate(CredentialKind::DataPlaneToken);
        let now = Utc::now();
        let retire_previous_at = now + overlap;
        let command = DataPlaneCommand::RotateToken {
            token_id: *token.id(),
            token_hash: token.secret_hash(),
            retire_previous_at,
            now,
        };
        self.execute::<DataPlane>(caller, &id, None, |_| Ok(()), command)
            .await?;
        Ok(IssuedDataPlaneToken {
            token_id: *token.id(),
            token: token.expose(),
            retire_previous_at: Some(retire_previous_at),
        })
    }

    /// Revokes one token, or every usable one: the pods holding it lose the sync API at once.
    pub async fn revoke_data_plane(
        &self,
        caller: &Caller,
        id: DataPlaneId,
        input: RevokeDataPlaneInput,
    ) -> Result<DataPlaneStatus, ServiceError> {
        caller.require_global("revoking a data-plane token")?;
        let token_id = input
            .token_id
            .map(|text| {
                text.parse::<ApiKeyId>()
                    .map_err(|_| DomainError::invalid("token_id", "not a data-plane token id"))
            })
            .transpose()?;
        let command = DataPlaneCommand::Revoke {
            token_id,
            now: Utc::now(),
        };
        self.execute::<DataPlane>(caller, &id, None, |_| Ok(()), command)
            .await?;
        self.data_plane(caller, id).await
    }

    /// Deletes a registration with its tokens and instance rows.
    pub async fn delete_data_plane(
        &self,
        caller: &Caller,
        id: DataPlaneId,
    ) -> Result<(), ServiceError> {
        caller.require_global("deleting a data plane")?;
        self.execute::<DataPlane>(caller, &id, None, |_| Ok(()), DataPlaneCommand::Delete)
            .await?;
        Ok(())
    }

    /// Records an instance's status report, received at `now`.
    pub async fn record_instance_status(
        &self,
        data_plane: &DataPlaneRow,
        report: &InstanceReport,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let instance_id = &report.instance_id;
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
        let uptime = chrono::Duration::seconds(report.uptime_seconds.clamp(0, 10 * 365 * 86_400));
        self.db
            .record_instance_status(
                &DataPlaneInstanceRow {
                    data_plane_id: data_plane.id,
                    instance_id: instance_id.clone(),
                    version: report.version.chars().take(64).collect(),
                    applied_seq: report.applied_seq,
                    healthy: report.healthy,
                    last_seen: now,
                    started_at: Some(now - uptime),
                },
                MAX_INSTANCES_PER_DATA_PLANE,
            )
            .await?;
        Ok(())
    }
}
