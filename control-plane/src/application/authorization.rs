//! The gateway's own OAuth 2.1 authorization server, as the control plane keeps it: data planes
//! serve the public endpoints and call these operations (through the `Authorization` gRPC
//! service) to register clients, record consents as grants, redeem and refresh them, and get
//! the keys access tokens are signed with. Administrators list and revoke clients and grants
//! and rotate keys ([`admin`]). The same keys sign the user assertions of identity forwarding
//! ([`assertions`]).

mod admin;
mod assertions;
mod credentials;
pub mod signing;
mod tokens;

use std::time::Duration;

use chrono::{DateTime, Utc};
use mcpgw_shared::{OAuthClientId, OAuthGrantId, ServerId, SigningKeyId, WorkspaceId};

use super::{Service, ServiceError};
use crate::domain::oauth_client::{
    OAuthClient, OAuthClientCommand, Registration, TokenEndpointAuthMethod,
};
use crate::domain::oauth_grant::{IssuedGrant, OAuthGrant, OAuthGrantCommand};
use crate::domain::signing_key::{SigningKey, SigningKeyCommand};
use crate::domain::{Actor, DomainError, oauth_scope};
use crate::store::{DataPlaneRow, OAuthClientRow, ServerRow, SigningKeyRow};

pub use admin::RevokeGrantsInput;
pub use assertions::{SignedAssertion, UserAssertionInput};
pub use tokens::{ClientCredentials, IssuedTokens, TokenInput};

/// How long an authorization code may be redeemed in.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a refresh token works unless used (each use starts the period again).
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The authorization server's lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizationSettings {
    /// Lifetime of access tokens (`MCPGW_OAUTH_ACCESS_TOKEN_TTL`).
    pub access_token_ttl: Duration,
    /// Age at which the signing key is replaced (`MCPGW_OAUTH_SIGNING_KEY_ROTATION`).
    pub signing_key_rotation: Duration,
}

impl Default for AuthorizationSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(10 * 60),
            signing_key_rotation: Duration::from_secs(30 * 24 * 60 * 60),
        }
    }
}

/// A client registration as a data plane forwards it (RFC 7591).
#[derive(Debug, Clone, Default)]
pub struct RegisterClientInput {
    /// Display name.
    pub client_name: String,
    /// Where codes may be sent.
    pub redirect_uris: Vec<String>,
    /// `none` (or empty), `client_secret_basic` or `client_secret_post`.
    pub token_endpoint_auth_method: String,
    /// Empty: `authorization_code` and `refresh_token`.
    pub grant_types: Vec<String>,
    /// Space-separated; empty: every scope.
    pub scope: String,
    /// Its home page.
    pub client_uri: String,
}

/// A registered client, with its secret the one time it is shown.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// The client as stored.
    pub client: OAuthClientRow,
    /// A confidential client's secret.
    pub client_secret: Option<String>,
}

/// A signed-in user's consent, as a data plane records it.
#[derive(Debug, Clone)]
pub struct IssueCodeInput {
    /// A registered client's id or a checked Client ID Metadata Document URL.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The server.
    pub server_id: ServerId,
    /// The server's canonical URL.
    pub resource: String,
    /// The granted scopes, space-separated (empty: what the client may ask for).
    pub scope: String,
    /// Where the code goes.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The data plane's issuer identifier.
    pub issuer: String,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// The code (shown once; only its hash is kept).
    pub code: String,
    /// Seconds it may be redeemed in.
    pub expires_in: i64,
    /// Its grant.
    pub grant_id: OAuthGrantId,
}

