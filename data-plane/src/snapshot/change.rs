//! What an update changed, announced to subscribers (the enforcement of each pod). A change
//! names the entity and what kind of change it was, never the entity's state: change sets stay
//! in the broadcast channel's buffer until overwritten, and must not pin copies of the
//! configuration there.

use mcpgw_shared::model::ToolFilter;
use mcpgw_shared::{ApiKeyId, ConnectionId, OAuthGrantId, ServerId, WorkspaceId};

use super::key::KeyRecord;
use super::route::Route;
use super::view::Workspace;

/// One entity that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A workspace was added, changed or removed.
    Workspace {
        /// Its id.
        id: WorkspaceId,
        /// Whether its tool policy, or the tools its grants allow, changed.
        tools: bool,
    },
    /// A server was added, changed or removed.
    Server {
        /// Its id.
        id: ServerId,
        /// How.
        how: ServerChange,
    },
    /// An API key was added, changed or removed.
    ApiKey {
        /// Its id.
        id: ApiKeyId,
        /// Whether it is gone.
        removed: bool,
        /// Whether it is revoked now.
        revoked: bool,
    },
    /// A user's connection to a per-user OAuth server was stored (signed in, refreshed) or
    /// ended.
    Connection {
        /// Its id.
        id: ConnectionId,
        /// Whether it is gone (the user must sign in again).
        removed: bool,
    },
    /// A grant of the gateway's authorization server was revoked: the access tokens issued
    /// under it are refused (or, not `revoked`, its tokens have all expired and it was
    /// forgotten).
    OAuthGrant {
        /// Its id.
        id: OAuthGrantId,
        /// Whether it is refused now.
        revoked: bool,
    },
}

/// How a server changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerChange {
    /// It did not exist before.
    pub added: bool,
    /// It does not exist after.
    pub removed: bool,
    /// Its tool policy, or a virtual server's members, changed (it exists before and after).
    pub tools: bool,
    /// Its connection version changed (URL, auth or enabled flag).
    pub connection: bool,
}

impl Change {
    /// The change of server `id` from `before` to `after`.
    pub(crate) fn server(id: ServerId, before: Option<&Route>, after: Option<&Route>) -> Self {
        let how = ServerChange {
            added: before.is_none(),
            removed: after.is_none(),
            tools: matches!(
                (before, after),
                (Some(b), Some(a)) if b.tools != a.tools || b.members() != a.members()
            ),
            connection: matches!(
                (before, after),
                (Some(b), Some(a)) if b.connection_version() != a.connection_version()
            ),
        };
        Self::Server { id, how }
    }

    /// The change of workspace `id` from `before` to `after`.
    pub(crate) fn workspace(
        id: WorkspaceId,
        before: Option<&Workspace>,
        after: Option<&Workspace>,
    ) -> Self {
        // Grants limit tools too: a change of them changes what some keys see.
        fn tools(w: Option<&Workspace>) -> Option<(&ToolFilter, Vec<&ToolFilter>)> {
            w.map(|w| {
                let granted = w.grants.values().map(|g| &g.source().tools).collect();
                (w.tools.source(), granted)
            })
        }
        Self::Workspace {
            id,
            tools: tools(before) != tools(after),
        }
    }

    /// The change of key `id` to `after`.
    pub(crate) fn api_key(id: ApiKeyId, after: Option<&KeyRecord>) -> Self {
        Self::ApiKey {
            id,
            removed: after.is_none(),
            revoked: after.is_some_and(|k| k.revoked),
        }
    }

    /// For a server that still exists: whether its tool policy changed.
    pub fn changes_tools(&self) -> bool {
        matches!(self, Self::Server { how, .. } if how.tools)
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
