//! Authenticating callers of the control plane's APIs: administrators by API key, data planes
//! by their token. The caller learns only that the credential was refused; the cause is kept
//! for the log.

use chrono::Utc;
use mcpgw_shared::model::{KeyState, Permission};
use mcpgw_shared::{ApiKeyId, Credential, CredentialKind};

use super::caller::{Admin, AdminScope, Forbidden};
use super::{Service, ServiceError};
use crate::store::DataPlaneRow;

/// A credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    /// The bearer token does not have the form of an API key.
    #[error("the bearer token is not an API key of the form mcpgw_<id>_<secret>")]
    NotAnApiKey,
    /// An API key that cannot be used (the caller is not told which cause).
    #[error("the API key is invalid, revoked or expired")]
    ApiKeyRefused {
        /// The key's id.
        key_id: ApiKeyId,
        /// Why.
        cause: Refusal,
    },
    /// A data-plane token that cannot be used.
    #[error(
        "the data-plane token is not valid (unknown, revoked or past its rotation overlap); issue one with POST /v1/data-planes/{{id}}/rotate-token"
    )]
    DataPlaneTokenRefused {
        /// Why.
        cause: Refusal,
    },
}

/// Why a well-formed credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not in the form of this kind of credential.
    Malformed,
    /// No credential has this id.
    Unknown,
    /// The secret does not match.
    WrongSecret,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl Service {
    /// Authenticates an admin from the bearer credential text.
    pub async fn authenticate_admin(&self, bearer: &str) -> Result<Admin, ServiceError> {
        let credential = Credential::parse(CredentialKind::ApiKey, bearer)
            .map_err(|_| Unauthenticated::NotAnApiKey)?;
        let key_id = *credential.id();
        let refused = |cause| {
            tracing::info!(key_id = %key_id, ?cause, "admin API key refused");
            Unauthenticated::ApiKeyRefused { key_id, cause }
        };
        let key = self
            .db
            .reader()
            .await?
            .api_key(&key_id)
            .await?
            .ok_or_else(|| refused(Refusal::Unknown))?;
        if !credential.verify(&key.secret_hash) {
            return Err(refused(Refusal::WrongSecret).into());
        }
        match key.state(Utc::now()) {
            KeyState::Active => {}
            KeyState::Revoked => return Err(refused(Refusal::Revoked).into()),
            KeyState::Expired => return Err(refused(Refusal::Expired).into()),
        }
        if !key.permissions.contains(&Permission::Admin) {
            return Err(Forbidden::NotAnAdmin { key_id }.into());
        }
        Ok(Admin {
            key_id,
            scope: key
                .workspace_id
                .map_or(AdminScope::Global, AdminScope::Workspace),
        })
    }

    /// Authenticates a data plane by its token.
    pub async fn authenticate_data_plane(&self, token: &str) -> Result<DataPlaneRow, ServiceError> {
        let refused = |cause| {
            tracing::info!(?cause, "data-plane token refused");
            Unauthenticated::DataPlaneTokenRefused { cause }
        };
        let credential = Credential::parse(CredentialKind::DataPlaneToken, token)
            .map_err(|_| refused(Refusal::Malformed))?;
        let mut reader = self.db.reader().await?;
        let token = reader
            .data_plane_token(credential.id())
            .await?
            .ok_or_else(|| refused(Refusal::Unknown))?;
        if !credential.verify(&token.token_hash) {
            return Err(refused(Refusal::WrongSecret).into());
        }
        match token.state(Utc::now()) {
            KeyState::Active => {}
            KeyState::Revoked => return Err(refused(Refusal::Revoked).into()),
            KeyState::Expired => return Err(refused(Refusal::Expired).into()),
        }
        Ok(reader
            .data_plane(token.data_plane_id)
            .await?
            .ok_or_else(|| refused(Refusal::Unknown))?)
    }
}