/// Whether a client id is a Client ID Metadata Document URL rather than a registered id.
fn is_metadata_document(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

impl Service {
    /// The same service, with these token and key lifetimes.
    pub fn with_authorization_settings(mut self, settings: AuthorizationSettings) -> Self {
        self.authorization = settings;
        self
    }

    /// Registers a client for `data_plane`; a confidential client's secret is generated and
    /// answered this once.
    pub async fn register_oauth_client(
        &self,
        data_plane: &DataPlaneRow,
        input: RegisterClientInput,
    ) -> Result<RegisteredClient, ServiceError> {
        let method = TokenEndpointAuthMethod::parse(&input.token_endpoint_auth_method)?;
        let secret = method
            .is_confidential()
            .then(credentials::new_client_secret);
        let registration = Registration {
            name: input.client_name,
            redirect_uris: input.redirect_uris,
            token_endpoint_auth_method: method,
            grant_types: input.grant_types,
            scope: input.scope,
            client_uri: input.client_uri,
            secret_sha256: secret.as_ref().map(|s| s.sha256),
        };
        let id = OAuthClientId::new();
        self.execute_as::<OAuthClient>(
            Actor::DataPlane(data_plane.id),
            &id,
            Some(0),
            |_| Ok(()),
            OAuthClientCommand::Register(registration),
        )
        .await?;
        Ok(RegisteredClient {
            client: self.oauth_client(&id.to_string()).await?,
            client_secret: secret.map(|s| s.text),
        })
    }

    /// A registered client that is not revoked.
    pub async fn oauth_client(&self, client_id: &str) -> Result<OAuthClientRow, ServiceError> {
        let not_found = || ServiceError::not_found("oauth client", client_id);
        let id: OAuthClientId = client_id.parse().map_err(|_| not_found())?;
        self.db
            .reader()
            .await?
            .oauth_client(&id)
            .await?
            .filter(|c| !c.revoked)
            .ok_or_else(not_found)
    }

    /// The server `server_id`, if `data_plane` serves the workspace `workspace_id` and the
    /// server serves that workspace; not found otherwise (a data plane learns nothing of what
    /// it does not serve).
    pub(super) async fn served_server(
        &self,
        data_plane: &DataPlaneRow,
        workspace_id: &WorkspaceId,
        server_id: &ServerId,
    ) -> Result<ServerRow, ServiceError> {
        let mut reader = self.db.reader().await?;
        let in_scope = data_plane.scope().is_none_or(|s| s.contains(workspace_id));
        reader
            .workspace(workspace_id)
            .await?
            .filter(|_| in_scope)
            .ok_or_else(|| ServiceError::not_found("workspace", *workspace_id))?;
        reader
            .server(server_id)
            .await?
            .filter(|s| s.workspaces().any(|w| w == workspace_id))
            .ok_or_else(|| ServiceError::not_found("server", *server_id))
    }

    /// Records a signed-in user's consent as a grant and returns its single-use code. The
    /// workspace must be one `data_plane` serves, the server must serve it, and the client
    /// must be registered with this redirect URI (or be a metadata document URL).
    pub async fn issue_oauth_code(
        &self,
        data_plane: &DataPlaneRow,
        input: IssueCodeInput,
    ) -> Result<IssuedCode, ServiceError> {
        self.served_server(data_plane, &input.workspace_id, &input.server_id)
            .await?;
        let allowed = self
            .client_scope(&input.client_id, &input.redirect_uri)
            .await?;
        let scope = if input.scope.trim().is_empty() {
            allowed.clone()
        } else {
            oauth_scope::parse("scope", &input.scope)?.join(" ")
        };
        if !oauth_scope::covers(&allowed, &scope) {
            return Err(DomainError::invalid(
                "scope",
                format!("the client may only ask for `{allowed}`"),
            )
            .into());
        }
        let id = OAuthGrantId::new();
        let code = credentials::new_code(&id);
        let grant = IssuedGrant {
            client_id: input.client_id,
            user_id: input.user_id,
            workspace_id: input.workspace_id,
            server_id: input.server_id,
            resource: input.resource,
            scope,
            redirect_uri: input.redirect_uri,
            code_challenge: input.code_challenge,
            code_sha256: code.sha256,
            code_expires_at: Utc::now() + CODE_TTL,
            issuer: input.issuer,
        };
        self.execute_as::<OAuthGrant>(
            Actor::DataPlane(data_plane.id),
            &id,
            Some(0),
            |_| Ok(()),
            OAuthGrantCommand::Issue(grant),
        )
        .await?;
        Ok(IssuedCode {
            code: code.text,
            expires_in: CODE_TTL.as_secs() as i64,
            grant_id: id,
        })
    }

    /// The scopes `client_id` may be granted, once its `redirect_uri` is checked: a registered
    /// client's, or every scope for a metadata document URL (the data plane checked it).
    async fn client_scope(
        &self,
        client_id: &str,
        redirect_uri: &str,
    ) -> Result<String, ServiceError> {
        if is_metadata_document(client_id) {
            return Ok(oauth_scope::EVERY_SCOPE.to_owned());
        }
        let unknown = || DomainError::invalid("client_id", "no such client (or it was revoked)");
        let id: OAuthClientId = client_id.parse().map_err(|_| unknown())?;
        let (client, _) = self.load::<OAuthClient>(&id).await?;
        let registration = client.active().ok_or_else(unknown)?;
        if !registration
            .redirect_uris
            .iter()
            .any(|registered| mcpgw_shared::redirect_uri::matches(registered, redirect_uri))
        {
            return Err(DomainError::invalid(
                "redirect_uri",
                "is not one of the client's registered redirect URIs",
            )
            .into());
        }
        Ok(registration.scope.clone())
    }

    /// The JWK Set data planes verify access tokens with: every unretired key (creating the
    /// first one, or rotating an old one, when needed).
    pub async fn oauth_jwks(&self) -> Result<serde_json::Value, ServiceError> {
        self.current_signing_key().await?;
        let keys = self.db.reader().await?.signing_keys(false).await?;
        Ok(signing::jwks(&keys))
    }

    /// The key that signs now: the newest unretired one, unless there is none or it is older
    /// than the rotation period, when a new one is made.
    async fn current_signing_key(&self) -> Result<SigningKeyRow, ServiceError> {
        let keys = self.db.reader().await?.signing_keys(false).await?;
        let rotation = self.authorization.signing_key_rotation;
        match keys.first() {
            Some(newest)
                if (Utc::now() - newest.created_at)
                    .to_std()
                    .is_ok_and(|age| age < rotation) =>
            {
                Ok(newest.clone())
            }
            _ => self.rotate_signing_keys(Actor::System, &keys).await,
        }
    }

    /// Makes a new signing key and retires the keys older than the one it replaces (of the
    /// `unretired` keys, newest first): tokens signed by that one still verify until they
    /// expire.
    async fn rotate_signing_keys(
        &self,
        actor: Actor,
        unretired: &[SigningKeyRow],
    ) -> Result<SigningKeyRow, ServiceError> {
        let id = SigningKeyId::new();
        let generated = signing::generate(&self.cipher, &id)?;
        let outcome = self
            .execute_as::<SigningKey>(
                actor.clone(),
                &id,
                Some(0),
                |_| Ok(()),
                SigningKeyCommand::Create {
                    kid: generated.kid.clone(),
                    public_jwk: generated.public_jwk.clone(),
                    sealed_private: generated.sealed_private.clone(),
                },
            )
            .await?;
        for old in unretired.iter().skip(1) {
            self.execute_as::<SigningKey>(
                actor.clone(),
                &old.id,
                None,
                |_| Ok(()),
                SigningKeyCommand::Retire,
            )
            .await?;
        }
        let created_at: DateTime<Utc> = outcome
            .events
            .first()
            .map_or_else(Utc::now, |e| e.recorded_at);
        Ok(SigningKeyRow {
            id,
            kid: generated.kid,
            public_jwk: generated.public_jwk,
            sealed_private: generated.sealed_private,
            created_at,
            retired_at: None,
        })
    }
}

#[cfg(test)]
mod tests;
