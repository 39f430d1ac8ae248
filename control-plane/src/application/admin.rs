//! Admin authentication and authorization: a bearer API key with the `admin` permission,
//! global or limited to its workspace.

use chrono::Utc;
use mcpgw_shared::model::Permission;
use mcpgw_shared::{Credential, CredentialKind};

use super::{Service, ServiceError};

/// An authenticated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The admin key's id.
    pub key_id: String,
    /// `None`: may manage everything; otherwise only this workspace.
    pub workspace: Option<String>,
}

impl Admin {
    /// The built-in actor for changes the system makes itself (bootstrap, seeding).
    pub fn system() -> Self {
        Self {
            key_id: "system".into(),
            workspace: None,
        }
    }

    /// How this admin appears in the audit log.
    pub fn actor(&self) -> String {
        if self.key_id == "system" {
            "system".into()
        } else {
            format!("api_key:{}", self.key_id)
        }
    }

    /// Whether this admin is not limited to a workspace.
    pub fn is_global(&self) -> bool {
        self.workspace.is_none()
    }

    /// The workspaces this admin sees: `None` for all.
    pub fn scope(&self) -> Option<Vec<String>> {
        self.workspace.clone().map(|w| vec![w])
    }

    /// Whether this admin may manage `workspace`.
    pub fn manages(&self, workspace: &str) -> bool {
        self.workspace.as_deref().is_none_or(|w| w == workspace)
    }

    /// Fails unless this admin may manage `workspace`.
    pub fn require_workspace(&self, workspace: &str) -> Result<(), ServiceError> {
        if self.manages(workspace) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "this admin key is limited to workspace {}; use a key of workspace {workspace} or a global admin key",
                self.workspace.as_deref().unwrap_or_default()
            )))
        }
    }

    /// Fails unless this admin is global.
    pub fn require_global(&self, what: &str) -> Result<(), ServiceError> {
        if self.is_global() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "{what} needs a global admin key (one not bound to a workspace)"
            )))
        }
    }
}

impl Service {
    /// Authenticates an admin from the bearer credential text.
    pub async fn authenticate_admin(&self, bearer: &str) -> Result<Admin, ServiceError> {
        let credential = Credential::parse(CredentialKind::ApiKey, bearer).map_err(|_| {
            ServiceError::Unauthenticated(
                "the bearer token is not an API key of the form mcpgw_<id>_<secret>".into(),
            )
        })?;
        let key = self
            .db()
            .reader()
            .await?
            .api_key(credential.id().as_str())
            .await?;
        let invalid =
            || ServiceError::Unauthenticated("the API key is invalid, revoked or expired".into());
        let key = key.ok_or_else(invalid)?;
        let hash = hex::decode(&key.secret_hash).map_err(|_| invalid())?;
        let active = key.revoked_at.is_none() && key.expires_at.is_none_or(|at| Utc::now() < at);
        if !credential.verify(&hash) || !active {
            return Err(invalid());
        }
        if !key.permissions.contains(&Permission::Admin) {
            return Err(ServiceError::Forbidden(
                "this API key lacks the `admin` permission".into(),
            ));
        }
        Ok(Admin {
            key_id: key.id,
            workspace: key.workspace_id,
        })
    }
}
