//! The audit log: the event log as the admin may see it.

use super::{Admin, Service, ServiceError};
use crate::store::StoredEvent;

/// Most events one page returns.
pub const MAX_PAGE: i64 = 1000;

impl Service {
    /// Up to `limit` events after `after` that the admin may see, and the head sequence.
    pub async fn audit_log(
        &self,
        admin: &Admin,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<StoredEvent>, i64), ServiceError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let head = self.db().head().await?;
        let scope = admin.scope();
        let events = self
            .db()
            .read_log(after.max(0), limit, scope.as_deref())
            .await?;
        Ok((events, head))
    }
}
