//! The one access rule: whether a key may use a server now. Request admission asks it before
//! anything reaches an upstream, and the enforcement sweep asks it of every open stream after
//! every change, so what a new request is refused, an open stream loses.

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{KeyState, KeyType, Permission, UpstreamAuth};

use mcpgw_shared::ApiKeyId;

use crate::snapshot::{Config, KeyRecord, Owner, Route};

/// Why a key may not use a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The key was revoked.
    #[error("the key was revoked")]
    Revoked,
    /// The key is past its expiry.
    #[error("the key has expired")]
    Expired,
    /// The key lacks a permission.
    #[error("the key lacks the `{0}` permission")]
    MissingPermission(Permission),
    /// The server does not serve the key's workspace.
    #[error("the server is not provisioned to the key's workspace")]
    NotProvisioned,
    /// The server is disabled.
    #[error("the server is disabled")]
    Disabled,
    /// The server signs each user in to its upstream (per-user OAuth), and the key is not a
    /// user's.
    #[error("the server needs a user's key")]
    UserRequired,
    /// The grants of the key, or of its user, do not list the server.
    #[error("the server is not among the servers {} allow", .0.describe_grants())]
    NotGranted(Owner),
}

/// Whether the key itself can be used at `now` (the part of the rule that needs no server).
pub fn key_usable(key: &KeyRecord, now: DateTime<Utc>) -> Result<(), Denial> {
    match key.state(now) {
        KeyState::Active => Ok(()),
        KeyState::Revoked => Err(Denial::Revoked),
        KeyState::Expired => Err(Denial::Expired),
    }
}

/// Whether `key` may use `route` at `now`: it is usable, holds `mcp.invoke`, belongs to a
/// workspace the server serves, the server is enabled, and a server that signs each user in
/// to its upstream is used with a user's key.
pub fn check(key: &KeyRecord, route: &Route, now: DateTime<Utc>) -> Result<(), Denial> {
    key_usable(key, now)?;
    if !key.permissions.has(Permission::McpInvoke) {
        return Err(Denial::MissingPermission(Permission::McpInvoke));
    }
    if !key.workspace.is_some_and(|w| route.serves(&w)) {
        return Err(Denial::NotProvisioned);
    }
    if !route.enabled() {
        return Err(Denial::Disabled);
    }
    if matches!(route.server.auth, UpstreamAuth::Oauth2 { .. }) && key.key_type != KeyType::User {
        return Err(Denial::UserRequired);
    }
    Ok(())
}

/// Whether the grants of key `key_id` and of its user (in its workspace) let it use `route`.
pub fn granted(
    config: &Config,
    key_id: &ApiKeyId,
    key: &KeyRecord,
    route: &Route,
) -> Result<(), Denial> {
    let Some(workspace) = key.workspace.and_then(|w| config.workspace(&w)) else {
        return Ok(());
    };
    if workspace.grants.is_empty() {
        return Ok(());
    }
    let [by_key, by_user] = workspace.grants_of(&key_id.to_string(), key.user.as_deref());
    for (owner, grant) in [(Owner::Key, by_key), (Owner::User, by_user)] {
        if grant.is_some_and(|g| !g.allows_server(route.slug().as_str())) {
            return Err(Denial::NotGranted(owner));
        }
    }
    Ok(())
}

/// The whole rule: [`check`], then [`granted`].
pub fn allows(
    config: &Config,
    key_id: &ApiKeyId,
    key: &KeyRecord,
    route: &Route,
    now: DateTime<Utc>,
) -> Result<(), Denial> {
    check(key, route, now)?;
    granted(config, key_id, key, route)
}

#[cfg(test)]
mod tests;
