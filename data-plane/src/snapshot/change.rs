//! What an update changed, announced to subscribers (the enforcement registry of each pod).

use std::sync::Arc;

use mcpgw_shared::{ApiKeyId, ServerId, WorkspaceId};

use super::key::KeyRecord;
use super::route::Route;
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
        before: Option<Arc<Route>>,
        /// After the update.
        after: Option<Arc<Route>>,
    },
    /// An API key was added, changed or removed.
    ApiKey {
        /// Its id.
        id: ApiKeyId,
        /// Before the update.
        before: Option<KeyRecord>,
        /// After the update.
        after: Option<KeyRecord>,
    },
}

impl Change {
    /// For a server that still exists: whether its tool policy changed.
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
