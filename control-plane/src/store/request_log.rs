//! The request log's table: records in, filtered pages out, old records pruned.

use chrono::{DateTime, Utc};
use mcpgw_shared::request_log::RequestRecord;
use mcpgw_shared::{DataPlaneId, WorkspaceId};
use sqlx::Row;

use super::event_log::placeholders;
use super::{Database, StoreError, format_time};

/// A stored record and the data plane that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRequest {
    /// The data plane that answered the request.
    pub data_plane_id: DataPlaneId,
    /// The record.
    pub record: RequestRecord,
}

/// Which records a query returns; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Only these workspaces (`None`: all).
    pub workspaces: Option<Vec<WorkspaceId>>,
    /// A server's id or slug.
    pub server: Option<String>,
    /// An API key's id.
    pub key_id: Option<String>,
    /// A user.
    pub user: Option<String>,
    /// A tool, prompt or resource.
    pub target: Option<String>,
    /// An HTTP status, or a class: `statuses.0 <= status <= statuses.1`.
    pub statuses: Option<(u16, u16)>,
    /// A gateway reason.
    pub reason: Option<String>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only requests older than this request id (the cursor).
    pub before: Option<String>,
}

impl RequestFilter {
    /// Whether `stored` passes the filter (for the live tail, which filters in memory).
    pub fn matches(&self, stored: &StoredRequest) -> bool {
        let r = &stored.record;
        let eq = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|want| Some(want) == got)
        };
        self.workspaces
            .as_ref()
            .is_none_or(|ws| r.workspace_id.is_some_and(|w| ws.contains(&w)))
            && self.server.as_deref().is_none_or(|s| {
                r.server.as_deref() == Some(s) || r.server_id.is_some_and(|id| id.to_string() == s)
            })
            && eq(&self.key_id, r.key_id.as_deref())
            && eq(&self.user, r.user.as_deref())
            && eq(&self.target, r.target.as_deref())
            && self
                .statuses
                .is_none_or(|(low, high)| (low..=high).contains(&r.status))
            && eq(&self.reason, r.reason.as_deref())
            && self.since.is_none_or(|t| r.time >= t)
            && self.until.is_none_or(|t| r.time < t)
            && self
                .before
                .as_deref()
                .is_none_or(|b| r.request_id.as_str() < b)
    }
}

/// The `WHERE` conditions of a dynamic query and their bound values, numbered `$1`, `$2`… in
/// order.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    binds: Vec<Bind>,
}

/// A bound value of a dynamic query.
enum Bind {
    Text(String),
    Int(i64),
}

impl Conditions {
    /// Adds `template`, every `?` in it standing for `bind`.
    fn push(&mut self, template: &str, bind: Bind) {
        self.binds.push(bind);
        let n = self.binds.len();
        self.sql.push(template.replace('?', &format!("${n}")));
    }

    /// Adds `column IN (values)`.
    fn push_in(&mut self, column: &str, values: impl IntoIterator<Item = String>) {
        let first = self.binds.len() + 1;
        self.binds.extend(values.into_iter().map(Bind::Text));
        let list = placeholders(first, self.binds.len() + 1 - first);
        self.sql.push(format!("{column} IN ({list})"));
    }

    fn clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.sql.join(" AND "))
        }
    }
}

impl Database {
    /// Stores `records` from `data_plane`; a record whose request id is stored already (a
    /// batch sent twice, or received by two control-plane replicas) is skipped.
    pub async fn insert_requests(
        &self,
        data_plane: DataPlaneId,
        records: &[RequestRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for r in records {
            sqlx::query(
                "INSERT INTO request_log (request_id, time, data_plane_id, workspace_id, server_id, \
                 server, key_id, user_name, method, target, status, reason, record) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(&r.request_id)
            .bind(format_time(r.time))
            .bind(data_plane.to_string())
            .bind(r.workspace_id.map(|w| w.to_string()))
            .bind(r.server_id.map(|s| s.to_string()))
            .bind(r.server.as_deref())
            .bind(r.key_id.as_deref())
            .bind(r.user.as_deref())
            .bind(r.method.as_deref())
            .bind(r.target.as_deref())
            .bind(i64::from(r.status))
            .bind(r.reason.as_deref())
            .bind(serde_json::to_string(r)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` (1 to 1000) records passing `filter`, newest first.
    pub async fn requests(
        &self,
        filter: &RequestFilter,
        limit: i64,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let mut conditions = Conditions::default();
        if let Some(workspaces) = &filter.workspaces {
            if workspaces.is_empty() {
                return Ok(vec![]);
            }
            conditions.push_in("workspace_id", workspaces.iter().map(ToString::to_string));
        }
        if let Some(server) = &filter.server {
            conditions.push("(server = ? OR server_id = ?)", Bind::Text(server.clone()));
        }
        for (column, value) in [
            ("key_id", &filter.key_id),
            ("user_name", &filter.user),
            ("target", &filter.target),
            ("reason", &filter.reason),
        ] {
            if let Some(value) = value {
                conditions.push(&format!("{column} = ?"), Bind::Text(value.clone()));
            }
        }
        if let Some((low, high)) = filter.statuses {
            conditions.push("status >= ?", Bind::Int(i64::from(low)));
            conditions.push("status <= ?", Bind::Int(i64::from(high)));
        }
        if let Some(since) = filter.since {
            conditions.push("time >= ?", Bind::Text(format_time(since)));
        }
        if let Some(until) = filter.until {
            conditions.push("time < ?", Bind::Text(format_time(until)));
        }
        if let Some(before) = &filter.before {
            conditions.push("request_id < ?", Bind::Text(before.clone()));
        }
        let sql = format!(
            "SELECT data_plane_id, record FROM request_log {} ORDER BY request_id DESC LIMIT {}",
            conditions.clause(),
            limit.clamp(1, 1000)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in conditions.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Int(int) => query.bind(int),
            };
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    /// One record by its request id.
    pub async fn request(&self, request_id: &str) -> Result<Option<StoredRequest>, StoreError> {
        sqlx::query("SELECT data_plane_id, record FROM request_log WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    /// Deletes records older than `before`, then all but the newest `keep`; returns how many
    /// were deleted.
    pub async fn prune_requests(
        &self,
        before: DateTime<Utc>,
        keep: u64,
    ) -> Result<u64, StoreError> {
        let aged = sqlx::query("DELETE FROM request_log WHERE time < $1")
            .bind(format_time(before))
            .execute(self.pool())
            .await?
            .rows_affected();
        let surplus = sqlx::query(
            "DELETE FROM request_log WHERE request_id < (SELECT request_id FROM request_log \
             ORDER BY request_id DESC LIMIT 1 OFFSET $1)",
        )
        .bind(i64::try_from(keep.saturating_sub(1)).unwrap_or(i64::MAX))
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(aged + surplus)
    }
}

fn decode(row: &sqlx::any::AnyRow) -> Result<StoredRequest, StoreError> {
    let data_plane: String = row.try_get(0)?;
    let record: String = row.try_get(1)?;
    Ok(StoredRequest {
        data_plane_id: data_plane
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bad data-plane id `{data_plane}`")))?,
        record: serde_json::from_str(&record)?,
    })
}
