//! The data plane's calls to the authorization server's store on the control plane: clients,
//! consents (authorization codes), token grants, revocation, introspection, the public
//! signing keys, and the user assertions of identity forwarding. Every call is bounded by
//! [`OAUTH_CALL_TIMEOUT`].

use std::time::Duration;

use mcpgw_shared::proto::{
    GetClientRequest, IssueCodeRequest, IssuedCode, OAuthClient, RegisterClientRequest,
    SigningKeysRequest, TokenOfClient, TokenRequest, TokenResponse,
};
use mcpgw_shared::proto::{Introspection, RevokeTokenResult, UserAssertion, UserAssertionRequest};

use super::{SyncClient, SyncError};

/// Longest an OAuth call to the control plane may take: a browser or a client waits on it.
pub const OAUTH_CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl SyncClient {
    fn bounded<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = self.request(message);
        request.set_timeout(OAUTH_CALL_TIMEOUT);
        request
    }

    /// Registers a client (RFC 7591).
    pub async fn register_client(
        &self,
        request: RegisterClientRequest,
    ) -> Result<OAuthClient, SyncError> {
        let mut oauth = self.oauth.clone();
        Ok(oauth
            .register_client(self.bounded(request))
            .await?
            .into_inner())
    }

    /// The registered client `client_id`; `Ok(None)` when there is none (or it was revoked).
    pub async fn oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>, SyncError> {
        let mut oauth = self.oauth.clone();
        let request = GetClientRequest {
            client_id: client_id.to_owned(),
        };
        match oauth.get_client(self.bounded(request)).await {
            Ok(answer) => Ok(Some(answer.into_inner())),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(status.into()),
        }
    }

    /// Records a user's consent; returns the authorization code.
    pub async fn issue_code(&self, request: IssueCodeRequest) -> Result<IssuedCode, SyncError> {
        let mut oauth = self.oauth.clone();
        Ok(oauth.issue_code(self.bounded(request)).await?.into_inner())
    }

    /// Grants tokens for a code or a refresh token (a refusal is an answer with `error`).
    pub async fn exchange_token(&self, request: TokenRequest) -> Result<TokenResponse, SyncError> {
        let mut oauth = self.oauth.clone();
        Ok(oauth
            .exchange_token(self.bounded(request))
            .await?
            .into_inner())
    }

    /// Revokes the grant of a token (RFC 7009).
    pub async fn revoke_token(
        &self,
        request: TokenOfClient,
    ) -> Result<RevokeTokenResult, SyncError> {
        let mut oauth = self.oauth.clone();
        Ok(oauth
            .revoke_token(self.bounded(request))
            .await?
            .into_inner())
    }

    /// Describes a token (RFC 7662).
    pub async fn introspect_token(
        &self,
        request: TokenOfClient,
    ) -> Result<Introspection, SyncError> {
        let mut oauth = self.oauth.clone();
        Ok(oauth
            .introspect_token(self.bounded(request))
            .await?
            .into_inner())
    }

    /// The public keys access tokens are signed with (a JWK Set, JSON).
    pub async fn signing_keys(&self) -> Result<String, SyncError> {
        let mut oauth = self.oauth.clone();
        Ok(oauth
            .signing_keys(self.bounded(SigningKeysRequest {}))
            .await?
            .into_inner()
            .json)
    }

    /// A user assertion for identity forwarding, signed by the control plane.
    pub async fn sign_user_assertion(
        &self,
        request: UserAssertionRequest,
    ) -> Result<UserAssertion, SyncError> {
        let mut oauth = self.oauth.clone();
        Ok(oauth
            .sign_user_assertion(self.bounded(request))
            .await?
            .into_inner())
    }
}
