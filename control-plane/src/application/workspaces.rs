//! Workspace operations.

use std::collections::BTreeMap;

use mcpgw_shared::model::{
    GrantSubject, Grants, IdentityProvider, JwtValidation, RateLimit, ToolFilter,
};
use mcpgw_shared::{ApiKeyId, SealedSecret, SecretCipher, StreamId, WorkspaceId};

use super::caller::as_scope;
use super::{Caller, Service, ServiceError};
use crate::domain::DomainError;
use crate::domain::workspace::{Workspace, WorkspaceCommand};
use crate::store::WorkspaceRow;

/// What `PATCH /v1/workspaces/{id}` changes; `None` leaves it as it is.
#[derive(Debug, Default)]
pub struct WorkspaceChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new tool policy.
    pub tools: Option<ToolFilter>,
    /// Grants to set (or, with `None`, remove), by `key:<id>` or `user:<id>`.
    pub grants: Option<BTreeMap<String, Option<Grants>>>,
    /// New rate limits (the complete list).
    pub rate_limits: Option<Vec<RateLimit>>,
    /// New bearer-JWT rules (`Some(None)` removes them), an introspection client secret in
    /// plaintext as the request gave it (`Debug` does not show it).
    pub jwt_validation: Option<Option<JwtValidation<String>>>,
    /// A new OpenID Connect provider for its users' sign-in (`Some(None)` removes it), its
    /// client secret in plaintext as the request gave it (`Debug` does not show it).
    pub identity_provider: Option<Option<IdentityProvider<String>>>,
}

