//! API-key authentication and authorization of a request for one server.

use std::sync::Arc;

use chrono::Utc;
use http::HeaderMap;
use mcpgw_shared::bearer::bearer_token;
use mcpgw_shared::model::{ApiKeyRecord, KeyType, Permission, ServerConfig};
use mcpgw_shared::{Credential, CredentialKind};

use crate::relay::errors::GatewayError;
use crate::snapshot::Config;

/// The header that may carry the key instead of `Authorization`.
pub const API_KEY_HEADER: &str = "x-mcpgw-api-key";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key it presented.
    pub key: Arc<ApiKeyRecord>,
}

impl Principal {
    /// The stable identity sessions are bound to: the key for a service key, the user for a
    /// user key (so a user's rotated key keeps their sessions).
    pub fn session_key(&self) -> String {
        match (&self.key.key_type, &self.key.user_id) {
            (KeyType::User, Some(user)) => format!("u:{user}"),
            _ => format!("k:{}", self.key.id),
        }
    }
}

fn presented(headers: &HeaderMap) -> Result<&str, GatewayError> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| GatewayError::InvalidCredential)?;
        return bearer_token(text).ok_or(GatewayError::InvalidCredential);
    }
    match headers.get(API_KEY_HEADER) {
        Some(value) => value
            .to_str()
            .map(str::trim)
            .map_err(|_| GatewayError::InvalidCredential),
        None => Err(GatewayError::MissingCredential),
    }
}

/// Authenticates the API key in `headers` against `config`: it must exist, verify in constant
/// time, and be neither revoked nor expired.
pub fn authenticate(config: &Config, headers: &HeaderMap) -> Result<Principal, GatewayError> {
    let text = presented(headers)?;
    let credential = Credential::parse(CredentialKind::ApiKey, text)
        .map_err(|_| GatewayError::InvalidCredential)?;
    let key = config
        .api_key(credential.id())
        .ok_or(GatewayError::InvalidCredential)?;
    if !credential.verify(&key.secret_hash) {
        return Err(GatewayError::InvalidCredential);
    }
    if key.revoked {
        return Err(GatewayError::Revoked);
    }
    if !key.is_active(Utc::now()) {
        return Err(GatewayError::Expired);
    }
    Ok(Principal { key: key.clone() })
}

/// Whether `principal` may use `server`: it holds `mcp.invoke`, the server is enabled, and the
/// server serves the key's workspace (a key bound to no workspace may use any server).
pub fn authorize(principal: &Principal, server: &ServerConfig) -> Result<(), GatewayError> {
    if !principal.key.has(Permission::McpInvoke) {
        return Err(GatewayError::MissingPermission);
    }
    if let Some(workspace) = &principal.key.workspace_id
        && !server.serves(workspace)
    {
        return Err(GatewayError::NotProvisioned(server.slug.to_string()));
    }
    if !server.enabled {
        return Err(GatewayError::ServerDisabled(server.slug.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
