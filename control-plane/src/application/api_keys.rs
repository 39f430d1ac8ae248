//! API key operations. The key is generated here, handed out once, and stored as the SHA-256
//! of its secret.

use std::fmt;

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{KeyType, Permission};
use mcpgw_shared::{ApiKeyId, Credential, CredentialKind};
use serde::Deserialize;

use super::caller::as_scope;
use super::{Caller, Service, ServiceError};
use crate::domain::DomainError;
use crate::domain::api_key::{ApiKey, ApiKeyCommand, IssueApiKey};
use crate::store::ApiKeyRow;

/// `POST /v1/api-keys`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueApiKeyInput {
    /// The workspace the key belongs to; omitted for a global admin key.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Display name.
    pub name: String,
    /// `service` or `user`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub key_type: KeyType,
    /// The user of a `user` key.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Permissions: `mcp.invoke`, `admin`.
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
    /// When the key stops working (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A newly issued key: the only time the key itself is shown. Its `Debug` output hides it.
#[derive(Clone)]
pub struct IssuedApiKey {
    /// The stored record.
    pub row: ApiKeyRow,
    /// The key, `mcpgw_<id>_<secret>`.
    pub key: String,
}

impl fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedApiKey")
            .field("row", &self.row)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Service {
    /// Issues an API key.
    pub async fn issue_api_key(
        &self,
        caller: &Caller,
        input: IssueApiKeyInput,
    ) -> Result<IssuedApiKey, ServiceError> {
        self.issue_api_key_with(caller, input, Credential::generate(CredentialKind::ApiKey))
            .await
    }

    /// Issues an API key with a given credential (the bootstrap key comes from configuration).
    async fn issue_api_key_with(
        &self,
        caller: &Caller,
        input: IssueApiKeyInput,
        credential: Credential,
    ) -> Result<IssuedApiKey, ServiceError> {
        let workspace_id = match &input.workspace_id {
            Some(id) => {
                let workspace = self.existing_workspace("workspace_id", id).await?;
                caller.require_workspace(&workspace)?;
                Some(workspace)
            }
            None => {
                caller.require_global("issuing a key without a workspace")?;
                None
            }
        };
        let id = *credential.id();
        let command = ApiKeyCommand::Issue(IssueApiKey {
            workspace_id,
            name: input.name,
            key_type: input.key_type,
            user_id: input.user_id,
            permissions: input.permissions,
            expires_at: input.expires_at,
            secret_hash: credential.secret_hash(),
            now: Utc::now(),
        });
        self.execute::<ApiKey>(caller, &id, None, |_| Ok(()), command)
            .await?;
        Ok(IssuedApiKey {
            row: self.api_key(caller, &id).await?,
            key: credential.expose(),
        })
    }

    /// Revokes an API key; revoking a revoked key succeeds and changes nothing.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        id: &ApiKeyId,
    ) -> Result<ApiKeyRow, ServiceError> {
        let authorize = |key: &ApiKey| {
            let visible = key.issued
                && match &key.workspace_id {
                    Some(workspace) => caller.manages(workspace),
                    None => caller.is_global(),
                };
            if visible {
                Ok(())
            } else {
                Err(ServiceError::not_found("api key", id))
            }
        };
        self.execute::<ApiKey>(caller, id, None, authorize, ApiKeyCommand::Revoke)
            .await?;
        self.api_key(caller, id).await
    }

    /// One key the caller may see.
    pub async fn api_key(&self, caller: &Caller, id: &ApiKeyId) -> Result<ApiKeyRow, ServiceError> {
        let row = self.db.reader().await?.api_key(id).await?;
        row.filter(|k| visible(caller, k))
            .ok_or_else(|| ServiceError::not_found("api key", id))
    }

    /// Every key the caller may see, newest first.
    pub async fn api_keys(&self, caller: &Caller) -> Result<Vec<ApiKeyRow>, ServiceError> {
        let scope = caller.scope();
        Ok(self.db.reader().await?.api_keys(as_scope(&scope)).await?)
    }

    /// Makes sure an admin key exists. With `configured` (`MCPGW_BOOTSTRAP_ADMIN_KEY`), that key
    /// is issued unless it exists; without, a key is generated only if no active admin key
    /// exists at all. Returns a newly generated key, to be shown once.
    pub async fn ensure_bootstrap_admin(
        &self,
        configured: Option<&str>,
    ) -> Result<Option<String>, ServiceError> {
        let credential = match configured {
            Some(text) => {
                let credential = Credential::parse(CredentialKind::ApiKey, text).map_err(|e| {
                    DomainError::invalid("MCPGW_BOOTSTRAP_ADMIN_KEY", e.to_string())
                })?;
                let existing = self.db.reader().await?.api_key(credential.id()).await?;
                if existing.is_some() {
                    return Ok(None);
                }
                credential
            }
            None if self.db.reader().await?.any_admin_key().await? => return Ok(None),
            None => Credential::generate(CredentialKind::ApiKey),
        };
        let generated = configured.is_none();
        let input = IssueApiKeyInput {
            workspace_id: None,
            name: "bootstrap admin".into(),
            key_type: KeyType::Service,
            user_id: None,
            permissions: vec![Permission::Admin],
            expires_at: None,
        };
        let issued = match self
            .issue_api_key_with(&Caller::System, input, credential)
            .await
        {
            Ok(issued) => issued,
            // Another replica issued the same configured key at the same moment.
            Err(ServiceError::Domain(DomainError::AlreadyExists { .. })) => return Ok(None),
            Err(other) => return Err(other),
        };
        Ok(generated.then_some(issued.key))
    }
}

fn visible(caller: &Caller, key: &ApiKeyRow) -> bool {
    match &key.workspace_id {
        Some(workspace) => caller.manages(workspace),
        None => caller.is_global(),
    }
}