impl Service {
    /// Creates a workspace (global admins only).
    pub async fn create_workspace(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<WorkspaceRow, ServiceError> {
        caller.require_global("creating a workspace")?;
        let id = WorkspaceId::new();
        let command = WorkspaceCommand::Create { name: name.into() };
        self.execute::<Workspace>(caller, &id, None, |_| Ok(()), command)
            .await?;
        self.workspace(caller, &id).await
    }

    /// Renames a workspace, sets its tool policy and/or merges grants. A grant for a key
    /// names a key of this workspace.
    pub async fn update_workspace(
        &self,
        caller: &Caller,
        id: &WorkspaceId,
        changes: WorkspaceChanges,
        expected_version: Option<i64>,
    ) -> Result<WorkspaceRow, ServiceError> {
        caller.require_workspace(id)?;
        if let Some(grants) = &changes.grants {
            self.check_granted_keys(id, grants.keys()).await?;
        }
        let identity_provider = changes
            .identity_provider
            .map(|provider| {
                provider
                    .map(|provider| seal_identity_provider(&self.cipher, id, provider))
                    .transpose()
            })
            .transpose()?;
        let jwt_validation =
            seal_jwt_validation_change(&self.cipher, &id.stream(), changes.jwt_validation)?;
        let mut expected_version = expected_version;
        let commands = [
            changes.name.map(|name| WorkspaceCommand::Rename { name }),
            changes
                .tools
                .map(|tools| WorkspaceCommand::SetTools { tools }),
            changes
                .grants
                .map(|changes| WorkspaceCommand::SetGrants { changes }),
            changes
                .rate_limits
                .map(|rate_limits| WorkspaceCommand::SetRateLimits { rate_limits }),
            jwt_validation
                .map(|jwt_validation| WorkspaceCommand::SetJwtValidation { jwt_validation }),
            identity_provider.map(|identity_provider| WorkspaceCommand::SetIdentityProvider {
                identity_provider,
            }),
        ];
        for command in commands.into_iter().flatten() {
            self.execute::<Workspace>(caller, id, expected_version.take(), |_| Ok(()), command)
                .await?;
        }
        self.workspace(caller, id).await
    }

    /// Every `key:<id>` among `subjects` names a key of `workspace`.
    async fn check_granted_keys(
        &self,
        workspace: &WorkspaceId,
        subjects: impl Iterator<Item = &String>,
    ) -> Result<(), ServiceError> {
        let mut reader = self.db.reader().await?;
        for subject in subjects {
            let Some(GrantSubject::Key(key)) = GrantSubject::parse(subject) else {
                continue;
            };
            let row = match key.parse::<ApiKeyId>() {
                Ok(key) => reader.api_key(&key).await?,
                Err(_) => None,
            };
            if row.is_none_or(|row| row.workspace_id != Some(*workspace)) {
                return Err(DomainError::invalid(
                    format!("grants.{subject}"),
                    "names no API key of this workspace",
                )
                .into());
            }
        }
        Ok(())
    }

    /// One workspace the caller may see.
    pub async fn workspace(
        &self,
        caller: &Caller,
        id: &WorkspaceId,
    ) -> Result<WorkspaceRow, ServiceError> {
        if !caller.manages(id) {
            return Err(ServiceError::not_found("workspace", id));
        }
        self.db
            .reader()
            .await?
            .workspace(id)
            .await?
            .ok_or_else(|| ServiceError::not_found("workspace", id))
    }

    /// Every workspace the caller may see.
    pub async fn workspaces(&self, caller: &Caller) -> Result<Vec<WorkspaceRow>, ServiceError> {
        let scope = caller.scope();
        Ok(self.db.reader().await?.workspaces(as_scope(&scope)).await?)
    }

    /// Parses a workspace id given in `field` and checks that the workspace exists.
    pub(super) async fn existing_workspace(
        &self,
        field: &str,
        id: &str,
    ) -> Result<WorkspaceId, ServiceError> {
        let missing = || DomainError::invalid(field, format!("no workspace has the id `{id}`"));
        let parsed: WorkspaceId = id.parse().map_err(|_| missing())?;
        if self.db.reader().await?.workspace(&parsed).await?.is_none() {
            return Err(missing().into());
        }
        Ok(parsed)
    }

    /// [`Service::existing_workspace`] for each of `ids`, given in `field[index]`, each of which
    /// the caller must manage.
    pub(super) async fn managed_workspaces(
        &self,
        caller: &Caller,
        field: &str,
        ids: &[String],
    ) -> Result<Vec<WorkspaceId>, ServiceError> {
        let mut workspaces = Vec::with_capacity(ids.len());
        for (index, id) in ids.iter().enumerate() {
            let workspace = self
                .existing_workspace(&format!("{field}[{index}]"), id)
                .await?;
            caller.require_workspace(&workspace)?;
            workspaces.push(workspace);
        }
        Ok(workspaces)
    }
}

/// Checks the client secret of `provider` and seals it for workspace `id`: in the event, the
/// read model and the audit log it is only ever a ciphertext.
fn seal_identity_provider(
    cipher: &SecretCipher,
    id: &WorkspaceId,
    provider: IdentityProvider<String>,
) -> Result<IdentityProvider<SealedSecret>, ServiceError> {
    provider
        .validate_secret()
        .map_err(|e| DomainError::invalid(e.field, e.message))?;
    Ok(provider
        .try_map_secret(|plain, path| {
            Ok::<_, std::convert::Infallible>(
                cipher.seal(&plain, &workspace_secret_context(id, path)),
            )
        })
        .unwrap_or_else(|never| match never {}))
}

/// Checks the introspection client secret of `rules` and seals it for `owner` (a workspace's
/// or a server's stream): in the event, the read model and the audit log it is only ever a
/// ciphertext.
pub(super) fn seal_jwt_validation(
    cipher: &SecretCipher,
    owner: &StreamId,
    rules: JwtValidation<String>,
) -> Result<JwtValidation<SealedSecret>, ServiceError> {
    rules
        .validate_secret()
        .map_err(|(field, message)| DomainError::invalid(field, message))?;
    Ok(rules
        .try_map_secret(|plain, path| {
            Ok::<_, std::convert::Infallible>(cipher.seal(&plain, &format!("{owner}/{path}")))
        })
        .unwrap_or_else(|never| match never {}))
}

/// A change of `jwt_validation` (absent: unchanged; `null`: removed) with its secret sealed.
pub(super) fn seal_jwt_validation_change(
    cipher: &SecretCipher,
    owner: &StreamId,
    change: Option<Option<JwtValidation<String>>>,
) -> Result<Option<Option<JwtValidation<SealedSecret>>>, ServiceError> {
    change
        .map(|rules| {
            rules
                .map(|rules| seal_jwt_validation(cipher, owner, rules))
                .transpose()
        })
        .transpose()
}

/// The associated data a workspace's secret is sealed with: its stream and field path (as
/// [`secret_context`](super::secret_context) for a server's).
pub(super) fn workspace_secret_context(id: &WorkspaceId, path: &str) -> String {
    format!("{}/{path}", id.stream())
}

#[cfg(test)]
mod tests;
