//! Users' connections to per-user OAuth servers: the tokens the gateway holds for one user at
//! one upstream, sealed with a key that only data planes hold.

use crate::ids::{ConnectionId, ServerId};

/// One user's connection to one server, as both planes hold it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// `ConnectionId::of(server_id, user_id)`.
    pub id: ConnectionId,
    /// The per-user OAuth server.
    pub server_id: ServerId,
    /// The user the tokens belong to.
    pub user_id: String,
    /// The stream version; a write must name it (compare-and-swap).
    pub version: i64,
    /// The tokens, sealed with `MCPGW_TOKEN_KEY`: opaque to the control plane.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRecord")
            .field("id", &self.id)
            .field("server_id", &self.server_id)
            .field("user_id", &self.user_id)
            .field("version", &self.version)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}
