//! The compact record a data plane keeps for every API key of its workspaces, usable or not,
//! so each key gets the right answer: a missing permission is named, a revoked or expired key
//! is told so, and only a key the pod has never heard of is "not valid".

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{InvalidMessage, KeyState, KeyType, Permission};
use mcpgw_shared::proto;
use mcpgw_shared::{ApiKeyId, WorkspaceId};

/// What a key may do, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions(u8);

impl Permissions {
    fn bit(permission: Permission) -> u8 {
        match permission {
            Permission::McpInvoke => 1,
            Permission::Admin => 2,
        }
    }

    /// Whether `permission` is granted.
    pub fn has(self, permission: Permission) -> bool {
        self.0 & Self::bit(permission) != 0
    }

    /// The granted permissions.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        [Permission::McpInvoke, Permission::Admin]
            .into_iter()
            .filter(move |p| self.has(*p))
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |bits, p| bits | Self::bit(p)))
    }
}

/// One key: everything needed to authenticate it and decide what it may reach.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// SHA-256 of the key's secret part.
    pub secret_hash: [u8; 32],
    /// Its workspace; `None` for a global (admin) key.
    pub workspace: Option<WorkspaceId>,
    /// The user of a user key.
    pub user: Option<Arc<str>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// What it may do.
    pub permissions: Permissions,
    /// Service or user.
    pub key_type: KeyType,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl KeyRecord {
    /// Whether the key can be used at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        KeyState::at(self.revoked, self.expires_at, now)
    }

    /// Reads a key from a config-sync message. Permissions this build does not know are left
    /// out (a newer control plane may grant more than a data plane uses).
    pub fn from_message(key: proto::ApiKey) -> Result<(ApiKeyId, Self), InvalidMessage> {
        let invalid = |field, reason: String| InvalidMessage { field, reason };
        let id = key
            .id
            .parse()
            .map_err(|e: mcpgw_shared::ids::InvalidId| invalid("api_key.id", e.to_string()))?;
        let workspace = match key.workspace_id.as_str() {
            "" => None,
            ws => Some(ws.parse().map_err(|e: mcpgw_shared::ids::InvalidId| {
                invalid("api_key.workspace_id", e.to_string())
            })?),
        };
        let key_type = key
            .key_type
            .parse::<KeyType>()
            .map_err(|e| invalid("api_key.key_type", e.to_string()))?;
        let expires_at = match key.expires_at_ms {
            0 => None,
            ms => Some(
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| invalid("api_key.expires_at_ms", "out of range".into()))?,
            ),
        };
        let secret_hash = key
            .secret_sha256
            .try_into()
            .map_err(|_| invalid("api_key.secret_sha256", "not 32 bytes".into()))?;
        Ok((
            id,
            Self {
                secret_hash,
                workspace,
                user: Some(key.user_id).filter(|u| !u.is_empty()).map(Arc::from),
                expires_at,
                permissions: key
                    .permissions
                    .iter()
                    .filter_map(|p| p.parse().ok())
                    .collect(),
                key_type,
                revoked: key.revoked,
            },
        ))
    }

    /// The key as a config-sync message (for the last-known-good file; the display name is
    /// not kept).
    pub fn to_message(&self, id: &ApiKeyId) -> proto::ApiKey {
        proto::ApiKey {
            id: id.to_string(),
            workspace_id: self.workspace.map(|w| w.to_string()).unwrap_or_default(),
            name: String::new(),
            key_type: self.key_type.as_str().to_owned(),
            user_id: self.user.as_deref().unwrap_or_default().to_owned(),
            permissions: self.permissions.iter().map(|p| p.to_string()).collect(),
            expires_at_ms: self.expires_at.map_or(0, |at| at.timestamp_millis()),
            revoked: self.revoked,
            secret_sha256: self.secret_hash.to_vec(),
        }
    }
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("workspace", &self.workspace)
            .field("key_type", &self.key_type)
            .field("permissions", &self.permissions)
            .field("expires_at", &self.expires_at)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}
