//! The token endpoint's grants (`authorization_code`, `refresh_token`), revocation (RFC 7009)
//! and introspection (RFC 7662). A refusal is a [`TokenRefusal`] in
//! [`ServiceError::Domain`]; the API answers it as an OAuth error.

use chrono::Utc;
use mcpgw_shared::{OAuthClientId, OAuthGrantId};
use serde_json::json;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::signing::{self, AccessClaims};
use super::{REFRESH_TOKEN_TTL, credentials, is_metadata_document};
use crate::application::{Service, ServiceError};
use crate::domain::oauth_client::OAuthClient;
use crate::domain::oauth_grant::{
    IssuedGrant, OAuthGrant, OAuthGrantCommand, OAuthGrantEvent, Redemption, Refresh,
    RefreshIssued, TokenError, TokenRefusal,
};
use crate::domain::{Actor, DomainEvent};
use crate::store::{DataPlaneRow, StoredEvent};

/// How a client authenticated (RFC 6749 §2.3): its id, and its secret if it sent one.
#[derive(Clone, Default)]
pub struct ClientCredentials {
    /// The client id (empty when the client sent none).
    pub client_id: String,
    /// The secret, for a confidential client.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A token request.
#[derive(Debug, Clone, Default)]
pub struct TokenInput {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// The code.
    pub code: String,
    /// The PKCE verifier.
    pub code_verifier: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The client.
    pub client: ClientCredentials,
    /// The resource asked for (empty: the granted one).
    pub resource: String,
    /// On a refresh, the scopes asked for (empty: all granted).
    pub scope: String,
}

/// Tokens issued.
#[derive(Clone)]
pub struct IssuedTokens {
    /// The access token (a JWT).
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The new refresh token.
    pub refresh_token: String,
    /// The scopes of the access token.
    pub scope: String,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why a grant is revoked when its client asks (RFC 7009).
const REVOKED_BY_CLIENT: &str = "revoked by the client";

impl Service {
    /// Answers a token request of a client of `data_plane`.
    pub async fn exchange_oauth_token(
        &self,
        data_plane: &DataPlaneRow,
        input: TokenInput,
    ) -> Result<IssuedTokens, ServiceError> {
        match input.grant_type.as_str() {
            "authorization_code" => self.redeem_code(data_plane, input).await,
            "refresh_token" => self.refresh_token(data_plane, input).await,
            other => Err(TokenRefusal::new(
                TokenError::UnsupportedGrantType,
                format!(
                    "grant_type `{}` is not supported: use authorization_code or refresh_token",
                    other.chars().take(64).collect::<String>()
                ),
            )
            .into()),
        }
    }

    async fn redeem_code(
        &self,
        data_plane: &DataPlaneRow,
        input: TokenInput,
    ) -> Result<IssuedTokens, ServiceError> {
        self.authenticate_oauth_client(&input.client).await?;
        let invalid = || TokenRefusal::invalid_grant("the authorization code is not valid");
        let id = credentials::code_grant(&input.code).ok_or_else(invalid)?;
        let (grant, _) = self.load::<OAuthGrant>(&id).await?;
        let issued = self
            .served_grant(data_plane, &grant)
            .ok_or_else(invalid)?
            .clone();
        let refresh = credentials::new_refresh_token(&id, 1);
        let now = Utc::now();
        let command = OAuthGrantCommand::Redeem(Redemption {
            code_sha256: credentials::sha256(&input.code),
            client_id: input.client.client_id,
            redirect_uri: input.redirect_uri,
            code_verifier: input.code_verifier,
            resource: input.resource,
            next: RefreshIssued {
                refresh_sha256: refresh.sha256,
                generation: 1,
                refresh_expires_at: now + REFRESH_TOKEN_TTL,
            },
            now,
        });
        // Not pinned: of two redemptions at once, the second runs again after the first and
        // finds the code used, which revokes the grant.
        let outcome = self
            .execute_as::<OAuthGrant>(
                Actor::DataPlane(data_plane.id),
                &id,
                None,
                |_| Ok(()),
                command,
            )
            .await?;
        if revoked(&outcome.events) {
            return Err(TokenRefusal::invalid_grant(
                "the authorization code was already used; the tokens issued for it are revoked",
            )
            .into());
        }
        self.tokens(&id, &issued, issued.scope.clone(), refresh.text)
            .await
    }

