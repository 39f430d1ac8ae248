//! What administrators do with the authorization server: list and revoke clients and grants,
//! list and rotate signing keys.

use mcpgw_shared::{OAuthClientId, OAuthGrantId, WorkspaceId};
use serde::Deserialize;

use crate::application::{Caller, Service, ServiceError};
use crate::domain::DomainError;
use crate::domain::oauth_client::{OAuthClient, OAuthClientCommand};
use crate::domain::oauth_grant::{OAuthGrant, OAuthGrantCommand};
use crate::store::read_models::GrantFilter;
use crate::store::{OAuthClientRow, OAuthGrantRow, SigningKeyRow};

/// Why a grant is revoked when its client is.
const CLIENT_REVOKED: &str = "client revoked";
/// Why a grant is revoked by an administrator.
const REVOKED_BY_ADMIN: &str = "revoked by an administrator";

/// `POST /v1/oauth/grants/revoke`: the grants of a user, of a client, or of both.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeGrantsInput {
    /// Revoke this user's grants.
    pub user_id: Option<String>,
    /// Revoke this client's grants.
    pub client_id: Option<String>,
}

impl Service {
    /// Every registered client (global admins).
    pub async fn oauth_clients(
        &self,
        caller: &Caller,
    ) -> Result<Vec<OAuthClientRow>, ServiceError> {
        caller.require_global("listing OAuth clients")?;
        Ok(self.db.reader().await?.oauth_clients().await?)
    }

    /// Revokes a client and every grant of it: its tokens can no longer be refreshed.
    pub async fn revoke_oauth_client(
        &self,
        caller: &Caller,
        id: &OAuthClientId,
    ) -> Result<(), ServiceError> {
        caller.require_global("revoking an OAuth client")?;
        self.execute::<OAuthClient>(caller, id, None, |_| Ok(()), OAuthClientCommand::Revoke)
            .await?;
        let client_id = id.to_string();
        let filter = GrantFilter {
            client_id: Some(&client_id),
            unrevoked: true,
            ..GrantFilter::default()
        };
        self.revoke_grants(caller, &filter, CLIENT_REVOKED).await?;
        Ok(())
    }

    /// The grants `filter` selects that the caller may see: a workspace admin sees its
    /// workspace's only.
    pub async fn oauth_grants(
        &self,
        caller: &Caller,
        filter: GrantFilter<'_>,
    ) -> Result<Vec<OAuthGrantRow>, ServiceError> {
        let filter = scoped(caller, filter)?;
        Ok(self.db.reader().await?.oauth_grants(&filter).await?)
    }

    /// Revokes one grant.
    pub async fn revoke_oauth_grant(
        &self,
        caller: &Caller,
        id: &OAuthGrantId,
    ) -> Result<(), ServiceError> {
        let authorize = |grant: &OAuthGrant| match &grant.issued {
            Some(issued) => Ok(caller.require_workspace(&issued.workspace_id)?),
            None => Err(ServiceError::not_found("oauth grant", id)),
        };
        let revoke = OAuthGrantCommand::Revoke {
            reason: REVOKED_BY_ADMIN.to_owned(),
        };
        self.execute::<OAuthGrant>(caller, id, None, authorize, revoke)
            .await?;
        Ok(())
    }

    /// Revokes the grants of a user, a client, or both (within a workspace admin's
    /// workspace); returns how many were revoked.
    pub async fn revoke_oauth_grants(
        &self,
        caller: &Caller,
        input: &RevokeGrantsInput,
    ) -> Result<usize, ServiceError> {
        if input.user_id.is_none() && input.client_id.is_none() {
            return Err(DomainError::invalid(
                "user_id",
                "name the user_id, the client_id, or both, whose grants to revoke",
            )
            .into());
        }
        let filter = GrantFilter {
            user_id: input.user_id.as_deref(),
            client_id: input.client_id.as_deref(),
            workspace_id: None,
            unrevoked: true,
        };
        let filter = scoped(caller, filter)?;
        self.revoke_grants(caller, &filter, REVOKED_BY_ADMIN).await
    }

    /// Revokes each grant `filter` selects, for `reason`; returns how many it revoked.
    async fn revoke_grants(
        &self,
        caller: &Caller,
        filter: &GrantFilter<'_>,
        reason: &str,
    ) -> Result<usize, ServiceError> {
        let grants = self.db.reader().await?.oauth_grants(filter).await?;
        let mut revoked = 0;
        for grant in grants {
            let command = OAuthGrantCommand::Revoke {
                reason: reason.to_owned(),
            };
            let outcome = self
                .execute::<OAuthGrant>(caller, &grant.id, None, |_| Ok(()), command)
                .await?;
            revoked += usize::from(!outcome.events.is_empty());
        }
        Ok(revoked)
    }

    /// Every signing key, retired ones too, newest first (global admins).
    pub async fn signing_keys(&self, caller: &Caller) -> Result<Vec<SigningKeyRow>, ServiceError> {
        caller.require_global("listing signing keys")?;
        Ok(self.db.reader().await?.signing_keys(true).await?)
    }

    /// Makes a new signing key now; the one it replaces keeps verifying, older ones retire.
    pub async fn rotate_signing_key(&self, caller: &Caller) -> Result<SigningKeyRow, ServiceError> {
        caller.require_global("rotating the signing key")?;
        let unretired = self.db.reader().await?.signing_keys(false).await?;
        self.rotate_signing_keys(caller.actor(), &unretired).await
    }
}

/// `filter` limited to the caller's workspace, for a workspace admin (who may not name
/// another).
fn scoped<'a>(caller: &Caller, filter: GrantFilter<'a>) -> Result<GrantFilter<'a>, ServiceError> {
    let Some([own]) = caller.scope() else {
        return Ok(filter);
    };
    if let Some(named) = filter.workspace_id {
        caller.require_workspace(&named)?;
    }
    Ok(GrantFilter {
        workspace_id: Some::<WorkspaceId>(own),
        ..filter
    })
}
