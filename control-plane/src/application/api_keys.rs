//! API key operations. The key is generated here, handed out once, and stored as the SHA-256
//! of its secret.

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{KeyType, Permission};
use mcpgw_shared::wire::GLOBAL_WORKSPACE;
use mcpgw_shared::{ApiKeyId, Credential, CredentialKind};
use serde::Deserialize;

use super::{Admin, Service, ServiceError};
use crate::domain::api_key::{ApiKey, IssueApiKey};
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

/// A newly issued key: the only time the key itself is shown.
#[derive(Debug, Clone)]
pub struct IssuedApiKey {
    /// The stored record.
    pub row: ApiKeyRow,
    /// The key, `mcpgw_<id>_<secret>`.
    pub key: String,
}

impl Service {
    /// Issues an API key.
    pub async fn issue_api_key(
        &self,
        admin: &Admin,
        input: IssueApiKeyInput,
    ) -> Result<IssuedApiKey, ServiceError> {
        self.issue_api_key_with(admin, input, Credential::generate(CredentialKind::ApiKey))
            .await
    }

    /// Issues an API key with a given credential (the bootstrap key comes from configuration).
    pub(crate) async fn issue_api_key_with(
        &self,
        admin: &Admin,
        input: IssueApiKeyInput,
        credential: Credential,
    ) -> Result<IssuedApiKey, ServiceError> {
        let workspace_id = match &input.workspace_id {
            Some(id) => {
                let parsed = self.existing_workspace("workspace_id", id).await?;
                admin.require_workspace(id)?;
                Some(parsed)
            }
            None => {
                admin.require_global("issuing a key without a workspace")?;
                None
            }
        };
        let id = credential.id().clone();
        let command = IssueApiKey {
            workspace_id,
            name: input.name,
            key_type: input.key_type,
            user_id: input.user_id,
            permissions: input.permissions,
            expires_at: input.expires_at,
            secret_hash: hex::encode(credential.secret_hash()),
            now: Utc::now(),
        };
        let concerned =
            vec![workspace_id.map_or_else(|| GLOBAL_WORKSPACE.to_owned(), |w| w.to_string())];
        self.execute::<ApiKey>(
            &id.stream(),
            None,
            &admin.actor(),
            |state| state.issue(id.as_str(), command.clone()),
            |_, _| concerned.clone(),
        )
        .await?;
        Ok(IssuedApiKey {
            row: self.api_key(admin, id.as_str()).await?,
            key: credential.expose(),
        })
    }

    /// Revokes an API key; revoking a revoked key succeeds and changes nothing.
    pub async fn revoke_api_key(&self, admin: &Admin, id: &str) -> Result<ApiKeyRow, ServiceError> {
        let key = self.api_key(admin, id).await?;
        let key_id: ApiKeyId = id
            .parse()
            .map_err(|_| ServiceError::not_found("api key", id))?;
        let concerned = vec![
            key.workspace_id
                .unwrap_or_else(|| GLOBAL_WORKSPACE.to_owned()),
        ];
        self.execute::<ApiKey>(
            &key_id.stream(),
            None,
            &admin.actor(),
            |state| state.revoke(id),
            |_, _| concerned.clone(),
        )
        .await?;
        self.api_key(admin, id).await
    }

    /// One key the admin may see.
    pub async fn api_key(&self, admin: &Admin, id: &str) -> Result<ApiKeyRow, ServiceError> {
        let row = self.db().reader().await?.api_key(id).await?;
        row.filter(|k| visible(admin, k))
            .ok_or_else(|| ServiceError::not_found("api key", id))
    }

    /// Every key the admin may see, newest first.
    pub async fn api_keys(&self, admin: &Admin) -> Result<Vec<ApiKeyRow>, ServiceError> {
        let scope = admin.scope();
        Ok(self.db().reader().await?.api_keys(scope.as_deref()).await?)
    }

    /// Makes sure an admin key exists. With `configured` (`MCPGW_BOOTSTRAP_ADMIN_KEY`), that key
    /// is issued unless it exists; without, a key is generated only if no admin key exists at
    /// all. Returns a newly generated key, to be shown once.
    pub async fn ensure_bootstrap_admin(
        &self,
        configured: Option<&str>,
    ) -> Result<Option<String>, ServiceError> {
        let credential = match configured {
            Some(text) => {
                let credential = Credential::parse(CredentialKind::ApiKey, text).map_err(|e| {
                    ServiceError::Domain(crate::domain::DomainError::invalid(
                        "MCPGW_BOOTSTRAP_ADMIN_KEY",
                        e.to_string(),
                    ))
                })?;
                if self
                    .db()
                    .reader()
                    .await?
                    .api_key(credential.id().as_str())
                    .await?
                    .is_some()
                {
                    return Ok(None);
                }
                credential
            }
            None if self.db().reader().await?.any_admin_key().await? => return Ok(None),
            None => Credential::generate(CredentialKind::ApiKey),
        };
        let generated = configured.is_none();
        let issued = match self
            .issue_api_key_with(
                &Admin::system(),
                IssueApiKeyInput {
                    workspace_id: None,
                    name: "bootstrap admin".into(),
                    key_type: KeyType::Service,
                    user_id: None,
                    permissions: vec![Permission::Admin],
                    expires_at: None,
                },
                credential,
            )
            .await
        {
            Ok(issued) => issued,
            // Another replica issued the same configured key at the same moment.
            Err(ServiceError::Domain(crate::domain::DomainError::AlreadyExists { .. })) => {
                return Ok(None);
            }
            Err(other) => return Err(other),
        };
        Ok(generated.then_some(issued.key))
    }
}

fn visible(admin: &Admin, key: &ApiKeyRow) -> bool {
    match &key.workspace_id {
        Some(workspace) => admin.manages(workspace),
        None => admin.is_global(),
    }
}