    async fn refresh_token(
        &self,
        data_plane: &DataPlaneRow,
        input: TokenInput,
    ) -> Result<IssuedTokens, ServiceError> {
        self.authenticate_oauth_client(&input.client).await?;
        let invalid = || TokenRefusal::invalid_grant("the refresh token is not valid");
        let (id, _) = credentials::refresh_token_grant(&input.refresh_token).ok_or_else(invalid)?;
        let (grant, version) = self.load::<OAuthGrant>(&id).await?;
        let issued = self
            .served_grant(data_plane, &grant)
            .ok_or_else(invalid)?
            .clone();
        let generation = grant.refresh.as_ref().map_or(0, |r| r.generation) + 1;
        let refresh = credentials::new_refresh_token(&id, generation);
        let now = Utc::now();
        let scope = if input.scope.trim().is_empty() {
            issued.scope.clone()
        } else {
            input.scope.clone()
        };
        let command = OAuthGrantCommand::Refresh(Refresh {
            refresh_sha256: credentials::sha256(&input.refresh_token),
            client_id: input.client.client_id,
            scope: input.scope,
            next: RefreshIssued {
                refresh_sha256: refresh.sha256,
                generation,
                refresh_expires_at: now + REFRESH_TOKEN_TTL,
            },
            now,
        });
        // Pinned to the version read: of two refreshes at once, one wins and the other is
        // refused.
        let outcome = self
            .execute_as::<OAuthGrant>(
                Actor::DataPlane(data_plane.id),
                &id,
                Some(version),
                |_| Ok(()),
                command,
            )
            .await
            .map_err(|error| match error {
                ServiceError::VersionConflict { .. } => TokenRefusal::invalid_grant(
                    "the refresh token was used concurrently: use the newest one, or authorize again",
                )
                .into(),
                other => other,
            })?;
        if revoked(&outcome.events) {
            return Err(TokenRefusal::invalid_grant(
                "the refresh token was already used; the grant is revoked: authorize again",
            )
            .into());
        }
        self.tokens(&id, &issued, scope, refresh.text).await
    }

    /// The access token for `grant` with `scope`, and the refresh token beside it.
    async fn tokens(
        &self,
        id: &OAuthGrantId,
        grant: &IssuedGrant,
        scope: String,
        refresh_token: String,
    ) -> Result<IssuedTokens, ServiceError> {
        let key = self.current_signing_key().await?;
        let ttl = self.authorization.access_token_ttl.as_secs() as i64;
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            iss: grant.issuer.clone(),
            sub: grant.user_id.clone(),
            aud: grant.resource.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl,
            jti: Uuid::new_v4().to_string(),
            client_id: grant.client_id.clone(),
            scope: scope.clone(),
            mcpgw_workspace: grant.workspace_id.to_string(),
            mcpgw_grant: id.to_string(),
        };
        Ok(IssuedTokens {
            access_token: signing::sign(&self.cipher, &key, &claims)?,
            expires_in: ttl,
            refresh_token,
            scope,
        })
    }

    /// Checks how a client authenticated: a registered, unrevoked client, with its secret if
    /// it is confidential; or a metadata document URL (a public client).
    async fn authenticate_oauth_client(
        &self,
        client: &ClientCredentials,
    ) -> Result<(), ServiceError> {
        let refused = |description: &str| -> ServiceError {
            TokenRefusal::new(TokenError::InvalidClient, description).into()
        };
        if client.client_id.is_empty() {
            return Err(refused("the client must identify itself (client_id)"));
        }
        if is_metadata_document(&client.client_id) {
            return Ok(());
        }
        let Ok(id) = client.client_id.parse::<OAuthClientId>() else {
            return Err(refused("no such client"));
        };
        let (state, _) = self.load::<OAuthClient>(&id).await?;
        let registration = state
            .active()
            .ok_or_else(|| refused("no such client (or it was revoked)"))?;
        match registration.secret_sha256 {
            None => Ok(()),
            Some(expected) => {
                let presented = client.client_secret.as_deref().map(credentials::sha256);
                if presented.is_some_and(|p| bool::from(p.ct_eq(&expected))) {
                    Ok(())
                } else {
                    Err(refused("the client secret is missing or wrong"))
                }
            }
        }
    }

