//! The append-only event log: optimistic appends with a gapless, commit-ordered global
//! sequence, and reads of streams and of the log.

use chrono::{DateTime, Utc};
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{StreamId, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Database, Dialect, StoreError, format_time, parse_time, projections};
use crate::domain::DomainEvent;

/// Events to append to one stream in one transaction.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The stream.
    pub stream: StreamId,
    /// The stream version the decision was made against (0 for a new stream).
    pub expected_version: i64,
    /// The decided events, in order.
    pub events: Vec<DomainEvent>,
    /// Everyone these events concern (where they are published); empty for no one.
    pub audience: Vec<Audience>,
    /// Who made the change, in its recorded form (such as `api_key:<id>`).
    pub actor: String,
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Global sequence, gapless and in commit order.
    pub seq: i64,
    /// The stream it belongs to.
    pub stream: StreamId,
    /// Its version within the stream, from 1.
    pub stream_version: i64,
    /// The event.
    pub event: DomainEvent,
    /// Who made the change.
    pub actor: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Everyone it concerns.
    pub audience: Vec<Audience>,
}

const EVENT_COLUMNS: &str =
    "seq, stream_id, stream_version, event_type, schema_version, payload, actor, recorded_at";

impl Database {
    /// Appends `request.events` if the stream is still at `request.expected_version`, updating
    /// the read models in the same transaction. A stale expected version is a
    /// [`StoreError::Conflict`] and writes nothing.
    pub async fn append(&self, request: AppendRequest) -> Result<Vec<StoredEvent>, StoreError> {
        if request.events.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.begin_write().await?;
        let count = request.events.len() as i64;
        // Taking the head row serializes appends until commit: gapless, in commit order.
        let head: i64 =
            sqlx::query("UPDATE log_head SET seq = seq + $1 WHERE id = 1 RETURNING seq")
                .bind(count)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        let actual = stream_version(&mut tx, &request.stream).await?;
        if actual != request.expected_version {
            return Err(StoreError::Conflict {
                stream: request.stream,
                expected: request.expected_version,
                actual,
            });
        }
        let recorded_at = Utc::now();
        let mut stored = Vec::with_capacity(request.events.len());
        for (offset, event) in request.events.into_iter().enumerate() {
            let offset = offset as i64;
            let event = StoredEvent {
                seq: head - count + 1 + offset,
                stream: request.stream.clone(),
                stream_version: request.expected_version + 1 + offset,
                event,
                actor: request.actor.clone(),
                recorded_at,
                audience: request.audience.clone(),
            };
            insert_event(&mut tx, &event).await?;
            projections::apply(&mut tx, &event).await?;
            stored.push(event);
        }
        if self.dialect() == Dialect::Postgres {
            sqlx::query("SELECT pg_notify('mcpgw_events', $1)")
                .bind(head.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Every event of one stream, in order.
    pub async fn load_stream(&self, stream: &StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stream.to_string())
            .fetch_all(self.pool())
            .await?;
        let mut events = rows
            .iter()
            .map(decode_event)
            .collect::<Result<Vec<_>, _>>()?;
        attach_workspaces(self.pool(), &mut events).await?;
        Ok(events)
    }

    /// The first event of one stream, if it has any.
    pub async fn first_event(&self, stream: &StreamId) -> Result<Option<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version = 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stream.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode_event).transpose()
    }

    /// Up to `limit` events after `after`, in sequence order; with `workspaces`, only those
    /// that concern one of them.
    pub async fn read_log(
        &self,
        after: i64,
        limit: i64,
        workspaces: Option<&[WorkspaceId]>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        read_log_on(&mut conn, after, limit, workspaces).await
    }

    /// The sequence of the last committed event (0 for an empty log).
    pub async fn head(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool().acquire().await?;
        head_on(&mut conn).await
    }
}

/// The head sequence as seen by `conn` (inside a snapshot transaction, the snapshot's).
pub(crate) async fn head_on(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT seq FROM log_head WHERE id = 1")
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

/// [`Database::read_log`] on a given connection.
pub(crate) async fn read_log_on(
    conn: &mut AnyConnection,
    after: i64,
    limit: i64,
    workspaces: Option<&[WorkspaceId]>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = match workspaces {
        None => {
            let sql =
                format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        Some([]) => vec![],
        Some(workspaces) => {
            let placeholders = placeholders(3, workspaces.len());
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 AND seq IN \
                 (SELECT seq FROM event_workspaces WHERE seq > $1 AND workspace_id IN ({placeholders})) \
                 ORDER BY seq LIMIT $2"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(limit);
            for workspace in workspaces {
                query = query.bind(workspace.to_string());
            }
            query.fetch_all(&mut *conn).await?
        }
    };
    let mut events = rows
        .iter()
        .map(decode_event)
        .collect::<Result<Vec<_>, _>>()?;
    attach_workspaces(&mut *conn, &mut events).await?;
    Ok(events)
}

/// `$first, $first+1, …` for `count` parameters.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn stream_version(conn: &mut AnyConnection, stream: &StreamId) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = $1")
            .bind(stream.to_string())
            .fetch_one(conn)
            .await?
            .try_get(0)?,
    )
}

async fn insert_event(conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (seq, stream_id, stream_version, event_type, schema_version, payload, actor, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.seq)
    .bind(event.stream.to_string())
    .bind(event.stream_version)
    .bind(event.event.event_type())
    .bind(event.event.schema_version())
    .bind(event.event.payload().to_string())
    .bind(&event.actor)
    .bind(format_time(event.recorded_at))
    .execute(&mut *conn)
    .await?;
    for audience in &event.audience {
        sqlx::query("INSERT INTO event_workspaces (workspace_id, seq) VALUES ($1, $2)")
            .bind(audience.to_string())
            .bind(event.seq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn decode_event(row: &AnyRow) -> Result<StoredEvent, StoreError> {
    let stream: StreamId = parse_text(row.try_get("stream_id")?)?;
    let event_type: String = row.try_get("event_type")?;
    let schema_version: i64 = row.try_get("schema_version")?;
    let payload: String = row.try_get("payload")?;
    let event = DomainEvent::decode(
        &stream,
        &event_type,
        schema_version,
        serde_json::from_str(&payload)?,
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        stream,
        stream_version: row.try_get("stream_version")?,
        event,
        actor: row.try_get("actor")?,
        recorded_at: parse_time(&row.try_get::<String, _>("recorded_at")?)?,
        audience: vec![],
    })
}

/// Reads a stored text column as a typed value (an id, a stream, an audience).
pub(crate) fn parse_text<T>(text: String) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("stored value `{text}`: {e}")))
}

async fn attach_workspaces<'c, E>(executor: E, events: &mut [StoredEvent]) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(());
    };
    let rows = sqlx::query(
        "SELECT seq, workspace_id FROM event_workspaces WHERE seq >= $1 AND seq <= $2 ORDER BY seq, workspace_id",
    )
    .bind(first.seq)
    .bind(last.seq)
    .fetch_all(executor)
    .await?;
    for row in rows {
        let seq: i64 = row.try_get(0)?;
        if let Ok(index) = events.binary_search_by_key(&seq, |e| e.seq) {
            events[index].audience.push(parse_text(row.try_get(1)?)?);
        }
    }
    Ok(())
}
