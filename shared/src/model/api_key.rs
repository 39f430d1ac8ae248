//! API keys as both planes see them (never the key itself, only the hash of its secret).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ApiKeyId, WorkspaceId};

/// Whether a key belongs to a service or to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// A machine identity; the principal is the key itself.
    Service,
    /// A person's key; the principal is the user id.
    User,
}

impl KeyType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::User => "user",
        }
    }
}

/// A key type name that does not exist.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown key type `{0}`: use `service` or `user`")]
pub struct UnknownKeyType(String);

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "service" => Ok(Self::Service),
            "user" => Ok(Self::User),
            other => Err(UnknownKeyType(other.chars().take(64).collect())),
        }
    }
}

/// Whether a key can be used at a given time: the one rule both planes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Usable.
    Active,
    /// Revoked by an admin.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl KeyState {
    /// The state of a key that is `revoked` or not and expires at `expires_at`, at `now`.
    pub fn at(revoked: bool, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        if revoked {
            Self::Revoked
        } else if expires_at.is_some_and(|at| now >= at) {
            Self::Expired
        } else {
            Self::Active
        }
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Permission {
    /// Call MCP servers through the data plane.
    McpInvoke,
    /// Use the admin API (globally, or within the key's workspace).
    Admin,
}

/// A permission name that does not exist.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown permission `{0}`: use `mcp.invoke` or `admin`")]
pub struct UnknownPermission(String);

impl Permission {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::McpInvoke => "mcp.invoke",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mcp.invoke" => Ok(Self::McpInvoke),
            "admin" => Ok(Self::Admin),
            other => Err(UnknownPermission(other.chars().take(64).collect())),
        }
    }
}

impl TryFrom<String> for Permission {
    type Error = UnknownPermission;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Permission> for String {
    fn from(value: Permission) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key's record: everything needed to authenticate and authorize it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (the `<id>` in `mcpgw_<id>_<secret>`).
    pub id: ApiKeyId,
    /// The workspace it belongs to; `None` for a global (admin) key.
    pub workspace_id: Option<WorkspaceId>,
    /// Display name.
    pub name: String,
    /// Service or user.
    pub key_type: KeyType,
    /// The user of a user key.
    pub user_id: Option<String>,
    /// Granted permissions.
    pub permissions: Vec<Permission>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// SHA-256 of the secret part.
    pub secret_hash: [u8; 32],
}

impl ApiKeyRecord {
    /// Whether the key may be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.state(now) == KeyState::Active
    }

    /// The key's state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        KeyState::at(self.revoked, self.expires_at, now)
    }

    /// Whether the key holds `permission`.
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("key_type", &self.key_type)
            .field("permissions", &self.permissions)
            .field("expires_at", &self.expires_at)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}