    /// The grant's consent if it is not revoked and `data_plane` serves its workspace.
    fn served_grant<'g>(
        &self,
        data_plane: &DataPlaneRow,
        grant: &'g OAuthGrant,
    ) -> Option<&'g IssuedGrant> {
        grant.issued.as_ref().filter(|g| {
            data_plane
                .scope()
                .is_none_or(|s| s.contains(&g.workspace_id))
        })
    }

    /// Revokes the grant of `token` if it is one of the client's (RFC 7009: an unknown token
    /// or another client's changes nothing and is no error). Returns the grant revoked.
    pub async fn revoke_oauth_token(
        &self,
        data_plane: &DataPlaneRow,
        token: &str,
        client: &ClientCredentials,
    ) -> Result<Option<OAuthGrantId>, ServiceError> {
        self.authenticate_oauth_client(client).await?;
        // Revocation takes expired access tokens too.
        let Some(presented) = self.client_token(data_plane, token, client, false).await? else {
            return Ok(None);
        };
        self.execute_as::<OAuthGrant>(
            Actor::DataPlane(data_plane.id),
            &presented.id,
            None,
            |_| Ok(()),
            OAuthGrantCommand::Revoke {
                reason: REVOKED_BY_CLIENT.to_owned(),
            },
        )
        .await?;
        Ok(Some(presented.id))
    }

    /// Describes `token` to the client it was issued to (RFC 7662): `{"active": false}` for
    /// a token that is unknown, expired, revoked, replaced, or another client's.
    pub async fn introspect_oauth_token(
        &self,
        data_plane: &DataPlaneRow,
        token: &str,
        client: &ClientCredentials,
    ) -> Result<serde_json::Value, ServiceError> {
        self.authenticate_oauth_client(client).await?;
        let inactive = json!({ "active": false });
        let Some(presented) = self.client_token(data_plane, token, client, true).await? else {
            return Ok(inactive);
        };
        let Some(grant) = presented.grant.active() else {
            return Ok(inactive);
        };
        let (token_type, scope, iat, exp) = match &presented.kind {
            Presented::Refresh(hash) => match &presented.grant.refresh {
                Some(refresh)
                    if presented.grant.is_current_refresh(hash)
                        && Utc::now() < refresh.refresh_expires_at =>
                {
                    let exp = refresh.refresh_expires_at.timestamp();
                    let iat = exp - REFRESH_TOKEN_TTL.as_secs() as i64;
                    ("refresh_token", grant.scope.as_str(), iat, exp)
                }
                _ => return Ok(inactive),
            },
            Presented::Access(claims) => ("Bearer", claims.scope.as_str(), claims.iat, claims.exp),
        };
        Ok(json!({
            "active": true,
            "client_id": grant.client_id,
            "scope": scope,
            "sub": grant.user_id,
            "aud": grant.resource,
            "iss": grant.issuer,
            "exp": exp,
            "iat": iat,
            "token_type": token_type,
            "mcpgw_workspace": grant.workspace_id.to_string(),
        }))
    }

    /// `token` if it is a refresh token (of any generation) or an access token the control
    /// plane signed (unexpired with `check_expiry`) of a grant of `client` that `data_plane`
    /// serves.
    async fn client_token(
        &self,
        data_plane: &DataPlaneRow,
        token: &str,
        client: &ClientCredentials,
        check_expiry: bool,
    ) -> Result<Option<ClientToken>, ServiceError> {
        let (id, kind) = if credentials::is_refresh_token(token) {
            let Some((id, _)) = credentials::refresh_token_grant(token) else {
                return Ok(None);
            };
            (id, Presented::Refresh(credentials::sha256(token)))
        } else {
            let keys = self.db.reader().await?.signing_keys(false).await?;
            let claims = signing::verify(&keys, token, check_expiry);
            let Some((id, claims)) = claims.and_then(|c| Some((c.mcpgw_grant.parse().ok()?, c)))
            else {
                return Ok(None);
            };
            (id, Presented::Access(claims))
        };
        let (grant, _) = self.load::<OAuthGrant>(&id).await?;
        let ours = self
            .served_grant(data_plane, &grant)
            .is_some_and(|g| g.client_id == client.client_id);
        let genuine = match &kind {
            Presented::Refresh(hash) => {
                grant.is_current_refresh(hash) || grant.is_earlier_refresh(hash)
            }
            Presented::Access(_) => true,
        };
        Ok((ours && genuine).then_some(ClientToken { id, grant, kind }))
    }
}

/// A token of a client's grant.
struct ClientToken {
    /// The grant.
    id: OAuthGrantId,
    /// Its state.
    grant: OAuthGrant,
    /// What the token is.
    kind: Presented,
}

/// What kind of token was presented.
enum Presented {
    /// A refresh token, by its hash.
    Refresh([u8; 32]),
    /// An access token, by its claims.
    Access(AccessClaims),
}

/// Whether a grant command revoked the grant (a reused code or refresh token).
fn revoked(events: &[StoredEvent]) -> bool {
    events.iter().any(|e| {
        matches!(
            e.event,
            DomainEvent::OAuthGrant(OAuthGrantEvent::Revoked { .. })
        )
    })
}
