//! The request log as admins read it: records sent by data planes, stored, listed with filters
//! and a cursor, followed live, and one record with the diagnosis of what went wrong.

mod diagnosis;

use std::sync::Arc;

use mcpgw_shared::DataPlaneId;
use mcpgw_shared::request_log::RequestRecord;
use tokio::sync::broadcast;

pub use diagnosis::{ConfigApplied, Diagnosis, RequestDiagnosis};

use super::{Caller, Service, ServiceError};
use crate::store::request_log::{RequestFilter, StoredRequest};

/// Most records one page returns.
pub const MAX_PAGE: i64 = 1000;

/// Records a slow live-tail reader may fall behind by before it misses some.
pub const TAIL_BUFFER: usize = 4096;

/// One page of records, newest first.
#[derive(Debug, Clone)]
pub struct RequestPage {
    /// The records.
    pub records: Vec<StoredRequest>,
    /// Where the next (older) page starts, when there may be one.
    pub next_cursor: Option<String>,
}

/// Live records, as they arrive from data planes.
pub type RequestTail = broadcast::Receiver<Arc<StoredRequest>>;

impl Service {
    /// Stores records that `data_plane` sent and hands them to live tails.
    pub async fn ingest_requests(
        &self,
        data_plane: DataPlaneId,
        records: Vec<RequestRecord>,
    ) -> Result<(), ServiceError> {
        let records: Vec<RequestRecord> = records.into_iter().map(RequestRecord::bounded).collect();
        self.db.insert_requests(data_plane, &records).await?;
        for record in records {
            // No live tail is not an error.
            let _ = self.requests_tail.send(Arc::new(StoredRequest {
                data_plane_id: data_plane,
                record,
            }));
        }
        Ok(())
    }

    /// A page of the records the caller may see (a workspace admin: its workspace's).
    pub async fn requests(
        &self,
        caller: &Caller,
        mut filter: RequestFilter,
        limit: i64,
    ) -> Result<RequestPage, ServiceError> {
        restrict(caller, &mut filter);
        let limit = limit.clamp(1, MAX_PAGE);
        let records = self.db.requests(&filter, limit).await?;
        let next_cursor = (records.len() as i64 == limit)
            .then(|| records.last().map(|r| r.record.request_id.clone()))
            .flatten();
        Ok(RequestPage {
            records,
            next_cursor,
        })
    }

    /// Records as they arrive, and the filter (narrowed to what the caller may see) that a
    /// reader must apply to them.
    pub fn tail_requests(
        &self,
        caller: &Caller,
        mut filter: RequestFilter,
    ) -> (RequestTail, RequestFilter) {
        restrict(caller, &mut filter);
        filter.before = None;
        (self.requests_tail.subscribe(), filter)
    }

    /// Deletes records older than `before`, then all but the newest `keep`.
    pub async fn prune_requests(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        keep: u64,
    ) -> Result<u64, ServiceError> {
        Ok(self.db.prune_requests(before, keep).await?)
    }

    /// One record with the diagnosis of its outcome; not found when the caller may not see it.
    pub async fn request(
        &self,
        caller: &Caller,
        request_id: &str,
    ) -> Result<RequestDiagnosis, ServiceError> {
        let mut visible = RequestFilter::default();
        restrict(caller, &mut visible);
        let stored = self
            .db
            .request(request_id)
            .await?
            .filter(|stored| visible.matches(stored))
            .ok_or_else(|| ServiceError::not_found("request", request_id))?;
        self.diagnose_request(caller, stored).await
    }
}

/// Narrows `filter` to the workspace of a workspace admin.
fn restrict(caller: &Caller, filter: &mut RequestFilter) {
    if let Some([workspace]) = caller.scope() {
        filter.workspaces = Some(vec![workspace]);
    }
}
