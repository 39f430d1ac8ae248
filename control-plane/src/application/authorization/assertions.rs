//! User assertions for identity forwarding: a data plane relaying a user's request to a server
//! whose `identity_forwarding` is `jwt` asks for a short-lived JWT saying who calls, signed
//! with the authorization server's keys, so the upstream can verify it against the gateway's
//! public JWKS. The data plane must serve the workspace, the server must serve it, and the
//! audience must be the server's upstream URL: a data plane cannot mint assertions for any
//! other audience, nor for a server that does not forward identities as JWTs.

use chrono::{DateTime, Utc};
use mcpgw_shared::model::IdentityForwarding;
use mcpgw_shared::{ServerId, WorkspaceId};
use uuid::Uuid;

use super::signing::{self, UserAssertionClaims};
use crate::application::{Service, ServiceError};
use crate::domain::DomainError;
use crate::store::DataPlaneRow;

/// What a data plane asks to be signed.
#[derive(Debug, Clone)]
pub struct UserAssertionInput {
    /// The data plane's issuer identifier (its public base URL, as it gives it).
    pub issuer: String,
    /// The server's upstream URL.
    pub audience: String,
    /// The user.
    pub subject: String,
    /// The caller's workspace.
    pub workspace_id: WorkspaceId,
    /// The server called.
    pub server_id: ServerId,
    /// Its lifetime in seconds.
    pub ttl_seconds: u32,
}

/// A signed user assertion.
#[derive(Debug, Clone)]
pub struct SignedAssertion {
    /// The JWT.
    pub jwt: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

impl Service {
    /// Signs a user assertion for `data_plane` (see the module's documentation for what is
    /// checked).
    pub async fn sign_user_assertion(
        &self,
        data_plane: &DataPlaneRow,
        input: UserAssertionInput,
    ) -> Result<SignedAssertion, ServiceError> {
        let (min, max) = (
            IdentityForwarding::MIN_TTL_SECONDS,
            IdentityForwarding::MAX_TTL_SECONDS,
        );
        if !(min..=max).contains(&input.ttl_seconds) {
            return Err(DomainError::invalid(
                "ttl_seconds",
                format!("must be from {min} to {max}"),
            )
            .into());
        }
        if input.subject.trim().is_empty() {
            return Err(DomainError::invalid("subject", "must name the user").into());
        }
        if url::Url::parse(&input.issuer).is_err() {
            return Err(
                DomainError::invalid("issuer", "must be the data plane's public base URL").into(),
            );
        }
        let server = self
            .served_server(data_plane, &input.workspace_id, &input.server_id)
            .await?;
        if !matches!(server.identity_forwarding, IdentityForwarding::Jwt { .. }) {
            return Err(DomainError::invalid(
                "server_id",
                "the server does not forward identities as JWTs",
            )
            .into());
        }
        if input.audience != server.url {
            return Err(
                DomainError::invalid("audience", "must be the server's upstream URL").into(),
            );
        }
        let key = self.current_signing_key().await?;
        let now = Utc::now().timestamp();
        let exp = now + i64::from(input.ttl_seconds);
        let claims = UserAssertionClaims {
            iss: input.issuer,
            sub: input.subject,
            aud: input.audience,
            iat: now,
            exp,
            jti: Uuid::new_v4().to_string(),
            mcpgw_workspace: input.workspace_id.to_string(),
            mcpgw_server: input.server_id.to_string(),
        };
        Ok(SignedAssertion {
            jwt: signing::sign_user_assertion(&self.cipher, &key, &claims)?,
            expires_at: DateTime::from_timestamp(exp, 0).unwrap_or_else(Utc::now),
        })
    }
}

#[cfg(test)]
mod tests;
