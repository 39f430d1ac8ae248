//! Persistence: the event log and the read models (projections), on PostgreSQL or SQLite
//! through one set of queries. All SQL of the control plane lives under this module; the
//! schema lives in `migrations/{postgres,sqlite}`.

mod database;
mod error;
mod event_log;
mod outbox_cursor;
mod projections;
pub mod read_models;
pub mod request_log;
mod sqlite_file;

pub use database::{Database, Dialect};
pub use error::{StoreError, Taken};
pub use event_log::{AppendRequest, StoredEvent};
pub use read_models::{
    ApiKeyRow, ConnectionRow, DataPlaneInstanceRow, DataPlaneRow, DataPlaneTokenRow,
    OAuthClientRow, OAuthGrantRow, ServerRow, SigningKeyRow, WorkspaceRow,
};

use chrono::{DateTime, SecondsFormat, Utc};

/// The one text format of timestamps in the database: RFC 3339, UTC, microseconds. Sorts
/// lexically in time order.
pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a timestamp written by [`format_time`].
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp `{text}`: {e}")))
}
