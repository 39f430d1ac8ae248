//! The caller's credential: an API key in `Authorization: Bearer` or `x-mcpgw-api-key`, looked
//! up by its id among every key the pod holds, its secret verified in constant time. A key the
//! pod has never heard of is "not valid"; a known key that was revoked or expired is told so.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use mcpgw_shared::bearer::bearer_token;
use mcpgw_shared::model::KeyType;
use mcpgw_shared::{ApiKeyId, Credential, CredentialKind, OAuthGrantId};

use super::scope::Scopes;
use crate::access::{self, Denial};
use crate::errors::GatewayError;
use crate::snapshot::{Config, KeyRecord};

/// The header that may carry the key instead of `Authorization`.
pub const API_KEY_HEADER: &str = "x-mcpgw-api-key";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's id.
    pub key_id: ApiKeyId,
    /// The key's record (for a bearer JWT of the workspace's identity provider, one made for
    /// its user).
    pub key: KeyRecord,
    /// Whether it was named by an external JWT, not an API key the configuration holds.
    pub external: bool,
    /// The scopes of the gateway's own OAuth access token it presented; `None` for API keys
    /// and external JWTs, which scopes do not limit.
    pub scopes: Option<Scopes>,
    /// The client the gateway's own access token was issued to (for identity forwarding).
    pub client_id: Option<Arc<str>>,
    /// That token's scopes as granted, space-separated (for identity forwarding).
    pub scope: Option<Arc<str>>,
    /// That token's grant: revoking it closes the caller's streams.
    pub grant: Option<OAuthGrantId>,
}

impl Principal {
    /// The stable identity sessions are bound to: the workspace and the key for a service key,
    /// the workspace and the user for a user key (so a user's rotated key keeps their sessions,
    /// and the same user name in another workspace does not).
    pub fn session_key(&self) -> String {
        let workspace = self
            .key
            .workspace
            .map(|w| w.to_string())
            .unwrap_or_default();
        match (self.key.key_type, &self.key.user) {
            (KeyType::User, Some(user)) => format!("u:{workspace}:{user}"),
            _ => format!("k:{workspace}:{}", self.key_id),
        }
    }
}

/// The credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// None was presented.
    #[error("no credential was presented")]
    Missing,
    /// Malformed, unknown, or the secret is wrong (not told apart, on purpose).
    #[error("the credential is not valid")]
    Invalid,
    /// A known key that was revoked.
    #[error("the API key was revoked")]
    Revoked,
    /// A known key past its expiry.
    #[error("the API key has expired")]
    Expired,
}

impl From<CredentialError> for GatewayError {
    fn from(error: CredentialError) -> Self {
        match error {
            CredentialError::Missing => Self::MissingCredential,
            CredentialError::Invalid => Self::InvalidCredential,
            CredentialError::Revoked => Self::Revoked,
            CredentialError::Expired => Self::Expired,
        }
    }
}

pub(crate) fn presented(headers: &HeaderMap) -> Result<&str, CredentialError> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| CredentialError::Invalid)?;
        return bearer_token(text).ok_or(CredentialError::Invalid);
    }
    match headers.get(API_KEY_HEADER) {
        Some(value) => value
            .to_str()
            .map(str::trim)
            .map_err(|_| CredentialError::Invalid),
        None => Err(CredentialError::Missing),
    }
}

/// Authenticates the API key in `headers` against `config`: it must be known, verify, and be
/// usable at `now` (not revoked, not expired).
pub fn authenticate(
    config: &Config,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Principal, CredentialError> {
    let principal = identify(config, headers)?;
    principal.usable_at(now)?;
    Ok(principal)
}

/// The key in `headers`, if `config` knows it and its secret verifies, whether or not it may
/// still be used (a refusal for a revoked key can then name the key).
pub fn identify(config: &Config, headers: &HeaderMap) -> Result<Principal, CredentialError> {
    let credential = Credential::parse(CredentialKind::ApiKey, presented(headers)?)
        .map_err(|_| CredentialError::Invalid)?;
    let key = config
        .api_key(credential.id())
        .ok_or(CredentialError::Invalid)?;
    if !credential.verify(&key.secret_hash) {
        return Err(CredentialError::Invalid);
    }
    Ok(Principal {
        key_id: *credential.id(),
        key: key.clone(),
        external: false,
        scopes: None,
        client_id: None,
        scope: None,
        grant: None,
    })
}

impl Principal {
    /// Whether the key may be used at `now`: not revoked, not expired.
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<(), CredentialError> {
        match access::key_usable(&self.key, now) {
            Ok(()) => Ok(()),
            Err(Denial::Revoked) => Err(CredentialError::Revoked),
            Err(_) => Err(CredentialError::Expired),
        }
    }

    /// The refusal of this caller for `error`. A bearer token past its expiry (its
    /// verification's clock tolerance let it through) is an expired token, told so as the
    /// token check tells it, not an expired API key.
    pub fn refusal(&self, error: CredentialError) -> GatewayError {
        match error {
            CredentialError::Expired if self.grant.is_some() => GatewayError::InvalidToken(
                "it has expired: refresh it at the token endpoint".into(),
            ),
            CredentialError::Expired if self.external => GatewayError::InvalidToken(
                "it has expired: get a new one from the identity provider".into(),
            ),
            error => error.into(),
        }
    }
}

#[cfg(test)]
mod tests;
