//! What an update changed, announced to subscribers (the enforcement registry of each pod).

use std::sync::Arc;

use mcpgw_shared::model::{ApiKeyRecord, ServerConfig};
use mcpgw_shared::{ApiKeyId, ServerId, WorkspaceId};

use super::view::Workspace;

/// One entity's state before and after an update; `None` where it did not exist.
#[derive(Debug, Clone)]
pub enum Change {
    /// A workspace was added, changed or removed.
    Workspace {
        /// Its id.
        id: WorkspaceId,
        /// Before the update.
        before: Option<Arc<Workspace>>,
        /// After the update.
        after: Option<Arc<Workspace>>,
    },
    /// A server was added, changed or removed.
    Server {
        /// Its id.
        id: ServerId,
        /// Before the update.
        before: Option<Arc<ServerConfig>>,
        /// After the update.
        after: Option<Arc<ServerConfig>>,
    },
    /// An API key was added, changed or removed.
    ApiKey {
        /// Its id.
        id: ApiKeyId,
        /// Before the update.
        before: Option<Arc<ApiKeyRecord>>,
        /// After the update.
        after: Option<Arc<ApiKeyRecord>>,
    },
}

impl Change {
    /// For a server: whether its upstream connections and sealed sessions are now invalid
    /// (removed, or its URL, auth or enabled flag changed, which bumps `connection_version`).
    pub fn invalidates_connections(&self) -> bool {
        match self {
            Self::Server {
                before: Some(before),
                after,
                ..
            } => after
                .as_ref()
                .is_none_or(|after| after.connection_version != before.connection_version),
            _ => false,
        }
    }

    /// For a server that still exists: whether its tool filter changed.
    pub fn changes_tools(&self) -> bool {
        match self {
            Self::Server {
                before: Some(before),
                after: Some(after),
                ..
            } => before.tools != after.tools,
            _ => false,
        }
    }

    /// For an API key: whether it can no longer be used (removed, revoked, or lost `mcp.invoke`
    /// or its workspace changed).
    pub fn withdraws_key(&self) -> bool {
        match self {
            Self::ApiKey {
                before: Some(before),
                after,
                ..
            } => after.as_ref().is_none_or(|after| {
                after.revoked
                    || after.permissions != before.permissions
                    || after.workspace_id != before.workspace_id
                    || after.expires_at != before.expires_at
            }),
            _ => false,
        }
    }
}

/// Everything one update changed, in the order it was applied.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    /// The applied sequence after this update.
    pub seq: i64,
    /// Whether this update replaced the whole configuration (a snapshot).
    pub replaced: bool,
    /// The entities that changed (entities whose state did not change are left out).
    pub changes: Vec<Change>,
}
