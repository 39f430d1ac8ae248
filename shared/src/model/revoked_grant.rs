//! A revoked grant of the gateway's authorization server, as data planes hold it: the access
//! tokens issued under it are refused on every pod at once, not when they expire.

use chrono::{DateTime, Utc};

use crate::ids::{OAuthGrantId, WorkspaceId};

/// One revoked grant whose access tokens may still be unexpired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedGrant {
    /// The grant (the access tokens' `mcpgw_grant` claim).
    pub id: OAuthGrantId,
    /// The workspace its user signed in to.
    pub workspace_id: WorkspaceId,
    /// Until when tokens issued under it may be unexpired: after that it can be forgotten.
    pub live_until: DateTime<Utc>,
}

impl RevokedGrant {
    /// Whether tokens issued under it may still be unexpired at `now`.
    pub fn matters_at(&self, now: DateTime<Utc>) -> bool {
        self.live_until > now
    }
}
